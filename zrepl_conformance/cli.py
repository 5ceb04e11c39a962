"""``zrepl-conformance``: argument parsing and dispatch, nothing else.

Each subcommand lives in its own ``cmd_*`` module with ``add_parser`` and
``run``; this module only wires them up and turns every failure into one line
on stderr and a non-zero exit (never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, NoReturn

from .cli_errors import CANNOT_START_EXIT, CannotStart, UsageError

COMMANDS: dict[str, str] = {
    "serve": "cmd_serve",
    "connect": "cmd_connect",
    "pull": "cmd_jobs",
    "push": "cmd_jobs",
    "frame": "cmd_frame",
    "record": "cmd_record",
    "replay": "cmd_replay",
    "golden": "cmd_golden",
    "run": "cmd_run",
    "list": "cmd_list",
    "fuzz": "cmd_fuzz",
}
"""Subcommand -> the module that defines it (``add_parser`` + ``run``).

Modules are imported only when needed: a ``serve --stdio`` started once per
connection by the conformance suite should not pay for the parsers and imports
of every other command.
"""


class _VersionAction(argparse.Action):
    """``--version``: like argparse's ``action="version"``, but the version is looked up
    only when asked for (see :func:`zrepl_conformance.__getattr__`), not by every parser."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show program's version number and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> NoReturn:
        from . import __version__

        print(f"{parser.prog} {__version__}")
        parser.exit()


def _modules(only: str | None) -> list[ModuleType]:
    names = [COMMANDS[only]] if only in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    return [importlib.import_module(f"{__package__}.{name}") for name in names]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand's (the others stay unimported)."""
    parser = argparse.ArgumentParser(
        prog="zrepl-conformance",
        description="Conformance toolkit for zrepl's ByteStreamRPC v1 protocol.",
    )
    parser.add_argument("--version", action=_VersionAction, dest=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _modules(only):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)
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
    except CannotStart as exc:
        print(
            f"zrepl-conformance {args.command}: the implementation cannot start: {exc}",
            file=sys.stderr,
        )
        return CANNOT_START_EXIT
    except Exception as exc:  # last resort: one clear line, never a traceback
        print(f"zrepl-conformance {args.command}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
