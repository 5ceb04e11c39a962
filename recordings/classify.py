"""Turning the two byte streams of a connection into transcript records, sans-I/O.

:class:`Recorder` is fed whatever bytes each direction carried, in the order they were seen
(``feed(direction, data)``, ``eof(direction)``), and returns records as chunked streams
complete. It does no I/O and never raises on bad input: garbage, unknown request types,
truncation and streams nobody asked for are recorded as faithfully as well-formed traffic.

Which streams are JSON messages and which are send-stream payloads is not written in the
bytes; it follows from the conversation (docs/PROTOCOL.md §msg, §pullme), which
:class:`ConversationTracker` follows the way a peer would: the requesting side sends a
header then a body; the answering side sends a response header, then a JSON body when the
header announces Filesystems / FilesystemDiff for a request that calls for it, or a send
stream for ChunkedStream; an OK to ``PullMe{Finished:false}`` swaps who requests, and the OK
to the server's ``PullMe{Finished:true}`` swaps back. Messages are decoded with the
reference's Go-exact decoder, so the tracker reads them exactly as the original peer would.

Every stream is hashed as it passes and kept up to a bound, so the decision can wait until
the stream is complete (when all causally earlier traffic is known) and a 1 GiB send stream
costs one digest pass (:mod:`recordings.digest`, xxh3-128 by default) and no memory.
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final, Literal

from bytestreamrpc import messages
from bytestreamrpc.constants import RequestType, ResponseType
from bytestreamrpc.messages import (
    PullMeRequest,
    RequestHeader,
    ResponseHeader,
)

from .digest import DEFAULT_DIGEST, Digest
from .format import (
    C2S,
    PREFIX_LEN,
    S2C,
    Cut,
    Direction,
    EventRecord,
    Record,
    StreamRecord,
    other,
)

__all__ = [
    "GO_BODY_TYPE",
    "GO_FILESYSTEMS",
    "GO_REQUEST_HEADER",
    "GO_RESPONSE_HEADER",
    "GO_VERSIONS",
    "KEEP_LIMIT",
    "ConversationTracker",
    "Recorder",
    "records_from_exchange",
]

KEEP_LIMIT: Final = 16 * 1024 * 1024
"""Payload bytes kept per stream (JSON messages); longer JSON streams keep only a digest."""

GO_REQUEST_HEADER: Final = messages.go_type_of(RequestHeader).go_name
GO_RESPONSE_HEADER: Final = messages.go_type_of(ResponseHeader).go_name
GO_FILESYSTEMS: Final = messages.FILESYSTEMS_TYPE.go_name
GO_VERSIONS: Final = messages.VERSIONS_TYPE.go_name
GO_UNKNOWN_BODY: Final = "unknown"
"""The body type of a request whose header did not decode or named an unknown type."""
GO_BODY_TYPE: Final[dict[int, str]] = {
    int(t): messages.go_type_of(cls).go_name for t, cls in messages.BODY_CLASS_OF.items()
}
_EXPECTED: Final[dict[int, int]] = {
    int(RequestType.PROTOCOL_VERSION): int(ResponseType.OK),
    int(RequestType.FILESYSTEM): int(ResponseType.FILESYSTEMS),
    int(RequestType.FILESYSTEM_VERSIONS): int(ResponseType.FILESYSTEM_DIFF),
    int(RequestType.INITIAL_TRANSFER): int(ResponseType.CHUNKED_STREAM),
    int(RequestType.INCREMENTAL_TRANSFER): int(ResponseType.CHUNKED_STREAM),
    int(RequestType.PULL_ME): int(ResponseType.OK),
    int(RequestType.CLOSE): int(ResponseType.OK),
}

_REQ_HEADER: Final = "request-header"
_REQ_BODY: Final = "request-body"
_RESP_HEADER: Final = "response-header"
_RESP_BODY: Final = "response-body"
_RESP_DATA: Final = "response-data"
_HDR: Final = struct.Struct("<I")


class _Request:
    __slots__ = ("body", "type")

    def __init__(self, rtype: int | None) -> None:
        self.type = rtype
        self.body: object = None


class ConversationTracker:
    """Follows who requests and what each next stream of a direction must be.

    ``expect(d)`` says what the next complete stream of ``d`` is; ``completed(d, payload)``
    tells the tracker it arrived (``payload`` ``None`` when it was too large to keep).
    """

    def __init__(self) -> None:
        self.inverted = False
        self._phase: dict[Direction, str] = {C2S: _REQ_HEADER, S2C: _RESP_HEADER}
        self._body_go: dict[Direction, str] = {C2S: GO_UNKNOWN_BODY, S2C: GO_UNKNOWN_BODY}
        self._pending: deque[_Request] = deque()
        self._last: _Request | None = None

    @property
    def requester(self) -> Direction:
        return S2C if self.inverted else C2S

    def expect(self, d: Direction) -> tuple[Literal["json", "data"], str | None]:
        phase = self._phase[d]
        if phase == _REQ_HEADER:
            return "json", GO_REQUEST_HEADER
        if phase in (_REQ_BODY, _RESP_BODY):
            return "json", self._body_go[d]
        if phase == _RESP_HEADER:
            return "json", GO_RESPONSE_HEADER
        return "data", None

    def completed(self, d: Direction, payload: bytes | None, truncated: bool) -> None:
        phase = self._phase[d]
        if phase == _REQ_HEADER:
            header = _decode(RequestHeader, payload, truncated)
            rtype = header.type if isinstance(header, RequestHeader) else None
            req = _Request(rtype)
            self._pending.append(req)
            self._last = req
            self._phase[d] = _REQ_BODY
            self._body_go[d] = (
                GO_BODY_TYPE.get(rtype, GO_UNKNOWN_BODY) if rtype else GO_UNKNOWN_BODY
            )
        elif phase == _REQ_BODY:
            last = self._last
            if last is not None and last.type in GO_BODY_TYPE:
                cls = messages.BODY_CLASS_OF[RequestType(last.type)]
                last.body = _decode(cls, payload, truncated)
            self._phase[d] = _REQ_HEADER
        elif phase == _RESP_HEADER:
            self._response_header(d, _decode(ResponseHeader, payload, truncated))
        else:
            self._phase[d] = _RESP_HEADER

    def _response_header(self, d: Direction, header: object) -> None:
        req = self._pending.popleft() if self._pending else None
        if not isinstance(header, ResponseHeader):
            return
        rt = header.response_type
        expected = _EXPECTED.get(req.type) if req is not None and req.type is not None else None
        if expected is not None and rt != expected:
            return  # the client reads no body for a response of the wrong type
        if rt == ResponseType.FILESYSTEMS:
            self._phase[d], self._body_go[d] = _RESP_BODY, GO_FILESYSTEMS
        elif rt == ResponseType.FILESYSTEM_DIFF:
            self._phase[d], self._body_go[d] = _RESP_BODY, GO_VERSIONS
        elif rt == ResponseType.CHUNKED_STREAM:
            self._phase[d] = _RESP_DATA
        elif (
            rt == ResponseType.OK
            and req is not None
            and isinstance(req.body, PullMeRequest)
            and (not req.body.finished or self.inverted)
        ):
            self._swap()

    def _swap(self) -> None:
        self.inverted = not self.inverted
        self._pending.clear()
        self._last = None
        self._phase[self.requester] = _REQ_HEADER
        self._phase[other(self.requester)] = _RESP_HEADER


def _decode(cls: type, payload: bytes | None, truncated: bool) -> object:
    """Go-exact decode, or ``None`` for anything that does not decode (never raises)."""
    if payload is None:
        return None
    try:
        return messages.decode_message(cls, payload, truncated=truncated)
    except Exception:  # garbage of any shape: the record keeps the bytes
        return None


@dataclass
class _Done:
    """A chunked stream the parser finished (or EOF cut)."""

    chunks: list[int]
    kept: bytes | None
    length: int
    digest: str
    prefix: bytes
    cut: Cut | None


class _StreamParser:
    """Splits one direction into chunked streams: sizes, digest, kept bytes, cut."""

    __slots__ = (
        "_active",
        "_chunks",
        "_digest",
        "_hasher",
        "_hdr",
        "_keep",
        "_keep_all",
        "_length",
        "_limit",
        "_prefix",
        "_remaining",
        "eof",
    )

    def __init__(self, *, keep_all: bool, limit: int, digest: Digest) -> None:
        self._keep_all = keep_all
        self._digest = digest
        self._limit = limit
        self._hdr = bytearray()
        self._remaining = 0
        self._active = False
        self.eof = False
        self._reset()

    def _reset(self) -> None:
        self._chunks: list[int] = []
        self._hasher = self._digest.hasher()
        self._keep: bytearray | None = bytearray()
        self._length = 0
        self._prefix = b""
        self._active = False

    def _done(self, cut: Cut | None) -> _Done:
        keep = self._keep
        d = _Done(
            self._chunks,
            bytes(keep) if keep is not None else None,
            self._length,
            self._hasher.hexdigest(),
            self._prefix,
            cut,
        )
        self._reset()
        return d

    def feed(self, data: bytes | bytearray | memoryview) -> list[_Done]:
        out: list[_Done] = []
        n = len(data)
        pos = 0
        view = memoryview(data)
        while pos < n:
            remaining = self._remaining
            if remaining:
                take = min(remaining, n - pos)
                piece = view[pos : pos + take]
                self._hasher.update(piece)
                keep = self._keep
                if keep is not None:
                    if self._keep_all or len(keep) + take <= self._limit:
                        keep += piece
                    else:
                        self._keep = None
                if len(self._prefix) < PREFIX_LEN:
                    self._prefix += bytes(piece[: PREFIX_LEN - len(self._prefix)])
                self._length += take
                self._remaining = remaining - take
                pos += take
                continue
            self._active = True
            hdr = self._hdr
            if not hdr and n - pos >= 4:
                (length,) = _HDR.unpack_from(data, pos)
                pos += 4
            else:
                need = 4 - len(hdr)
                hdr += view[pos : pos + need]
                pos += min(need, n - pos)
                if len(hdr) < 4:
                    break
                (length,) = _HDR.unpack(hdr)
                hdr.clear()
            if length == 0:
                out.append(self._done(None))
            else:
                self._chunks.append(length)
                self._remaining = length
        return out

    def finish(self) -> _Done | None:
        """End of file: the cut stream in progress, if any."""
        self.eof = True
        if self._remaining:
            declared = self._chunks.pop()
            self._remaining = 0
            return self._done(Cut(declared=declared))
        if self._active or self._hdr:
            cut = Cut(header=bytes(self._hdr))
            self._hdr.clear()
            return self._done(cut)
        return None


class Recorder:
    """Bytes of both directions in, transcript records out (sans-I/O).

    ``full`` lists the directions whose send streams are kept whole; ``digest`` is what the
    others (and JSON streams too large to keep) are stored as. ``clock`` stamps
    records with seconds since creation (``None``: no timing, e.g. for golden files).
    Records are returned by each call and also collected in :attr:`records`.
    """

    def __init__(
        self,
        *,
        full: Collection[Direction] = (),
        clock: Callable[[], float] | None = None,
        keep_limit: int = KEEP_LIMIT,
        digest: Digest = DEFAULT_DIGEST,
    ) -> None:
        self.tracker = ConversationTracker()
        self.digest = digest
        self._parsers = {
            d: _StreamParser(keep_all=d in full, limit=keep_limit, digest=digest)
            for d in (C2S, S2C)
        }
        self._full = frozenset(full)
        self._seq = {C2S: 0, S2C: 0}
        self._clock = clock
        self._t0 = clock() if clock is not None else 0.0
        self.records: list[Record] = []
        self.crafted = False
        """While true, client-to-server bytes fed are hand-made: the streams they belong to
        are marked ``crafted``."""
        self._taint = False

    @classmethod
    def timed(
        cls, *, full: Collection[Direction] = (), digest: Digest = DEFAULT_DIGEST
    ) -> Recorder:
        return cls(full=full, clock=time.monotonic, digest=digest)

    def _now(self) -> float | None:
        return None if self._clock is None else self._clock() - self._t0

    def _record(self, d: Direction, done: _Done) -> StreamRecord:
        kind, go = self.tracker.expect(d)
        with contextlib.suppress(Exception):  # the tracker never raises; be safe anyway
            self.tracker.completed(d, done.kept, done.cut is not None)
        seq = self._seq[d]
        self._seq[d] = seq + 1
        crafted = False
        if d == C2S:
            crafted = self._taint
            self._taint = self.crafted  # the next stream starts with bytes of this feed
        if kind == "json":
            return StreamRecord(
                dir=d,
                seq=seq,
                kind="json",
                chunks=tuple(done.chunks),
                length=done.length,
                payload=done.kept,
                digest=None if done.kept is not None else done.digest,
                go=go,
                cut=done.cut,
                crafted=crafted,
                t=self._now(),
                digest_alg=self.digest,
            )
        return StreamRecord(
            dir=d,
            seq=seq,
            kind="data",
            chunks=tuple(done.chunks),
            length=done.length,
            payload=done.kept if d in self._full else None,
            digest=done.digest,
            prefix=done.prefix,
            cut=done.cut,
            crafted=crafted,
            t=self._now(),
            digest_alg=self.digest,
        )

    def feed(self, d: Direction, data: bytes | bytearray | memoryview) -> list[Record]:
        """Bytes ``d`` carried; returns the records of the streams they completed."""
        parser = self._parsers[d]
        if parser.eof:
            raise ValueError(f"{d}: data after end of file")
        if not data:
            return self.eof(d)
        if d == C2S and self.crafted:
            self._taint = True
        out: list[Record] = [self._record(d, done) for done in parser.feed(data)]
        self.records.extend(out)
        return out

    def eof(self, d: Direction, reason: str | None = None) -> list[Record]:
        """``d`` ended: a cut stream record (if one was in progress) and the ``eof`` event."""
        parser = self._parsers[d]
        if parser.eof:
            return []
        out: list[Record] = []
        done = parser.finish()
        if done is not None:
            out.append(self._record(d, done))
        out.append(EventRecord("eof", dir=d, reason=reason, t=self._now()))
        self.records.extend(out)
        return out

    def stop(self) -> list[Record]:
        """Recording ends with directions still open: record streams in progress as cut."""
        out: list[Record] = []
        for d in (C2S, S2C):
            parser = self._parsers[d]
            if not parser.eof:
                done = parser.finish()
                if done is not None:
                    out.append(self._record(d, done))
        self.records.extend(out)
        return out

    def exit(self, status: int) -> list[Record]:
        rec = EventRecord("exit", status=status, t=self._now())
        self.records.append(rec)
        return [rec]

    def is_closed(self, d: Direction) -> bool:
        return self._parsers[d].eof


def records_from_exchange(
    steps: list[tuple[Direction, bytes | None]], *, full: Collection[Direction] = (C2S, S2C)
) -> list[Record]:
    """Records for a scripted exchange: ``(direction, bytes)`` in order, ``None`` = EOF.

    For tools (fuzzers, the conformance suite) that hold both directions' bytes already.
    """
    rec = Recorder(full=full)
    for d, data in steps:
        if data is None:
            rec.eof(d)
        elif data:
            rec.feed(d, data)
    rec.stop()
    return rec.records
