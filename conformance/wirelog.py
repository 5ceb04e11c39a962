"""The wire log of one case: every byte each direction carried, decoded for reports.

A :class:`LoggedTransport` wraps any transport and appends what passes through it to a
:class:`WireLog` with a timestamp. The log renders three ways, none of which fails whatever
the bytes: :meth:`WireLog.transcript_lines` in the recordings' transcript format
(docs/RECORDINGS.md: one JSON record per chunked stream with its exact chunk boundaries, the
decoded message, send streams as length + SHA-256 + prefix; ``c2s`` is always the client's
direction, whichever side the suite plays), :meth:`WireLog.transcript` as short text lines
for reading, and :meth:`WireLog.hexdump`.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

from bytestreamrpc.transport import READ_SIZE, Transport

from .wire import Stream, show_json, split_streams

OUT: Final = "suite>iut"
IN: Final = "iut>suite"
HEX_LIMIT: Final = 256
"""Bytes of each stream shown in the hex view."""
MAX_LOGGED: Final = 64 * 1024 * 1024
"""Per direction; beyond this only the count is kept (a flood must not exhaust memory)."""


@dataclass
class _Direction:
    parts: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # start offset of each part
    times: list[float] = field(default_factory=list)
    size: int = 0
    dropped: int = 0
    eof_at: float | None = None


class WireLog:
    """Bytes per direction with arrival times (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._dirs = {OUT: _Direction(), IN: _Direction()}
        self.marks: list[tuple[float, str]] = []
        """Free-text events (``closed our side``, ``killed``) shown in the transcript."""
        self._steps: list[tuple[str, bytes | None]] = []
        """Everything in arrival order (``None``: end of file), for the transcript format."""

    def record(self, direction: str, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            d = self._dirs[direction]
            if d.size + len(data) > MAX_LOGGED:
                d.dropped += len(data)
                return
            d.offsets.append(d.size)
            d.times.append(time.monotonic() - self._t0)
            d.parts.append(bytes(data))
            d.size += len(data)
            self._steps.append((direction, d.parts[-1]))

    def record_eof(self, direction: str) -> None:
        with self._lock:
            d = self._dirs[direction]
            if d.eof_at is None:
                d.eof_at = time.monotonic() - self._t0
                self._steps.append((direction, None))

    def mark(self, text: str) -> None:
        with self._lock:
            self.marks.append((time.monotonic() - self._t0, text))

    def data(self, direction: str) -> bytes:
        with self._lock:
            return b"".join(self._dirs[direction].parts)

    def _time_at(self, direction: str, offset: int) -> float:
        d = self._dirs[direction]
        i = bisect.bisect_right(d.offsets, offset) - 1
        return d.times[i] if i >= 0 else 0.0

    # ------------------------------------------------------------------ rendering
    def transcript_lines(self, *, suite_is_client: bool, **header: Any) -> list[str]:
        """The log in the recordings' transcript format (header, records, end line).

        ``header`` fills :class:`recordings.format.Header` (``scenario``, ``title``,
        ``fixture``, ``profile``, ``identity``). Bytes the suite wrote as a client are
        marked ``crafted`` (hand-made requests, not a peer's output).
        """
        from recordings.classify import Recorder
        from recordings.format import C2S, S2C, Header, dumps_end, dumps_header, dumps_record

        to = {OUT: C2S, IN: S2C} if suite_is_client else {OUT: S2C, IN: C2S}
        rec = Recorder()
        rec.crafted = suite_is_client
        with self._lock:
            steps = list(self._steps)
        for direction, data in steps:
            try:
                if data is None:
                    rec.eof(to[direction])
                else:
                    rec.feed(to[direction], data)
            except ValueError:  # bytes after end of file: nothing more to record
                break
        rec.stop()
        lines = [dumps_header(Header(what="conformance", **header))]
        lines += [dumps_record(r) for r in rec.records]
        lines.append(dumps_end(len(rec.records)))
        return lines

    def _entries(self) -> list[tuple[float, str, int, Stream, int]]:
        """(time, direction, index, stream, start offset) for every stream, in time order."""
        out: list[tuple[float, str, int, Stream, int]] = []
        for direction in (OUT, IN):
            raw = self.data(direction)
            pos = 0
            for i, s in enumerate(split_streams(raw), 1):
                out.append((self._time_at(direction, pos), direction, i, s, pos))
                pos += 4 * len(s.chunks) + len(s.payload) + (4 if s.complete else 0)
        out.sort(key=lambda e: (e[0], e[1] != OUT))
        return out

    def transcript(self) -> str:
        """The decoded wire log (one line per chunked stream, both directions)."""
        lines: list[tuple[float, str]] = []
        for t, direction, i, s, _ in self._entries():
            lines.append((t, f"{t:8.3f} {direction} #{i:<3} {describe_stream(s)}"))
        with self._lock:
            for direction, d in self._dirs.items():
                if d.eof_at is not None:
                    lines.append((d.eof_at, f"{d.eof_at:8.3f} {direction} EOF"))
                if d.dropped:
                    lines.append((1e9, f"         {direction} ({d.dropped} more bytes not kept)"))
            for t, text in self.marks:
                lines.append((t, f"{t:8.3f} -- {text}"))
        lines.sort(key=lambda x: x[0])
        return "\n".join(text for _, text in lines)

    def hexdump(self) -> str:
        """Each stream's raw bytes in hex (the first :data:`HEX_LIMIT` bytes of each)."""
        out: list[str] = []
        for _t, direction, i, s, start in self._entries():
            raw = self.data(direction)
            size = 4 * len(s.chunks) + len(s.payload) + (4 if s.complete else 0)
            piece = raw[start : start + min(size, HEX_LIMIT)]
            more = f" ... (+{size - HEX_LIMIT} bytes)" if size > HEX_LIMIT else ""
            out.append(f"{direction} #{i}: {_hex(piece)}{more}")
        return "\n".join(out)


def _hex(data: bytes) -> str:
    return " ".join(data[i : i + 4].hex() for i in range(0, len(data), 4))


def describe_stream(s: Stream) -> str:
    """``chunks=[..] json {...}`` or ``chunks=[..] bytes len=N sha256=... prefix=..``."""
    chunks = s.describe_chunks()
    payload = s.payload
    stripped = payload.lstrip(b" \t\r\n")
    if len(payload) <= 64 * 1024 and (
        not payload or stripped[:1] in (b"{", b"[", b'"') or stripped[:4] in (b"null", b"true")
    ):
        return f"chunks={chunks} json {show_json(payload)}"
    digest = hashlib.sha256(payload).hexdigest()[:16]
    prefix = payload[:16].hex()
    return f"chunks={chunks} bytes len={len(payload)} sha256={digest}… prefix={prefix}"


class LoggedTransport:
    """A transport that records everything read and written on a :class:`WireLog`."""

    def __init__(self, inner: Transport, log: WireLog) -> None:
        self.inner = inner
        self.log = log

    def read(self, max_bytes: int = READ_SIZE, timeout: float | None = None) -> bytes:
        data = self.inner.read(max_bytes, timeout)
        if data:
            self.log.record(IN, data)
        else:
            self.log.record_eof(IN)
        return data

    def write(self, data: bytes, timeout: float | None = None) -> None:
        self.inner.write(data, timeout)
        self.log.record(OUT, data)

    def close_write(self) -> None:
        close_write = getattr(self.inner, "close_write", None)
        if callable(close_write):
            close_write()
        self.log.record_eof(OUT)

    def close(self) -> None:
        self.inner.close()
