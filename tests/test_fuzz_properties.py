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
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from bytestreamrpc import messages
from bytestreamrpc.constants import ResponseType
from bytestreamrpc.framing import encode_stream
from bytestreamrpc.messages import FilesystemVersion
from fakes.zfs import FakeZfs
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
    Setup,
    StatefulHarness,
    random_setup,
    run_action,
    run_random_actions,
    setups,
)

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


class ServerConversation(RuleBasedStateMachine):
    """A client talking to our server, every answer checked against the model."""

    harness: StatefulHarness

    @initialize(setup=setups())
    def start(self, setup: Setup) -> None:
        self.harness = StatefulHarness(setup)

    @rule()
    def list_filesystems(self) -> None:
        run_action(self.harness, "list_filesystems", None)  # type: ignore[arg-type]

    @rule(data=st.data())
    def list_versions(self, data: st.DataObject) -> None:
        run_action(self.harness, "list_versions", data)

    @rule(data=st.data())
    def initial_transfer(self, data: st.DataObject) -> None:
        run_action(self.harness, "initial_transfer", data)

    @rule(data=st.data())
    def incremental_transfer(self, data: st.DataObject) -> None:
        run_action(self.harness, "incremental_transfer", data)

    @rule(data=st.data())
    def bad_protocol_version(self, data: st.DataObject) -> None:
        run_action(self.harness, "bad_protocol_version", data)

    @rule(data=st.data())
    def garbage(self, data: st.DataObject) -> None:
        run_action(self.harness, "garbage", data)

    @rule()
    def close(self) -> None:
        run_action(self.harness, "close", None)  # type: ignore[arg-type]

    @rule()
    def push(self) -> None:
        run_action(self.harness, "push", None)  # type: ignore[arg-type]

    def teardown(self) -> None:
        harness = getattr(self, "harness", None)
        if harness is not None:
            try:
                harness.check_state()
            finally:
                harness.teardown()


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
