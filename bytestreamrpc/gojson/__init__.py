"""A Go ``encoding/json``-compatible codec for the handful of Go types ByteStreamRPC uses.

Why not the stdlib ``json`` module alone: the original peer is a Go program, and what it
accepts, rejects, and the exact error text it puts on the wire (``ResponseHeader.Message``)
follow Go 1.19's ``encoding/json``, not Python's. Differences that show on the wire include
case-insensitive key matching with Unicode folding, duplicate keys merging into the same
struct, ``null`` leaving values alone, Go's number grammar, U+FFFD for invalid UTF-8 and lone
surrogate escapes, HTML-safe string escaping, and Go's error messages.

Shape of the package (this module re-exports the public names of its modules):

* *Descriptors* (:mod:`.descriptors`: :class:`GoUint`, :class:`GoBool`, :class:`GoString`,
  :class:`GoByteArray`, :class:`GoSlice`, :class:`GoStruct`) describe a Go type and how it
  maps to a Python value.
* :func:`encode` (:mod:`.encoder`) writes exactly what ``json.NewEncoder(w).Encode(v)``
  writes, ``\\n`` included.
* :func:`decode_first` (:mod:`.decoder`) emulates ``json.NewDecoder(r).Decode(&v)`` over a
  complete byte string in two phases, like Go: a *scan* (:mod:`.scanner`) that reads the
  first JSON value into a small tree (or yields Go's syntax error / EOF), then an *apply*
  (:mod:`.decoder`) that stores the tree into the Go type with Go's reflection rules and
  remembers the first type error.
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

from .decoder import DecodeKind, DecodeOutcome, decode_first, decode_message_bytes
from .descriptors import (
    GoBool,
    GoByteArray,
    GoField,
    GoSlice,
    GoString,
    GoStruct,
    GoType,
    GoUint,
)
from .encoder import encode, go_string_bytes
from .scanner import MAX_NESTING_DEPTH

# Internals the tests compare against each other (fast vs slow scan, Go's UTF-8 decoding).
from .scanner import _go_utf8 as _go_utf8
from .scanner import _scan_fast as _scan_fast
from .scanner import _scan_slow as _scan_slow

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
