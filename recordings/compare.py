"""Comparing a recorded stream with the one an implementation produced, at four levels.

* ``exact``: ``bytes`` plus the chunk boundaries of send streams.
* ``bytes``: kind, exact chunk boundaries of messages, exact payload bytes (send streams:
  length and digest), and how the stream ended. The chunk boundaries of a send stream are
  not the protocol's business (the original chunked whatever one read of the ``zfs send``
  pipe returned), so only ``exact`` compares them.
* ``messages`` (the default): what a Go peer decodes. JSON records are decoded with the
  reference's Go-exact decoder and compared as values, so spacing, key case, key order and
  bytes after the first JSON value do not matter, but every field value does; send streams
  by length and digest (the algorithm the expected record names); how the stream ended.
  Chunk boundaries are not compared.
* ``semantic``: ``messages`` minus what the specification leaves free: the ``Message`` text
  of error responses (``ErrorId`` ≠ 0) and the exact decoder error of undecodable input.

``ignore`` names fields (Go JSON keys, case-insensitive, at any depth, e.g. ``Message``,
``RequestId``) left out of the decoded comparison; it does not apply at the byte levels
(``exact``, ``bytes``), which by definition compare every byte.

A difference is a :class:`Mismatch`: which record (number, line, direction), which level and
what (``field ErrorId``, ``chunk boundaries``, ``missing message``...), and a unified diff
of the two records rendered as decoded messages.
"""

from __future__ import annotations

import difflib
import enum
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

from bytestreamrpc import messages
from bytestreamrpc.messages import ResponseHeader

from .classify import GO_FILESYSTEMS, GO_RESPONSE_HEADER, GO_VERSIONS
from .format import EventRecord, Record, StreamRecord, first_json_value, format_chunks

__all__ = [
    "BYTE_LEVELS",
    "ComparisonLevel",
    "Mismatch",
    "compare_streams",
    "decoded_view",
    "render_record",
]


class ComparisonLevel(enum.Enum):
    """How closely a replayed stream must match the recorded one (``--level``; see above).

    Not :class:`conformance.model.Level` (MUST / SHOULD / INFO, how strong a requirement
    is): this one says which differences count at all.
    """

    EXACT = "exact"
    BYTES = "bytes"
    MESSAGES = "messages"
    SEMANTIC = "semantic"


BYTE_LEVELS: Final = frozenset({ComparisonLevel.EXACT, ComparisonLevel.BYTES})
"""The levels that compare bytes rather than decoded messages (``--ignore`` does not apply)."""

Codec = tuple[Callable[[bytes, bool], object], Callable[[object], bytes]]


def _message_codec(cls: type) -> Codec:
    def decode(data: bytes, truncated: bool) -> object:
        return messages.decode_message(cls, data, truncated=truncated)

    return decode, messages.encode_message


def _fs_decode(data: bytes, truncated: bool) -> object:
    return messages.decode_filesystems(data, truncated=truncated)


def _fs_encode(value: object) -> bytes:
    return messages.encode_filesystems(value)  # type: ignore[arg-type]


def _versions_decode(data: bytes, truncated: bool) -> object:
    return messages.decode_versions(data, truncated=truncated)


def _versions_encode(value: object) -> bytes:
    return messages.encode_versions(value)  # type: ignore[arg-type]


_MESSAGE_CLASSES: Final = (
    messages.RequestHeader,
    ResponseHeader,
    messages.ProtocolVersionRequest,
    messages.FilesystemRequest,
    messages.FilesystemVersionsRequest,
    messages.InitialTransferRequest,
    messages.IncrementalTransferRequest,
    messages.PullMeRequest,
    messages.CloseRequest,
)
CODECS: Final[dict[str, Codec]] = {
    messages.go_type_of(cls).go_name: _message_codec(cls) for cls in _MESSAGE_CLASSES
}
CODECS[GO_FILESYSTEMS] = (_fs_decode, _fs_encode)
CODECS[GO_VERSIONS] = (_versions_decode, _versions_encode)

UNDECODABLE: Final = "<undecodable>"


def decoded_view(rec: StreamRecord) -> object:
    """What a peer gets from the record: the Go-decoded message as canonical JSON values.

    Undecodable JSON records become ``{"<undecodable>": error text, "bytes": text}``; a
    request body of an unknown type is read with Python's JSON reader (no Go type to apply);
    send streams (and JSON records too large to keep) are ``{"len": N, DIGEST: HEX}``.
    """
    if rec.kind == "data" or rec.payload is None:
        return {"len": rec.length, rec.digest_alg.value: rec.digest}
    payload = rec.payload
    codec = CODECS.get(rec.go or "")
    if codec is None:
        ok, value = first_json_value(payload)
        if ok:
            return value
        return {UNDECODABLE: "not JSON", "bytes": _show_bytes(payload)}
    decode, encode = codec
    try:
        value = decode(payload, rec.cut is not None)
        return json.loads(encode(value))
    except Exception as exc:  # DecodeError, or anything a broken message provokes
        return {UNDECODABLE: str(exc), "bytes": _show_bytes(payload)}


def _show_bytes(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def _drop_fields(value: object, names: frozenset[str]) -> object:
    if isinstance(value, dict):
        return {k: _drop_fields(v, names) for k, v in value.items() if k.casefold() not in names}
    if isinstance(value, list):
        return [_drop_fields(v, names) for v in value]
    return value


def _semantic(rec: StreamRecord, value: object) -> object:
    if isinstance(value, dict) and UNDECODABLE in value:
        return {UNDECODABLE: "..."}
    if rec.go == GO_RESPONSE_HEADER and isinstance(value, dict) and value.get("ErrorId"):
        return {k: v for k, v in value.items() if k != "Message"}
    return value


def comparable_view(
    rec: StreamRecord, level: ComparisonLevel, ignore: Collection[str] = ()
) -> object:
    """The decoded view with the level's and the caller's exclusions applied."""
    value = decoded_view(rec)
    if level is ComparisonLevel.SEMANTIC:
        value = _semantic(rec, value)
    if ignore and rec.kind == "json":
        value = _drop_fields(value, frozenset(n.casefold() for n in ignore))
    return value


def _first_difference(a: object, b: object, path: str = "") -> str | None:
    """The path of the first differing field (``ErrorId``, ``[1].Guid``), or ``None``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                return sub
            found = _first_difference(a[k], b[k], sub)
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = _first_difference(x, y, f"{path}[{i}]")
            if found is not None:
                return found
        if len(a) != len(b):
            return f"{path or 'list'} length"
        return None
    if type(a) is not type(b) or a != b:
        return path or "value"
    return None


def _end(rec: StreamRecord) -> str:
    return "complete" if rec.cut is None else rec.cut.describe()


def render_record(
    rec: Record | None, level: ComparisonLevel, ignore: Collection[str] = ()
) -> list[str]:
    """Lines describing a record for a diff: what it is, then its decoded message."""
    if rec is None:
        return ["(nothing: the connection ended or went quiet)"]
    if isinstance(rec, EventRecord):
        return [rec.describe()]
    lines = [rec.describe()]
    if level in BYTE_LEVELS:
        lines.append(f"chunks: {format_chunks(rec.chunks) or '(none)'}")
    if rec.cut is not None:
        lines.append(f"end: {_end(rec)}")
    if rec.kind == "data" or rec.payload is None:
        lines.append(f"len: {rec.length}")
        lines.append(f"{rec.digest_alg.value}: {rec.digest}")
        if rec.kind == "data":
            lines.append(f"prefix: {rec.prefix.hex()}")
        return lines
    if level in BYTE_LEVELS:
        lines.append("bytes: " + json.dumps(_show_bytes(rec.payload), ensure_ascii=False))
    view = comparable_view(rec, level, () if level in BYTE_LEVELS else ignore)
    lines.extend(pretty(view).splitlines())
    return lines


def _scalar(v: object) -> bool:
    return not isinstance(v, dict | list)


def pretty(value: object, indent: str = "") -> str:
    """JSON, one field per line, lists of plain values on one line (short, diffable)."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {pretty(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value and not all(_scalar(v) for v in value):
        items = [inner + pretty(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Mismatch:
    """The first difference between the recording and what happened."""

    index: int
    """1-based number of the expected record (0: nothing more was expected)."""
    line: int
    """Line of the expected record in the transcript file (0 if unknown)."""
    direction: str | None
    level: ComparisonLevel
    what: str
    detail: str
    diff: str

    def headline(self, source: str = "transcript") -> str:
        where = f"{source}:{self.line}" if self.line else source
        d = f" {self.direction}" if self.direction else ""
        return (
            f"{where}: mismatch at record {self.index}{d} [level {self.level.value}]: "
            f"{self.what}: {self.detail}"
        )

    def report(self, source: str = "transcript") -> str:
        return self.headline(source) + ("\n" + self.diff if self.diff else "")


def make_mismatch(
    expected: Record | None,
    actual: Record | None,
    index: int,
    level: ComparisonLevel,
    what: str,
    detail: str,
    ignore: Collection[str] = (),
    direction: str | None = None,
) -> Mismatch:
    exp_lines = render_record(expected, level, ignore)
    act_lines = render_record(actual, level, ignore)
    diff = "\n".join(
        difflib.unified_diff(
            exp_lines, act_lines, "expected (recorded)", "actual", lineterm="", n=3
        )
    )
    line = expected.line if expected is not None else 0
    if direction is None:
        rec = expected or actual
        direction = rec.dir if rec is not None else None
    return Mismatch(index, line, direction, level, what, detail, diff)


def compare_streams(
    expected: StreamRecord,
    actual: StreamRecord,
    level: ComparisonLevel,
    ignore: Collection[str] = (),
) -> tuple[str, str] | None:
    """``(what, detail)`` of the first difference at ``level``, or ``None`` if they match."""
    if expected.kind != actual.kind or expected.go != actual.go:
        return "kind", f"expected {expected.describe()}, got {actual.describe()}"
    if level in BYTE_LEVELS:
        if expected.chunks != actual.chunks and (
            level is ComparisonLevel.EXACT or expected.kind == "json"
        ):
            return (
                "chunk boundaries",
                f"expected {format_chunks(expected.chunks) or '(none)'}, "
                f"got {format_chunks(actual.chunks) or '(none)'}",
            )
        if expected.cut != actual.cut:
            return "end", f"expected {_end(expected)}, got {_end(actual)}"
        if expected.payload is not None and actual.payload is not None:
            if expected.payload != actual.payload:
                return "bytes", _byte_difference(expected.payload, actual.payload)
            return None
        differs = _digest_difference(expected, actual)
        return None if differs is None else ("bytes", differs)
    if (expected.cut is None) != (actual.cut is None):
        return "end", f"expected {_end(expected)}, got {_end(actual)}"
    if expected.kind == "data":
        differs = _digest_difference(expected, actual)
        return None if differs is None else ("send stream content", differs)
    a = comparable_view(expected, level, ignore)
    b = comparable_view(actual, level, ignore)
    path = _first_difference(a, b)
    if path is None:
        return None
    return f"field {path}", f"expected {_field(a, path)}, got {_field(b, path)}"


def _digest_difference(expected: StreamRecord, actual: StreamRecord) -> str | None:
    """How length and digest differ, in the algorithm the expected record names (the
    actual payload is hashed with it when the actual record used another); ``None``."""
    alg = expected.digest_alg
    got = actual.digest
    if actual.digest_alg is not alg:
        got = alg.of(actual.payload) if actual.payload is not None else None
    if (expected.length, expected.digest) == (actual.length, got):
        return None
    shown = got if got is not None else f"unknown: only {actual.digest_alg.value} recorded"
    return (
        f"expected {expected.length} bytes ({alg.value} {expected.digest}), "
        f"got {actual.length} bytes ({alg.value} {shown})"
    )


def _field(view: object, path: str) -> str:
    """A short rendering of the value at ``path`` (best effort, for the headline)."""
    node: object = view
    for part in path.replace("[", ".[").split("."):
        if not part or part.endswith(" length"):
            continue
        if part.startswith("[") and isinstance(node, list):
            i = int(part[1:-1])
            node = node[i] if i < len(node) else "(absent)"
        elif isinstance(node, dict):
            node = node.get(part, "(absent)")
    text = json.dumps(node, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _byte_difference(a: bytes, b: bytes) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return (
        f"first difference at payload offset {i}: expected {a[i : i + 16]!r}, "
        f"got {b[i : i + 16]!r} ({len(a)} vs {len(b)} bytes)"
    )
