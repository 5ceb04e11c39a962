"""Deterministic, lazily generated snapshot content (the payload of a send stream).

A real snapshot holds data; the fake only needs data that is (a) reproducible from what the
model stores, so a 10 GiB snapshot costs no memory or disk, (b) different for different
snapshots and increments, so a receiver that got the wrong stream notices, and (c) different
at every block position, so duplicated, dropped or reordered blocks are noticed.

Construction, for a payload identified by ``(to_guid, from_guid)`` (``from_guid`` is 0 for a
full stream) and a byte length:

* a 1 MiB *base block* is ``shake_128(b"fake-zfs content v1" + to_guid + from_guid)``
  (both GUIDs as 8-byte little-endian), generated once per stream (only as much of it as
  the payload's blocks use: shake_128's output for a shorter length is a prefix of the
  longer one, so the bytes are the same);
* block ``i`` (0-based) is the base block with its first 24 bytes replaced by
  ``to_guid, from_guid, i`` (three 8-byte little-endian integers);
* the payload is blocks ``0, 1, 2 ...`` concatenated and cut at the length.

Generating a block costs one 1 MiB copy, and a receiver verifies what it got by comparing
with the block it regenerates (``memcmp`` speed), so both sides run at memory bandwidth.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from functools import lru_cache
from typing import Final

__all__ = [
    "BLOCK_SIZE",
    "PayloadSpec",
    "base_block",
    "block_matches",
    "expected_block",
    "iter_payload",
]

#: Bytes per content block; also the unit of stream I/O.
BLOCK_SIZE: Final = 1 << 20
_COUNTER: Final = struct.Struct("<QQQ")


_MIN_BASE: Final = 4096


def base_block(to_guid: int, from_guid: int, size: int = BLOCK_SIZE) -> bytes:
    """At least the first ``size`` bytes (at most 1 MiB) of the pseudo-random block all
    blocks of one payload are derived from.

    shake_128 is an extendable-output function: asking for fewer bytes gives a prefix of
    the longer output, so a payload shorter than a block needs only its own length. That
    matters for small snapshots: the whole 1 MiB takes ~2 ms to generate, the stateful
    fuzzer's budget for a complete conversation step. ``size`` is rounded up to a power
    of two so that payloads of similar lengths share one cached block.
    """
    rounded = BLOCK_SIZE if size >= BLOCK_SIZE else max(_MIN_BASE, 1 << (size - 1).bit_length())
    return _base_block(to_guid, from_guid, rounded)


@lru_cache(maxsize=8)
def _base_block(to_guid: int, from_guid: int, size: int) -> bytes:
    seed = b"fake-zfs content v1" + struct.pack("<QQ", to_guid, from_guid)
    return hashlib.shake_128(seed).digest(size)


class PayloadSpec:
    """What identifies a payload: the GUIDs it is derived from and its length in bytes."""

    __slots__ = ("from_guid", "length", "to_guid")

    def __init__(self, to_guid: int, from_guid: int, length: int) -> None:
        self.to_guid = to_guid
        self.from_guid = from_guid
        self.length = length

    def block_count(self) -> int:
        """Number of blocks (the last one may be short)."""
        return (self.length + BLOCK_SIZE - 1) // BLOCK_SIZE

    def base(self) -> bytes:
        """The part of the base block this payload's blocks use."""
        return base_block(self.to_guid, self.from_guid, min(self.length, BLOCK_SIZE))


def expected_block(spec: PayloadSpec, index: int) -> bytes:
    """Block ``index`` of the payload, cut short if it is the last one."""
    size = min(BLOCK_SIZE, spec.length - index * BLOCK_SIZE)
    if size <= 0:
        return b""
    base = spec.base()
    head = _COUNTER.pack(spec.to_guid, spec.from_guid, index)
    if size <= len(head):
        return head[:size]
    # join() copies straight from the memoryview: one allocation per block, no temporaries.
    return b"".join((head, memoryview(base)[len(head) : size]))


def block_matches(spec: PayloadSpec, index: int, data: memoryview) -> bool:
    """Whether ``data`` is exactly block ``index`` of the payload (compared in place).

    Equivalent to ``data == expected_block(spec, index)`` without building the expected
    block: the counter prefix is compared, then the rest with ``bytes.startswith`` (memcmp).
    """
    size = min(BLOCK_SIZE, spec.length - index * BLOCK_SIZE)
    if len(data) != max(size, 0):
        return False
    head = _COUNTER.pack(spec.to_guid, spec.from_guid, index)
    cut = min(size, len(head))
    if bytes(data[:cut]) != head[:cut]:
        return False
    if size <= cut:
        return True
    return spec.base().startswith(data[cut:], cut)


def iter_payload(spec: PayloadSpec) -> Iterator[bytes]:
    """The payload as successive blocks (bounded memory: one block at a time)."""
    for index in range(spec.block_count()):
        yield expected_block(spec, index)
