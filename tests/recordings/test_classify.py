"""The sans-I/O recorder (classification of streams) and the comparison levels."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytestreamrpc import framing, messages
from bytestreamrpc.client import Client
from bytestreamrpc.errors import RequestFailed
from bytestreamrpc.messages import (
    FilesystemRequest,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    PullMeRequest,
    ResponseHeader,
)
from bytestreamrpc.server import Server
from bytestreamrpc.transport import MemoryTransport, memory_pair
from recordings.classify import Recorder, records_from_exchange
from recordings.compare import ComparisonLevel, compare_streams, decoded_view
from recordings.format import (
    C2S,
    S2C,
    Direction,
    EventRecord,
    Record,
    StreamRecord,
    wire_bytes,
)
from tests.support.recordings_standin import StandInHandler


class Tap:
    """A client-side transport that feeds a recorder (like the driver, without its helpers)."""

    def __init__(self, inner: MemoryTransport, rec: Recorder) -> None:
        self.inner = inner
        self.rec = rec

    def write(self, data: bytes, timeout: float | None = None) -> None:
        self.inner.write(data, timeout)
        self.rec.feed(C2S, bytes(data))

    def read(self, n: int = 1 << 20, timeout: float | None = None) -> bytes:
        data = self.inner.read(n, timeout)
        if data:
            self.rec.feed(S2C, data)
        else:
            self.rec.eof(S2C)
        return data

    def close(self) -> None:
        self.rec.eof(C2S)
        self.inner.close()


def converse(identity: str = "client", *, full: bool = False) -> list[Record]:
    rec = Recorder(full=(C2S, S2C) if full else ())
    a, b = memory_pair()
    server = threading.Thread(
        target=Server(StandInHandler(70_000), identity=identity, timeout=10).serve, args=(b,)
    )
    server.start()
    c = Client.connect(Tap(a, rec), timeout=10)
    fs = c.filesystem_request(FilesystemRequest())[0]
    s1, s2 = c.filesystem_versions_request(FilesystemVersionsRequest(fs))
    assert len(c.initial_transfer_request(InitialTransferRequest(fs, s1)).read()) == 70_000
    c.incremental_transfer_request(IncrementalTransferRequest(fs, s1, s2)).drain()
    with pytest.raises(RequestFailed):
        c.incremental_transfer_request(IncrementalTransferRequest(fs, s1, s1))
    c.pull_me_request(PullMeRequest(False, "most_recent"), StandInHandler(10))
    c.close_request()
    server.join(10)
    return rec.records


CONVERSATION = converse(full=True)


def kinds(records: list[Record], d: Direction) -> list[str]:
    return [r.go or r.kind for r in records if isinstance(r, StreamRecord) and r.dir == d]


def test_a_whole_conversation_is_classified() -> None:
    recs = converse()
    assert kinds(recs, C2S) == [
        "rpc.RequestHeader",
        "rpc.ByteStreamRPCProtocolVersionRequest",
        "rpc.RequestHeader",
        "rpc.FilesystemRequest",
        "rpc.RequestHeader",
        "rpc.FilesystemVersionsRequest",
        "rpc.RequestHeader",
        "rpc.InitialTransferRequest",
        "rpc.RequestHeader",
        "rpc.IncrementalTransferRequest",
        "rpc.RequestHeader",
        "rpc.IncrementalTransferRequest",
        "rpc.RequestHeader",
        "rpc.PullMeRequest",
        # inverted: the client answers the server's requests
        "rpc.ResponseHeader",
        "[]zfs.DatasetPath",
        "rpc.ResponseHeader",
        "[]zfs.FilesystemVersion",
        "rpc.ResponseHeader",
        "[]zfs.FilesystemVersion",
        "rpc.ResponseHeader",  # OK to PullMe{Finished:true}: roles swap back
        "rpc.RequestHeader",
        "rpc.CloseRequest",
    ]
    assert kinds(recs, S2C) == [
        "rpc.ResponseHeader",
        "rpc.ResponseHeader",
        "[]zfs.DatasetPath",
        "rpc.ResponseHeader",
        "[]zfs.FilesystemVersion",
        "rpc.ResponseHeader",
        "data",
        "rpc.ResponseHeader",
        "data",
        "rpc.ResponseHeader",  # error 5: no stream follows
        "rpc.ResponseHeader",  # OK to PullMe: roles swap
        "rpc.RequestHeader",
        "rpc.FilesystemRequest",
        "rpc.RequestHeader",
        "rpc.FilesystemVersionsRequest",
        "rpc.RequestHeader",
        "rpc.FilesystemVersionsRequest",
        "rpc.RequestHeader",
        "rpc.PullMeRequest",
        "rpc.ResponseHeader",
    ]
    data = [r for r in recs if isinstance(r, StreamRecord) and r.kind == "data"]
    assert data[0].length == 70_000 and data[0].payload is None and data[0].digest
    assert data[0].chunks == (32764, 32764, 70_000 - 2 * 32764)
    assert isinstance(recs[-1], EventRecord) and recs[-1].event == "eof"


@settings(max_examples=30)
@given(st.data())
def test_any_split_of_the_same_bytes_gives_the_same_records(data: st.DataObject) -> None:
    """Chunk boundaries of the *transport* reads never change what is recorded."""
    full = [r for r in CONVERSATION if isinstance(r, StreamRecord)]
    steps: list[tuple[Direction, bytes | None]] = []
    for r in full:
        blob = wire_bytes(r)
        cut = data.draw(st.integers(0, len(blob)))
        steps += [(r.dir, blob[:cut]), (r.dir, blob[cut:])]
    again = records_from_exchange(steps)
    assert [r for r in again if isinstance(r, StreamRecord)] == full


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.sampled_from([C2S, S2C]), st.binary(max_size=80) | st.just(b"\0\0\0\0")),
        max_size=30,
    )
)
def test_garbage_never_crashes_and_is_kept_exactly(steps: list[tuple[Direction, bytes]]) -> None:
    records = records_from_exchange(list(steps))
    for d in (C2S, S2C):
        fed = b"".join(b for dd, b in steps if dd == d)
        kept = b"".join(
            wire_bytes(r) for r in records if isinstance(r, StreamRecord) and r.dir == d
        )
        assert kept == fed


def test_unknown_type_and_bad_header_are_recorded_as_json_records() -> None:
    hdr = framing.encode_stream(b'{"Type":66,"Id":[]}\n')
    body = framing.encode_stream(b'{"x":1}\n')
    err = framing.encode_stream(
        messages.encode_message(ResponseHeader(error_id=2, response_type=0))
    )
    recs = records_from_exchange([(C2S, hdr + body), (S2C, err), (S2C, None), (C2S, None)])
    streams = [r for r in recs if isinstance(r, StreamRecord)]
    assert [(r.dir, r.kind, r.go) for r in streams] == [
        (C2S, "json", "rpc.RequestHeader"),
        (C2S, "json", "unknown"),
        (S2C, "json", "rpc.ResponseHeader"),
    ]
    assert decoded_view(streams[1]) == {"x": 1}


def _json_record(payload: bytes, chunks: tuple[int, ...] | None = None) -> StreamRecord:
    return StreamRecord(
        S2C, 0, "json", chunks or (len(payload),), len(payload), payload, go="rpc.ResponseHeader"
    )


def header_bytes(**kw: object) -> bytes:
    return messages.encode_message(ResponseHeader(**kw))  # type: ignore[arg-type]


def test_levels() -> None:
    base = _json_record(header_bytes(error_id=3, message="cannot decode x", response_type=0))
    spaced = _json_record(
        b'{"requestid":[], "ErrorId": 3, "Message": "cannot decode x", "ResponseType": 0}'
    )
    other_text = _json_record(header_bytes(error_id=3, message="bad body", response_type=0))
    other_id = _json_record(header_bytes(error_id=5, message="cannot decode x", response_type=0))
    rechunked = _json_record(base.payload or b"", (10, len(base.payload or b"") - 10))
    # spacing / key case / omitted zero fields: a peer decodes the same message
    assert compare_streams(base, spaced, ComparisonLevel.BYTES) is not None
    assert compare_streams(base, spaced, ComparisonLevel.MESSAGES) is None
    # chunk boundaries: only bytes
    what = compare_streams(base, rechunked, ComparisonLevel.BYTES)
    assert what is not None and what[0] == "chunk boundaries"
    assert compare_streams(base, rechunked, ComparisonLevel.MESSAGES) is None
    # error text: messages, not semantic
    what = compare_streams(base, other_text, ComparisonLevel.MESSAGES)
    assert what is not None and what[0] == "field Message"
    assert compare_streams(base, other_text, ComparisonLevel.SEMANTIC) is None
    assert compare_streams(base, other_text, ComparisonLevel.MESSAGES, ignore=["message"]) is None
    # the error id matters at every level
    for level in ComparisonLevel:
        diff = compare_streams(base, other_id, level)
        assert diff is not None
    diff = compare_streams(base, other_id, ComparisonLevel.SEMANTIC)
    assert diff == ("field ErrorId", "expected 3, got 5")


def test_success_message_text_counts_even_at_semantic_level() -> None:
    ok = _json_record(header_bytes(response_type=1))
    chatty = _json_record(header_bytes(message="hi", response_type=1))
    assert compare_streams(ok, chatty, ComparisonLevel.SEMANTIC) == (
        "field Message",
        'expected "", got "hi"',
    )


def test_nested_field_path() -> None:
    a = messages.encode_versions([messages.FilesystemVersion("snapshot", "a", 1, 2)])
    b = messages.encode_versions([messages.FilesystemVersion("snapshot", "a", 9, 2)])
    ra = StreamRecord(S2C, 0, "json", (len(a),), len(a), a, go="[]zfs.FilesystemVersion")
    rb = StreamRecord(S2C, 0, "json", (len(b),), len(b), b, go="[]zfs.FilesystemVersion")
    assert compare_streams(ra, rb, ComparisonLevel.MESSAGES) == (
        "field [0].Guid",
        "expected 1, got 9",
    )
    assert compare_streams(ra, rb, ComparisonLevel.MESSAGES, ignore=["GUID"]) is None
