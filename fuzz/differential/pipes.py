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

__all__ = ["PipeEnd", "pipe_pair"]


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
