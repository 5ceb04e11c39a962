"""Fuzz targets and campaigns: every target runs, campaigns report progress and keep findings.

Campaigns use atheris when it is installed (the ``fuzz`` extra) and the pure-Hypothesis
engine otherwise; each test asserts what the engine it got must do, so it checks the real
behaviour on both kinds of machine.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis.database import InMemoryExampleDatabase

from fuzz import invariants
from fuzz.campaign import CampaignError, Progress, run_campaign
from fuzz.database import DatabaseError, open_database
from fuzz.libfuzzer import atheris_available
from fuzz.targets import TARGETS, load

REPO = Path(__file__).resolve().parents[1]
HAVE_ATHERIS = atheris_available() is None


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "fuzz", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_target_runs_on_fuzzer_input(name: str) -> None:
    seen: list[int] = []
    test = load(name).build(InMemoryExampleDatabase(), lambda: seen.append(1))
    rng = random.Random(name)
    for size in (0, 64, 256, 1024, 4096):
        test.hypothesis.fuzz_one_input(rng.randbytes(size))
    assert seen, "no fuzzer input reached the target's check"


def test_fuzz_list_names_every_target() -> None:
    res = _cli("list")
    assert res.returncode == 0
    assert [line.split()[0] for line in res.stdout.splitlines()] == list(TARGETS)
    rows = json.loads(_cli("list", "--json").stdout)
    assert {r["name"] for r in rows} == set(TARGETS)
    assert all(Path(r["script"]).is_file() for r in rows)


def test_a_short_campaign_reports_progress_and_grows_a_corpus(tmp_path: Path) -> None:
    updates: list[Progress] = []
    result = run_campaign(
        "framing", seconds=3, corpus=tmp_path / "corpus", findings=tmp_path / "findings",
        database=str(tmp_path / "db"), report=updates.append,
    )  # fmt: skip
    assert result.ok and result.engine == ("atheris" if HAVE_ATHERIS else "hypothesis")
    assert result.progress.executions > 50
    assert updates, "no live progress"
    assert "no findings" in result.summary()
    if HAVE_ATHERIS:
        assert result.progress.corpus > 0 and any((tmp_path / "corpus").iterdir())


def test_a_planted_bug_is_saved_as_a_reproducer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: bytes, deliveries: object = None) -> None:
        if b"\x00\x00\x00\x00" in data:  # a terminator: found within a few inputs
            raise invariants.InvariantViolation("planted")

    monkeypatch.setattr(invariants, "check_framing", broken)  # inherited by forked workers
    result = run_campaign(
        "framing", seconds=20, engine="hypothesis", findings=tmp_path / "findings",
        corpus=tmp_path / "corpus", database=str(tmp_path / "db"),
    )  # fmt: skip
    assert not result.ok
    text = result.findings[0].read_text()
    assert "planted" in text and "reproduce_failure" in text
    assert "zrepl-conformance fuzz campaign --target framing" in result.reproduce[0]


def test_target_script_runs_standalone(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, str(TARGETS["codec"].script), "-runs=100", f"-artifact_prefix={tmp_path}/"],  # noqa: E501
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if HAVE_ATHERIS:
        assert res.returncode == 0, res.stderr[-2000:]
        assert "Done 100 runs" in res.stderr
    else:
        assert res.returncode == 2 and "atheris" in res.stderr


def test_campaign_rejects_bad_requests(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="unknown fuzz target"):
        run_campaign("nope", seconds=1)
    with pytest.raises(CampaignError, match="workers"):
        run_campaign("framing", workers=0, seconds=1)
    res = _cli("campaign", "--target", "nope", "--time", "1", cwd=tmp_path)
    assert res.returncode == 2 and "unknown target" in res.stderr and "Traceback" not in res.stderr


def test_redis_database_fails_with_a_clear_message() -> None:
    with pytest.raises(DatabaseError, match=r"(?i)redis"):
        open_database("redis://127.0.0.1:1/0")
    assert open_database(None) is not None
