"""The mutants' command line: run the reference with one defect injected, or list them.

Usage (from the repository root, or with it on ``PYTHONPATH``)::

    python -m tests.mutants NAME serve [--identity ID] [--profile FILE] [--timeout S]
    python -m tests.mutants NAME pull  [--profile FILE] [--policy P] [--timeout S] -- CONNECT...
    python -m tests.mutants NAME push  [--profile FILE] [--policy P] [--timeout S] -- CONNECT...
    python -m tests.mutants list [--json | --markdown]
    python -m tests.mutants specs DIR [--timeout S]

``NAME`` is a registered mutant or ``reference`` (no defect). ``serve``, ``pull`` and
``push`` run exactly what ``zrepl-conformance serve --stdio`` / ``pull`` / ``push`` run;
``pull``/``push`` take their mapping from the profile's ``pull_mapping`` / ``push_filter``
(the profile defaults to ``$ZREPL_CONFORMANCE_PROFILE``), so a TOML description needs no
JSON quoting. The defect is injected only when the mutant's role matches: a server mutant's
``pull`` is the reference client and a client mutant's ``serve`` is the reference server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from zrepl_conformance import cli as reference_cli

from .registry import EXPECT_MEANING, MUTANTS, Mutant, ordered
from .specs import write_specs

REFERENCE = "reference"
PROFILE_ENV = "ZREPL_CONFORMANCE_PROFILE"
_JOB_MAPPING = {"pull": ("pull_mapping", "--mapping"), "push": ("push_filter", "--filter")}


def markdown_table() -> str:
    """The README table of every mutant (name, role, expectation, family, sections, defect)."""
    rows = [
        "| mutant | role | expect | family | violates | defect |",
        "|---|---|---|---|---|---|",
    ]
    for m in ordered():
        sections = " ".join(m.sections)
        rows.append(
            f"| `{m.name}` | {m.role} | {m.expect} | {m.family} | {sections} | {m.description} |"
        )
    return "\n".join(rows)


def summary_line() -> str:
    """The README's count line, e.g. ``Counts: 31 FAIL (21 server-role, 10 client-role), ...``."""

    def count(expect: str, role: str | None = None) -> int:
        return sum(1 for m in MUTANTS.values() if m.expect == expect and role in (None, m.role))

    return (
        f"Counts: {count('FAIL')} FAIL ({count('FAIL', 'server')} server-role, "
        f"{count('FAIL', 'client')} client-role), {count('NON-STRICT')} NON-STRICT, "
        f"{count('NO-FAIL')} NO-FAIL."
    )


def _list(fmt: str) -> int:
    if fmt == "json":
        out = [
            {
                "name": m.name,
                "role": m.role,
                "expect": m.expect,
                "family": m.family,
                "sections": list(m.sections),
                "description": m.description,
            }
            for m in ordered()
        ]
        print(json.dumps(out, indent=2))
    elif fmt == "markdown":
        print(markdown_table())
        print()
        print(summary_line())
    else:
        for m in ordered():
            print(f"{m.name:32} {m.role:6} {m.expect:10} {m.family:11} {m.description}")
    return 0


def _role_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog)
    sub = p.add_subparsers(dest="role", required=True, metavar="serve|pull|push")
    serve = sub.add_parser("serve", help="serve one connection on stdin/stdout")
    serve.add_argument("--identity")
    serve.add_argument("--profile", metavar="FILE")
    serve.add_argument("--timeout", type=float)
    for job in ("pull", "push"):
        j = sub.add_parser(job, help=f"run one {job} job over CONNECT")
        j.add_argument("--profile", metavar="FILE")
        j.add_argument("--policy")
        j.add_argument("--timeout", type=float)
        j.add_argument("connect", nargs=argparse.REMAINDER, metavar="-- CONNECT...")
    return p


def _reference_argv(args: argparse.Namespace) -> list[str] | str:
    """The ``zrepl-conformance`` arguments for this role, or an error text."""
    profile = args.profile or os.environ.get(PROFILE_ENV)
    timeout = [] if args.timeout is None else ["--timeout", str(args.timeout)]
    if args.role == "serve":
        argv = ["serve", "--stdio", *timeout]
        if args.identity is not None:
            argv += ["--identity", args.identity]
        return argv + (["--profile", profile] if profile else [])
    key, flag = _JOB_MAPPING[args.role]
    if not profile:
        return f"{args.role} needs --profile FILE or ${PROFILE_ENV}"
    try:
        with open(profile, encoding="utf-8") as f:
            mapping = json.load(f).get(key)
    except (OSError, ValueError, AttributeError) as exc:
        return f"cannot read the profile {profile}: {exc}"
    if not isinstance(mapping, dict):
        return f"the profile {profile} has no {key} mapping"
    policy = [] if args.policy is None else ["--policy", args.policy]
    connect = args.connect[1:] if args.connect[:1] == ["--"] else args.connect
    return [args.role, flag, json.dumps(mapping), *policy, *timeout, "--", *connect]


def run_mutant(name: str, argv: Sequence[str]) -> int:
    """Inject mutant ``name`` (if its role is the one asked for) and run the reference."""
    chosen: Mutant | None = None
    if name != REFERENCE:
        chosen = MUTANTS.get(name)
        if chosen is None:
            print(f"tests.mutants: unknown mutant {name!r} (see 'list')", file=sys.stderr)
            return 2
    args = _role_parser(f"python -m tests.mutants {name}").parse_args(list(argv))
    reference_argv = _reference_argv(args)
    if isinstance(reference_argv, str):
        print(f"tests.mutants {name}: {reference_argv}", file=sys.stderr)
        return 2
    if chosen is not None and (chosen.role == "server") == (args.role == "serve"):
        chosen.inject()
    return reference_cli.main(reference_argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        print("Expectations:")
        for expect, meaning in EXPECT_MEANING.items():
            print(f"  {expect}: {meaning}")
        return 0 if args else 2
    if args[0] == "list":
        fmt = args[1].lstrip("-") if len(args) > 1 else "text"
        if fmt not in ("text", "json", "markdown"):
            print("usage: python -m tests.mutants list [--json | --markdown]", file=sys.stderr)
            return 2
        return _list(fmt)
    if args[0] == "specs":
        p = argparse.ArgumentParser(prog="python -m tests.mutants specs")
        p.add_argument("directory")
        p.add_argument("--timeout", type=float)
        ns = p.parse_args(args[1:])
        for path in write_specs(ns.directory, timeout=ns.timeout).values():
            print(path)
        return 0
    return run_mutant(args[0], args[1:])
