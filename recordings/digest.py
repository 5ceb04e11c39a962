"""The digests a transcript can store for a stream it does not keep whole.

A transcript stores a send stream (and a JSON stream too large to keep) as its length, first
bytes and a digest. The digest only has to notice that a stream *changed*; nobody forges a
send stream to fool a replay, so it need not resist attack. The default, ``xxh3-128``, costs
a few hundredths of a CPU-second per GiB, where ``sha256`` costs about 0.6 CPU-s per GiB and
alone would make recording a fast local transfer 40% slower (docs/BENCHMARKS.md).
``sha256`` stays available (``record --digest sha256``) for users who want a cryptographic
digest, and it is what transcripts written before the choice existed (format version 1)
used. The transcript header names the digest once (``"digest"``), and every record stores
its digest under that name, so a single line still says what it holds.
"""

from __future__ import annotations

import enum
import hashlib
import re
from typing import Final, Protocol

import xxhash

__all__ = ["DEFAULT_DIGEST", "Digest", "Hasher"]


class Hasher(Protocol):
    """What the recorder needs of a running digest (hashlib's and xxhash's objects)."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


class Digest(enum.Enum):
    """A digest algorithm; the value is its name in transcripts and on the command line."""

    XXH3_128 = "xxh3-128"
    SHA256 = "sha256"

    @property
    def hex_length(self) -> int:
        """Hex digits of one digest."""
        return _HEX_LENGTH[self]

    def hasher(self) -> Hasher:
        """A fresh running digest."""
        if self is Digest.XXH3_128:
            return xxhash.xxh3_128()
        return hashlib.sha256()

    def of(self, data: bytes) -> str:
        """The hex digest of ``data``."""
        h = self.hasher()
        h.update(data)
        return h.hexdigest()

    def is_valid_hex(self, text: str) -> bool:
        """``text`` has the shape of this digest (lower-case hex of the right length)."""
        return _HEX.fullmatch(text) is not None and len(text) == self.hex_length

    @classmethod
    def named(cls, name: str) -> Digest:
        """The digest called ``name``; :class:`ValueError` lists the known names."""
        try:
            return cls(name)
        except ValueError:
            known = ", ".join(d.value for d in cls)
            raise ValueError(f"unknown digest {name!r:.40} (known: {known})") from None


_HEX_LENGTH: Final = {Digest.XXH3_128: 32, Digest.SHA256: 64}
_HEX: Final = re.compile(r"[0-9a-f]+")

DEFAULT_DIGEST: Final = Digest.XXH3_128
"""What ``record`` and ``golden update`` store unless told ``--digest sha256``."""
