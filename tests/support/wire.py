"""Raw-bytes conversation helpers for tests: build requests by hand, read what comes back."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from bytestreamrpc import framing, messages
from bytestreamrpc.constants import ResponseType
from bytestreamrpc.errors import PeerTimeout, ProtocolError, TruncatedStream
from bytestreamrpc.transport import Transport


def chunked(payload: bytes) -> bytes:
    return framing.encode_stream(payload)


def raw_request(rtype: int, body: bytes | object, rid: bytes = bytes(16)) -> bytes:
    """Header + body, each its own chunked stream; ``body`` is raw JSON bytes or a message."""
    header = json.dumps({"Type": rtype, "Id": list(rid)}, separators=(",", ":")).encode() + b"\n"
    body_bytes = body if isinstance(body, bytes) else messages.encode_message(body)
    return chunked(header) + chunked(body_bytes)


@dataclass
class Reply:
    """One response as seen on the wire."""

    header: messages.ResponseHeader
    raw_header: bytes
    body: bytes | None = None  # JSON body or unchunked send stream


@dataclass
class Transcript:
    replies: list[Reply] = field(default_factory=list)
    closed: bool = False
    truncated: bool = False
    raw: bytes = b""
    garbage: str | None = None  # why the rest of ``raw`` did not parse as responses


def read_until_quiet(
    transport: Transport, quiet: float = 0.3, limit: float = 10.0
) -> tuple[bytes, bool]:
    """Everything the peer sends until it closes (True) or stays quiet for ``quiet`` s (False)."""
    parts: list[bytes] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            data = transport.read(1 << 20, quiet)
        except PeerTimeout:
            return b"".join(parts), False
        if not data:
            return b"".join(parts), True
        parts.append(data)
    return b"".join(parts), False


def parse_replies(raw: bytes, body_after: dict[int, str] | None = None) -> Transcript:
    """Split server output into replies.

    A JSON body follows a Filesystems / FilesystemDiff header; a send stream
    follows a ChunkedStream header.
    """
    out = Transcript(raw=raw)
    dec = framing.ChunkDecoder()
    dec.receive_data(raw)
    dec.receive_data(b"")

    def next_stream() -> bytes | None:
        parts: list[bytes] = []
        while True:
            ev = dec.next_event(max_payload=len(raw) + 1)
            if isinstance(ev, framing.Payload):
                parts.append(ev.data)
            elif isinstance(ev, framing.EndOfStream):
                return b"".join(parts)
            else:
                return None

    try:
        while (hdr_bytes := next_stream()) is not None:
            header = messages.decode_message(messages.ResponseHeader, hdr_bytes)
            reply = Reply(header, hdr_bytes)
            if header.response_type in (
                ResponseType.FILESYSTEMS,
                ResponseType.FILESYSTEM_DIFF,
                ResponseType.CHUNKED_STREAM,
            ):
                reply.body = next_stream()
            out.replies.append(reply)
    except TruncatedStream as exc:
        out.truncated = True
        out.garbage = str(exc)
    except ProtocolError as exc:  # a header that does not decode
        out.garbage = str(exc)
    return out


def converse(transport: Transport, data: bytes, *, quiet: float = 0.3) -> Transcript:
    """Send ``data``, then collect replies until the peer closes or goes quiet."""
    transport.write(data, 5)
    raw, closed = read_until_quiet(transport, quiet)
    t = parse_replies(raw)
    t.closed = closed
    return t
