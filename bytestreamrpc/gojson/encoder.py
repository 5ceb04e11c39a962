"""Encoding: exactly what Go's ``json.NewEncoder(w).Encode(v)`` writes.

Go escapes HTML characters and U+2028/U+2029 by default and replaces invalid UTF-8 with
``\\ufffd``; a Python ``str`` stands for Go bytes as the package docstring says
(:func:`go_string_bytes`). One compact encoder function is built per descriptor and cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Final

from ..errors import LocalProtocolError
from .descriptors import GoBool, GoByteArray, GoSlice, GoString, GoType, GoUint

__all__ = ["encode", "go_string_bytes"]

_ESCAPES: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESCAPES.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x22: '\\"', 0x5C: "\\\\"})
_ESCAPES.update({0x3C: "\\u003c", 0x3E: "\\u003e", 0x26: "\\u0026"})
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029"})
_ESCAPES_INVALID = dict(_ESCAPES)
_ESCAPES_INVALID.update({c: "\\ufffd" for c in range(0xDC80, 0xDD00)})
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_SURROGATE = re.compile("[\ud800-\udfff]")


def go_string_bytes(s: str) -> bytes:
    """The Go string (bytes) a Python ``str`` stands for (see :mod:`bytestreamrpc.gojson`)."""
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
