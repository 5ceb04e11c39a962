"""Fuzzing campaigns: one target, N workers, a time budget, a corpus, live progress, reproducers.

Two engines run the same targets (:mod:`fuzz.targets`):

``atheris`` (default when atheris imports)
    Coverage-guided: the target's script runs under libFuzzer with atheris feeding
    ``test.hypothesis.fuzz_one_input``. ``--workers N`` > 1 runs N independent libFuzzer
    processes sharing one corpus directory (``parallel="processes"``, the default: each
    re-reads the directory every second), or libFuzzer's fork mode (``parallel="fork"``,
    ``-fork=N``; or :data:`PARALLEL_ENV` ``=fork``), which restarts Python for every job and
    so only scales in long campaigns (:func:`choose_parallel`). libFuzzer writes each
    crashing input as ``crash-<sha1>`` into the findings directory; the reproducer command
    replays it through the same script.
``hypothesis``
    No coverage feedback: N worker processes run the target's Hypothesis test in batches
    with fresh seeds until the time is up, with Hypothesis's own generation heuristics and
    shrinking. A failure is written as a text reproducer (the shrunk example, the traceback
    and Hypothesis's ``@reproduce_failure`` blob) and kept in the example database, which
    replays it first on the next run.

Both share the Hypothesis example database (a directory, or Redis across machines,
:mod:`fuzz.database`) in which failing examples are kept.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from .database import DATABASE_ENV, describe
from .libfuzzer import ARGV0_ENV, STATS_ENV, atheris_available, read_counts
from .targets import TARGETS, Target

__all__ = [
    "ENGINES",
    "PARALLEL_ENV",
    "PARALLEL_MODES",
    "CampaignError",
    "CampaignResult",
    "Progress",
    "choose_parallel",
    "run_campaign",
    "split_runs",
]

ENGINES: Final = ("auto", "atheris", "hypothesis")
PARALLEL_MODES: Final = ("processes", "fork")
PARALLEL_ENV: Final = "ZREPL_FUZZ_PARALLEL"
"""Environment variable choosing the atheris engine's parallel mode when the caller does
not (``fork`` for libFuzzer's ``-fork=N``); ``--parallel`` on the command line wins over it."""
REPO_ROOT: Final = Path(__file__).resolve().parents[1]
_FINDING_PREFIXES: Final = ("crash-", "timeout-", "oom-", "leak-", "slow-unit-", "finding-")
_PLAIN = re.compile(
    r"^#(\d+)\s+(?:NEW|REDUCE|pulse|INITED|DONE|RELOAD)\s+cov: (\d+) ft: \d+ corp: (\d+)/\S+"
    r".*?exec/s: (\d+)"
)
_FORK = re.compile(
    r"^#(\d+): cov: (\d+) ft: \d+ corp: (\d+) exec/s (\d+) oom/timeout/crash: (\d+)/(\d+)/(\d+)"
)


class CampaignError(Exception):
    """A campaign could not be run (bad target, missing engine, ...)."""


@dataclass
class Progress:
    """What a campaign has done so far."""

    executions: int = 0
    """Inputs the engine ran (libFuzzer's count; the Hypothesis engine counts examples)."""
    checks: int = 0
    """Inputs that reached the target's check (too-short inputs stop before it)."""
    exec_per_s: float = 0.0
    corpus: int = 0
    coverage: int | None = None
    findings: int = 0
    elapsed: float = 0.0

    def line(self, target: str, engine: str) -> str:
        cov = f" cov {self.coverage}" if self.coverage is not None else ""
        checks = f" checks {self.checks}" if self.checks != self.executions else ""
        return (
            f"[{target} {engine}] {self.elapsed:6.1f}s  execs {self.executions:>9}  "
            f"{self.exec_per_s:>8.0f}/s{checks}  corpus {self.corpus:>5}{cov}  "
            f"findings {self.findings}"
        )


@dataclass
class CampaignResult:
    target: str
    engine: str
    workers: int
    seconds: float
    progress: Progress
    findings: list[Path] = field(default_factory=list)
    reproduce: list[str] = field(default_factory=list)
    log: Path | None = None
    note: str = ""
    parallel: str = ""
    """How several atheris workers ran: ``processes`` or ``fork`` (empty for one worker)."""

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        p = self.progress
        rate = p.executions / self.seconds if self.seconds else 0.0
        how = f" ({self.parallel})" if self.parallel else ""
        lines = [
            f"campaign {self.target}: engine {self.engine}, {self.workers} worker(s){how}, "
            f"{self.seconds:.1f} s, {p.executions} executions ({rate:.0f}/s), "
            f"{p.checks} reached the check, corpus {p.corpus}"
            + (f", coverage {p.coverage}" if p.coverage is not None else ""),
        ]
        if self.note:
            lines.append(f"  note: {self.note}")
        if not self.findings:
            lines.append("  no findings")
        for path, cmd in zip(self.findings, self.reproduce, strict=False):
            lines.append(f"  FINDING {path}")
            lines.append(f"    reproduce: {cmd}")
        if self.log is not None:
            lines.append(f"  log: {self.log}")
        return "\n".join(lines)


Reporter = Callable[[Progress], None]


def _findings_in(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.startswith(_FINDING_PREFIXES))


def _corpus_size(corpus: Path) -> int:
    return sum(1 for p in corpus.iterdir() if p.is_file()) if corpus.is_dir() else 0


def choose_engine(engine: str) -> tuple[str, str]:
    """``(engine, note)``: ``auto`` picks atheris when it imports, else Hypothesis."""
    if engine not in ENGINES:
        raise CampaignError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    why = atheris_available()
    if engine == "atheris" and why is not None:
        raise CampaignError(why)
    if engine == "auto":
        return ("atheris", "") if why is None else ("hypothesis", f"atheris unavailable: {why}")
    return engine, ""


def run_campaign(
    target: str,
    *,
    workers: int = 1,
    seconds: float = 60.0,
    corpus: Path | None = None,
    findings: Path | None = None,
    database: str | None = None,
    engine: str = "auto",
    keep_going: bool = False,
    report: Reporter | None = None,
    runs: int | None = None,
    parallel: str | None = None,
) -> CampaignResult:
    """Run one campaign of ``target``; ``report`` gets :class:`Progress` about once a second.

    ``parallel`` chooses how the atheris engine runs several workers (:func:`choose_parallel`).
    """
    if target not in TARGETS:
        raise CampaignError(f"unknown fuzz target {target!r} (known: {', '.join(TARGETS)})")
    if workers < 1:
        raise CampaignError("--workers must be at least 1")
    if seconds <= 0:
        raise CampaignError("--time must be positive")
    chosen, note = choose_engine(engine)
    mode = choose_parallel(parallel)
    corpus_dir = corpus if corpus is not None else Path("fuzz-corpus") / target
    findings_dir = findings if findings is not None else Path("fuzz-findings") / target
    corpus_dir.mkdir(parents=True, exist_ok=True)
    findings_dir.mkdir(parents=True, exist_ok=True)
    t = TARGETS[target]
    if chosen == "atheris":
        fork = workers > 1 and mode == "fork"
        options = _AtherisOptions(
            workers, seconds, corpus_dir, findings_dir, database, keep_going, runs, fork
        )
        result = _AtherisCampaign(t, options, report).run()
    else:
        result = _run_hypothesis(t, workers, seconds, findings_dir, database, keep_going, report)
    result.note = "; ".join(x for x in (note, result.note) if x)
    return result


# --------------------------------------------------------------------------- atheris


def choose_parallel(parallel: str | None) -> str:
    """How the atheris engine runs ``--workers N``: ``parallel``, else :data:`PARALLEL_ENV`,
    else ``processes``.

    ``processes`` starts N independent libFuzzer processes sharing the corpus directory
    (libFuzzer's ``-reload``: each re-reads it every second and picks up what the others
    found), so each worker pays Python's start-up and atheris's instrumentation once.
    ``fork`` is libFuzzer's ``-fork=N``: it starts a fresh Python process for every job,
    gives job J only min(J, 300) seconds, and runs a merge subprocess (one more start-up)
    after each job while no new job starts, so a campaign of a few minutes spends much of
    its time starting Python and ``-fork=2`` was measured barely faster than one worker
    (docs/FUZZING.md). It stays available for long campaigns, where its crash isolation
    and ``-ignore_crashes`` are worth more than the start-up cost.
    """
    chosen = parallel or os.environ.get(PARALLEL_ENV) or "processes"
    if chosen not in PARALLEL_MODES:
        raise CampaignError(
            f"unknown parallel mode {chosen!r} (choose from {', '.join(PARALLEL_MODES)})"
        )
    return chosen


def _wrapper(directory: Path, script: Path) -> Path:
    """An executable that runs ``script`` with this Python (libFuzzer's fork mode execs it)."""
    path = directory / f".run-{script.stem}.sh"
    path.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(script))} "$@"\n'
    )
    path.chmod(0o755)
    return path


def _environment(database: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    if database:
        env[DATABASE_ENV] = database
    env.update(extra)
    return env


def split_runs(runs: int | None, workers: int) -> list[int | None]:
    """``--runs`` is a campaign total: each of ``workers`` independent processes gets a share
    (the first ones one more when it does not divide)."""
    if runs is None:
        return [None] * workers
    share, extra = divmod(runs, workers)
    return [share + (1 if i < extra else 0) for i in range(workers)]


class _LibFuzzerProcess:
    """One libFuzzer process of a campaign: its stderr goes to the shared log (prefixed when
    there are several) and is parsed into its own :class:`Progress` by a reader thread, so
    several processes can be followed at once."""

    def __init__(
        self, argv: list[str], env: dict[str, str], log: TextIO, lock: threading.Lock,
        prefix: str, findings_at_start: int,
    ) -> None:  # fmt: skip
        self.progress = Progress()
        self.findings_at_start = findings_at_start
        self.stopped = False
        self._log, self._lock, self._prefix = log, lock, prefix
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.PIPE, env=env,
            text=True, errors="replace", start_new_session=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self._log.write(self._prefix + line)
            _parse_libfuzzer(line, self.progress)

    def finished(self) -> bool:
        """Exited, and everything it wrote has been parsed."""
        return self.proc.poll() is not None and not self._reader.is_alive()

    def signal(self, sig: int) -> None:
        """Signal its whole session (fork mode's jobs and merges too)."""
        self.stopped = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def wait(self) -> None:
        self.proc.wait()
        self._reader.join()

    def failed(self) -> bool:
        """Ended with an error status that neither a finding nor our stopping it explains."""
        return self.proc.returncode not in (0, None) and not self.stopped


def _combine(progress: Progress, processes: list[_LibFuzzerProcess], corpus: Path) -> None:
    """The campaign's figures from every process's: executions add up (processes that
    ended keep theirs), so do the running processes' rates; coverage is the largest any one
    process reports (a lower bound of their union); the corpus is the shared directory's
    size when several processes fill it, libFuzzer's own count otherwise."""
    progress.executions = sum(p.progress.executions for p in processes)
    progress.exec_per_s = sum(p.progress.exec_per_s for p in processes if p.proc.poll() is None)
    covered = [p.progress.coverage for p in processes if p.progress.coverage is not None]
    progress.coverage = max(covered) if covered else None
    progress.corpus = processes[0].progress.corpus if len(processes) == 1 else _corpus_size(corpus)


_POLL: Final = 0.2
_GRACE: Final = 90.0
"""Seconds past the budget before a process that ignores ``-max_total_time`` is killed
(libFuzzer's ``-timeout=30`` per input plus start-up and its final merge)."""


@dataclass(frozen=True)
class _AtherisOptions:
    """How an atheris campaign runs: what :func:`run_campaign` made of its arguments."""

    workers: int
    seconds: float
    corpus: Path
    findings: Path
    database: str | None
    keep_going: bool
    runs: int | None
    """The campaign's total of libFuzzer ``-runs`` (shared out by :func:`split_runs`)."""
    fork: bool
    """libFuzzer's ``-fork=N`` runs the workers (``parallel="fork"`` and more than one)."""

    @property
    def slots(self) -> int:
        """Processes started side by side: fork mode's one parent, else one per worker."""
        return 1 if self.fork else self.workers


class _AtherisCampaign:
    """One atheris campaign: its libFuzzer processes, one per slot, followed until all have
    ended (:meth:`_supervise`), then the result.

    Several processes stop together at the first finding; with ``keep_going`` a slot whose
    plain process a crash ended gets a new one for the rest of the budget, as fork mode's
    ``-ignore_crashes`` would. Every process ever started counts in the figures.
    """

    def __init__(self, t: Target, options: _AtherisOptions, report: Reporter | None) -> None:
        self.t, self.options, self.report = t, options, report
        self.before = set(_findings_in(options.findings))
        self.wrapper = _wrapper(options.findings, t.script)
        self.log_path = options.findings / f"campaign-{int(time.time())}.log"
        self.progress = Progress()
        self.start = time.monotonic()
        self.stats = tempfile.mkdtemp(prefix=".stats-", dir=options.findings)
        self.env = _environment(
            options.database, {ARGV0_ENV: str(self.wrapper), STATS_ENV: self.stats}
        )
        self.shares = [options.runs] if options.fork else split_runs(options.runs, options.workers)
        self.lock = threading.Lock()
        self.current: list[_LibFuzzerProcess] = []
        """The process of each slot (the latest, after restarts)."""
        self.everyone: list[_LibFuzzerProcess] = []
        self.restarts = [0] * options.slots

    def _argv(self, budget: float, runs_share: int | None) -> list[str]:
        o = self.options
        args = [
            str(self.wrapper),
            f"-max_total_time={max(1, round(budget))}",
            f"-artifact_prefix={o.findings}{os.sep}",
            "-timeout=30",
            "-print_final_stats=1",
        ]
        if o.fork:
            args.append(f"-fork={o.workers}")
            if o.keep_going:
                args += ["-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1"]
        if runs_share is not None:
            args.append(f"-runs={runs_share}")
        args.append(str(o.corpus))
        return args

    def _launch(self, log: TextIO, slot: int, budget: float, restart: int = 0) -> _LibFuzzerProcess:
        one = self.options.slots == 1
        prefix = "" if one else f"[w{slot + 1}{'.' + str(restart) if restart else ''}] "
        found = len(_findings_in(self.options.findings))
        argv = self._argv(budget, self.shares[slot])
        return _LibFuzzerProcess(argv, self.env, log, self.lock, prefix, found)

    def run(self) -> CampaignResult:
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.current = [
                self._launch(log, i, self.options.seconds) for i in range(self.options.slots)
            ]
            self.everyone = list(self.current)
            corpus, stats = self.options.corpus, self.stats
            ticker = _Ticker(self.progress, self.report, self.start, lambda: _corpus_size(corpus),
                             lambda: read_counts(stats))  # fmt: skip
            try:
                self._supervise(log, ticker)
            except KeyboardInterrupt:
                for p in self.current:
                    p.signal(signal.SIGINT)
                for p in self.current:
                    p.wait()
                raise
            finally:
                ticker.stop()
        return self._result()

    def _supervise(self, log: TextIO, ticker: _Ticker) -> None:
        """Poll the processes until every one has ended: combine their figures, stop them
        at the first finding (unless ``keep_going``), restart crashed ones (with it), and
        kill any still running :data:`_GRACE` seconds past the budget."""
        o, progress, start = self.options, self.progress, self.start
        while True:
            ended = all(p.finished() for p in self.current)
            _combine(progress, self.everyone, o.corpus)
            found = len(_findings_in(o.findings))
            progress.findings = len(set(_findings_in(o.findings)) - self.before)
            now = time.monotonic()
            if progress.findings and not o.keep_going:
                for p in self.current:
                    if not p.finished() and not p.stopped:
                        p.signal(signal.SIGTERM)
            elif (
                o.keep_going
                and not o.fork
                and o.runs is None
                and self._restart_crashed(log, found, start + o.seconds - now)
            ):
                ended = False
            ticker.maybe()
            if ended:
                break
            if now - start > o.seconds + _GRACE:
                for p in self.current:
                    p.signal(signal.SIGKILL)
            time.sleep(_POLL)

    def _restart_crashed(self, log: TextIO, found: int, left: float) -> bool:
        """A new process, for the ``left`` seconds of the budget, in every slot whose process
        ended after a finding appeared; whether any was started. A crash ends a plain
        libFuzzer process, so this is ``keep_going`` for them, as fork mode's
        ``-ignore_crashes`` is for its jobs."""
        restarted = False
        for i, p in enumerate(self.current):
            if p.finished() and found > p.findings_at_start and left >= 2:
                self.restarts[i] += 1
                self.current[i] = self._launch(log, i, left, self.restarts[i])
                self.everyone.append(self.current[i])
                restarted = True
        return restarted

    def _result(self) -> CampaignResult:
        """The final figures (the shared corpus directory, every process's published
        count of checks), the new findings with their reproducer commands."""
        o, progress, everyone = self.options, self.progress, self.everyone
        elapsed = time.monotonic() - self.start
        _combine(progress, everyone, o.corpus)
        progress.elapsed = elapsed
        progress.corpus = _corpus_size(o.corpus)
        progress.checks = read_counts(self.stats)
        progress.executions = max(progress.executions, progress.checks)
        progress.exec_per_s = progress.executions / elapsed if elapsed else 0.0
        shutil.rmtree(self.stats, ignore_errors=True)
        new = sorted(set(_findings_in(o.findings)) - self.before)
        progress.findings = len(new)
        if self.report is not None:
            self.report(progress)
        script = shlex.quote(str(self.t.script))
        reproduce = [f"{shlex.quote(sys.executable)} {script} {shlex.quote(str(p))}" for p in new]
        how = ("fork" if o.fork else "processes") if o.workers > 1 else ""
        result = CampaignResult(self.t.name, "atheris", o.workers, elapsed, progress, new,
                                reproduce, self.log_path, parallel=how)  # fmt: skip
        failed = [p.proc.returncode for p in everyone if p.failed()]
        if failed and not new:
            result.note = f"libFuzzer exited with status {failed[0]} (see the log)"
        return result


def _parse_libfuzzer(line: str, progress: Progress) -> None:
    m = _FORK.match(line)
    if m:
        progress.executions = int(m.group(1))
        progress.coverage = int(m.group(2))
        progress.corpus = int(m.group(3))
        progress.exec_per_s = float(m.group(4))
        return
    m = _PLAIN.match(line)
    if m:
        progress.executions = int(m.group(1))
        progress.coverage = int(m.group(2))
        progress.corpus = int(m.group(3))
        progress.exec_per_s = float(m.group(4))
        return
    if line.startswith("stat::number_of_executed_units:"):
        progress.executions = max(progress.executions, int(line.split(":")[-1]))


class _Ticker:
    """Calls the reporter about once a second, also while the engine is quiet."""

    def __init__(
        self, progress: Progress, report: Reporter | None, start: float,
        corpus: Callable[[], int] | None = None, executions: Callable[[], int] | None = None,
    ) -> None:  # fmt: skip
        self.progress = progress
        self.report = report
        self.start = start
        self.corpus = corpus
        self.executions = executions
        self._last = 0.0
        self._lock = threading.Lock()  # the engine's loop and the ticker thread both call in
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if report is not None:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()

    def maybe(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self.report is not None and now - self._last >= 1.0:
                self._emit(now)

    def _emit(self, now: float) -> None:
        self._last = now
        self.progress.elapsed = now - self.start
        if self.corpus is not None and not self.progress.corpus:
            self.progress.corpus = self.corpus()
        if self.executions is not None:  # every process's published count
            self.progress.checks = self.executions()
        assert self.report is not None
        self.report(self.progress)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.maybe()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)


# --------------------------------------------------------------------------- hypothesis


def _hypothesis_worker(
    name: str,
    seconds: float,
    database: str | None,
    findings: str,
    counter: Any,
    found: Any,
    worker: int,
    keep_going: bool,
) -> None:
    """One worker process: batches of the target's test until time is up (or a finding)."""
    from hypothesis.errors import InvalidArgument

    from .database import open_database
    from .targets import load

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C
    db = open_database(database)

    def tick() -> None:
        with counter.get_lock():
            counter.value += 1

    module = load(name)
    deadline = time.monotonic() + seconds
    batch = 0
    while time.monotonic() < deadline:
        batch += 1
        test = module.build(db, tick)  # a fresh random seed per batch (derandomize is off)
        try:
            test()
        except InvalidArgument as exc:  # the target is broken, not the code under test
            print(f"fuzz worker {worker}: target {name} cannot run: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except Exception as exc:
            _write_finding(Path(findings), name, worker, batch, exc)
            with found.get_lock():
                found.value += 1
            if not keep_going:
                return


def _write_finding(directory: Path, name: str, worker: int, batch: int, exc: BaseException) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"finding-{name}-{stamp}-p{os.getpid()}w{worker}b{batch}.txt"
    notes = "\n".join(getattr(exc, "__notes__", []))
    text = f"fuzz target {name}: Hypothesis found a failing example.\n\n{notes}\n\n" + "".join(
        traceback.format_exception(exc)
    )
    path.write_text(text, encoding="utf-8")
    return path


def _run_hypothesis(
    t: Target,
    workers: int,
    seconds: float,
    findings: Path,
    database: str | None,
    keep_going: bool,
    report: Reporter | None,
) -> CampaignResult:
    ctx: Any = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    counter = ctx.Value("q", 0)
    found = ctx.Value("i", 0)
    before = set(_findings_in(findings))
    procs = [
        ctx.Process(
            target=_hypothesis_worker,
            args=(t.name, seconds, database, str(findings), counter, found, w, keep_going),
            daemon=True,
        )
        for w in range(workers)
    ]
    progress = Progress()
    start = time.monotonic()
    for p in procs:
        p.start()
    last_count, last_time = 0, start
    try:
        while any(p.is_alive() for p in procs):
            for p in procs:
                p.join(timeout=1.0 / len(procs))
            now = time.monotonic()
            count = counter.value
            progress.executions = progress.checks = count
            progress.exec_per_s = (count - last_count) / max(now - last_time, 1e-9)
            last_count, last_time = count, now
            progress.findings = found.value
            progress.elapsed = now - start
            if report is not None:
                report(progress)
            if progress.findings and not keep_going:
                for p in procs:
                    p.terminate()
            if now - start > seconds + 120:  # a worker stuck in one example: stop it
                for p in procs:
                    p.kill()
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        raise
    elapsed = time.monotonic() - start
    progress.executions = progress.checks = counter.value
    progress.exec_per_s = progress.executions / elapsed if elapsed else 0.0
    progress.elapsed = elapsed
    new = sorted(set(_findings_in(findings)) - before)
    progress.findings = len(new)
    reproduce = [
        f"zrepl-conformance fuzz campaign --target {t.name} --engine hypothesis --time 10"
        f"{'' if not database else ' --database ' + shlex.quote(database)}"
        "  (the example database replays it first; details in the file)"
        for _ in new
    ]
    return CampaignResult(t.name, "hypothesis", workers, elapsed, progress, new, reproduce, None,
                          f"example database: {describe(database)}")  # fmt: skip


def print_progress(stream: TextIO, target: str, engine: str) -> Reporter:
    """A reporter that redraws one status line on a terminal, or prints every 5 s otherwise."""
    tty = stream.isatty()
    state = {"last": 0.0}

    def report(p: Progress) -> None:
        if tty:
            stream.write("\r" + p.line(target, engine))
            stream.flush()
        elif p.elapsed - state["last"] >= 5.0:
            state["last"] = p.elapsed
            stream.write(p.line(target, engine) + "\n")
            stream.flush()

    return report
