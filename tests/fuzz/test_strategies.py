"""``fuzz.strategies``: each strategy generates what it promises, and rejects bad arguments.

"What it promises" is checked with the project's own judges: the Go-exact decoder
(``decode_message``), ``DatasetPath.from_string``, the fake ZFS's name rules and fixture
loader, the mapping and profile parsers, and the reference handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from bytestreamrpc import gojson, messages
from bytestreamrpc.constants import RequestType
from bytestreamrpc.errors import DecodeError, HandlerError
from bytestreamrpc.framing import decode_stream
from bytestreamrpc.messages import (
    DatasetPath,
    FilesystemVersionsRequest,
    InitialTransferRequest,
    RequestHeader,
)
from fakes.mapping import parse_mapping
from fakes.profile import profile_from_obj
from fakes.reference import ReferenceHandler
from fakes.zfs import FakeZfs
from fakes.zfs.names import invalid_name_reason
from fuzz import strategies as zst

FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
FIRST_HIT = settings(max_examples=5000, database=None, phases=[Phase.generate])
"""For ``find``: the first example that satisfies the condition, unshrunk (shrinking is
not what these tests are about and would cost seconds)."""
SNAPSHOT_OR_BOOKMARK = frozenset({"snapshot", "bookmark"})

GO_TYPES: list[Any] = [
    RequestHeader,
    messages.ResponseHeader,
    messages.ProtocolVersionRequest,
    messages.FilesystemRequest,
    FilesystemVersionsRequest,
    InitialTransferRequest,
    messages.IncrementalTransferRequest,
    messages.PullMeRequest,
    messages.CloseRequest,
    messages.FILESYSTEMS_TYPE,
    messages.VERSIONS_TYPE,
]


def _decode(t: Any, data: bytes) -> object:
    return gojson.decode_message_bytes(data, zst.go_type_for(t), pointer_name="*T", truncated=False)


@pytest.fixture(scope="module")
def demo_handler() -> ReferenceHandler:
    zfs = FakeZfs.in_memory()
    return ReferenceHandler(
        zfs, identity="t", pull_acl=parse_mapping({"*": "x"}), sink_for=lambda _: None
    )


# --------------------------------------------------------------------------- names


@FAST
@given(zst.dataset_paths())
def test_dataset_paths_are_valid_everywhere(p: DatasetPath) -> None:
    assert DatasetPath.from_string(p.to_string()) == p
    assert invalid_name_reason(p.to_string(), frozenset({"filesystem"})) is None


@FAST
@given(zst.dataset_paths(min_size=2, max_size=3, pool="tank"))
def test_dataset_paths_pool_and_sizes(p: DatasetPath) -> None:
    assert p.components[0] == "tank" and 2 <= len(p.components) <= 3


@FAST
@given(zst.near_valid_dataset_paths())
def test_near_valid_paths_are_refused(demo_handler: ReferenceHandler, p: DatasetPath) -> None:
    text = p.to_string()
    try:
        round_trips = DatasetPath.from_string(text) == p
    except ValueError:
        round_trips = False
    assert not round_trips or invalid_name_reason(text, frozenset({"filesystem"})) is not None
    with pytest.raises(HandlerError):  # the reference refuses it even under the ACL "*"
        demo_handler.handle_filesystem_versions_request(FilesystemVersionsRequest(p))


@FAST
@given(zst.version_names())
def test_version_names_are_valid(name: str) -> None:
    assert invalid_name_reason(f"pool/x@{name}", frozenset({"snapshot"})) is None


# --------------------------------------------------------------------------- versions


@FAST
@given(zst.filesystem_versions())
def test_filesystem_versions_are_valid(v: messages.FilesystemVersion) -> None:
    assert v.type in SNAPSHOT_OR_BOOKMARK
    assert invalid_name_reason("pool/x" + v.relname(), frozenset({v.type})) is None
    assert 0 <= v.guid <= zst.MAX_UINT64 and 1 <= v.create_txg <= zst.MAX_UINT64
    assert messages.decode_message(type(v), messages.encode_message(v)) == v


@FAST
@given(zst.near_valid_filesystem_versions())
def test_near_valid_versions_are_refused(
    demo_handler: ReferenceHandler, v: messages.FilesystemVersion
) -> None:
    assert (
        v.type not in SNAPSHOT_OR_BOOKMARK
        or invalid_name_reason("pool/data" + v.relname(), frozenset({v.type})) is not None
    )
    with pytest.raises(HandlerError):
        demo_handler.handle_initial_transfer_request(
            InitialTransferRequest(DatasetPath(("pool", "data")), v)
        )


def test_guids_reach_the_float_edge() -> None:
    assert find(zst.guids(), lambda g: g == 2**53 + 1, settings=FIRST_HIT) == 2**53 + 1
    assert find(zst.guids(min_value=5, max_value=9), lambda g: True) in range(5, 10)


@FAST
@given(zst.version_lists(min_size=1, max_size=5))
def test_version_lists_are_plausible_diff_bodies(
    vs: tuple[messages.FilesystemVersion, ...],
) -> None:
    txgs = [v.create_txg for v in vs]
    assert txgs == sorted(txgs)
    snaps = [v for v in vs if v.type == "snapshot"]
    assert 1 <= len(snaps) <= 5
    assert len({v.name for v in snaps}) == len(snaps) == len({v.guid for v in snaps})
    assert messages.decode_versions(messages.encode_versions(vs)) == vs


# --------------------------------------------------------------------------- fixtures


@FAST
@given(zst.dataset_trees(max_size=6))
def test_dataset_trees_list_parents_first(tree: tuple[str, ...]) -> None:
    seen = {"pool"}
    for name in tree:
        assert name.rpartition("/")[0] in seen
        assert invalid_name_reason(name, frozenset({"filesystem"})) is None
        seen.add(name)
    assert len(set(tree)) == len(tree)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(zst.fixtures(max_datasets=4))
def test_fixtures_load_into_the_fake(fx: object) -> None:
    zfs = FakeZfs.in_memory(fx)  # type: ignore[arg-type]
    try:
        names = set(zfs.list_filesystems())
        assert names == {p.name for p in fx.pools} | {d.name for d in fx.datasets}  # type: ignore[attr-defined]
        snaps = sum(1 for n in names for v in zfs.list_versions(n) if v.type == "snapshot")
        assert snaps == len(fx.snapshots)  # type: ignore[attr-defined]
    finally:
        zfs.close()


@FAST
@given(zst.mappings(min_size=1))
def test_mappings_parse(m: dict[str, str]) -> None:
    assert 1 <= len(m) <= 3
    parse_mapping(m)


@FAST
@given(zst.profiles())
def test_profiles_parse(p: dict[str, object]) -> None:
    prof = profile_from_obj(p)
    assert prof.identity == p["identity"]


# --------------------------------------------------------------------------- messages


@FAST
@given(zst.request_bodies())
def test_request_bodies_round_trip(body: messages.RequestBody) -> None:
    assert messages.decode_message(type(body), messages.encode_message(body)) == body


@pytest.mark.parametrize("kind", list(RequestType))
def test_request_bodies_honour_types(kind: RequestType) -> None:
    body = find(zst.request_bodies(types=[kind]), lambda b: True, settings=FIRST_HIT)
    assert messages.REQUEST_TYPE_OF[type(body)] is kind


@FAST
@given(zst.request_headers(), zst.response_headers())
def test_headers_round_trip(h: RequestHeader, r: messages.ResponseHeader) -> None:
    assert 0 <= h.type <= 255 and len(h.id) == 16
    assert messages.decode_message(RequestHeader, messages.encode_message(h)) == h
    assert messages.decode_message(type(r), messages.encode_message(r)) == r


@FAST
@given(
    zst.request_headers(types=[16, 240]), zst.response_headers(error_ids=[5], response_types=[0])
)
def test_headers_honour_restrictions(h: RequestHeader, r: messages.ResponseHeader) -> None:
    assert h.type in (16, 240)
    assert (r.error_id, r.response_type) == (5, 0)


@FAST
@given(zst.filesystems_bodies(), zst.versions_bodies())
def test_response_bodies_round_trip(fs: object, vs: object) -> None:
    assert messages.decode_filesystems(messages.encode_filesystems(fs)) == fs  # type: ignore[arg-type]
    assert messages.decode_versions(messages.encode_versions(vs)) == vs  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Go JSON


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_valid_go_json_decodes_to_the_intended_value(data: st.DataObject) -> None:
    t = data.draw(st.sampled_from(GO_TYPES))
    value = data.draw(zst.go_values(t))
    text = data.draw(zst.go_json_encodings(value, go_type=zst.go_type_for(t)))
    assert _decode(t, text) == value


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_near_valid_go_json_is_a_type_error(data: st.DataObject) -> None:
    t = data.draw(st.sampled_from(GO_TYPES))
    text = data.draw(zst.go_json_texts(t, validity="near-valid"))
    with pytest.raises(DecodeError, match="json: cannot unmarshal"):
        _decode(t, text)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_invalid_go_json_is_a_syntax_error(data: st.DataObject) -> None:
    t = data.draw(st.sampled_from(GO_TYPES))
    text = data.draw(zst.go_json_texts(t, validity="invalid"))
    with pytest.raises(DecodeError) as err:
        _decode(t, text)
    assert "cannot unmarshal" not in str(err.value)


def test_valid_go_json_uses_unicode_key_folding() -> None:
    text = find(
        zst.go_json_encodings(messages.ProtocolVersionRequest()),
        lambda t: "\u017f".encode() in t,
        settings=FIRST_HIT,
    )
    assert messages.decode_message(messages.ProtocolVersionRequest, text).client_version == 1


# --------------------------------------------------------------------------- chunking


@FAST
@given(st.binary(max_size=300), st.integers(1, 50), st.data())
def test_chunkings_cover_the_data(data: bytes, cap: int, draw: st.DataObject) -> None:
    pieces = draw.draw(zst.chunkings(data, max_chunk_size=cap))
    assert b"".join(pieces) == data
    assert all(1 <= len(p) <= cap for p in pieces)
    framed = draw.draw(zst.chunked_streams(data, max_chunk_size=cap))
    assert decode_stream(framed) == (data, b"")


# --------------------------------------------------------------------------- conversations


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(zst.conversations(min_steps=2, max_steps=5))
def test_conversations_decode_to_their_requests(c: zst.Conversation) -> None:
    assert 2 <= len(c.steps) <= 5
    assert c.wire() == b"".join(s.wire() for s in c.steps)
    for step in c.steps:
        if isinstance(step, zst.Send) and step.request is not None:
            header, body = step.request
            wire = step.wire()
            hpayload, rest = decode_stream(wire)
            bpayload, tail = decode_stream(rest)
            assert tail == b""
            assert messages.decode_message(RequestHeader, hpayload) == header
            assert messages.decode_message(type(body), bpayload) == body
            assert messages.REQUEST_TYPE_OF[type(body)] == header.type


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(zst.conversations(handshake=True, malformed=False, pull_me=False, close=True, max_steps=4))
def test_conversations_honour_their_switches(c: zst.Conversation) -> None:
    first, last = c.steps[0], c.steps[-1]
    assert isinstance(first, zst.Send) and first.request is not None
    assert isinstance(first.request[1], messages.ProtocolVersionRequest)
    assert isinstance(last, zst.Send) and last.request is not None
    assert isinstance(last.request[1], messages.CloseRequest) or len(c.steps) == 4
    for step in c.steps:
        assert isinstance(step, zst.Send) and step.request is not None and not step.hands_over


def test_conversations_aim_at_the_world() -> None:
    world = zst.World.demo()
    step = find(
        zst.request_steps(world=world, malformed=False),
        lambda s: (
            isinstance(s, zst.Send)
            and s.request is not None
            and isinstance(s.request[1], messages.IncrementalTransferRequest)
            and s.request[1].from_version in world.versions_of("pool/data")
        ),
        settings=FIRST_HIT,
    )
    assert isinstance(step, zst.Send) and step.request is not None


# --------------------------------------------------------------------------- mutations


@FAST
@given(st.binary(min_size=1, max_size=64), st.data())
def test_byte_mutations_change_the_bytes(data: bytes, draw: st.DataObject) -> None:
    assert draw.draw(zst.byte_mutations(data)) != data


def test_golden_transcripts_give_client_sides() -> None:
    from recordings.golden import GOLDEN_DIR

    assert len(zst.golden_client_sides()) >= 10
    side = zst.client_bytes(GOLDEN_DIR / "pv-ok.jsonl")
    header, rest = decode_stream(side)
    body, _ = decode_stream(rest)
    assert messages.decode_message(RequestHeader, header) == RequestHeader(1)
    assert messages.decode_message(messages.ProtocolVersionRequest, body).client_version == 1


@FAST
@given(zst.transcript_mutations())
def test_transcript_mutations_differ_from_every_original(data: bytes) -> None:
    assert data not in set(zst.golden_client_sides())


# --------------------------------------------------------------------------- bad arguments

BAD_ARGUMENTS: list[Callable[[], object]] = [
    lambda: zst.dataset_components(min_size=0),
    lambda: zst.dataset_paths(min_size=3, max_size=2),
    lambda: zst.dataset_paths(max_size=-1),
    lambda: zst.dataset_paths(pool="a/b"),
    lambda: zst.dataset_paths(pool="p", max_size=0),
    lambda: zst.near_valid_dataset_paths(min_size=0),
    lambda: zst.version_names(max_size=True),
    lambda: zst.guids(min_value=-1),
    lambda: zst.guids(min_value=9, max_value=3),
    lambda: zst.guids(max_value=2**64),
    lambda: zst.filesystem_versions(types=["snap"]),
    lambda: zst.filesystem_versions(types=[]),
    lambda: zst.filesystem_versions(min_txg=5, max_txg=4),
    lambda: zst.version_lists(min_size=2, max_size=1),
    lambda: zst.version_lists(bookmarks="yes"),  # type: ignore[arg-type]
    lambda: zst.dataset_trees(pools=["1pool"]),
    lambda: zst.dataset_trees(pools="pool"),
    lambda: zst.dataset_trees(max_depth=0),
    lambda: zst.fixtures(min_datasets=4, max_datasets=2),
    lambda: zst.fixtures(max_snapshots=-1),
    lambda: zst.mappings(kinds=["exec"]),
    lambda: zst.mappings(targets=[]),
    lambda: zst.profiles(identities=[]),
    lambda: zst.request_headers(types=[256]),
    lambda: zst.request_bodies(types=[]),
    lambda: zst.response_headers(error_ids=[-1]),
    lambda: zst.filesystems_bodies(min_size=-1),
    lambda: zst.versions_bodies(max_size=1.5),  # type: ignore[arg-type]
    lambda: zst.go_json_texts(int),
    lambda: zst.go_json_texts(RequestHeader, validity="almost"),
    lambda: zst.go_json_encodings(RequestHeader(type=300)),
    lambda: zst.chunkings("text"),  # type: ignore[arg-type]
    lambda: zst.chunkings(b"x", max_chunk_size=0),
    lambda: zst.chunked_streams(b"x", max_chunk_size=2**32),
    lambda: zst.conversations(min_steps=5, max_steps=1),
    lambda: zst.conversations(world="demo"),  # type: ignore[arg-type]
    lambda: zst.conversations(handshake=1),  # type: ignore[arg-type]
    lambda: zst.request_steps(malformed=None),  # type: ignore[arg-type]
    lambda: zst.byte_mutations(b"x", min_mutations=0),
    lambda: zst.byte_mutations("x"),  # type: ignore[arg-type]
    lambda: zst.transcript_mutations([]),
    lambda: zst.transcript_mutations("recordings/golden"),
]


@pytest.mark.parametrize("make", BAD_ARGUMENTS, ids=range(len(BAD_ARGUMENTS)))
def test_bad_arguments_are_rejected_when_the_strategy_is_made(make: Callable[[], object]) -> None:
    with pytest.raises(InvalidArgument):
        make()
