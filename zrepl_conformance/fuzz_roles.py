"""``zrepl-conformance fuzz`` (differential): which roles to fuzz, running each, reporting.

An implementation is fuzzed in every role it has (``--role all``, the default): as a server
if it has a ``server`` command, as a client through each of its ``pull`` / ``push`` commands
(one client-role search covering both jobs). ``--server-cmd`` has only the server role,
``--client-cmd`` only a client job (pull, or push with ``--role push``). Each role gets the
whole ``--examples`` budget; ``--time`` is split evenly between the roles. Every role's
finding is shrunk, saved, printed with the command that replays it, and (unless
``--no-confirm``) replayed once to confirm it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from bytestreamrpc.connection import Role

from .cli_errors import CANNOT_START_EXIT, UsageError, require_startable

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase

    from fuzz.differential.client_runner import ClientTrial
    from fuzz.differential.runner import Trial
    from fuzz.differential.search import FuzzReport
    from iut import IUTSpec

__all__ = ["FuzzSubject", "FuzzedRole", "fuzz_role", "read_profile", "resolve", "shared_database"]

T = TypeVar("T")

EXIT_FINDING = 1
SERVER_TIMEOUT = 2.0
"""Default seconds per answer of a server (the reference answers in microseconds)."""
CLIENT_TIMEOUT = 5.0
"""Default seconds per request of a client: between two it may run ``zfs`` commands, and a
job process's teardown after the connection ended counts against it too."""
Job = Literal["pull", "push"]
JOBS: tuple[Job, Job] = ("pull", "push")


@dataclass(frozen=True)
class FuzzedRole:
    """One search: the server role, or the client role with these jobs.

    Not just a :class:`~bytestreamrpc.connection.Role` (the ``side``): a client-role search
    also says which jobs (``pull``, ``push``) it drives.
    """

    side: Role
    jobs: tuple[Job, ...] = ()

    @property
    def title(self) -> str:
        if self.side is Role.SERVER:
            return "server role"
        return f"client role ({', '.join(self.jobs)})"


@dataclass(frozen=True)
class FuzzSubject:
    """The implementation being fuzzed, how replay names it, and the roles to fuzz.

    Not a fuzz *target* (:mod:`fuzz.targets`: a harness atheris drives): this is what
    ``--iut`` / ``--server-cmd`` / ``--client-cmd`` / ``--role`` select.
    """

    spec: IUTSpec
    how: str
    """``--iut FILE`` / ``--server-cmd CMD`` / ``--client-cmd CMD`` (empty: the reference)."""
    roles: tuple[FuzzedRole, ...]
    option: str


def resolve(args: argparse.Namespace) -> FuzzSubject:
    """The implementation and its roles from ``--iut/--server-cmd/--client-cmd`` and ``--role``."""
    from iut import IUTSpec, SpecError, load_spec, reference_spec
    from iut.spec import parse_command, spec_from_server_cmd

    role: str = args.role
    try:
        if args.client_cmd is not None:
            if role == "server":
                raise UsageError("--client-cmd has no server role (use --server-cmd or --iut)")
            argv = parse_command(args.client_cmd, "--client-cmd")
            job: Job = "push" if role == "push" else "pull"
            connect = any("{connect}" in a for a in argv)
            command = argv if connect else None  # without {connect}: its stdio
            spec = IUTSpec(
                server=argv, name=Path(argv[0]).name, origin="--client-cmd",
                pull=command if job == "pull" else None, push=command if job == "push" else None,
            )  # fmt: skip
            how = f"--client-cmd {shlex.quote(args.client_cmd)}"
            require_startable(spec)
            return FuzzSubject(spec, how, (FuzzedRole(Role.CLIENT, (job,)),), "--client-cmd")
        if args.iut is not None:
            spec, how, option = load_spec(args.iut), f"--iut {shlex.quote(args.iut)}", "--iut"
        elif args.server_cmd is not None:
            spec = spec_from_server_cmd(args.server_cmd)
            how, option = f"--server-cmd {shlex.quote(args.server_cmd)}", "--server-cmd"
        else:
            spec, how, option = reference_spec(), "", "the reference"
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    jobs: tuple[Job, ...] = tuple(j for j in JOBS if getattr(spec, j) is not None)
    only: dict[str, tuple[Job, ...]] = {"pull": ("pull",), "push": ("push",)}
    wanted = only.get(role, jobs)
    missing = [j for j in wanted if j not in jobs]
    if missing:
        raise UsageError(f"{option} has no {missing[0]} command to fuzz as a client")
    if role == "client" and not jobs:
        raise UsageError(f"{option} has no pull or push command to fuzz as a client")
    roles: list[FuzzedRole] = []
    if role in ("all", "server"):
        roles.append(FuzzedRole(Role.SERVER))
    if role != "server" and wanted:
        roles.append(FuzzedRole(Role.CLIENT, wanted))
    require_startable(spec)
    return FuzzSubject(spec, how, tuple(roles), option)


def read_profile(path: str | None) -> Mapping[str, object] | None:
    """``--profile FILE`` as a JSON object (checked like every profile the contract reads)."""
    if not path:
        return None
    from fakes.profile import ProfileError, load_profile

    try:
        load_profile(path)
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    data: Mapping[str, object] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def _say(prefix: str) -> Callable[[str], None]:
    def say(line: str) -> None:
        print(f"fuzz: {prefix}{line}", file=sys.stderr, flush=True)

    return say


def fuzz_role(
    role: FuzzedRole,
    subject: FuzzSubject,
    args: argparse.Namespace,
    fixture: str | None,
    profile: Mapping[str, object] | None,
    seconds: float | None,
) -> int:
    """Search one role, print the result, save and confirm a finding; the exit code."""
    from iut import IUTError

    prefix = f"{role.side}: " if len(subject.roles) > 1 else ""
    try:
        if role.side is Role.SERVER:
            return _server(subject, args, fixture, profile, seconds, prefix)
        return _client(role, subject, args, fixture, profile, seconds, prefix)
    except IUTError as exc:
        print(f"zrepl-conformance fuzz: the implementation cannot start: {exc}", file=sys.stderr)
        return CANNOT_START_EXIT


def _print_hint(hint: str | None) -> None:
    if hint:
        print(f"  {hint}")


def shared_database(args: argparse.Namespace) -> ExampleDatabase | None:
    """``--redis URL``: the example database differential searches share (else none)."""
    url: str | None = getattr(args, "differential_redis", None)
    if not url:
        return None
    from fuzz.database import DatabaseError, is_redis, open_database

    if not is_redis(url):
        raise UsageError(f"--redis {url}: not a redis://, rediss:// or unix:// URL")
    try:
        return open_database(url)
    except DatabaseError as exc:
        raise UsageError(str(exc)) from None


def _tail(report: FuzzReport[Trial] | FuzzReport[ClientTrial]) -> str:
    return f"(seed {report.seed}, {report.trials} trials, {report.seconds:.1f} s)"


def _none(report: FuzzReport[Trial] | FuzzReport[ClientTrial]) -> str:
    return "no unexplained disagreement" if report.known else "no disagreement"


def _print_known(report: FuzzReport[T], describe: Callable[[T], list[str]]) -> None:
    """The known deviations met (§deviations explained them), if any: see docs/FUZZING.md."""
    from fuzz.differential.known import summary_lines

    for line in summary_lines(report.known, report.seed, describe):
        print(line)


def _server(
    subject: FuzzSubject,
    args: argparse.Namespace,
    fixture: str | None,
    profile: Mapping[str, object] | None,
    seconds: float | None,
    prefix: str,
) -> int:
    from fuzz.differential import Setting, differential_fuzz, save_finding

    database = shared_database(args)
    setting = Setting.make(fixture, profile)
    timeout = args.timeout or SERVER_TIMEOUT
    report = differential_fuzz(
        subject.spec, setting=setting, examples=args.examples, seconds=seconds, seed=args.seed,
        timeout=timeout, max_steps=args.max_steps, shrink_seconds=args.shrink_time,
        report=_say(prefix), database=database,
    )  # fmt: skip
    trial = report.finding
    if trial is None or trial.disagreement is None:
        print(f"{prefix}{_none(report)} in {report.trials} conversations {_tail(report)}")
        _print_known(report, lambda t: t.conversation.describe())
        return 0
    _print_known(report, lambda t: t.conversation.describe())
    files = save_finding(trial, Path(args.findings), subject.spec, setting)
    print(f"FINDING: {trial.disagreement.headline()}")
    _print_hint(subject.spec.profile_hint())
    steps = len(trial.conversation.steps)
    print(f"  {_tail(report)}; shrunk with {report.shrink_trials} trials to {steps} step(s):")
    for line in trial.conversation.describe():
        print(f"    {line}")
    again = f"zrepl-conformance fuzz {subject.how} --role server {_budget(args, seconds)}"
    _print_reproducer(
        files, subject.how, again, report.seed,
        None if args.no_confirm else lambda: _confirm_server(files[0], subject.spec, timeout),
    )  # fmt: skip
    return EXIT_FINDING


def _client(
    role: FuzzedRole,
    subject: FuzzSubject,
    args: argparse.Namespace,
    fixture: str | None,
    profile: Mapping[str, object] | None,
    seconds: float | None,
    prefix: str,
) -> int:
    from fuzz.differential.client_runner import client_setting
    from fuzz.differential.client_search import client_fuzz, save_client_finding

    database = shared_database(args)
    setting = client_setting(fixture, profile)
    timeout = args.timeout or CLIENT_TIMEOUT
    report = client_fuzz(
        subject.spec, jobs=role.jobs, setting=setting, examples=args.examples, seconds=seconds,
        seed=args.seed, timeout=timeout, max_rules=args.max_steps,
        shrink_seconds=args.shrink_time, report=_say(prefix), database=database,
    )  # fmt: skip
    trial = report.finding
    if trial is None or trial.disagreement is None:
        print(f"{prefix}{_none(report)} in {report.trials} server scripts {_tail(report)}")
        _print_known(report, lambda t: t.script.describe())
        return 0
    _print_known(report, lambda t: t.script.describe())
    job = trial.script.job
    files = save_client_finding(trial, Path(args.findings), subject.spec, setting)
    print(f"FINDING ({job} job): {trial.disagreement.headline()}")
    _print_hint(subject.spec.profile_hint(job))
    print(f"  {_tail(report)}; shrunk with {report.shrink_trials} trials to this server:")
    for line in trial.script.describe():
        print(f"    {line}")
    role_opt = "--role push" if subject.option == "--client-cmd" and job == "push" else ""
    if subject.option != "--client-cmd":
        role_opt = "--role client"
    again = f"zrepl-conformance fuzz {subject.how} {role_opt} {_budget(args, seconds)}"
    _print_reproducer(
        files, _replay_client_option(subject, job), again, report.seed,
        None if args.no_confirm else lambda: _confirm_client(files[0], subject.spec, job, timeout),
    )  # fmt: skip
    return EXIT_FINDING


def _print_reproducer(
    files: Sequence[Path], how: str, again: str, seed: int, confirm: Callable[[], str] | None
) -> None:
    """The lines every finding ends with: the saved files, the command that replays the
    reproducer against the implementation (``how``), the search command, the replay verdict."""
    print(f"  reproducer: {files[0]}")
    print(f"  what the implementation did: {files[1]}")
    cmd = f"zrepl-conformance replay {shlex.quote(str(files[0]))} {how} --level semantic"
    print(f"  reproduce: {cmd.replace('  ', ' ')}")
    print(f"  search again: {' '.join(again.split())} --seed {seed}")
    if confirm is not None:
        print(f"  replay: {confirm()}")


def _budget(args: argparse.Namespace, seconds: float | None) -> str:
    """The search budget of one role, as options (a seed repeats a search only with it)."""
    if seconds:
        return f"--time {seconds:g}"
    return f"--examples {args.examples}" if args.examples else ""


def _replay_client_option(subject: FuzzSubject, job: Job) -> str:
    """How ``replay`` names the client: the same option, or the reference job's command."""
    if subject.option == "--iut":
        return f"{subject.how} --role {job}"
    if subject.option == "--client-cmd":
        return subject.how
    command = getattr(subject.spec, job)
    return f"--client-cmd {shlex.quote(shlex.join(command))}"


def _confirm_server(path: Path, spec: IUTSpec, timeout: float) -> str:
    """Replay the saved reproducer against the implementation's server (it must differ)."""
    from iut import FixtureCache, IUTError
    from recordings.compare import ComparisonLevel
    from recordings.format import read_transcript
    from recordings.replay import replay_server

    transcript = read_transcript(path)
    with FixtureCache() as cache:
        try:
            result = replay_server(
                transcript, spec, cache, level=ComparisonLevel.SEMANTIC, timeout=max(timeout, 2.0)
            )
        except IUTError as exc:
            return f"could not replay: {exc}"
    if result.outcome == "mismatch" and result.mismatch is not None:
        return "confirmed, " + result.mismatch.headline(str(path))
    return f"NOT confirmed (replay outcome: {result.outcome})"


def _confirm_client(path: Path, spec: IUTSpec, job: Job, timeout: float) -> str:
    """Replay the saved reproducer's server side to the implementation's client."""
    from iut import FixtureCache, IUTError, SpecError
    from recordings.compare import ComparisonLevel
    from recordings.format import read_transcript
    from recordings.replay import replay_client

    transcript = read_transcript(path)
    with FixtureCache() as cache:
        try:
            result = replay_client(
                transcript,
                spec,
                cache,
                role=job,
                level=ComparisonLevel.SEMANTIC,
                timeout=max(timeout, 2.0),
            )
        except (IUTError, SpecError) as exc:
            return f"could not replay: {exc}"
    if result.outcome == "mismatch" and result.mismatch is not None:
        return "confirmed, " + result.mismatch.headline(str(path))
    if result.outcome == "error" and "never connected" in (result.error or ""):
        return f"confirmed, {path}: {result.error}"
    return f"NOT confirmed (replay outcome: {result.outcome})"
