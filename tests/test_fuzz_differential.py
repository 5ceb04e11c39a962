"""``zrepl-conformance fuzz``: planted bugs are found, replay confirms them, the reference is clean.

Against each of six mutant servers (tests/mutants: the reference with one realistic defect)
the differential fuzzer must report a disagreement within its default search budget (60
conversations), save a reproducer transcript, and ``zrepl-conformance replay`` of that file
against the mutant must fail while replay against the reference passes. Against the
reference itself it must find nothing.

CI time (<= 60 s for this file): every trial starts one implementation process (~0.2 s of
CPU), so two budgets are cut here and said so: shrinking gets 3 s instead of the command's
default 20 s (what is checked is that the finding is found, saved and replayed — shrinking is
Hypothesis's job and is exercised all the same), and the clean run against the reference
tries 12 conversations instead of 60 (the full default budget against the reference was run
by hand: docs/FUZZING.md, "Results").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.differential import DEFAULT_EXAMPLES
from iut import FixtureCache, load_spec, reference_spec
from recordings.compare import Level
from recordings.format import read_transcript
from recordings.replay import replay_server
from tests.mutants import write_specs

REPO = Path(__file__).resolve().parents[1]
MUTANTS = [
    "header-error-id-3",  # server rows: wrong error id
    "close-without-ok",  # server rows: Close not answered
    "json-null-rejected",  # Go JSON: null refused
    "json-first-duplicate-wins",  # Go JSON: repeated keys
    "versions-newest-first",  # handler: unsorted FilesystemDiff
    "guid-float",  # encoding: GUIDs through a float64
]


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mutants' IUT descriptions (their env puts this checkout on PYTHONPATH)."""
    directory = tmp_path_factory.mktemp("mutant-specs")
    write_specs(directory)
    return directory


def _fuzz(*args: str, findings: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "fuzz", "--findings", str(findings),
         "--no-confirm", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("mutant", MUTANTS)
def test_fuzz_finds_the_planted_bug_and_replay_confirms_it(
    mutant: str, specs: Path, tmp_path: Path
) -> None:
    spec_file = specs / f"{mutant}.toml"
    res = _fuzz("--iut", str(spec_file), "--role", "server", "--seed", "7", "--shrink-time", "3",
                findings=tmp_path)  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FINDING:" in res.stdout
    assert "[implementation" not in res.stdout, "the mutant died instead of misbehaving"
    assert "zrepl-conformance replay" in res.stdout and "--level semantic" in res.stdout
    saved = sorted(tmp_path.glob("finding-*.jsonl"))
    reproducer = next(p for p in saved if not p.name.endswith(".actual.jsonl"))
    transcript = read_transcript(reproducer)
    assert transcript.header.what == "fuzz" and transcript.records

    with FixtureCache() as cache:
        against_mutant = replay_server(
            transcript, load_spec(spec_file), cache, level=Level.SEMANTIC, timeout=3
        )
        against_reference = replay_server(
            transcript, reference_spec(), cache, level=Level.SEMANTIC, timeout=3
        )
    assert against_mutant.outcome == "mismatch", against_mutant.summary()
    assert against_reference.ok, against_reference.summary()


def test_a_harmless_variation_is_not_a_finding(specs: Path, tmp_path: Path) -> None:
    # JSON with spaces differs from Go's bytes but not in anything a Go peer decodes.
    res = _fuzz("--iut", str(specs / "json-spaces.toml"), "--examples", "8", "--seed", "5",
                findings=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no disagreement in" in res.stdout


def test_default_budget_is_what_the_docs_say() -> None:
    assert DEFAULT_EXAMPLES == 60


def test_fuzz_finds_nothing_against_the_reference(tmp_path: Path) -> None:
    res = _fuzz("--examples", "12", "--seed", "11", findings=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no disagreement in" in res.stdout
    assert not list(tmp_path.glob("*.jsonl"))


def test_fuzz_reports_an_implementation_that_cannot_start(tmp_path: Path) -> None:
    res = _fuzz("--server-cmd", "/nonexistent/server {identity}", "--examples", "1",
                findings=tmp_path)  # fmt: skip
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0, res.stderr
