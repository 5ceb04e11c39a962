"""``zrepl-conformance fuzz``: differential fuzzing, coverage-guided campaigns, the target list.

``fuzz [--iut FILE | --server-cmd CMD] [--examples N | --time T] [--seed S]``
    Generated conversations against the implementation (default: our own reference as a
    subprocess) and against the reference in-process on the same fixture; the first
    disagreement, crash or hang is shrunk and saved as a transcript under ``--findings``
    with the command that replays it. Exit 0: no finding; 1: a finding; 2: could not run.
``fuzz list``
    The fuzz targets (``fuzz/targets/NAME.py``).
``fuzz campaign --target NAME|all [--workers N] [--time T] [--corpus DIR]``
    A coverage-guided campaign (atheris/libFuzzer; a pure-Hypothesis engine when atheris is
    missing) with live progress and a final summary. Exit 1 if anything was found.

Needs the ``fuzz`` extra (Hypothesis; atheris for coverage guidance).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from .cli_errors import UsageError

EXIT_FINDING = 1
EXIT_ERROR = 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "fuzz",
        help="fuzz an implementation against the reference; run fuzz campaigns",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument("--iut", metavar="FILE", help="implementation description (TOML)")
    who.add_argument("--server-cmd", metavar="CMD", help="server command (one connection on stdio)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--examples", type=int, metavar="N", help="conversations to try (default 60)"
    )
    budget.add_argument("--time", type=float, metavar="T", help="seconds to search instead")
    p.add_argument("--seed", type=int, metavar="S", help="random seed (default: random, printed)")
    p.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds an answer may take before it counts as a hang (default 2)",
    )
    p.add_argument(
        "--findings",
        metavar="DIR",
        default="fuzz-findings",
        help="where reproducers are written (default fuzz-findings)",
    )
    p.add_argument(
        "--fixture", metavar="FILE", help="fake ZFS fixture (default: fuzz/fixtures/fuzz.toml)"
    )
    p.add_argument("--profile", metavar="FILE", help="profile JSON (default: see docs/FUZZING.md)")
    p.add_argument("--max-steps", type=int, default=6, metavar="N", help="steps per conversation")
    p.add_argument(
        "--shrink-time",
        type=float,
        default=20.0,
        metavar="S",
        help="seconds Hypothesis may spend shrinking a finding (default 20)",
    )
    p.add_argument(
        "--no-confirm", action="store_true", help="do not replay the saved reproducer to confirm it"
    )
    p.set_defaults(run=run)
    fsub = p.add_subparsers(dest="fuzz_command", metavar="[list | campaign]")
    lp = fsub.add_parser("list", help="list the fuzz targets")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(run=run_list)
    cp = fsub.add_parser("campaign", help="run a coverage-guided campaign of one target")
    cp.add_argument("--target", required=True, help="target name, or 'all' (one after another)")
    cp.add_argument("--workers", type=int, default=1, help="processes (libFuzzer -fork=N)")
    cp.add_argument("--time", type=float, default=60.0, help="seconds per target (default 60)")
    cp.add_argument("--corpus", metavar="DIR", help="corpus directory (default fuzz-corpus/NAME)")
    cp.add_argument(
        "--findings", metavar="DIR", help="crash directory (default fuzz-findings/NAME)"
    )
    cp.add_argument("--engine", choices=("auto", "atheris", "hypothesis"), default="auto")
    db = cp.add_mutually_exclusive_group()
    db.add_argument("--database", metavar="DIR", help="Hypothesis example database directory")
    db.add_argument(
        "--redis", metavar="URL", help="Hypothesis Redis example database (redis://...)"
    )
    cp.add_argument("--keep-going", action="store_true", help="do not stop at the first crash")
    cp.add_argument("--runs", type=int, help="libFuzzer -runs=N (stop after N inputs)")
    cp.set_defaults(run=run_campaign)


def _need_hypothesis() -> None:
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise UsageError(
            "fuzzing needs Hypothesis: pip install 'zrepl-conformance[fuzz]'"
        ) from None


def run_list(args: argparse.Namespace) -> int:
    from fuzz.targets import TARGETS

    if args.json:
        rows = [
            {"name": t.name, "title": t.title, "script": str(t.script)} for t in TARGETS.values()
        ]
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(n) for n in TARGETS)
    for t in TARGETS.values():
        print(f"{t.name:<{width}}  {t.title}")
    return 0


def run_campaign(args: argparse.Namespace) -> int:
    _need_hypothesis()
    from fuzz.campaign import CampaignError, print_progress
    from fuzz.campaign import run_campaign as campaign
    from fuzz.database import DatabaseError, open_database
    from fuzz.targets import TARGETS

    names = list(TARGETS) if args.target == "all" else [args.target]
    if args.target != "all" and args.target not in TARGETS:
        raise UsageError(f"unknown target {args.target!r} (known: {', '.join(TARGETS)}, all)")
    database = args.redis or args.database
    try:
        open_database(database)  # fail now, not in every worker
    except DatabaseError as exc:
        raise UsageError(str(exc)) from None
    found = False
    for name in names:
        corpus = Path(args.corpus) / name if args.corpus and len(names) > 1 else args.corpus
        findings = Path(args.findings) / name if args.findings and len(names) > 1 else args.findings
        try:
            result = campaign(
                name, workers=args.workers, seconds=args.time,
                corpus=Path(corpus) if corpus else None,
                findings=Path(findings) if findings else None, database=database,
                engine=args.engine, keep_going=args.keep_going, runs=args.runs,
                report=print_progress(sys.stderr, name, args.engine),
            )  # fmt: skip
        except CampaignError as exc:
            raise UsageError(str(exc)) from None
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(result.summary())
        found = found or not result.ok
    return EXIT_FINDING if found else 0


def _spec(args: argparse.Namespace) -> tuple[object, str]:
    """The implementation and how the replay command names it."""
    from iut import SpecError, load_spec, reference_spec
    from iut.spec import spec_from_server_cmd

    try:
        if args.iut:
            return load_spec(args.iut), f"--iut {shlex.quote(args.iut)}"
        if args.server_cmd:
            return spec_from_server_cmd(
                args.server_cmd
            ), f"--server-cmd {shlex.quote(args.server_cmd)}"
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    return reference_spec(), ""


def run(args: argparse.Namespace) -> int:
    _need_hypothesis()
    if args.examples is not None and args.examples < 1:
        raise UsageError("--examples must be at least 1")
    if args.time is not None and args.time <= 0:
        raise UsageError("--time must be positive")
    if args.timeout <= 0 or args.shrink_time < 0 or args.max_steps < 1:
        raise UsageError("--timeout and --max-steps must be positive, --shrink-time not negative")
    from fakes.profile import ProfileError, load_profile
    from fuzz.differential import Setting, differential_fuzz, save_finding
    from iut import IUTError

    profile = None
    if args.profile:
        try:
            load_profile(args.profile)
        except ProfileError as exc:
            raise UsageError(str(exc)) from None
        profile = json.loads(Path(args.profile).read_text(encoding="utf-8"))
    fixture = str(Path(args.fixture).resolve()) if args.fixture else None
    setting = Setting.make(fixture, profile)
    spec, how = _spec(args)

    def say(line: str) -> None:
        print(f"fuzz: {line}", file=sys.stderr, flush=True)

    try:
        report = differential_fuzz(
            spec,  # type: ignore[arg-type]
            setting=setting, examples=args.examples, seconds=args.time, seed=args.seed,
            timeout=args.timeout, max_steps=args.max_steps, shrink_seconds=args.shrink_time,
            report=say,
        )  # fmt: skip
    except IUTError as exc:
        print(f"zrepl-conformance fuzz: cannot start the implementation: {exc}", file=sys.stderr)
        return EXIT_ERROR
    trial = report.finding
    tail = f"(seed {report.seed}, {report.trials} trials, {report.seconds:.1f} s)"
    if trial is None or trial.disagreement is None:
        print(f"no disagreement in {report.trials} conversations {tail}")
        return 0
    files = save_finding(trial, Path(args.findings), spec, setting)  # type: ignore[arg-type]
    print(f"FINDING: {trial.disagreement.headline()}")
    steps = len(trial.conversation.steps)
    print(f"  {tail}; shrunk with {report.shrink_trials} trials to {steps} step(s):")
    for line in trial.conversation.describe():
        print(f"    {line}")
    print(f"  reproducer: {files[0]}")
    print(f"  what the implementation did: {files[1]}")
    cmd = f"zrepl-conformance replay {shlex.quote(str(files[0]))} {how} --level semantic".replace(
        "  ", " "
    )
    print(f"  reproduce: {cmd}")
    print(f"  search again: zrepl-conformance fuzz {how} --seed {report.seed}".rstrip())
    if not args.no_confirm:
        print(f"  replay: {_confirm(files[0], spec, args.timeout)}")
    return EXIT_FINDING


def _confirm(path: Path, spec: object, timeout: float) -> str:
    """Replay the saved reproducer against the implementation (it must differ again)."""
    from iut import FixtureCache, IUTError
    from recordings.compare import Level
    from recordings.format import read_transcript
    from recordings.replay import replay_server

    transcript = read_transcript(path)
    with FixtureCache() as cache:
        try:
            result = replay_server(
                transcript, spec, cache, level=Level.SEMANTIC,  # type: ignore[arg-type]
                timeout=max(timeout, 2.0),
            )  # fmt: skip
        except IUTError as exc:
            return f"could not replay: {exc}"
    if result.outcome == "mismatch" and result.mismatch is not None:
        return "confirmed, " + result.mismatch.headline(str(path))
    return f"NOT confirmed (replay outcome: {result.outcome})"
