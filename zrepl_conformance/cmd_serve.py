"""``zrepl-conformance serve``: the reference server on stdio or a listening socket.

``--stdio`` serves exactly one connection on stdin/stdout and exits when it
ends, like the original's ``zrepl stdinserver --identity X`` run as an SSH
forced command. ``--listen`` serves many connections concurrently. The
handler is the reference handler over the fake ZFS named by
``FAKE_ZFS_STATE`` (an in-memory copy of the demo fixture when unset),
configured by a profile (docs/CONFORMANCE.md, "profile").
"""

from __future__ import annotations

import argparse
import logging
import sys

from bytestreamrpc.server import Server, serve_listener
from bytestreamrpc.serving import DEFAULT_TIMEOUT
from bytestreamrpc.transport import FdTransport


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the reference server")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--stdio", action="store_true", help="serve one connection on stdin/stdout")
    where.add_argument("--listen", metavar="ADDR", help="tcp://HOST:PORT or unix:PATH")
    p.add_argument("--identity", help="client identity (default: the profile's)")
    p.add_argument("--profile", metavar="FILE", help="profile JSON (ACLs, sinks, mappings)")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds a peer may stall before we drop it (default {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr (-vv: debug)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fakes.reference import load_reference

    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(stream=sys.stderr, level=level, format="%(name)s: %(message)s")
    ref = load_reference(args.profile, args.identity)
    if args.stdio:
        server = Server(ref.handler(), identity=ref.identity, timeout=args.timeout)
        outcome = server.serve(FdTransport.stdio())
        if outcome.reason:
            print(f"zrepl-conformance serve: {outcome.reason}", file=sys.stderr)
        # like the original stdinserver: exit 1 when the loop returned an error
        return 1 if outcome.returned_error else 0
    print(f"zrepl-conformance serve: listening on {args.listen}", file=sys.stderr)
    serve_listener(args.listen, ref.handler, identity=ref.identity, timeout=args.timeout)
    return 0
