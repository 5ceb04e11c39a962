"""The mutation run's case selection: which cases can see a mutant (tools/mutation_test.py).

Running only the cases that reach a mutant is sound only if the statement span, the
annotation check and the coverage map are right; these tests pin each on small trees.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.catalog import all_cases
from tools import mutation_test as mt
from tools.mutation_trace import ENV, TRACED

ROOT = Path(__file__).resolve().parents[2]
FRAMING = "bytestreamrpc/framing.py"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the traced modules (all the selection compares) to mutate."""
    for rel in TRACED:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, tmp_path / rel)
    return tmp_path


def mutate(tree: Path, rel: str, line: int, old: str, new: str) -> None:
    path = tree / rel
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert old in lines[line - 1], f"{rel}:{line} has no {old!r}: {lines[line - 1]!r}"
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("".join(lines), encoding="utf-8")


def line_of(rel: str, text: str) -> int:
    for n, line in enumerate((ROOT / rel).read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return n
    raise AssertionError(f"{text!r} not in {rel}")


def test_an_unchanged_tree_has_no_spans(tree: Path) -> None:
    assert mt.changed_spans(tree) == {}
    assert not mt.annotations_only(tree)


def test_a_simple_statement_spans_its_own_lines(tree: Path) -> None:
    n = line_of(FRAMING, '_HEADER: Final = struct.Struct("<I")')
    mutate(tree, FRAMING, n, '"<I"', '">I"')
    assert mt.changed_spans(tree) == {FRAMING: {n}}


def test_a_compound_statement_spans_its_header_only(tree: Path) -> None:
    n = line_of(FRAMING, "if self._remaining == 0")
    mutate(tree, FRAMING, n, "== 0", "!= 0")
    spans = mt.changed_spans(tree)[FRAMING]
    assert n in spans
    assert n + 1 not in spans, "the body of the if is not part of its condition's statement"


def test_an_annotation_only_mutant_is_recognised(tree: Path) -> None:
    n = line_of(FRAMING, "def receive_data(self, data: ")
    mutate(tree, FRAMING, n, "bytes | ", "bytes & ")
    assert mt.annotations_only(tree)


def test_a_mutant_of_code_is_not_taken_for_an_annotation(tree: Path) -> None:
    n = line_of(FRAMING, "if self._remaining == 0")
    mutate(tree, FRAMING, n, "== 0", "!= 0")
    assert not mt.annotations_only(tree)


def test_reaching_selects_the_mapped_cases_or_all_for_import_time(tree: Path) -> None:
    cases = all_cases()[:5]
    n = line_of(FRAMING, "if self._remaining == 0")
    mutate(tree, FRAMING, n, "== 0", "!= 0")
    coverage: mt.CoverageMap = {"import": {FRAMING: []}, FRAMING: {str(n): [cases[2].id]}}
    chosen, why = mt.reaching(cases, coverage, tree)
    assert [c.id for c in chosen] == [cases[2].id]
    assert "1 cases reach it" in why
    assert mt.reaching(cases, {"import": {}}, tree)[0] == []
    everything: mt.CoverageMap = {"import": {FRAMING: [str(n)]}}
    assert mt.reaching(cases, everything, tree)[0] == cases


def test_collect_attributes_each_process_to_its_case(tmp_path: Path) -> None:
    (tmp_path / "import.lines").write_text(f"{FRAMING}:1\n", encoding="utf-8")
    (tmp_path / "101.lines").write_text(f"{FRAMING}:7\n{FRAMING}:9\n", encoding="utf-8")
    (tmp_path / "102.lines").write_text(f"{FRAMING}:9\n", encoding="utf-8")
    owner = {"import.lines": "a.b.1", "101.lines": "a.b.1", "102.lines": "a.b.2"}
    (tmp_path / "cases.json").write_text(json.dumps(owner), encoding="utf-8")
    got = mt.collect(tmp_path)
    assert got["import"] == {FRAMING: ["1"]}
    assert got[FRAMING] == {"7": ["a.b.1"], "9": ["a.b.1", "a.b.2"]}


def test_the_tracer_records_import_time_and_child_lines(tmp_path: Path) -> None:
    script = (
        "import os, tools.mutation_trace\n"
        "from bytestreamrpc import framing\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    framing.ChunkDecoder().receive_data(b'')\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "print(pid)\n"
    )
    env = {**os.environ, ENV: str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    child = out.stdout.strip()
    imported = (tmp_path / "import.lines").read_text(encoding="utf-8").split()
    ran = (tmp_path / f"{child}.lines").read_text(encoding="utf-8").split()
    first_def = line_of(FRAMING, "class ChunkDecoder")
    assert f"{FRAMING}:{first_def}" in imported
    body = line_of(FRAMING, "def receive_data(self, data: ")
    assert any(entry.startswith(f"{FRAMING}:") and int(entry.split(":")[1]) > body for entry in ran)
    assert not set(ran) & {f"{FRAMING}:{first_def}"}, "the child never re-runs the import"
