"""The golden corpus: complete, byte-exact Go output, and reproducible against the reference."""

from __future__ import annotations

import concurrent.futures
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bytestreamrpc import messages
from bytestreamrpc.constants import ZERO_REQUEST_ID
from bytestreamrpc.server import Server
from bytestreamrpc.transport import memory_pair
from iut import FixtureCache, reference_spec
from recordings.classify import GO_REQUEST_HEADER, GO_RESPONSE_HEADER
from recordings.compare import CODECS, ComparisonLevel
from recordings.driver import response_errors, server_closed
from recordings.format import C2S, S2C, StreamRecord, Transcript, read_transcript
from recordings.golden import (
    GOLDEN_DIR,
    check,
    corpus_problems,
    golden_path,
    record_scenario,
    update,
)
from recordings.replay import ReplayResult, replay, replay_server
from recordings.scenarios import SCENARIOS, Scenario, by_name

NAMES = [s.name for s in SCENARIOS]


@pytest.fixture(scope="module")
def cache() -> Iterator[FixtureCache]:
    with FixtureCache() as c:
        yield c


def golden(name: str) -> Transcript:
    return read_transcript(golden_path(name))


def test_corpus_is_complete() -> None:
    assert len(NAMES) == len(set(NAMES))
    orphans, missing = corpus_problems()
    assert orphans == [] and missing == []


def test_scenarios_cover_every_request_type_and_error() -> None:
    """Every request type is sent canonically somewhere; every ErrorId is answered."""
    sent: set[int] = set()
    errors: set[int] = set()
    for name in NAMES:
        t = golden(name)
        for r in t.streams(C2S):
            if r.go == GO_REQUEST_HEADER and r.payload is not None and not r.crafted:
                sent.add(messages.decode_message(messages.RequestHeader, r.payload).type)
        errors |= set(response_errors(t.records))
    assert sent == {int(t) for t in messages.BODY_CLASS_OF}
    assert errors == {0, 1, 2, 3, 4, 5}
    sections = {s.section for s in SCENARIOS}
    for row in (
        "server.header.decode-error",
        "server.header.eof",
        "server.unknown-type",
        "server.pv.ok",
        "server.pv.decode-error",
        "server.pv.mismatch",
        "server.close.ok",
        "server.close.decode-error",
        "server.fs.ok",
        "server.fs.decode-error",
        "server.fs.handler-error",
        "server.fsv.ok",
        "server.fsv.decode-error",
        "server.fsv.handler-error",
        "server.init.ok",
        "server.init.decode-error",
        "server.init.handler-error",
        "server.incr.ok",
        "server.incr.decode-error",
        "server.incr.handler-error",
        "server.pullme.ok",
        "server.pullme.finished",
        "server.pullme.decode-error",
        "server.pullme.bad-identity",
    ):
        assert row in sections, row


@pytest.mark.parametrize("name", NAMES)
def test_golden_file_shows_what_its_scenario_claims(name: str) -> None:
    sc = by_name(name)
    t = golden(name)
    assert t.header.scenario == name and t.header.what == "scenario"
    assert t.header.fixture == sc.fixture and t.header.profile == dict(sc.profile)
    assert tuple(response_errors(t.records)) == sc.errors
    assert server_closed(t.records) == sc.closes


@pytest.mark.parametrize("name", NAMES)
def test_golden_messages_are_byte_exact_go_output(name: str) -> None:
    """What the reference sends (and what a canonical client sends) re-encodes to the same
    bytes with the Go-oracle-checked encoder and is framed like the original writer frames:
    one data chunk per JSON value, then the zero chunk; request ids are zero except where a
    response echoes a request's id."""
    t = golden(name)
    echoes: list[bytes] = []
    for r in t.records:
        if not isinstance(r, StreamRecord) or r.kind != "json" or r.crafted:
            if isinstance(r, StreamRecord) and r.go == GO_REQUEST_HEADER and r.payload:
                try:  # a crafted header: remember its id, a success response echoes it
                    echoes.append(messages.decode_message(messages.RequestHeader, r.payload).id)
                except Exception:
                    echoes.append(ZERO_REQUEST_ID)
            continue
        assert r.payload is not None and r.cut is None
        assert r.chunks == (len(r.payload),), f"{name}:{r.line}: not one chunk + terminator"
        decode, encode = CODECS[r.go or ""]
        assert encode(decode(r.payload, False)) == r.payload, f"{name}:{r.line}"
        if r.go == GO_REQUEST_HEADER:
            assert messages.decode_message(messages.RequestHeader, r.payload).id == (
                ZERO_REQUEST_ID
            )
            echoes.append(ZERO_REQUEST_ID)
        elif r.go == GO_RESPONSE_HEADER:
            h = messages.decode_message(messages.ResponseHeader, r.payload)
            if h.error_id:
                assert h.request_id == ZERO_REQUEST_ID, f"{name}:{r.line}"
            elif r.dir == S2C:
                assert h.request_id in (ZERO_REQUEST_ID, *echoes), f"{name}:{r.line}"


def test_request_id_is_echoed() -> None:
    t = golden("json-request-id-echo")
    headers = [
        messages.decode_message(messages.ResponseHeader, r.payload or b"")
        for r in t.streams(S2C)
        if r.go == GO_RESPONSE_HEADER
    ]
    assert headers[0].request_id == bytes(range(1, 17)) and headers[0].error_id == 0
    assert headers[1].request_id == ZERO_REQUEST_ID and headers[1].error_id == 5


def _replay_in_process(t: Transcript, cache: FixtureCache, level: ComparisonLevel) -> ReplayResult:
    """Replay to the reference ``Server`` class in a thread (same handler, same fixture copy,
    same profile as the subprocess): the cheap way to cover the other levels."""
    from fakes.profile import profile_from_obj
    from fakes.reference import Reference
    from fakes.zfs import FakeZfs

    h = t.header
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state.sqlite"
        shutil.copyfile(cache.master_state(h.fixture), state)
        ref = Reference(
            FakeZfs.open(state), profile_from_obj(dict(h.profile or {})), h.identity or ""
        )
        a, b = memory_pair()
        server = Server(ref.handler(), identity=ref.identity, timeout=10)
        th = threading.Thread(target=server.serve, args=(b,), daemon=True)
        th.start()
        try:
            res = replay(t, a, level=level, timeout=10)
        finally:
            a.close()
            th.join(10)
    return res


def _round_trip(sc: Scenario, cache: FixtureCache) -> list[str]:
    fresh = record_scenario(sc, cache)
    problems = []
    if fresh.records != golden(sc.name).records:
        problems.append(f"{sc.name}: a fresh recording differs from the committed golden file")
    for level in ComparisonLevel:
        if level is ComparisonLevel.BYTES:  # the real thing: the reference as a subprocess, via iut
            res = replay_server(fresh, reference_spec(), cache, level=level)
        else:
            res = _replay_in_process(fresh, cache, level)
        if not res.ok:
            problems.append(f"{sc.name} at {level.value}: {res.summary()}")
    return problems


@pytest.mark.slow
def test_record_then_replay_every_scenario_at_every_level(cache: FixtureCache) -> None:
    """Record each scenario against the reference afresh (it must equal the committed file:
    regeneration is deterministic), then replay it to the reference at all three levels
    (bytes: the ``serve --stdio`` subprocess; messages, semantic: the same reference server
    class in-process)."""
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        problems = [p for ps in pool.map(lambda s: _round_trip(s, cache), SCENARIOS) for p in ps]
    assert problems == []


def test_golden_check_cli_passes_against_the_reference() -> None:
    """The CLI on a few files (the whole corpus is replayed by the round-trip test)."""
    names = ["pullme-ok", "frame-truncated-body", "incr-handler-error-continues"]
    res = subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "golden", "check", "-v", *names],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 pass" in res.stdout
    assert sorted(line.split()[1] for line in res.stdout.splitlines()[:3]) == sorted(names)


def test_orphans_and_missing_files_are_errors(tmp_path: Path) -> None:
    scenarios = [by_name("pv-ok"), by_name("header-eof")]
    (tmp_path / "pv-ok.jsonl").write_bytes(golden_path("pv-ok").read_bytes())
    (tmp_path / "stale.jsonl").write_text("{}\n")
    report = check(directory=tmp_path, scenarios=scenarios, workers=1)
    assert report.orphans == [str(tmp_path / "stale.jsonl")]
    assert report.missing == ["header-eof"]
    assert [r.name for r in report.results] == ["pv-ok"] and report.results[0].ok
    assert not report.ok


def test_update_new_only_adds_missing_files(tmp_path: Path) -> None:
    scenarios = [by_name("pv-ok"), by_name("unknown-type")]
    (tmp_path / "pv-ok.jsonl").write_text("sentinel\n")
    (tmp_path / "stale.jsonl").write_text("{}\n")
    written, failed, pruned = update("new", directory=tmp_path, scenarios=scenarios, prune=True)
    assert written == ["unknown-type"] and failed == []
    assert pruned == [str(tmp_path / "stale.jsonl")]
    assert (tmp_path / "pv-ok.jsonl").read_text() == "sentinel\n"
    assert (
        read_transcript(tmp_path / "unknown-type.jsonl").records == golden("unknown-type").records
    )
    written, _, _ = update("all", directory=tmp_path, scenarios=scenarios)
    assert sorted(written) == ["pv-ok", "unknown-type"]
    assert read_transcript(tmp_path / "pv-ok.jsonl").records == golden("pv-ok").records


def test_golden_files_live_in_the_package() -> None:
    assert GOLDEN_DIR.is_dir()
    assert sorted(p.stem for p in GOLDEN_DIR.glob("*.jsonl")) == sorted(NAMES)


def test_a_description_can_exclude_golden_scenarios(tmp_path: Path) -> None:
    from dataclasses import replace

    spec = replace(reference_spec(), exclude={"golden.pv-ok": "not our business"})
    (tmp_path / "pv-ok.jsonl").write_bytes(golden_path("pv-ok").read_bytes())
    report = check(spec, directory=tmp_path, scenarios=[by_name("pv-ok")], workers=1)
    assert report.ok
    assert [(r.outcome, r.excluded) for r in report.results] == [("excluded", "not our business")]
    assert report.results[0].line() == "EXCLUDED pv-ok: not our business"


def test_deviations_are_marked_in_the_golden_files() -> None:
    marked = {s.name for s in SCENARIOS if s.deviation}
    assert marked == {"fs-handler-error", "frame-missing-terminator"}
    for name in NAMES:
        title = golden(name).header.title or ""
        assert ("[reference deviation §" in title) == (name in marked), name
