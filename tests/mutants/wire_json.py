"""Byte-level rewrites of encoded JSON, for mutants whose writer differs from Go's.

The reference writes Go's exact bytes; these functions change one aspect of them (spacing,
key case, escapes, the trailing newline) and nothing else, so a mutant differs from the
reference in exactly the way its description says. They work on the encoded text, tracking
strings and escapes, because re-encoding through Python's ``json`` would change several
aspects at once (escapes, number forms).
"""

from __future__ import annotations

import json
from typing import Final

_HTML_ESCAPES: Final = {b"u003c": b"<", b"u003e": b">", b"u0026": b"&"}
_WHITESPACE: Final = b" \t\n\r"
_RAW_DECODER: Final = json.JSONDecoder(strict=False)


def string_spans(data: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of every JSON string literal, ``data[start:end]`` with its quotes."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(data)
    while i < n:
        if data[i] != 0x22:  # '"'
            i += 1
            continue
        start = i
        i += 1
        while i < n and data[i] != 0x22:
            i += 2 if data[i] == 0x5C else 1  # skip the escaped byte after '\'
        i += 1
        spans.append((start, min(i, n)))
    return spans


def _outside_strings(data: bytes) -> list[tuple[bool, bytes]]:
    """``data`` cut into (is_string, piece) runs."""
    pieces: list[tuple[bool, bytes]] = []
    pos = 0
    for start, end in string_spans(data):
        if start > pos:
            pieces.append((False, data[pos:start]))
        pieces.append((True, data[start:end]))
        pos = end
    if pos < len(data):
        pieces.append((False, data[pos:]))
    return pieces


def add_spaces(data: bytes) -> bytes:
    """A space after every ``:`` and ``,`` outside strings (``json.dumps`` default style)."""
    return b"".join(
        piece if is_string else piece.replace(b":", b": ").replace(b",", b", ")
        for is_string, piece in _outside_strings(data)
    )


def lowercase_keys(data: bytes) -> bytes:
    """Object keys in lower case (``"ResponseType"`` → ``"responsetype"``); values untouched."""
    out = bytearray(data)
    for start, end in string_spans(data):
        rest = data[end:].lstrip(_WHITESPACE)
        if rest.startswith(b":"):
            out[start:end] = data[start:end].lower()
    return bytes(out)


def unescape_html(data: bytes) -> bytes:
    """``\\u003c`` ``\\u003e`` ``\\u0026`` inside strings written as raw ``<`` ``>`` ``&``."""
    pieces: list[bytes] = []
    for is_string, piece in _outside_strings(data):
        if not is_string:
            pieces.append(piece)
            continue
        out = bytearray()
        i = 0
        while i < len(piece):
            if piece[i] == 0x5C:  # a backslash escape: keep it unless it is an HTML escape
                raw = _HTML_ESCAPES.get(piece[i + 1 : i + 6])
                if raw is not None:
                    out += raw
                    i += 6
                else:
                    out += piece[i : i + 2]
                    i += 2
            else:
                out.append(piece[i])
                i += 1
        pieces.append(bytes(out))
    return b"".join(pieces)


def strip_newline(data: bytes) -> bytes:
    """The value without Go's trailing ``\\n``."""
    return data[:-1] if data.endswith(b"\n") else data


def first_value_end(data: bytes) -> int | None:
    """Offset just past the first JSON value in ``data``; ``None`` if there is none."""
    text = data.decode("latin-1")  # one char per byte: offsets stay byte offsets
    start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        _value, end = _RAW_DECODER.raw_decode(text, start)
    except ValueError:
        return None
    return end
