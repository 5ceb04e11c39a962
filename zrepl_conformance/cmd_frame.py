"""``zrepl-conformance frame encode|decode``: chunk and unchunk stdin to stdout (§frame)."""

from __future__ import annotations

import argparse
import sys

from bytestreamrpc.errors import FramingError
from bytestreamrpc.streamcopy import chunk_fd, unchunk_fd, widen_pipe


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("frame", help="chunk (encode) or unchunk (decode) stdin to stdout")
    p.add_argument("direction", choices=("encode", "decode"))
    p.add_argument(
        "--multi",
        action="store_true",
        help="decode: accept several consecutive chunked streams until end of input",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    for fd in (0, 1):
        widen_pipe(fd)
    try:
        if args.direction == "encode":
            chunk_fd(0, 1)
        else:
            unchunk_fd(0, 1, multi=args.multi)
    except FramingError as exc:
        print(f"zrepl-conformance frame decode: malformed input: {exc}", file=sys.stderr)
        return 1
    return 0
