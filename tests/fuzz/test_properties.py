"""Property suites of our own code under fuzzed input (fuzz.invariants, fuzz.stateful).

* Framing, codec, client parser and server: parse, or raise our documented
  ``ProtocolError``, never anything else (h11's invariant); the server never hangs and
  never changes state for a peer that does not answer its pull-me requests.
* A ``RuleBasedStateMachine`` drives a client conversation against our server and checks
  every answer against an independent model of the fake ZFS, ACL safety, and that failed
  operations change nothing.
* The checkers themselves catch planted bugs (otherwise a green run would prove nothing).
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from bytestreamrpc import messages
from bytestreamrpc.constants import ResponseType
from bytestreamrpc.framing import encode_stream
from bytestreamrpc.messages import FilesystemVersion
from fakes.mapping import parse_mapping
from fakes.zfs import FakeZfs
from fakes.zfs.fixtures import DatasetSpec, Fixture, PoolSpec, SnapshotSpec
from fuzz import strategies as zst
from fuzz.invariants import (
    InvariantViolation,
    check_client_parse,
    check_codec,
    check_framing,
    check_server,
    server_fixture,
)
from fuzz.model import ZfsModel
from fuzz.stateful import (
    ACTIONS,
    SINK_ROOT,
    ServerConversation,
    Setup,
    StatefulHarness,
    _weighted,
    perform,
    random_setup,
    run_drawn_actions,
    run_random_actions,
    setups,
)
from fuzz.strategies import golden_client_sides

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
SERVER = server_fixture()

_SOME_TYPES: list[Any] = [
    messages.RequestHeader,
    messages.ResponseHeader,
    messages.InitialTransferRequest,
    messages.VERSIONS_TYPE,
]
BYTES = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=64).flatmap(zst.chunked_streams),
    zst.transcript_mutations(),
)


@st.composite
def deliveries(draw: st.DrawFn, data: bytes) -> tuple[bytes, ...]:
    return draw(zst.chunkings(data)) if data else ()


# --------------------------------------------------------------------------- h11 invariant


@PROPS
@given(BYTES.flatmap(lambda d: st.tuples(st.just(d), deliveries(d))))
def test_framing_parses_or_raises_protocol_error(case: tuple[bytes, tuple[bytes, ...]]) -> None:
    data, pieces = case
    check_framing(data, pieces)


@PROPS
@given(
    st.one_of(
        st.binary(max_size=120),
        st.sampled_from(zst.VALIDITIES).flatmap(
            lambda v: st.sampled_from(_SOME_TYPES).flatmap(
                lambda t: zst.go_json_texts(t, validity=v)
            )
        ),
    ),
    st.booleans(),
)  # fmt: skip
def test_codec_decodes_or_raises_decode_error(data: bytes, truncated: bool) -> None:
    check_codec(data, truncated=truncated)


def _answers() -> st.SearchStrategy[bytes]:
    header = zst.response_headers(response_types=[int(t) for t in ResponseType])
    body = st.one_of(
        zst.filesystems_bodies().map(messages.encode_filesystems),
        zst.versions_bodies().map(messages.encode_versions),
        st.binary(max_size=40),
    )
    wellformed = st.tuples(header, body).map(
        lambda hb: encode_stream(messages.encode_message(hb[0])) + encode_stream(hb[1])
    )
    return st.one_of(wellformed, wellformed.flatmap(lambda b: zst.byte_mutations(b)), BYTES)


@PROPS
@given(zst.request_bodies(), _answers().flatmap(lambda a: st.tuples(st.just(a), deliveries(a))))
def test_client_parses_or_raises_protocol_error(
    request: messages.RequestBody, answer: tuple[bytes, tuple[bytes, ...]]
) -> None:
    check_client_parse(request, answer[1])


@PROPS
@given(
    st.one_of(BYTES, zst.conversations(max_steps=4).map(lambda c: c.wire())).flatmap(
        lambda d: st.tuples(st.just(d), deliveries(d))
    )
)
def test_server_survives_any_input(case: tuple[bytes, tuple[bytes, ...]]) -> None:
    check_server(SERVER, case[1])


# --------------------------------------------------------------------------- stateful


ServerConversation.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
TestServerConversation = ServerConversation.TestCase


def test_seeded_runs_exercise_every_action() -> None:
    rng = random.Random(2026)
    steps = sum(run_random_actions(rng, 40) for _ in range(15))
    assert steps == 15 * 40


def test_model_reads_the_fake_like_its_listing_commands() -> None:
    rng = random.Random(11)
    for _ in range(50):
        zfs = FakeZfs.in_memory(random_setup(rng).fixture)
        model = ZfsModel.read(zfs)
        assert model.datasets == zfs.list_filesystems()
        for name in model.datasets:
            listed = [FilesystemVersion(v.type, v.name, v.guid, v.createtxg)
                      for v in zfs.list_versions(name)]  # fmt: skip
            assert model.versions[name] == listed
        zfs.close()


# --------------------------------------------------------------------------- the checks bite


def test_stateful_checks_catch_an_acl_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    from fakes.reference import ReferenceHandler

    def leak(self: ReferenceHandler, r: object) -> list[messages.DatasetPath]:
        return [messages.DatasetPath.from_string(n) for n in self.zfs.list_filesystems()]

    monkeypatch.setattr(ReferenceHandler, "handle_filesystem_request", leak)
    rng = random.Random(5)
    with pytest.raises(InvariantViolation, match="Filesystem"):
        for _ in range(50):
            run_random_actions(rng, 30)


def test_stateful_checks_catch_a_wrong_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    from fakes.reference import ReferenceHandler

    original = ReferenceHandler.handle_incremental_transfer_request

    def full(self: ReferenceHandler, r: messages.IncrementalTransferRequest) -> object:
        original(self, r)  # same refusals, but send the full stream of To instead
        return self.zfs.send(r.to_version.to_abs_path(r.filesystem))

    monkeypatch.setattr(ReferenceHandler, "handle_incremental_transfer_request", full)
    rng = random.Random(6)
    with pytest.raises(InvariantViolation, match="IncrementalTransfer"):
        for _ in range(50):
            run_random_actions(rng, 30)


def test_codec_check_catches_a_crashing_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(cls: type, data: bytes, *, truncated: bool = False) -> object:
        raise IndexError("oops")

    monkeypatch.setattr(messages, "decode_message", broken)
    with pytest.raises(InvariantViolation, match="IndexError"):
        check_codec(b"{}")


def test_server_check_catches_a_state_change(monkeypatch: pytest.MonkeyPatch) -> None:
    fx = server_fixture()
    request = b"".join(
        encode_stream(messages.encode_message(m))
        for m in (messages.RequestHeader(1), messages.ProtocolVersionRequest())
    )
    check_server(fx, [request])
    fx.zfs.snapshot("pool/data@planted")  # type: ignore[attr-defined]
    with pytest.raises(InvariantViolation, match="state"):
        check_server(fx, [request])


# --------------------------------------------------------------------------- stateful drivers


def _setup(sink: dict[str, str] | None = None) -> Setup:
    fx = Fixture(
        pools=(PoolSpec("pool", referenced=4096), PoolSpec("backup", referenced=4096)),
        datasets=(DatasetSpec("pool/a", referenced=4096),),
        snapshots=(SnapshotSpec("pool/a@s0", referenced=1024, written=1024),),
        seed=7,
    )
    push = Fixture(pools=(PoolSpec("pool", referenced=4096),), seed=8)
    return Setup(fx, {"pool*": "pool"}, push, {"pool*": "pool"}, sink)


def test_the_state_is_checked_after_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A successful read that changes the fake, invisibly in its answer, is caught at that
    very step (it used to be caught only at the end of the run): the cheap check must not
    miss a change."""
    from fakes.reference import ReferenceHandler

    original = ReferenceHandler.handle_filesystem_request

    def writes(self: ReferenceHandler, r: messages.FilesystemRequest) -> object:
        self.zfs.snapshot("pool@planted")  # the listing shows datasets, not snapshots
        return original(self, r)

    h = StatefulHarness(_setup())
    try:
        perform(h, "list_versions", (messages.DatasetPath(("pool", "a")),))
        monkeypatch.setattr(ReferenceHandler, "handle_filesystem_request", writes)
        with pytest.raises(InvariantViolation, match="state differs"):
            perform(h, "list_filesystems", ())
    finally:
        h.teardown()


def test_a_crashing_server_is_reported_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    from bytestreamrpc.server import Server

    def crash(self: Server, transport: object) -> None:
        raise RuntimeError("planted")

    monkeypatch.setattr(Server, "serve", crash)
    h = StatefulHarness(_setup())
    try:
        with pytest.raises(InvariantViolation, match=r"Server.serve raised RuntimeError\('planted"):
            perform(h, "list_filesystems", ())
    finally:
        h.teardown()


def _replayed_pull_me() -> bytes:
    """A golden client side that is a whole pull-me conversation (it makes the server
    receive into the sink)."""
    for side in golden_client_sides():
        h = StatefulHarness(_setup({"|": SINK_ROOT}))
        try:
            h.garbage(side)
            if SINK_ROOT in h.model.datasets:
                return side
        finally:
            h.teardown()
    pytest.skip("no golden transcript is a whole pull-me conversation")


def test_garbage_that_replays_a_pull_me_may_fill_only_the_sink() -> None:
    side = _replayed_pull_me()
    h = StatefulHarness(_setup(None))  # no sink: the server must not receive anything
    try:
        perform(h, "garbage", (side,))
        assert SINK_ROOT not in h.model.datasets
    finally:
        h.teardown()
    h = StatefulHarness(_setup({"|": "backup/elsewhere"}))  # a sink the checks do not allow
    try:
        with pytest.raises(InvariantViolation, match="outside the sink"):
            perform(h, "garbage", (side,))
    finally:
        h.teardown()


def test_drawn_runs_are_full_length_and_shrink_to_the_failing_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Runs take ``max_actions`` steps unless a stop is drawn (a fuzzer's random input
    almost never draws one), yet a failure shrinks to a run that is not much longer than
    the step that fails."""
    lengths: list[int] = []

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data: st.DataObject) -> None:
        lengths.append(run_drawn_actions(data, max_actions=20))

    rng = random.Random(9)
    for _ in range(10):
        run.hypothesis.fuzz_one_input(rng.randbytes(8192))
    assert sorted(lengths)[len(lengths) // 2] == 20

    def planted(self: StatefulHarness) -> None:
        raise InvariantViolation("planted")

    monkeypatch.setattr(StatefulHarness, "close", planted)

    @settings(max_examples=100, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data())
    def failing(data: st.DataObject) -> None:
        run_drawn_actions(data, max_actions=20)

    with pytest.raises(InvariantViolation, match="planted") as info:
        failing()
    notes = " ".join(getattr(info.value, "__notes__", []))
    step = re.search(r"stateful step (\d+): close\(\)", notes)
    assert step is not None, notes
    assert int(step.group(1)) <= 3, notes


def test_one_weighted_list_keeps_the_weights_and_every_item() -> None:
    out = _weighted((3, ["a"]), (1, ["b", "c", "d", "e", "f"]), (0, ["never"]), (2, []))
    assert out[0] == "a" and "never" not in out
    assert set(out) == {"a", "b", "c", "d", "e", "f"}
    share = out.count("a") / len(out)
    assert 0.7 <= share <= 0.8  # 3 parts of 4


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(setups())
def test_every_drawn_setup_loads(setup: Setup) -> None:
    FakeZfs.in_memory(setup.fixture).close()
    FakeZfs.in_memory(setup.push_fixture).close()
    for mapping in (setup.pull_acl, setup.push_filter, setup.sink):
        if mapping is not None:
            parse_mapping(mapping)


def test_setups_have_names_that_globs_must_tell_apart() -> None:
    """The point of the curated vocabulary: sibling names where one is a string prefix of
    the other (``pool/a`` and ``pool/ab``), which a glob ``pool/a*`` must not confuse."""

    def confusable(setup: Setup) -> bool:
        names = [d.name for d in setup.fixture.datasets]
        return any(b != a and b.startswith(a) and b[len(a)] != "/" for a in names for b in names)

    find(setups(), confusable, settings=settings(max_examples=500, database=None))


def test_the_state_machine_runs_every_action() -> None:
    seen: set[str] = set()
    original = perform

    def counting(h: StatefulHarness, action: str, arguments: tuple[Any, ...]) -> None:
        seen.add(action)
        original(h, action, arguments)

    import fuzz.stateful

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fuzz.stateful, "perform", counting)
        run_state_machine_as_test(
            ServerConversation,
            settings=settings(max_examples=15, stateful_step_count=30, database=None,
                              deadline=None, suppress_health_check=list(HealthCheck)),
        )  # fmt: skip
    assert seen == set(ACTIONS)
