"""Playing one generated conversation against one server, recording every byte.

The client side is a :class:`fuzz.strategies.Conversation`; the server is either our
reference in-process (where the driver knows exactly when the server waits for input) or an
implementation behind a transport (where it reads as many answers per step as the reference
gave, within a timeout). When a ``PullMe{Finished:false}`` is answered OK the driver serves
the server's requests with the reference handler over a pusher fixture, exactly as the
reference client would (§pullme.serving), until ``Finished:true`` or the end.

Everything crossing the connection goes through :class:`recordings.classify.Recorder`, so a
run *is* a transcript (``recordings.format``): the saved reproducer of a finding, replayable
with ``zrepl-conformance replay``.
"""

from __future__ import annotations

import contextlib
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from bytestreamrpc.client import Client
from bytestreamrpc.connection import Connection, Role
from bytestreamrpc.errors import ConnectionClosed, PeerTimeout, ProtocolError
from bytestreamrpc.interfaces import RPCHandler
from bytestreamrpc.serving import serve_loop
from bytestreamrpc.transport import Transport
from recordings.classify import Recorder
from recordings.format import C2S, S2C, Record, StreamRecord

from ..strategies import Conversation

__all__ = ["Played", "Wire", "play"]

_HDR: Final = struct.Struct("<I")
_READ: Final = 1 << 20


@dataclass
class Played:
    """What one run of a conversation produced."""

    records: list[Record]
    answers: list[int] = field(default_factory=list)
    """Server streams read in client mode after each step (the reference's counts pace the
    implementation's run)."""
    timed_out: str | None = None
    """What the server failed to send in time (a hang), if anything."""


class Wire:
    """Our end of the connection: writes recorded as c2s, reads split into whole s2c streams."""

    def __init__(self, transport: Transport, recorder: Recorder, timeout: float) -> None:
        self.t = transport
        self.rec = recorder
        self.timeout = timeout
        self.buf = bytearray()
        self._scan = 0  # offset in buf up to which chunk headers were walked
        self.eof = False
        self.write_failed = False
        self.received = 0
        """Bytes read from the server so far (none yet: it may still be starting)."""
        self.records: list[Record] = []

    # -- writing -----------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.write_failed or not data:
            return
        try:
            self.t.write(data, self.timeout)
        except (ConnectionClosed, PeerTimeout, OSError):
            self.write_failed = True
            return
        self.records += self.rec.feed(C2S, data)

    def close_write(self) -> None:
        close_write = getattr(self.t, "close_write", None)
        if callable(close_write):
            with contextlib.suppress(OSError, ProtocolError):
                close_write()
        self.records += self.rec.eof(C2S)

    # -- reading -----------------------------------------------------------------------
    def _stream_end(self) -> int | None:
        """Offset just past the first complete chunked stream in ``buf``, if there is one."""
        buf, pos = self.buf, self._scan
        while True:
            if len(buf) - pos < 4:
                self._scan = pos
                return None
            (n,) = _HDR.unpack_from(buf, pos)
            if n == 0:
                self._scan = 0
                return pos + 4
            if len(buf) - pos - 4 < n:
                self._scan = pos
                return None
            pos += 4 + n

    def _take(self, end: int) -> list[Record]:
        data = bytes(self.buf[:end])
        del self.buf[:end]
        return self.rec.feed(S2C, data)

    def _fill(self, timeout: float | None) -> bool:
        """Read more; ``False`` on timeout. End of file sets :attr:`eof`."""
        try:
            data = self.t.read(_READ, timeout)
        except PeerTimeout:
            return False
        except (ConnectionClosed, OSError):
            data = b""
        if data:
            self.buf += data
            self.received += len(data)
        else:
            self.eof = True
        return True

    def next_stream(self, timeout: float | None) -> StreamRecord | bool | None:
        """The next whole s2c stream; ``None`` at end of file; ``False`` on timeout."""
        while True:
            end = self._stream_end()
            if end is not None:
                recs = self._take(end)
                self.records += recs
                return next((r for r in reversed(recs) if isinstance(r, StreamRecord)), None)
            if self.eof:
                self.finish_reading()
                return None
            if not self._fill(timeout):
                return False

    def finish_reading(self) -> None:
        """End of file: record whatever partial stream is left and the eof event."""
        if self.buf:
            self.records += self._take(len(self.buf))
        if not self.rec.is_closed(S2C):
            self.records += self.rec.eof(S2C)

    def drain_available(self) -> int:
        """Whole streams readable right now (in-process peer); returns how many."""
        read_available = getattr(self.t, "read_available", None)
        assert callable(read_available)
        self.buf += read_available()
        count = 0
        while not self.inverted and (end := self._stream_end()) is not None:
            self.records += self._take(end)  # stop at a pull-me OK: the rest is for serving
            count += 1
        if getattr(self.t, "at_eof", False):
            self.eof = True
        return count

    @property
    def inverted(self) -> bool:
        return self.rec.tracker.inverted


class _ServingTransport:
    """What our serving loop reads and writes during pull-me: the wire's buffer first."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire

    def read(self, max_bytes: int = _READ, timeout: float | None = None) -> bytes:
        w = self.wire
        if w.buf:
            data = bytes(w.buf[:max_bytes])
            del w.buf[:max_bytes]
        elif w.eof:
            data = b""
        else:
            try:
                data = w.t.read(max_bytes, timeout)
            except (ConnectionClosed, OSError):
                data = b""
        w._scan = 0
        if data:
            w.records += w.rec.feed(S2C, data)
        else:
            w.eof = True
            if not w.rec.is_closed(S2C):
                w.records += w.rec.eof(S2C)
        return data

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        if self.wire.write_failed:
            raise ConnectionClosed("the peer is gone")
        before = self.wire.write_failed
        self.wire.send(bytes(data))
        if self.wire.write_failed and not before:
            raise ConnectionClosed("the peer is gone")

    def close_write(self) -> None:
        pass

    def close(self) -> None:
        pass


def serve_pull_me(wire: Wire, handler: RPCHandler, timeout: float) -> None:
    """Serve the server's requests as the pushing client does, until Finished or the end."""
    conn = Connection(Role.SERVER, identity="")
    transport = _ServingTransport(wire)
    serve_loop(
        conn, transport, handler, lambda c, t: Client(c, t, timeout=timeout), timeout=timeout
    )
    leftover = conn.decoder.unconsumed()
    if leftover:  # bytes the server sent after Finished: already recorded, keep for reading
        wire.buf[0:0] = leftover
    wire._scan = 0


HandlerFactory = Callable[[], RPCHandler]


def play(
    conversation: Conversation,
    transport: Transport,
    *,
    pusher: HandlerFactory,
    timeout: float,
    expected_answers: list[int] | None = None,
    settle: Callable[[], bool] | None = None,
    startup: float = 0.0,
) -> Played:
    """Play ``conversation`` over ``transport``; see the module docstring.

    With ``settle`` (in-process reference) each step's answers are whatever the server wrote
    before it blocked for input; otherwise ``expected_answers[i]`` streams are read for step
    ``i`` (fewer if the server closes; a timeout is a hang). The first answer may take
    ``startup`` seconds longer (a freshly started process may still be loading).
    """
    rec = Recorder(full=(C2S,))
    wire = Wire(transport, rec, timeout)
    played = Played(wire.records)
    for i, step in enumerate(conversation.steps):
        wire.send(step.wire())
        if settle is not None:
            settle()
            got = wire.drain_available()
        else:
            want = expected_answers[i] if expected_answers and i < len(expected_answers) else 0
            got = 0
            while got < want and not wire.inverted:
                r = wire.next_stream(timeout if wire.received else timeout + startup)
                if r is False:
                    played.timed_out = (
                        f"answer {got + 1} of {want} to step {i + 1} ({step.describe()})"
                    )
                    played.records = wire.records
                    return played
                if r is None:
                    break
                got += 1
        played.answers.append(got)
        if wire.inverted and not wire.eof:
            serve_pull_me(wire, pusher(), timeout)
            if settle is not None:
                settle()
                wire.drain_available()
    wire.close_write()
    while not wire.eof:
        r = wire.next_stream(timeout)
        if r is False:
            played.timed_out = "the server's end of file after ours"
            break
        if r is None:
            break
        if wire.inverted:  # a pull-me answered after all steps: serve it to its end
            serve_pull_me(wire, pusher(), timeout)
    if wire.eof:
        wire.finish_reading()
    played.records = wire.records
    return played


def run_in_thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread
