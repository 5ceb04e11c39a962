"""``zrepl-conformance fuzz``: differential fuzzing, coverage-guided campaigns, the target list.

What each form does and exits with is :data:`HELP`, the text ``fuzz --help`` prints (plain
text, no markup). On a terminal, progress lines become one redrawn status line
(:class:`_StatusLine`); a campaign says that atheris is missing before it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO, cast

from .cli_errors import UsageError

EXIT_FINDING = 1
EXIT_ERROR = 2
ROLES = ("all", "server", "client", "pull", "push")

HELP = """\
Differential fuzzing of every role an implementation has (default: our own reference run
as subprocesses), and coverage-guided campaigns of the fuzz targets.

  fuzz [--iut FILE | --server-cmd CMD | --client-cmd CMD] [--role R] [--examples N | --time T]
      Server role: generated conversations against the implementation's server and our
      reference on the same fixture. Client role: generated server behaviours (a scripted
      server) against the implementation's pull/push job and our reference job; the
      requests, exit status and resulting datasets are compared. The first disagreement,
      crash or hang of each role is shrunk and saved as a transcript under --findings with
      the command that replays it. Exit 0: no finding; 1: a finding; 2: could not run.
  fuzz list
      The fuzz targets (fuzz/targets/NAME.py).
  fuzz campaign --target NAME|all [--workers N] [--parallel MODE] [--time T] [--corpus DIR]
      A coverage-guided campaign (atheris/libFuzzer; a pure-Hypothesis engine when atheris
      is missing, which is said before it starts) with live progress and a final summary.
      Exit 1 if anything was found.

Progress goes to stderr: one status line redrawn in place on a terminal, plain lines
otherwise. Needs the fuzz extra (Hypothesis; atheris for coverage guidance).
"""
"""``fuzz --help`` (plain text: argparse prints it as it is)."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "fuzz",
        help="fuzz an implementation against the reference; run fuzz campaigns",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_differential_arguments(p)
    p.set_defaults(run=run)
    fsub = p.add_subparsers(dest="fuzz_command", metavar="[list | seeds | campaign]")
    _add_list_parser(fsub)
    _add_seeds_parser(fsub)
    _add_campaign_parser(fsub)


def _add_differential_arguments(p: argparse.ArgumentParser) -> None:
    """``fuzz`` itself: differential fuzzing of an implementation's roles."""
    who = p.add_mutually_exclusive_group()
    who.add_argument("--iut", metavar="FILE", help="implementation description (TOML)")
    who.add_argument("--server-cmd", metavar="CMD", help="server command (one connection on stdio)")
    who.add_argument(
        "--client-cmd",
        metavar="CMD",
        help="client job command (reaching the server through {connect}, else its stdio); "
        "fuzzed as a pull job, or a push job with --role push",
    )
    p.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="what to fuzz: all (every role the implementation has, the default), server, "
        "client (its pull and push jobs), pull, push",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--examples", type=int, metavar="N", help="trials per role (default 60)")
    budget.add_argument(
        "--time", type=float, metavar="T", help="seconds to search instead (split between roles)"
    )
    p.add_argument("--seed", type=int, metavar="S", help="random seed (default: random, printed)")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="seconds an answer (or a client's next request) may take before it counts as a "
        "hang (default 2 for a server, 5 for a client, which may run zfs in between)",
    )
    p.add_argument(
        "--findings",
        metavar="DIR",
        default="fuzz-findings",
        help="where reproducers are written (default fuzz-findings)",
    )
    p.add_argument(
        "--fixture",
        metavar="FILE",
        help="fake ZFS fixture of every role (default: fuzz/fixtures/fuzz.toml for the server "
        "role, fuzz/fixtures/fuzz-client.toml for the client role)",
    )
    p.add_argument(
        "--profile", metavar="FILE", help="profile JSON of every role (default: docs/FUZZING.md)"
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=6,
        metavar="N",
        help="steps per conversation; deviations per server script (default 6)",
    )
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
    p.add_argument(
        "--redis",
        metavar="URL",
        dest="differential_redis",
        help="share disagreements through this Hypothesis Redis example database (redis://...): "
        "each role replays what searches with the same fixture and profile found, here or on "
        "other machines, first",
    )


def _add_list_parser(fsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lp = fsub.add_parser(
        "list", help="list the fuzz targets", description="The fuzz targets (fuzz/targets/NAME.py)."
    )
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(run=run_list)


def _add_seeds_parser(fsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = fsub.add_parser("seeds", help="write every target's seed corpus zip and dictionary")
    sp.add_argument("directory", metavar="DIR", help="where NAME_seed_corpus.zip/NAME.dict go")
    sp.add_argument("--target", default="all", help="target name, or 'all' (the default)")
    sp.set_defaults(run=run_seeds)


def _add_campaign_parser(fsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fuzz campaign``: coverage-guided campaigns of the fuzz targets."""
    cp = fsub.add_parser(
        "campaign",
        help="run a coverage-guided campaign of one target",
        description="A coverage-guided campaign of one fuzz target (or all, one after "
        "another): atheris/libFuzzer, or a pure-Hypothesis engine when atheris is missing "
        "(said before it starts). Live progress on stderr, a summary on stdout; exit 1 if "
        "anything was found.",
    )
    cp.add_argument("--target", required=True, help="target name, or 'all' (one after another)")
    cp.add_argument(
        "--workers",
        type=int,
        default=1,
        help="parallel libFuzzer workers (default 1); see --parallel for how they run",
    )
    cp.add_argument(
        "--parallel",
        choices=("processes", "fork"),
        default=None,
        help="processes: N independent libFuzzer processes sharing the corpus (the default); "
        "fork: libFuzzer's -fork=N, one fresh process per job (for long campaigns); "
        "default from ZREPL_FUZZ_PARALLEL, else processes",
    )
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


def run_seeds(args: argparse.Namespace) -> int:
    _need_hypothesis()
    from fuzz.seeds import write_seed_files
    from fuzz.targets import TARGETS

    if args.target != "all" and args.target not in TARGETS:
        raise UsageError(f"unknown target {args.target!r} (known: {', '.join(TARGETS)}, all)")
    names = list(TARGETS) if args.target == "all" else [args.target]
    try:
        written = write_seed_files(Path(args.directory), names)
    except OSError as exc:
        raise UsageError(f"cannot write seeds into {args.directory}: {exc.strerror}") from None
    for path in written:
        print(path)
    return 0


def run_campaign(args: argparse.Namespace) -> int:
    _need_hypothesis()
    from fuzz.campaign import CampaignError, choose_engine, print_progress
    from fuzz.campaign import run_campaign as campaign
    from fuzz.database import DatabaseError, open_database
    from fuzz.targets import TARGETS

    names = list(TARGETS) if args.target == "all" else [args.target]
    if args.target != "all" and args.target not in TARGETS:
        raise UsageError(f"unknown target {args.target!r} (known: {', '.join(TARGETS)}, all)")
    try:
        _engine, note = choose_engine(args.engine)
    except CampaignError as exc:
        raise UsageError(str(exc)) from None
    if note:  # before any work, not only in the summary at the end
        print(f"zrepl-conformance fuzz campaign: note: {note}", file=sys.stderr, flush=True)
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
                parallel=args.parallel, report=print_progress(sys.stderr, name, args.engine),
            )  # fmt: skip
        except CampaignError as exc:
            raise UsageError(str(exc)) from None
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(result.summary())
        found = found or not result.ok
    return EXIT_FINDING if found else 0


def run(args: argparse.Namespace) -> int:
    _need_hypothesis()
    if args.examples is not None and args.examples < 1:
        raise UsageError("--examples must be at least 1")
    if args.time is not None and args.time <= 0:
        raise UsageError("--time must be positive")
    if (
        (args.timeout is not None and args.timeout <= 0)
        or args.shrink_time < 0
        or args.max_steps < 1
    ):
        raise UsageError("--timeout and --max-steps must be positive, --shrink-time not negative")
    from . import fuzz_roles

    subject = fuzz_roles.resolve(args)
    if args.fixture and not Path(args.fixture).is_file():
        raise UsageError(f"--fixture {args.fixture}: no such file")
    profile = fuzz_roles.read_profile(args.profile)
    fixture = str(Path(args.fixture).resolve()) if args.fixture else None
    roles = subject.roles
    seconds = args.time / len(roles) if args.time else None
    code = 0
    with _hypothesis_scratch(), _status_line():
        for role in roles:
            if len(roles) > 1:
                print(f"== {role.title}", flush=True)
            code = max(code, fuzz_roles.fuzz_role(role, subject, args, fixture, profile, seconds))
    return code


@contextlib.contextmanager
def _hypothesis_scratch() -> Iterator[None]:
    """Hypothesis's own files (its ``.hypothesis/constants`` cache) go to a temporary
    directory, removed afterwards, not to the working directory: the search keeps no example
    database (a finding is saved under --findings), so none of it is worth keeping. Left
    alone when HYPOTHESIS_STORAGE_DIRECTORY says where they go."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    with tempfile.TemporaryDirectory(prefix="zrepl-fuzz-") as scratch:
        set_hypothesis_home_dir(scratch)
        try:
            yield
        finally:
            set_hypothesis_home_dir(None)


class _StatusLine:
    """Stands in for stderr on a terminal: each line written redraws one status line.

    A line is drawn over the previous one (carriage return, padded with spaces, no escape
    codes); one too wide for the terminal is printed whole on its own line instead, so an
    error is never cut. The line on screen is ended (kept) before anything goes to stdout
    and at the end.
    """

    def __init__(self, err: TextIO) -> None:
        self._err = err
        self._partial = ""
        self._shown = 0  # width of the status line on screen, 0: none

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        width = self._width()
        for line in lines:
            if len(line) < width:
                self._err.write("\r" + line.ljust(self._shown))
                self._shown = max(len(line), 1)
            else:
                self.end()
                self._err.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._err.flush()

    def _width(self) -> int:
        """Columns of the terminal stderr is on (else $COLUMNS, else 80)."""
        try:
            columns = os.get_terminal_size(self._err.fileno()).columns
        except (OSError, ValueError):
            columns = 0
        return columns or shutil.get_terminal_size().columns

    def end(self) -> None:
        """Keep the line on screen: what follows starts on a line of its own."""
        if self._partial:
            self.write("\n")  # a last line without its newline is drawn like any other
        if self._shown:
            self._err.write("\n")
            self._shown = 0
        self._err.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._err, name)


class _EndsStatus:
    """Stands in for stdout while a status line is drawn: ends it before writing."""

    def __init__(self, out: TextIO, status: _StatusLine) -> None:
        self._out = out
        self._status = status

    def write(self, text: str) -> int:
        self._status.end()
        return self._out.write(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self._out, name)


@contextlib.contextmanager
def _status_line() -> Iterator[None]:
    """On a terminal (stderr), progress lines become one redrawn status line."""
    if not sys.stderr.isatty():
        yield
        return
    status = _StatusLine(sys.stderr)
    out = _EndsStatus(sys.stdout, status)
    try:
        with (
            contextlib.redirect_stderr(cast(TextIO, status)),
            contextlib.redirect_stdout(cast(TextIO, out)),
        ):
            yield
    finally:
        status.end()
