"""A Go ``encoding/json``-compatible codec for the handful of Go types ByteStreamRPC uses.

Why not the stdlib ``json`` module alone: the original peer is a Go program, and what it
accepts, rejects, and the exact error text it puts on the wire (``ResponseHeader.Message``)
follow Go 1.19's ``encoding/json``, not Python's. Differences that show on the wire include
case-insensitive key matching with Unicode folding, duplicate keys merging into the same
struct, ``null`` leaving values alone, Go's number grammar, U+FFFD for invalid UTF-8 and lone
surrogate escapes, HTML-safe string escaping, and Go's error messages.

Shape of the module:

* *Descriptors* (:class:`GoUint`, :class:`GoBool`, :class:`GoString`, :class:`GoByteArray`,
  :class:`GoSlice`, :class:`GoStruct`) describe a Go type and how it maps to a Python value.
* :func:`encode` writes exactly what ``json.NewEncoder(w).Encode(v)`` writes, ``\\n`` included.
* :func:`decode_first` emulates ``json.NewDecoder(r).Decode(&v)`` over a complete byte string
  in two phases, like Go: a *scan* that reads the first JSON value into a small tree (or
  yields Go's syntax error / EOF), then an *apply* that stores the tree into the Go type with
  Go's reflection rules and remembers the first type error.
* The scan has a fast path through the C scanner of the stdlib ``json`` module, used only for
  input where it provably agrees with Go (valid UTF-8, top-level object or array, no
  surrogate escapes); everything else, and every input the fast path refuses, goes through the
  hand-written scanner, which alone produces errors.

String mapping decision: a Go string is bytes, a Python ``str`` is code points. Decoding
always yields valid Unicode (Go replaces invalid UTF-8 and lone surrogate escapes by U+FFFD).
For encoding, a Python ``str`` is mapped to Go bytes like ``os.fsencode``: a lone surrogate
U+DC80..U+DCFF stands for the raw byte 0x80..0xFF (``surrogateescape``), any other lone
surrogate for its 3-byte ``surrogatepass`` form; Go's rules then apply to those bytes (each
invalid byte becomes the six characters ``\\ufffd``).
"""

from __future__ import annotations

import enum
import functools
import json.decoder
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import DecodeError, LocalProtocolError

__all__ = [
    "MAX_NESTING_DEPTH",
    "DecodeKind",
    "DecodeOutcome",
    "GoBool",
    "GoByteArray",
    "GoField",
    "GoSlice",
    "GoString",
    "GoStruct",
    "GoType",
    "GoUint",
    "decode_first",
    "decode_message_bytes",
    "encode",
    "go_string_bytes",
]

MAX_NESTING_DEPTH: Final = 10000
"""Go 1.15+ scanner limit: the 10001st nested ``[``/``{`` is a syntax error."""

_MEMO_MAX_INPUT: Final = 1024
"""Inputs up to this size are memoised (decoding is a pure function of the bytes)."""


# --------------------------------------------------------------------------- descriptors
# ``eq=False`` keeps hashing by identity: descriptors are module-level singletons used as
# memo keys, and structural hashing of nested field tuples would cost on every lookup.


@dataclass(frozen=True, eq=False)
class GoUint:
    """An unsigned Go integer type (``uint8``, ``uint64`` or a named type over them)."""

    bits: int
    go_name: str


@dataclass(frozen=True, eq=False)
class GoBool:
    """Go ``bool`` (or a named bool type)."""

    go_name: str = "bool"


@dataclass(frozen=True, eq=False)
class GoString:
    """Go ``string`` (or a named string type such as ``zfs.VersionType``)."""

    go_name: str = "string"


@dataclass(frozen=True, eq=False)
class GoByteArray:
    """Go ``[N]byte``: Python ``bytes`` of length N, JSON array of numbers (not base64)."""

    length: int
    go_name: str


@dataclass(frozen=True, eq=False)
class GoSlice:
    """Go slice ``[]E``: Python ``tuple`` or ``None`` (nil, JSON ``null``).

    ``build``/``read`` optionally convert between that tuple-or-None and a richer Python
    value (e.g. ``zfs.DatasetPath`` is a ``[]string`` shown as a ``DatasetPath`` object).
    """

    elem: GoType
    go_name: str
    build: Callable[[tuple[object, ...] | None], object] | None = None
    read: Callable[[object], tuple[object, ...] | None] | None = None


@dataclass(frozen=True, eq=False)
class GoField:
    """One exported struct field: Go/JSON ``name``, its type, and the Python attribute."""

    name: str
    type: GoType
    attr: str


@dataclass(frozen=True, eq=False)
class GoStruct:
    """A Go struct; ``build`` makes the Python value from ``{attr: value}``, ``read`` inverts."""

    go_name: str
    fields: tuple[GoField, ...]
    build: Callable[[dict[str, object]], object]
    read: Callable[[object], dict[str, object]]
    short_name: str = field(init=False)
    _exact: dict[str, GoField] = field(init=False, repr=False)
    _folded: dict[str, GoField] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for f in self.fields:
            if not (f.name.isascii() and f.name.isalpha()):
                # The folding shortcut in ``lookup`` relies on ASCII-letter field names.
                raise ValueError(f"unsupported Go field name {f.name!r}")
        object.__setattr__(self, "short_name", self.go_name.rpartition(".")[2])
        object.__setattr__(self, "_exact", {f.name: f for f in self.fields})
        folded: dict[str, GoField] = {}
        for f in self.fields:
            folded.setdefault(f.name.lower(), f)
        object.__setattr__(self, "_folded", folded)

    def lookup(self, key: str) -> GoField | None:
        """Go's field matching: exact name first, else Unicode simple case folding.

        Field names are ASCII letters, and the only non-ASCII runes that fold onto ASCII
        letters are U+017F (ſ, folds to s) and U+212A (Kelvin sign, folds to k).
        """
        f = self._exact.get(key)
        if f is not None:
            return f
        if not key.isascii():
            key = key.replace("\u017f", "s").replace("\u212a", "k")
            if not key.isascii():
                return None
        return self._folded.get(key.lower())


GoType = GoUint | GoBool | GoString | GoByteArray | GoSlice | GoStruct


# --------------------------------------------------------------------------- encoding

_ESCAPES: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESCAPES.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x22: '\\"', 0x5C: "\\\\"})
_ESCAPES.update({0x3C: "\\u003c", 0x3E: "\\u003e", 0x26: "\\u0026"})
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029"})
_ESCAPES_INVALID = dict(_ESCAPES)
_ESCAPES_INVALID.update({c: "\\ufffd" for c in range(0xDC80, 0xDD00)})
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_SURROGATE = re.compile("[\ud800-\udfff]")


def go_string_bytes(s: str) -> bytes:
    """The Go string (bytes) a Python ``str`` stands for (see the module docstring)."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        out = bytearray()
        for ch in s:
            o = ord(ch)
            if 0xDC80 <= o <= 0xDCFF:
                out.append(o - 0xDC00)
            else:
                out += ch.encode("utf-8", "surrogatepass")
        return bytes(out)


def _encode_str(s: str) -> str:
    """Go's ``encodeState.string`` with ``escapeHTML`` (the Encoder default)."""
    if _NEEDS_ESCAPE.search(s) is None:
        return f'"{s}"'
    if _SURROGATE.search(s) is not None:
        # Round-trip through Go bytes: invalid bytes come back as U+DC80..U+DCFF.
        s = go_string_bytes(s).decode("utf-8", "surrogateescape")
        return '"' + s.translate(_ESCAPES_INVALID) + '"'
    return '"' + s.translate(_ESCAPES) + '"'


_SMALL_INTS: Final = tuple(str(i) for i in range(256))


def _bad_value(t: GoType, v: object) -> LocalProtocolError:
    return LocalProtocolError(f"cannot encode {v!r} as Go {t.go_name}")


_Encoder = Callable[[object], str]


@functools.cache
def _encoder_for(t: GoType) -> _Encoder:
    """Build (once per descriptor) a function from Python value to compact JSON text."""
    if isinstance(t, GoUint):
        limit = 1 << t.bits

        def enc_uint(v: object) -> str:
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < limit:
                raise _bad_value(t, v)
            return _SMALL_INTS[v] if v < 256 else str(int(v))

        return enc_uint
    if isinstance(t, GoBool):

        def enc_bool(v: object) -> str:
            if not isinstance(v, bool):
                raise _bad_value(t, v)
            return "true" if v else "false"

        return enc_bool
    if isinstance(t, GoString):

        def enc_str(v: object) -> str:
            if not isinstance(v, str):
                raise _bad_value(t, v)
            return _encode_str(v)

        return enc_str
    if isinstance(t, GoByteArray):
        n = t.length
        cache: dict[bytes, str] = {}

        def enc_array(v: object) -> str:
            if not isinstance(v, bytes | bytearray) or len(v) != n:
                raise _bad_value(t, v)
            key = bytes(v)
            text = cache.get(key)
            if text is None:
                text = "[" + ",".join([_SMALL_INTS[b] for b in key]) + "]"
                if len(cache) < 256:
                    cache[key] = text
            return text

        return enc_array
    if isinstance(t, GoSlice):
        elem = _encoder_for(t.elem)
        read = t.read

        def enc_slice(v: object) -> str:
            items = read(v) if read is not None else v
            if items is None:
                return "null"
            if not isinstance(items, tuple | list):
                raise _bad_value(t, v)
            return "[" + ",".join([elem(x) for x in items]) + "]"

        return enc_slice
    parts = [(f.attr, '"' + f.name + '":', _encoder_for(f.type)) for f in t.fields]
    read_struct = t.read

    def enc_struct(v: object) -> str:
        attrs = read_struct(v)
        return "{" + ",".join([key + enc(attrs[attr]) for attr, key, enc in parts]) + "}"

    return enc_struct


def encode(value: object, t: GoType) -> bytes:
    """Exactly what Go's ``json.NewEncoder(w).Encode(value)`` writes, trailing ``\\n`` included.

    Raises :class:`LocalProtocolError` if ``value`` cannot be a value of the Go type.
    """
    return (_encoder_for(t)(value) + "\n").encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- scan: tree nodes
# The scan produces a tiny tree: objects are tuples of (key, value) pairs (order and
# duplicates kept), arrays are lists, numbers are _Num (their exact source text), strings
# are str (already with Go's U+FFFD replacements), true/false are bool, null is None.


class _Num(str):
    """A JSON number, kept as its source text (Go's error messages quote it verbatim)."""

    __slots__ = ()


class _Partial(Exception):
    """The data ended inside the first JSON value."""


class _Syntax(Exception):
    """Go's ``SyntaxError`` text."""


def _quote_char(c: int) -> str:
    """Go's ``quoteChar``: the byte as a rune, quoted like ``strconv.Quote`` but with '."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    specials = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}
    if c in specials:
        return f"'{specials[c]}'"
    if c == 0x5C:
        return "'\\\\'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c <= 0xA0 or c == 0xAD:
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


def _syntax(data: bytes, i: int, context: str) -> _Syntax:
    return _Syntax(f"invalid character {_quote_char(data[i])} {context}")


_WS = re.compile(rb"[ \t\n\r]*")
_DIGITS = re.compile(rb"[0-9]*")
_PLAIN_STRING = re.compile(rb'"([^"\\\x00-\x1f]*)"')
_STRING_BODY = re.compile(rb'[^"\\\x00-\x1f]*')
_HEX = frozenset(b"0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = {
    ord('"'): '"',
    ord("\\"): "\\",
    ord("/"): "/",
    ord("b"): "\b",
    ord("f"): "\f",
    ord("n"): "\n",
    ord("r"): "\r",
    ord("t"): "\t",
}
_ESCAPED_BYTES_TO_FFFD = {c: "\ufffd" for c in range(0xDC80, 0xDD00)}
_LITERALS = ((b"true", True, "true"), (b"false", False, "false"), (b"null", None, "null"))


def _go_utf8(raw: bytes) -> str:
    """Decode bytes like Go's ``utf8.DecodeRune`` loop: each invalid byte becomes U+FFFD.

    Python reports each invalid sequence as a maximal subpart whose bytes after the first are
    continuation bytes, which Go rejects one by one, so one U+FFFD per byte matches Go.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape").translate(_ESCAPED_BYTES_TO_FFFD)


def _unquote(content: bytes) -> str:
    """Go's ``unquoteBytes`` for string content already validated by the scanner."""
    if b"\\" not in content:
        return _go_utf8(content)
    out: list[str] = []
    pos = 0
    n = len(content)
    while pos < n:
        j = content.find(b"\\", pos)
        if j < 0:
            out.append(_go_utf8(content[pos:]))
            break
        if j > pos:
            out.append(_go_utf8(content[pos:j]))
        e = content[j + 1]
        if e != 0x75:  # not 'u'
            out.append(_SIMPLE_ESCAPES[e])
            pos = j + 2
            continue
        cp = int(content[j + 2 : j + 6], 16)
        pos = j + 6
        if 0xD800 <= cp <= 0xDFFF:
            low = -1
            if cp < 0xDC00 and content[pos : pos + 2] == b"\\u":
                low = int(content[pos + 2 : pos + 6], 16)
            if 0xDC00 <= low <= 0xDFFF:
                out.append(chr(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)))
                pos += 6
            else:
                out.append("\ufffd")
        else:
            out.append(chr(cp))
    return "".join(out)


def _scan_string(data: bytes, i: int) -> tuple[str, int]:
    """Scan the string starting at ``data[i] == '"'``; return (value, index after it)."""
    m = _PLAIN_STRING.match(data, i)
    if m is not None:
        return _go_utf8(m.group(1)), m.end()
    n = len(data)
    j = i + 1
    while True:
        j = _STRING_BODY.match(data, j).end()  # type: ignore[union-attr]
        if j >= n:
            raise _Partial
        c = data[j]
        if c == 0x22:
            return _unquote(data[i + 1 : j]), j + 1
        if c < 0x20:
            raise _syntax(data, j, "in string literal")
        # backslash
        j += 1
        if j >= n:
            raise _Partial
        c = data[j]
        if c == 0x75:
            for _ in range(4):
                j += 1
                if j >= n:
                    raise _Partial
                if data[j] not in _HEX:
                    raise _syntax(data, j, "in \\u hexadecimal character escape")
            j += 1
        elif c in _SIMPLE_ESCAPES:
            j += 1
        else:
            raise _syntax(data, j, "in string escape code")


def _scan_number(data: bytes, i: int) -> int:
    """Scan Go's number grammar from ``i``; return the index after it.

    Raises :class:`_Partial` only when the data ends where the grammar requires more
    (after ``-``, ``.``, ``e`` or the exponent sign); a number that runs to the end of the
    data is returned as complete and the caller decides.
    """
    n = len(data)
    if data[i] == 0x2D:  # '-'
        i += 1
        if i >= n:
            raise _Partial
        c = data[i]
        if not 0x30 <= c <= 0x39:
            raise _syntax(data, i, "in numeric literal")
    if data[i] == 0x30:
        i += 1
    else:
        i = _DIGITS.match(data, i + 1).end()  # type: ignore[union-attr]
    if i < n and data[i] == 0x2E:  # '.'
        i += 1
        if i >= n:
            raise _Partial
        if not 0x30 <= data[i] <= 0x39:
            raise _syntax(data, i, "after decimal point in numeric literal")
        i = _DIGITS.match(data, i).end()  # type: ignore[union-attr]
    if i < n and data[i] in b"eE":
        i += 1
        if i >= n:
            raise _Partial
        if data[i] in b"+-":
            i += 1
            if i >= n:
                raise _Partial
        if not 0x30 <= data[i] <= 0x39:
            raise _syntax(data, i, "in exponent of numeric literal")
        i = _DIGITS.match(data, i).end()  # type: ignore[union-attr]
    return i


def _scan_literal(data: bytes, i: int) -> tuple[object, int]:
    for word, value, name in _LITERALS:
        if data[i] == word[0]:
            for k in range(1, len(word)):
                if i + k >= len(data):
                    raise _Partial
                if data[i + k] != word[k]:
                    expecting = chr(word[k])
                    raise _syntax(data, i + k, f"in literal {name} (expecting '{expecting}')")
            return value, i + len(word)
    raise _syntax(data, i, "looking for beginning of value")  # pragma: no cover


def _ws(data: bytes, i: int) -> int:
    return _WS.match(data, i).end()  # type: ignore[union-attr]


def _scan_slow(data: bytes) -> tuple[object, bool]:
    """Hand-written scanner: the first JSON value of ``data`` as a tree.

    Returns ``(tree, ended_at_eof)``; ``ended_at_eof`` is true when the value is a top-level
    scalar whose last byte is the last byte of ``data`` (Go's scanner then needs the end of
    input to know the value is complete). Raises :class:`_Partial` or :class:`_Syntax`.
    Iterative, so nesting up to Go's depth limit cannot exhaust the Python stack.
    """
    n = len(data)
    # Each frame: [is_object, items, pending_key]
    stack: list[list[Any]] = []
    i = _ws(data, 0)
    value: object
    while True:
        # ---- state: beginning of a value at i
        if i >= n:
            raise _Partial
        c = data[i]
        if c == 0x7B or c == 0x5B:  # '{' '['
            if len(stack) >= MAX_NESTING_DEPTH:
                raise _syntax(data, i, "exceeded max depth")
            i = _ws(data, i + 1)
            if i >= n:
                raise _Partial
            closer = 0x7D if c == 0x7B else 0x5D
            if data[i] == closer:
                i += 1
                value = () if c == 0x7B else []
            elif c == 0x5B:
                stack.append([False, [], None])
                continue
            else:
                if data[i] != 0x22:
                    raise _syntax(data, i, "looking for beginning of object key string")
                key, i = _scan_string(data, i)
                i = _ws(data, i)
                if i >= n:
                    raise _Partial
                if data[i] != 0x3A:
                    raise _syntax(data, i, "after object key")
                i = _ws(data, i + 1)
                stack.append([True, [], key])
                continue
        elif c == 0x22:
            value, i = _scan_string(data, i)
        elif c == 0x2D or 0x30 <= c <= 0x39:
            end = _scan_number(data, i)
            value = _Num(data[i:end].decode("ascii"))
            i = end
        elif c in b"tfn":
            value, i = _scan_literal(data, i)
        else:
            raise _syntax(data, i, "looking for beginning of value")
        # ---- state: end of a value; close containers as far as possible
        while True:
            if not stack:
                return value, (i >= n and not isinstance(value, tuple | list))
            frame = stack[-1]
            i = _ws(data, i)
            if i >= n:
                raise _Partial
            c = data[i]
            if frame[0]:
                frame[1].append((frame[2], value))
                if c == 0x2C:  # ','
                    i = _ws(data, i + 1)
                    if i >= n:
                        raise _Partial
                    if data[i] != 0x22:
                        raise _syntax(data, i, "looking for beginning of object key string")
                    frame[2], i = _scan_string(data, i)
                    i = _ws(data, i)
                    if i >= n:
                        raise _Partial
                    if data[i] != 0x3A:
                        raise _syntax(data, i, "after object key")
                    i = _ws(data, i + 1)
                    break
                if c != 0x7D:
                    raise _syntax(data, i, "after object key:value pair")
                value = tuple(frame[1])
            else:
                frame[1].append(value)
                if c == 0x2C:
                    i = _ws(data, i + 1)
                    break
                if c != 0x5D:
                    raise _syntax(data, i, "after array element")
                value = frame[1]
            stack.pop()
            i += 1


def _reject_constant(name: str) -> object:
    raise ValueError(name)


_FAST_DECODER = json.decoder.JSONDecoder(
    object_pairs_hook=tuple,
    parse_int=_Num,
    parse_float=_Num,
    parse_constant=_reject_constant,
    strict=True,
)
_FAST_SCAN: Callable[[str, int], tuple[object, int]] = _FAST_DECODER.scan_once  # type: ignore[attr-defined]
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _scan_fast(data: bytes) -> object | None:
    """The stdlib C scanner, only where its result provably equals :func:`_scan_slow`'s.

    Conditions: valid UTF-8 (so no U+FFFD substitution is needed), no ``\\uD8xx``-style
    escape (Python keeps lone surrogates, Go substitutes U+FFFD), and a top-level object or
    array (for top-level numbers Python stops early where Go reads on, e.g. ``1.`` or
    ``1e``). Inside containers the C scanner's grammar is JSON's, which is Go's, except
    NaN/Infinity (rejected here) and its recursion limit (any failure falls back).
    Returns ``None`` when the slow path must decide.
    """
    if _SURROGATE_ESCAPE.search(data) is not None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    i = len(text) - len(text.lstrip(" \t\n\r"))
    if i >= len(text) or text[i] not in "{[":
        return None
    try:
        tree, _end = _FAST_SCAN(text, i)
    except Exception:  # any refusal (syntax, depth, NaN): let the exact scanner decide
        return None
    return tree


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
