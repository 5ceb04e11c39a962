"""Chunked framing (docs/PROTOCOL.md §frame), sans-I/O.

A connection carries a sequence of *chunked streams*. Each chunk is a 4-byte
little-endian length followed by that many payload bytes; a zero length ends
the stream (§frame.chunk, §frame.terminator).

:class:`ChunkDecoder` is an h11-style incremental parser: feed it whatever
byte slices the transport delivered (``receive_data``), including ``b""`` for
end of file, and pull events with ``next_event``. It never allocates the
length a peer *declares*: it only ever holds the bytes it was fed, and hands
payload out in pieces as they arrive (§frame.reader-any-length). Running out
of bytes inside a header or payload is :class:`~bytestreamrpc.errors.TruncatedStream`,
distinct from a clean end of file between two streams (§frame.truncation).

The encoder side is a handful of pure functions producing chunks of at most
:data:`~bytestreamrpc.constants.MAX_WRITE_PAYLOAD` bytes and never a
zero-length chunk before the end of the data (§frame.writer-max,
§frame.writer-zero-read).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from .constants import CHUNK_HEADER_SIZE, MAX_WRITE_PAYLOAD
from .errors import LocalProtocolError, TruncatedStream

_HEADER: Final = struct.Struct("<I")
TERMINATOR: Final = b"\x00\x00\x00\x00"
"""The zero chunk that ends every chunked stream."""


@dataclass(frozen=True, slots=True)
class Payload:
    """A piece of payload; chunk boundaries are not reported (§frame.boundaries)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The zero chunk: the current chunked stream is complete."""


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """End of file where a new chunked stream would start: a clean close."""


class NeedData:
    """Type of the sentinel NEED_DATA: feed more bytes (``b""``: EOF); public, as in h11."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()
FrameEvent = Payload | EndOfStream | PeerClosed | NeedData

_END_OF_STREAM: Final = EndOfStream()
_PEER_CLOSED: Final = PeerClosed()


class ChunkDecoder:
    """Incremental decoder for a sequence of chunked streams.

    Memory held is bounded by what was fed and not yet returned; compaction
    keeps the internal buffer from growing with the total bytes seen.
    """

    __slots__ = ("_buf", "_eof", "_in_stream", "_pos", "_remaining", "chunks_seen")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._remaining = 0  # payload bytes left in the current chunk
        self._in_stream = False  # a chunk of the current stream has been read
        self._eof = False
        self.chunks_seen = 0
        """Data chunks seen so far (boundaries are observable for diagnostics)."""

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet consumed."""
        return len(self._buf) - self._pos

    @property
    def at_stream_start(self) -> bool:
        """True between two chunked streams (nothing of the next one consumed)."""
        return not self._in_stream and self._remaining == 0

    @property
    def eof(self) -> bool:
        return self._eof

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes from the transport; ``b""`` means end of file."""
        if self._eof:
            if data:
                raise LocalProtocolError("received data after end of file")
            return
        if not data:
            self._eof = True
            return
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def unconsumed(self) -> bytes:
        """Remove and return bytes fed but not yet parsed (e.g. for a role switch)."""
        rest = bytes(self._buf[self._pos :])
        self._buf.clear()
        self._pos = 0
        return rest

    def take_whole_stream(self) -> bytes | None:
        """Fast path: if a complete one-chunk (or empty) stream is buffered, consume it.

        Returns its payload, or ``None`` (nothing consumed) when the buffered
        bytes do not hold one whole small stream; callers then fall back to
        :meth:`next_event`. Small JSON messages always arrive this way from
        conformant writers, so this skips the per-event work for them.
        """
        if self._remaining or self._in_stream:
            return None
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail < CHUNK_HEADER_SIZE:
            return None
        (length,) = _HEADER.unpack_from(buf, pos)
        if length == 0:
            self._pos = pos + CHUNK_HEADER_SIZE
            return b""
        end = pos + CHUNK_HEADER_SIZE + length
        if (
            avail < CHUNK_HEADER_SIZE * 2 + length
            or buf[end : end + CHUNK_HEADER_SIZE] != TERMINATOR
        ):
            return None
        self._pos = end + CHUNK_HEADER_SIZE
        self.chunks_seen += 1
        return bytes(buf[pos + CHUNK_HEADER_SIZE : end])

    def next_event(self, max_payload: int = 1 << 20) -> FrameEvent:
        """Return the next event, :data:`NEED_DATA`, or raise :class:`TruncatedStream`."""
        avail = len(self._buf) - self._pos
        if self._remaining == 0:
            if avail < CHUNK_HEADER_SIZE:
                if not self._eof:
                    return NEED_DATA
                if avail == 0 and not self._in_stream:
                    return _PEER_CLOSED
                raise TruncatedStream("header", CHUNK_HEADER_SIZE - avail)
            (length,) = _HEADER.unpack_from(self._buf, self._pos)
            self._pos += CHUNK_HEADER_SIZE
            avail -= CHUNK_HEADER_SIZE
            if length == 0:
                self._in_stream = False
                return _END_OF_STREAM
            self._in_stream = True
            self._remaining = length
            self.chunks_seen += 1
        if avail == 0:
            if self._eof:
                raise TruncatedStream("payload", self._remaining)
            return NEED_DATA
        take = min(avail, self._remaining, max_payload)
        start = self._pos
        self._pos += take
        self._remaining -= take
        return Payload(bytes(self._buf[start : self._pos]))


def chunk_header(length: int) -> bytes:
    """The 4-byte little-endian header for a chunk of ``length`` payload bytes."""
    return _HEADER.pack(length)


def iter_chunks(data: bytes | memoryview, max_payload: int = MAX_WRITE_PAYLOAD) -> Iterator[bytes]:
    """Yield header+payload pieces for ``data`` (no terminator, nothing for empty data)."""
    if not 0 < max_payload <= MAX_WRITE_PAYLOAD:
        raise LocalProtocolError(f"chunk payload size must be 1..{MAX_WRITE_PAYLOAD}")
    view = memoryview(data)
    for start in range(0, len(view), max_payload):
        piece = view[start : start + max_payload]
        yield _HEADER.pack(len(piece))
        yield bytes(piece)


def encode_chunks(data: bytes | memoryview, max_payload: int = MAX_WRITE_PAYLOAD) -> bytes:
    """Chunk ``data`` without the terminator (for streams written in parts)."""
    return b"".join(iter_chunks(data, max_payload))


def encode_stream(data: bytes | memoryview, max_payload: int = MAX_WRITE_PAYLOAD) -> bytes:
    """A complete chunked stream: ``data`` in chunks, then the zero chunk.

    ``encode_stream(b"")`` is ``00 00 00 00``; ``encode_stream(b"\\xca\\xfe")``
    is ``02 00 00 00 CA FE 00 00 00 00`` (§frame.empty-input).
    """
    n = len(data)
    if 0 < n <= max_payload <= MAX_WRITE_PAYLOAD:  # the common single-chunk case
        return _HEADER.pack(n) + bytes(data) + TERMINATOR
    return encode_chunks(data, max_payload) + TERMINATOR


def decode_stream(data: bytes) -> tuple[bytes, bytes]:
    """Decode one complete chunked stream from ``data``.

    Returns ``(payload, rest)`` where ``rest`` is what followed the zero
    chunk. Raises :class:`TruncatedStream` if the stream is incomplete. A
    convenience for tests and tools; connections use :class:`ChunkDecoder`.
    """
    dec = ChunkDecoder()
    dec.receive_data(data)
    dec.receive_data(b"")
    parts: list[bytes] = []
    while True:
        ev = dec.next_event(max_payload=len(data) + 1)
        if isinstance(ev, Payload):
            parts.append(ev.data)
        elif isinstance(ev, EndOfStream):
            return b"".join(parts), dec.unconsumed()
        else:  # PeerClosed: no stream at all
            raise TruncatedStream("header", CHUNK_HEADER_SIZE)
