"""Playing a scripted client against a server while recording both directions.

Golden scenarios (:mod:`recordings.scenarios`) are small programs against :class:`Driver`:
send canonical requests or hand-made bytes, read a number of answers, wait for the server's
end of file, close. Everything passes through :class:`RecordingTransport`, so the
transcript is made by the same :class:`~recordings.classify.Recorder` as live recordings,
and because the driver is sequential the record order is the same on every run (no thread
timing decides it), which keeps golden files stable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Final

from bytestreamrpc import framing, messages
from bytestreamrpc.client import Client
from bytestreamrpc.connection import Connection, Role
from bytestreamrpc.constants import ZERO_REQUEST_ID
from bytestreamrpc.errors import ConnectionClosed, PeerTimeout
from bytestreamrpc.messages import DatasetPath, FilesystemVersion, RequestHeader
from bytestreamrpc.transport import Transport

from .classify import Recorder
from .format import C2S, S2C, EventRecord, Record, StreamRecord

__all__ = ["Driver", "RecordingTransport", "ScenarioError"]

_READ: Final = 1 << 20


class ScenarioError(Exception):
    """A scenario did not go as scripted (the server answered differently than assumed)."""


class RecordingTransport:
    """Wraps a transport; everything written is recorded as ``c2s``, everything read ``s2c``."""

    def __init__(self, inner: Transport, recorder: Recorder, timeout: float) -> None:
        self.inner = inner
        self.recorder = recorder
        self.timeout = timeout
        self.pending: list[Record] = []
        """``s2c`` records read but not yet consumed by :meth:`Driver.recv`."""

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        self.inner.write(bytes(data), timeout)
        self.recorder.feed(C2S, bytes(data))

    def read(self, max_bytes: int = _READ, timeout: float | None = None) -> bytes:
        data = self.inner.read(max_bytes, timeout)
        self.pending.extend(self.recorder.feed(S2C, data) if data else self.recorder.eof(S2C))
        return data

    def close_write(self) -> None:
        if not self.recorder.is_closed(C2S):
            close_write = getattr(self.inner, "close_write", None)
            if callable(close_write):
                close_write()
            self.recorder.eof(C2S)

    def drain_to_eof(self) -> None:
        """Read until the server's end of file (bounded by the timeout)."""
        with contextlib.suppress(PeerTimeout, ConnectionClosed, OSError):
            while not self.recorder.is_closed(S2C):
                self.read(_READ, self.timeout)

    def close(self) -> None:
        """Half-close, record the server's end of file, then close (what ``Client`` calls)."""
        self.close_write()
        self.drain_to_eof()
        self.inner.close()


class Driver:
    """The scripted client of one scenario."""

    def __init__(self, transport: RecordingTransport, fixture: object | None = None) -> None:
        self.transport = transport
        self.recorder = transport.recorder
        self.fixture = fixture
        """The server's fixture as an in-memory fake ZFS (names and GUIDs for requests)."""

    # -------------------------------------------------------------- sending
    def send(self, data: bytes) -> None:
        """Hand-made bytes (recorded as ``crafted``: not what a conformant client sends)."""
        self.recorder.crafted = True
        try:
            self.transport.write(data, self.transport.timeout)
        finally:
            self.recorder.crafted = False

    def request(self, body: object, *, rid: bytes = ZERO_REQUEST_ID) -> None:
        """A canonical request: Go-encoded header and body, one chunk each (like the original)."""
        rtype = messages.REQUEST_TYPE_OF[type(body)]
        header = messages.encode_message(RequestHeader(int(rtype), rid))
        data = framing.encode_stream(header) + framing.encode_stream(messages.encode_message(body))
        if rid != ZERO_REQUEST_ID:
            self.send(data)  # the original client never sends a non-zero id
        else:
            self.transport.write(data, self.transport.timeout)

    def raw_request(self, rtype: int, body: bytes, *, rid: bytes = ZERO_REQUEST_ID) -> None:
        """A canonical header with hand-made body bytes (both recorded as crafted)."""
        header = messages.encode_message(RequestHeader(rtype, rid))
        self.send(framing.encode_stream(header) + framing.encode_stream(body))

    def close(self) -> None:
        """Half-close our side (the server sees end of file)."""
        self.transport.close_write()

    # -------------------------------------------------------------- receiving
    def recv(self, n: int = 1) -> list[StreamRecord]:
        """The next ``n`` streams from the server (fewer if it closes first)."""
        out: list[StreamRecord] = []
        t = self.transport
        while len(out) < n:
            while not t.pending:
                if self.recorder.is_closed(S2C):
                    return out
                try:
                    t.read(_READ, t.timeout)
                except PeerTimeout:
                    raise ScenarioError(f"the server sent nothing within {t.timeout} s") from None
            rec = t.pending.pop(0)
            if isinstance(rec, StreamRecord):
                out.append(rec)
        return out

    def recv_eof(self) -> None:
        """Read until the server closes; anything it still sends is recorded too."""
        self.transport.drain_to_eof()
        self.transport.pending = [r for r in self.transport.pending if isinstance(r, StreamRecord)]
        if not self.recorder.is_closed(S2C):
            raise ScenarioError("the server did not close the connection")

    def finish(self) -> None:
        """The usual end: wait for the server's end of file, then close our side."""
        self.recv_eof()
        self.close()

    def client(self) -> Client:
        """A reference :class:`Client` on this connection (already past nothing: no handshake)."""
        return Client(Connection(Role.CLIENT), self.transport, timeout=self.transport.timeout)

    # -------------------------------------------------------------- fixture facts
    def versions(self, dataset: str, kind: str = "snapshot") -> list[FilesystemVersion]:
        """The fixture's versions of ``dataset`` (oldest first) as protocol values."""
        zfs = self.fixture
        if zfs is None:
            raise ScenarioError("this scenario has no fixture model")
        listed = zfs.list_versions(dataset)  # type: ignore[attr-defined]
        return [
            FilesystemVersion(v.type, v.name, v.guid, v.createtxg) for v in listed if v.type == kind
        ]

    @staticmethod
    def path(dataset: str) -> DatasetPath:
        return DatasetPath.from_string(dataset)


def response_errors(records: Sequence[Record]) -> list[int]:
    """ErrorId of every server response header in ``records`` (for scenario checks)."""
    from .classify import GO_RESPONSE_HEADER

    out: list[int] = []
    for r in records:
        if (
            isinstance(r, StreamRecord)
            and r.dir == S2C
            and r.go == GO_RESPONSE_HEADER
            and r.payload is not None
        ):
            try:
                out.append(messages.decode_message(messages.ResponseHeader, r.payload).error_id)
            except Exception:
                out.append(-1)
    return out


def server_closed(records: Sequence[Record]) -> bool:
    return any(isinstance(r, EventRecord) and r.event == "eof" and r.dir == S2C for r in records)
