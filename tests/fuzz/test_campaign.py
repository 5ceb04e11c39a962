"""Fuzz targets and campaigns: every target runs, campaigns report progress and keep findings.

Campaigns use atheris when it is installed (the ``fuzz`` extra) and the pure-Hypothesis
engine otherwise; each test asserts what the engine it got must do, so it checks the real
behaviour on both kinds of machine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis.database import InMemoryExampleDatabase

from fuzz import campaign, invariants
from fuzz.campaign import CampaignError, CampaignResult, Progress, run_campaign
from fuzz.database import DatabaseError, open_database
from fuzz.libfuzzer import atheris_available
from fuzz.targets import TARGETS, Target, load

REPO = Path(__file__).resolve().parents[2]
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


# --------------------------------------------------------------------------- several workers

# A stand-in for a target script under libFuzzer: prints libFuzzer's status lines and final
# stats, and (mode "crash") lets the first process that claims it write a crash file and
# exit as libFuzzer does; the others keep fuzzing until their -max_total_time. It lets the
# campaign's process handling be tested in seconds, with or without atheris.
_FAKE_LIBFUZZER = r"""
import os, sys, time
args = dict(a[1:].split("=", 1) for a in sys.argv[1:] if a.startswith("-") and "=" in a)
budget = float(args.get("max_total_time", "1"))
prefix = args["artifact_prefix"]
corpus = sys.argv[-1]
mode = os.environ.get("FAKE_LIBFUZZER", "ok")
print("INFO: Running with entropic power schedule", file=sys.stderr, flush=True)
with open(os.path.join(corpus, f"unit-{os.getpid()}"), "w") as f:
    f.write("x")
if mode == "crash":
    try:
        os.close(os.open(os.path.join(prefix, ".claimed"), os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        pass
    else:
        time.sleep(0.3)
        with open(os.path.join(prefix, "crash-0123"), "w") as f:
            f.write("boom")
        print("==1== ERROR: libFuzzer: deadly signal", file=sys.stderr, flush=True)
        sys.exit(1)
n = 0
for _ in range(20):  # 2,000 executions spread over the budget
    n += 100
    print(f"#{n}\tpulse  cov: 7 ft: 9 corp: 1/1b lim: 4 exec/s: 100 rss: 30Mb",
          file=sys.stderr, flush=True)
    time.sleep(budget / 20)
print(f"#{n}\tDONE   cov: 7 ft: 9 corp: 1/1b lim: 4 exec/s: 100 rss: 30Mb", file=sys.stderr)
print(f"stat::number_of_executed_units: {n + 1}", file=sys.stderr)
"""


@pytest.fixture
def fake_libfuzzer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register a target ``fake`` whose script is the stand-in above, under the atheris
    engine (whether or not atheris is installed); returns its name."""
    fake = tmp_path / "fake_target.py"
    fake.write_text(_FAKE_LIBFUZZER)

    @dataclasses.dataclass(frozen=True)
    class ScriptTarget(Target):
        path: Path = fake

        @property
        def script(self) -> Path:
            return self.path

    monkeypatch.setitem(TARGETS, "fake", ScriptTarget("fake", "stand-in"))
    monkeypatch.setattr(campaign, "choose_engine", lambda engine: ("atheris", ""))
    monkeypatch.delenv(campaign.PARALLEL_ENV, raising=False)
    return "fake"


def _fake_campaign(tmp_path: Path, workers: int, seconds: float, **kw: object) -> CampaignResult:
    return run_campaign(
        "fake", workers=workers, seconds=seconds, corpus=tmp_path / "corpus",
        findings=tmp_path / "findings", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_workers_are_independent_processes_whose_counts_add_up(
    fake_libfuzzer: str, tmp_path: Path
) -> None:
    updates: list[Progress] = []
    result = _fake_campaign(tmp_path, 3, 1, report=updates.append)
    assert result.ok and result.parallel == "processes"
    assert result.progress.executions == 3 * 2001  # every worker's final count, added
    assert result.progress.corpus == 3  # one unit each, in the shared directory
    assert result.progress.coverage == 7
    assert "3 worker(s) (processes)" in result.summary()
    assert result.log is not None
    log = result.log.read_text()
    for w in (1, 2, 3):
        assert f"[w{w}] stat::number_of_executed_units:" in log
    assert updates


def test_runs_are_shared_between_workers() -> None:
    assert campaign.split_runs(None, 2) == [None, None]
    assert campaign.split_runs(10, 3) == [4, 3, 3]
    assert sum(campaign.split_runs(1001, 4)) == 1001


def test_a_crash_stops_the_other_workers(fake_libfuzzer: str, tmp_path: Path) -> None:
    os.environ["FAKE_LIBFUZZER"] = "crash"
    try:
        start = time.monotonic()
        result = _fake_campaign(tmp_path, 2, 30)
    finally:
        del os.environ["FAKE_LIBFUZZER"]
    assert time.monotonic() - start < 15, "the worker that found nothing was not stopped"
    assert [p.name for p in result.findings] == ["crash-0123"]
    assert not result.note  # stopping the others is not a libFuzzer failure


def test_keep_going_restarts_a_crashed_worker(fake_libfuzzer: str, tmp_path: Path) -> None:
    os.environ["FAKE_LIBFUZZER"] = "crash"
    try:
        start = time.monotonic()
        result = _fake_campaign(tmp_path, 2, 4, keep_going=True)
    finally:
        del os.environ["FAKE_LIBFUZZER"]
    assert time.monotonic() - start >= 3.5, "the campaign ended with the crash"
    assert [p.name for p in result.findings] == ["crash-0123"]
    assert result.log is not None
    assert re.search(r"^\[w[12]\.1\] ", result.log.read_text(), re.M), "no restarted worker"


def test_fork_mode_stays_available(
    fake_libfuzzer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _fake_campaign(tmp_path, 2, 1, parallel="fork")
    assert result.parallel == "fork"
    assert result.log is not None and "[w" not in result.log.read_text()  # one process
    monkeypatch.setenv(campaign.PARALLEL_ENV, "fork")
    assert campaign.choose_parallel(None) == "fork"
    monkeypatch.setenv(campaign.PARALLEL_ENV, "threads")
    with pytest.raises(CampaignError, match="parallel mode"):
        campaign.choose_parallel(None)
    monkeypatch.delenv(campaign.PARALLEL_ENV)
    assert campaign.choose_parallel(None) == "processes"


def test_the_cli_passes_the_parallel_mode_through(
    fake_libfuzzer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zrepl_conformance import cli

    seen: list[object] = []
    real = campaign.run_campaign

    def spy(*args: Any, **kw: Any) -> CampaignResult:
        seen.append(kw.get("parallel"))
        return real(*args, **kw)

    monkeypatch.setattr(campaign, "run_campaign", spy)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["fuzz", "campaign", "--target", "fake", "--workers", "2",
                     "--parallel", "fork", "--time", "1"]) == 0  # fmt: skip
    assert cli.main(["fuzz", "campaign", "--target", "fake", "--workers", "2",
                     "--time", "1"]) == 0  # fmt: skip
    assert seen == ["fork", None]
    res = _cli("campaign", "--target", "framing", "--parallel", "threads", cwd=tmp_path)
    assert res.returncode == 2 and "invalid choice: 'threads'" in res.stderr


@pytest.mark.skipif(not HAVE_ATHERIS, reason="needs atheris")
def test_two_atheris_workers_share_one_corpus(tmp_path: Path) -> None:
    result = run_campaign(
        "framing", workers=2, seconds=4, corpus=tmp_path / "corpus",
        findings=tmp_path / "findings", database=str(tmp_path / "db"),
    )  # fmt: skip
    assert result.ok and result.parallel == "processes", result.summary()
    assert result.log is not None
    log = result.log.read_text()
    done = re.findall(r"^\[w([12])\] stat::number_of_executed_units: (\d+)$", log, re.M)
    assert sorted(w for w, _ in done) == ["1", "2"]
    assert result.progress.executions >= sum(int(n) for _, n in done) > 0
    assert "RELOAD" in log, "neither worker picked up what the other found"


@pytest.mark.skipif(not HAVE_ATHERIS, reason="needs atheris")
def test_each_target_instruments_what_it_runs(tmp_path: Path) -> None:
    """Coverage guides atheris only through instrumented modules; a module imported after
    instrumentation ends (lazily, at first use) gives none. Every module of ours a target
    runs must be instrumented, and no others (they only cost start-up time)."""
    res = subprocess.run(
        [sys.executable, str(TARGETS["server"].script), "-runs=50"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "INFO: Instrumenting fakes.jobs" in res.stderr  # pull-me, imported lazily
    res = subprocess.run(
        [sys.executable, str(TARGETS["framing"].script), "-runs=50"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "INFO: Instrumenting bytestreamrpc.framing" in res.stderr
    assert "INFO: Instrumenting fakes" not in res.stderr


@pytest.mark.parametrize("name", list(TARGETS))
def test_targets_run_only_instrumented_code(name: str) -> None:
    """Every function of ours a target runs belongs to a package it instruments."""
    seen: set[str] = set()

    def record(frame: Any, event: str, _arg: object) -> None:
        if event == "call":
            seen.add(frame.f_globals.get("__name__", ""))

    test = load(name).build(InMemoryExampleDatabase())
    rng = random.Random(name)
    threading.setprofile(record)
    sys.setprofile(record)
    try:
        for size in (16, 64, 256, 1024, 4096) * 10:
            test.hypothesis.fuzz_one_input(rng.randbytes(size))
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    ours = {m for m in seen if m.split(".")[0] in ("bytestreamrpc", "fakes")}
    instrumented = {m.split(".")[0] for m in TARGETS[name].instrument}
    assert ours, "the target ran none of our code"
    assert {m.split(".")[0] for m in ours} <= instrumented


def test_merge_processes_are_not_counted() -> None:
    from fuzz.libfuzzer import is_merge_process

    assert is_merge_process(["x.sh", "-merge_control_file=/tmp/m", "-merge_inner=1", "corpus"])
    assert not is_merge_process(["x.sh", "-max_total_time=2", "corpus"])
    assert not is_merge_process(["x.sh", "-merge_inner=0"])
