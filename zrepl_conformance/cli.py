"""``zrepl-conformance``: argument parsing and dispatch, nothing else.

Each subcommand lives in its own ``cmd_*`` module with ``add_parser`` and
``run``; this module only wires them up and turns every failure into one line
on stderr and a non-zero exit (never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from . import (
    __version__,
    cmd_frame,
    cmd_golden,
    cmd_jobs,
    cmd_list,
    cmd_record,
    cmd_replay,
    cmd_run,
    cmd_serve,
)
from .cli_errors import UsageError

COMMANDS: tuple[ModuleType, ...] = (
    cmd_serve,
    cmd_jobs,
    cmd_frame,
    cmd_record,
    cmd_replay,
    cmd_golden,
    cmd_run,
    cmd_list,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zrepl-conformance",
        description="Conformance toolkit for zrepl's ByteStreamRPC v1 protocol.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("zrepl-conformance: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except UsageError as exc:
        print(f"zrepl-conformance {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # last resort: one clear line, never a traceback
        print(f"zrepl-conformance {args.command}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
