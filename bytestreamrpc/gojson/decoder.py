"""Decoding: Go's ``json.Decoder.Decode`` into a Go type, outcome and error text included.

The scan (:mod:`.scanner`) gives the first value as a tree; the *apply* here stores that
tree into the Go type with Go 1.19's reflection rules (``null`` leaves values alone,
duplicate keys merge, a decoded slice reuses its backing array) and remembers the first
type error, whose text is what the original puts on the wire.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Final

from ..errors import DecodeError
from .descriptors import GoBool, GoByteArray, GoSlice, GoString, GoStruct, GoType, GoUint
from .scanner import _Num, _Partial, _scan_fast, _scan_slow, _Syntax

__all__ = ["DecodeKind", "DecodeOutcome", "decode_first", "decode_message_bytes"]

_MEMO_MAX_INPUT: Final = 1024
"""Inputs up to this size are memoised (decoding is a pure function of the bytes)."""


# --------------------------------------------------------------------------- apply


class _SliceVal:
    """A non-nil Go slice: a backing array with a length (capacity is ``len(backing)``).

    Go reuses the backing array when decoding into an existing slice (duplicate keys), so
    elements past the length can reappear; keeping the backing array reproduces that.
    """

    __slots__ = ("backing", "length")

    def __init__(self, backing: list[object], length: int) -> None:
        self.backing = backing
        self.length = length


_Ctx = tuple[str, str] | None  # (innermost struct short name, dotted field path) or None


class _Errors:
    __slots__ = ("first",)

    def __init__(self) -> None:
        self.first: str | None = None

    def type_error(self, what: str, t: GoType, ctx: _Ctx) -> None:
        if self.first is not None:
            return
        if ctx is None:
            self.first = f"json: cannot unmarshal {what} into Go value of type {t.go_name}"
        else:
            self.first = (
                f"json: cannot unmarshal {what} into Go struct field "
                f"{ctx[0]}.{ctx[1]} of type {t.go_name}"
            )


def _kind(node: object) -> str:
    if isinstance(node, _Num):
        return "number"
    if isinstance(node, str):
        return "string"
    if isinstance(node, bool):
        return "bool"
    if isinstance(node, list):
        return "array"
    return "object"


def _zero(t: GoType) -> object:
    if isinstance(t, GoUint):
        return 0
    if isinstance(t, GoBool):
        return False
    if isinstance(t, GoString):
        return ""
    if isinstance(t, GoByteArray):
        return bytes(t.length)
    if isinstance(t, GoSlice):
        return None
    return {f.name: _zero(f.type) for f in t.fields}


def _apply_uint(t: GoUint, node: object, cur: int, ctx: _Ctx, errs: _Errors) -> int:
    if isinstance(node, _Num):
        # strconv.ParseUint(s, 10, 64) plus OverflowUint: ASCII digits only, in range.
        if node.isdigit() and len(node) <= 20:
            v = int(node)
            if v >> t.bits == 0:
                return v
        errs.type_error("number " + node, t, ctx)
        return cur
    if node is not None:
        errs.type_error(_kind(node), t, ctx)
    return cur


_BYTE = GoUint(8, "uint8")


def _apply(t: GoType, node: object, cur: object, ctx: _Ctx, errs: _Errors) -> object:
    """Store ``node`` into a Go value of type ``t`` currently holding ``cur``; return it.

    Follows Go 1.19's ``decodeState.value``: ``null`` leaves non-slice values alone, a kind
    mismatch records the first ``UnmarshalTypeError`` and keeps the current value.
    """
    if isinstance(t, GoStruct):
        if type(node) is tuple:
            assert isinstance(cur, dict)
            prefix = "" if ctx is None else ctx[1] + "."
            for key, val in node:
                f = t.lookup(key)
                if f is not None:
                    sub: _Ctx = (t.short_name, prefix + f.name)
                    cur[f.name] = _apply(f.type, val, cur[f.name], sub, errs)
        elif node is not None:
            errs.type_error(_kind(node), t, ctx)
        return cur
    if isinstance(t, GoUint):
        assert isinstance(cur, int)
        return _apply_uint(t, node, cur, ctx, errs)
    if isinstance(t, GoString):
        if type(node) is str:
            return node
        if node is not None:
            errs.type_error(_kind(node), t, ctx)
        return cur
    if isinstance(t, GoBool):
        if type(node) is bool:
            return node
        if node is not None:
            errs.type_error(_kind(node), t, ctx)
        return cur
    if isinstance(t, GoByteArray):
        if type(node) is list:
            assert isinstance(cur, bytes)
            if len(node) <= t.length and all(
                type(x) is _Num and x.isdigit() and len(x) <= 3 for x in node
            ):
                # Common case (plain small numbers): no per-element dispatch.
                small = [int(x) for x in node]
                if not small or max(small) < 256:
                    return bytes(small) + bytes(t.length - len(small))
            out = bytearray(cur)
            for k, el in enumerate(node[: t.length]):
                out[k] = _apply_uint(_BYTE, el, out[k], ctx, errs)
            if len(node) < t.length:
                out[len(node) :] = bytes(t.length - len(node))
            return bytes(out)
        if node is not None:
            errs.type_error(_kind(node), t, ctx)
        return cur
    # GoSlice
    if node is None:
        return None
    if type(node) is not list:
        errs.type_error(_kind(node), t, ctx)
        return cur
    if not node:
        return _SliceVal([], 0)
    if cur is None:
        backing: list[object] = []
        length = 0
    else:
        assert isinstance(cur, _SliceVal)
        backing, length = cur.backing, cur.length
    for k, el in enumerate(node):
        if k >= len(backing):
            cap = len(backing)
            newcap = max(cap + cap // 2, 4)
            backing = backing[:length] + [_zero(t.elem) for _ in range(newcap - length)]
        if k >= length:
            length = k + 1
        backing[k] = _apply(t.elem, el, backing[k], ctx, errs)
    return _SliceVal(backing, len(node))


def _to_python(t: GoType, v: object) -> object:
    if isinstance(t, GoStruct):
        assert isinstance(v, dict)
        return t.build({f.attr: _to_python(f.type, v[f.name]) for f in t.fields})
    if isinstance(t, GoSlice):
        items: tuple[object, ...] | None = None
        if v is not None:
            assert isinstance(v, _SliceVal)
            items = tuple([_to_python(t.elem, x) for x in v.backing[: v.length]])
        return t.build(items) if t.build is not None else items
    return v


# --------------------------------------------------------------------------- decode API


class DecodeKind(enum.Enum):
    """How ``json.Decoder.Decode`` ended."""

    OK = "ok"
    SYNTAX = "syntax"  # *json.SyntaxError inside the first value
    UNMARSHAL = "unmarshal"  # complete value, *json.UnmarshalTypeError (the first one)
    EOF = "eof"  # no value at all: io.EOF
    UNEXPECTED_EOF = "unexpected_eof"  # data ended inside the value: io.ErrUnexpectedEOF


@dataclass(frozen=True, slots=True)
class DecodeOutcome:
    """Result of :func:`decode_first`.

    ``error`` is the decoder's own error text (``None`` for OK); ``message`` is what the
    original's ``readChunkedJSON`` makes of it: ``cannot decode <pointer_name>: <error>``.
    ``ended_at_eof`` is true when the value is a top-level scalar that ends exactly at the end
    of the data: Go only knows such a value is complete when the reader reports EOF, so a
    reader error at that point (a truncated stream) wins over the value.
    """

    kind: DecodeKind
    value: object | None
    error: str | None
    message: str | None
    ended_at_eof: bool = False

    @property
    def ok(self) -> bool:
        return self.kind is DecodeKind.OK


def _decode_uncached(data: bytes, t: GoType, pointer_name: str) -> DecodeOutcome:
    ended_at_eof = False
    tree = _scan_fast(data)
    if tree is None:
        try:
            tree, ended_at_eof = _scan_slow(data)
        except _Partial:
            kind = DecodeKind.UNEXPECTED_EOF if data.strip(b" \t\n\r") else DecodeKind.EOF
            err = "unexpected EOF" if kind is DecodeKind.UNEXPECTED_EOF else "EOF"
            return DecodeOutcome(kind, None, err, f"cannot decode {pointer_name}: {err}")
        except _Syntax as exc:
            err = str(exc)
            msg = f"cannot decode {pointer_name}: {err}"
            return DecodeOutcome(DecodeKind.SYNTAX, None, err, msg)
    errs = _Errors()
    go_value = _apply(t, tree, _zero(t), None, errs)
    if errs.first is not None:
        msg = f"cannot decode {pointer_name}: {errs.first}"
        return DecodeOutcome(DecodeKind.UNMARSHAL, None, errs.first, msg, ended_at_eof)
    return DecodeOutcome(DecodeKind.OK, _to_python(t, go_value), None, None, ended_at_eof)


_decode_cached = functools.lru_cache(maxsize=4096)(_decode_uncached)


def decode_first(data: bytes, t: GoType, *, pointer_name: str) -> DecodeOutcome:
    """Emulate ``json.NewDecoder(bytes.NewReader(data)).Decode(&v)`` for ``v`` of type ``t``.

    Only the first JSON value is read; bytes after it are ignored. Never raises on any
    input; the outcome says what Go would have returned. Small inputs are memoised, so the
    descriptors' ``build`` functions must return immutable values (shared between calls).
    """
    if len(data) <= _MEMO_MAX_INPUT:
        return _decode_cached(bytes(data), t, pointer_name)
    return _decode_uncached(bytes(data), t, pointer_name)


def decode_message_bytes(data: bytes, t: GoType, *, pointer_name: str, truncated: bool) -> object:
    """Decode one chunked JSON message the way the original ``readChunkedJSON`` does.

    ``data`` is the unchunked payload. ``truncated`` means the original's unchunker failed
    with ``io.ErrUnexpectedEOF`` before the zero chunk: the decoder then sees that error where
    it needs more bytes, and a successful decode is followed by that error from the drain
    (reported unwrapped). In the original (util/chunking.go) that happens only when the byte
    stream ends *inside a 4-byte chunk header* (``binary.Read`` uses ``io.ReadFull``); a
    stream that ends exactly at a chunk boundary or inside a payload reaches the decoder as a
    plain ``io.EOF`` and the drain succeeds, so for those pass ``truncated=False`` with the
    bytes that did arrive to match the original.

    Raises :class:`DecodeError` whose text is exactly the original's
    ``ResponseHeader.Message``.
    """
    out = decode_first(data, t, pointer_name=pointer_name)
    if truncated:
        if out.kind in (DecodeKind.EOF, DecodeKind.UNEXPECTED_EOF) or out.ended_at_eof:
            raise DecodeError(f"cannot decode {pointer_name}: unexpected EOF")
        if out.kind is DecodeKind.OK:
            raise DecodeError("unexpected EOF")
    if out.message is not None:
        raise DecodeError(out.message)
    return out.value
