"""``zrepl-conformance connect``: stdin/stdout <-> a listening server, ending like ``ssh``.

The client half of ``serve --listen``: ``connect tcp://HOST:PORT`` (or ``unix:PATH``) is a
CONNECT-CMD for ``pull``/``push`` and a ``{connect}`` for any implementation's pull or push
job, as ``ssh host zrepl stdinserver --identity X`` was for the original's jobs. It runs the
one relay the suite itself gives implementations as ``{connect}`` (:mod:`iut.relay`): bytes
are copied both ways as they come, and it exits as soon as the server has closed, without
waiting for its own stdin to end (exit 1 with one line when nothing listens there).
"""

from __future__ import annotations

import argparse

from .cli_errors import UsageError

ADDRESS_FORMS = ("tcp://", "unix:")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "connect",
        help="relay stdin/stdout to a listening server (a CONNECT-CMD for serve --listen)",
        description=(
            "Relay stdin/stdout to a server listening on ADDRESS (e.g. one started with "
            "'zrepl-conformance serve --listen ADDRESS'): a CONNECT-CMD for pull and push, "
            "or an implementation's {connect}. It ends the way ssh ends: as soon as the "
            "server has closed, every byte it sent having been delivered."
        ),
        epilog="example: zrepl-conformance pull --mapping JSON -- "
        "zrepl-conformance connect tcp://127.0.0.1:8022",
    )
    p.add_argument("address", metavar="ADDRESS", help="tcp://HOST:PORT or unix:PATH")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    address: str = args.address
    if not address.startswith(ADDRESS_FORMS):
        raise UsageError(f"{address!r} is not tcp://HOST:PORT or unix:PATH")
    from iut.relay import exit_now, main

    # The relay's stdin reader may be blocked for good once the server has closed; like
    # ssh, do not wait for it: end the process here, with the relay's status.
    exit_now(main([address]))
    return 1  # not reached: exit_now does not return
