"""The one exception type the fake ZFS raises, carrying the real zfs(8) text and exit code.

Callers (the ``fake-zfs`` command, the reference handler, tests) need exactly two things
from a failure: the text the real ``zfs`` program would have printed on stderr and the exit
status it would have returned. :class:`ZfsError` carries both, so the command-line front end
prints ``error.message`` and exits with ``error.exit_code`` without re-deriving anything.
"""

from __future__ import annotations

__all__ = ["DatasetOpenError", "StateError", "ZfsError", "ZfsUsageError"]

#: Exit status of the real zfs(8) for an operational failure.
EXIT_ERROR = 1
#: Exit status of the real zfs(8) for a usage error (it printed its usage text).
EXIT_USAGE = 2


class ZfsError(Exception):
    """A failed zfs operation.

    ``message`` is the exact text real OpenZFS prints on stderr for this failure, without the
    final newline (it may span several lines, as some real messages do). ``exit_code`` is the
    status the real command exits with: 1 for operational errors, 2 for usage errors, and the
    occasional 255 where the real code returns -1 from ``main``.
    """

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, exit_code={self.exit_code})"


class DatasetOpenError(ZfsError):
    """``cannot open 'NAME': ...`` — the named dataset, snapshot or bookmark is unusable.

    A separate class because some real subcommands (``snapshot``, ``bookmark``) follow this
    particular failure with their usage text and exit 2, while others exit 1.
    """


class ZfsUsageError(ZfsError):
    """A command-line usage error; the front end prints ``message`` then the usage text."""

    def __init__(self, message: str, command: str | None, *, newline: bool = True) -> None:
        super().__init__(message, exit_code=2)
        #: The subcommand whose usage text follows, or ``None`` for the global usage.
        self.command = command
        #: Whether a newline separates ``message`` from the usage text (one real message
        #: lacks it: ``zfs bookmark`` with two short names).
        self.newline = newline


class StateError(ZfsError):
    """The fake's state file is missing, unreadable or not a fake-zfs state (exit 1)."""
