"""Bytes on the wire, taken apart without trusting them: chunked streams, requests, responses.

The suite must describe whatever an implementation sends, including output that breaks the
framing, so nothing here raises on bad input: :func:`split_streams` returns every chunked
stream it could delimit plus, for the last one, *where* the bytes ran out
(§frame.truncation), and the message parsers keep undecodable JSON as an error text next to
the raw bytes. Decoding uses the reference's Go-exact decoder, so "decodes to the same
values" means exactly "a Go peer would see the same values".

Request builders for hand-made (and deliberately broken) requests live here too.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Final

from bytestreamrpc import framing, messages
from bytestreamrpc.constants import MAX_WRITE_PAYLOAD, RequestType, ResponseType
from bytestreamrpc.errors import DecodeError
from bytestreamrpc.messages import (
    DatasetPath,
    FilesystemVersion,
    RequestHeader,
    ResponseHeader,
)

_LEN: Final = struct.Struct("<I")
ZERO_ID: Final = bytes(16)

BODY_RESPONSE_TYPES: Final = frozenset(
    {int(ResponseType.FILESYSTEMS), int(ResponseType.FILESYSTEM_DIFF)}
)


# --------------------------------------------------------------------------- streams


@dataclass
class Stream:
    """One chunked stream as it arrived: data chunk sizes, content, and how it ended.

    ``end`` is ``"zero"`` (the zero chunk), or where the input ran out: ``"header"``
    (inside a 4-byte length, §frame.truncation (b)), ``"boundary"`` (after a complete data
    chunk, (c)) or ``"payload"`` (inside a payload, (d)).
    """

    chunks: list[int] = field(default_factory=list)
    payload: bytes = b""
    end: str = "zero"
    declared: int = 0
    """For ``end == "payload"``: the length the cut-off chunk declared."""

    @property
    def complete(self) -> bool:
        return self.end == "zero"

    def describe_chunks(self) -> str:
        sizes = ", ".join(str(n) for n in self.chunks[:12])
        if len(self.chunks) > 12:
            sizes += f", ... ({len(self.chunks)} data chunks)"
        ending = "0" if self.complete else f"EOF inside {self.end}"
        return f"[{sizes}{', ' if self.chunks else ''}{ending}]"


def split_streams(raw: bytes) -> list[Stream]:
    """Every chunked stream in ``raw``; only the last one can be incomplete."""
    out: list[Stream] = []
    pos, n = 0, len(raw)
    cur: Stream | None = None
    parts: list[bytes] = []
    while pos < n:
        if cur is None:
            cur, parts = Stream(), []
        if n - pos < 4:
            cur.end = "header"
            cur.payload = b"".join(parts)
            out.append(cur)
            return out
        (length,) = _LEN.unpack_from(raw, pos)
        pos += 4
        if length == 0:
            cur.payload = b"".join(parts)
            out.append(cur)
            cur = None
            continue
        cur.chunks.append(length)
        if n - pos < length:
            parts.append(raw[pos:])
            cur.end, cur.declared = "payload", length
            cur.payload = b"".join(parts)
            out.append(cur)
            return out
        parts.append(raw[pos : pos + length])
        pos += length
    if cur is not None:
        cur.end = "boundary"
        cur.payload = b"".join(parts)
        out.append(cur)
    return out


# --------------------------------------------------------------------------- JSON text


def show_json(payload: bytes, limit: int = 600) -> str:
    """A one-line rendering of a JSON message's bytes (escaped where not printable)."""
    text = payload.decode("utf-8", "backslashreplace")
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(payload)} bytes)"
    return text


# --------------------------------------------------------------------------- responses


@dataclass
class ResponseFrame:
    """One response: its header stream and, where the response type names one, its body."""

    header_stream: Stream
    header: ResponseHeader | None
    header_error: str | None = None
    body_stream: Stream | None = None
    paths: tuple[DatasetPath, ...] | None = None
    versions: tuple[FilesystemVersion, ...] | None = None
    body_error: str | None = None

    @property
    def error_id(self) -> int | None:
        return None if self.header is None else self.header.error_id

    @property
    def response_type(self) -> int | None:
        return None if self.header is None else self.header.response_type

    @property
    def is_stream(self) -> bool:
        return self.response_type == ResponseType.CHUNKED_STREAM

    @property
    def stream_data(self) -> bytes:
        return self.body_stream.payload if self.body_stream is not None else b""

    @property
    def complete(self) -> bool:
        if not self.header_stream.complete:
            return False
        return self.body_stream is None or self.body_stream.complete

    def summary(self) -> str:
        """One line: header fields, body shape."""
        if self.header is None:
            return f"undecodable header {show_json(self.header_stream.payload, 200)}"
        h = self.header
        s = f"E({h.error_id}, {h.message!r})" if h.error_id else f"OK({h.response_type:#04x})"
        if h.error_id and h.response_type:
            s += f" type {h.response_type:#04x}"
        if self.body_stream is not None:
            b = self.body_stream
            if self.is_stream:
                s += f" + stream of {len(b.payload)} bytes"
            elif self.body_error:
                s += f" + undecodable body ({self.body_error})"
            else:
                s += f" + {show_json(b.payload, 160)}"
            if not b.complete:
                s += f" (cut off: EOF inside {b.end})"
        return s


def decode_response_header(payload: bytes) -> tuple[ResponseHeader | None, str | None]:
    try:
        return messages.decode_message(ResponseHeader, payload), None
    except DecodeError as exc:
        return None, str(exc)


def parse_responses(raw: bytes) -> tuple[list[ResponseFrame], Stream | None]:
    """Split a server's output into responses.

    A Filesystems / FilesystemDiff header is followed by one JSON message, a ChunkedStream
    header by one chunked stream (the send stream). Returns the complete responses and the
    incomplete trailing stream, if the output ended inside one (a response whose *body* is
    cut off is still returned, marked incomplete).
    """
    streams = split_streams(raw)
    frames: list[ResponseFrame] = []
    i = 0
    while i < len(streams):
        hs = streams[i]
        i += 1
        if not hs.complete:
            return frames, hs
        header, err = decode_response_header(hs.payload)
        frame = ResponseFrame(hs, header, err)
        frames.append(frame)
        if header is None:
            continue
        if header.response_type in BODY_RESPONSE_TYPES or (
            header.response_type == ResponseType.CHUNKED_STREAM
        ):
            if i >= len(streams):
                frame.body_stream = Stream(end="header")
                return frames, None
            body = streams[i]
            i += 1
            frame.body_stream = body
            if header.response_type == ResponseType.FILESYSTEMS:
                try:
                    frame.paths = messages.decode_filesystems(body.payload) or ()
                except DecodeError as exc:
                    frame.body_error = str(exc)
            elif header.response_type == ResponseType.FILESYSTEM_DIFF:
                try:
                    frame.versions = messages.decode_versions(body.payload) or ()
                except DecodeError as exc:
                    frame.body_error = str(exc)
            if not body.complete:
                return frames, None
    return frames, None


# --------------------------------------------------------------------------- requests


@dataclass
class RequestFrame:
    """One request as a client sent it: header stream, body stream, decoded values."""

    header_stream: Stream
    header: RequestHeader | None
    header_error: str | None = None
    body_stream: Stream | None = None
    body: object | None = None
    body_error: str | None = None

    @property
    def type(self) -> int | None:
        return None if self.header is None else self.header.type

    def summary(self) -> str:
        if self.header is None:
            return f"undecodable request header {show_json(self.header_stream.payload, 200)}"
        try:
            name = RequestType(self.header.type).name
        except ValueError:
            name = f"type {self.header.type:#04x}"
        if self.body_stream is None:
            return f"{name} (no body)"
        return f"{name} {show_json(self.body_stream.payload, 300)}"


def decode_request_body(rtype: int, payload: bytes) -> tuple[object | None, str | None]:
    try:
        cls = messages.BODY_CLASS_OF[RequestType(rtype)]
    except ValueError:
        return None, f"unknown request type {rtype}"
    try:
        return messages.decode_message(cls, payload), None
    except DecodeError as exc:
        return None, str(exc)


# --------------------------------------------------------------------------- builders


def chunked(payload: bytes, sizes: list[int] | None = None) -> bytes:
    """``payload`` as one chunked stream; ``sizes`` gives explicit data chunk sizes.

    The sizes may exceed the writer maximum (readers must accept any length) and must add
    up to the payload length; a trailing remainder becomes one more chunk.
    """
    if sizes is None:
        return framing.encode_stream(payload) if payload else framing.TERMINATOR
    out, pos = bytearray(), 0
    for size in sizes:
        piece = payload[pos : pos + size]
        if not piece:
            break
        out += _LEN.pack(len(piece)) + piece
        pos += len(piece)
    if pos < len(payload):
        out += _LEN.pack(len(payload) - pos) + payload[pos:]
    return bytes(out) + framing.TERMINATOR


def header_json(rtype: int, rid: bytes = ZERO_ID) -> bytes:
    """A request header exactly as Go encodes it."""
    return messages.encode_message(RequestHeader(type=rtype, id=rid))


def request(rtype: int, body: bytes | object, rid: bytes = ZERO_ID) -> bytes:
    """Header and body, each its own chunked stream (Go bytes unless ``body`` is raw)."""
    body_bytes = body if isinstance(body, bytes) else messages.encode_message(body)
    return chunked(header_json(rtype, rid)) + chunked(body_bytes)


def go_json(obj: object) -> bytes:
    """Compact JSON (Go's spacing) of plain Python data, with Go's trailing newline."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def version_obj(v: FilesystemVersion) -> dict[str, object]:
    return {"Type": v.type, "Name": v.name, "Guid": v.guid, "CreateTXG": v.create_txg}


def writer_max_ok(stream: Stream) -> bool:
    """§frame.writer-max: no data chunk above 32 764 bytes."""
    return all(n <= MAX_WRITE_PAYLOAD for n in stream.chunks)
