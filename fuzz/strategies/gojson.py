"""Go-JSON texts of protocol messages: valid, near-valid and invalid (docs/PROTOCOL.md §json).

The peer of a ByteStreamRPC implementation is Go's ``encoding/json``, which accepts far more
than the compact bytes Go itself writes. These strategies produce texts along three lines:

``valid``
    Texts Go's decoder turns into exactly the intended message: keys in any order and any
    case, including Unicode folding (``"Clientverſion"`` with U+017F, the Kelvin sign
    U+212A for ``k``); keys and strings written with any escape (``"\\u0054ype"``); repeated
    keys where the last wins; ``null`` wherever it leaves the value alone; unknown keys;
    ids written with fewer or more than 16 elements; whitespace anywhere; and anything after
    the first value (§json.decode.*).
``near-valid``
    Syntactically valid JSON one defect away from a valid message: a number out of range
    (``256``, ``-1``, ``-0``, ``2^64``), a fraction or exponent for an integer, a value of
    the wrong JSON kind (a string for the id, an object for a path...). Go rejects each with
    ``json: cannot unmarshal ...`` (§json.decode.range, §json.decode.type-mismatch).
``invalid``
    Not JSON inside the first value: truncation, a stray byte between tokens, a bad number
    (``01``, ``+1``, ``1.``), a broken literal, a raw control byte or a bad escape in a
    string, a missing ``:`` or ``,``, a trailing comma, a byte-order mark, no value at all,
    nesting deeper than Go's limit. Go reports a syntax error or (unexpected) EOF.

Messages are described by the reference's Go type descriptors
(:func:`bytestreamrpc.messages.go_type_of`), so every message class and both response-body
types are covered by the same code.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from bytestreamrpc import gojson, messages
from bytestreamrpc.gojson import GoBool, GoByteArray, GoSlice, GoString, GoStruct, GoType, GoUint

from ._validation import check_choice

__all__ = ["VALIDITIES", "go_json_encodings", "go_json_texts", "go_type_for", "go_values"]

VALIDITIES: Final = ("valid", "near-valid", "invalid")
_WS: Final = (b"", b"", b"", b" ", b"\n", b"\t", b"\r\n", b"  ")
_SHORT_ESCAPES: Final = {
    '"': b'\\"',
    "\\": b"\\\\",
    "/": b"\\/",
    "\b": b"\\b",
    "\f": b"\\f",
    "\n": b"\\n",
    "\r": b"\\r",
    "\t": b"\\t",
}
_FOLDS: Final = {"s": ("s", "S", "\u017f"), "k": ("k", "K", "\u212a")}
_TEXT: Final = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
"""Short strings of any Unicode except lone surrogates (a Go string holds none)."""


def go_type_for(message: type | GoType) -> GoType:
    """The Go descriptor for a message class (or a descriptor itself, passed through)."""
    if isinstance(message, GoUint | GoBool | GoString | GoByteArray | GoSlice | GoStruct):
        return message
    try:
        return messages.go_type_of(message)
    except (KeyError, TypeError):
        raise InvalidArgument(
            f"{message!r} is not a ByteStreamRPC message class or Go type descriptor"
        ) from None


# --------------------------------------------------------------------------- values


def _null_value(t: GoType) -> object:
    """What Go's ``null`` leaves in a *fresh* value of type ``t`` (its zero value)."""
    if isinstance(t, GoUint):
        return 0
    if isinstance(t, GoBool):
        return False
    if isinstance(t, GoString):
        return ""
    if isinstance(t, GoByteArray):
        return bytes(t.length)
    if isinstance(t, GoSlice):
        return t.build(None) if t.build is not None else None
    return t.build({f.attr: _null_value(f.type) for f in t.fields})


def go_values(go_type: type | GoType) -> st.SearchStrategy[object]:
    """Any value of a Go type, over its whole range (the Python form the codec uses).

    >>> from bytestreamrpc.messages import RequestHeader
    >>> go_values(RequestHeader).example()  # doctest: +SKIP
    RequestHeader(type=147, id=b'...')
    """
    return _values(go_type_for(go_type))


@functools.cache
def _values(t: GoType) -> st.SearchStrategy[object]:
    if isinstance(t, GoUint):
        top = 2**t.bits - 1
        return st.one_of(st.integers(0, min(top, 300)), st.integers(0, top), st.just(top))
    if isinstance(t, GoBool):
        return st.booleans()
    if isinstance(t, GoString):
        return st.one_of(st.sampled_from(("", "snapshot", "bookmark", "most_recent")), _TEXT)
    if isinstance(t, GoByteArray):
        return st.one_of(st.just(bytes(t.length)), st.binary(min_size=t.length, max_size=t.length))
    if isinstance(t, GoSlice):
        items = st.lists(_values(t.elem), max_size=4).map(tuple)
        build = t.build
        raw = st.one_of(st.none(), items)
        return raw.map(build) if build is not None else raw
    struct = t
    fields = {f.attr: _values(f.type) for f in struct.fields}
    return st.fixed_dictionaries(fields).map(struct.build)


def _items_of(t: GoSlice, value: object) -> tuple[object, ...] | None:
    return t.read(value) if t.read is not None else value  # type: ignore[return-value]


# --------------------------------------------------------------------------- rendering


@dataclass
class _Tok:
    kind: str  # ws, punct, str, num, lit, raw
    data: bytes


class _Render:
    """Renders one value as a token list, with Hypothesis drawing every free choice."""

    def __init__(self, draw: st.DrawFn, defect: tuple[object, ...] | None) -> None:
        self.draw = draw
        self.toks: list[_Tok] = []
        self.defect = defect  # path of the near-valid defect, if any
        self.explicit = False  # the next value must not be written as ``null``

    def ws(self) -> None:
        w = self.draw(st.sampled_from(_WS))
        if w:
            self.toks.append(_Tok("ws", w))

    def punct(self, p: bytes) -> None:
        self.toks.append(_Tok("punct", p))

    # -- strings -------------------------------------------------------------------
    def string(self, s: str) -> None:
        self.toks.append(_Tok("str", self.string_bytes(s)))

    def string_bytes(self, s: str) -> bytes:
        out = bytearray(b'"')
        for ch in s:
            out += self._char(ch)
        out += b'"'
        return bytes(out)

    def _char(self, ch: str) -> bytes:
        o = ord(ch)
        options: list[bytes] = []
        if o >= 0x20 and ch not in '"\\':
            options.append(ch.encode("utf-8"))
        if ch in _SHORT_ESCAPES:
            options.append(_SHORT_ESCAPES[ch])
        if o <= 0xFFFF:
            options.append(f"\\u{o:04x}".encode())
            options.append(f"\\u{o:04X}".encode())
        else:
            hi, lo = 0xD800 + ((o - 0x10000) >> 10), 0xDC00 + ((o - 0x10000) & 0x3FF)
            options.append(f"\\u{hi:04x}\\u{lo:04x}".encode())
        if ch == "\ufffd":  # Go turns invalid UTF-8 and lone surrogates into U+FFFD
            options += [b"\xff", b"\x80", b"\\ud800", b"\\udfff"]
        if len(options) == 1 or self.draw(st.integers(0, 3)):
            return options[0]
        return self.draw(st.sampled_from(options))

    def key(self, name: str) -> str:
        """A spelling of a field name that Go matches to it."""
        if not self.draw(st.integers(0, 3)):
            out = []
            for c in name:
                low = c.lower()
                out.append(self.draw(st.sampled_from(_FOLDS.get(low, (low, c.upper())))))
            return "".join(out)
        return name

    # -- values --------------------------------------------------------------------
    def value(self, t: GoType, v: object, path: tuple[object, ...]) -> None:
        if self.defect == path:
            self.bad_value(t)
            return
        targeted = self.defect is not None and self.defect[: len(path)] == path
        explicit, self.explicit = self.explicit, False
        if (
            not targeted
            and not explicit
            and not isinstance(t, GoStruct)
            and v == _null_value(t)
            and not self.draw(st.integers(0, 4))
        ):
            self.toks.append(_Tok("lit", b"null"))
            return
        if isinstance(t, GoUint):
            self.toks.append(_Tok("num", str(v).encode()))
        elif isinstance(t, GoBool):
            self.toks.append(_Tok("lit", b"true" if v else b"false"))
        elif isinstance(t, GoString):
            assert isinstance(v, str)
            self.string(v)
        elif isinstance(t, GoByteArray):
            assert isinstance(v, bytes)
            self.byte_array(t, v, path)
        elif isinstance(t, GoSlice):
            self.slice(t, v, path)
        else:
            self.struct(t, v, path)

    def byte_array(self, t: GoByteArray, v: bytes, path: tuple[object, ...]) -> None:
        n = len(v.rstrip(b"\x00"))
        shown = self.draw(st.integers(n, t.length + 2)) if self.defect is None else t.length
        self.punct(b"[")
        for i in range(shown):
            if i:
                self.ws()
                self.punct(b",")
            self.ws()
            if i < t.length:
                self.value(GoUint(8, "uint8"), v[i], (*path, i))
            else:  # beyond the 16th: ignored whatever it is (§json.decode.id-array)
                self.toks.append(_Tok("raw", self.draw(_ANY_JSON)))
        self.ws()
        self.punct(b"]")

    def slice(self, t: GoSlice, v: object, path: tuple[object, ...]) -> None:
        items = _items_of(t, v)
        if items is None:  # Go's nil slice
            self.toks.append(_Tok("lit", b"null"))
            return
        self.punct(b"[")
        for i, item in enumerate(items or ()):
            if i:
                self.ws()
                self.punct(b",")
            self.ws()
            self.value(t.elem, item, (*path, i))
        self.ws()
        self.punct(b"]")

    def struct(self, t: GoStruct, v: object, path: tuple[object, ...]) -> None:
        attrs = t.read(v)
        entries: list[Callable[[], None]] = []
        for f in t.fields:
            fv = attrs[f.attr]
            fpath = (*path, f.name)
            targeted = self.defect is not None and self.defect[: len(fpath)] == fpath
            if not targeted and fv == _null_value(f.type) and not self.draw(st.integers(0, 2)):
                continue  # a missing key leaves the zero value
            scalar = isinstance(f.type, GoUint | GoBool | GoString)
            overwrites = scalar and not targeted and not self.draw(st.integers(0, 5))
            if overwrites:
                earlier = self.draw(_values(f.type))
                entries.append(self._entry(f.name, f.type, earlier, fpath, plain=True))
            # After an earlier occurrence, ``null`` would keep *that* value: spell it out.
            entries.append(self._entry(f.name, f.type, fv, fpath, explicit=overwrites))
            if scalar and not self.draw(st.integers(0, 5)):
                entries.append(self._null_entry(f.name))
        for _ in range(self.draw(st.integers(0, 2)) if not self.draw(st.integers(0, 2)) else 0):
            entries.insert(self.draw(st.integers(0, len(entries))), self._unknown_entry(t))
        if self.draw(st.booleans()):
            entries = self._shuffle_keeping_order_per_key(entries)
        self.punct(b"{")
        for i, emit in enumerate(entries):
            if i:
                self.ws()
                self.punct(b",")
            self.ws()
            emit()
        self.ws()
        self.punct(b"}")

    def _shuffle_keeping_order_per_key(
        self, entries: list[Callable[[], None]]
    ) -> list[Callable[[], None]]:
        # Reordering different keys is free in Go; occurrences of one key must keep their
        # order (the last wins), so we only rotate whole runs.
        if len(entries) < 2:
            return entries
        k = self.draw(st.integers(0, len(entries) - 1))
        groups: dict[str, list[Callable[[], None]]] = {}
        for e in entries:
            groups.setdefault(getattr(e, "key", ""), []).append(e)
        names = list(groups)
        names = names[k % len(names) :] + names[: k % len(names)]
        return [e for n in names for e in groups[n]]

    def _entry(
        self,
        name: str,
        t: GoType,
        v: object,
        path: tuple[object, ...],
        *,
        plain: bool = False,
        explicit: bool = False,
    ) -> Callable[[], None]:
        def emit() -> None:
            self.string(self.key(name))
            self.ws()
            self.punct(b":")
            self.ws()
            saved = self.defect, self.explicit
            if plain:
                self.defect = None
            self.explicit = explicit
            self.value(t, v, path)
            self.defect, self.explicit = saved

        emit.key = name.lower()  # type: ignore[attr-defined]
        return emit

    def _null_entry(self, name: str) -> Callable[[], None]:
        def emit() -> None:
            self.string(self.key(name))
            self.punct(b":")
            self.toks.append(_Tok("lit", b"null"))

        emit.key = name.lower()  # type: ignore[attr-defined]
        return emit

    def _unknown_entry(self, t: GoStruct) -> Callable[[], None]:
        def emit() -> None:
            key = self.draw(_TEXT)
            if t.lookup(key) is not None:  # an unknown key must match no field
                key = "\x00" + key
            self.string(key)
            self.punct(b":")
            self.toks.append(_Tok("raw", self.draw(_ANY_JSON)))

        emit.key = "\0unknown"  # type: ignore[attr-defined]
        return emit

    # -- near-valid defects --------------------------------------------------------
    def bad_value(self, t: GoType) -> None:
        self.toks.append(_Tok("raw", self.draw(st.sampled_from(_bad_values(t)))))


_SCALAR_JSON: Final = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _TEXT,
)
_ANY_JSON: Final = st.recursive(
    _SCALAR_JSON,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)),
    max_leaves=6,
).map(lambda v: json.dumps(v).encode())


def _bad_values(t: GoType) -> tuple[bytes, ...]:
    """Syntactically valid JSON that Go refuses to store in a value of type ``t``."""
    wrong_kind = {
        "string": b'"1"',
        "bool": b"true",
        "array": b"[1]",
        "object": b"{}",
        "number": b"1",
    }
    if isinstance(t, GoUint):
        top = 2**t.bits
        return (
            str(top).encode(),
            str(top + 7).encode(),
            b"-1",
            b"-0",
            b"1.0",
            b"1e0",
            b"1E2",
            b"0.5",
            wrong_kind["string"],
            wrong_kind["bool"],
            wrong_kind["array"],
            wrong_kind["object"],
        )
    if isinstance(t, GoBool):
        return (b"1", b"0", b'"true"', b"[]", b"{}")
    if isinstance(t, GoString):
        return (b"1", b"true", b"[]", b'["a"]', b"{}")
    if isinstance(t, GoByteArray):
        return (b'"AAAAAAAAAAAAAAAAAAAAAA=="', b"1", b"true", b"{}")
    if isinstance(t, GoSlice):
        return (b'"a/b"', b"1", b"false", b"{}")
    return (b"[]", b"[1]", b'"x"', b"1", b"true")


def _sites(t: GoType, v: object, path: tuple[object, ...]) -> list[tuple[object, ...]]:
    """Every place a near-valid defect can go, in document order."""
    out = [path]
    if isinstance(t, GoByteArray):
        out += [(*path, i) for i in range(t.length)]
    elif isinstance(t, GoSlice):
        for i, item in enumerate(_items_of(t, v) or ()):
            out += _sites(t.elem, item, (*path, i))
    elif isinstance(t, GoStruct):
        attrs = t.read(v)
        for f in t.fields:
            out += _sites(f.type, attrs[f.attr], (*path, f.name))
    return out


def _join(toks: list[_Tok]) -> bytes:
    return b"".join(tok.data for tok in toks)


@st.composite
def _encoding(draw: st.DrawFn, t: GoType, value: object, trailing: bool) -> bytes:
    r = _Render(draw, None)
    r.ws()
    if value == _null_value(t) and not draw(st.integers(0, 3)):
        r.toks.append(_Tok("lit", b"null"))
    else:
        r.value(t, value, ())
    text = _join(r.toks)
    if trailing and draw(st.booleans()):
        text += draw(st.sampled_from((b"\n", b" ", b"\n\n", b"\t")))
        if draw(st.integers(0, 3)) == 0:
            text += draw(st.one_of(st.binary(max_size=8), _ANY_JSON))
    return text


def go_json_encodings(
    value: object, *, go_type: GoType | None = None, trailing: bool = True
) -> st.SearchStrategy[bytes]:
    """Valid Go-JSON texts that decode to exactly ``value`` (a message instance; for a
    Filesystems or FilesystemDiff body pass ``go_type=messages.FILESYSTEMS_TYPE`` /
    ``VERSIONS_TYPE``). ``trailing`` allows bytes after the value (§json.decode.trailing).

    >>> from bytestreamrpc.messages import ProtocolVersionRequest
    >>> go_json_encodings(ProtocolVersionRequest()).example()  # doctest: +SKIP
    b'{ "clientverſion" :1}\\n'
    """
    t = go_type if go_type is not None else go_type_for(type(value))
    try:
        gojson.encode(value, t)
    except Exception as exc:
        raise InvalidArgument(f"{value!r} is not a value of Go type {t.go_name}: {exc}") from None
    if not isinstance(trailing, bool):
        raise InvalidArgument(f"trailing={trailing!r} must be True or False")
    return _encoding(t, value, trailing)


@st.composite
def _near_valid(draw: st.DrawFn, t: GoType) -> bytes:
    value = draw(_values(t))
    sites = _sites(t, value, ())
    site = draw(st.sampled_from(sites))
    r = _Render(draw, site)
    r.ws()
    r.value(t, value, ())
    text = _join(r.toks)
    if draw(st.booleans()):
        text += b"\n"
    return text


_BAD_BYTES: Final = (b"x", b"=", b"#", b"'", b"\x00", b"@", b";")
_BAD_NUMBERS: Final = (b"01", b"+1", b".5", b"1.", b"1e", b"-", b"0x1", b"1e+", b"--1")
_BAD_LITERALS: Final = (b"tru", b"True", b"nul", b"NULL", b"fals", b"nan", b"t")
_BAD_IN_STRING: Final = (b"\x01", b"\x1f", b"\n", b"\x00", b"\\x", b"\\u12G4", b"\\U0041", b"\\a")
_BOM: Final = b"\xef\xbb\xbf"


@st.composite
def _invalid(draw: st.DrawFn, t: GoType) -> bytes:
    kind = draw(
        st.sampled_from(
            (
                "truncate",
                "stray",
                "number",
                "literal",
                "string",
                "drop",
                "trailing-comma",
                "bom",
                "empty",
                "deep",
            )
        )
    )
    if kind == "empty":
        return draw(st.sampled_from((b"", b" ", b"\n\t \r")))
    if kind == "deep":
        return b"[" * 10001 + b"]" * 10001
    value = draw(_values(t))
    r = _Render(draw, None)
    r.ws()
    r.value(t, value, ())
    toks = r.toks
    last = max(i for i, tok in enumerate(toks) if tok.kind != "ws")
    first = min(i for i, tok in enumerate(toks) if tok.kind != "ws")
    if toks[first].kind == "lit":  # a top-level null: give it a body to break instead
        pair = (b"[", b"]") if isinstance(t, GoSlice) else (b"{", b"}")
        toks[first : first + 1] = [_Tok("punct", pair[0]), _Tok("punct", pair[1])]
        last = first + 1
    if kind == "truncate":
        body = _join(toks[: last + 1])
        return body[: draw(st.integers(0, len(body) - 1))]
    if kind == "bom":
        return _BOM + _join(toks)
    if kind == "stray":
        at = draw(st.integers(first, last))
        toks.insert(at, _Tok("raw", draw(st.sampled_from(_BAD_BYTES))))
        return _join(toks)
    if kind == "trailing-comma":
        closers = [i for i in range(first, last + 1) if toks[i].data in (b"}", b"]")]
        at = draw(st.sampled_from(closers))
        toks.insert(at, _Tok("punct", b","))
        return _join(toks)
    candidates = {
        "number": [i for i in range(first, last + 1) if toks[i].kind == "num"],
        "literal": [i for i in range(first, last + 1) if toks[i].kind == "lit"],
        "string": [i for i in range(first, last + 1) if toks[i].kind == "str"],
        "drop": [i for i in range(first, last + 1) if toks[i].data in (b":", b",")],
    }[kind]
    if not candidates:  # nothing of that kind in this value: a stray byte instead
        toks.insert(draw(st.integers(first, last)), _Tok("raw", b"x"))
        return _join(toks)
    at = draw(st.sampled_from(candidates))
    if kind == "number":
        toks[at] = _Tok("raw", draw(st.sampled_from(_BAD_NUMBERS)))
    elif kind == "literal":
        toks[at] = _Tok("raw", draw(st.sampled_from(_BAD_LITERALS)))
    elif kind == "string":
        bad = draw(st.sampled_from(_BAD_IN_STRING))
        toks[at] = _Tok("raw", b'"' + bad + toks[at].data[1:])
    else:  # a space where the ':' or ',' was: dropping it could join two numbers into one
        toks[at] = _Tok("ws", b" ")
    return _join(toks)


def go_json_texts(message: type | GoType, *, validity: str = "valid") -> st.SearchStrategy[bytes]:
    """Go-JSON texts for ``message`` (a message class such as ``RequestHeader``, or a Go
    type descriptor such as ``messages.VERSIONS_TYPE``) of the given ``validity``:
    ``"valid"``, ``"near-valid"`` or ``"invalid"`` (see the module docstring).

    >>> from bytestreamrpc.messages import RequestHeader
    >>> go_json_texts(RequestHeader, validity="near-valid").example()  # doctest: +SKIP
    b'{"Type":256,"Id":[0]}'
    """
    t = go_type_for(message)
    which = check_choice(validity, "validity", VALIDITIES)
    if which == "valid":
        return _values(t).flatmap(lambda v: _encoding(t, v, True))
    if which == "near-valid":
        return _near_valid(t)
    return _invalid(t)
