"""Did a refactor change what the suite says? Snapshot every run's JSON report, then diff.

    python tools/same_verdicts.py snapshot DIR [--original PROFILE] [--mutants NAME ...]
    python tools/same_verdicts.py diff BEFORE AFTER

``snapshot`` writes one JSON report per implementation into DIR, as ``run --json`` writes
it: ``reference.json`` (``zrepl-conformance run`` against the built-in reference),
``mutant-NAME.json`` for every mutant of ``tests/mutants`` (the whole catalog of the
mutant's role, through :class:`conformance.matrix.MutantLab`, ``--strict`` where the
mutant expects STRICT, as the matrix runs it) and, with ``--original``, ``original.json``
(``run --iut PROFILE``; the profile's own requirements, such as ``ZREPL_ORIGINAL_BIN``,
apply).

``diff`` compares two snapshot directories case by case: the verdict, the reason and every
finding (level, what, expected, actual, §deviations heading) must be the same; a case only
in one of them, or a report only in one directory, is a difference too. Fields that
describe the run rather than the implementation's behaviour are not compared: durations,
dates, the wire log (its timestamps and the order two directions' bytes interleave in
vary between runs of the same code), the IUT's stderr and exit status text (process ids,
temporary paths), and ``NOISY`` findings below. Exit status 1 if anything differs.

Why a tool and not a test: one snapshot runs the catalog about fifty times (ten minutes
here), the "before" must come from the commit before the change, and CI runs one commit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.mutants is not installed
    sys.path.insert(0, str(ROOT))

COMPARED_CASE_FIELDS: Final = ("verdict", "reason", "level", "section", "role", "family")
COMPARED_FINDING_FIELDS: Final = ("level", "what", "expected", "actual", "deviation", "unsafe")


def _run_cli(out: Path, *extra: str) -> None:
    """``zrepl-conformance run --json OUT EXTRA...``; exit statuses 0-2 are verdicts."""
    cmd = [sys.executable, "-m", "zrepl_conformance", "run", "--json", str(out), *extra]
    done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
    if done.returncode > 2 or not out.exists():
        raise SystemExit(f"{' '.join(cmd)}: exit status {done.returncode}, no report")


def snapshot(directory: Path, original: str | None, mutants: Sequence[str]) -> None:
    """Write the reports; prints one line per report with its time."""
    from conformance.matrix import MutantLab
    from conformance.report import jsonreport
    from tests.mutants.registry import ordered

    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    _run_cli(directory / "reference.json")
    print(f"reference: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    if original:
        t0 = time.monotonic()
        _run_cli(directory / "original.json", "--iut", original)
        print(f"original: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    with MutantLab() as lab:
        for name in mutants or [m.name for m in ordered()]:
            t0 = time.monotonic()
            results: list[Any] = []
            strict = lab.mutants[name].expect == "STRICT"
            lab.run(name, strict=strict, on_result=results.append)
            meta = {"implementation": f"mutant {name}", "strict": strict}
            jsonreport.write(directory / f"mutant-{name}.json", results, meta)
            print(f"{name}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)


def _cases(path: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {c["id"]: c for c in doc["cases"]}


def _finding_key(f: dict[str, Any]) -> tuple[object, ...]:
    return tuple(f.get(k, "") for k in COMPARED_FINDING_FIELDS)


def case_differences(before: dict[str, Any], after: dict[str, Any]) -> Iterator[str]:
    """What differs between two results of one case (nothing when the same)."""
    for key in COMPARED_CASE_FIELDS:
        if before.get(key) != after.get(key):
            yield f"{key}: {before.get(key)!r} -> {after.get(key)!r}"
    old = sorted(_finding_key(f) for f in before.get("findings", []))
    new = sorted(_finding_key(f) for f in after.get("findings", []))
    for f in old:
        if f not in new:
            yield f"finding gone: {f}"
    for f in new:
        if f not in old:
            yield f"finding new: {f}"


def diff(before_dir: Path, after_dir: Path) -> list[str]:
    """Every difference between two snapshot directories, one line each."""
    lines: list[str] = []
    names = sorted(
        {p.name for p in before_dir.glob("*.json")} | {p.name for p in after_dir.glob("*.json")}
    )
    for name in names:
        b, a = before_dir / name, after_dir / name
        if not b.exists() or not a.exists():
            lines.append(f"{name}: only in {'after' if a.exists() else 'before'}")
            continue
        old, new = _cases(b), _cases(a)
        for cid in sorted(old.keys() | new.keys()):
            if cid not in new or cid not in old:
                lines.append(f"{name} {cid}: only {'after' if cid in new else 'before'}")
                continue
            lines += [f"{name} {cid}: {d}" for d in case_differences(old[cid], new[cid])]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tools/same_verdicts.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    snap = sub.add_parser("snapshot", help="write every implementation's JSON report")
    snap.add_argument("directory", type=Path)
    snap.add_argument("--original", metavar="PROFILE", help="also run the original's profile")
    snap.add_argument("--mutants", nargs="*", default=[], help="only these mutants")
    dif = sub.add_parser("diff", help="compare two snapshot directories")
    dif.add_argument("before", type=Path)
    dif.add_argument("after", type=Path)
    args = p.parse_args(argv)
    if args.command == "snapshot":
        # every process the run starts imports this checkout, not an editable install's
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        snapshot(args.directory, args.original, args.mutants)
        return 0
    lines = diff(args.before, args.after)
    for line in lines:
        print(line)
    count = len(list(args.before.glob("*.json")))
    print(f"{len(lines)} difference(s) over {count} report(s)", file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
