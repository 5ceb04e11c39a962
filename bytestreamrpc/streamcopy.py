"""Whole-stream chunking and unchunking between file descriptors (``frame encode/decode``).

These are I/O adapters with their own tight loops rather than event-by-event
use of :class:`~bytestreamrpc.framing.ChunkDecoder`: moving gigabytes through
Python wants few system calls and no per-chunk copies, so payload is written
straight out of the read buffer with ``os.writev``. The framing rules are the
same (§frame.*); tests check both paths against each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import struct
from typing import Final

from .constants import CHUNK_HEADER_SIZE, MAX_WRITE_PAYLOAD
from .errors import FramingError, TruncatedStream
from .framing import TERMINATOR

_HDR: Final = struct.Struct("<I")
BLOCK: Final = 32 * MAX_WRITE_PAYLOAD
"""Read size: a whole number of maximal chunks (about 1 MiB)."""
_F_SETPIPE_SZ: Final = 1031
_IOV_MAX: Final = 512


def widen_pipe(fd: int, size: int = 1 << 20) -> None:
    """Ask the kernel for a bigger pipe buffer (fewer, larger reads); ignore refusal."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)


def _writev_all(fd: int, bufs: list[memoryview | bytes]) -> None:
    while bufs:
        n = os.writev(fd, bufs[:_IOV_MAX])
        while bufs and n >= len(bufs[0]):
            n -= len(bufs[0])
            bufs.pop(0)
        if n:
            bufs[0] = memoryview(bufs[0])[n:]


def _readable_now(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def chunk_fd(in_fd: int, out_fd: int, *, max_payload: int = MAX_WRITE_PAYLOAD) -> int:
    """Chunk everything from ``in_fd`` to ``out_fd``, then the zero chunk.

    Emits maximal chunks while input keeps coming and flushes a partial
    chunk only when no more input is ready, so an interactive producer is
    not held back. Never emits a zero-length chunk before the end
    (§frame.writer-zero-read). Returns the payload byte count.
    """
    buf = bytearray(BLOCK + max_payload)
    view = memoryview(buf)
    fill = 0
    total = 0
    eof = False
    while not eof:
        n = os.readv(in_fd, [view[fill : fill + BLOCK]])
        if n == 0:
            eof = True
        fill += n
        full = fill - fill % max_payload
        if fill and (eof or full == 0 or not _readable_now(in_fd)) and fill != full:
            full = fill  # flush the partial tail too
        if full:
            iov: list[memoryview | bytes] = []
            for start in range(0, full, max_payload):
                size = min(max_payload, full - start)
                iov.append(_HDR.pack(size))
                iov.append(view[start : start + size])
            _writev_all(out_fd, iov)
            total += full
            rest = fill - full
            if rest:
                buf[:rest] = buf[full:fill]
            fill = rest
    _writev_all(out_fd, [TERMINATOR])
    return total


class TrailingBytes(FramingError):
    """Bytes followed the zero chunk where one stream was expected."""


def unchunk_fd(in_fd: int, out_fd: int, *, multi: bool = False) -> int:
    """Unchunk one chunked stream (or, with ``multi``, every stream until EOF).

    Raises :class:`TruncatedStream` when input ends inside a header or a
    payload (or before the first zero chunk) and :class:`TrailingBytes` when
    data follows the stream's end in single-stream mode. Memory is one read
    buffer, whatever lengths the input declares. Returns payload bytes.
    """
    buf = bytearray(BLOCK + CHUNK_HEADER_SIZE)
    view = memoryview(buf)
    fill = 0  # bytes in buf
    pos = 0  # parse position
    remaining = 0  # payload bytes left in current chunk
    in_stream = False
    total = 0
    while True:
        if pos == fill:
            pos = fill = 0
        elif pos and fill - pos < CHUNK_HEADER_SIZE and remaining == 0:
            buf[: fill - pos] = buf[pos:fill]
            fill -= pos
            pos = 0
        n = os.readv(in_fd, [view[fill : fill + BLOCK]])
        if n == 0:
            if remaining:
                raise TruncatedStream("payload", remaining)
            if fill - pos:
                raise TruncatedStream("header", CHUNK_HEADER_SIZE - (fill - pos))
            if in_stream or not multi:
                raise TruncatedStream("header", CHUNK_HEADER_SIZE)
            return total
        fill += n
        iov: list[memoryview | bytes] = []
        while pos < fill:
            if remaining:
                take = min(remaining, fill - pos)
                iov.append(view[pos : pos + take])
                pos += take
                remaining -= take
                total += take
                continue
            if fill - pos < CHUNK_HEADER_SIZE:
                break
            (length,) = _HDR.unpack_from(buf, pos)
            pos += CHUNK_HEADER_SIZE
            if length:
                remaining = length
                in_stream = True
                continue
            in_stream = False
            if not multi:
                if iov:
                    _writev_all(out_fd, iov)
                if pos < fill or os.read(in_fd, 1):
                    raise TrailingBytes("data follows the zero chunk that ends the stream")
                return total
        if iov:
            _writev_all(out_fd, iov)
