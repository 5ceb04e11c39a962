"""Golden check and replay against the §deviations table: the original's behaviour is INFO,
a real defect next to it still a mismatch; send-stream chunk boundaries only at ``exact``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bytestreamrpc.deviations import TABLE, Answer, Deviation, explain
from iut import FixtureCache, spec_from_server_cmd
from iut.spec import REFERENCE_SERVER, IUTSpec
from recordings.compare import Level, Mismatch
from recordings.explain import explain_server_mismatch, server_observed
from recordings.format import S2C, EventRecord, StreamRecord, Transcript, read_transcript
from recordings.golden import GOLDEN_DIR, check
from recordings.replay import ReplayResult, replay_server
from recordings.scenarios import by_name

PY = sys.executable
MUTANT = str(Path(__file__).parent / "recordings_mutant.py")


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
        return Mismatch(index, 0, S2C, Level.BYTES, "field [0].Guid", "", "")

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
    m = Mismatch(body + 1, 0, S2C, Level.BYTES, "missing message", "", "")
    assert explain_server_mismatch(recorded, replayed, m) is None


def test_an_unsafe_deviation_fails_only_under_strict() -> None:
    safe = next(d for d in TABLE if d.role == "server")
    unsafe = Deviation(safe.heading, "server", safe.original, True, safe.applies)
    m = Mismatch(1, 1, S2C, Level.BYTES, "missing message", "", "")
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
    for level in (Level.BYTES, Level.SEMANTIC):
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
        spec, names=["init-ok"], level=Level.EXACT, scenarios=[by_name("init-ok")]
    ).results
    assert res.outcome == "mismatch", res.line()
    m = res.result.mismatch if res.result else None
    assert m is not None and m.what == "chunk boundaries" and m.level is Level.EXACT
    assert m.detail.startswith("expected 32764*16,186, got ") and "186" not in m.detail[26:]
