"""The killing test of the mutation run: the conformance catalog against a (mutated) reference.

    python tools/mutation_test.py --tree DIR [--timeout S] [--all] [-k TEXT] [--json FILE]
                                  [--map FILE | --trace FILE]

``DIR`` is a copy of this repository in which the mutation tool has changed one file of the
reference (``tools/mutation.py`` prepares it; Cosmic Ray runs this script there). The
*suite* — cases, judge, wire parser and the in-process oracle that supplies the expected
answers — is imported from the checkout holding this script, never from ``DIR``: a mutant
of ``bytestreamrpc/framing.py`` must not change how the suite reads the wire, nor the
expected answers it compares with. The *implementation under test* is the reference as it
is in ``DIR``: ``python -m tests.mutants reference serve|pull|push`` with ``DIR`` first on
``PYTHONPATH``, forked from one fork server that imported ``DIR``'s modules once
(:mod:`iut.forkserver`), so a case costs milliseconds, not an interpreter start.

Only the cases that reach the mutant (``--map``): ``--trace FILE`` runs the whole catalog
against the *unmutated* tree and writes, per line of each mutated module, the cases whose
processes executed it, plus the lines run while the reference is imported
(:mod:`tools.mutation_trace`). With ``--map FILE`` the script compares the tree with this
checkout, finds the statement the mutant changed, and runs only the cases that executed that
statement: all of them when it runs at import time, none when no case reaches it (the mutant
survives at once). A case that never executes the changed statement runs exactly as it does
on the unmutated reference, so the verdicts are those of the whole catalog; the map must be
made from the same commit as the tree (``tools/mutation.py`` does both).

Exit status: 1 as soon as a case is FAIL, NON-STRICT or UNIMPLEMENTED (the mutant is
killed; the case is printed), 0 when every case passes (the mutant survived; cases whose
verdict is INFO are printed, an INFO where the unmutated reference PASSes means the mutant
behaves like the original in a §deviations row), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
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
from tools.mutation_trace import ENV as TRACE_ENV  # noqa: E402
from tools.mutation_trace import TRACED  # noqa: E402

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


def run(
    tree: Path, cases: list[Case], timeout: float, stop: bool, trace: Path | None = None
) -> list[CaseResult]:
    """Run ``cases``; with ``stop``, return after the first killing verdict; with ``trace``
    (a directory), each process writes the lines it executes there and the case that
    started it is noted in ``trace/cases.json``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    preload: tuple[str, ...] = PRELOAD
    if trace is not None:
        env[TRACE_ENV] = str(trace)
        preload = ("tools.mutation_trace", *PRELOAD)
    owner: dict[str, str] = {}
    if trace is not None:
        # the fork server imports part of the reference before its preload (and so before
        # the tracer): a process importing the tracer first records every import-time line
        imports = ", ".join(("tools.mutation_trace", "iut.forkserver", *PRELOAD))
        subprocess.run([sys.executable, "-c", f"import {imports}"], env=env, cwd=tree, check=True)
    # ``python -m`` puts its working directory first on sys.path: the fork server must
    # start in ``tree``, or it would import whatever checkout it was started from
    os.chdir(tree)
    server = ForkServer(preload, env=env)
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
            if trace is not None:
                for name in os.listdir(trace):
                    owner.setdefault(name, case.id)
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
        if trace is not None:
            (trace / "cases.json").write_text(json.dumps(owner), encoding="utf-8")
    return results


CoverageMap = dict[str, dict[str, list[str]]]
"""``{"import": {path: [line, ...]}, path: {line: [case id, ...]}}`` (lines as strings)."""


def collect(trace: Path) -> CoverageMap:
    """The coverage map from a ``run(..., trace=...)`` directory."""
    owner: dict[str, str] = json.loads((trace / "cases.json").read_text(encoding="utf-8"))
    cases: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for name, case_id in owner.items():
        if not name.endswith(".lines"):
            continue
        for entry in (trace / name).read_text(encoding="utf-8").split():
            rel, line = entry.rsplit(":", 1)
            cases[rel][line].add("" if name == "import.lines" else case_id)
    out: CoverageMap = {"import": {}}
    for rel, lines in cases.items():
        out["import"][rel] = sorted((ln for ln, ids in lines.items() if "" in ids), key=int)
        out[rel] = {ln: sorted(ids - {""}) for ln, ids in lines.items() if ids - {""}}
    return out


def changed_spans(tree: Path) -> dict[str, set[int]]:
    """Per traced module that differs between ``tree`` and this checkout: the lines (of this
    checkout) of every statement the difference touches — a simple statement whole, a
    compound one (``if``, ``def``, ...) up to its body."""
    spans: dict[str, set[int]] = {}
    for rel in TRACED:
        mine = (ROOT / rel).read_text(encoding="utf-8")
        theirs = (tree / rel).read_text(encoding="utf-8")
        if mine == theirs:
            continue
        touched: set[int] = set()
        matcher = difflib.SequenceMatcher(None, mine.splitlines(), theirs.splitlines(), False)
        for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
            if tag != "equal":
                touched.update(range(i1 + 1, max(i2, i1 + 1) + 1))
        lines: set[int] = set()
        for node in ast.walk(ast.parse(mine)):
            if not isinstance(node, ast.stmt):
                continue
            body = getattr(node, "body", None)
            last = body[0].lineno - 1 if isinstance(body, list) and body else node.end_lineno
            span = set(range(node.lineno, (last or node.lineno) + 1))
            if span & touched:
                lines |= span
        spans[rel] = lines or touched
    return spans


def _without_annotations(source: str) -> str | None:
    """The module's syntax tree with every annotation blanked, or None if its annotations
    are evaluated (no ``from __future__ import annotations``) or it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if not any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    ):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(value="")
    return ast.dump(tree)


def annotations_only(tree: Path) -> bool:
    """Whether every difference between ``tree`` and this checkout lies in annotations of
    modules that never evaluate them (``from __future__ import annotations``): they are kept
    as strings nobody reads (the reference calls no ``get_type_hints``; a dataclass reads
    only whether a field's annotation names ClassVar or InitVar, which no mutation writes)."""
    changed = False
    for rel in TRACED:
        mine = (ROOT / rel).read_text(encoding="utf-8")
        theirs = (tree / rel).read_text(encoding="utf-8")
        if mine == theirs:
            continue
        changed = True
        blank = _without_annotations(mine)
        if blank is None or blank != _without_annotations(theirs):
            return False
    return changed


def reaching(cases: list[Case], coverage: CoverageMap, tree: Path) -> tuple[list[Case], str]:
    """The cases of ``cases`` that execute a statement the mutant in ``tree`` changed, and
    why (for the log)."""
    spans = changed_spans(tree)
    ids: set[str] = set()
    for rel, lines in spans.items():
        if lines & {int(ln) for ln in coverage["import"].get(rel, [])}:
            return cases, f"{rel} lines {min(lines)}-{max(lines)} run at import: every case"
        for line in lines:
            ids.update(coverage.get(rel, {}).get(str(line), []))
    where = ", ".join(f"{rel} lines {min(ln)}-{max(ln)}" for rel, ln in spans.items() if ln)
    return [c for c in cases if c.id in ids], f"{where or 'no change'}: {len(ids)} cases reach it"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--tree", type=Path, default=Path.cwd(), help="the mutated copy (default: .)")
    p.add_argument("--timeout", type=float, default=CASE_TIMEOUT, help="seconds per case")
    p.add_argument("--all", action="store_true", help="run every case, even after a kill")
    p.add_argument("-k", default="", metavar="TEXT", help="only cases whose id contains TEXT")
    p.add_argument("--json", type=Path, help="write {case id: [verdict, seconds]} here")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--map", type=Path, help="run only the cases reaching the mutant")
    how.add_argument("--trace", type=Path, help="write the coverage map of --tree here")
    args = p.parse_args(argv)
    tree = args.tree.resolve()
    if not (tree / "bytestreamrpc").is_dir():
        p.error(f"{tree} is not a copy of the repository (no bytestreamrpc/)")
    cases = select(args.k)
    if not cases:
        p.error(f"no case id contains {args.k!r}")
    start = time.monotonic()
    if args.trace is not None:
        with tempfile.TemporaryDirectory(prefix="mutation-trace-") as scratch:
            results = run(tree, cases, args.timeout, stop=False, trace=Path(scratch))
            args.trace.write_text(json.dumps(collect(Path(scratch))), encoding="utf-8")
    else:
        if args.map is not None:
            if annotations_only(tree):
                print("SURVIVED: the mutant changes only annotations, never evaluated", flush=True)
                return 0
            coverage: CoverageMap = json.loads(args.map.read_text(encoding="utf-8"))
            cases, why = reaching(cases, coverage, tree)
            print(why, flush=True)
            if not cases:
                print("SURVIVED: no case executes the changed statement", flush=True)
                return 0
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
