"""The one scripted server (fakes/scripted.py): honest answers, faults, endings, pull-me.

Each test runs our reference client job (fakes.runjob.run_job) in a thread against a
ScriptedServer over an in-memory transport pair, then checks what the server recorded and
how the connection ended.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bytestreamrpc import framing
from bytestreamrpc.constants import ErrorId, RequestType, ResponseType
from bytestreamrpc.deviations import Situation
from bytestreamrpc.events import Request
from bytestreamrpc.messages import (
    DatasetPath,
    FilesystemRequest,
    ResponseHeader,
)
from bytestreamrpc.transport import memory_pair
from fakes.jobs import JobReport
from fakes.mapping import parse_mapping
from fakes.reference import ReferenceHandler
from fakes.runjob import Job, run_job
from fakes.scripted import (
    EndingKind,
    Fault,
    Honest,
    ScriptedServer,
    Then,
    chooser,
    chunks,
    frame,
    render,
)
from fakes.zfs import FakeZfs

TIMEOUT = 10.0
PULL = {"pool/data": "backup/data"}
"""The client's pull mapping (and, for pushes, the server's sink)."""


@dataclass
class Trial:
    server: ScriptedServer
    report: JobReport
    client_zfs: FakeZfs


def _handler(zfs: FakeZfs) -> ReferenceHandler:
    return ReferenceHandler(
        zfs, identity="alice", pull_acl=parse_mapping({"pool*": "ok"}), sink_for=lambda _w: None
    )


def _trial(
    job: Job = "pull",
    faults: dict[str, Fault] | None = None,
    *,
    sink: dict[str, str] | None = PULL,
    handler: ReferenceHandler | None = None,
    **server_options: object,
) -> Trial:
    """Our client job (its own demo fixture) against a scripted server over the demo fixture."""
    ours, theirs = memory_pair()
    client = FakeZfs.in_memory()
    reports: list[JobReport] = []
    mapping = parse_mapping({"pool/data": "ok"} if job == "push" else PULL)
    thread = threading.Thread(
        target=lambda: reports.append(run_job(job, theirs, client, mapping, timeout=TIMEOUT)),
        daemon=True,
    )
    server = ScriptedServer(
        ours,
        handler or _handler(FakeZfs.in_memory()),
        sink=parse_mapping(sink) if sink is not None else None,
        faults=chooser(faults or {}),
        timeout=TIMEOUT,
        **server_options,  # type: ignore[arg-type]
    )
    thread.start()
    server.run()
    thread.join(TIMEOUT)
    assert reports, "the client job did not finish"
    return Trial(server, reports[0], client)


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    """Every trial joins its client thread; a test leaving one running would hide a hang."""
    before = threading.active_count()
    yield
    assert threading.active_count() <= before


def test_honest_pull_is_served_like_the_reference_and_ends_with_close() -> None:
    trial = _trial()
    assert trial.report.ok, trial.report.summary()
    names = [s.name for s in trial.server.requests]
    assert names[0] == "PROTOCOL_VERSION" and names[-1] == "CLOSE"
    assert "INITIAL_TRANSFER" in names
    assert trial.server.ending.kind is EndingKind.CLOSE_REQUEST
    assert str(trial.server.ending) == "closed after the client's Close"
    assert trial.server.answered == [RequestType(s.type or 0) for s in trial.server.requests]
    assert trial.client_zfs.exists("backup/data")


def test_every_request_keeps_its_exact_bytes() -> None:
    trial = _trial()
    for seen in trial.server.requests:
        payload, rest = framing.decode_stream(seen.raw)
        assert payload.startswith(b"{") and (seen.type == RequestType.CLOSE or rest)


class _Refuse:
    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        server.respond(ResponseHeader(bytes(16), int(ErrorId.HANDLER), "nope", 0))
        return Then.CONTINUE


def test_a_fault_answers_instead_and_the_server_serves_on() -> None:
    trial = _trial(faults={"FILESYSTEM": _Refuse()})
    assert not trial.report.ok and "nope" in trial.report.summary()
    names = [s.name for s in trial.server.requests]
    assert names == ["PROTOCOL_VERSION", "FILESYSTEM", "CLOSE"]
    assert trial.server.ending.kind is EndingKind.CLOSE_REQUEST


class _HangUp:
    def __init__(self) -> None:
        self.honest: Honest | None = None

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        self.honest = honest
        return Then.CLOSE


def test_a_closing_fault_ends_the_connection_and_sees_the_reference_answer() -> None:
    fault = _HangUp()
    trial = _trial(faults={"#2": fault})
    assert trial.server.ending.kind is EndingKind.SCRIPT
    assert str(trial.server.ending) == "closed by the script after FILESYSTEM"
    assert fault.honest is not None and fault.honest.header is not None
    assert fault.honest.header.response_type == ResponseType.FILESYSTEMS
    assert fault.honest.value and DatasetPath(("pool", "data")) in fault.honest.value
    assert not trial.report.ok


def test_hidden_datasets_are_left_out_of_the_listing() -> None:
    fault = _HangUp()
    _trial(faults={"FILESYSTEM": fault}, hide=frozenset({"pool/data"}))
    assert fault.honest is not None and fault.honest.value is not None
    assert DatasetPath(("pool", "data")) not in fault.honest.value


def test_a_crashing_handler_gets_no_answer_and_the_connection_closes() -> None:
    class Crashing(ReferenceHandler):
        def handle_filesystem_request(self, r: FilesystemRequest) -> list[DatasetPath] | None:
            raise RuntimeError("boom")

    crashing = Crashing(
        FakeZfs.in_memory(), identity="alice", pull_acl=None, sink_for=lambda _w: None
    )
    trial = _trial(handler=crashing)
    assert trial.server.ending.kind is EndingKind.CLOSED_AFTER
    assert [s.name for s in trial.server.requests] == ["PROTOCOL_VERSION", "FILESYSTEM"]
    assert not trial.report.ok


def test_one_byte_chunks_still_make_a_successful_pull() -> None:
    trial = _trial(rechunk=1)
    assert trial.report.ok, trial.report.summary()


def test_a_silent_client_times_out_and_says_what_it_did_not_send() -> None:
    ours, _theirs = memory_pair()
    server = ScriptedServer(ours, _handler(FakeZfs.in_memory()), sink=None, timeout=0.2)
    ending = server.run()
    assert ending.kind is EndingKind.TIMEOUT
    assert server.timed_out == "request 1 from the client"


def test_a_push_is_pulled_into_the_sink_then_finished_and_served_on() -> None:
    trial = _trial("push", sink={"pool/data": "backup/pushed"})
    pull = trial.server.pull
    assert pull is not None and pull.ok and pull.finished_answer == "OK", pull
    assert pull.received and all(local == "backup/pushed" for local, _ in pull.received)
    assert trial.server.finished_sent
    assert trial.report.ok, trial.report.summary()
    assert Situation.PULLER_GONE not in trial.server.situations
    assert trial.server.ending.kind is EndingKind.CLOSE_REQUEST


def test_a_push_to_a_server_without_sink_is_refused_and_marked_puller_gone() -> None:
    trial = _trial("push", sink=None)
    assert trial.server.ending.kind is EndingKind.PULL_FAILED
    assert Situation.PULLER_GONE in trial.server.situations
    assert trial.server.pull is not None and not trial.server.pull.ok


def test_a_scripted_hang_up_in_a_push_job_is_puller_gone() -> None:
    trial = _trial("push", faults={"PULL_ME": _HangUp()}, push_job=True)
    assert Situation.PULLER_GONE in trial.server.situations
    assert trial.server.ending.kind is EndingKind.SCRIPT


@pytest.mark.parametrize("size", [1, 3, 32764, 100000])
def test_render_frames_every_part_in_chunks_of_at_most_size(size: int) -> None:
    header = ResponseHeader(bytes(16), 0, "", int(ResponseType.CHUNKED_STREAM))
    data = bytes(range(256)) * 500
    out = render(Honest(header, data=data), size)
    head, rest = framing.decode_stream(out)
    body, rest = framing.decode_stream(rest)
    assert body == data and rest == b"" and head.startswith(b"{")
    assert chunks(b"abcde", 2) == b"\x02\0\0\0ab\x02\0\0\0cd\x01\0\0\0e"
    assert frame(b"") == framing.TERMINATOR
    assert render(Honest()) == b""
