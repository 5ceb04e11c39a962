"""Reading transcripts, strictly: every line checked, every inconsistency a
:class:`~recordings.format_records.TranscriptError` naming file and line
(:mod:`recordings.format` has the format's description and why reading is strict).

Apart from the writer (:mod:`recordings.format_write`) because validation is most of
reading: keys, types, the agreement of ``msg`` with the stored bytes, lengths, digests,
chunk sizes and cuts, record order, and the end line.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .digest import DEFAULT_DIGEST, Digest
from .format_records import (
    C2S,
    DIRECTIONS,
    FORMAT_NAME,
    FORMAT_VERSION,
    PREFIX_LEN,
    S2C,
    Cut,
    EventRecord,
    Header,
    Record,
    StreamRecord,
    Transcript,
    TranscriptError,
    _parse_constant,
    compact_json,
    first_json_value,
    parse_chunks,
)

__all__ = ["loads_record", "read_transcript"]


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
    """A stream record, checked key by key and then for consistency, always in the same
    order, so a record with several problems always reports the same one."""
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
    cut = _cut_from(_opt(d, "cut", dict, "stream record"))
    crafted = d.get("crafted", False)
    if not isinstance(crafted, bool):
        raise _Bad("stream record: 'crafted' must be true or false")
    go = _opt(d, "go", str, "stream record")
    t = _opt(d, "t", (int, float), "stream record")
    payload = _stored_payload(d)
    alg, digest = _digest_of(d, named)
    prefix = b""
    if kind == "json":
        payload, length = _json_payload(d, payload, alg, digest)
    else:
        length, prefix = _data_length_prefix(d, payload, alg, digest)
    _check_sizes(payload, length, alg, digest, chunks, cut)
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


def _cut_from(cut_d: Mapping[str, Any] | None) -> Cut | None:
    """A stream record's ``cut``: ``{"declared": N}`` or ``{"header": HEX}``, or none."""
    if cut_d is None:
        return None
    if set(cut_d) == {"declared"}:
        declared = _get(cut_d, "declared", int, "cut")
        if not 0 < declared < 2**32:
            raise _Bad("cut: 'declared' must be a chunk length 1..2^32-1")
        return Cut(declared=declared)
    if set(cut_d) == {"header"}:
        try:
            hb = bytes.fromhex(_get(cut_d, "header", str, "cut"))
        except ValueError:
            raise _Bad("cut: 'header' must be hex") from None
        if len(hb) > 3:
            raise _Bad("cut: a cut header holds at most 3 bytes")
        return Cut(header=hb)
    raise _Bad('cut: must be {"declared": N} or {"header": HEX}')


def _stored_payload(d: Mapping[str, object]) -> bytes | None:
    """The bytes a record stores verbatim (``text`` or ``b64``), if it does."""
    if "text" in d and "b64" in d:
        raise _Bad("stream record: give 'text' or 'b64', not both")
    if "text" in d:
        text: str = _get(d, "text", str, "stream record")
        return text.encode("utf-8", "strict")
    if "b64" in d:
        return _b64(_get(d, "b64", str, "stream record"), "b64")
    return None


def _json_payload(
    d: Mapping[str, object], payload: bytes | None, alg: Digest, digest: str | None
) -> tuple[bytes | None, int]:
    """A JSON record's payload (from ``msg`` when not stored verbatim) and length; ``msg``
    must agree with stored bytes."""
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
    length: int = len(payload) if payload is not None else _get(d, "len", int, "stream record")
    if payload is not None and "len" in d and d["len"] != length:
        raise _Bad(f"stream record: 'len' {d['len']!r} does not match the payload ({length})")
    return payload, length


def _data_length_prefix(
    d: Mapping[str, object], payload: bytes | None, alg: Digest, digest: str | None
) -> tuple[int, bytes]:
    """A send stream's length and ``prefix``; it must carry a digest and no JSON keys."""
    length: int = _get(d, "len", int, "stream record")
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
    return length, prefix


def _check_sizes(
    payload: bytes | None,
    length: int,
    alg: Digest,
    digest: str | None,
    chunks: tuple[int, ...],
    cut: Cut | None,
) -> None:
    """Length, payload, digest, chunk sizes and cut must all tell the same story."""
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
    order = _Order(name)
    ended = 0
    n = 0
    with f:
        for n, raw in enumerate(f, start=1):
            if ended:
                raise TranscriptError(name, n, f"data after the end line (line {ended})")
            text = _line_text(name, n, raw)
            try:
                d = _line_object(text)
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
                if not raw.endswith(b"\n"):
                    why = f"truncated last line ({why})"
                raise TranscriptError(name, n, why) from None
            order.check(n, rec)
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


def _line_text(name: str, n: int, raw: bytes) -> str:
    """Line ``n`` as text: UTF-8 and not blank."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TranscriptError(name, n, f"not UTF-8 ({exc.reason})") from None
    if not text.strip():
        raise TranscriptError(name, n, "empty line")
    return text


def _line_object(text: str) -> dict[str, Any]:
    """A line's JSON object (every line of a transcript is one)."""
    try:
        d = json.loads(text, parse_constant=_parse_constant)
    except ValueError as exc:
        raise _Bad(f"not valid JSON: {exc}") from None
    if not isinstance(d, dict):
        raise _Bad("a line must be a JSON object")
    return d


class _Order:
    """The records' order across lines: each direction's streams numbered from 0 without
    gaps, none after that direction's end of file, and one end of file per direction."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seqs = {C2S: 0, S2C: 0}
        self.eofs: set[str] = set()

    def check(self, n: int, rec: Record) -> None:
        name, seqs, eofs = self.name, self.seqs, self.eofs
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
