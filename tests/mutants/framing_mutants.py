"""Framing defects (§frame): chunk headers, terminators, draining, chunk sizes.

The reference connection builds every JSON message with ``connection.chunked_json`` and
every send-stream piece with ``framing.encode_chunks``; its reader is
``framing.ChunkDecoder`` driven by ``Connection._collect``. Each mutant here replaces one of
those for its own process. The last group are *harmless* variations: other chunk boundaries,
which §frame.boundaries says carry no meaning.
"""

from __future__ import annotations

import struct
from typing import Final

from bytestreamrpc import connection, framing, serving
from bytestreamrpc.connection import Connection, Role
from bytestreamrpc.constants import MAX_WRITE_PAYLOAD
from bytestreamrpc.errors import TruncatedStream
from bytestreamrpc.events import StreamData, StreamEnd
from bytestreamrpc.interfaces import ByteSource
from bytestreamrpc.transport import Transport

from .registry import mutant, replace
from .wire_json import first_value_end

_LITTLE: Final = struct.Struct("<I")
_BIG: Final = struct.Struct(">I")


def chunks(data: bytes | memoryview, size: int, header: struct.Struct = _LITTLE) -> bytes:
    """``data`` as chunks of ``size`` payload bytes (no terminator), any size allowed."""
    view = memoryview(data)
    parts: list[bytes] = []
    for start in range(0, len(view), size):
        piece = view[start : start + size]
        parts.append(header.pack(len(piece)))
        parts.append(bytes(piece))
    return b"".join(parts)


def _use_writer(json_size: int | None, stream_size: int | None) -> None:
    """Chunk JSON messages and/or send streams with other (little-endian) sizes."""
    if json_size is not None:
        size = json_size
        replace(connection, "chunked_json", lambda payload: chunks(payload, size) + b"\0\0\0\0")
    if stream_size is not None:
        ssize = stream_size

        def encode_chunks(data: bytes | memoryview, max_payload: int = MAX_WRITE_PAYLOAD) -> bytes:
            return chunks(data, ssize)

        replace(framing, "encode_chunks", encode_chunks)


# --------------------------------------------------------------------------- defects


@mutant(
    "frame-big-endian",
    role=Role.SERVER,
    description="writes chunk lengths big-endian (reads them little-endian)",
    sections=("§frame.chunk",),
    family="framing",
)
def _big_endian() -> None:
    def encode_chunks(data: bytes | memoryview, max_payload: int = MAX_WRITE_PAYLOAD) -> bytes:
        return chunks(data, max_payload, _BIG)

    def encode_stream(data: bytes | memoryview, max_payload: int = MAX_WRITE_PAYLOAD) -> bytes:
        return chunks(data, max_payload, _BIG) + framing.TERMINATOR

    replace(framing, "encode_chunks", encode_chunks)
    replace(framing, "encode_stream", encode_stream)
    replace(framing, "chunk_header", _BIG.pack)


@mutant(
    "frame-no-terminator",
    role=Role.SERVER,
    description="ends JSON messages without the zero chunk (send streams keep theirs)",
    sections=("§frame.terminator", "§json.stream"),
    family="framing",
)
def _no_terminator() -> None:
    replace(connection, "chunked_json", lambda payload: framing.encode_chunks(payload))


@mutant(
    "stream-empty-chunk-midway",
    role=Role.SERVER,
    description="writes a zero-length chunk in the middle of each send stream (a source read "
    "that returned nothing), ending it early; the rest follows as stray bytes",
    sections=("§frame.writer-zero-read", "§frame.terminator", "§server.init.ok"),
    family="transfers",
)
def _empty_chunk_midway() -> None:
    def pump(
        conn: Connection, transport: Transport, stream: ByteSource, timeout: float | None
    ) -> None:
        first = True
        while True:
            try:
                block = stream.read(serving.STREAM_BLOCK)
            except Exception:  # like the reference: a failing source closes the connection
                conn.abort()
                return
            if not block:
                break
            if first and len(block) > 1:
                half = len(block) // 2
                data = conn.send(StreamData(block[:half])) + framing.TERMINATOR
                data += framing.encode_chunks(block[half:])
                transport.write(data, timeout)
            else:
                transport.write(conn.send(StreamData(block)), timeout)
            first = False
        transport.write(conn.send(StreamEnd()), timeout)

    replace(serving, "_pump", pump)


@mutant(
    "json-no-drain",
    role=Role.SERVER,
    description="keeps the bytes after a message's first JSON value and reads them as the start "
    "of the next message (no drain), so trailing bytes corrupt the next message",
    sections=("§frame.drain", "§json.first-value", "§json.decode.trailing"),
    family="framing",
)
def _no_drain() -> None:
    collect = Connection._collect

    def no_drain_collect(self: Connection) -> object:
        got = collect(self)
        if not isinstance(got, bytes):
            return got
        data = getattr(self, "_mutant_carry", b"") + got
        end = first_value_end(data)
        self._mutant_carry = b"" if end is None else data[end:]  # type: ignore[attr-defined]
        return data if end is None else data[:end]

    replace(Connection, "_collect", no_drain_collect)


class _ChunkLimitDecoder(framing.ChunkDecoder):
    """A reader that treats a chunk longer than the original writer's maximum as broken."""

    def _oversized(self) -> bool:
        if self._remaining or self.buffered < 4:
            return False
        (length,) = _LITTLE.unpack_from(self._buf, self._pos)
        return bool(length > MAX_WRITE_PAYLOAD)

    def take_whole_stream(self) -> bytes | None:
        return None if self._oversized() else super().take_whole_stream()

    def next_event(self, max_payload: int = 1 << 20) -> framing.FrameEvent:
        if self._oversized():
            raise TruncatedStream("header", 0)
        return super().next_event(max_payload)


@mutant(
    "frame-reader-max-32764",
    role=Role.SERVER,
    description="rejects chunks longer than 32764 bytes (the writer's maximum) as broken framing",
    sections=("§frame.reader-any-length",),
    family="framing",
)
def _reader_max() -> None:
    replace(framing, "ChunkDecoder", _ChunkLimitDecoder)


# --------------------------------------------------------------------------- harmless


@mutant(
    "frame-max-chunk-65536",
    role=Role.SERVER,
    description="writes send-stream chunks of up to 65536 bytes, above the original's 32764",
    sections=("§frame.writer-max",),
    family="framing",
    expect="NO-FAIL",
)
def _max_chunk_65536() -> None:
    _use_writer(None, 65536)


@mutant(
    "chunks-odd",
    role=Role.SERVER,
    description="JSON messages in 7-byte chunks, send streams in 4093-byte chunks",
    sections=("§frame.boundaries",),
    family="framing",
    expect="NO-FAIL",
)
def _chunks_odd() -> None:
    _use_writer(7, 4093)


@mutant(
    "json-byte-chunks",
    role=Role.SERVER,
    description="every JSON message one chunk per byte",
    sections=("§frame.boundaries", "§json.stream"),
    family="framing",
    expect="NO-FAIL",
)
def _json_byte_chunks() -> None:
    _use_writer(1, None)
