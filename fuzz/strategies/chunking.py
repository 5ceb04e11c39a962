"""Chunkings of any byte string: how a message may be split into chunks or transport reads.

Chunk boundaries carry no meaning (docs/PROTOCOL.md §frame.boundaries), so a receiver must
produce the same content for every chunking of the same bytes: one chunk, one byte per
chunk, chunks longer than the original writer's 32 764 bytes, a split at every structural
point. The same strategy serves for transport deliveries (how ``receive_data`` is fed).
"""

from __future__ import annotations

import itertools

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from bytestreamrpc.framing import TERMINATOR, chunk_header

from ._validation import check_int

__all__ = ["chunked_streams", "chunkings"]

_MAX_DECLARED = 2**32 - 1


def _check_data(data: object) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidArgument(f"data must be bytes, got {type(data).__name__}")
    return bytes(data)


@st.composite
def _pieces(draw: st.DrawFn, data: bytes, cap: int) -> tuple[bytes, ...]:
    n = len(data)
    if n == 0:
        return ()
    mode = draw(st.sampled_from(("whole", "cuts", "bytes", "fixed")))
    if mode == "bytes" and n <= 4096 and cap >= 1:
        sizes = [1] * n
    elif mode == "fixed":
        size = draw(st.integers(1, max(1, min(cap, n))))
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    elif mode == "cuts" and n > 1:
        cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=min(n - 1, 16))))
        bounds = [0, *cuts, n]
        sizes = [b - a for a, b in itertools.pairwise(bounds)]
    else:
        sizes = [n]
    out: list[bytes] = []
    pos = 0
    for size in sizes:
        while size > cap:  # honour the cap by splitting further
            out.append(data[pos : pos + cap])
            pos += cap
            size -= cap
        out.append(data[pos : pos + size])
        pos += size
    return tuple(out)


def chunkings(
    data: bytes, *, max_chunk_size: int | None = None
) -> st.SearchStrategy[tuple[bytes, ...]]:
    """Non-empty pieces that concatenate to ``data`` (``()`` for empty data), each at most
    ``max_chunk_size`` bytes: the whole, random cuts, one byte each, or a fixed size.

    >>> chunkings(b"abcdef").example()  # doctest: +SKIP
    (b'ab', b'c', b'def')
    """
    raw = _check_data(data)
    cap = len(raw) or 1
    if max_chunk_size is not None:
        cap = check_int(max_chunk_size, "max_chunk_size", minimum=1, maximum=_MAX_DECLARED)
    return _pieces(raw, cap)


def chunked_streams(data: bytes, *, max_chunk_size: int | None = None) -> st.SearchStrategy[bytes]:
    """``data`` as one complete chunked stream with arbitrary boundaries, zero chunk
    included: ``bytestreamrpc.framing.decode_stream`` gives back ``(data, b"")``.

    >>> chunked_streams(b"\\xca\\xfe").example()  # doctest: +SKIP
    b'\\x01\\x00\\x00\\x00\\xca\\x01\\x00\\x00\\x00\\xfe\\x00\\x00\\x00\\x00'
    """
    pieces = chunkings(data, max_chunk_size=max_chunk_size)
    return pieces.map(lambda ps: b"".join(chunk_header(len(p)) + p for p in ps) + TERMINATOR)
