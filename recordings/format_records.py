"""Transcript records and the encodings their fields use (:mod:`recordings.format` has the
format's description).

What a transcript holds (:class:`Header`, :class:`StreamRecord`, :class:`EventRecord`,
:class:`Transcript`) is shared by the writer (:mod:`recordings.format_write`), the reader
(:mod:`recordings.format_read`) and everything that compares or replays transcripts, so it
lives apart from both; so do the value encodings both sides must agree on (run-length chunk
sizes, compact JSON) and :func:`wire_bytes`, which rebuilds a record's bytes on the wire.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from bytestreamrpc.framing import TERMINATOR, chunk_header

from .digest import DEFAULT_DIGEST, Digest

__all__ = [
    "C2S",
    "DIRECTIONS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "PREFIX_LEN",
    "S2C",
    "Cut",
    "Direction",
    "EventRecord",
    "Header",
    "Record",
    "StreamRecord",
    "Transcript",
    "TranscriptError",
    "compact_json",
    "first_json_value",
    "format_chunks",
    "other",
    "parse_chunks",
    "toolkit_version",
    "wire_bytes",
]

FORMAT_NAME: Final = "zrepl-conformance-transcript"
FORMAT_VERSION: Final = 2
"""Version 2 added the header's ``digest`` (version 1 files are read as ``sha256``)."""
PREFIX_LEN: Final = 32
"""Bytes of a send stream kept as its ``prefix`` (hex) when the payload is not stored whole."""

Direction = Literal["c2s", "s2c"]
C2S: Final[Direction] = "c2s"
S2C: Final[Direction] = "s2c"
DIRECTIONS: Final[tuple[Direction, Direction]] = (C2S, S2C)


def other(d: Direction) -> Direction:
    return S2C if d == C2S else C2S


DISTRIBUTION: Final = "zrepl-conformance"
"""The distribution name (pyproject.toml's ``[project] name``) whose version we report."""
UNKNOWN_VERSION: Final = "0+unknown"
"""The version when the distribution is not installed (a bare checkout): a valid PEP 440
version that sorts below every release and says what it is."""


@functools.cache
def toolkit_version() -> str:
    """The installed zrepl-conformance version, as ``zrepl-conformance --version`` says it.

    Read from the distribution's metadata here rather than from ``zrepl_conformance`` (the
    CLI package sits above this one and is not imported from below); cached, because the
    look-up scans every installed distribution and each transcript asks.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover - a checkout that is not installed
        return UNKNOWN_VERSION


class TranscriptError(Exception):
    """A transcript could not be read; ``str()`` is ``FILE:LINE: what is wrong``."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Cut:
    """Where end of file cut a stream short: inside a chunk header or a chunk payload.

    ``header`` holds the 0-3 header bytes that arrived (0 bytes: EOF right after a complete
    chunk, before the terminator); ``declared`` is the length the cut chunk announced.
    """

    header: bytes | None = None
    declared: int | None = None

    def describe(self) -> str:
        if self.declared is not None:
            return f"cut by end of file inside a {self.declared}-byte chunk"
        n = len(self.header or b"")
        return f"cut by end of file inside a chunk header ({n} of 4 bytes)"


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One chunked stream as seen on the wire."""

    dir: Direction
    seq: int
    """Index of this stream among the streams of its direction (0-based)."""
    kind: Literal["json", "data"]
    chunks: tuple[int, ...]
    """Sizes of the complete data chunks, in order (the terminator is not listed)."""
    length: int
    """Payload bytes in the stream (including a cut chunk's partial payload)."""
    payload: bytes | None = None
    """The exact payload (JSON records; send streams only when recorded whole)."""
    digest: str | None = None
    """Hex digest (:attr:`digest_alg`) of the payload (send streams, and JSON records too
    large to keep)."""
    prefix: bytes = b""
    """First :data:`PREFIX_LEN` payload bytes (send streams)."""
    go: str | None = None
    """The Go type a peer decodes this JSON stream as (``rpc.ResponseHeader``, ...)."""
    cut: Cut | None = None
    """``None`` when the zero chunk ended the stream."""
    crafted: bool = False
    """Deliberately non-canonical bytes (a scenario's malformed input), not a peer's output."""
    t: float | None = field(default=None, compare=False)
    """Seconds since the recording started (informational, never compared)."""
    line: int = field(default=0, compare=False)
    """Line in the file it was read from (0 when not read from a file)."""
    digest_alg: Digest = DEFAULT_DIGEST
    """The algorithm of :attr:`digest` (the transcript header's)."""

    @property
    def is_json(self) -> bool:
        return self.kind == "json"

    def describe(self) -> str:
        what = f"{self.go or 'JSON'} message" if self.kind == "json" else "send stream"
        return f"{self.dir} stream {self.seq} ({what})"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A connection event: ``eof`` of one direction, the recorded process's ``exit``, or
    the ``outcome`` of a recorded client job (exit ``status`` and its datasets, ``state``)."""

    event: Literal["eof", "exit", "outcome"]
    dir: Direction | None = None
    status: int | None = None
    reason: str | None = None
    """Why a direction ended other than by its sender closing (e.g. ``write failed``)."""
    t: float | None = field(default=None, compare=False)
    line: int = field(default=0, compare=False)
    state: Mapping[str, Any] | None = field(default=None, hash=False)
    """``outcome`` only: dataset name -> ``{"type", "readonly", "versions": [[type, name,
    guid], ...]}`` of the client's fake ZFS after the job (:mod:`recordings.outcome`)."""

    def describe(self) -> str:
        if self.event == "eof":
            return f"{self.dir} end of file" + (f" ({self.reason})" if self.reason else "")
        if self.event == "outcome":
            return f"client outcome (exit status {self.status}, {len(self.state or {})} datasets)"
        return f"exit status {self.status}"


Record = StreamRecord | EventRecord


@dataclass(frozen=True)
class Header:
    """What a transcript is: format version, toolkit, and how to reproduce the situation."""

    what: str = "recording"
    """How it was made: ``stdio``, ``proxy``, ``scenario``, ``replay``."""
    fixture: str | None = None
    """Fake ZFS fixture of the recorded server (``demo`` = the built-in one)."""
    profile: Mapping[str, Any] | None = None
    """Profile JSON the recorded server ran with (embedded, so the file is self-contained)."""
    identity: str | None = None
    command: tuple[str, ...] | None = None
    scenario: str | None = None
    title: str | None = None
    full: tuple[Direction, ...] = ()
    """Directions whose send streams are stored whole."""
    digest: Digest = DEFAULT_DIGEST
    """The digest every record of the transcript stores (``sha256`` in version 1 files)."""
    version: int = FORMAT_VERSION
    toolkit: str = field(default_factory=toolkit_version)
    started: str | None = None
    """UTC start time (informational)."""


@dataclass
class Transcript:
    """A header and its records; ``path`` when read from or written to a file."""

    header: Header
    records: list[Record] = field(default_factory=list)
    path: str | None = None

    def streams(self, direction: Direction | None = None) -> list[StreamRecord]:
        return [
            r
            for r in self.records
            if isinstance(r, StreamRecord) and (direction is None or r.dir == direction)
        ]

    def events(self) -> list[EventRecord]:
        return [r for r in self.records if isinstance(r, EventRecord)]

    def save(self, path: str | Path) -> None:
        # Imported on use: the writer depends on these records, not the other way round.
        from .format_write import write_transcript

        write_transcript(path, self)


# --------------------------------------------------------------------------- helpers

_RLE_TOKEN: Final = re.compile(r"^([1-9][0-9]*)(?:\*([1-9][0-9]*))?$")


def format_chunks(sizes: Iterable[int]) -> str:
    """Run-length encode chunk sizes: ``[5, 5, 5, 2]`` → ``"5*3,2"``; none → ``""``."""
    out: list[str] = []
    prev = -1
    count = 0
    for s in sizes:
        if s == prev:
            count += 1
            continue
        if count:
            out.append(str(prev) if count == 1 else f"{prev}*{count}")
        prev, count = s, 1
    if count:
        out.append(str(prev) if count == 1 else f"{prev}*{count}")
    return ",".join(out)


def parse_chunks(text: str) -> tuple[int, ...]:
    """Inverse of :func:`format_chunks`; :class:`ValueError` names the bad token."""
    if text == "":
        return ()
    sizes: list[int] = []
    for token in text.split(","):
        m = _RLE_TOKEN.match(token)
        if m is None:
            raise ValueError(f"bad chunk-size token {token!r} (expected SIZE or SIZE*COUNT)")
        size = int(m.group(1))
        if size >= 2**32:
            raise ValueError(f"chunk size {size} does not fit the 4-byte header")
        count = int(m.group(2) or 1)
        if count > 1 << 40:
            raise ValueError(f"implausible chunk count in {token!r}")
        sizes.extend([size] * count)
    return tuple(sizes)


def _parse_constant(name: str) -> object:
    raise ValueError(f"non-JSON constant {name}")


_DECODER: Final = json.JSONDecoder(parse_constant=_parse_constant)


def first_json_value(payload: bytes) -> tuple[bool, object]:
    """``(True, value)`` for the first JSON value of ``payload`` (Python's reading), else
    ``(False, None)``. Only a reading aid: comparisons decode with Go's rules."""
    try:
        text = payload.decode("utf-8")
        start = len(text) - len(text.lstrip(" \t\r\n"))
        value, _end = _DECODER.raw_decode(text, start)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None
    return True, value


def compact_json(value: object) -> bytes | None:
    """``value`` encoded compactly with a trailing newline (None if not encodable)."""
    try:
        return (
            json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
        ).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
        return None


def wire_bytes(rec: StreamRecord) -> bytes:
    """The exact bytes of the stream on the wire (headers, payload, terminator or cut).

    Raises :class:`ValueError` when the payload was not recorded (a digest-only send stream).
    """
    if rec.payload is None:
        raise ValueError(
            f"{rec.describe()}: payload stored as length + digest only (record with --full)"
        )
    out = bytearray()
    pos = 0
    view = memoryview(rec.payload)
    for size in rec.chunks:
        out += chunk_header(size)
        out += view[pos : pos + size]
        pos += size
    if rec.cut is None:
        out += TERMINATOR
    elif rec.cut.declared is not None:
        out += chunk_header(rec.cut.declared)
        out += view[pos:]
    else:
        out += rec.cut.header or b""
    return bytes(out)
