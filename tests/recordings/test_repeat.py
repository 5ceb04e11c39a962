"""``--repeat N``: replaying a transcript N times tells a stable difference from a flaky one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bytestreamrpc.deviations import TABLE, Deviation
from iut.spec import REFERENCE_SERVER
from recordings.compare import ComparisonLevel, Mismatch
from recordings.format import S2C, StreamRecord, read_transcript
from recordings.golden import GOLDEN_DIR
from recordings.repeat import RepeatResult, repeat
from recordings.replay import ReplayResult

PY = sys.executable
SUPPORT = Path(__file__).parent.parent / "support"
ALTERNATING = str(SUPPORT / "alternating.py")
MUTANT = str(SUPPORT / "recordings_mutant.py")
CLI = [PY, "-m", "zrepl_conformance"]
FSV_OK = GOLDEN_DIR / "fsv-ok.jsonl"
MISSING_TERMINATOR = GOLDEN_DIR / "frame-missing-terminator.jsonl"
"""Mutant ``error-3`` at stream 0 answers it as the original did (§deviations.truncated-payload)."""
GUID_STREAM = 2
"""fsv-ok's third server stream is the versions list; mutant ``field`` bumps its first Guid."""


def _mismatch(index: int, what: str, detail: str) -> ReplayResult:
    m = Mismatch(index, index + 1, S2C, ComparisonLevel.MESSAGES, what, detail, "")
    return ReplayResult(mismatch=m, compared=index - 1)


def test_runs_that_disagree_are_unstable_with_counts() -> None:
    ok = ReplayResult(compared=9)
    runs = [ok, _mismatch(7, "field ErrorId", "expected 0, got 1"), ok]
    runs += [_mismatch(7, "field ErrorId", "expected 0, got 2"), ok]
    result = RepeatResult(runs)
    assert result.outcome == "unstable" and not result.ok
    assert result.count_lines() == [
        "identical in 3/5 runs (runs 1, 3, 5)",
        "record 7 s2c (field ErrorId) differed in 2/5 runs (runs 2, 4)",
    ]
    assert [n for n, _ in result.differing()] == [2, 4]
    assert result.example is runs[1]
    assert result.summary("t.jsonl").startswith("t.jsonl: UNSTABLE: identical in 3/5 runs")


def test_the_same_difference_in_every_run_is_a_stable_mismatch() -> None:
    # the detail (the value received) may vary: the record and what differs do not
    result = RepeatResult([_mismatch(4, "field Guid", f"expected 1, got {n}") for n in range(3)])
    assert result.outcome == "mismatch"
    assert "record 4 s2c (field Guid) differed in 3/3 runs" in result.summary()
    assert RepeatResult([ReplayResult(compared=5)] * 3).summary("t") == (
        "t: ok (3/3 identical, 5 records compared)"
    )
    assert RepeatResult([_mismatch(4, "field Guid", "x")]).summary("t") == (
        _mismatch(4, "field Guid", "x").summary("t")  # one run reads as before
    )


def _deviation(index: int, deviation: Deviation, *, strict: bool = False) -> ReplayResult:
    m = Mismatch(index, index + 1, S2C, ComparisonLevel.BYTES, "missing message", "", "")
    return ReplayResult(mismatch=m, compared=index - 1, deviation=deviation, strict=strict)


def test_a_known_deviation_in_every_run_passes_one_in_some_runs_is_unstable() -> None:
    row = next(d for d in TABLE if d.role == "server")
    stable = RepeatResult([_deviation(6, row), _deviation(6, row)])
    assert stable.outcome == "deviation" and stable.ok
    assert stable.count_lines() == [
        f"record 6 s2c (missing message, {row.section}) a known deviation in 2/2 runs"
    ]
    assert stable.summary("t").startswith("t: known deviation, the original's behaviour, ")
    ok = ReplayResult(compared=9)
    mixed = RepeatResult([ok, _deviation(6, row), ok])
    assert mixed.outcome == "unstable" and not mixed.ok
    # the deviating run did not see what was recorded: it is shown and kept
    assert [n for n, _ in mixed.differing()] == [2] and mixed.example is mixed.runs[1]
    assert "\nrun 2: t: known deviation, " in mixed.summary("t")
    # a failing run is shown before a known deviation
    failing = RepeatResult([_deviation(6, row), _mismatch(7, "field ErrorId", "x")])
    assert failing.outcome == "unstable" and failing.example is failing.runs[1]
    assert "\nrun 2: t:8: mismatch at record 7" in failing.summary("t")
    unsafe = Deviation(row.heading, "server", row.original, True, row.applies)
    strict = RepeatResult([_deviation(6, unsafe, strict=True)] * 2)
    assert strict.outcome == "mismatch" and not strict.ok


def test_repeat_needs_a_positive_count() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        repeat(ReplayResult, 0)


def alternating(tmp_path: Path) -> str:
    """A server command that is the reference on odd starts and a mutant on even ones."""
    server = " ".join(REFERENCE_SERVER)
    return f"{PY} {ALTERNATING} {tmp_path / 'starts'} field {GUID_STREAM} -- {server}"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def test_replay_repeat_reports_an_implementation_that_differs_every_other_run(
    tmp_path: Path,
) -> None:
    keep = tmp_path / "kept"
    res = run_cli(
        "replay", str(FSV_OK), "--server-cmd", alternating(tmp_path),
        "--repeat", "4", "--keep-runs", str(keep),
    )  # fmt: skip
    assert res.returncode == 4, res.stdout + res.stderr
    golden = read_transcript(FSV_OK)
    target = [r for r in golden.records if isinstance(r, StreamRecord) and r.dir == S2C]
    index = golden.records.index(target[GUID_STREAM]) + 1
    first = res.stdout.splitlines()[0]
    assert first.startswith(f"{FSV_OK}: UNSTABLE: identical in 2/4 runs (runs 1, 3)")
    assert f"record {index} s2c (field [0].Guid) differed in 2/4 runs (runs 2, 4)" in first
    assert f"run 2: {FSV_OK}:{target[GUID_STREAM].line}: mismatch at record {index}" in res.stdout
    kept = sorted(keep.iterdir())
    assert [p.name for p in kept] == ["fsv-ok.run2.jsonl", "fsv-ok.run4.jsonl"]
    for p in kept:
        assert f"kept: {p}" in res.stdout
        seen = read_transcript(p)  # what the differing run answered, as a transcript
        answer = seen.streams(S2C)[GUID_STREAM]
        assert answer.payload is not None and answer.payload != target[GUID_STREAM].payload


def test_golden_check_repeat_reports_unstable_with_its_own_exit_status(tmp_path: Path) -> None:
    keep = tmp_path / "kept"
    res = run_cli(
        "golden", "check", "fsv-ok", "pv-ok", "--server-cmd", alternating(tmp_path),
        "--repeat", "2", "--keep-runs", str(keep), "-n", "1", "-v",
    )  # fmt: skip
    assert res.returncode == 4, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert "UNSTABLE fsv-ok" in lines
    assert "identical in 1/2 runs" in res.stdout and "differed in 1/2 runs" in res.stdout
    # pv-ok has no third server stream to change: the same answer in both runs
    assert "ok    pv-ok (2/2 identical)" in lines
    assert "1 pass, 1 unstable" in lines[-1]
    assert sorted(p.name for p in keep.iterdir()) == ["fsv-ok.run2.jsonl"]


def test_a_difference_in_every_run_is_a_plain_mismatch(tmp_path: Path) -> None:
    server = " ".join(REFERENCE_SERVER)
    res = run_cli(
        "replay", str(FSV_OK), "--repeat", "2", "--keep-runs", str(tmp_path / "k"),
        "--server-cmd", f"{PY} {MUTANT} field {GUID_STREAM} -- {server}",
    )  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert "(field [0].Guid) differed in 2/2 runs" in res.stdout
    assert "UNSTABLE" not in res.stdout and not (tmp_path / "k").exists()
    res = run_cli("replay", str(FSV_OK), "--repeat", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith(f"{FSV_OK}: ok (2/2 identical,")


def test_repeat_zero_is_a_one_line_usage_error() -> None:
    res = run_cli("replay", str(FSV_OK), "--repeat", "0")
    assert res.returncode == 2
    assert res.stderr.strip() == "zrepl-conformance replay: --repeat must be at least 1"


def test_repeated_known_deviations_pass_and_one_that_comes_and_goes_is_unstable(
    tmp_path: Path,
) -> None:
    server = " ".join(REFERENCE_SERVER)
    res = run_cli(
        "golden", "check", "frame-missing-terminator", "--repeat", "2", "-n", "1",
        "--server-cmd", f"{PY} {MUTANT} error-3 0 -- {server}",
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "INFO  frame-missing-terminator"
    assert "§deviations.truncated-payload) a known deviation in 2/2 runs" in res.stdout
    assert "1 deviation in" in lines[-2]
    assert lines[-1] == "§deviations met: §deviations.truncated-payload"
    keep = tmp_path / "kept"
    flaky = f"{PY} {ALTERNATING} {tmp_path / 'starts'} error-3 0 -- {server}"
    res = run_cli(
        "replay", str(MISSING_TERMINATOR), "--server-cmd", flaky, "--repeat", "2",
        "--keep-runs", str(keep),
    )  # fmt: skip
    assert res.returncode == 4, res.stdout + res.stderr
    first = res.stdout.splitlines()[0]
    assert first.startswith(f"{MISSING_TERMINATOR}: UNSTABLE: identical in 1/2 runs (run 1); ")
    assert first.endswith("§deviations.truncated-payload) a known deviation in 1/2 runs (run 2)")
    assert f"run 2: {MISSING_TERMINATOR}: known deviation, " in res.stdout
    assert [p.name for p in keep.iterdir()] == ["frame-missing-terminator.run2.jsonl"]
