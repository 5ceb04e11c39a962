"""The one ``with``-block protocol of the toolkit's resources: leaving the block closes them.

Fake ZFS handles, send streams, sandboxes, listeners, started implementations and the mutant
lab each own something to release (an SQLite handle, a directory, a socket, a process); each
defines ``close()`` and inherits ``__enter__``/``__exit__`` from here instead of writing the
same two methods again.
"""

from __future__ import annotations

from typing import Self

__all__ = ["Closing"]


class Closing:
    """Mixin: ``with resource:`` returns the resource and calls its ``close()`` at the end,
    whether the block finished or raised (exceptions are never swallowed)."""

    def close(self) -> object:
        """Release what the resource owns (a subclass may return what the end was, as a
        started implementation returns its exit status)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
