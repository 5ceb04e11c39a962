"""The scan: the first JSON value of the input as a small tree, or Go's syntax error / EOF.

Like Go's decoder, decoding runs in two phases; this is the first (the second, storing the
tree into a Go type, is :mod:`.decoder`). There are two scanners: :func:`_scan_fast`, the
stdlib's C scanner used only where it provably agrees with Go, and :func:`_scan_slow`, the
hand-written scanner that alone produces errors.

The tree: objects are tuples of (key, value) pairs (order and duplicates kept), arrays are
lists, numbers are :class:`_Num` (their exact source text), strings are str (already with
Go's U+FFFD replacements), true/false are bool, null is None.
"""

from __future__ import annotations

import json.decoder
import re
from collections.abc import Callable
from typing import Any, Final

__all__ = ["MAX_NESTING_DEPTH"]

MAX_NESTING_DEPTH: Final = 10000
"""Go 1.15+ scanner limit: the 10001st nested ``[``/``{`` is a syntax error."""


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


def _scan_key(data: bytes, i: int) -> tuple[str, int]:
    """An object key at ``data[i]`` (``i`` in range) and its colon; return the key and the
    index where its value begins (after white space)."""
    n = len(data)
    if data[i] != 0x22:
        raise _syntax(data, i, "looking for beginning of object key string")
    key, i = _scan_string(data, i)
    i = _ws(data, i)
    if i >= n:
        raise _Partial
    if data[i] != 0x3A:
        raise _syntax(data, i, "after object key")
    return key, _ws(data, i + 1)


def _scan_scalar(data: bytes, i: int) -> tuple[object, int]:
    """The string, number or literal at ``data[i]``; return it and the index after it."""
    c = data[i]
    if c == 0x22:
        return _scan_string(data, i)
    if c == 0x2D or 0x30 <= c <= 0x39:
        end = _scan_number(data, i)
        return _Num(data[i:end].decode("ascii")), end
    if c in b"tfn":
        return _scan_literal(data, i)
    raise _syntax(data, i, "looking for beginning of value")


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
                key, i = _scan_key(data, i)
                stack.append([True, [], key])
                continue
        else:
            value, i = _scan_scalar(data, i)
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
                    frame[2], i = _scan_key(data, i)
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
