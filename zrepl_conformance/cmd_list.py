"""``zrepl-conformance list``: the conformance catalog (id, level, role, section, title)."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="print the conformance catalog")
    p.add_argument("--json", action="store_true", help="one JSON array, for tools")
    p.add_argument("-k", metavar="TEXT", help="only cases whose id or section contains TEXT")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from conformance.catalog import all_cases

    cases = [c for c in all_cases() if not args.k or args.k in c.id or args.k in c.section]
    if args.json:
        json.dump([c.describe() for c in cases], sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    wid = max((len(c.id) for c in cases), default=2)
    wsec = max((len(c.section) for c in cases), default=7)
    print(f"{'id':<{wid}}  level   role    {'section':<{wsec}}  title")
    for c in cases:
        print(f"{c.id:<{wid}}  {c.level!s:<6}  {c.role!s:<6}  {c.section:<{wsec}}  {c.title}")
    print(f"{len(cases)} cases")
    return 0
