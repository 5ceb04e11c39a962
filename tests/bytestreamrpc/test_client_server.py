"""Our Client against our Server over in-memory pairs: calls, drains, failures, pull-me."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest

from bytestreamrpc import HandlerError, LocalProtocolError, RequestFailed
from bytestreamrpc.client import Client
from bytestreamrpc.connection import Connection, Role, State
from bytestreamrpc.errors import ConnectionClosed, PeerTimeout, ProtocolError, RemoteProtocolError
from bytestreamrpc.events import Request, Response
from bytestreamrpc.interfaces import ByteSource, RPCRequester
from bytestreamrpc.local import LocalRequester
from bytestreamrpc.messages import (
    CloseRequest,
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    PullMeRequest,
)
from bytestreamrpc.server import Server
from bytestreamrpc.serving import ServeOutcome, read_event
from bytestreamrpc.transport import MemoryTransport, memory_pair

FS = DatasetPath(("pool", "data"))
S1 = FilesystemVersion("snapshot", "s1", 11, 1)
S2 = FilesystemVersion("snapshot", "s2", 22, 2)


class Failing(io.RawIOBase):
    """A send stream that breaks after some bytes (§server.stream-failure)."""

    def __init__(self) -> None:
        self.sent = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if not self.sent:
            self.sent = True
            return b"partial"
        raise OSError("zfs send died")


class Handler:
    """A small deterministic handler; ``pulled`` records pull-me callbacks."""

    def __init__(self, *, fail_pull: bool = False) -> None:
        self.fail_pull = fail_pull
        self.pulled: list[tuple[str, list[DatasetPath]]] = []

    def handle_filesystem_request(self, r: FilesystemRequest) -> list[DatasetPath] | None:
        return [FS]

    def handle_filesystem_versions_request(
        self, r: FilesystemVersionsRequest
    ) -> list[FilesystemVersion] | None:
        if r.filesystem != FS:
            raise HandlerError(f"dataset {r.filesystem} not allowed")
        return [S1, S2]

    def handle_initial_transfer_request(self, r: InitialTransferRequest) -> ByteSource:
        if r.filesystem_version.name == "broken":
            return Failing()
        return io.BytesIO(b"full:" + r.filesystem_version.name.encode() * 50_000)

    def handle_incremental_transfer_request(self, r: IncrementalTransferRequest) -> ByteSource:
        if r.filesystem != FS:
            raise HandlerError("denied")
        return io.BytesIO(b"incr")

    def handle_pull_me_request(
        self, r: PullMeRequest, client_identity: str, client: RPCRequester
    ) -> None:
        roots = client.filesystem_request(FilesystemRequest())
        self.pulled.append((client_identity, roots))
        stream = client.initial_transfer_request(InitialTransferRequest(FS, S1))
        assert stream.read() == b"full:" + b"s1" * 50_000
        if self.fail_pull:
            raise HandlerError("sink refused")


class Running:
    def __init__(self, server: Server, transport: MemoryTransport) -> None:
        self.outcome: ServeOutcome | None = None
        self.thread = threading.Thread(target=self._run, args=(server, transport))
        self.thread.start()

    def _run(self, server: Server, transport: MemoryTransport) -> None:
        self.outcome = server.serve(transport)

    def join(self) -> ServeOutcome:
        self.thread.join(10)
        assert self.outcome is not None
        return self.outcome


@pytest.fixture
def pair() -> Iterator[tuple[Client, Running, Handler]]:
    a, b = memory_pair()
    handler = Handler()
    running = Running(Server(handler, identity="alice", timeout=5), b)
    client = Client.connect(a, timeout=5)
    yield client, running, handler
    client.force_close()
    running.join()


def test_every_call(pair: tuple[Client, Running, Handler]) -> None:
    client, running, _ = pair
    assert client.filesystem_request(FilesystemRequest()) == [FS]
    assert client.filesystem_versions_request(FilesystemVersionsRequest(FS)) == [S1, S2]
    stream = client.initial_transfer_request(InitialTransferRequest(FS, S1))
    assert stream.read(5) == b"full:"
    assert stream.drain() == 100_000
    assert client.incremental_transfer_request(IncrementalTransferRequest(FS, S1, S2)).read() == (
        b"incr"
    )
    client.close_request(CloseRequest(goodbye="thanks"))
    assert running.join().state is State.CLOSED


def test_undrained_transfer_blocks_the_next_call(pair: tuple[Client, Running, Handler]) -> None:
    client, _, _ = pair
    stream = client.initial_transfer_request(InitialTransferRequest(FS, S1))
    stream.read(10)
    with pytest.raises(LocalProtocolError, match="drain"):
        client.filesystem_request(FilesystemRequest())
    stream.drain()
    assert client.filesystem_request(FilesystemRequest()) == [FS]


def test_handler_error_fails_the_call_and_incremental_continues(
    pair: tuple[Client, Running, Handler],
) -> None:
    client, _, _ = pair
    with pytest.raises(RequestFailed, match="got 0x0, expected 0x20") as info:
        client.incremental_transfer_request(IncrementalTransferRequest(DatasetPath(("x",)), S1, S2))
    assert "denied" in str(info.value)
    assert client.filesystem_request(FilesystemRequest()) == [FS]  # §server.incr.handler-error


def test_fsv_handler_error_ends_the_loop(pair: tuple[Client, Running, Handler]) -> None:
    client, running, _ = pair
    with pytest.raises(RequestFailed):
        client.filesystem_versions_request(FilesystemVersionsRequest(DatasetPath(("x",))))
    assert running.join().state is State.RETURNED


def test_stream_failure_closes_without_terminator(pair: tuple[Client, Running, Handler]) -> None:
    client, running, _ = pair
    stream = client.initial_transfer_request(
        InitialTransferRequest(FS, FilesystemVersion("snapshot", "broken", 1, 1))
    )
    with pytest.raises(RemoteProtocolError):
        stream.drain()
    assert running.join().state is State.CLOSED


def test_pull_me_round_trip_success() -> None:
    a, b = memory_pair()
    server_handler = Handler()
    running = Running(Server(server_handler, identity="alice", timeout=5), b)
    client = Client.connect(a, timeout=5)
    client_handler = Handler()
    client.pull_me_request(PullMeRequest(initial_repl_policy="most_recent"), client_handler)
    assert server_handler.pulled == [("alice", [FS])]
    # after pull-me, the same connection serves ordinary requests again
    assert client.filesystem_request(FilesystemRequest()) == [FS]
    client.close_request()
    assert running.join().state is State.CLOSED


def test_pull_me_handler_failure_closes_and_client_reports_it() -> None:
    a, b = memory_pair()
    running = Running(Server(Handler(fail_pull=True), identity="alice", timeout=5), b)
    client = Client.connect(a, timeout=5)
    with pytest.raises(RequestFailed, match="pull-me did not finish"):
        client.pull_me_request(PullMeRequest(), Handler())
    assert running.join().state is State.CLOSED


def test_stalled_server_times_out() -> None:
    a, _b = memory_pair()
    with pytest.raises(PeerTimeout):
        Client.connect(a, timeout=0.2)


def test_stalled_client_times_out_the_server() -> None:
    a, b = memory_pair()
    running = Running(Server(Handler(), identity="alice", timeout=0.2), b)
    a.write(b"\x05\x00\x00\x00{", 1)  # half a header stream, then silence
    outcome = running.join()
    assert outcome.state is State.CLOSED and "within 0.2" in outcome.reason


def test_peer_timeout_is_a_protocol_error_but_not_the_peers_violation() -> None:
    """A peer that stalls broke no rule: catching RemoteProtocolError must not catch it."""
    assert issubclass(PeerTimeout, ProtocolError)
    assert not issubclass(PeerTimeout, RemoteProtocolError)
    assert issubclass(ConnectionClosed, RemoteProtocolError)  # closing early *is* one


class _PullsNothing(Handler):
    def handle_pull_me_request(
        self, r: PullMeRequest, client_identity: str, client: RPCRequester
    ) -> None:
        pass


def test_stalled_answer_to_pull_me_finished_ends_the_loop_as_before() -> None:
    """§pullme.resume: no answer to PullMe{Finished:true} (a timeout) is ignored like a bad one,
    so the loop ends in the state the inversion left, not "write failed"."""
    a, b = memory_pair()
    running = Running(Server(_PullsNothing(), identity="alice", timeout=0.2), b)
    peer = Connection(Role.CLIENT)
    a.write(peer.send(Request(PullMeRequest())), 1)
    assert isinstance(read_event(peer, a, 5), Response)  # OK to the PullMe
    finished = read_event(peer, a, 5)  # the server's PullMe{Finished:true}; we never answer
    assert isinstance(finished, Request) and finished.body == PullMeRequest(finished=True)
    outcome = running.join()
    assert (outcome.state, outcome.reason, outcome.requests) == (State.AWAIT_RESPONSE, "", 1)


def test_local_requester() -> None:
    local = LocalRequester(Handler())
    assert local.filesystem_request(FilesystemRequest()) == [FS]
    assert local.initial_transfer_request(InitialTransferRequest(FS, S1)).drain() == 100_005
    with pytest.raises(LocalProtocolError):
        local.pull_me_request(PullMeRequest(), Handler())
