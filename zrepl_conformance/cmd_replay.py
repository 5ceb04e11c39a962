"""``zrepl-conformance replay FILE``: replay one side of a transcript, compare the other.

``--server-cmd CMD`` (or ``--iut FILE``, or by default our reference server) is started as
the transcript header says (fixture, profile, identity) and gets the recorded client side;
``--client-cmd CMD`` (or ``--iut FILE --role pull|push``) gets the recorded server side.
Exit status: 0 identical at the chosen level, or the one difference is the
original's behaviour that docs/PROTOCOL.md §deviations documents (printed with its section;
``--strict``: an unsafe one is a difference), 1 a difference (the first differing record is
printed with a unified diff), 2 the replay could not be carried out, 3 the implementation
exited 89 (unimplemented), 4 UNSTABLE: with ``--repeat N`` the runs did not all end the same
way (their differing runs are kept as transcripts, ``--keep-runs DIR``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from recordings.compare import BYTE_LEVELS, ComparisonLevel

from .cli_errors import UsageError, require_startable

EXIT_MISMATCH = 1
EXIT_ERROR = 2
EXIT_UNIMPLEMENTED = 3
EXIT_UNSTABLE = 4


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay",
        help="replay a transcript against an implementation and compare",
        description="Replay a recorded transcript (docs/RECORDINGS.md).",
    )
    p.add_argument("transcript", metavar="FILE")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--server-cmd", metavar="CMD", help="server to replay the client side to")
    who.add_argument("--client-cmd", metavar="CMD", help="client to replay the server side to")
    who.add_argument("--iut", metavar="FILE", help="implementation description (TOML)")
    p.add_argument(
        "--role",
        choices=("server", "pull", "push"),
        default="server",
        help="with --iut: which of its commands to replay against (default server)",
    )
    p.add_argument(
        "--level",
        choices=[lv.value for lv in ComparisonLevel],
        default="messages",
        help="default: messages",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="an unsafe §deviations behaviour of the original is a difference",
    )
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="FIELD",
        help="leave this message field out of the comparison (repeatable), e.g. Message",
    )
    p.add_argument("--timeout", type=float, help="seconds to wait per expected record")
    p.add_argument("--fixture", help="override the header's fixture")
    p.add_argument("--identity", help="override the header's identity")
    p.add_argument("--actual", metavar="FILE", help="write what happened as a transcript")
    add_repeat_options(p)
    p.add_argument(
        "--partial",
        action="store_true",
        help="accept a transcript without its end line (an interrupted recording)",
    )
    p.set_defaults(run=run)


def add_repeat_options(p: argparse.ArgumentParser) -> None:
    """``--repeat`` and ``--keep-runs`` for ``replay`` and ``golden check``."""
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="replay each transcript N times; runs that do not all agree are UNSTABLE (exit 4)",
    )
    p.add_argument(
        "--keep-runs",
        metavar="DIR",
        help="where the differing runs of an UNSTABLE result are kept (default: a new temp dir)",
    )


def repeat_count(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise UsageError("--repeat must be at least 1")
    return int(args.repeat)


def keep_dir(args: argparse.Namespace) -> Path:
    """``--keep-runs``, or a directory of this invocation's own in the temp directory (made
    only when a result is UNSTABLE)."""
    if args.keep_runs:
        return Path(args.keep_runs)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    return Path(tempfile.gettempdir()) / f"zrepl-conformance-runs-{stamp}-{os.getpid()}"


def _setting_notes(transcript: Any, spec: Any, role: str) -> list[str]:
    """Why a difference may come from the setting rather than the protocol: a transcript
    that does not say which identity or profile its server had, or a command that may not
    read the profile replay gives it."""
    notes = []
    header = transcript.header
    unsaid = [k for k in ("identity", "profile") if getattr(header, k) is None]
    if unsaid and role == "server":
        notes.append(
            f"note: the transcript does not say which {' and '.join(unsaid)} its server had; "
            "the replay used the defaults, and a difference may come from that "
            "(record with --identity/--profile, or replay with --identity)"
        )
    hint = spec.profile_hint(role)
    if hint:
        notes.append(hint)
    return notes


def run(args: argparse.Namespace) -> int:
    from iut import FixtureCache, IUTError, SpecError, load_spec, reference_spec
    from iut.spec import spec_from_server_cmd
    from recordings.format import Header, TranscriptError, read_transcript
    from recordings.repeat import repeat
    from recordings.replay import (
        ReplayResult,
        client_spec_from_command,
        replay_client,
        replay_server,
    )

    level = ComparisonLevel(args.level)
    times = repeat_count(args)
    if args.ignore and level in BYTE_LEVELS:
        raise UsageError("--ignore applies to decoded messages; use --level messages or semantic")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    try:
        transcript = read_transcript(args.transcript, allow_incomplete=args.partial)
    except TranscriptError as exc:  # the replay cannot be carried out: exit 2, one line
        print(f"zrepl-conformance replay: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        if args.client_cmd:
            spec, role = client_spec_from_command(args.client_cmd), None
        elif args.iut:
            spec, role = load_spec(args.iut), args.role
        elif args.server_cmd:
            spec, role = spec_from_server_cmd(args.server_cmd), "server"
        else:
            spec, role = reference_spec(), "server"
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    require_startable(spec)
    common = {
        "level": level,
        "ignore": args.ignore,
        "timeout": args.timeout,
        "fixture": args.fixture,
        "identity": args.identity,
        "strict": args.strict,
    }
    with FixtureCache() as cache:

        def once() -> ReplayResult:
            if role == "server":
                return replay_server(transcript, spec, cache, **common)
            return replay_client(transcript, spec, cache, role=role, **common)

        try:
            runs = repeat(once, times)
        except (IUTError, SpecError) as exc:
            print(f"zrepl-conformance replay: {exc}", file=sys.stderr)
            return EXIT_ERROR
    result = runs.example
    if args.actual:
        result.transcript(Header(what="replay", title=f"replay of {args.transcript}")).save(
            args.actual
        )
    if runs.outcome == "unstable":
        runs.keep(keep_dir(args), Path(args.transcript).stem, args.transcript)
    print(runs.summary(args.transcript))
    if runs.ok:
        return 0
    for note in _setting_notes(transcript, spec, role or "server"):
        print(note)
    if result.stderr.strip():
        tail = result.stderr.strip().splitlines()[-20:]
        print("implementation stderr (last lines):", *("  " + line for line in tail), sep="\n")
    if result.status is not None and result.status.kind != "ok":
        print(f"implementation {result.status.describe()}")
    return {
        "mismatch": EXIT_MISMATCH,
        "error": EXIT_ERROR,
        "unimplemented": EXIT_UNIMPLEMENTED,
        "unstable": EXIT_UNSTABLE,
    }[runs.outcome]
