"""The conversation under test: :class:`StatefulHarness` runs our server on one end of an
in-memory pair and our client on the other, and each of its actions (:class:`Action`, run
through :data:`PERFORMERS`) sends one request and checks the answer, and what it changed,
against the model.

Part of the stateful fuzzer (:mod:`fuzz.stateful` has the overview and the drivers). The
harness knows nothing of how its actions are chosen, so every driver (Hypothesis rules,
one ``st.data()`` draw, a seeded ``random.Random``) runs the same actions and checks.
"""

from __future__ import annotations

import contextlib
import enum
import io
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Final

from bytestreamrpc.client import Client
from bytestreamrpc.connection import Connection, Role
from bytestreamrpc.constants import ErrorId
from bytestreamrpc.errors import ProtocolError, RequestFailed
from bytestreamrpc.events import Request, Response
from bytestreamrpc.messages import (
    CloseRequest,
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
    PullMeRequest,
    ResponseHeader,
)
from bytestreamrpc.server import Server
from bytestreamrpc.serving import read_event
from bytestreamrpc.transport import MemoryTransport, memory_pair
from fakes.mapping import parse_mapping
from fakes.profile import Profile
from fakes.reference import Reference, ReferenceHandler
from fakes.zfs import FakeZfs
from fakes.zfs.stream import StreamFormatError, StreamReader

from .invariants import InvariantViolation
from .model import AclModel, ZfsModel
from .stateful_setup import SINK_ROOT, Setup

__all__ = ["ACTIONS", "IDENTITY", "PERFORMERS", "TIMEOUT", "Action", "StatefulHarness"]

TIMEOUT: Final = 10.0
IDENTITY: Final = "alice"


def _fail(message: str) -> InvariantViolation:
    return InvariantViolation(message)


class _ServerThread:
    """One thread serving a harness's connections one after another.

    Starting a thread per connection cost ~0.1 ms on an idle machine and over a
    millisecond on a loaded one (``Thread.start`` waits until the OS runs the new thread),
    while more than half the steps open a connection. Serving them all from one thread
    also lets the harness see ``Server.serve`` raise, which must never happen.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Server, MemoryTransport] | None] = queue.SimpleQueue()
        self._idle = threading.Event()
        self._idle.set()
        self.crashed: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job[0].serve(job[1])
            except BaseException as exc:
                self.crashed = exc
                job[1].close()  # the client sees the connection end instead of waiting
            finally:
                self._idle.set()

    def serve(self, server: Server, transport: MemoryTransport) -> None:
        """Serve ``transport`` (the previous connection must have ended)."""
        self._idle.clear()
        self._jobs.put((server, transport))

    def wait(self, timeout: float) -> bool:
        """Has the current connection ended (within ``timeout`` seconds)?"""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(TIMEOUT)


class StatefulHarness:
    """One server (state persists across connections) and the client currently talking."""

    def __init__(self, setup: Setup) -> None:
        for name in ("bytestreamrpc", "fakes"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.setup = setup
        self.zfs = FakeZfs.in_memory(setup.fixture)
        self._verified = self.zfs.change_count()
        """The fake's change count when its state last equalled the model."""
        self.model = ZfsModel.read(self.zfs)
        self._pusher: FakeZfs | None = None
        self._pusher_model = ZfsModel([])
        self._pusher_verified = 0
        self.acl = AclModel.of(setup.pull_acl)
        sinks = {} if setup.sink is None else {IDENTITY: setup.sink}
        profile = Profile(identity=IDENTITY, pull_acl=setup.pull_acl, sinks=sinks)
        self.reference = Reference(self.zfs, profile, IDENTITY)
        self.client: Client | None = None
        self._ours: MemoryTransport | None = None
        self._server: _ServerThread | None = None
        self._serving = False
        self.steps = 0

    # -- connection management ---------------------------------------------------------
    def _start(self) -> MemoryTransport:
        self.disconnect()
        ours, theirs = memory_pair()
        if self._server is None:
            self._server = _ServerThread()
        self._server.serve(Server(self.reference.handler(), identity=IDENTITY, timeout=TIMEOUT),
                           theirs)  # fmt: skip
        self._ours, self._serving = ours, True
        return ours

    def _wait_server(self) -> bool:
        """Wait for the server to end the current connection; did it (in time)?"""
        assert self._server is not None
        ended = self._server.wait(TIMEOUT)
        self.raise_if_server_crashed()
        return ended

    def raise_if_server_crashed(self) -> None:
        """``Server.serve`` must never raise; report it if it did."""
        if self._server is not None and self._server.crashed is not None:
            exc, self._server.crashed = self._server.crashed, None
            raise _fail(f"Server.serve raised {exc!r}") from exc

    def connect(self) -> Client:
        if self.client is None:
            self.client = Client.connect(self._start(), timeout=TIMEOUT)
        return self.client

    def disconnect(self) -> None:
        if self._ours is not None:
            self._ours.close()
        if self._serving and not self._wait_server():
            raise _fail("the server did not end the connection after it was closed")
        self.client, self._ours, self._serving = None, None, False

    def _server_ended(self) -> bool:
        """Did the server end the connection (close or return)? Waits for it."""
        assert self._serving
        if not self._wait_server():
            return False
        self.client = None
        self.disconnect()
        return True

    def _refused(self, exc: RequestFailed, error: ErrorId, what: str) -> ResponseHeader:
        header = exc.header
        if not isinstance(header, ResponseHeader) or header.error_id != error:
            raise _fail(f"{what}: expected error {int(error)}, got {exc}")
        if header.request_id != bytes(16) or header.response_type != 0:
            raise _fail(f"{what}: error response must have a zero id and type NONE: {header}")
        return header

    # -- checks ------------------------------------------------------------------------
    def check_state(self) -> None:
        """The fake's state is the model's (refused requests changed nothing).

        Re-reading the whole fake is needed only when a row of it changed since its state
        last equalled the model (:meth:`FakeZfs.change_count`); otherwise the state is
        unchanged, so still equal. That keeps the check complete while making it cheap
        enough to run after every step.
        """
        changes = self.zfs.change_count()
        if changes == self._verified:
            return
        now = ZfsModel.read(self.zfs)
        if now.datasets != self.model.datasets or now.versions != self.model.versions:
            raise _fail(f"fake ZFS state differs from the model: {now} vs {self.model}")
        self._verified = changes

    # -- actions -----------------------------------------------------------------------
    def list_filesystems(self) -> None:
        client = self.connect()
        if self.acl is None:  # §deviations.handler-crashes: error 5, then close
            try:
                client.filesystem_request(FilesystemRequest())
            except RequestFailed as exc:
                self._refused(exc, ErrorId.HANDLER, "Filesystem without an ACL")
                if not self._server_ended():
                    raise _fail("server stayed open after a Filesystem handler error") from None
                return
            raise _fail("Filesystem without a pull ACL was answered")
        got = client.filesystem_request(FilesystemRequest())
        want = self.model.listable(self.acl)
        if got != want:
            raise _fail(f"Filesystem answered {got}, the model says {want}")

    def list_versions(self, path: DatasetPath) -> None:
        client = self.connect()
        name = self.model.accessible(self.acl, path)
        try:
            got = client.filesystem_versions_request(FilesystemVersionsRequest(path))
        except RequestFailed as exc:
            if name is not None:
                raise _fail(f"FilesystemVersions {path} refused: {exc}") from None
            self._refused(exc, ErrorId.HANDLER, f"FilesystemVersions {path}")
            if not self._server_ended():  # §server.fsv.handler-error: the loop returns
                raise _fail("server kept serving after a FilesystemVersions error") from None
            return
        if name is None:
            raise _fail(f"FilesystemVersions {path} answered {got} (outside the ACL or absent)")
        want = self.model.versions[name]
        if got != want:
            raise _fail(f"FilesystemVersions {name}: got {got}, the model says {want}")
        txgs = [v.create_txg for v in got]
        if txgs != sorted(txgs):
            raise _fail(f"FilesystemVersions {name} not ascending by CreateTXG: {txgs}")

    def _stream_ids(self, data: bytes) -> tuple[int, int]:
        reader = StreamReader(io.BytesIO(data))
        try:
            header = reader.read_header()
            reader.verify_payload()
        except StreamFormatError as exc:
            raise _fail(f"send stream does not verify: {exc}") from exc
        return header.to_guid, header.from_guid

    def initial_transfer(self, path: DatasetPath, version: FilesystemVersion) -> None:
        client = self.connect()
        name = self.model.accessible(self.acl, path)
        snap = self.model.full_send(name, version) if name is not None else None
        try:
            reader = client.initial_transfer_request(InitialTransferRequest(path, version))
        except RequestFailed as exc:
            if snap is not None:
                raise _fail(f"InitialTransfer {path} {version} refused: {exc}") from None
            self._refused(exc, ErrorId.HANDLER, f"InitialTransfer {path}")
            if not self._server_ended():  # §server.init.handler-error: close
                raise _fail("server stayed open after an InitialTransfer handler error") from None
            return
        data = reader.read()
        if snap is None:
            raise _fail(f"InitialTransfer {path} {version} was served (outside ACL or absent)")
        if self._stream_ids(data) != (snap.guid, 0):
            raise _fail(f"InitialTransfer {path}@{version.name} sent another snapshot")

    def incremental_transfer(
        self, path: DatasetPath, a: FilesystemVersion, b: FilesystemVersion
    ) -> None:
        client = self.connect()
        name = self.model.accessible(self.acl, path)
        pair = self.model.incremental_send(name, a, b) if name is not None else None
        try:
            reader = client.incremental_transfer_request(IncrementalTransferRequest(path, a, b))
        except RequestFailed as exc:
            if pair is not None:
                raise _fail(
                    f"IncrementalTransfer {path} {a.name}->{b.name} refused: {exc}"
                ) from None
            self._refused(exc, ErrorId.HANDLER, f"IncrementalTransfer {path}")
            return  # §server.incr.handler-error: the connection continues (next action uses it)
        data = reader.read()
        if pair is None:
            raise _fail(f"IncrementalTransfer {path} {a}->{b} was served (should be refused)")
        src, dst = pair
        if self._stream_ids(data) != (dst.guid, src.guid):
            raise _fail(f"IncrementalTransfer {path} sent the wrong stream")

    def bad_protocol_version(self, version: int) -> None:
        """§server.pv.mismatch: error 4, then close."""
        transport = self._start()
        conn = Connection(Role.CLIENT)
        transport.write(conn.send(Request(ProtocolVersionRequest(version))), TIMEOUT)
        ev = read_event(conn, transport, TIMEOUT)
        if not isinstance(ev, Response) or ev.header.error_id != ErrorId.PROTOCOL_VERSION_MISMATCH:
            raise _fail(f"ProtocolVersion {version}: expected error 4, got {ev}")
        if ev.header.request_id != bytes(16) or ev.header.response_type != 0:
            raise _fail(f"error response must have a zero id and type NONE: {ev.header}")
        if not self._server_ended():
            raise _fail("server stayed open after a protocol version mismatch")

    def garbage(self, data: bytes) -> None:
        """Any bytes on a fresh connection: the server answers and ends, state unchanged.

        Unless the bytes are a whole pull-me conversation, the client's answers included
        (the golden corpus holds one, and its mutations often keep it intact): then the
        server rightly receives what they carry, which is held to a push's rules.
        """
        transport = self._start()
        with contextlib.suppress(ProtocolError, OSError):
            transport.write(data, TIMEOUT)
        transport.close_write()
        received = 0
        while True:
            try:
                piece = transport.read(1 << 20, TIMEOUT)
            except ProtocolError as exc:
                raise _fail(f"server neither answered nor closed: {exc}") from exc
            if not piece:
                break
            received += len(piece)
            if received > 64 << 20:
                raise _fail("server sent more than 64 MiB in answer to garbage")
        self.client = None
        self.disconnect()
        if self.zfs.change_count() != self._verified:
            self._accept_sink(None, "garbage")

    def close(self) -> None:
        client = self.connect()
        client.close_request(CloseRequest())
        self.client = None
        self.disconnect()

    def push(self) -> None:
        """Pull-me: the server pulls from us into its sink; check what it may have made."""
        client = self.connect()
        if self._pusher is None:  # one pusher per run: each push must leave it unchanged
            self._pusher = FakeZfs.in_memory(self.setup.push_fixture)
            self._pusher_verified = self._pusher.change_count()
            self._pusher_model = ZfsModel.read(self._pusher)
        pusher, before = self._pusher, self._pusher_model
        handler = ReferenceHandler(
            pusher, identity="", pull_acl=parse_mapping(self.setup.push_filter),
            sink_for=lambda _who: None,
        )  # fmt: skip
        try:
            client.pull_me_request(PullMeRequest(False, "most_recent"), handler)
            finished = True
        except (RequestFailed, ProtocolError):
            finished = False
            self.client = None
            self.disconnect()
        changes = pusher.change_count()
        if changes != self._pusher_verified:
            if ZfsModel.read(pusher) != before:
                raise _fail("pull-me changed the pusher's own state")
            self._pusher_verified = changes
        self._accept_sink(before)
        if finished and self.setup.sink is None:
            raise _fail("pull-me finished although the identity has no sink")

    def _accept_sink(self, pusher: ZfsModel | None, what: str = "pull-me") -> None:
        """What a pull-me changed must be below the sink, and the identity must have one;
        every version it added must be one of ``pusher``'s that the push filter lets out
        (any, for a conversation replayed from bytes: ``pusher`` is ``None``). The model
        then takes the new state."""
        changes = self.zfs.change_count()
        now = ZfsModel.read(self.zfs)
        allowed: set[int] | None = None
        if pusher is not None:
            filt = AclModel.of(self.setup.push_filter)
            assert filt is not None
            allowed = {
                v.guid for ds, vs in pusher.versions.items() if filt.maps(ds.split("/"))
                for v in vs
            }  # fmt: skip
        for ds in now.datasets:
            inside = ds == SINK_ROOT or ds.startswith(SINK_ROOT + "/")
            old = self.model.versions.get(ds)
            if not inside:
                if old is None or now.versions[ds] != old:
                    raise _fail(f"{what} changed {ds}, outside the sink {SINK_ROOT}")
                continue
            if now.versions[ds] == old:
                continue
            if self.setup.sink is None:
                raise _fail(f"{what} changed {ds} although the identity has no sink")
            for v in now.versions[ds]:
                if allowed is not None and v not in (old or ()) and v.guid not in allowed:
                    raise _fail(f"{what} received {ds}@{v.name}, not let out by the push filter")
        for ds in self.model.datasets:
            if ds not in now.versions:
                raise _fail(f"{what} destroyed {ds}")
        self.model, self._verified = now, changes

    def teardown(self) -> None:
        with contextlib.suppress(Exception):
            self.disconnect()
        if self._server is not None:
            self._server.stop()
        self.zfs.close()
        if self._pusher is not None:
            self._pusher.close()


# --------------------------------------------------------------------------- drawn runs


class Action(enum.StrEnum):
    """A stateful step. Its value is the name of the :class:`StatefulHarness` method that
    runs it (:data:`PERFORMERS`), and the name tests and failure notes use."""

    LIST_FILESYSTEMS = "list_filesystems"
    LIST_VERSIONS = "list_versions"
    INITIAL_TRANSFER = "initial_transfer"
    INCREMENTAL_TRANSFER = "incremental_transfer"
    BAD_PROTOCOL_VERSION = "bad_protocol_version"
    GARBAGE = "garbage"
    CLOSE = "close"
    PUSH = "push"


ACTIONS: Final = tuple(Action)
"""The actions in a fixed order, the order of :data:`_WEIGHTS`."""
Performer = Callable[[StatefulHarness, tuple[Any, ...]], None]
"""Runs one action on a harness with the action's arguments."""
PERFORMERS: Final[dict[Action, Performer]] = {
    Action.LIST_FILESYSTEMS: lambda h, args: h.list_filesystems(*args),
    Action.LIST_VERSIONS: lambda h, args: h.list_versions(*args),
    Action.INITIAL_TRANSFER: lambda h, args: h.initial_transfer(*args),
    Action.INCREMENTAL_TRANSFER: lambda h, args: h.incremental_transfer(*args),
    Action.BAD_PROTOCOL_VERSION: lambda h, args: h.bad_protocol_version(*args),
    Action.GARBAGE: lambda h, args: h.garbage(*args),
    Action.CLOSE: lambda h, args: h.close(*args),
    Action.PUSH: lambda h, args: h.push(*args),
}
"""The harness method running each action. Looked up on the harness at every call, so a
method replaced on :class:`StatefulHarness` (a test planting a fault) is the one run."""
_WEIGHTS: Final = (3, 4, 2, 4, 1, 1, 1, 1)
