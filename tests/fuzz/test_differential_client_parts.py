"""The parts of client-role differential fuzzing, each on its own (no implementation process
except where replay needs our reference client): the ``outcome`` event of transcripts and
replay's check of it, the scripted answers, the script strategy, the comparison, the
stalemate guard and the scripted server's recording."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytestreamrpc import framing, messages
from bytestreamrpc.constants import RequestType, ResponseType
from bytestreamrpc.deviations import Situation
from bytestreamrpc.errors import PeerTimeout
from bytestreamrpc.messages import DatasetPath, FilesystemVersion, ResponseHeader
from bytestreamrpc.transport import MemoryTransport, memory_pair
from fakes.scripted import Honest, Then, render
from fuzz.differential.answers import REFUSAL, apply_plan, situations_of
from fuzz.differential.client_runner import (
    ClientTrialRun,
    client_setting,
    compare_clients,
    run_reference_client,
)
from fuzz.differential.client_search import _offered
from fuzz.differential.pipes import Stalemate, StalemateGuard
from fuzz.differential.script import (
    Cut,
    Job,
    Mutate,
    Plan,
    Rechunk,
    Refuse,
    Rule,
    ServerScript,
    StreamFault,
    WrongType,
)
from fuzz.differential.script_gen import server_scripts
from fuzz.differential.scripted import _Tap
from iut import FixtureCache, reference_spec
from recordings.classify import Recorder, records_from_exchange
from recordings.compare import ComparisonLevel
from recordings.format import (
    C2S,
    S2C,
    EventRecord,
    Header,
    Record,
    StreamRecord,
    Transcript,
    TranscriptError,
    read_transcript,
    write_transcript,
)
from recordings.outcome import ClientOutcome, compare_outcomes
from recordings.replay import replay_client

RT = RequestType
STATE = {
    "backup/x": {
        "type": "filesystem",
        "readonly": "on",
        "versions": [["snapshot", "s1", 2**64 - 1]],
    }
}


# --------------------------------------------------------------------------- the outcome event


def test_outcome_event_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    rec = EventRecord("outcome", status=1, state=STATE)
    write_transcript(path, Transcript(Header(what="fuzz-client"), [rec]))
    back = read_transcript(path).records[0]
    assert isinstance(back, EventRecord) and back.event == "outcome"
    assert back.status == 1 and back.state == STATE


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"event":"outcome","status":0}', "key 'state' must be an object"),
        (
            '{"event":"outcome","status":0,"state":{"a":{"type":"filesystem"}}}',
            "must be an object with",
        ),
        (
            '{"event":"outcome","status":0,"state":{"a":{"type":"f","readonly":"on",'
            '"versions":[["snapshot","s",true]]}}}',
            "a version must be [type, name, guid]",
        ),
        ('{"event":"exit","status":0,"state":{}}', "'state' belongs to outcome events"),
    ],
)
def test_bad_outcome_events_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    write_transcript(path, Transcript(Header(), []))
    text = path.read_text().splitlines()
    path.write_text("\n".join([text[0], line, '{"end":1}']) + "\n")
    with pytest.raises(TranscriptError) as err:
        read_transcript(path)
    assert f"{path}:2:" in str(err.value) and message in str(err.value)


def test_outcomes_compare_by_exit_class_then_datasets() -> None:
    ok, failed = ClientOutcome(0, STATE), ClientOutcome(1, STATE)
    assert compare_outcomes(failed, ClientOutcome(2, STATE)) is None  # both "failed"
    found = compare_outcomes(ok, failed)
    assert found is not None and found[0] == "exit status"
    other = {"backup/x": {**STATE["backup/x"], "readonly": "off"}}
    found = compare_outcomes(ok, ClientOutcome(0, other))
    assert found is not None and "readonly 'off', expected 'on'" in found[1]
    found = compare_outcomes(ok, ClientOutcome(0, {}))
    assert found is not None and "dataset backup/x is missing" in found[1]


def test_replay_checks_the_recorded_outcome_of_a_client(tmp_path: Path) -> None:
    setting = client_setting()
    ref = run_reference_client(ServerScript("pull"), setting, timeout=5)
    assert ref.outcome is not None and ref.outcome.exit == "failed"  # vol1 cannot be received

    def transcript(outcome: EventRecord) -> Transcript:
        header = Header(what="fuzz-client", fixture=setting.fixture,
                        profile=dict(setting.profile), identity=setting.identity)  # fmt: skip
        path = tmp_path / "t.jsonl"
        write_transcript(path, Transcript(header, [*ref.records, outcome]))
        return read_transcript(path)

    right = ref.outcome.record()
    state = dict(right.state or {})
    del state["backup/pulled/data/home"]  # pretend the reference did not receive it
    wrong_state = dataclasses.replace(right, state=state)
    wrong_exit = dataclasses.replace(right, status=0)
    with FixtureCache() as cache:
        results = [
            replay_client(
                transcript(rec),
                reference_spec(),
                cache,
                role="pull",
                level=ComparisonLevel.SEMANTIC,
                timeout=5,
            )
            for rec in (right, wrong_state, wrong_exit)
        ]
    assert results[0].ok, results[0].summary()
    assert results[1].mismatch is not None
    assert results[1].mismatch.what == "client outcome: fake ZFS state"
    assert "backup/pulled/data/home exists" in results[1].mismatch.detail
    assert results[2].mismatch is not None
    assert results[2].mismatch.what == "client outcome: exit status"


# --------------------------------------------------------------------------- answers

HEADER = ResponseHeader(bytes(16), 0, "", int(ResponseType.CHUNKED_STREAM))
DATA = bytes(range(256)) * 40


def _records(data: bytes) -> list[StreamRecord]:
    recs = records_from_exchange([(C2S, framing.encode_stream(b'{"Type":18}')), (S2C, data),
                                  (S2C, None)])  # fmt: skip
    return [r for r in recs if isinstance(r, StreamRecord) and r.dir == S2C]


def test_refusals_and_wrong_types() -> None:
    answer = Honest(HEADER, data=DATA)
    data, after = apply_plan(Refuse(5, close=True), answer, RT.INITIAL_TRANSFER)
    header = messages.decode_message(ResponseHeader, _records(data)[0].payload or b"")
    assert (header.error_id, header.message, header.response_type, after) == (
        5,
        REFUSAL,
        0,
        Then.CLOSE,
    )
    assert apply_plan(WrongType(0x20), answer, RT.INITIAL_TRANSFER) == (render(answer), Then.HONEST)
    data, after = apply_plan(WrongType(0x01), answer, RT.INITIAL_TRANSFER)
    assert len(_records(data)) == 1 and after is Then.CONTINUE


def test_cuts_and_chunkings() -> None:
    answer = Honest(HEADER, data=DATA)
    assert apply_plan(Cut(0), answer, RT.INITIAL_TRANSFER) == (b"", Then.CLOSE)
    data, after = apply_plan(Rechunk(1), answer, RT.INITIAL_TRANSFER)
    recs = _records(data)
    assert after is Then.HONEST and all(set(r.chunks) == {1} for r in recs)
    assert recs[1].length == len(DATA) and recs[1].cut is None


@pytest.mark.parametrize("kind", ["cut-boundary", "cut-payload", "cut-length", "cut-complete"])
def test_cut_stream_faults_end_the_stream_by_end_of_file(kind: str) -> None:
    data, after = apply_plan(StreamFault(kind, 7), Honest(HEADER, data=DATA), RT.INITIAL_TRANSFER)
    stream = _records(data)[1]
    assert after is Then.CLOSE and stream.cut is not None
    if kind == "cut-complete":
        assert stream.length == len(DATA) and stream.cut.header == b""


def test_flip_and_wrong_stream_faults_keep_the_stream_whole() -> None:
    answer = Honest(HEADER, data=DATA)
    data, _ = apply_plan(StreamFault("flip", 1000), answer, RT.INITIAL_TRANSFER)
    got = _records(data)[1]
    assert (
        got.cut is None
        and got.length == len(DATA)
        and got.digest != _records(render(answer))[1].digest
    )
    data, _ = apply_plan(StreamFault("wrong"), answer, RT.INITIAL_TRANSFER, lambda: b"other")
    assert _records(data)[1].length == 5


def test_body_mutations_edit_the_reference_answer() -> None:
    versions = tuple(FilesystemVersion("snapshot", f"s{i}", i, i) for i in (1, 2, 3))
    header = ResponseHeader(bytes(16), 0, "", int(ResponseType.FILESYSTEM_DIFF))
    answer = Honest(header, messages.encode_versions(versions), versions)

    def body(op: str) -> bytes:
        data, _ = apply_plan(Mutate(op), answer, RT.FILESYSTEM_VERSIONS)
        return _records(data)[1].payload or b""

    assert body("null") == b"null\n"
    assert messages.decode_versions(body("reverse")) == versions[::-1]
    assert [v.guid for v in messages.decode_versions(body("guid-plus-one")) or ()] == [2, 3, 4]
    listing = (DatasetPath(("pool", "data")),)
    fs = Honest(
        ResponseHeader(bytes(16), 0, "", 0x10), messages.encode_filesystems(listing), listing
    )
    data, _ = apply_plan(Mutate("add-foreign"), fs, RT.FILESYSTEM)
    assert messages.decode_filesystems(_records(data)[1].payload or b"") == (
        *listing,
        DatasetPath(("pool", "ghost")),
    )


# --------------------------------------------------------------------------- scripts

_SETTING = client_setting()
_WORLD = _SETTING.world()
_OFFERED = _offered(_SETTING)


def test_the_honest_listing_is_what_the_profile_offers() -> None:
    assert set(_OFFERED) == {"pool", "pool/data", "pool/data/home", "pool/vol1"}


_JOBS: list[tuple[Job, ...]] = [("pull",), ("push",), ("pull", "push")]


@settings(max_examples=60)
@given(
    st.sampled_from(_JOBS).flatmap(
        lambda jobs: st.tuples(
            st.just(jobs), server_scripts(world=_WORLD, offered=_OFFERED, jobs=jobs, max_rules=4)
        )
    )
)
def test_generated_scripts_respect_their_arguments(
    case: tuple[tuple[Job, ...], ServerScript],
) -> None:
    jobs, script = case
    assert script.job in jobs and len(script.rules) <= 4
    targets = [(r.request, r.nth) for r in script.rules]
    assert len(targets) == len(set(targets))
    wanted = {"pull": RT.PULL_ME, "push": RT.FILESYSTEM}[script.job]
    assert all(r.request is not wanted for r in script.rules)
    assert set(script.hide) <= set(_OFFERED)
    assert script.describe()[0] == f"job: {script.job}"


def test_bad_strategy_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="pull and/or push"):
        server_scripts(world=_WORLD, jobs=())
    with pytest.raises(ValueError, match="max_rules"):
        server_scripts(world=_WORLD, max_rules=-1)


def test_rules_aim_at_the_nth_request_of_their_type() -> None:
    rule = Rule(RT.INCREMENTAL_TRANSFER, 1, StreamFault("flip"))
    script = ServerScript("pull", (rule, Rule(RT.INCREMENTAL_TRANSFER, 1, Cut(0))))
    assert script.rule_for(RT.INCREMENTAL_TRANSFER, 1) is rule  # the first one wins
    assert script.rule_for(RT.INCREMENTAL_TRANSFER, 0) is None
    assert script.keeping({rule}).rules == (rule,)


# --------------------------------------------------------------------------- comparing


def _run(records: list[Record], *, timed_out: str | None = None) -> ClientTrialRun:
    return ClientTrialRun(records, ClientOutcome(0, {}), timed_out=timed_out)


def test_a_missing_last_end_of_file_is_no_disagreement_but_a_stall_is_a_hang() -> None:
    recs = records_from_exchange([(C2S, framing.encode_stream(b'{"Type":1}')), (C2S, None)])
    assert compare_clients(_run(recs), _run(recs[:1]), 1.0) is None
    hang = compare_clients(_run(recs), _run([], timed_out="request 1"), 1.0)
    assert hang is not None and hang.kind == "hang" and hang.index == 1


def test_the_reference_agrees_with_itself_on_generated_scripts() -> None:
    # Two in-process runs of the same script record the same client side and outcome.
    for script in (ServerScript("pull"), ServerScript("push"),
                   ServerScript("pull", (Rule(RT.FILESYSTEM, 0, Refuse(5)),))):  # fmt: skip
        a = run_reference_client(script, _SETTING, 5)
        b = run_reference_client(script, _SETTING, 5)
        assert compare_clients(a, b, 5) is None
        assert not a.stalemate and a.outcome is not None


# --------------------------------------------------------------------------- plumbing


def test_the_stalemate_guard_ends_a_mutual_wait_at_once() -> None:
    ours, theirs = memory_pair()
    waiting = threading.Thread(target=lambda: _read_quietly(ours), daemon=True)
    waiting.start()
    guard = StalemateGuard(theirs, waiting)
    start = time.monotonic()
    with pytest.raises(Stalemate):
        guard.read(timeout=5)
    assert guard.stalemate and time.monotonic() - start < 2
    ours.close()


def _read_quietly(end: MemoryTransport) -> None:
    with contextlib.suppress(PeerTimeout):
        end.read(timeout=5)


def test_the_tap_records_only_the_streams_the_server_read() -> None:
    ours, theirs = memory_pair()
    first, second = framing.encode_stream(b'{"a":1}'), framing.encode_stream(b'{"b":2}')
    ours.write(first + second)  # both arrive in one read
    rec = Recorder(full=(S2C,))
    tap = _Tap(theirs, rec)
    assert tap.read(1 << 20, 1) == first
    tap.hang_up()
    rec.stop()
    assert [r.payload for r in rec.records if isinstance(r, StreamRecord)] == [b'{"a":1}']


# --------------------------------------------------------------- §deviations situations

_STREAM_ANSWER = Honest(
    ResponseHeader(bytes(16), 0, "", int(ResponseType.CHUNKED_STREAM)), data=bytes(range(90)) * 4
)


@pytest.mark.parametrize(
    ("plan", "request_type", "expected"),
    [
        (Refuse(5), RequestType.PULL_ME, {Situation.PULLME_REFUSED}),
        (Refuse(5), RequestType.INITIAL_TRANSFER, set()),
        (StreamFault("cut-complete"), RequestType.INITIAL_TRANSFER,
         {Situation.STREAM_WITHOUT_TERMINATOR}),
        (StreamFault("cut-boundary"), RequestType.INITIAL_TRANSFER,
         {Situation.STREAM_WITHOUT_TERMINATOR}),
        (StreamFault("cut-payload", 7), RequestType.INITIAL_TRANSFER, set()),
        (StreamFault("flip", 3), RequestType.INCREMENTAL_TRANSFER,
         {Situation.STREAM_REFUSED_BY_RECV}),
        (Rechunk(50), RequestType.INCREMENTAL_TRANSFER, set()),
    ],
)  # fmt: skip
def test_the_situations_a_plan_sets_up(
    plan: Plan, request_type: RequestType, expected: set[Situation]
) -> None:
    sent, _after = apply_plan(plan, _STREAM_ANSWER, request_type)
    assert situations_of(plan, _STREAM_ANSWER, request_type, sent) == expected


def test_a_cut_at_a_chunk_boundary_of_the_send_stream_is_a_stream_without_terminator() -> None:
    assert _STREAM_ANSWER.data is not None
    head = render(Honest(_STREAM_ANSWER.header))
    data = _STREAM_ANSWER.data
    chunks = b"".join(framing.chunk_header(60) + data[i : i + 60] for i in (0, 60))
    rule = RequestType.INITIAL_TRANSFER
    at_boundary = head + chunks
    assert situations_of(Cut(len(at_boundary)), _STREAM_ANSWER, rule, at_boundary) == {
        Situation.STREAM_WITHOUT_TERMINATOR
    }
    inside = at_boundary[:-10]
    assert situations_of(Cut(len(inside)), _STREAM_ANSWER, rule, inside) == set()
