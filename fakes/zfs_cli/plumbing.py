"""What every ``fake-zfs`` command shares: its streams, the usage and error exits, the
engine (opened on first use, like ``libzfs_init``) and writing the way a C program does.

:class:`Plumbing` is the base of each command family's mixin (:mod:`.init_state`,
:mod:`.queries`, :mod:`.changes`, :mod:`.streams`), so they call these helpers as
``self.usage_exit(...)`` with their types known.
"""

from __future__ import annotations

import os
from typing import Final, NoReturn, TextIO

from fakes.zfs.engine import FakeZfs
from fakes.zfs.errors import StateError
from fakes.zfs.getopt import Option
from fakes.zfs.usage import command_usage, global_usage

__all__ = ["STATE_ENV", "Exit", "Plumbing", "fileno", "grow_pipe", "isatty", "write_text"]

STATE_ENV: Final = "FAKE_ZFS_STATE"


class Exit(Exception):
    """Leave the command with ``code`` after everything was printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Plumbing:
    """The streams a command reads and writes, its exits, and the fake ZFS it changes."""

    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> None:
        self.inp = stdin
        self.out = stdout
        self.err = stderr
        self._engine: FakeZfs | None = None

    def error(self, text: str) -> None:
        write_text(self.err, text + "\n")

    def usage_exit(self, command: str | None, message: str | None = None) -> NoReturn:
        if message is not None:
            write_text(self.err, message + "\n")
        self.err.write(command_usage(command) if command else global_usage())
        raise Exit(2)

    def bad_option(self, command: str, opt: Option) -> NoReturn:
        if opt.char == ":":
            self.usage_exit(command, f"missing argument for '{opt.optopt}' option")
        if opt.optopt == "" and opt.argument is not None:
            self.usage_exit(command, f"invalid option '{opt.argument}'")
        self.usage_exit(command, f"invalid option '{opt.optopt}'")

    def unsupported_option(self, command: str, letter: str) -> NoReturn:
        self.error(f"fake-zfs: option '-{letter}' of 'zfs {command}' is not supported by the fake")
        raise Exit(2)

    def engine(self) -> FakeZfs:
        if self._engine is None:
            path = os.environ.get(STATE_ENV)
            if not path:
                raise StateError(
                    f"fake-zfs: {STATE_ENV} is not set; point it at a state file and run "
                    "'fake-zfs init'"
                )
            self._engine = FakeZfs.open(path)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def write_text(stream: TextIO, text: str) -> None:
    """Write ``text``; arguments that were not valid UTF-8 go out as their original bytes
    (like C's printf of argv), never as an encoding error."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        binary = getattr(stream, "buffer", None)
        if binary is not None:
            stream.flush()
            binary.write(text.encode("utf-8", "surrogateescape"))
            binary.flush()
        else:
            stream.write(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def fileno(stream: object) -> int | None:
    """The OS file descriptor behind ``stream``, if it has one."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None
    return fd if isinstance(fd, int) else None


def isatty(stream: object) -> bool:
    fd = fileno(stream)
    if fd is None:
        return False
    try:
        return os.isatty(fd)
    except OSError:
        return False


def grow_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe buffer (fewer context switches when streaming); best effort."""
    try:
        import fcntl

        setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
        if setpipe is not None:
            fcntl.fcntl(fd, setpipe, 1 << 20)
    except (OSError, ValueError, ImportError):
        pass
