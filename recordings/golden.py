"""The golden corpus: record scenarios against the reference, check implementations against them.

``recordings/golden/NAME.jsonl`` is the transcript of scenario ``NAME`` played against our
reference server (started through :mod:`iut`, like any implementation). ``check`` replays
every file's client side to a server and compares (``bytes`` level by default: the corpus is
byte-exact, except for the chunk boundaries of send streams, which only ``exact`` compares);
a difference that docs/PROTOCOL.md §deviations documents as the original's behaviour is a
known deviation, not a failure (:mod:`recordings.explain`; ``strict``: unless unsafe).
``update`` re-records. A golden file no scenario produces, or a scenario without
a golden file, is a problem both commands report (``update --prune`` deletes orphans).
"""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from iut import FixtureCache, IUTSpec, reference_spec, start_server

from .classify import Recorder
from .compare import ComparisonLevel
from .digest import DEFAULT_DIGEST, Digest
from .driver import Driver, RecordingTransport, ScenarioError, response_errors, server_closed
from .format import C2S, Header, Transcript, TranscriptError, read_transcript
from .repeat import RepeatResult, repeat
from .replay import ReplayResult, replay_server
from .scenarios import SCENARIOS, Scenario

__all__ = [
    "GOLDEN_DIR",
    "GoldenResult",
    "check",
    "corpus_problems",
    "golden_path",
    "record_scenario",
    "update",
]

GOLDEN_DIR: Final = Path(__file__).resolve().parent / "golden"
SUFFIX: Final = ".jsonl"
RECORD_TIMEOUT: Final = 20.0


def golden_path(name: str, directory: Path = GOLDEN_DIR) -> Path:
    return directory / f"{name}{SUFFIX}"


def _fixture_model(fixture: str) -> object:
    from fakes.zfs import FakeZfs
    from fakes.zfs.fixtures import load_fixture

    return FakeZfs.in_memory(None if fixture == "demo" else load_fixture(fixture))


def record_scenario(
    sc: Scenario,
    cache: FixtureCache,
    spec: IUTSpec | None = None,
    *,
    timeout: float = RECORD_TIMEOUT,
    digest: Digest = DEFAULT_DIGEST,
) -> Transcript:
    """Play ``sc`` against ``spec.server`` (the reference by default) and return its transcript
    (send streams it does not keep whole stored as ``digest``).

    Raises :class:`ScenarioError` when the conversation does not show what the scenario
    claims (its ``errors`` and ``closes``).
    """
    spec = spec or reference_spec()
    running = start_server(
        spec, cache, fixture=sc.fixture, profile=sc.profile, identity=sc.identity
    )
    rec = Recorder(full=(C2S,), digest=digest)
    transport = RecordingTransport(running.transport, rec, timeout)
    try:
        sc.run(Driver(transport, _fixture_model(sc.fixture)))
        transport.drain_to_eof()
    finally:
        running.close(timeout=timeout)
    rec.stop()
    errors = tuple(response_errors(rec.records))
    if errors != sc.errors:
        raise ScenarioError(
            f"scenario {sc.name}: server responses had ErrorIds {list(errors)}, "
            f"the scenario expects {list(sc.errors)} (stderr: {running.stderr.strip()[-300:]!r})"
        )
    if server_closed(rec.records) != sc.closes:
        raise ScenarioError(
            f"scenario {sc.name}: the server {'did not close' if sc.closes else 'closed'}"
        )
    title = f"§{sc.section}: {sc.title}"
    if sc.deviation:
        title += f" [reference deviation §{sc.deviation}]"
    header = Header(
        what="scenario",
        scenario=sc.name,
        title=title,
        fixture=sc.fixture,
        profile=dict(sc.profile),
        identity=sc.identity,
        full=(C2S,),
        digest=digest,
    )
    return Transcript(header, rec.records)


def corpus_problems(
    scenarios: Sequence[Scenario] = SCENARIOS, directory: Path = GOLDEN_DIR
) -> tuple[list[str], list[str]]:
    """``(orphan files, scenarios without a file)``."""
    names = {s.name for s in scenarios}
    files = sorted(directory.glob(f"*{SUFFIX}")) if directory.is_dir() else []
    orphans = [str(p) for p in files if p.name[: -len(SUFFIX)] not in names]
    missing = [s.name for s in scenarios if not golden_path(s.name, directory).exists()]
    return orphans, missing


@dataclass
class GoldenResult:
    """The check of one golden file."""

    name: str
    path: Path
    result: ReplayResult | None = None
    problem: str | None = None
    seconds: float = 0.0
    excluded: str | None = None
    """The description's reason for excluding ``golden.NAME``."""
    runs: RepeatResult | None = None
    """Every run (``check(repeat=N)``); :attr:`result` is the one shown."""

    @property
    def ok(self) -> bool:
        if self.excluded is not None:
            return True
        if self.problem is not None or self.result is None:
            return False
        return self.runs.ok if self.runs is not None else self.result.ok

    @property
    def outcome(self) -> str:
        if self.excluded is not None:
            return "excluded"
        if self.problem is not None or self.result is None:
            return "error"
        if self.runs is not None:
            return self.runs.outcome
        return self.result.outcome

    def line(self) -> str:
        if self.excluded is not None:
            return f"EXCLUDED {self.name}: {self.excluded}"
        if self.problem is not None:
            return f"ERROR {self.name}: {self.problem}"
        assert self.result is not None
        verdict = {
            "pass": "ok",
            "deviation": "INFO",
            "mismatch": "FAIL",
            "error": "ERROR",
            "unimplemented": "UNIMPLEMENTED",
            "unstable": "UNSTABLE",
        }[self.outcome]
        runs = self.runs if self.runs is not None else RepeatResult([self.result])
        if self.outcome == "pass":
            n = len(runs.runs)
            return f"{verdict:5} {self.name}" + (f" ({n}/{n} identical)" if n > 1 else "")
        return f"{verdict:5} {self.name}\n" + _indent(runs.summary(str(self.path)))


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


@dataclass
class CheckReport:
    results: list[GoldenResult] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.orphans and not self.missing and all(r.ok for r in self.results)

    @property
    def only_unstable(self) -> bool:
        """Not ok, but every problem is an UNSTABLE result (``golden check`` exits 4)."""
        bad = [r for r in self.results if not r.ok]
        return (
            not self.orphans
            and not self.missing
            and bool(bad)
            and all(r.outcome == "unstable" for r in bad)
        )


def _workers(workers: int | None) -> int:
    return workers if workers and workers > 0 else max(2, min(4, (os.cpu_count() or 2)))


def check(
    spec: IUTSpec | None = None,
    *,
    names: Iterable[str] | None = None,
    level: ComparisonLevel = ComparisonLevel.BYTES,
    ignore: Sequence[str] = (),
    timeout: float | None = None,
    strict: bool = False,
    workers: int | None = None,
    directory: Path = GOLDEN_DIR,
    scenarios: Sequence[Scenario] = SCENARIOS,
    progress: Callable[[GoldenResult], None] | None = None,
    times: int = 1,
    keep: Path | None = None,
) -> CheckReport:
    """Replay every golden file (or ``names``) against ``spec.server`` and compare.

    ``times`` replays each file that often (:mod:`recordings.repeat`); the differing runs of
    an UNSTABLE file are written to ``keep`` (as ``NAME.runN.jsonl``) when it is given.
    """
    t0 = time.monotonic()
    spec = spec or reference_spec()
    report = CheckReport()
    report.orphans, report.missing = corpus_problems(scenarios, directory)
    wanted = set(names) if names is not None else None
    chosen = [
        s
        for s in scenarios
        if (wanted is None or s.name in wanted) and golden_path(s.name, directory).exists()
    ]
    if wanted is not None:
        unknown = sorted(wanted - {s.name for s in scenarios})
        report.missing += [f"{n} (no such scenario)" for n in unknown]

    def one(sc: Scenario, cache: FixtureCache) -> GoldenResult:
        path = golden_path(sc.name, directory)
        res = GoldenResult(sc.name, path)
        reason = spec.exclude.get(f"golden.{sc.name}")
        if reason is not None:
            res.excluded = reason
            return res
        start = time.monotonic()
        try:
            transcript = read_transcript(path)
            runs = repeat(
                lambda: replay_server(
                    transcript, spec, cache, level=level, ignore=ignore, timeout=timeout,
                    strict=strict,
                ),
                times,
            )  # fmt: skip
            res.runs, res.result = runs, runs.example
            if runs.outcome == "unstable" and keep is not None:
                runs.keep(keep, sc.name, str(path))
        except (TranscriptError, OSError, Exception) as exc:
            res.problem = str(exc)
        res.seconds = time.monotonic() - start
        return res

    with (
        FixtureCache() as cache,
        concurrent.futures.ThreadPoolExecutor(_workers(workers)) as pool,
    ):
        futures = [pool.submit(one, sc, cache) for sc in chosen]
        for fut in futures:
            r = fut.result()
            report.results.append(r)
            if progress is not None:
                progress(r)
    report.seconds = time.monotonic() - t0
    return report


def update(
    mode: Literal["new", "all"] = "new",
    *,
    names: Iterable[str] | None = None,
    prune: bool = False,
    spec: IUTSpec | None = None,
    workers: int | None = None,
    directory: Path = GOLDEN_DIR,
    scenarios: Sequence[Scenario] = SCENARIOS,
    digest: Digest = DEFAULT_DIGEST,
) -> tuple[list[str], list[str], list[str]]:
    """Record scenarios (``new``: only those without a file; ``all``: every one), storing
    server send streams as ``digest``.

    Returns ``(written, failed (with reasons), pruned orphans)``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    wanted = set(names) if names is not None else None
    if wanted is not None:
        unknown = sorted(wanted - {s.name for s in scenarios})
        if unknown:
            raise KeyError(f"no golden scenario named {unknown[0]!r}")
    todo = [
        s
        for s in scenarios
        if (wanted is None or s.name in wanted)
        and (mode == "all" or not golden_path(s.name, directory).exists())
    ]
    written: list[str] = []
    failed: list[str] = []

    def one(sc: Scenario, cache: FixtureCache) -> tuple[Scenario, Transcript | str]:
        try:
            return sc, record_scenario(sc, cache, spec, digest=digest)
        except Exception as exc:
            return sc, f"{sc.name}: {exc}"

    with (
        FixtureCache() as cache,
        concurrent.futures.ThreadPoolExecutor(_workers(workers)) as pool,
    ):
        for sc, out in pool.map(lambda s: one(s, cache), todo):
            if isinstance(out, str):
                failed.append(out)
                continue
            out.save(golden_path(sc.name, directory))
            written.append(sc.name)
    pruned: list[str] = []
    if prune:
        orphans, _missing = corpus_problems(scenarios, directory)
        for p in orphans:
            Path(p).unlink()
            pruned.append(p)
    return written, failed, pruned
