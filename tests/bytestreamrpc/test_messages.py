"""bytestreamrpc.messages: the typed messages, their wire shapes (PROTOCOL-FACTS §3) and codec."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytestreamrpc import messages as m
from bytestreamrpc.constants import RequestType
from bytestreamrpc.errors import DecodeError

ZID = b"[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"


def test_ok_response_header_is_byte_exact() -> None:
    assert m.encode_message(m.ResponseHeader(response_type=1)) == (
        b'{"RequestId":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"ErrorId":0,"Message":"","ResponseType":1}\n'
    )


V = m.FilesystemVersion("snapshot", "s1", 1, 2)
V_WIRE = b'{"Type":"snapshot","Name":"s1","Guid":1,"CreateTXG":2}'
POOL_A = m.DatasetPath(("pool", "a"))


@pytest.mark.parametrize(
    ("msg", "wire"),
    [
        (m.RequestHeader(RequestType.FILESYSTEM), b'{"Type":16,"Id":' + ZID + b"}"),
        (
            m.RequestHeader(0xF0, bytes(range(16))),
            b'{"Type":240,"Id":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}',
        ),
        (
            m.ResponseHeader(error_id=5, message="no <acl>"),
            b'{"RequestId":'
            + ZID
            + b',"ErrorId":5,"Message":"no \\u003cacl\\u003e","ResponseType":0}',
        ),
        (m.ProtocolVersionRequest(), b'{"ClientVersion":1}'),
        (m.FilesystemRequest(), b'{"Roots":null}'),
        (m.FilesystemRequest(("a", "b")), b'{"Roots":["a","b"]}'),
        (m.FilesystemRequest(()), b'{"Roots":[]}'),
        (m.FilesystemVersionsRequest(POOL_A), b'{"Filesystem":["pool","a"]}'),
        (m.FilesystemVersionsRequest(), b'{"Filesystem":[]}'),
        (
            m.InitialTransferRequest(POOL_A, V),
            b'{"Filesystem":["pool","a"],"FilesystemVersion":' + V_WIRE + b"}",
        ),
        (
            m.IncrementalTransferRequest(POOL_A, V, V),
            b'{"Filesystem":["pool","a"],"From":' + V_WIRE + b',"To":' + V_WIRE + b"}",
        ),
        (
            m.PullMeRequest(False, "most_recent"),
            b'{"Finished":false,"InitialReplPolicy":"most_recent"}',
        ),
        (m.PullMeRequest(True), b'{"Finished":true,"InitialReplPolicy":""}'),
        (m.CloseRequest("bye"), b'{"Goodbye":"bye"}'),
        (V, V_WIRE),
        (POOL_A, b'["pool","a"]'),
    ],
)
def test_wire_shapes(msg: object, wire: bytes) -> None:
    assert m.encode_message(msg) == wire + b"\n"
    assert m.decode_message(type(msg), wire) == msg
    assert m.encode_message(msg) == wire + b"\n"  # memoised path gives the same bytes


def test_body_lists_keep_null_versus_empty() -> None:
    assert m.encode_filesystems(None) == b"null\n"
    assert m.encode_filesystems([]) == b"[]\n"
    assert m.encode_filesystems([POOL_A, m.DatasetPath()]) == b'[["pool","a"],[]]\n'
    assert m.decode_filesystems(b"null") is None
    assert m.decode_filesystems(b"[]") == ()
    assert m.decode_filesystems(b'[["pool","a"],null]') == (POOL_A, m.DatasetPath())
    assert m.encode_versions(None) == b"null\n"
    assert m.encode_versions([V]) == b"[" + V_WIRE + b"]\n"
    assert m.decode_versions(b"null") is None
    assert m.decode_versions(b"[" + V_WIRE + b"]") == (V,)


def test_body_list_pointer_names() -> None:
    with pytest.raises(DecodeError) as info:
        m.decode_filesystems(b'{"a":1}')
    assert str(info.value) == (
        "cannot decode *[]zfs.DatasetPath: json: cannot unmarshal object into Go value of "
        "type []zfs.DatasetPath"
    )
    with pytest.raises(DecodeError) as info:
        m.decode_versions(b"[5]")
    assert str(info.value) == (
        "cannot decode *[]zfs.FilesystemVersion: json: cannot unmarshal number into Go value "
        "of type zfs.FilesystemVersion"
    )
    with pytest.raises(DecodeError, match=r"^cannot decode \*\[\]zfs.DatasetPath: EOF$"):
        m.decode_filesystems(b"")


def test_pointer_names() -> None:
    assert m.POINTER_NAME_OF[m.RequestHeader] == "*rpc.RequestHeader"
    assert m.POINTER_NAME_OF[m.ResponseHeader] == "*rpc.ResponseHeader"
    assert m.POINTER_NAME_OF[m.ProtocolVersionRequest] == "*rpc.ByteStreamRPCProtocolVersionRequest"
    for cls in (
        m.FilesystemRequest,
        m.FilesystemVersionsRequest,
        m.InitialTransferRequest,
        m.IncrementalTransferRequest,
        m.PullMeRequest,
        m.CloseRequest,
    ):
        assert m.POINTER_NAME_OF[cls] == f"*rpc.{cls.__name__}"
        with pytest.raises(DecodeError, match=rf"^cannot decode \*rpc\.{cls.__name__}: EOF$"):
            m.decode_message(cls, b"")


def test_request_type_tables_are_inverse() -> None:
    assert set(m.REQUEST_TYPE_OF.values()) == set(RequestType)
    for cls, rt in m.REQUEST_TYPE_OF.items():
        assert m.BODY_CLASS_OF[rt] is cls


def test_header_with_unknown_in_range_type_decodes() -> None:
    assert m.decode_message(m.RequestHeader, b'{"Type":7,"Id":' + ZID + b"}").type == 7


def test_id_with_out_of_range_numbers_is_a_decode_error() -> None:
    for n in (b"256", b"-1"):
        with pytest.raises(DecodeError) as info:
            m.decode_message(m.ResponseHeader, b'{"RequestId":[' + n + b"]}")
        assert str(info.value) == (
            f"cannot decode *rpc.ResponseHeader: json: cannot unmarshal number {n.decode()} "
            "into Go struct field ResponseHeader.RequestId of type uint8"
        )


def test_null_dataset_path_decodes_to_empty() -> None:
    got = m.decode_message(m.FilesystemVersionsRequest, b'{"Filesystem":null}')
    assert got == m.FilesystemVersionsRequest(m.DatasetPath(()))


def test_truncated_flag() -> None:
    wire = m.encode_message(m.CloseRequest("x"))
    with pytest.raises(DecodeError, match=r"^unexpected EOF$"):
        m.decode_message(m.CloseRequest, wire, truncated=True)
    with pytest.raises(DecodeError, match=r"^cannot decode \*rpc.CloseRequest: unexpected EOF$"):
        m.decode_message(m.CloseRequest, wire[:5], truncated=False)


# --------------------------------------------------------------------------- zfs helpers


def test_dataset_path_text() -> None:
    assert m.DatasetPath.from_string("") == m.DatasetPath(())
    assert m.DatasetPath.from_string("").is_empty()
    p = m.DatasetPath.from_string("pool/a/b")
    assert p.components == ("pool", "a", "b") and not p.is_empty()
    assert p.to_string() == "pool/a/b" == str(p)
    assert m.DatasetPath.from_string("a//b").components == ("a", "", "b")


@pytest.mark.parametrize("bad", ["a@b", "a#b", "a|b", "a\tb", "a b"])
def test_dataset_path_forbidden_characters(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        m.DatasetPath.from_string(bad)
    assert str(info.value) == f"path '{bad}' contains forbidden characters (any of '@#|\t ')"


def test_filesystem_version_paths() -> None:
    fs = m.DatasetPath.from_string("pool/fs")
    assert m.FilesystemVersion("snapshot", "s", 1, 2).to_abs_path(fs) == "pool/fs@s"
    assert m.FilesystemVersion("bookmark", "b", 1, 2).to_abs_path(fs) == "pool/fs#b"
    assert m.FilesystemVersion("snapshot", "s", 1, 2).relname() == "@s"
    assert m.FilesystemVersion("bookmark", "b", 1, 2).relname() == "#b"
    with pytest.raises(ValueError, match="unexpected VersionType 'volume'"):
        m.FilesystemVersion("volume", "v", 1, 2).to_abs_path(fs)


def test_encode_rejects_non_messages() -> None:
    with pytest.raises(TypeError):
        m.encode_message(object())


# --------------------------------------------------------------------------- properties

_TEXT = st.text(max_size=12)
_U8 = st.integers(0, 255)
_U64 = st.integers(0, 2**64 - 1)
_ID = st.binary(min_size=16, max_size=16)
_PATH = st.builds(m.DatasetPath, st.lists(_TEXT, max_size=4).map(tuple))
_VERSION = st.builds(m.FilesystemVersion, _TEXT, _TEXT, _U64, _U64)
MESSAGES = st.one_of(
    st.builds(m.RequestHeader, _U8, _ID),
    st.builds(m.ResponseHeader, _ID, _U8, _TEXT, _U8),
    st.builds(m.ProtocolVersionRequest, _U8),
    st.builds(m.FilesystemRequest, st.none() | st.lists(_TEXT, max_size=4).map(tuple)),
    st.builds(m.FilesystemVersionsRequest, _PATH),
    st.builds(m.InitialTransferRequest, _PATH, _VERSION),
    st.builds(m.IncrementalTransferRequest, _PATH, _VERSION, _VERSION),
    st.builds(m.PullMeRequest, st.booleans(), _TEXT),
    st.builds(m.CloseRequest, _TEXT),
    _PATH,
    _VERSION,
)


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
def test_every_message_round_trips(msg: object) -> None:
    wire = m.encode_message(msg)
    assert wire.endswith(b"\n") and b"\n" not in wire[:-1]
    back = m.decode_message(type(msg), wire)
    if not _has_surrogate(msg):
        assert back == msg
    # Whatever decoding made of it, re-encoding is stable (a fixed point).
    assert m.encode_message(back) == m.encode_message(
        m.decode_message(type(msg), m.encode_message(back))
    )


def _has_surrogate(msg: object) -> bool:
    def walk(v: object) -> bool:
        if isinstance(v, str):
            return any(0xD800 <= ord(c) <= 0xDFFF for c in v)
        if isinstance(v, tuple):
            return any(walk(x) for x in v)
        if hasattr(v, "__slots__"):
            return any(walk(getattr(v, s)) for s in v.__slots__)
        return False

    return walk(msg)


@settings(max_examples=150, deadline=None)
@given(st.none() | st.lists(_PATH, max_size=4), st.none() | st.lists(_VERSION, max_size=4))
def test_body_lists_round_trip(
    paths: list[m.DatasetPath] | None, versions: list[m.FilesystemVersion] | None
) -> None:
    got_paths = m.decode_filesystems(m.encode_filesystems(paths))
    got_versions = m.decode_versions(m.encode_versions(versions))
    if not _has_surrogate(tuple(paths or ())):
        assert got_paths == (None if paths is None else tuple(paths))
    if not _has_surrogate(tuple(versions or ())):
        assert got_versions == (None if versions is None else tuple(versions))


_CLASSES = [
    m.RequestHeader,
    m.ResponseHeader,
    m.ProtocolVersionRequest,
    m.FilesystemRequest,
    m.FilesystemVersionsRequest,
    m.InitialTransferRequest,
    m.IncrementalTransferRequest,
    m.PullMeRequest,
    m.CloseRequest,
]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80), st.booleans())
def test_arbitrary_bytes_decode_or_raise_decode_error(data: bytes, truncated: bool) -> None:
    for cls in _CLASSES:
        try:
            assert isinstance(m.decode_message(cls, data, truncated=truncated), cls)
        except DecodeError as exc:
            assert str(exc) == "unexpected EOF" or str(exc).startswith(
                f"cannot decode {m.POINTER_NAME_OF[cls]}: "
            )
    for decode in (m.decode_filesystems, m.decode_versions):
        with contextlib.suppress(DecodeError):
            decode(data, truncated=truncated)
