"""An in-memory connection that can tell when the in-process server waits for input.

Running the reference in-process, the differential driver must know when the server has
said everything it will say in answer to a step — no timing guess, no quiet period. These
pipes know it exactly: the server has answered when it is blocked reading an empty pipe (or
its thread has ended).
"""

from __future__ import annotations

import threading
import time

from bytestreamrpc.errors import ConnectionClosed, PeerTimeout

_POLL = 0.005

__all__ = ["PipeEnd", "Stalemate", "StalemateGuard", "pipe_pair"]


class _Pipe:
    def __init__(self) -> None:
        self.buf = bytearray()
        self.closed = False
        self.waiting = 0
        self.cond = threading.Condition()


class PipeEnd:
    """One end: reads from ``incoming``, writes to ``outgoing`` (a blocking transport)."""

    def __init__(self, incoming: _Pipe, outgoing: _Pipe) -> None:
        self._in = incoming
        self._out = outgoing

    def read(self, max_bytes: int = 1 << 20, timeout: float | None = None) -> bytes:
        pipe = self._in
        with pipe.cond:
            if not pipe.buf and not pipe.closed:
                pipe.waiting += 1
                pipe.cond.notify_all()
                try:
                    if not pipe.cond.wait_for(lambda: pipe.buf or pipe.closed, timeout):
                        raise PeerTimeout(f"peer sent nothing within {timeout} s")
                finally:
                    pipe.waiting -= 1
            data = bytes(pipe.buf[:max_bytes])
            del pipe.buf[:max_bytes]
            return data

    def read_available(self) -> bytes:
        """Everything buffered now, without waiting (``b""`` if nothing)."""
        with self._in.cond:
            data = bytes(self._in.buf)
            self._in.buf.clear()
            return data

    @property
    def at_eof(self) -> bool:
        with self._in.cond:
            return self._in.closed and not self._in.buf

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        pipe = self._out
        with pipe.cond:
            if pipe.closed:
                raise ConnectionClosed("the peer closed the connection")
            pipe.buf += data
            pipe.cond.notify_all()

    def close_write(self) -> None:
        with self._out.cond:
            self._out.closed = True
            self._out.cond.notify_all()

    def close(self) -> None:
        self.close_write()
        with self._in.cond:
            self._in.closed = True
            self._in.buf.clear()
            self._in.cond.notify_all()

    def has_input(self) -> bool:
        """Bytes (or end of file) are waiting to be read."""
        with self._in.cond:
            return bool(self._in.buf) or self._in.closed

    def peer_waiting(self) -> bool:
        """The other end is blocked reading what we send, and we have sent it everything."""
        with self._out.cond:
            return self._out.waiting > 0 and not self._out.buf

    def wait_until_peer_waits(self, alive: threading.Thread, timeout: float) -> bool:
        """Block until the other end waits for input or its thread ended (``False``: timeout)."""
        deadline = time.monotonic() + timeout
        pipe = self._out
        with pipe.cond:
            while not (pipe.waiting > 0 and not pipe.buf):
                if not alive.is_alive():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                pipe.cond.wait(min(left, 0.01))
        return True


def pipe_pair() -> tuple[PipeEnd, PipeEnd]:
    """``(client_end, server_end)``: what one writes the other reads."""
    c2s, s2c = _Pipe(), _Pipe()
    return PipeEnd(s2c, c2s), PipeEnd(c2s, s2c)


class Stalemate(PeerTimeout):
    """Both ends wait for the other: nothing but a timeout could ever move either again."""


class StalemateGuard:
    """A :class:`PipeEnd` whose reads raise :class:`Stalemate` instead of waiting in vain.

    Client-role fuzzing runs our reference client in a thread against the scripted server;
    a script that leaves both waiting (each for the other's next message) would otherwise
    stall until a timeout, and only a timeout would decide what happens next, which a
    process implementation (with its own timeouts) cannot reproduce. Such a script is not a
    test of anything: the guard ends it at once and :attr:`stalemate` says so.
    """

    def __init__(self, end: PipeEnd, peer: threading.Thread) -> None:
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
