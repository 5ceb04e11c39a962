"""The ``fake-zfs`` entry point: which command family serves a subcommand, help, version,
and how an error becomes an exit status and a message (never a traceback).

:class:`_Cli` is the command families' mixins put together (one per family, each on
:class:`~.plumbing.Plumbing`); :func:`main` runs it as a process or in-process.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Final

from fakes.zfs.errors import ZfsError, ZfsUsageError
from fakes.zfs.usage import command_usage, global_usage

from .changes import ChangeCommands
from .init_state import InitCommand
from .plumbing import STATE_ENV, Exit, write_text
from .queries import QueryCommands
from .streams import StreamCommands

__all__ = ["FAKE_HELP", "VERSION_TEXT", "main"]

VERSION_TEXT: Final = "zfs-fake-1\nzfs-kmod-fake-1\n"

FAKE_HELP: Final = f"""\
fake-zfs: the zfs command over a fake ZFS kept in one SQLite file (no real pools).

environment:
\t{STATE_ENV}  the state file every command reads and changes (required)

the fake's own command:
\tinit [--fixture FILE] [--force]
\t    create that state file: the demo fixture, or the fixture FILE (TOML);
\t    run 'fake-zfs init --help' for more

See docs/FAKE-ZFS.md. What follows is the usage real zfs prints, for the subcommands
the fake implements.

"""
"""Printed before the real usage by ``fake-zfs --help`` (and ``-?``, ``help``)."""


#: Real subcommands the fake does not implement (they exist, so no "unrecognized command").
_UNSUPPORTED_COMMANDS: Final = frozenset(
    {
        "rollback",
        "clone",
        "promote",
        "rename",
        "diff",
        "inherit",
        "upgrade",
        "userspace",
        "groupspace",
        "projectspace",
        "project",
        "mount",
        "unmount",
        "share",
        "unshare",
        "redact",
        "allow",
        "unallow",
        "hold",
        "holds",
        "release",
        "load-key",
        "unload-key",
        "change-key",
        "program",
        "rewrite",
        "wait",
        "version",
        "zone",
        "unzone",
    }
)


class _Cli(InitCommand, QueryCommands, ChangeCommands, StreamCommands):
    """Every supported subcommand, each ``cmd_NAME`` from its family's mixin."""

    def run(self, argv: Sequence[str]) -> int:
        if not argv:
            self.usage_exit(None, "missing command")
        cmd = argv[0]
        cmd = {"umount": "unmount", "recv": "receive", "snap": "snapshot"}.get(cmd, cmd)
        if cmd in ("-?", "--help", "help"):
            self.out.write(FAKE_HELP + global_usage())
            return 0
        if cmd in ("-V", "--version"):
            self.out.write(VERSION_TEXT)
            return 0
        if cmd == "init":
            return self.cmd_init(list(argv[1:]))
        handlers: dict[str, Callable[[list[str]], int]] = {
            "list": self.cmd_list,
            "get": self.cmd_get,
            "set": self.cmd_set,
            "create": self.cmd_create,
            "snapshot": self.cmd_snapshot,
            "bookmark": self.cmd_bookmark,
            "destroy": self.cmd_destroy,
            "send": self.cmd_send,
            "receive": self.cmd_receive,
        }
        if cmd in handlers and len(argv) >= 2 and argv[1] in ("--help", "-?"):
            self.usage_exit(cmd)
        self.engine()  # like libzfs_init: the state must be usable before anything else
        if cmd in handlers:
            return handlers[cmd](list(argv[1:]))
        if "=" in cmd:
            return self.cmd_set(list(argv))
        if cmd in _UNSUPPORTED_COMMANDS:
            self.error(f"fake-zfs: 'zfs {cmd}' is not supported by the fake")
            return 2
        self.usage_exit(None, f"unrecognized command '{cmd}'")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fake-zfs`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None:
        # Process entry point only (tests call main(argv) in-process and keep their setup).
        # A short-lived process creating ~10^5 small objects: the cyclic GC only costs time.
        gc.disable()
        if hasattr(signal, "SIGPIPE") and not (args and args[0] == "send"):
            # Like a C program: a closed output pipe ends us quietly (no traceback);
            # send keeps SIGPIPE ignored to report "Broken pipe" as the real zfs does.
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    cli = _Cli(sys.stdin, sys.stdout, sys.stderr)
    import sqlite3

    try:
        return cli.run(args)
    except Exit as exc:
        return exc.code
    except ZfsUsageError as exc:
        if exc.message:
            write_text(sys.stderr, exc.message + ("\n" if exc.newline else ""))
        sys.stderr.write(command_usage(exc.command) if exc.command else global_usage())
        return 2
    except ZfsError as exc:
        write_text(sys.stderr, exc.message + "\n")
        return exc.exit_code
    except sqlite3.OperationalError as exc:
        state = os.environ.get(STATE_ENV, "")
        write_text(sys.stderr, f"fake-zfs: state file '{state}' is not usable: {exc}\n")
        return 1
    except sqlite3.DatabaseError as exc:
        state = os.environ.get(STATE_ENV, "")
        write_text(sys.stderr, f"fake-zfs: state file '{state}' is corrupt: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # pragma: no cover - a bug; still no traceback for users
        write_text(sys.stderr, f"fake-zfs: internal error: {type(exc).__name__}: {exc}\n")
        return 1
    finally:
        with contextlib.suppress(Exception):
            cli.close()
