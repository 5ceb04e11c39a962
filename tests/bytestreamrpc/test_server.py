"""Every row of the server loop's reaction table (§server.*), byte-level.

Each row sends raw request bytes and checks the response header fields, the
body, and what the server did next: close, return without closing, or go on
serving (probed with a protocol-version request that must be answered).
The rows run against two harnesses: our ``Server`` over an in-memory pair,
and ``zrepl-conformance serve --stdio`` as a real subprocess over the fake
ZFS; both use the reference handler with the same profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bytestreamrpc import framing, messages
from bytestreamrpc.connection import State
from bytestreamrpc.constants import ErrorId, RequestType, ResponseType
from tests.support.harness import Harness, SubprocessHarness, make_harness
from tests.support.wire import chunked, raw_request

RID = bytes(range(1, 17))
"""A non-zero request id: success responses must echo it, errors must not."""

PV = raw_request(RequestType.PROTOCOL_VERSION, b'{"ClientVersion":1}\n', RID)
EOF_ERROR = "cannot decode *rpc.RequestHeader: EOF"


@dataclass(frozen=True)
class Row:
    id: str
    request: bytes
    error_id: int
    response_type: int
    after: str  # "close" | "return" | "continue"
    message: str | None = None  # exact Message, or None to skip the check
    message_prefix: str | None = None
    profile: str = "default"
    body_check: str | None = None  # "filesystems" | "versions" | "stream"


def rows(h: Harness) -> list[Row]:
    """The §5 table; ``h`` supplies the names and GUIDs its fixture holds."""
    snap = h.snapshot_json("s1")
    snap2 = h.snapshot_json("s2")
    fs = h.dataset_json("visible")
    hidden = h.dataset_json("hidden")
    rt = RequestType
    return [
        Row(
            "server.header.decode-error",
            chunked(b"xyz\n"),
            ErrorId.DECODE_HEADER,
            0,
            "close",
            message="cannot decode *rpc.RequestHeader: invalid character 'x' "
            "looking for beginning of value",
        ),
        Row(
            "server.header.eof",
            b"",
            ErrorId.DECODE_HEADER,
            0,
            "close",
            message="cannot decode *rpc.RequestHeader: EOF",
        ),
        Row(
            "server.pv.ok",
            raw_request(rt.PROTOCOL_VERSION, b'{"ClientVersion":1}', RID),
            0,
            1,
            "continue",
            message="",
        ),
        Row(
            "server.pv.decode-error",
            raw_request(rt.PROTOCOL_VERSION, b'{"ClientVersion":"1"}', RID),
            ErrorId.DECODE_REQUEST_BODY,
            0,
            "close",
            message_prefix="cannot decode *rpc.ByteStreamRPCProtocolVersionRequest: "
            "json: cannot unmarshal string",
        ),
        Row(
            "server.pv.mismatch",
            raw_request(rt.PROTOCOL_VERSION, b'{"ClientVersion":2}', RID),
            ErrorId.PROTOCOL_VERSION_MISMATCH,
            0,
            "close",
            message="",
        ),
        Row(
            "server.pv.null-body",
            raw_request(rt.PROTOCOL_VERSION, b"null", RID),
            ErrorId.PROTOCOL_VERSION_MISMATCH,
            0,
            "close",
            message="",
        ),
        Row(
            "server.close.ok",
            raw_request(rt.CLOSE, b'{"Goodbye":"bye"}', RID),
            0,
            1,
            "close",
            message="",
        ),
        Row(
            "server.close.decode-error",
            raw_request(rt.CLOSE, b"[]", RID),
            ErrorId.DECODE_REQUEST_BODY,
            0,
            "close",
            message_prefix="cannot decode *rpc.CloseRequest: json: cannot unmarshal array",
        ),
        Row(
            "server.fs.ok",
            raw_request(rt.FILESYSTEM, b'{"Roots":null}', RID),
            0,
            ResponseType.FILESYSTEMS,
            "continue",
            body_check="filesystems",
        ),
        Row(
            "server.fs.decode-error",
            raw_request(rt.FILESYSTEM, b'{"Roots":1}', RID),
            ErrorId.DECODE_REQUEST_BODY,
            0,
            "close",
            message="",
        ),
        Row(
            "server.fs.handler-error",
            raw_request(rt.FILESYSTEM, b'{"Roots":null}', RID),
            ErrorId.HANDLER,
            0,
            "close",
            profile="no-acl",
        ),
        Row(
            "server.fsv.ok",
            raw_request(rt.FILESYSTEM_VERSIONS, b'{"Filesystem":%s}' % fs, RID),
            0,
            ResponseType.FILESYSTEM_DIFF,
            "continue",
            body_check="versions",
        ),
        Row(
            "server.fsv.decode-error",
            raw_request(rt.FILESYSTEM_VERSIONS, b'{"Filesystem":"pool/data"}', RID),
            ErrorId.DECODE_REQUEST_BODY,
            0,
            "return",
            message_prefix="cannot decode *rpc.FilesystemVersionsRequest: "
            "json: cannot unmarshal string",
        ),
        Row(
            "server.fsv.handler-error",
            raw_request(rt.FILESYSTEM_VERSIONS, b'{"Filesystem":%s}' % hidden, RID),
            ErrorId.HANDLER,
            0,
            "return",
        ),
        Row(
            "server.init.ok",
            raw_request(
                rt.INITIAL_TRANSFER, b'{"Filesystem":%s,"FilesystemVersion":%s}' % (fs, snap), RID
            ),
            0,
            ResponseType.CHUNKED_STREAM,
            "continue",
            body_check="stream",
        ),
        Row(
            "server.init.decode-error",
            raw_request(rt.INITIAL_TRANSFER, b'{"Filesystem":{}}', RID),
            ErrorId.DECODE_REQUEST_BODY,
            0,
            "close",
            message="",
        ),
        Row(
            "server.init.handler-error",
            raw_request(
                rt.INITIAL_TRANSFER,
                b'{"Filesystem":%s,"FilesystemVersion":%s}' % (hidden, snap),
                RID,
            ),
            ErrorId.HANDLER,
            0,
            "close",
        ),
        Row(
            "server.incr.ok",
            raw_request(
                rt.INCREMENTAL_TRANSFER,
                b'{"Filesystem":%s,"From":%s,"To":%s}' % (fs, snap, snap2),
                RID,
            ),
            0,
            ResponseType.CHUNKED_STREAM,
            "continue",
            body_check="stream",
        ),
        Row(
            "server.incr.decode-error",
            raw_request(rt.INCREMENTAL_TRANSFER, b'{"From":[]}', RID),
            ErrorId.DECODE_REQUEST_BODY,
            0,
            "close",
            message="",
        ),
        Row(
            "server.incr.handler-error",
            raw_request(
                rt.INCREMENTAL_TRANSFER,
                b'{"Filesystem":%s,"From":%s,"To":%s}' % (hidden, snap, snap2),
                RID,
            ),
            ErrorId.HANDLER,
            0,
            "continue",
        ),
        Row(
            "server.pullme.decode-error",
            raw_request(rt.PULL_ME, b'{"Finished":"yes"}', RID),
            ErrorId.DECODE_REQUEST_BODY,
            0,
            "close",
            message_prefix="cannot decode *rpc.PullMeRequest: json: cannot unmarshal string",
        ),
        Row(
            "server.pullme.bad-identity",
            raw_request(rt.PULL_ME, b'{"Finished":false,"InitialReplPolicy":"most_recent"}', RID),
            0,
            1,
            "close",
            message="",
            profile="local-identity",
        ),
        Row(
            "server.pullme.finished",
            raw_request(rt.PULL_ME, b'{"Finished":true}', RID),
            0,
            1,
            "return",
            message="",
        ),
        Row(
            "server.unknown-type",
            raw_request(0x42, b"{}", RID),
            ErrorId.UNKNOWN_REQUEST_TYPE,
            0,
            "close",
            message="",
        ),
    ]


ROW_IDS = [r.id for r in rows(Harness.placeholder())]


@pytest.fixture(params=["memory", "subprocess"])
def harness_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("row_id", ROW_IDS)
def test_row(row_id: str, harness_kind: str) -> None:
    probe = Harness.placeholder()
    row = next(r for r in rows(probe) if r.id == row_id)
    h = make_harness(harness_kind, profile=row.profile)
    try:
        row = next(r for r in rows(h) if r.id == row_id)
        transcript, outcome_state = h.run(row.request + (PV if row.request else b""))
    finally:
        h.cleanup()
    if isinstance(h, SubprocessHarness):
        # the original stdinserver exits 1 exactly when its loop returned an error
        assert h.exit_code == (1 if row.after == "return" and row.error_id else 0)
    assert transcript.replies, f"no response at all; raw={transcript.raw!r}"
    first = transcript.replies[0]
    hdr = first.header
    assert hdr.error_id == row.error_id, hdr
    assert hdr.response_type == row.response_type, hdr
    if row.error_id:
        assert hdr.request_id == bytes(16), "error responses carry a zero request id"
    else:
        assert hdr.request_id == RID, "success responses echo the request id"
    if row.message is not None:
        assert hdr.message == row.message
    if row.message_prefix is not None:
        assert hdr.message.startswith(row.message_prefix), hdr.message
    if row.error_id == ErrorId.HANDLER:
        assert hdr.message, "a handler error names what went wrong"
    # Go's encoder output, byte for byte: re-encoding the decoded header gives the same bytes.
    assert first.raw_header == messages.encode_message(hdr)
    if row.body_check == "filesystems":
        paths = messages.decode_filesystems(first.body or b"")
        assert paths and all(p.to_string().startswith("pool/data") for p in paths)
    elif row.body_check == "versions":
        versions = messages.decode_versions(first.body or b"")
        assert versions is not None and [v.create_txg for v in versions] == sorted(
            v.create_txg for v in versions
        )
    elif row.body_check == "stream":
        assert first.body is not None and h.verify_stream(first.body)
    if row.after == "continue":
        # the probe is answered, then our end of input is refused (§server.header.eof)
        assert len(transcript.replies) == 3, transcript.replies
        probe_reply = transcript.replies[1].header
        assert (probe_reply.error_id, probe_reply.response_type) == (0, 1)
        eof_reply = transcript.replies[2].header
        assert (eof_reply.error_id, eof_reply.message) == (ErrorId.DECODE_HEADER, EOF_ERROR)
        assert transcript.closed
    else:
        assert len(transcript.replies) == 1, transcript.replies
        assert transcript.closed, "the connection must end"
        assert not transcript.truncated
    if outcome_state is not None:  # the in-memory harness can tell close from return
        expected = {"close": State.CLOSED, "return": State.RETURNED}.get(row.after)
        if expected is not None:
            assert outcome_state is expected


def test_unknown_type_body_is_not_consumed() -> None:
    """§server.unknown-type: the server answers before reading the body."""
    h = make_harness("memory")
    try:
        header_only = chunked(b'{"Type":66,"Id":[]}\n')
        transcript, state = h.run(header_only, close_input=False)
    finally:
        h.cleanup()
    assert [r.header.error_id for r in transcript.replies] == [ErrorId.UNKNOWN_REQUEST_TYPE]
    assert state is State.CLOSED


def test_whole_conversation_is_byte_exact() -> None:
    """The issue's byte-exact example: protocol version then close."""
    h = make_harness("subprocess")
    try:
        req = raw_request(RequestType.PROTOCOL_VERSION, b'{"ClientVersion":1}\n') + raw_request(
            RequestType.CLOSE, b'{"Goodbye":""}\n'
        )
        transcript, _ = h.run(req)
    finally:
        h.cleanup()
    ok = (
        b'{"RequestId":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],'
        b'"ErrorId":0,"Message":"","ResponseType":1}\n'
    )
    assert transcript.raw == framing.encode_stream(ok) * 2
    assert transcript.closed
