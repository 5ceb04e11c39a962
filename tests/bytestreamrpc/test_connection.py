"""The sans-I/O connection: both roles, pull-me inversion, misuse vs. peer errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytestreamrpc import framing, messages
from bytestreamrpc.connection import (
    REACTIONS,
    After,
    Connection,
    Outcome,
    Role,
    State,
)
from bytestreamrpc.constants import ErrorId, RequestType, ResponseType
from bytestreamrpc.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from bytestreamrpc.events import (
    BadRequest,
    CleanClose,
    Request,
    Response,
    StreamData,
    StreamEnd,
)
from bytestreamrpc.messages import (
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
    PullMeRequest,
    ResponseHeader,
)
from tests.support.wire import chunked, raw_request

FS = DatasetPath(("pool", "data"))
SNAP = FilesystemVersion("snapshot", "s1", 7, 3)


def pump(src: bytes, dst: Connection) -> list[object]:
    """Feed bytes to ``dst`` and collect events until it needs data."""
    dst.receive_data(src)
    out: list[object] = []
    while dst.state not in (State.CLOSED, State.RETURNED, State.ERROR):
        ev = dst.next_event()
        if ev is framing.NEED_DATA:
            break
        out.append(ev)
        if dst.state in (State.MUST_RESPOND, State.MUST_SEND_ERROR):
            break
    return out


def test_reaction_table_has_every_row_of_section_5() -> None:
    rt = RequestType
    assert REACTIONS == {
        (None, Outcome.HEADER_ERROR): After.CLOSE,
        (None, Outcome.UNKNOWN_TYPE): After.CLOSE,
        (rt.PROTOCOL_VERSION, Outcome.OK): After.CONTINUE,
        (rt.PROTOCOL_VERSION, Outcome.BODY_ERROR): After.CLOSE,
        (rt.PROTOCOL_VERSION, Outcome.VERSION_MISMATCH): After.CLOSE,
        (rt.CLOSE, Outcome.OK): After.CLOSE,
        (rt.CLOSE, Outcome.BODY_ERROR): After.CLOSE,
        (rt.FILESYSTEM, Outcome.OK): After.CONTINUE,
        (rt.FILESYSTEM, Outcome.BODY_ERROR): After.CLOSE,
        (rt.FILESYSTEM, Outcome.HANDLER_ERROR): After.CLOSE,
        (rt.FILESYSTEM_VERSIONS, Outcome.OK): After.CONTINUE,
        (rt.FILESYSTEM_VERSIONS, Outcome.BODY_ERROR): After.RETURN,
        (rt.FILESYSTEM_VERSIONS, Outcome.HANDLER_ERROR): After.RETURN,
        (rt.INITIAL_TRANSFER, Outcome.OK): After.STREAM,
        (rt.INITIAL_TRANSFER, Outcome.BODY_ERROR): After.CLOSE,
        (rt.INITIAL_TRANSFER, Outcome.HANDLER_ERROR): After.CLOSE,
        (rt.INCREMENTAL_TRANSFER, Outcome.OK): After.STREAM,
        (rt.INCREMENTAL_TRANSFER, Outcome.BODY_ERROR): After.CLOSE,
        (rt.INCREMENTAL_TRANSFER, Outcome.HANDLER_ERROR): After.CONTINUE,
        (rt.PULL_ME, Outcome.OK): After.INVERT,
        (rt.PULL_ME, Outcome.FINISHED): After.RETURN,
        (rt.PULL_ME, Outcome.BODY_ERROR): After.CLOSE,
    }


# -- client role ------------------------------------------------------------------------


def test_client_sends_exact_bytes_and_accepts_ok() -> None:
    c = Connection(Role.CLIENT)
    wire = c.send(Request(ProtocolVersionRequest()))
    assert wire == chunked(b'{"Type":1,"Id":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}\n') + chunked(
        b'{"ClientVersion":1}\n'
    )
    assert c.state is State.AWAIT_RESPONSE
    ok = messages.encode_message(ResponseHeader(response_type=1))
    (ev,) = pump(chunked(ok), c)
    assert isinstance(ev, Response) and ev.matched
    assert c.state is State.IDLE


def test_client_gets_error_header_as_unmatched_response() -> None:
    c = Connection(Role.CLIENT)
    c.send(Request(FilesystemRequest()))
    err = ResponseHeader(error_id=5, message="nope", response_type=0)
    (ev,) = pump(chunked(messages.encode_message(err)), c)
    assert isinstance(ev, Response) and not ev.matched
    assert ev.expected == ResponseType.FILESYSTEMS
    assert c.state is State.IDLE  # no body is read after an error header


def test_client_reads_json_body_and_null() -> None:
    c = Connection(Role.CLIENT)
    c.send(Request(FilesystemVersionsRequest(FS)))
    hdr = messages.encode_message(ResponseHeader(response_type=ResponseType.FILESYSTEM_DIFF))
    (ev,) = pump(chunked(hdr) + chunked(b"null\n"), c)
    assert isinstance(ev, Response) and ev.body is None and ev.matched


def test_client_stream_and_truncation() -> None:
    c = Connection(Role.CLIENT)
    c.send(Request(InitialTransferRequest(FS, SNAP)))
    hdr = messages.encode_message(ResponseHeader(response_type=ResponseType.CHUNKED_STREAM))
    evs = pump(chunked(hdr) + framing.encode_stream(b"abcdef", max_payload=2), c)
    data = b"".join(e.data for e in evs if isinstance(e, StreamData))
    assert data == b"abcdef" and isinstance(evs[-1], StreamEnd) and c.state is State.IDLE
    c.send(Request(InitialTransferRequest(FS, SNAP)))
    c.receive_data(chunked(hdr) + b"\x10\x00\x00\x00abc")
    c.receive_data(b"")
    assert isinstance(c.next_event(), Response)
    assert c.next_event() == StreamData(b"abc")
    with pytest.raises(RemoteProtocolError):
        c.next_event()
    assert c.state is State.ERROR


def test_client_misuse_is_local_error() -> None:
    c = Connection(Role.CLIENT)
    c.send(Request(ProtocolVersionRequest()))
    with pytest.raises(LocalProtocolError):
        c.send(Request(ProtocolVersionRequest()))  # one outstanding request at a time
    with pytest.raises(LocalProtocolError):
        c.send(Response(ResponseHeader(response_type=1)))  # clients do not respond


def test_client_idle_unsolicited_data_and_close() -> None:
    c = Connection(Role.CLIENT)
    c.receive_data(b"")
    assert isinstance(c.next_event(), CleanClose)
    d = Connection(Role.CLIENT)
    d.receive_data(b"x")
    with pytest.raises(RemoteProtocolError):
        d.next_event()


# -- server role ------------------------------------------------------------------------


def test_server_misuse_is_local_error() -> None:
    s = Connection(Role.SERVER, identity="alice")
    (ev,) = pump(raw_request(RequestType.PROTOCOL_VERSION, b'{"ClientVersion":1}'), s)
    assert isinstance(ev, Request)
    with pytest.raises(LocalProtocolError):
        s.next_event()  # must respond first
    with pytest.raises(LocalProtocolError):
        s.send(Response(s.response_header(ResponseType.FILESYSTEMS)))  # wrong type
    with pytest.raises(LocalProtocolError):
        s.send(Response(s.handler_error("x")))  # PV has no handler-error row
    with pytest.raises(LocalProtocolError):
        s.send(StreamData(b"x"))
    s.send(Response(s.response_header(ResponseType.OK)))
    assert s.state is State.AWAIT_HEADER


def test_bad_request_must_be_answered_with_its_own_response() -> None:
    s = Connection(Role.SERVER)
    (ev,) = pump(chunked(b"{"), s)
    assert isinstance(ev, BadRequest) and ev.error_id == ErrorId.DECODE_HEADER
    with pytest.raises(LocalProtocolError):
        s.send(Response(ResponseHeader(error_id=1, message="other")))
    s.send(ev)
    assert s.state is State.CLOSED


def test_request_id_echo_and_zero_on_errors() -> None:
    rid = bytes(range(16))
    s = Connection(Role.SERVER)
    pump(raw_request(RequestType.PROTOCOL_VERSION, b'{"ClientVersion":1}', rid), s)
    assert s.response_header(ResponseType.OK).request_id == rid
    assert s.handler_error("x").request_id == bytes(16)


def test_truncated_header_after_complete_value_is_unwrapped_unexpected_eof() -> None:
    """§json.decode-error-text: a drain error after a good value is reported bare."""
    s = Connection(Role.SERVER)
    payload = b'{"Type":1,"Id":[]}\n'
    s.receive_data(len(payload).to_bytes(4, "little") + payload)  # no terminator
    s.receive_data(b"")
    ev = s.next_event()
    assert isinstance(ev, BadRequest) and ev.message == "unexpected EOF"


def test_truncated_inside_value_is_wrapped_unexpected_eof() -> None:
    s = Connection(Role.SERVER)
    s.receive_data(b'\x05\x00\x00\x00{"Ty')
    s.receive_data(b"")
    ev = s.next_event()
    assert isinstance(ev, BadRequest)
    assert ev.message == "cannot decode *rpc.RequestHeader: unexpected EOF"


def test_oversized_message_is_refused_without_buffering_it() -> None:
    s = Connection(Role.SERVER, max_message=64)
    s.receive_data(b"\xff\xff\xff\x7f" + b" " * 100)
    ev = s.next_event()
    assert isinstance(ev, BadRequest) and "exceeds the 64-byte limit" in ev.message
    assert s._size == 0 and not s._parts


def test_trailing_bytes_inside_stream_are_ignored() -> None:
    s = Connection(Role.SERVER)
    (ev,) = pump(chunked(b'{"Type":1,"Id":[]}garbage') + chunked(b'{"ClientVersion":1} {"x":'), s)
    assert isinstance(ev, Request) and ev.body == ProtocolVersionRequest(1)


# -- pull-me inversion ------------------------------------------------------------------


def _ok(conn: Connection) -> bytes:
    return chunked(messages.encode_message(ResponseHeader(response_type=1)))


def test_pull_me_inversion_both_ends() -> None:
    client = Connection(Role.CLIENT)
    server = Connection(Role.SERVER, identity="alice")
    # client asks to be pulled
    (req,) = pump(client.send(Request(PullMeRequest(initial_repl_policy="most_recent"))), server)
    assert isinstance(req, Request)
    (ok,) = pump(server.send(Response(server.response_header(ResponseType.OK))), client)
    assert isinstance(ok, Response)
    assert server.state is State.IDLE and server.acting_role is Role.CLIENT and server.inverted
    assert client.state is State.AWAIT_HEADER and client.acting_role is Role.SERVER
    assert client.serving_identity == ""  # the client's serving loop has no identity
    # server pulls: a filesystem request served by the client
    (fs_req,) = pump(server.send(Request(FilesystemRequest())), client)
    assert isinstance(fs_req, Request) and isinstance(fs_req.body, FilesystemRequest)
    reply = client.send(Response(client.response_header(ResponseType.FILESYSTEMS), (FS,)))
    (fs_resp,) = pump(reply, server)
    assert isinstance(fs_resp, Response) and fs_resp.body == (FS,)
    # server says Finished; client answers OK and leaves its serving loop
    (fin,) = pump(server.send(Request(PullMeRequest(finished=True))), client)
    assert isinstance(fin, Request)
    done = client.send(Response(client.response_header(ResponseType.OK)))
    assert client.state is State.IDLE and not client.inverted
    pump(done, server)
    assert server.state is State.AWAIT_HEADER and not server.inverted


@pytest.mark.parametrize("identity", ["", "local"])
def test_pull_me_bad_identity_closes_after_ok(identity: str) -> None:
    server = Connection(Role.SERVER, identity=identity)
    pump(raw_request(RequestType.PULL_ME, b'{"Finished":false}'), server)
    server.send(Response(server.response_header(ResponseType.OK)))
    assert server.state is State.CLOSED


def test_pull_me_finished_on_plain_server_returns() -> None:
    server = Connection(Role.SERVER, identity="alice")
    pump(raw_request(RequestType.PULL_ME, b'{"Finished":true}'), server)
    server.send(Response(server.response_header(ResponseType.OK)))
    assert server.state is State.RETURNED


def test_finished_answer_that_does_not_decode_is_ignored() -> None:
    server = Connection(Role.SERVER, identity="alice")
    pump(raw_request(RequestType.PULL_ME, b"{}"), server)
    server.send(Response(server.response_header(ResponseType.OK)))
    server.send(Request(PullMeRequest(finished=True)))
    server.receive_data(chunked(b"garbage"))
    ev = server.next_event()
    assert type(ev).__name__ == "UndecodableResponse"
    assert server.state is State.AWAIT_HEADER


# -- robustness: the h11 invariant ------------------------------------------------------


def _drive_server(data: bytes, piece: int) -> None:
    s = Connection(Role.SERVER, identity="alice", max_message=4096)
    pos = 0
    while True:
        if s.state in (State.CLOSED, State.RETURNED, State.ERROR):
            return
        ev = s.next_event()
        if ev is framing.NEED_DATA:
            chunk = data[pos : pos + piece]
            pos += piece
            s.receive_data(chunk)
            continue
        if isinstance(ev, BadRequest):
            s.send(ev)
        elif isinstance(ev, Request):
            rtype = s.current_request_type
            if rtype in (RequestType.PROTOCOL_VERSION, RequestType.CLOSE, RequestType.PULL_ME):
                s.send(Response(s.response_header(ResponseType.OK)))
            else:
                s.send(Response(s.handler_error("refused")))


valid_prefix = raw_request(RequestType.PROTOCOL_VERSION, b'{"ClientVersion":1}')


@given(st.binary(max_size=600), st.integers(1, 50), st.booleans())
@settings(max_examples=400, deadline=None)
def test_server_connection_never_raises_outside_protocol_errors(
    data: bytes, piece: int, prefixed: bool
) -> None:
    """Any bytes, in any pieces: events or ProtocolError, never anything else."""
    try:
        _drive_server((valid_prefix if prefixed else b"") + data, piece)
    except LocalProtocolError as exc:  # only our own driver's misuse could cause this
        pytest.fail(f"driver misuse: {exc}")
    except ProtocolError:
        pass


def test_successor_continues_with_the_bytes_not_yet_consumed() -> None:
    """A scripted peer answers outside the state machine, then carries on with a successor:
    the second request, already received with the first, must not be lost."""
    first = raw_request(RequestType.FILESYSTEM, FilesystemRequest())
    second = raw_request(RequestType.FILESYSTEM_VERSIONS, FilesystemVersionsRequest(FS))
    conn = Connection(Role.SERVER, identity="alice", max_message=4096)
    events = pump(first + second, conn)
    assert [type(e) for e in events] == [Request]
    assert conn.state is State.MUST_RESPOND  # answered by hand, not through conn.send
    nxt = conn.successor()
    assert (nxt.base_role, nxt.identity, nxt.max_message) == (Role.SERVER, "alice", 4096)
    assert nxt.state is State.AWAIT_HEADER
    following = nxt.next_event()
    assert isinstance(following, Request)
    assert following.body == FilesystemVersionsRequest(FS)
    assert Connection(Role.SERVER).successor().next_event() is framing.NEED_DATA
