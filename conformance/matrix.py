"""The mutant × case-family matrix of docs/CONFORMANCE.md: what catches each defect.

``python -m conformance.matrix`` runs the whole catalog (the cases of the mutant's role)
against every mutant implementation of ``tests/mutants`` and prints the matrix; ``--update``
rewrites it in docs/CONFORMANCE.md between the markers, ``--check`` exits 1 when the
committed matrix differs. Mutants are Python, so their processes are forked from a
:class:`~iut.forkserver.ForkServer` (the start-up of an interpreter per connection
would make this run take the better part of an hour); the expected answers are computed once
and shared by all mutants. A cell counts the FAIL (``F``) and NON-STRICT (``n``) verdicts of
that family; ``·`` is none, ``—`` a family of the other role (not run: the defect lives in
the mutant's server or client only). A mutant that reproduces an unsafe behaviour of the
original (expect ``STRICT``) is run as ``run --strict`` runs it: by default it gets no FAIL
and no NON-STRICT, only INFO citing §deviations.

Needs the repository checkout (``tests/mutants`` is not installed). Takes a few minutes.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bytestreamrpc.connection import Role
from fakes.closing import Closing
from iut.forkserver import ForkServer

from .catalog import all_cases
from .model import FAMILIES, Case, Verdict
from .runner import Runner, RunOptions, new_fixture_cache
from .targets import ForkServerTarget

ROOT: Final = Path(__file__).resolve().parents[1]
DOC: Final = ROOT / "docs" / "CONFORMANCE.md"
BEGIN: Final = "<!-- MUTANT-MATRIX:BEGIN (python -m conformance.matrix --update) -->"
END: Final = "<!-- MUTANT-MATRIX:END -->"
PRELOAD: Final = (
    "tests.mutants",
    "tests.mutants.cli",
    "zrepl_conformance.cli",
    "zrepl_conformance.cmd_serve",
    "zrepl_conformance.cmd_jobs",
    "fakes.reference",
    "fakes.jobs",
)
CASE_TIMEOUT: Final = 3.0
"""Seconds per case: enough for the reference by two orders of magnitude; a mutant that
hangs costs this much per case."""
FAMILY_OF: Final = {"server-rows": "server", "transfers": "transfer"}
"""The mutants' family names for the catalog's."""


@dataclass
class MutantRun:
    """The verdict counts of one mutant per case family."""

    name: str
    role: str
    expect: str
    fails: Counter[str] = field(default_factory=Counter)
    soft: Counter[str] = field(default_factory=Counter)
    first_fail: str = ""
    first_soft: str = ""
    cases_run: int = 0

    def cell(self, family: str) -> str:
        if _family_role(family) != self.role:
            return "—"
        parts = [f"{self.fails[family]}F"] if self.fails[family] else []
        parts += [f"{self.soft[family]}n"] if self.soft[family] else []
        return " ".join(parts) or "·"


def _family_role(family: str) -> str:
    return "client" if family == "client" else "server"


def cases_for(role: str, first_family: str | None = None) -> list[Case]:
    """The cases of one role, the given family first (where a defect shows soonest)."""
    wanted = Role.CLIENT if role == "client" else Role.SERVER
    cases = [c for c in all_cases() if c.role is wanted]
    if first_family:
        fam = FAMILY_OF.get(first_family, first_family)
        cases.sort(key=lambda c: c.family != fam)
    return cases


class MutantLab(Closing):
    """A fork server, a fixture cache and the shared expected answers, for many mutants."""

    def __init__(self, timeout: float = CASE_TIMEOUT) -> None:
        from tests.mutants import MUTANTS, mutant_spec

        self.mutants = MUTANTS
        self._spec_for = mutant_spec
        self.timeout = timeout
        self._dir = tempfile.TemporaryDirectory(prefix="zrepl-mutants-")
        import os

        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}
        self.server = ForkServer(PRELOAD, env=env)
        self.cache = new_fixture_cache()
        self.oracle: dict[object, object] = {}

    def close(self) -> None:
        self.server.close()
        self.cache.close()
        self._dir.cleanup()

    def run(
        self,
        name: str,
        *,
        stop_at: frozenset[Verdict] = frozenset(),
        on_result: Callable[[Any], None] | None = None,
        strict: bool = False,
    ) -> MutantRun:
        """Run the mutant's role's cases (its family first); count verdicts per family.

        ``stop_at``: stop after the first case with one of these verdicts. ``strict``: as
        ``run --strict`` (unsafe deviations of the original count as NON-STRICT).
        """
        from iut import load_spec

        m = self.mutants[name]
        spec = load_spec(self._spec_for(name, self._dir.name))
        options = RunOptions(timeout=self.timeout, strict=strict, prefetch=False, wire_logs=False)
        runner = Runner(
            ForkServerTarget(spec, self.server, self.cache),
            options,
            self.cache,
            oracle_cache=self.oracle,
        )
        out = MutantRun(name, m.role, m.expect)
        try:
            for case in cases_for(m.role, m.family):
                result = runner.run(case)
                out.cases_run += 1
                if on_result is not None:
                    on_result(result)
                if result.verdict is Verdict.FAIL:
                    out.fails[case.family] += 1
                    out.first_fail = out.first_fail or case.id
                elif result.verdict is Verdict.NON_STRICT:
                    out.soft[case.family] += 1
                    out.first_soft = out.first_soft or case.id
                if result.verdict in stop_at:
                    break
        finally:
            runner.close()
        return out


def render(runs: Iterable[MutantRun]) -> str:
    """The markdown table (one row per mutant, one column per family)."""
    head = "| mutant | role | expect | " + " | ".join(FAMILIES) + " |"
    rule = "|---|---|---|" + "---|" * len(FAMILIES)
    rows = [head, rule]
    for r in runs:
        cells = " | ".join(r.cell(f) for f in FAMILIES)
        rows.append(f"| `{r.name}` | {r.role} | {r.expect} | {cells} |")
    return "\n".join(rows) + "\n"


def parse(table: str) -> dict[str, dict[str, str]]:
    """Committed matrix → {mutant: {family: cell}} (also ``role`` and ``expect``)."""
    out: dict[str, dict[str, str]] = {}
    for line in table.splitlines():
        m = re.match(r"^\| `([^`]+)` \| (\w+) \| ([\w-]+) \| (.*) \|$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(4).split("|")]
        row = dict(zip(FAMILIES, cells, strict=False))
        row["role"], row["expect"] = m.group(2), m.group(3)
        out[m.group(1)] = row
    return out


def committed(doc: Path = DOC) -> str:
    text = doc.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{doc}: no mutant matrix markers")
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip("\n") + "\n"


def write(table: str, doc: Path = DOC) -> None:
    text = doc.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    doc.write_text(text[:start] + "\n" + table + text[end:], encoding="utf-8")


def cell_fails(cell: str) -> int:
    m = re.search(r"(\d+)F", cell)
    return int(m.group(1)) if m else 0


def runs_from_reports(directory: Path, names: Sequence[str]) -> list[MutantRun]:
    """The matrix rows from JSON reports of whole mutant runs (``mutant-NAME.json``, as
    ``tools/same_verdicts.py snapshot`` writes them: the same runs this module makes), so
    a snapshot taken anyway need not be followed by a second run of every mutant."""
    from tests.mutants import MUTANTS

    from .report import jsonreport

    runs: list[MutantRun] = []
    for name in names:
        m = MUTANTS[name]
        results, _meta = jsonreport.read(directory / f"mutant-{name}.json")
        run = MutantRun(name, m.role, m.expect, cases_run=len(results))
        for r in results:
            if r.verdict is Verdict.FAIL:
                run.fails[r.family] += 1
                run.first_fail = run.first_fail or r.case_id
            elif r.verdict is Verdict.NON_STRICT:
                run.soft[r.family] += 1
                run.first_soft = run.first_soft or r.case_id
        runs.append(run)
    return runs


def _problem(r: MutantRun) -> str:
    """What is wrong with a mutant's row given what it expects ("" when nothing)."""
    total_f, total_n = sum(r.fails.values()), sum(r.soft.values())
    ok = (
        (r.expect == "FAIL" and total_f > 0)
        or (r.expect in ("NON-STRICT", "STRICT") and total_f == 0 and total_n > 0)
        or (r.expect == "NO-FAIL" and total_f == 0)
    )
    return "" if ok else f"{r.name}: expected {r.expect}, got {total_f} FAIL {total_n} NON-STRICT"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m conformance.matrix", description=__doc__)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--update", action="store_true", help="rewrite docs/CONFORMANCE.md")
    mode.add_argument("--check", action="store_true", help="exit 1 if the doc is outdated")
    p.add_argument("--timeout", type=float, default=CASE_TIMEOUT, help="seconds per case")
    p.add_argument(
        "--from-reports",
        type=Path,
        metavar="DIR",
        help="build the matrix from a tools/same_verdicts.py snapshot instead of running",
    )
    p.add_argument("mutants", nargs="*", help="only these (prints, never writes)")
    args = p.parse_args(argv)
    from tests.mutants.registry import ordered

    start = time.monotonic()
    names = args.mutants or [m.name for m in ordered()]
    if args.from_reports is not None:
        runs = runs_from_reports(args.from_reports, names)
    else:
        runs = []
        with MutantLab(args.timeout) as lab:
            for name in names:
                t0 = time.monotonic()
                r = lab.run(name, strict=lab.mutants[name].expect == "STRICT")
                runs.append(r)
                print(
                    f"{name:32} {r.expect:10} {sum(r.fails.values()):3}F "
                    f"{sum(r.soft.values()):3}n ({r.cases_run} cases, "
                    f"{time.monotonic() - t0:.1f} s){'  <-- UNEXPECTED' if _problem(r) else ''}",
                    file=sys.stderr,
                    flush=True,
                )
    problems = [line for line in map(_problem, runs) if line]
    table = render(runs)
    print(table)
    print(f"{len(runs)} mutants in {time.monotonic() - start:.0f} s", file=sys.stderr)
    for line in problems:
        print("problem:", line, file=sys.stderr)
    if args.mutants:
        return 1 if problems else 0
    if args.update:
        write(table)
    elif args.check and committed() != table:
        print(
            "docs/CONFORMANCE.md: the mutant matrix is outdated "
            "(python -m conformance.matrix --update)",
            file=sys.stderr,
        )
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
