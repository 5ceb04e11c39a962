"""Playing a client script against a server and collecting everything it answers.

:func:`converse` writes the script's bytes from a background thread (so a server that
answers before reading everything, or stops reading, cannot deadlock us), optionally in
separate writes with pauses (to split frames across reads), closes our sending side, and
reads until the server closes, the case's deadline passes, or the output exceeds a bound.
The result, an :class:`Exchange`, is the parsed responses plus how the output ended.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from bytestreamrpc.errors import ConnectionClosed, PeerTimeout

from .wire import ResponseFrame, Stream, parse_responses
from .wirelog import LoggedTransport

MAX_OUTPUT: Final = 64 * 1024 * 1024
"""Bytes we read from one server at most (a flooding server ends the exchange)."""


@dataclass(frozen=True)
class Piece:
    """Bytes to write in one write call, after a pause."""

    data: bytes
    pause: float = 0.0


Script = bytes | Sequence[Piece]


@dataclass
class Exchange:
    """What a server answered to a script."""

    raw: bytes
    responses: list[ResponseFrame]
    incomplete: Stream | None
    ending: str
    """``eof`` (the server closed), ``timeout`` (still open at the deadline), ``quiet``
    (no byte for the quiet period, when the script asked for that) or ``flood``."""
    write_error: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.ending == "eof"

    def summary(self) -> str:
        lines = [f"#{i + 1} {r.summary()}" for i, r in enumerate(self.responses)]
        if self.incomplete is not None:
            lines.append(f"then output ends inside a chunked stream ({self.incomplete.end})")
        lines.append(
            {
                "eof": "then the connection closed",
                "timeout": "then nothing more, connection still open at the deadline",
                "quiet": "then silence (connection open)",
                "flood": "then more output than the suite reads",
            }[self.ending]
        )
        return "\n".join(lines)


def _pieces(script: Script) -> list[Piece]:
    if isinstance(script, bytes | bytearray):
        return [Piece(bytes(script))] if script else []
    return list(script)


def converse(
    transport: LoggedTransport,
    script: Script,
    deadline: float,
    *,
    close: bool = True,
    quiet: float | None = None,
) -> Exchange:
    """Send ``script``, (``close``: then end our side), read until the server is done."""
    write_error: list[str] = []

    def writer() -> None:
        try:
            for piece in _pieces(script):
                if piece.pause:
                    time.sleep(piece.pause)
                transport.write(piece.data, max(0.05, deadline - time.monotonic()))
        except (ConnectionClosed, PeerTimeout, OSError) as exc:
            write_error.append(str(exc))
        if close:
            with contextlib.suppress(OSError):
                transport.close_write()

    thread = threading.Thread(target=writer, daemon=True, name="converse-writer")
    thread.start()
    parts: list[bytes] = []
    size = 0
    ending = "timeout"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        wait = left if quiet is None else min(left, quiet)
        try:
            data = transport.read(1 << 20, wait)
        except PeerTimeout:
            if quiet is not None and wait < left:
                ending = "quiet"
            break
        except OSError:
            data = b""
        if not data:
            ending = "eof"
            break
        parts.append(data)
        size += len(data)
        if size > MAX_OUTPUT:
            ending = "flood"
            break
    thread.join(max(0.0, min(1.0, deadline - time.monotonic())))
    raw = b"".join(parts)
    responses, incomplete = parse_responses(raw)
    return Exchange(raw, responses, incomplete, ending, "; ".join(write_error))
