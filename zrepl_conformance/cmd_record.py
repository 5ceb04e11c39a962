"""``zrepl-conformance record``: record a connection's wire traffic as a transcript.

Two forms (docs/RECORDINGS.md):

* ``record --out FILE -- CMD...``: run CMD with our stdin/stdout passed through unchanged and
  recorded, e.g. as an SSH forced command in front of a server, or as the connect command of
  a client. Our exit status is CMD's. ``FILE`` may contain ``{time}`` and ``{pid}``.
* ``record --listen ADDR --forward ADDR --out DIR|PATTERN``: a recording TCP (or Unix
  socket) proxy, one transcript per connection (``PATTERN`` contains ``{n}``).

``--fixture``, ``--profile`` and ``--identity`` only annotate the transcript header (without
them, ``--identity`` and ``--profile`` are taken from the recorded command line or
``$ZREPL_CONFORMANCE_PROFILE`` when it shows them), so that
``replay`` can later start a server in the same situation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from .cli_errors import UsageError

DIGESTS = ("xxh3-128", "sha256")
"""``--digest`` choices: the names of :class:`recordings.digest.Digest` (kept here so that
building the parser does not import the recordings package)."""


def add_digest_option(p: argparse.ArgumentParser) -> None:
    """``--digest`` for ``record`` and ``golden update`` (one definition for both)."""
    p.add_argument(
        "--digest",
        choices=DIGESTS,
        default=DIGESTS[0],
        help="digest of send streams not stored whole: xxh3-128 (default, fast) or sha256",
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "record",
        help="record wire traffic: stdio tee in front of a command, or a TCP proxy",
        description="Record a ByteStreamRPC conversation as a transcript (docs/RECORDINGS.md).",
    )
    p.add_argument("--out", required=True, help="transcript file (proxy: directory or {n} pattern)")
    p.add_argument("--full", action="store_true", help="store send streams whole, not as digests")
    add_digest_option(p)
    p.add_argument("--listen", metavar="ADDR", help="proxy: accept on tcp://HOST:PORT or unix:PATH")
    p.add_argument("--forward", metavar="ADDR", help="proxy: forward each connection here")
    p.add_argument("--count", type=int, help="proxy: stop after this many connections")
    p.add_argument("--fixture", help="header note: fake ZFS fixture of the recorded server")
    p.add_argument("--profile", metavar="FILE", help="header note: profile JSON of the server")
    p.add_argument("--identity", help="header note: client identity the server ran with")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")
    p.set_defaults(run=run)


def _profile(path: str | None) -> dict[str, object] | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--profile {path}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--profile {path}: must be a JSON object")
    return data


def _option(command: list[str], name: str) -> str | None:
    """The value of ``--name V`` or ``--name=V`` in ``command`` (the last one wins)."""
    value = None
    for i, arg in enumerate(command):
        if arg == name and i + 1 < len(command):
            value = command[i + 1]
        elif arg.startswith(name + "="):
            value = arg[len(name) + 1 :]
    return value


def _seen_in(command: list[str], env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The identity and profile file the recorded server runs with, where the command line
    shows them: ``--identity X`` (what ``zrepl stdinserver`` and our ``serve`` take),
    ``--profile FILE`` or ``$ZREPL_CONFORMANCE_PROFILE``. Options given to ``record`` win."""
    profile = _option(command, "--profile") or env.get("ZREPL_CONFORMANCE_PROFILE") or None
    return _option(command, "--identity"), profile


def run(args: argparse.Namespace) -> int:
    from recordings.digest import Digest
    from recordings.format import C2S, S2C, Header
    from recordings.tee import proxy, record_stdio

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    full = (C2S, S2C) if args.full else ()
    seen_identity, seen_profile = _seen_in(command, os.environ)
    header = Header(
        what="proxy" if args.listen else "stdio",
        fixture=args.fixture,
        profile=_profile(args.profile or seen_profile),
        identity=args.identity or seen_identity,
        command=tuple(command) if command else None,
        digest=Digest(args.digest),
    )
    if args.listen:
        if command:
            raise UsageError("--listen records a proxy; it takes no command")
        if not args.forward:
            raise UsageError("--listen needs --forward ADDR")
        if args.count is not None and args.count < 1:
            raise UsageError("--count must be at least 1")
        try:
            proxy(
                args.listen,
                args.forward,
                args.out,
                header=header,
                full=full,
                count=args.count,
                ready=lambda where: print(
                    f"zrepl-conformance record: listening on {where}, forwarding to {args.forward}",
                    file=sys.stderr,
                    flush=True,
                ),
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return 0
    if args.forward or args.count is not None:
        raise UsageError("--forward and --count belong to --listen (proxy mode)")
    if not command:
        raise UsageError("missing the command to record: record --out FILE -- CMD...")
    out = _stdio_out(args.out)
    status, error = record_stdio(command, out, header=header, full=full)
    if error:
        print(f"zrepl-conformance record: {out}: {error}", file=sys.stderr)
    return status


def _stdio_out(pattern: str) -> str:
    """``--out`` with ``{time}`` (UTC, to the second) and ``{pid}`` filled in, so one forced
    command line gives every connection its own file."""
    if "{" not in pattern:
        return pattern
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        return pattern.format(time=stamp, pid=os.getpid())
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(
            f"bad --out pattern {pattern!r}: use {{time}} and {{pid}} ({exc})"
        ) from None
