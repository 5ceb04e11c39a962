"""``zrepl-conformance golden check|update|list``: the golden transcript corpus.

``check`` replays every ``recordings/golden/*.jsonl`` to a server (our reference by default,
or ``--iut FILE`` / ``--server-cmd CMD``, started exactly as the conformance contract says)
and fails on any difference (``--level bytes`` by default; ``exact`` also compares the chunk
boundaries of send streams), and on golden files without a scenario or scenarios without a
golden file. A difference that is the original's documented behaviour (docs/PROTOCOL.md
§deviations) is reported INFO with its section and passes; ``--strict`` fails the unsafe
ones. ``update`` re-records against the reference:
``--mode new`` only adds missing files, ``--mode all`` rewrites every one; ``--prune``
deletes orphan files. A description's ``exclude`` table skips scenario ``NAME`` under the id
``golden.NAME`` (reported EXCLUDED with its reason).
"""

from __future__ import annotations

import argparse
import sys

from recordings.compare import BYTE_LEVELS, ComparisonLevel

from .cli_errors import UsageError, require_startable
from .cmd_record import add_digest_option
from .cmd_replay import EXIT_UNSTABLE, add_repeat_options, keep_dir, repeat_count


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "golden",
        help="check or re-record the golden transcript corpus",
        description="The golden transcript corpus (docs/RECORDINGS.md).",
    )
    actions = p.add_subparsers(dest="golden_action", required=True, metavar="ACTION")
    c = actions.add_parser("check", help="replay the corpus against a server and compare")
    who = c.add_mutually_exclusive_group()
    who.add_argument("--iut", metavar="FILE", help="implementation description (TOML)")
    who.add_argument("--server-cmd", metavar="CMD", help="server command (placeholders allowed)")
    c.add_argument(
        "--level",
        choices=[lv.value for lv in ComparisonLevel],
        default="bytes",
        help="default bytes",
    )
    c.add_argument(
        "--strict", action="store_true", help="an unsafe §deviations behaviour is a failure"
    )
    c.add_argument("--ignore", action="append", default=[], metavar="FIELD")
    c.add_argument("--timeout", type=float, help="seconds per expected record")
    c.add_argument("-n", "--workers", type=int, help="parallel replays (default: by CPU count)")
    c.add_argument("-v", "--verbose", action="store_true", help="a line per scenario")
    add_repeat_options(c)
    c.add_argument("names", nargs="*", metavar="SCENARIO")
    u = actions.add_parser("update", help="re-record against the reference")
    u.add_argument("--mode", choices=("new", "all"), default="new", help="default new")
    u.add_argument("--prune", action="store_true", help="delete golden files of no scenario")
    add_digest_option(u)
    u.add_argument("-n", "--workers", type=int)
    u.add_argument("names", nargs="*", metavar="SCENARIO")
    ls = actions.add_parser("list", help="list the scenarios")
    ls.add_argument("--verbose", "-v", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.golden_action == "list":
        from recordings.golden import golden_path
        from recordings.scenarios import SCENARIOS

        for s in SCENARIOS:
            mark = "" if golden_path(s.name).exists() else "  (no golden file)"
            print(f"{s.name:32} §{s.section:28} {s.title}{mark}")
        return 0
    if args.golden_action == "update":
        return _update(args)
    return _check(args)


def _update(args: argparse.Namespace) -> int:
    from recordings.digest import Digest
    from recordings.golden import corpus_problems, update

    try:
        written, failed, pruned = update(
            args.mode,
            names=args.names or None,
            prune=args.prune,
            workers=args.workers,
            digest=Digest(args.digest),
        )
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    for name in written:
        print(f"recorded {name}")
    for p in pruned:
        print(f"pruned {p}")
    for why in failed:
        print(f"FAILED {why}", file=sys.stderr)
    orphans, missing = corpus_problems()
    for p in orphans:
        print(f"orphan golden file (no scenario; --prune deletes it): {p}", file=sys.stderr)
    print(f"{len(written)} recorded, {len(failed)} failed, {len(pruned)} pruned")
    return 1 if failed or orphans or missing else 0


def _known_scenarios(names: list[str]) -> None:
    """A usage error naming the closest scenarios for a name that is no scenario."""
    import difflib

    from recordings.scenarios import SCENARIOS

    known = [s.name for s in SCENARIOS]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" (did you mean: {', '.join(close)}?)" if close else " (golden list names them)"
            raise UsageError(f"no such scenario {name!r}{hint}")


def _check(args: argparse.Namespace) -> int:
    from iut import SpecError, load_spec, reference_spec, spec_from_server_cmd
    from recordings.golden import GoldenResult, check

    level = ComparisonLevel(args.level)
    if args.ignore and level in BYTE_LEVELS:
        raise UsageError("--ignore applies to decoded messages; use --level messages or semantic")
    times = repeat_count(args)
    _known_scenarios(args.names or [])
    try:
        if args.iut:
            spec = load_spec(args.iut)
        elif args.server_cmd:
            spec = spec_from_server_cmd(args.server_cmd)
        else:
            spec = reference_spec()
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    require_startable(spec)

    def progress(r: GoldenResult) -> None:
        if args.verbose or r.outcome != "pass":
            print(r.line(), flush=True)

    report = check(
        spec,
        names=args.names or None,
        level=level,
        ignore=args.ignore,
        timeout=args.timeout,
        strict=args.strict,
        workers=args.workers,
        progress=progress,
        times=times,
        keep=keep_dir(args) if times > 1 else None,
    )
    for p in report.orphans:
        print(f"ERROR orphan golden file (no scenario produces it): {p}")
    for name in report.missing:
        print(f"ERROR scenario without a golden file: {name} (run: golden update)")
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    strict = ", strict" if args.strict else ""
    print(
        f"golden check against {spec.name} (level {level.value}{strict}): "
        f"{summary or 'nothing run'} in {report.seconds:.1f} s"
    )
    runs = [run for r in report.results if r.runs is not None for run in r.runs.runs]
    met = sorted({run.deviation.section for run in runs if run.deviation is not None})
    if met:
        print("§deviations met: " + ", ".join(met))
    if report.ok:
        return 0
    return EXIT_UNSTABLE if report.only_unstable else 1
