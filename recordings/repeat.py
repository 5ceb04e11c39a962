"""Replaying a transcript several times: is a difference stable, or does it come and go?

A real implementation can answer differently from run to run (timing, scheduling, its own
randomness), and a finding that does not reproduce wastes the time of whoever looks at it.
``replay --repeat N`` and ``golden check --repeat N`` replay each transcript N times, each
time against a freshly started implementation, and group the runs by what they found: the
same verdict at the same record for the same reason (the detail, e.g. the value a field
had, may differ). One group is a stable verdict (``5/5 identical``, or a mismatch in every
run); more than one is **UNSTABLE**, and the runs that differed from the recording are kept
as transcripts so they can be compared with each other. A known deviation
(:mod:`recordings.explain`) passes, but it is a finding like any other: the same one in every
run is a stable ``deviation``, a known deviation in some runs and none in others is UNSTABLE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .format import Header
from .replay import Outcome, ReplayResult

__all__ = ["RepeatOutcome", "RepeatResult", "repeat"]

RepeatOutcome = Outcome | Literal["unstable"]

RunKey = tuple[str, int, str, str]
"""What makes two runs' findings the same: outcome, record number, direction, what (for a
known deviation, with its §section)."""


def run_key(result: ReplayResult) -> RunKey:
    """The finding of one run, without its detail (which may vary in a stable mismatch)."""
    m = result.mismatch
    if result.outcome == "deviation" and m is not None and result.deviation is not None:
        return ("deviation", m.index, m.direction or "", f"{m.what}, {result.deviation.section}")
    if result.outcome == "mismatch" and m is not None:
        return ("mismatch", m.index, m.direction or "", m.what)
    return (result.outcome, 0, "", "")


@dataclass
class RepeatResult:
    """The runs of one transcript, in order (run 1 first)."""

    runs: list[ReplayResult] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    """Transcripts of the differing runs, once :meth:`keep` wrote them."""

    def groups(self) -> list[tuple[RunKey, list[int]]]:
        """Each distinct finding with the (1-based) runs that had it, in order of first run."""
        found: dict[RunKey, list[int]] = {}
        for n, r in enumerate(self.runs, start=1):
            found.setdefault(run_key(r), []).append(n)
        return list(found.items())

    @property
    def outcome(self) -> RepeatOutcome:
        groups = self.groups()
        if len(groups) != 1:
            return "unstable"
        return self.runs[0].outcome

    @property
    def ok(self) -> bool:
        """Every run ended the same way, and that way passes (:attr:`ReplayResult.ok`)."""
        return self.outcome != "unstable" and self.runs[0].ok

    @property
    def example(self) -> ReplayResult:
        """The run to show: the first that failed, else the first that differed from the
        recording (a known deviation), else the first."""
        failed = (r for r in self.runs if not r.ok)
        return next(failed, next((r for _, r in self.differing()), self.runs[0]))

    def differing(self) -> list[tuple[int, ReplayResult]]:
        """``(run number, result)`` of the runs that differed from the recording (known
        deviations included: they pass, but did not see what was recorded)."""
        return [(n, r) for n, r in enumerate(self.runs, start=1) if r.outcome != "pass"]

    def count_lines(self) -> list[str]:
        """One line per distinct finding: which record differed in how many runs."""
        total = len(self.runs)
        out = []
        for key, runs in self.groups():
            which = f"{len(runs)}/{total} runs"
            if len(runs) < total:
                which += f" (run{'s' if len(runs) > 1 else ''} {', '.join(map(str, runs))})"
            outcome, index, direction, what = key
            example = self.runs[runs[0] - 1]
            if outcome == "pass":
                out.append(f"identical in {which}")
            elif outcome in ("mismatch", "deviation"):
                where = f"record {index}" + (f" {direction}" if direction else "")
                known = "a known deviation" if outcome == "deviation" else "differed"
                out.append(f"{where} ({what}) {known} in {which}")
            elif outcome == "unimplemented":
                out.append(f"unimplemented (exit 89) in {which}")
            elif outcome == "error":
                out.append(f"could not be replayed in {which}: {example.error}")
            else:
                out.append(f"{outcome} in {which}")
        return out

    def summary(self, source: str = "transcript") -> str:
        """What the runs found; a single run is reported exactly as :class:`ReplayResult`."""
        if len(self.runs) == 1:
            return self.runs[0].summary(source)
        total = len(self.runs)
        outcome = self.outcome
        if outcome == "pass":
            compared = self.runs[0].compared
            return f"{source}: ok ({total}/{total} identical, {compared} records compared)"
        counts = "; ".join(self.count_lines())
        if outcome != "unstable":
            return f"{self.example.summary(source)}\n{source}: {counts}"
        lines = [f"{source}: UNSTABLE: {counts}"]
        example = self.example
        if example.outcome != "pass":
            n = next(n for n, r in enumerate(self.runs, start=1) if r is example)
            lines.append(f"run {n}: " + example.summary(source))
        lines += [f"kept: {p}" for p in self.kept]
        return "\n".join(lines)

    def keep(self, directory: Path, stem: str, source: str) -> list[Path]:
        """Write what each differing run saw as ``DIR/STEM.runN.jsonl``; returns the paths."""
        directory.mkdir(parents=True, exist_ok=True)
        total = len(self.runs)
        for n, r in self.differing():
            header = Header(what="replay", title=f"replay of {source}, run {n} of {total}")
            path = directory / f"{stem}.run{n}.jsonl"
            r.transcript(header).save(path)
            self.kept.append(path)
        return list(self.kept)


def repeat(run_once: Callable[[], ReplayResult], times: int) -> RepeatResult:
    """``run_once`` ``times`` times (each starts the implementation afresh)."""
    if times < 1:
        raise ValueError("--repeat must be at least 1")
    return RepeatResult([run_once() for _ in range(times)])
