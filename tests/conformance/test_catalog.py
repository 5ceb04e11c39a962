"""The catalog is well-formed: enough cases, unique ids, real spec sections, every family."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from bytestreamrpc.connection import Role
from conformance.catalog import all_cases, get, spec_sections
from conformance.model import FAMILIES, Level
from zrepl_conformance.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]


def test_at_least_150_cases_with_unique_ids() -> None:
    cases = all_cases()
    assert len(cases) >= 150
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids))


def test_every_case_cites_a_section_of_the_spec() -> None:
    sections = spec_sections(ROOT / "docs" / "PROTOCOL.md")
    missing = sorted({c.section for c in all_cases()} - sections)
    assert not missing, f"sections not in docs/PROTOCOL.md: {missing}"


def test_families_levels_and_roles_are_all_used() -> None:
    cases = all_cases()
    assert {c.family for c in cases} == set(FAMILIES)
    per_family = Counter(c.family for c in cases)
    assert min(per_family.values()) >= 10, per_family
    assert {c.level for c in cases} == set(Level)
    assert {c.role for c in cases} == set(Role)
    # client-role cases start the implementation's client commands, the others its server
    assert all((c.role is Role.CLIENT) == (c.needs in ("pull", "push")) for c in cases)


def test_ids_are_tied_to_their_section() -> None:
    """An id names its section's group (e.g. ``server.fsv...`` under ``§server.fsv...``)."""
    for c in all_cases():
        assert re.fullmatch(r"[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+", c.id), c.id
        assert c.title and "\n" not in c.title and len(c.title) < 110, c.id


def test_every_row_of_the_server_table_has_a_case() -> None:
    text = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    table = text[text.index("### §server.summary") : text.index("### §server.handler-error")]
    rows = set(re.findall(r"^\| (§server\.[a-z.-]+) \|", table, flags=re.M))
    assert len(rows) >= 25
    covered = {c.section for c in all_cases()}
    assert rows <= covered, sorted(rows - covered)


def test_get_finds_a_case_and_names_a_missing_one() -> None:
    assert get("server.pv.ok.1").section == "§server.pv.ok"
    with pytest.raises(KeyError, match=r"no case 'nope\.1'"):
        get("nope.1")


def test_list_json_is_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in listed] == [c.id for c in all_cases()]
    assert set(listed[0]) == {"id", "level", "role", "section", "family", "needs", "title"}


def test_list_text_has_a_line_per_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["list", "-k", "server.pv"]) == 0
    out = capsys.readouterr().out.splitlines()
    body = [ln for ln in out[1:-1]]
    assert body and all("server.pv" in ln for ln in body)
    assert out[-1] == f"{len(body)} cases"


def test_the_counts_in_the_docs_are_the_catalogs() -> None:
    """docs/CONFORMANCE.md's catalog sentence and family table say what the catalog holds."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "CONFORMANCE.md").read_text("utf-8")
    cases = all_cases()
    levels = Counter(str(c.level) for c in cases)
    roles = Counter(str(c.role) for c in cases)
    sentence = (
        f"{len(cases)} cases ({levels['MUST']} MUST, {levels['SHOULD']} SHOULD, "
        f"{levels['INFO']} INFO; {roles['server']} server-role, {roles['client']} client-role)"
    )
    assert sentence in text, f"docs/CONFORMANCE.md should say: {sentence}"
    families = Counter(c.family for c in cases)
    for family, n in families.items():
        assert re.search(rf"^\| `{family}` \| {n} \|", text, flags=re.M), (family, n)
