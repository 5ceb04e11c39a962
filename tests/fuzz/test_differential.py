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

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.differential import DEFAULT_EXAMPLES
from iut import FixtureCache, load_spec, reference_spec
from recordings.compare import ComparisonLevel
from recordings.format import read_transcript
from recordings.replay import replay_server
from tests.mutants import write_specs

REPO = Path(__file__).resolve().parents[2]
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
            transcript, load_spec(spec_file), cache, level=ComparisonLevel.SEMANTIC, timeout=3
        )
        against_reference = replay_server(
            transcript, reference_spec(), cache, level=ComparisonLevel.SEMANTIC, timeout=3
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
    assert res.returncode == 6
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0, res.stderr


# --------------------------------------------------------------- known deviations

STAND_IN = '''
"""The reference server showing the original's failed send (OK(0x20), then a close without
the zero chunk, where zfs cannot send: §deviations.handler-crashes) and, with "defect", a
real one: the versions of pool/data newest first."""
import sys

from bytestreamrpc.errors import HandlerError
from fakes.reference import ReferenceHandler
from zrepl_conformance.cli import main


class Broken:
    def read(self, n=-1):
        raise OSError("zfs send failed")


def failing_send(handle):
    def handler(self, r):
        try:
            return handle(self, r)
        except HandlerError as exc:
            if str(exc).startswith("zfs exited with error"):
                return Broken()
            raise
    return handler


H = ReferenceHandler
H.handle_initial_transfer_request = failing_send(H.handle_initial_transfer_request)
H.handle_incremental_transfer_request = failing_send(H.handle_incremental_transfer_request)
if sys.argv[1] == "defect":
    versions = H.handle_filesystem_versions_request

    def newest_first(self, r):
        got = versions(self, r)
        return got[::-1] if r.filesystem.to_string() == "pool/data" and got else got

    H.handle_filesystem_versions_request = newest_first
sys.exit(main(["serve", "--stdio", *sys.argv[2:]]))
'''


def _stand_in(tmp_path: Path, mode: str) -> Path:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN, encoding="utf-8")
    server = [
        sys.executable,
        str(script),
        mode,
        "--identity",
        "{identity}",
        "--profile",
        "{profile}",
    ]
    spec = tmp_path / f"{mode}.toml"
    spec.write_text(
        f'name = "stand-in-{mode}"\nserver = {json.dumps(server)}\n\n'
        f"[env]\nPYTHONPATH = {json.dumps(str(REPO))}\n",
        encoding="utf-8",
    )
    return spec


def test_fuzzing_goes_on_past_a_known_deviation_to_the_real_defect(tmp_path: Path) -> None:
    spec = _stand_in(tmp_path, "defect")
    res = _fuzz("--iut", str(spec), "--role", "server", "--seed", "11", "--shrink-time", "3",
                findings=tmp_path / "found")  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    known, found = (
        res.stderr.find("known deviation in trial"),
        res.stderr.find("disagreement after"),
    )
    assert 0 <= known < found, res.stderr  # met first, and the search went on
    assert "known deviations met: 1" in res.stdout, res.stdout
    assert "§deviations.handler-crashes:" in res.stdout
    finding = next(ln for ln in res.stdout.splitlines() if ln.startswith("FINDING:"))
    assert "[]zfs.FilesystemVersion message" in finding, finding
    saved = [p.name for p in (tmp_path / "found").glob("*.jsonl")]
    assert len(saved) == 2, saved  # the real defect's reproducer only


def test_only_known_deviations_is_exit_0_and_lists_them(tmp_path: Path) -> None:
    spec = _stand_in(tmp_path, "faithful")
    res = _fuzz("--iut", str(spec), "--role", "server", "--examples", "30", "--seed", "11",
                findings=tmp_path / "found")  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no unexplained disagreement in" in res.stdout
    listed = res.stdout.split("known deviations met: 1", 1)[1]
    assert "§deviations.handler-crashes:" in listed and "first seen in trial" in listed
    assert not (tmp_path / "found").exists()
