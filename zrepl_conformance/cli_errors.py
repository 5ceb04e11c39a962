"""Exceptions the command line maps to exit codes (kept apart to avoid import cycles)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from iut import IUTSpec

CANNOT_START_EXIT: Final = 6
"""Every command that starts an implementation (``run``, ``golden check``, ``replay``,
``fuzz``) exits with this when it cannot start it at all, before any case or trial."""


class UsageError(Exception):
    """Bad command-line use: exit 2 like argparse."""


class CannotStart(Exception):
    """The implementation cannot be started at all: exit :data:`CANNOT_START_EXIT`."""


def require_startable(spec: IUTSpec) -> None:
    """:class:`CannotStart` (one line) unless :func:`iut.preflight` finds ``spec`` startable."""
    from iut import IUTError, preflight

    try:
        preflight(spec)
    except IUTError as exc:
        raise CannotStart(str(exc)) from None
