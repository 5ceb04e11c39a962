"""Ending a client-role trial whose two sides wait for each other (:class:`StalemateGuard`).

The in-memory connection itself is :class:`bytestreamrpc.transport.MemoryTransport`, which
knows when its peer waits for input; the guard turns "both sides wait" into an error.
"""

from __future__ import annotations

import threading
import time

from bytestreamrpc.errors import PeerTimeout
from bytestreamrpc.transport import MemoryTransport

_POLL = 0.005

__all__ = ["Stalemate", "StalemateGuard"]


class Stalemate(PeerTimeout):
    """Both ends wait for the other: nothing but a timeout could ever move either again."""


class StalemateGuard:
    """An in-memory end whose reads raise :class:`Stalemate` instead of waiting in vain.

    Client-role fuzzing runs our reference client in a thread against the scripted server;
    a script that leaves both waiting (each for the other's next message) would otherwise
    stall until a timeout, and only a timeout would decide what happens next, which a
    process implementation (with its own timeouts) cannot reproduce. Such a script is not a
    test of anything: the guard ends it at once and :attr:`stalemate` says so.
    """

    def __init__(self, end: MemoryTransport, peer: threading.Thread) -> None:
        self.end = end
        self.peer = peer
        self.stalemate = False

    def read(self, max_bytes: int = 1 << 20, timeout: float | None = None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = _POLL if deadline is None else min(_POLL, max(0.0, deadline - time.monotonic()))
            try:
                return self.end.read(max_bytes, step)
            except PeerTimeout:
                pass
            if self.peer.is_alive() and self.end.peer_waiting() and not self.end.has_input():
                self.stalemate = True
                raise Stalemate("both sides wait for each other")
            if deadline is not None and time.monotonic() >= deadline:
                raise PeerTimeout(f"peer sent nothing within {timeout} s")

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        self.end.write(data, timeout)

    def close_write(self) -> None:
        self.end.close_write()

    def close(self) -> None:
        self.end.close()
