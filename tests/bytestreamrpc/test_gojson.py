"""bytestreamrpc.gojson against Go 1.19's encoding/json.

The oracle table (tests/data/gojson_oracle.json, made by tools/go-oracle) is Go's own answer
for ~2600 inputs; every case is checked here without needing Go. The explicit tests below
restate each PROTOCOL-FACTS §4 example so a failure names the behaviour.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytestreamrpc import gojson
from bytestreamrpc import messages as m
from bytestreamrpc.errors import DecodeError
from bytestreamrpc.gojson import DecodeKind, GoString, GoUint

ORACLE = Path(__file__).parent.parent / "data" / "gojson_oracle.json"
TYPES: dict[str, gojson.GoType] = {m.POINTER_NAME_OF[c]: m.go_type_of(c) for c in m.POINTER_NAME_OF}
TYPES[m.FILESYSTEMS_POINTER] = m.FILESYSTEMS_TYPE
TYPES[m.VERSIONS_POINTER] = m.VERSIONS_TYPE
HAS_PATH_FIELD = {
    "*rpc.FilesystemVersionsRequest",
    "*rpc.InitialTransferRequest",
    "*rpc.IncrementalTransferRequest",
}


def _load() -> dict[str, Any]:
    with ORACLE.open(encoding="utf-8") as f:
        table: dict[str, Any] = json.load(f)
    return table


TABLE = _load()


def _input(case: dict[str, Any]) -> bytes:
    if "input_b64" in case:
        return base64.b64decode(case["input_b64"])
    text: str = case["input"]
    return text.encode("utf-8")


def _decode_cases() -> Iterator[tuple[bytes, dict[str, Any]]]:
    for case in TABLE["cases"]:
        if case["op"] == "decode":
            yield _input(case), case


def _go_encoding_as_ours(case: dict[str, Any]) -> str:
    """Go's re-encoding, with the one documented lossy mapping applied.

    A nil ``zfs.DatasetPath`` (``null``) decodes to ``DatasetPath(())``, which encodes as
    ``[]``; every other value must re-encode byte for byte.
    """
    text: str = case["encoded"]
    if case["type"] in HAS_PATH_FIELD:
        return text.replace('"Filesystem":null', '"Filesystem":[]')
    if case["type"] == m.FILESYSTEMS_POINTER and text.startswith("["):
        paths = [m.DatasetPath(tuple(p or ())) for p in json.loads(text)]
        return m.encode_filesystems(paths).decode("utf-8")
    return text


def test_oracle_table_is_go_1_19_and_substantial() -> None:
    assert "go1.19" in TABLE["go_version"]
    ops = [c["op"] for c in TABLE["cases"]]
    assert ops.count("decode") > 1500
    assert ops.count("encode_string") > 50
    kinds = {c["error"] is None for c in TABLE["cases"] if c["op"] == "decode"}
    assert kinds == {True, False}


def test_oracle_decode_error_texts() -> None:
    wrong = []
    for data, case in _decode_cases():
        out = gojson.decode_first(data, TYPES[case["type"]], pointer_name=case["type"])
        if out.error != case["error"]:
            wrong.append((data[:80], case["type"], out.error, case["error"]))
    assert wrong == []


def test_oracle_decoded_values_reencode_like_go() -> None:
    wrong = []
    checked = 0
    for data, case in _decode_cases():
        if case["error"] is not None:
            continue
        t = TYPES[case["type"]]
        out = gojson.decode_first(data, t, pointer_name=case["type"])
        assert out.ok, (data, out)
        got = gojson.encode(out.value, t).decode("utf-8")
        checked += 1
        if got != _go_encoding_as_ours(case):
            wrong.append((data[:80], got, case["encoded"]))
    assert wrong == []
    assert checked > 300


def test_oracle_truncated_stream_precedence() -> None:
    """``truncated=True`` reproduces a reader ending in io.ErrUnexpectedEOF, then the drain."""
    wrong = []
    for data, case in _decode_cases():
        ptr = case["type"]
        expected = (
            "unexpected EOF"  # decode succeeded, the drain reports the reader error unwrapped
            if case["truncated_error"] == ""
            else f"cannot decode {ptr}: {case['truncated_error']}"
        )
        try:
            gojson.decode_message_bytes(data, TYPES[ptr], pointer_name=ptr, truncated=True)
        except DecodeError as exc:
            got = str(exc)
        else:
            got = "<no error>"
        if got != expected:
            wrong.append((data[:80], ptr, got, expected))
    assert wrong == []


def test_oracle_encode_strings() -> None:
    wrong = []
    for case in TABLE["cases"]:
        if case["op"] != "encode_string":
            continue
        raw = _input(case)
        # A Python str stands for Go bytes via surrogateescape (module docstring).
        got = gojson.encode(raw.decode("utf-8", "surrogateescape"), GoString()).decode()
        if got != case["encoded"]:
            wrong.append((raw, got, case["encoded"]))
    assert wrong == []


# --------------------------------------------------------------------------- §4 encoding


def test_encode_example_version_with_html_characters() -> None:
    v = m.FilesystemVersion("snapshot", "<a&b>", 1, 2)
    assert gojson.encode(v, m.FILESYSTEM_VERSION_TYPE) == (
        b'{"Type":"snapshot","Name":"\\u003ca\\u0026b\\u003e","Guid":1,"CreateTXG":2}\n'
    )


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ("\n\r\t", '"\\n\\r\\t"'),
        ("\b\f\x00\x1f", '"\\u0008\\u000c\\u0000\\u001f"'),
        ('"\\/', '"\\"\\\\/"'),
        ("\x7f\u00e9\U0001f600", '"\x7f\u00e9\U0001f600"'),
        ("\ufffd", '"\ufffd"'),  # a real U+FFFD stays raw; only invalid bytes become \ufffd
    ],
)
def test_encode_string_escapes(text: str, wire: str) -> None:
    assert gojson.encode(text, GoString()) == (wire + "\n").encode("utf-8")


def test_encode_invalid_utf8_and_lone_surrogates() -> None:
    # \udcff is the surrogateescape form of the raw byte 0xFF: one invalid byte.
    assert gojson.encode("a\udcffb", GoString()) == b'"a\\ufffdb"\n'
    # Escaped bytes that form valid UTF-8 together are that character, as in Go.
    assert gojson.encode("\udcc3\udca9", GoString()) == '"é"\n'.encode()
    # Other lone surrogates are their 3-byte form, i.e. three invalid bytes for Go.
    assert gojson.go_string_bytes("\ud800") == b"\xed\xa0\x80"
    assert gojson.encode("\ud800", GoString()) == b'"\\ufffd\\ufffd\\ufffd"\n'


def test_encode_uint64_exact_and_nil_slice() -> None:
    top = 2**64 - 1
    v = m.FilesystemVersion("bookmark", "b", top, top)
    assert b'"Guid":18446744073709551615,"CreateTXG":18446744073709551615}' in gojson.encode(
        v, m.FILESYSTEM_VERSION_TYPE
    )
    assert gojson.encode(None, m.VERSIONS_TYPE) == b"null\n"
    assert gojson.encode((), m.VERSIONS_TYPE) == b"[]\n"


def test_encode_rejects_values_go_cannot_hold() -> None:
    from bytestreamrpc.errors import LocalProtocolError

    for bad in (256, -1, True, "1"):
        with pytest.raises(LocalProtocolError):
            gojson.encode(bad, GoUint(8, "uint8"))
    with pytest.raises(LocalProtocolError):
        gojson.encode(bytes(15), gojson.GoByteArray(16, "[16]uint8"))


# --------------------------------------------------------------------------- §4 decoding


def _msg(cls: type, data: bytes) -> object:
    return m.decode_message(cls, data)


def _err(cls: type, data: bytes, *, truncated: bool = False) -> str:
    with pytest.raises(DecodeError) as info:
        m.decode_message(cls, data, truncated=truncated)
    return str(info.value)


@pytest.mark.parametrize("key", ["Type", "type", "TYPE", "tYpE"])
def test_keys_match_case_insensitively(key: str) -> None:
    assert _msg(m.RequestHeader, f'{{"{key}":16}}'.encode()) == m.RequestHeader(16)


def test_keys_fold_long_s_but_not_other_lookalikes() -> None:
    assert _msg(m.ProtocolVersionRequest, '{"Clientverſion":7}'.encode()) == (
        m.ProtocolVersionRequest(7)
    )
    # Kelvin sign folds to k, but no field has a k; dotless ı and ß fold to nothing ASCII.
    assert _msg(m.RequestHeader, '{"\u212aype":7}'.encode()) == m.RequestHeader(0)
    assert _msg(m.RequestHeader, '{"T\u0131pe":7}'.encode()) == m.RequestHeader(0)
    assert _msg(m.ProtocolVersionRequest, '{"ClientVerßion":7}'.encode()) == (
        m.ProtocolVersionRequest(0)
    )


def test_lookup_folding_rules() -> None:
    t = m.go_type_of(m.ProtocolVersionRequest)
    assert isinstance(t, gojson.GoStruct)
    assert t.lookup("clientverſion") is t.fields[0]
    assert t.lookup("CLIENTVERSION") is t.fields[0]
    assert t.lookup("ClientVersio") is None
    assert t.lookup("ClientVersion\u0130") is None


def test_duplicate_keys_last_wins_in_any_spelling() -> None:
    assert _msg(m.RequestHeader, b'{"Type":1,"type":2,"TYPE":3}') == m.RequestHeader(3)
    assert _msg(m.RequestHeader, b'{"type":1,"Type":null}') == m.RequestHeader(1)


def test_duplicate_struct_keys_merge_like_go() -> None:
    got = _msg(
        m.InitialTransferRequest,
        b'{"FilesystemVersion":{"Name":"a"},"FilesystemVersion":{"Guid":1}}',
    )
    assert isinstance(got, m.InitialTransferRequest)
    assert got.filesystem_version == m.FilesystemVersion("", "a", 1, 0)


def test_duplicate_slice_keys_reuse_backing_array_like_go() -> None:
    # Go shrinks the slice to ["x"], then regrows it inside the old backing array: a null
    # element leaves the old "b" visible.
    got = _msg(
        m.FilesystemVersionsRequest,
        b'{"Filesystem":["a","b","c"],"Filesystem":["x"],"Filesystem":["y",null]}',
    )
    assert got == m.FilesystemVersionsRequest(m.DatasetPath(("y", "b")))


def test_unknown_keys_ignored_but_must_be_valid() -> None:
    assert _msg(m.RequestHeader, b'{"Foo":[1,{"a":[]}],"Type":3}') == m.RequestHeader(3)
    assert _err(m.RequestHeader, b'{"Foo":[1,{"a":[}],"Type":3}') == (
        "cannot decode *rpc.RequestHeader: invalid character '}' looking for beginning of value"
    )


def test_missing_or_null_leaves_zero_and_null_body_is_all_zero() -> None:
    assert _msg(m.ResponseHeader, b"{}") == m.ResponseHeader()
    assert _msg(m.ResponseHeader, b'{"Message":null,"RequestId":null}') == m.ResponseHeader()
    # §4: null as a ProtocolVersion body yields version 0 (then error 4, not 3).
    assert _msg(m.ProtocolVersionRequest, b"null") == m.ProtocolVersionRequest(0)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            b'{"Type":256}',
            "number 256 into Go struct field RequestHeader.Type of type rpc.RequestType",
        ),
        (
            b'{"Type":-1}',
            "number -1 into Go struct field RequestHeader.Type of type rpc.RequestType",
        ),
        (
            b'{"Type":1.0}',
            "number 1.0 into Go struct field RequestHeader.Type of type rpc.RequestType",
        ),
        (
            b'{"Type":1e0}',
            "number 1e0 into Go struct field RequestHeader.Type of type rpc.RequestType",
        ),
        (b'{"Type":"1"}', "string into Go struct field RequestHeader.Type of type rpc.RequestType"),
        (b'{"Id":"AAAA"}', "string into Go struct field RequestHeader.Id of type [16]uint8"),
        (b'{"Id":[256]}', "number 256 into Go struct field RequestHeader.Id of type uint8"),
        (b'{"Id":[-1]}', "number -1 into Go struct field RequestHeader.Id of type uint8"),
        (b"[]", "array into Go value of type rpc.RequestHeader"),
    ],
)
def test_unmarshal_errors(body: bytes, error: str) -> None:
    assert (
        _err(m.RequestHeader, body)
        == f"cannot decode *rpc.RequestHeader: json: cannot unmarshal {error}"
    )


def test_uint64_range() -> None:
    ok = b'[{"Guid":18446744073709551615}]'
    assert m.decode_versions(ok) == (m.FilesystemVersion("", "", 2**64 - 1, 0),)
    with pytest.raises(
        DecodeError,
        match=r"number 18446744073709551616 into Go struct field "
        r"FilesystemVersion\.Guid of type uint64",
    ):
        m.decode_versions(b'[{"Guid":18446744073709551616}]')


def test_first_type_error_wins_but_syntax_error_beats_it() -> None:
    assert _err(m.RequestHeader, b'{"Type":256,"Id":"x"}').endswith(
        "number 256 into Go struct field RequestHeader.Type of type rpc.RequestType"
    )
    assert _err(m.RequestHeader, b'{"Type":256,"Id":[1,2}') == (
        "cannot decode *rpc.RequestHeader: invalid character '}' after array element"
    )


def test_id_array_shorter_zero_fills_longer_ignored() -> None:
    assert _msg(m.RequestHeader, b'{"Type":1,"Id":[1,2]}') == m.RequestHeader(
        1, bytes([1, 2]) + bytes(14)
    )
    long = "[" + ",".join(str(i) for i in range(20)) + ',"x"]'
    assert _msg(m.RequestHeader, f'{{"Type":1,"Id":{long}}}'.encode()) == m.RequestHeader(
        1, bytes(range(16))
    )


@pytest.mark.parametrize(
    ("escaped", "text"),
    [
        ("\\ud800", "\ufffd"),
        ("\\udc00x", "\ufffdx"),
        ("\\ud800\\u0041", "\ufffdA"),
        ("\\ud83d\\ude00", "\U0001f600"),
        ("a\\u0000b", "a\x00b"),
    ],
)
def test_unicode_escapes(escaped: str, text: str) -> None:
    got = _msg(m.CloseRequest, f'{{"Goodbye":"{escaped}"}}'.encode())
    assert got == m.CloseRequest(text)


@pytest.mark.parametrize(
    ("raw", "text"),
    [(b"\xff", "\ufffd"), (b"\xe2\x82A", "\ufffd\ufffdA"), (b"\xed\xa0\x80", "\ufffd" * 3)],
)
def test_invalid_utf8_in_strings_is_u_fffd_per_byte(raw: bytes, text: str) -> None:
    assert _msg(m.CloseRequest, b'{"Goodbye":"' + raw + b'"}') == m.CloseRequest(text)


def test_only_the_first_value_is_read() -> None:
    assert _msg(m.RequestHeader, b'{"Type":1}{"Type":2}garbage') == m.RequestHeader(1)
    assert _msg(m.RequestHeader, b'{"Type":1}\n\x00\xff') == m.RequestHeader(1)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"x", "invalid character 'x' looking for beginning of value"),
        (b"\x00", "invalid character '\\x00' looking for beginning of value"),
        (b"\xef\xbb\xbf{}", "invalid character '\u00ef' looking for beginning of value"),
        (b"\xc2\xad", "invalid character '\u00c2' looking for beginning of value"),
        (b"\x85", "invalid character '\\u0085' looking for beginning of value"),
        (b"'", "invalid character '\\'' looking for beginning of value"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a":1 "b"}', "invalid character '\"' after object key:value pair"),
        (b"{1:2}", "invalid character '1' looking for beginning of object key string"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b'"a\x01"', "invalid character '\\x01' in string literal"),
        (b'"\\x"', "invalid character 'x' in string escape code"),
        (b'"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"),
        (b"-x", "invalid character 'x' in numeric literal"),
        (b"1.x", "invalid character 'x' after decimal point in numeric literal"),
        (b"1e+x", "invalid character 'x' in exponent of numeric literal"),
        (b"trux", "invalid character 'x' in literal true (expecting 'e')"),
        (b"fx", "invalid character 'x' in literal false (expecting 'a')"),
        (b"nulL", "invalid character 'L' in literal null (expecting 'l')"),
        (b"[01]", "invalid character '1' after array element"),
        (b"[+1]", "invalid character '+' looking for beginning of value"),
    ],
)
def test_syntax_errors(body: bytes, error: str) -> None:
    assert _err(m.CloseRequest, body) == f"cannot decode *rpc.CloseRequest: {error}"


def test_nesting_depth_limit() -> None:
    ok = b'{"x":' + b"[" * 9999 + b"]" * 9999 + b',"Type":1}'
    assert _msg(m.RequestHeader, ok) == m.RequestHeader(1)
    too_deep = b'{"x":' + b"[" * 10000 + b"]" * 10000 + b"}"
    assert _err(m.RequestHeader, too_deep) == (
        "cannot decode *rpc.RequestHeader: invalid character '[' exceeded max depth"
    )


@pytest.mark.parametrize(
    ("body", "truncated", "message"),
    [
        (b"", False, "cannot decode *rpc.CloseRequest: EOF"),
        (b" \n", False, "cannot decode *rpc.CloseRequest: EOF"),
        (b"", True, "cannot decode *rpc.CloseRequest: unexpected EOF"),
        (b'{"Goodbye":', False, "cannot decode *rpc.CloseRequest: unexpected EOF"),
        (b'{"Goodbye":', True, "cannot decode *rpc.CloseRequest: unexpected EOF"),
        (b"{}", True, "unexpected EOF"),  # decode fine, the drain error is reported unwrapped
        (b"null", True, "cannot decode *rpc.CloseRequest: unexpected EOF"),  # needs lookahead
        (b"null ", True, "unexpected EOF"),
        (
            b"[]",
            True,
            "cannot decode *rpc.CloseRequest: json: cannot unmarshal array into Go "
            "value of type rpc.CloseRequest",
        ),
        (
            b"x",
            True,
            "cannot decode *rpc.CloseRequest: invalid character 'x' looking for beginning of value",
        ),
    ],
)
def test_error_precedence(body: bytes, truncated: bool, message: str) -> None:
    assert _err(m.CloseRequest, body, truncated=truncated) == message


def test_decode_outcome_kinds() -> None:
    t = m.go_type_of(m.CloseRequest)
    p = "*rpc.CloseRequest"
    assert gojson.decode_first(b"", t, pointer_name=p).kind is DecodeKind.EOF
    assert gojson.decode_first(b"{", t, pointer_name=p).kind is DecodeKind.UNEXPECTED_EOF
    assert gojson.decode_first(b"}", t, pointer_name=p).kind is DecodeKind.SYNTAX
    assert gojson.decode_first(b"1", t, pointer_name=p).kind is DecodeKind.UNMARSHAL
    ok = gojson.decode_first(b'{"Goodbye":"x"}', t, pointer_name=p)
    assert ok.kind is DecodeKind.OK and ok.value == m.CloseRequest("x") and ok.error is None
    assert gojson.decode_first(b"null", t, pointer_name=p).ended_at_eof
    assert not gojson.decode_first(b"null ", t, pointer_name=p).ended_at_eof


def test_memo_and_uncached_paths_agree() -> None:
    t = m.go_type_of(m.CloseRequest)
    small = b'{"Goodbye":"' + b"a" * 10 + b'"}'
    big = b'{"Goodbye":"' + b"a" * 5000 + b'"}'
    for data in (small, big):
        first = gojson.decode_first(data, t, pointer_name="*rpc.CloseRequest")
        again = gojson.decode_first(data, t, pointer_name="*rpc.CloseRequest")
        assert first == again and first.ok


# --------------------------------------------------------------------------- properties


def _typed(node: object) -> object:
    """A tree with the node classes made visible (_Num and str compare equal otherwise)."""
    if isinstance(node, list):
        return ["list", [_typed(x) for x in node]]
    if isinstance(node, tuple):
        return ["obj", [(k, _typed(v)) for k, v in node]]
    return [type(node).__name__, node]


_JSONISH = st.lists(
    st.sampled_from(
        [
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            '"',
            '"k"',
            '"Type"',
            '"Id"',
            "1",
            "-0",
            "1.5",
            "2e3",
            "null",
            "true",
            "false",
            " ",
            "\\",
            "\\u00e9",
            "\\ud800",
            "é",
            "\xff",
            "0x",
            '"\\n"',
        ]
    ),
    max_size=20,
).map(lambda parts: "".join(parts).encode("utf-8", "surrogateescape"))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=64), _JSONISH))
def test_any_bytes_decode_or_go_error(data: bytes) -> None:
    for ptr, t in TYPES.items():
        for truncated in (False, True):
            try:
                gojson.decode_message_bytes(data, t, pointer_name=ptr, truncated=truncated)
            except DecodeError as exc:
                assert str(exc) == "unexpected EOF" or str(exc).startswith(f"cannot decode {ptr}: ")


@settings(max_examples=300, deadline=None)
@given(_JSONISH)
def test_fast_scan_agrees_with_hand_written_scanner(data: bytes) -> None:
    data = b"[" + data + b"]"
    fast = gojson._scan_fast(data)
    if fast is None:
        return
    slow, ended_at_eof = gojson._scan_slow(data)
    assert _typed(fast) == _typed(slow)
    assert not ended_at_eof


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20))
def test_strings_round_trip(text: str) -> None:
    back = gojson.decode_first(gojson.encode(text, GoString()), GoString(), pointer_name="*string")
    assert back.ok
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert back.value == text
    else:  # what Go makes of the bytes the str stands for
        assert back.value == gojson._go_utf8(gojson.go_string_bytes(text))
