"""Golden check and replay against the §deviations table: the original's behaviour is INFO,
a real defect next to it still a mismatch; send-stream chunk boundaries only at ``exact``."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bytestreamrpc.deviations import TABLE, Answer, Deviation, Situation, explain
from iut import FixtureCache, load_spec, reference_spec, spec_from_server_cmd
from iut.spec import REFERENCE_SERVER, IUTSpec
from recordings.compare import ComparisonLevel, Mismatch
from recordings.explain import (
    client_situations,
    explain_server_mismatch,
    server_observed,
    server_situations,
)
from recordings.format import (
    C2S,
    S2C,
    Cut,
    EventRecord,
    Record,
    StreamRecord,
    Transcript,
    read_transcript,
)
from recordings.golden import GOLDEN_DIR, check
from recordings.replay import ReplayResult, replay_client, replay_server
from recordings.scenarios import by_name
from tests.mutants import mutant_spec

PY = sys.executable
MUTANT = str(Path(__file__).parent.parent / "support" / "recordings_mutant.py")


@pytest.fixture(scope="module")
def cache() -> Iterator[FixtureCache]:
    with FixtureCache() as c:
        yield c


def golden(name: str) -> Transcript:
    return read_transcript(GOLDEN_DIR / f"{name}.jsonl")


def mutant_cmd(mode: str, at: int) -> str:
    return f"{PY} {MUTANT} {mode} {at} -- " + " ".join(REFERENCE_SERVER)


def mutant(mode: str, at: int) -> IUTSpec:
    return spec_from_server_cmd(mutant_cmd(mode, at))


# --------------------------------------------------------------------------- observations


def test_a_recorded_conversation_as_the_table_sees_it() -> None:
    obs = server_observed(golden("init-ok").records)
    assert [str(a) for a in obs.answers] == ["OK(0x01)", "OK(0x20) (complete stream)", "OK(0x01)"]
    assert obs.closed
    obs = server_observed(golden("fs-handler-error").records)
    assert [a.shape for a in obs.answers] == [(0, 1), (5, 0)]
    assert obs.answers[1].message == "no pull ACL for client identity 'alice'"


def test_what_a_transcript_says_about_the_client_of_a_server() -> None:
    cut = {Situation.MESSAGE_WITHOUT_TERMINATOR}
    assert server_situations(golden("frame-missing-terminator").records) == cut
    assert server_situations(golden("pv-ok").records) == frozenset()
    recs = list(golden("pv-ok").records)
    last = max(i for i, r in enumerate(recs) if isinstance(r, StreamRecord) and r.dir == C2S)
    stream = recs[last]
    assert isinstance(stream, StreamRecord) and stream.chunks
    recs[last] = dataclasses.replace(stream, cut=Cut(declared=stream.chunks[-1] + 5))
    assert server_situations(recs) == cut  # inside a chunk, after data
    recs[last] = dataclasses.replace(stream, cut=Cut(header=b"\x01\x00"))
    assert server_situations(recs) == frozenset()  # inside a chunk length
    recs[last] = dataclasses.replace(stream, chunks=(), cut=Cut(header=b""))
    assert server_situations(recs) == frozenset()  # no data chunk at all


def test_a_chunked_stream_answer_without_its_stream_is_cut() -> None:
    recs = [
        r
        for r in golden("init-ok").records
        if not (isinstance(r, StreamRecord) and r.kind == "data")
    ]
    assert server_observed(recs).answers[1] == Answer(0, 0x20, "", "cut")
    open_ended = [r for r in recs if not (isinstance(r, EventRecord) and r.dir == S2C)]
    assert not server_observed(open_ended).closed


def test_a_body_difference_is_never_put_to_the_table() -> None:
    """Behind answers the table explains, a wrong body or send stream stays a mismatch."""
    recs = list(golden("fs-handler-error").records)
    s2c = [r for r in golden("fsv-ok").records if isinstance(r, StreamRecord) and r.dir == S2C]
    body = next(r for r in s2c if r.go != "rpc.ResponseHeader")
    first = next(i for i, r in enumerate(recs) if isinstance(r, StreamRecord) and r.dir == S2C)
    recs.insert(first + 1, body)
    refused = next(i for i, r in enumerate(recs) if isinstance(r, StreamRecord)
                   and b'"ErrorId":5' in (r.payload or b""))  # fmt: skip
    crashed = recs[:refused] + recs[refused + 1 :]  # no answer, then the close

    def at(index: int) -> Mismatch:
        return Mismatch(index, 0, S2C, ComparisonLevel.BYTES, "field [0].Guid", "", "")

    row = explain_server_mismatch(recs, crashed, at(refused + 1))
    assert row is not None and row.heading == "handler-crashes"
    assert explain_server_mismatch(recs, crashed, at(first + 2)) is None


def test_a_missing_body_is_not_excused_by_the_answers_around_it() -> None:
    """The server answers as before, then closes without the body and without the E(1, EOF)
    the reference sent after the client's close: §deviations.clean-eof's answers, a defect."""
    recs = golden("fsv-ok").records
    eof_answer = next(
        r
        for r in golden("header-eof-after-request").records
        if isinstance(r, StreamRecord) and b'"ErrorId":1' in (r.payload or b"")
    )
    last = max(i for i, r in enumerate(recs) if isinstance(r, StreamRecord))
    recorded = [*recs[: last + 1], eof_answer, *recs[last + 1 :]]
    body = next(i for i, r in enumerate(recorded) if isinstance(r, StreamRecord)
                and r.dir == S2C and r.go != "rpc.ResponseHeader")  # fmt: skip
    replayed = [r for i, r in enumerate(recorded) if i != body and r is not eof_answer]
    ref, got = server_observed(recorded), server_observed(replayed)
    assert ref.answers[:-1] == got.answers and ref.answers[-1].error_id == 1
    assert explain(ref, got, role="server") is not None  # the answers alone: clean-eof
    m = Mismatch(body + 1, 0, S2C, ComparisonLevel.BYTES, "missing message", "", "")
    assert explain_server_mismatch(recorded, replayed, m) is None


def test_an_unsafe_deviation_fails_only_under_strict() -> None:
    safe = next(d for d in TABLE if d.role == "server")
    unsafe = Deviation(safe.heading, "server", safe.original, True, safe.applies)
    m = Mismatch(1, 1, S2C, ComparisonLevel.BYTES, "missing message", "", "")
    assert ReplayResult(mismatch=m, deviation=safe, strict=True).outcome == "deviation"
    assert ReplayResult(mismatch=m, deviation=unsafe).outcome == "deviation"
    strict = ReplayResult(mismatch=m, deviation=unsafe, strict=True)
    assert strict.outcome == "mismatch" and not strict.ok
    assert "unsafe deviation (a failure under --strict)" in strict.summary()
    assert ReplayResult(mismatch=m).outcome == "mismatch"


# --------------------------------------------------------------------------- servers


@pytest.mark.parametrize(
    ("scenario", "mode", "at", "heading"),
    [
        # the original's answer to a header without its zero chunk: error 3, not 1
        ("frame-missing-terminator", "error-3", 0, "truncated-payload"),
        # error 4 there is no behaviour of the original: a defect
        ("frame-missing-terminator", "error-4", 0, None),
        # error 3 where the client's message was complete (end of input, nothing sent): a defect
        ("header-eof", "error-3", 0, None),
        # no pull ACL: the original's handler panicked, so no answer and a close
        ("fs-handler-error", "crash", 1, "handler-crashes"),
        # the same crash where the original answered (dataset outside the ACL): a defect
        ("fsv-handler-error", "crash", 1, None),
        # a crash before the versions list of a successful request: a defect
        ("fsv-ok", "crash", 2, None),
    ],
)
def test_the_originals_behaviour_is_a_known_deviation_a_defect_is_not(
    cache: FixtureCache, scenario: str, mode: str, at: int, heading: str | None
) -> None:
    for level in (ComparisonLevel.BYTES, ComparisonLevel.SEMANTIC):
        res = replay_server(golden(scenario), mutant(mode, at), cache, level=level, timeout=5)
        assert res.mismatch is not None, res.summary()
        if heading is None:
            assert res.outcome == "mismatch" and res.deviation is None, res.summary()
            continue
        assert res.outcome == "deviation" and res.ok, res.summary()
        assert res.deviation is not None and res.deviation.heading == heading
        assert res.summary("g").startswith(f"g: known deviation, the original's behaviour, "
                                           f"§deviations.{heading}: ")  # fmt: skip
        assert "the comparison said: g:" in res.summary("g")


def test_golden_check_reports_the_deviation_and_passes(cache: FixtureCache) -> None:
    names = ["frame-missing-terminator"]
    res = subprocess.run(
        [PY, "-m", "zrepl_conformance", "golden", "check", "--server-cmd",
         mutant_cmd("error-3", 0), *names],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "INFO  frame-missing-terminator"
    assert "known deviation, the original's behaviour, §deviations.truncated-payload" in lines[1]
    assert ": 1 deviation in " in res.stdout
    assert lines[-1] == "§deviations met: §deviations.truncated-payload"
    # error 4 is no behaviour of the original
    report = check(mutant("error-4", 0), names=names, scenarios=[by_name(names[0])])
    assert report.results[0].line().startswith("FAIL  frame-missing-terminator")


def test_send_stream_chunks_are_compared_only_at_exact(cache: FixtureCache) -> None:
    """A server that chunks its send streams its own way (as the original does: whatever one
    read of the ``zfs send`` pipe returned) passes the default level; ``exact`` sees it."""
    data = [r for r in golden("init-ok").records if isinstance(r, StreamRecord) and r.dir == S2C]
    at = next(i for i, r in enumerate(data) if r.kind == "data")
    spec = mutant("chunks", at)
    (res,) = check(spec, names=["init-ok"], scenarios=[by_name("init-ok")]).results
    assert res.outcome == "pass", res.line()
    (res,) = check(
        spec, names=["init-ok"], level=ComparisonLevel.EXACT, scenarios=[by_name("init-ok")]
    ).results
    assert res.outcome == "mismatch", res.line()
    m = res.result.mismatch if res.result else None
    assert m is not None and m.what == "chunk boundaries" and m.level is ComparisonLevel.EXACT
    assert m.detail.startswith("expected 32764*16,186, got ") and "186" not in m.detail[26:]


# --------------------------------------------------------------------------- client role


def test_what_a_transcript_says_about_the_peer_of_a_client() -> None:
    assert client_situations(golden("pullme-ok").records) == frozenset()
    assert client_situations(golden("pullme-finished").records) == frozenset()  # no inversion
    assert client_situations(golden("pullme-no-sink").records) == {Situation.PULLER_GONE}
    recs = list(golden("pullme-no-sink").records)
    answer = max(i for i, r in enumerate(recs) if isinstance(r, StreamRecord) and r.dir == S2C)
    refusal = next(
        r
        for r in golden("fs-handler-error").records
        if isinstance(r, StreamRecord) and b'"ErrorId":5' in (r.payload or b"")
    )
    recs[answer] = dataclasses.replace(refusal, seq=1)  # the PullMe refused
    assert client_situations(recs) == {Situation.PULLME_REFUSED}
    sent = list(golden("init-ok").records)
    data = next(i for i, r in enumerate(sent) if isinstance(r, StreamRecord) and r.kind == "data")
    stream = sent[data]
    assert isinstance(stream, StreamRecord)
    sent[data] = dataclasses.replace(stream, cut=Cut(header=b""))
    assert client_situations(sent) == {Situation.STREAM_WITHOUT_TERMINATOR}
    sent[data] = dataclasses.replace(stream, cut=Cut(header=b"\x10"))  # inside a chunk header
    assert client_situations(sent) == frozenset()


@pytest.fixture(scope="module")
def pull_recording(tmp_path_factory: pytest.TempPathFactory) -> Transcript:
    """A reference pull job recorded against the reference server (one initial transfer)."""
    tmp = tmp_path_factory.mktemp("pull")
    mapping = {"pool/data/home": "backup/zrepl/home"}
    profile = tmp / "p.json"
    profile.write_text(
        json.dumps({"identity": "gil", "pull_acl": {"pool/data*": "x"}, "pull_mapping": mapping})
    )
    env = {**os.environ, "FAKE_ZFS_STATE": str(tmp / "server.sqlite")}
    subprocess.run([PY, "-m", "fakes.zfs_cli", "init"], env=env, check=True)
    server = [PY, "-m", "zrepl_conformance", "serve", "--stdio", "--identity", "gil"]
    server += ["--profile", str(profile)]
    out = tmp / "pull.jsonl"
    record = [PY, "-m", "zrepl_conformance", "record", "--full", "--out", str(out)]
    record += ["--profile", str(profile), "--", *server]
    env["FAKE_ZFS_STATE"] = str(tmp / "client.sqlite")
    subprocess.run([PY, "-m", "fakes.zfs_cli", "init"], env=env, check=True)
    pull = [PY, "-m", "zrepl_conformance", "pull", "--mapping", json.dumps(mapping), "--"]
    # the recorded server needs its own state: `record` passes its environment on
    res = subprocess.run(
        [*pull, "env", f"FAKE_ZFS_STATE={tmp / 'server.sqlite'}", *record],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return read_transcript(out)


def _with_reference_outcome(t: Transcript, cache: FixtureCache) -> Transcript:
    ref = replay_client(t, reference_spec(), cache, role="pull", timeout=10)
    assert ref.ok and ref.client is not None, ref.summary()
    return Transcript(t.header, [*t.records, ref.client.record()])


def test_a_client_showing_the_originals_behaviour_is_a_known_deviation(
    cache: FixtureCache, pull_recording: Transcript, tmp_path: Path
) -> None:
    """The send stream ends after its last chunk without the zero chunk: the reference job
    fails, a client with the original's quirk takes the stream (unsafe: fails under strict);
    a client with another defect on the complete stream is a plain mismatch."""
    recs: list[Record] = []
    for r in pull_recording.records:
        if isinstance(r, StreamRecord) and r.kind == "data":
            recs += [dataclasses.replace(r, cut=Cut(header=b"")), EventRecord("eof", dir=S2C)]
            break
        recs.append(r)
    cut = _with_reference_outcome(Transcript(pull_recording.header, recs), cache)
    assert cut.records[-1].status == 1  # type: ignore[union-attr]
    quirk = load_spec(mutant_spec("client-truncation-as-eof", tmp_path))
    res = replay_client(cut, quirk, cache, role="pull", timeout=10)
    assert res.outcome == "deviation", res.summary()
    assert res.deviation is not None and res.deviation.section == "§deviations.truncated-payload"
    assert "client outcome: exit status" in res.summary()
    res = replay_client(cut, quirk, cache, role="pull", timeout=10, strict=True)
    assert res.outcome == "mismatch" and res.deviation is not None, res.summary()
    whole = _with_reference_outcome(pull_recording, cache)
    assert replay_client(whole, quirk, cache, role="pull", timeout=10).outcome == "pass"
    defect = load_spec(mutant_spec("client-skip-readonly", tmp_path))
    res = replay_client(whole, defect, cache, role="pull", timeout=10)
    assert res.outcome == "mismatch" and res.deviation is None, res.summary()
