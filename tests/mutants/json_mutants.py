"""JSON defects (§json, §msg): how messages are decoded and encoded.

Decoding goes through :mod:`bytestreamrpc.gojson` (``GoStruct.lookup`` matches keys; in
:mod:`bytestreamrpc.gojson.decoder`, ``_apply`` stores a parsed value into a Go type,
``_apply_uint`` checks integer ranges);
encoding through :func:`bytestreamrpc.messages.encode_message`,
:func:`~bytestreamrpc.messages.encode_filesystems` and
:func:`~bytestreamrpc.messages.encode_versions`, which the connection looks up on the
module at call time. Each mutant replaces one of those. The last group are harmless
writer variations (spacing, key case, no trailing newline).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence

from bytestreamrpc import messages
from bytestreamrpc.connection import Role
from bytestreamrpc.gojson import GoField, GoStruct, GoType, GoUint, decoder
from bytestreamrpc.messages import DatasetPath, FilesystemVersion

from .registry import mutant, replace
from .wire_json import add_spaces, lowercase_keys, strip_newline, unescape_html

Rewrite = Callable[[bytes], bytes]
_UINT64_MAX = (1 << 64) - 1


def _rewrite_all_json(rewrite: Rewrite) -> None:
    """Pass every JSON message this process writes through ``rewrite``."""
    for name in ("encode_message", "encode_filesystems", "encode_versions"):
        original = getattr(messages, name)

        def rewritten(value: object, _original: Callable[[object], bytes] = original) -> bytes:
            return rewrite(_original(value))

        replace(messages, name, rewritten)


def _wrap_apply(
    before: Callable[[GoType, object, object, decoder._Ctx, decoder._Errors], object | None],
) -> None:
    """Run ``before(t, node, cur, ctx, errs)`` ahead of every ``decoder._apply`` step.

    ``before`` returns a replacement node, or ``None`` to keep the node as it is.
    """
    apply = decoder._apply

    def wrapped(
        t: GoType, node: object, cur: object, ctx: decoder._Ctx, errs: decoder._Errors
    ) -> object:
        new = before(t, node, cur, ctx, errs)
        return apply(t, node if new is None else new, cur, ctx, errs)

    replace(decoder, "_apply", wrapped)


def _set_first_error(errs: decoder._Errors, text: str) -> None:
    if errs.first is None:
        errs.first = text


# --------------------------------------------------------------------------- decoding


@mutant(
    "json-rejects-unknown-keys",
    role=Role.SERVER,
    description="refuses messages with keys that match no field (Go's DisallowUnknownFields)",
    sections=("§json.decode.unknown-keys",),
    family="json",
)
def _rejects_unknown_keys() -> None:
    def check(
        t: GoType, node: object, cur: object, ctx: decoder._Ctx, errs: decoder._Errors
    ) -> None:
        if isinstance(t, GoStruct) and type(node) is tuple:
            for key, _value in node:
                if t.lookup(key) is None:
                    _set_first_error(errs, f'json: unknown field "{key}"')
        return None

    _wrap_apply(check)


@mutant(
    "json-null-rejected",
    role=Role.SERVER,
    description='treats null as a type error, so a Go client\'s {"Roots":null} is refused '
    "with error 3",
    sections=("§json.decode.null", "§json.encode.nil-slice", "§server.fs.ok"),
    family="json",
)
def _null_rejected() -> None:
    def check(
        t: GoType, node: object, cur: object, ctx: decoder._Ctx, errs: decoder._Errors
    ) -> None:
        if node is None:
            _set_first_error(errs, f"json: cannot unmarshal null into Go value of type {t.go_name}")
        return None

    _wrap_apply(check)


@mutant(
    "json-uint8-wraps",
    role=Role.SERVER,
    description="stores out-of-range integers modulo 2^bits (Type 272 becomes 16) instead of "
    "refusing them",
    sections=("§json.decode.range", "§json.decode"),
    family="json",
)
def _uint_wraps() -> None:
    apply_uint = decoder._apply_uint

    def wrapping(
        t: GoUint, node: object, cur: int, ctx: decoder._Ctx, errs: decoder._Errors
    ) -> int:
        if isinstance(node, str) and node.isdigit():
            return int(node) % (1 << t.bits)
        result: int = apply_uint(t, node, cur, ctx, errs)
        return result

    replace(decoder, "_apply_uint", wrapping)


@mutant(
    "json-keys-case-sensitive",
    role=Role.SERVER,
    description='matches keys case-sensitively: {"type":1,...} leaves Type 0 (error 2)',
    sections=("§json.decode.key-folding",),
    family="json",
    expect="NON-STRICT",
)
def _case_sensitive() -> None:
    def lookup(self: GoStruct, key: str) -> GoField | None:
        return self._exact.get(key)

    replace(GoStruct, "lookup", lookup)


@mutant(
    "json-first-duplicate-wins",
    role=Role.SERVER,
    description='of repeated keys the first occurrence wins ({"Type":17,"Type":16} is 17)',
    sections=("§json.decode.duplicate-keys",),
    family="json",
    expect="NON-STRICT",
)
def _first_duplicate_wins() -> None:
    def first_only(
        t: GoType, node: object, cur: object, ctx: decoder._Ctx, errs: decoder._Errors
    ) -> object:
        if not (isinstance(t, GoStruct) and type(node) is tuple):
            return None
        seen: set[str] = set()
        kept = []
        for key, value in node:
            field = t.lookup(key)
            if field is not None:
                if field.name in seen:
                    continue
                seen.add(field.name)
            kept.append((key, value))
        return tuple(kept)

    _wrap_apply(first_only)


# --------------------------------------------------------------------------- encoding


@mutant(
    "guid-float",
    role=Role.SERVER,
    description="writes Guid and CreateTXG through a float64, losing digits above 2^53",
    sections=("§json.encode.integers", "§msg.filesystem-version", "§server.fsv.ok"),
    family="server-rows",
)
def _guid_float() -> None:
    encode_versions = messages.encode_versions

    def rounded(n: int) -> int:
        return min(int(float(n)), _UINT64_MAX)

    def lossy(versions: Sequence[FilesystemVersion] | None) -> bytes:
        if versions is None:
            return bytes(encode_versions(None))
        return bytes(
            encode_versions(
                [
                    dataclasses.replace(v, guid=rounded(v.guid), create_txg=rounded(v.create_txg))
                    for v in versions
                ]
            )
        )

    replace(messages, "encode_versions", lossy)


@mutant(
    "dataset-path-as-string",
    role=Role.SERVER,
    description='writes the Filesystems body as strings ["pool/data"] instead of component '
    'arrays [["pool","data"]]',
    sections=("§msg.dataset-path", "§msg.filesystems-body", "§server.fs.ok"),
    family="server-rows",
)
def _path_as_string() -> None:
    def as_strings(paths: Sequence[DatasetPath] | None) -> bytes:
        texts = None if paths is None else [p.to_string() for p in paths]
        return json.dumps(texts, separators=(",", ":")).encode() + b"\n"

    replace(messages, "encode_filesystems", as_strings)


@mutant(
    "json-no-html-escape",
    role=Role.SERVER,
    description="writes < > & raw inside strings instead of \\u003c \\u003e \\u0026",
    sections=("§json.encode.escapes",),
    family="json",
    expect="NON-STRICT",
)
def _no_html_escape() -> None:
    _rewrite_all_json(unescape_html)


# --------------------------------------------------------------------------- harmless


@mutant(
    "json-spaces",
    role=Role.SERVER,
    description="JSON with a space after every ':' and ','",
    sections=("§json.encode",),
    family="json",
    expect="NO-FAIL",
)
def _spaces() -> None:
    _rewrite_all_json(add_spaces)


@mutant(
    "json-lowercase-keys",
    role=Role.SERVER,
    description='JSON keys written in lower case ("responsetype")',
    sections=("§json.encode", "§json.decode.key-folding"),
    family="json",
    expect="NO-FAIL",
)
def _lowercase_keys() -> None:
    _rewrite_all_json(lowercase_keys)


@mutant(
    "json-no-newline",
    role=Role.SERVER,
    description="JSON messages without Go's trailing newline",
    sections=("§json.encode.newline",),
    family="json",
    expect="NO-FAIL",
)
def _no_newline() -> None:
    _rewrite_all_json(strip_newline)
