"""Byte-level mutations of recorded conversations (transcripts from ``recordings/``).

Real traffic is the best seed: the golden corpus (``recordings/golden/``) holds what every
request type, error path and framing edge looks like on the wire. These strategies take the
*client* side of such a transcript — the exact bytes it sent, chunk headers included — and
damage it the way libFuzzer's mutators would: flip a bit, overwrite, insert or delete bytes,
duplicate or drop a range, set a chunk length to an extreme value, splice in another
transcript's bytes, cut the end off. The server receiving the result must still answer only
as docs/PROTOCOL.md §server allows, and never crash or hang.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ._validation import check_sizes

__all__ = ["byte_mutations", "client_bytes", "golden_client_sides", "transcript_mutations"]

_INTERESTING_LENGTHS = (0, 1, 3, 4, 0x7FFC, 0x7FFD, 0x7FFFFFFF, 0xFFFFFFFF)
_INTERESTING_BYTES = (b"\x00", b"\xff", b"{", b"}", b'"', b"\\", b"\n", b"\x7f", b"\x80")


def client_bytes(transcript: object) -> bytes:
    """The exact bytes the client side of a transcript sent (``recordings.format``).

    ``transcript`` is a ``Transcript`` or the path of a transcript file. Streams stored only
    as a digest (send streams recorded without ``--full``) end the result there, since their
    bytes are unknown.
    """
    from recordings.format import C2S, StreamRecord, Transcript, read_transcript, wire_bytes

    if isinstance(transcript, str | Path):
        transcript = read_transcript(transcript)
    if not isinstance(transcript, Transcript):
        raise InvalidArgument(f"expected a Transcript or a path, got {type(transcript).__name__}")
    out = bytearray()
    for rec in transcript.records:
        if isinstance(rec, StreamRecord) and rec.dir == C2S:
            try:
                out += wire_bytes(rec)
            except ValueError:
                break
    return bytes(out)


def golden_client_sides() -> tuple[bytes, ...]:
    """The client side of every transcript in the golden corpus (empty if there is none).

    Read once per process (the corpus only changes with ``golden update``).
    """
    return _golden_client_sides()


@functools.cache
def _golden_client_sides() -> tuple[bytes, ...]:
    import recordings

    # ``__path__``, not ``__file__``: an editable install may map it as a namespace package.
    golden = Path(next(iter(recordings.__path__))).resolve() / "golden"
    sides = []
    for path in sorted(golden.glob("*.jsonl")):
        data = client_bytes(path)
        if data:
            sides.append(data)
    return tuple(sides)


@st.composite
def _mutate(draw: st.DrawFn, data: bytes, lo: int, hi: int, donors: tuple[bytes, ...]) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(lo, hi))):
        op = draw(
            st.sampled_from(
                ("flip", "set", "insert", "delete", "duplicate", "length", "splice", "truncate")
            )
        )
        n = len(buf)
        if op == "insert" or n == 0:
            at = draw(st.integers(0, n))
            piece = draw(
                st.one_of(st.sampled_from(_INTERESTING_BYTES), st.binary(min_size=1, max_size=8))
            )
            buf[at:at] = piece
            continue
        at = draw(st.integers(0, n - 1))
        if op == "flip":
            buf[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            buf[at] = draw(st.integers(0, 255))
        elif op == "delete":
            del buf[at : at + draw(st.integers(1, 8))]
        elif op == "duplicate":
            end = min(n, at + draw(st.integers(1, 64)))
            buf[end:end] = buf[at:end]
        elif op == "length":
            at = min(at, max(n - 4, 0))
            buf[at : at + 4] = struct.pack("<I", draw(st.sampled_from(_INTERESTING_LENGTHS)))
        elif op == "splice" and donors:
            donor = draw(st.sampled_from(donors))
            if donor:
                start = draw(st.integers(0, len(donor) - 1))
                buf[at:] = donor[start:]
        else:  # truncate (or splice without donors)
            del buf[at:]
    return bytes(buf)


def byte_mutations(
    data: bytes,
    *,
    min_mutations: int = 1,
    max_mutations: int = 4,
    donors: Sequence[bytes] = (),
) -> st.SearchStrategy[bytes]:
    """``data`` after ``min_mutations..max_mutations`` libFuzzer-style byte mutations;
    ``donors`` are other byte strings to splice from. Results always differ from ``data``.

    >>> byte_mutations(b"\\x02\\x00\\x00\\x00{}\\x00\\x00\\x00\\x00").example()  # doctest: +SKIP
    b'\\x02\\x00\\x00\\x00{\\xff\\x00\\x00\\x00'
    """
    if not isinstance(data, bytes | bytearray):
        raise InvalidArgument(f"data must be bytes, got {type(data).__name__}")
    lo, hi = check_sizes(
        min_mutations, max_mutations, floor=1, ceiling=1000,
        min_name="min_mutations", max_name="max_mutations",
    )  # fmt: skip
    pool = tuple(bytes(d) for d in donors)
    if not all(isinstance(d, bytes | bytearray) for d in donors):
        raise InvalidArgument("donors must be byte strings")
    original = bytes(data)
    return _mutate(original, lo, hi, pool).filter(lambda out: out != original)


def transcript_mutations(
    transcripts: Sequence[object] | None = None,
    *,
    min_mutations: int = 1,
    max_mutations: int = 4,
) -> st.SearchStrategy[bytes]:
    """Mutated client sides of ``transcripts`` (``Transcript`` objects or file paths;
    default: the whole golden corpus), each result one transcript's bytes after
    :func:`byte_mutations` with the others as splice donors.
    """
    if transcripts is None:
        sides = golden_client_sides()
    else:
        if isinstance(transcripts, str | bytes | Path):
            raise InvalidArgument("transcripts must be a sequence of transcripts or paths")
        sides = tuple(client_bytes(t) for t in transcripts)
    sides = tuple(s for s in sides if s)
    if not sides:
        raise InvalidArgument("no transcript with client bytes to mutate")
    check_sizes(
        min_mutations, max_mutations, floor=1, ceiling=1000,
        min_name="min_mutations", max_name="max_mutations",
    )  # fmt: skip
    originals = frozenset(sides)
    return (
        st.sampled_from(sides)
        .flatmap(
            lambda side: byte_mutations(
                side, min_mutations=min_mutations, max_mutations=max_mutations, donors=sides
            )
        )
        .filter(lambda out: out not in originals)  # a splice can rebuild another original
    )
