"""The killing test of the mutation run: the conformance catalog against a (mutated) reference.

    python tools/mutation_test.py --tree DIR [--timeout S] [--all] [-k TEXT] [--json FILE]

``DIR`` is a copy of this repository in which the mutation tool has changed one file of the
reference (``tools/mutation.py`` prepares it; Cosmic Ray runs this script there). The
*suite* — cases, judge, wire parser and the in-process oracle that supplies the expected
answers — is imported from the checkout holding this script, never from ``DIR``: a mutant
of ``bytestreamrpc/framing.py`` must not change how the suite reads the wire, nor the
expected answers it compares with. The *implementation under test* is the reference as it
is in ``DIR``: ``python -m tests.mutants reference serve|pull|push`` with ``DIR`` first on
``PYTHONPATH``, forked from one fork server that imported ``DIR``'s modules once
(:mod:`iut.forkserver`), so a case costs milliseconds, not an interpreter start.

Exit status: 1 as soon as a case is FAIL, NON-STRICT or UNIMPLEMENTED (the mutant is
killed; the case is printed), 0 when every case passes (the mutant survived; cases whose
verdict is INFO are printed, an INFO where the unmutated reference PASSes means the mutant
behaves like the original in a §deviations row), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.catalog import all_cases  # noqa: E402
from conformance.matrix import PRELOAD  # noqa: E402
from conformance.model import Case, CaseResult, Verdict  # noqa: E402
from conformance.runner import Runner, RunOptions, new_fixture_cache  # noqa: E402
from conformance.targets import ForkServerTarget  # noqa: E402
from iut.forkserver import ForkServer  # noqa: E402
from iut.spec import IUTSpec  # noqa: E402
from tests.mutants.specs import command  # noqa: E402

KILLS: Final = frozenset({Verdict.FAIL, Verdict.NON_STRICT, Verdict.UNIMPLEMENTED})
CASE_TIMEOUT: Final = 3.0
"""Seconds per case, as in the mutant matrix: the reference needs milliseconds."""


def spec_for(tree: Path) -> IUTSpec:
    """The reference started from ``tree`` (``python -m tests.mutants reference ...``)."""
    return IUTSpec(
        server=tuple(command("reference", "serve")),
        pull=tuple(command("reference", "pull")),
        push=tuple(command("reference", "push")),
        env={"PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"},
        name=f"reference in {tree}",
        origin=str(tree),
    )


def select(pattern: str) -> list[Case]:
    cases = all_cases()
    return [c for c in cases if pattern in c.id] if pattern else cases


def line(result: CaseResult) -> str:
    return f"{result.verdict} {result.case_id} [{result.level}] {result.reason}".rstrip()


def run(tree: Path, cases: list[Case], timeout: float, stop: bool) -> list[CaseResult]:
    """Run ``cases``; with ``stop``, return after the first killing verdict."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    # ``python -m`` puts its working directory first on sys.path: the fork server must
    # start in ``tree``, or it would import whatever checkout it was started from
    os.chdir(tree)
    server = ForkServer(PRELOAD, env=env)
    cache = new_fixture_cache()
    options = RunOptions(timeout=timeout, prefetch=False, wire_logs=False)
    runner = Runner(
        ForkServerTarget(spec_for(tree), server, cache), options, cache, oracle_cache={}
    )
    results: list[CaseResult] = []
    try:
        for case in cases:
            result = runner.run(case)
            results.append(result)
            if result.verdict in KILLS:
                print(line(result), flush=True)
                if stop:
                    break
            elif result.verdict is Verdict.INFO:
                print(line(result), flush=True)
    finally:
        runner.close()
        server.close()
        cache.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--tree", type=Path, default=Path.cwd(), help="the mutated copy (default: .)")
    p.add_argument("--timeout", type=float, default=CASE_TIMEOUT, help="seconds per case")
    p.add_argument("--all", action="store_true", help="run every case, even after a kill")
    p.add_argument("-k", default="", metavar="TEXT", help="only cases whose id contains TEXT")
    p.add_argument("--json", type=Path, help="write {case id: [verdict, seconds]} here")
    args = p.parse_args(argv)
    tree = args.tree.resolve()
    if not (tree / "bytestreamrpc").is_dir():
        p.error(f"{tree} is not a copy of the repository (no bytestreamrpc/)")
    cases = select(args.k)
    if not cases:
        p.error(f"no case id contains {args.k!r}")
    start = time.monotonic()
    results = run(tree, cases, args.timeout, stop=not args.all)
    killed = [r for r in results if r.verdict in KILLS]
    print(
        f"{'KILLED' if killed else 'SURVIVED'}: {len(results)} of {len(cases)} cases run "
        f"in {time.monotonic() - start:.1f} s",
        flush=True,
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps({r.case_id: [str(r.verdict), round(r.duration, 3)] for r in results}),
            encoding="utf-8",
        )
    return 1 if killed else 0


if __name__ == "__main__":
    sys.exit(main())
