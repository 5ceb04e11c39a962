"""The transcript format: one JSON object per line, versioned (docs/RECORDINGS.md).

Line 1 is the :class:`Header`; it names the digest stored for streams not kept whole
(:mod:`recordings.digest`; version 1 files, which do not name one, used SHA-256). Every
following line is a record, in the order the recorder
saw it complete:

* a :class:`StreamRecord` per chunked stream one direction sent (``c2s`` client to server,
  ``s2c`` server to client): its exact chunk boundaries, and either the message it carries
  (``kind: "json"``) or, for a send stream (``kind: "data"``), its length, digest and first
  bytes (the whole payload as base64 when recorded with ``--full``);
* an :class:`EventRecord`: a direction reaching end of file (``eof``), the recorded
  process's exit status (``exit``), or what a recorded client job ended with (``outcome``:
  its exit status and its fake ZFS datasets afterwards; :mod:`recordings.outcome`).

The last line, ``{"end": N}`` with N the number of records, says the transcript is complete:
a file cut at a line boundary (a recorder that was killed) is reported, not misread.

Exactness: a JSON record's bytes are the ``msg`` value re-encoded compactly when that gives
back exactly the bytes that were sent (the normal case, so files stay readable); otherwise
the bytes are stored verbatim as ``text`` (valid UTF-8) or ``b64``, and ``msg``, if present,
is only a reading aid that must agree with them. Chunk boundaries are run-length encoded
(``"32764*32,17"``). A stream cut short by end of file says where (``cut``), so every byte
seen on the wire can be rebuilt (:func:`wire_bytes`).

Reading is strict: any malformed line, inconsistent record or a newer format version is a
:class:`TranscriptError` naming the file and line, never a traceback, because a transcript
that is silently misread compares against the wrong thing.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal

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
    "TranscriptWriter",
    "check_digest",
    "dumps_end",
    "dumps_header",
    "dumps_record",
    "format_chunks",
    "loads_record",
    "other",
    "parse_chunks",
    "read_transcript",
    "toolkit_version",
    "wire_bytes",
    "write_transcript",
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


def toolkit_version() -> str:
    try:
        from zrepl_conformance import __version__
    except ImportError:  # pragma: no cover - the package is part of this distribution
        return "unknown"
    return __version__


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


# --------------------------------------------------------------------------- writing


def _header_dict(h: Header) -> dict[str, object]:
    d: dict[str, object] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "toolkit": h.toolkit,
        "what": h.what,
        "digest": h.digest.value,
    }
    for key in ("scenario", "title", "fixture", "identity"):
        value = getattr(h, key)
        if value is not None:
            d[key] = value
    if h.profile is not None:
        d["profile"] = dict(h.profile)
    if h.command is not None:
        d["command"] = list(h.command)
    if h.full:
        d["full"] = list(h.full)
    if h.started is not None:
        d["started"] = h.started
    return d


def _dumps(d: Mapping[str, object]) -> str:
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def dumps_header(h: Header) -> str:
    return _dumps(_header_dict(h))


def _store_bytes(d: dict[str, object], payload: bytes) -> None:
    try:
        d["text"] = payload.decode("utf-8")
    except UnicodeDecodeError:
        d["b64"] = base64.b64encode(payload).decode("ascii")


def record_dict(rec: Record) -> dict[str, object]:
    """The JSON object of one record line (see the module docstring)."""
    if isinstance(rec, EventRecord):
        d: dict[str, object] = {"event": rec.event}
        if rec.dir is not None:
            d["dir"] = rec.dir
        if rec.status is not None:
            d["status"] = rec.status
        if rec.reason is not None:
            d["reason"] = rec.reason
        if rec.state is not None:
            d["state"] = {name: dict(ds) for name, ds in sorted(rec.state.items())}
        if rec.t is not None:
            d["t"] = round(rec.t, 6)
        return d
    d = {"dir": rec.dir, "seq": rec.seq, "kind": rec.kind}
    if rec.go is not None:
        d["go"] = rec.go
    d["chunks"] = format_chunks(rec.chunks)
    if rec.cut is not None:
        if rec.cut.declared is not None:
            d["cut"] = {"declared": rec.cut.declared}
        else:
            d["cut"] = {"header": (rec.cut.header or b"").hex()}
    if rec.crafted:
        d["crafted"] = True
    if rec.kind == "json" and rec.payload is not None:
        ok, value = first_json_value(rec.payload)
        if ok:
            d["msg"] = value
        if not ok or compact_json(value) != rec.payload:
            _store_bytes(d, rec.payload)
    else:
        d["len"] = rec.length
        if rec.digest is not None:
            d[rec.digest_alg.value] = rec.digest
        if rec.kind == "data":
            d["prefix"] = rec.prefix.hex()
        if rec.payload is not None:
            d["b64"] = base64.b64encode(rec.payload).decode("ascii")
    if rec.t is not None:
        d["t"] = round(rec.t, 6)
    return d


def dumps_record(rec: Record) -> str:
    return _dumps(record_dict(rec))


def check_digest(header: Header, rec: Record) -> None:
    """:class:`ValueError` when ``rec`` stores a digest other than the one ``header`` names
    (such a file could not be read back)."""
    if isinstance(rec, StreamRecord) and rec.digest is not None and rec.digest_alg != header.digest:
        raise ValueError(
            f"{rec.describe()}: stores a {rec.digest_alg.value} digest, "
            f"the transcript header names {header.digest.value}"
        )


def dumps_end(count: int) -> str:
    """The last line of a complete transcript: ``{"end": <number of records>}``."""
    return _dumps({"end": count})


class TranscriptWriter:
    """Writes a transcript line by line (flushed per record, so a crash loses little)."""

    def __init__(self, target: str | Path | IO[str], header: Header) -> None:
        if isinstance(target, str | Path):
            self.path = str(target)
            self._file: IO[str] = open(target, "w", encoding="utf-8")  # noqa: SIM115
            self._owns = True
        else:
            self.path = getattr(target, "name", "<stream>")
            self._file = target
            self._owns = False
        self.header = header
        self._file.write(dumps_header(header) + "\n")
        self._file.flush()
        self.count = 0
        self._ended = False

    def write(self, rec: Record) -> None:
        self.write_all([rec])

    def write_all(self, recs: Iterable[Record]) -> None:
        for rec in recs:
            check_digest(self.header, rec)
            self._file.write(dumps_record(rec) + "\n")
            self.count += 1
        self._file.flush()

    def close(self) -> None:
        """Write the end line (the transcript is complete) and close the file."""
        if not self._ended and not self._file.closed:
            self._ended = True
            self._file.write(dumps_end(self.count) + "\n")
            self._file.flush()
        if self._owns and not self._file.closed:
            self._file.close()


def write_transcript(path: str | Path, t: Transcript) -> None:
    """Write ``t`` atomically (temp file + rename, so readers never see half a file)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    buf = io.StringIO()
    buf.write(dumps_header(t.header) + "\n")
    for rec in t.records:
        check_digest(t.header, rec)
        buf.write(dumps_record(rec) + "\n")
    buf.write(dumps_end(len(t.records)) + "\n")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, p)
    t.path = str(p)


# --------------------------------------------------------------------------- reading

_HEADER_KEYS: Final = frozenset(
    {
        "format",
        "version",
        "toolkit",
        "what",
        "scenario",
        "title",
        "fixture",
        "identity",
        "profile",
        "command",
        "full",
        "started",
        "digest",
    }
)
_STREAM_KEYS: Final = frozenset(
    {
        "dir",
        "seq",
        "kind",
        "go",
        "chunks",
        "cut",
        "crafted",
        "msg",
        "text",
        "b64",
        "len",
        "prefix",
        "t",
        *(d.value for d in Digest),
    }
)
_EVENT_KEYS: Final = frozenset({"event", "dir", "status", "reason", "t", "state"})


class _Bad(Exception):
    """A problem in one line (turned into a :class:`TranscriptError` with file and line)."""


def _get(d: Mapping[str, object], key: str, typ: type | tuple[type, ...], what: str) -> Any:
    value = d.get(key)
    if not isinstance(value, typ) or (isinstance(value, bool) and typ is int):
        raise _Bad(f"{what}: key {key!r} must be {_typename(typ)}, got {value!r:.60}")
    return value


def _typename(typ: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", dict: "an object", list: "a list", bool: "a bool"}
    if isinstance(typ, tuple):
        return " or ".join(names.get(t, t.__name__) for t in typ)
    return names.get(typ, typ.__name__)


def _opt(d: Mapping[str, object], key: str, typ: type | tuple[type, ...], what: str) -> Any:
    return None if d.get(key) is None else _get(d, key, typ, what)


def _header_from(d: Mapping[str, object]) -> Header:
    if d.get("format") != FORMAT_NAME:
        raise _Bad(f'not a transcript: first line must have "format": "{FORMAT_NAME}"')
    version = _get(d, "version", int, "header")
    if version > FORMAT_VERSION:
        raise _Bad(
            f"transcript format version {version} is newer than this toolkit reads "
            f"(up to {FORMAT_VERSION}); upgrade zrepl-conformance"
        )
    if version < 1:
        raise _Bad(f"invalid transcript format version {version}")
    unknown = sorted(set(d) - _HEADER_KEYS)
    if unknown:
        raise _Bad(f"header: unknown key {unknown[0]!r}")
    command = _opt(d, "command", list, "header")
    if command is not None and not all(isinstance(a, str) for a in command):
        raise _Bad("header: 'command' must be a list of strings")
    full = _opt(d, "full", list, "header") or []
    if not all(x in DIRECTIONS for x in full):
        raise _Bad("header: 'full' must list directions ('c2s', 's2c')")
    if version == 1:
        if "digest" in d:
            raise _Bad("header: 'digest' needs format version 2 (version 1 always used sha256)")
        digest = Digest.SHA256
    else:
        try:
            digest = Digest.named(_get(d, "digest", str, "header"))
        except ValueError as exc:
            raise _Bad(f"header: {exc}") from None
    return Header(
        what=_get(d, "what", str, "header"),
        fixture=_opt(d, "fixture", str, "header"),
        profile=_opt(d, "profile", dict, "header"),
        identity=_opt(d, "identity", str, "header"),
        command=tuple(command) if command is not None else None,
        scenario=_opt(d, "scenario", str, "header"),
        title=_opt(d, "title", str, "header"),
        full=tuple(full),
        digest=digest,
        version=version,
        toolkit=_get(d, "toolkit", str, "header"),
        started=_opt(d, "started", str, "header"),
    )


def _b64(value: str, key: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise _Bad(f"key {key!r} is not valid base64: {exc}") from None


def _digest_of(d: Mapping[str, object], named: Digest | None) -> tuple[Digest, str | None]:
    """The record's digest algorithm and hex value; ``named`` is the header's algorithm
    (``None``: a lone record, whose key says it)."""
    present = [a for a in Digest if a.value in d]
    if len(present) > 1:
        raise _Bad(
            "stream record: give one digest, not " + " and ".join(repr(a.value) for a in present)
        )
    alg = named or (present[0] if present else DEFAULT_DIGEST)
    if present and present[0] is not alg:
        raise _Bad(
            f"stream record: stores a {present[0].value!r} digest, the header names {alg.value!r}"
        )
    value = _opt(d, alg.value, str, "stream record")
    if value is not None and not alg.is_valid_hex(value):
        raise _Bad(
            f"stream record: {alg.value!r} must be {alg.hex_length} lower-case hex digits, "
            f"got {value!r:.80}"
        )
    return alg, value


def _stream_from(d: Mapping[str, object], line: int, named: Digest | None = None) -> StreamRecord:
    unknown = sorted(set(d) - _STREAM_KEYS)
    if unknown:
        raise _Bad(f"stream record: unknown key {unknown[0]!r}")
    direction = d.get("dir")
    if direction not in DIRECTIONS:
        raise _Bad(f"stream record: 'dir' must be 'c2s' or 's2c', got {direction!r:.40}")
    seq = _get(d, "seq", int, "stream record")
    kind = d.get("kind")
    if kind not in ("json", "data"):
        raise _Bad(f"stream record: 'kind' must be 'json' or 'data', got {kind!r:.40}")
    try:
        chunks = parse_chunks(_get(d, "chunks", str, "stream record"))
    except ValueError as exc:
        raise _Bad(f"stream record: 'chunks': {exc}") from None
    cut: Cut | None = None
    cut_d = _opt(d, "cut", dict, "stream record")
    if cut_d is not None:
        if set(cut_d) == {"declared"}:
            declared = _get(cut_d, "declared", int, "cut")
            if not 0 < declared < 2**32:
                raise _Bad("cut: 'declared' must be a chunk length 1..2^32-1")
            cut = Cut(declared=declared)
        elif set(cut_d) == {"header"}:
            try:
                hb = bytes.fromhex(_get(cut_d, "header", str, "cut"))
            except ValueError:
                raise _Bad("cut: 'header' must be hex") from None
            if len(hb) > 3:
                raise _Bad("cut: a cut header holds at most 3 bytes")
            cut = Cut(header=hb)
        else:
            raise _Bad('cut: must be {"declared": N} or {"header": HEX}')
    crafted = d.get("crafted", False)
    if not isinstance(crafted, bool):
        raise _Bad("stream record: 'crafted' must be true or false")
    go = _opt(d, "go", str, "stream record")
    t = _opt(d, "t", (int, float), "stream record")
    payload: bytes | None = None
    if "text" in d and "b64" in d:
        raise _Bad("stream record: give 'text' or 'b64', not both")
    if "text" in d:
        payload = _get(d, "text", str, "stream record").encode("utf-8", "strict")
    elif "b64" in d:
        payload = _b64(_get(d, "b64", str, "stream record"), "b64")
    alg, digest = _digest_of(d, named)
    prefix = b""
    if kind == "json":
        if "prefix" in d:
            raise _Bad("stream record: 'prefix' belongs to send streams (kind 'data')")
        if "msg" in d:
            msg_bytes = compact_json(d["msg"])
            if payload is None:
                if msg_bytes is None:
                    raise _Bad("stream record: 'msg' cannot be re-encoded; store 'text'")
                payload = msg_bytes
            else:
                ok, value = first_json_value(payload)
                if not ok or compact_json(value) != msg_bytes:
                    raise _Bad(
                        "stream record: 'msg' does not match the stored bytes "
                        "('text'/'b64' are authoritative; 'msg' is only derived from them)"
                    )
        if payload is None and digest is None:
            raise _Bad(f"stream record: a JSON record needs 'msg', 'text', 'b64' or {alg.value!r}")
        length = len(payload) if payload is not None else _get(d, "len", int, "stream record")
        if payload is not None and "len" in d and d["len"] != length:
            raise _Bad(f"stream record: 'len' {d['len']!r} does not match the payload ({length})")
    else:
        length = _get(d, "len", int, "stream record")
        if digest is None:
            raise _Bad(f"stream record: a send stream needs {alg.value!r}")
        try:
            prefix = bytes.fromhex(_get(d, "prefix", str, "stream record"))
        except ValueError:
            raise _Bad("stream record: 'prefix' must be hex") from None
        if "msg" in d or "text" in d:
            raise _Bad("stream record: a send stream stores its bytes as 'b64'")
        if prefix != (payload[:PREFIX_LEN] if payload is not None else prefix[:PREFIX_LEN]) or (
            len(prefix) != min(PREFIX_LEN, length)
        ):
            raise _Bad("stream record: 'prefix' does not match the payload")
    if length < 0:
        raise _Bad("stream record: 'len' must not be negative")
    if payload is not None:
        if len(payload) != length:
            raise _Bad(f"stream record: 'len' {length} does not match the payload")
        if digest is not None and alg.of(payload) != digest:
            raise _Bad(f"stream record: {alg.value!r} does not match the payload")
    in_chunks = sum(chunks)
    if cut is not None and cut.declared is not None:
        got = length - in_chunks
        if not 0 <= got < cut.declared:
            raise _Bad(
                f"stream record: {got} byte(s) after the complete chunks do not fit a cut "
                f"{cut.declared}-byte chunk"
            )
    elif in_chunks != length:
        raise _Bad(f"stream record: chunk sizes add up to {in_chunks}, payload is {length} bytes")
    return StreamRecord(
        dir=direction,
        seq=seq,
        kind=kind,
        chunks=chunks,
        length=length,
        payload=payload,
        digest=digest,
        prefix=prefix,
        go=go,
        cut=cut,
        crafted=crafted,
        t=float(t) if t is not None else None,
        line=line,
        digest_alg=alg,
    )


def _event_from(d: Mapping[str, object], line: int) -> EventRecord:
    unknown = sorted(set(d) - _EVENT_KEYS)
    if unknown:
        raise _Bad(f"event record: unknown key {unknown[0]!r}")
    event = d.get("event")
    t = _opt(d, "t", (int, float), "event record")
    reason = _opt(d, "reason", str, "event record")
    if event == "eof":
        direction = d.get("dir")
        if direction not in DIRECTIONS:
            raise _Bad("eof event: 'dir' must be 'c2s' or 's2c'")
        return EventRecord("eof", dir=direction, reason=reason, t=t, line=line)
    if "state" in d and event != "outcome":
        raise _Bad("event record: 'state' belongs to outcome events")
    if event == "exit":
        status = _get(d, "status", int, "exit event")
        return EventRecord("exit", status=status, reason=reason, t=t, line=line)
    if event == "outcome":
        status = _get(d, "status", int, "outcome event")
        state = _get(d, "state", dict, "outcome event")
        _check_state(state)
        return EventRecord("outcome", status=status, reason=reason, t=t, line=line, state=state)
    raise _Bad(f"unknown event {event!r:.40} (known: 'eof', 'exit', 'outcome')")


def _check_state(state: Mapping[str, object]) -> None:
    """An outcome's ``state``: ``{dataset: {"type", "readonly", "versions"}}``, exactly."""
    for name, ds in state.items():
        what = f"outcome state {name!r:.60}"
        if not isinstance(ds, dict) or set(ds) != {"type", "readonly", "versions"}:
            raise _Bad(f"{what}: must be an object with 'type', 'readonly' and 'versions'")
        _get(ds, "type", str, what)
        _get(ds, "readonly", str, what)
        for v in _get(ds, "versions", list, what):
            ok = (
                isinstance(v, list)
                and len(v) == 3
                and isinstance(v[0], str)
                and isinstance(v[1], str)
                and isinstance(v[2], int)
                and not isinstance(v[2], bool)
            )
            if not ok:
                raise _Bad(f"{what}: a version must be [type, name, guid], got {v!r:.60}")


def loads_record(text: str, line: int = 0) -> Record:
    """Parse one record line; :class:`ValueError` (with the reason) if it is not valid."""
    try:
        d = json.loads(text, parse_constant=_parse_constant)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not a JSON object: {exc}") from None
    if not isinstance(d, dict):
        raise ValueError("a record must be a JSON object")
    try:
        return _event_from(d, line) if "event" in d else _stream_from(d, line)
    except _Bad as exc:
        raise ValueError(str(exc)) from None


def read_transcript(path: str | Path, *, allow_incomplete: bool = False) -> Transcript:
    """Read and check a whole transcript; :class:`TranscriptError` names file and line.

    A transcript ends with ``{"end": N}`` (N records), so one cut at a line boundary (a
    recorder that was killed) is noticed; ``allow_incomplete`` accepts such a file.
    """
    name = str(path)
    try:
        f = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise TranscriptError(name, 0, f"cannot read: {exc.strerror or exc}") from None
    header: Header | None = None
    records: list[Record] = []
    seqs = {C2S: 0, S2C: 0}
    eofs: set[str] = set()
    ended = 0
    n = 0
    with f:
        for n, raw in enumerate(f, start=1):
            if ended:
                raise TranscriptError(name, n, f"data after the end line (line {ended})")
            truncated = not raw.endswith(b"\n")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TranscriptError(name, n, f"not UTF-8 ({exc.reason})") from None
            if not text.strip():
                raise TranscriptError(name, n, "empty line")
            try:
                try:
                    d = json.loads(text, parse_constant=_parse_constant)
                except ValueError as exc:
                    raise _Bad(f"not valid JSON: {exc}") from None
                if not isinstance(d, dict):
                    raise _Bad("a line must be a JSON object")
                if header is None:
                    header = _header_from(d)
                    continue
                if "end" in d:
                    if set(d) != {"end"} or d["end"] != len(records):
                        raise _Bad(f"end line says {d.get('end')!r} records, found {len(records)}")
                    ended = n
                    continue
                rec = _event_from(d, n) if "event" in d else _stream_from(d, n, header.digest)
            except (_Bad, ValueError, RecursionError) as exc:
                why = str(exc)
                if truncated:
                    why = f"truncated last line ({why})"
                raise TranscriptError(name, n, why) from None
            if isinstance(rec, StreamRecord):
                if rec.dir in eofs:
                    raise TranscriptError(name, n, f"{rec.dir} stream after {rec.dir} end of file")
                if rec.seq != seqs[rec.dir]:
                    raise TranscriptError(
                        name,
                        n,
                        f"{rec.dir} stream numbered {rec.seq}, expected {seqs[rec.dir]} "
                        "(a record is missing or out of order)",
                    )
                seqs[rec.dir] += 1
            elif rec.event == "eof":
                assert rec.dir is not None
                if rec.dir in eofs:
                    raise TranscriptError(name, n, f"second {rec.dir} end of file")
                eofs.add(rec.dir)
            records.append(rec)
    if header is None:
        raise TranscriptError(name, 1, "empty transcript (no header line)")
    if not ended and not allow_incomplete:
        raise TranscriptError(
            name,
            n + 1,
            "transcript ends without its end line: it was cut short "
            "(an interrupted recording? replay --partial accepts it)",
        )
    return Transcript(header, records, name)
