"""Stateful fuzzing of our server: a client conversation checked step by step against a model.

:class:`StatefulHarness` runs the reference :class:`~bytestreamrpc.server.Server` (reference
handler over an in-memory fake ZFS) in a thread on one end of an in-memory pair and our
:class:`~bytestreamrpc.client.Client` on the other. Each action sends one request (or some
garbage) and checks the answer against :class:`fuzz.model.ZfsModel` and
:class:`fuzz.model.AclModel`:

* every answer is exactly the model's (listing, versions, send-stream identity);
* nothing outside the pull ACL is ever listed, versioned or sent (ACL safety);
* a refused request is refused with the documented error id and the documented ending
  (close / return / continue, docs/PROTOCOL.md §server.summary), and changes nothing: after
  every action the fake's state equals the model's;
* a push (pull-me) only ever creates data below the sink's target, made of snapshots the
  pusher's filter lets out.

The test suite drives it with a Hypothesis ``RuleBasedStateMachine``; the ``stateful`` fuzz
target drives it from one ``st.data()`` so atheris can steer it (:func:`run_drawn_actions`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from hypothesis import strategies as st

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
from fakes.zfs.fixtures import Fixture
from fakes.zfs.stream import StreamFormatError, StreamReader

from . import strategies as zst
from .invariants import InvariantViolation
from .model import AclModel, ZfsModel

__all__ = ["ACTIONS", "Setup", "StatefulHarness", "run_drawn_actions", "setups"]

TIMEOUT: Final = 10.0
IDENTITY: Final = "alice"
SINK_ROOT: Final = "backup/sink"


def _fail(message: str) -> InvariantViolation:
    return InvariantViolation(message)


@dataclass(frozen=True)
class Setup:
    """Everything one stateful run starts from."""

    fixture: Fixture
    pull_acl: dict[str, str] | None
    push_fixture: Fixture
    push_filter: dict[str, str]
    sink: dict[str, str] | None


@st.composite
def _setup(draw: st.DrawFn) -> Setup:
    fixture = draw(zst.fixtures(pools=("pool", "backup"), max_datasets=4, max_snapshots=3))
    tree = [d.name for d in fixture.datasets] + ["pool"]
    acl = draw(st.one_of(st.none(), zst.mappings(sources=tree, targets=("pool",), min_size=1)))
    if acl is not None and draw(st.booleans()):
        acl = {"pool*": "pool"}  # the common real-world ACL, so listings are not all empty
    push_fx = draw(zst.fixtures(pools=("pool",), max_datasets=3, max_snapshots=3))
    push_tree = [d.name for d in push_fx.datasets] + ["pool"]
    push_filter = draw(zst.mappings(sources=push_tree, targets=("pool",), min_size=1))
    sink = draw(
        st.sampled_from([None, {"pool*": SINK_ROOT}, {"pool/*": SINK_ROOT}, {"|": SINK_ROOT}])
    )
    return Setup(fixture, acl, push_fx, push_filter, sink)


def setups() -> st.SearchStrategy[Setup]:
    """A fixture, a pull ACL (sometimes none), and a pusher's fixture, filter and sink."""
    return _setup()


class StatefulHarness:
    """One server (state persists across connections) and the client currently talking."""

    def __init__(self, setup: Setup) -> None:
        for name in ("bytestreamrpc", "fakes"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.setup = setup
        self.zfs = FakeZfs.in_memory(setup.fixture)
        self.model = ZfsModel.read(self.zfs)
        self.acl = AclModel.of(setup.pull_acl)
        sinks = {} if setup.sink is None else {IDENTITY: setup.sink}
        profile = Profile(identity=IDENTITY, pull_acl=setup.pull_acl, sinks=sinks)
        self.reference = Reference(self.zfs, profile, IDENTITY)
        self.client: Client | None = None
        self._ours: MemoryTransport | None = None
        self._thread: threading.Thread | None = None
        self.steps = 0
        self.refusals = 0
        """Refused requests since the last state check."""

    # -- connection management ---------------------------------------------------------
    def _start(self) -> MemoryTransport:
        self.disconnect()
        ours, theirs = memory_pair()
        server = Server(self.reference.handler(), identity=IDENTITY, timeout=TIMEOUT)
        thread = threading.Thread(target=server.serve, args=(theirs,), daemon=True)
        thread.start()
        self._ours, self._thread = ours, thread
        return ours

    def connect(self) -> Client:
        if self.client is None:
            self.client = Client.connect(self._start(), timeout=TIMEOUT)
        return self.client

    def disconnect(self) -> None:
        if self._ours is not None:
            self._ours.close()
        if self._thread is not None:
            self._thread.join(TIMEOUT)
            if self._thread.is_alive():
                raise _fail("the server thread did not end after the connection closed")
        self.client, self._ours, self._thread = None, None, None

    def _server_ended(self) -> bool:
        """Did the server end the connection (close or return)? Waits for its thread."""
        assert self._thread is not None
        self._thread.join(TIMEOUT)
        if self._thread.is_alive():
            return False
        self.client = None
        self.disconnect()
        return True

    def _refused(self, exc: RequestFailed, error: ErrorId, what: str) -> ResponseHeader:
        self.refusals += 1
        header = exc.header
        if not isinstance(header, ResponseHeader) or header.error_id != error:
            raise _fail(f"{what}: expected error {int(error)}, got {exc}")
        if header.request_id != bytes(16) or header.response_type != 0:
            raise _fail(f"{what}: error response must have a zero id and type NONE: {header}")
        return header

    # -- checks ------------------------------------------------------------------------
    def check_state(self) -> None:
        """The fake's state is the model's (refused requests changed nothing)."""
        now = ZfsModel.read(self.zfs)
        if now.datasets != self.model.datasets or now.versions != self.model.versions:
            raise _fail(f"fake ZFS state differs from the model: {now} vs {self.model}")

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
        self.refusals += 1
        if not self._server_ended():
            raise _fail("server stayed open after a protocol version mismatch")

    def garbage(self, data: bytes) -> None:
        """Any bytes on a fresh connection: the server answers and ends, state unchanged."""
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
        self.refusals += 1

    def close(self) -> None:
        client = self.connect()
        client.close_request(CloseRequest())
        self.client = None
        self.disconnect()

    def push(self) -> None:
        """Pull-me: the server pulls from us into its sink; check what it may have made."""
        client = self.connect()
        pusher = FakeZfs.in_memory(self.setup.push_fixture)
        before = ZfsModel.read(pusher)
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
        after = ZfsModel.read(pusher)
        if after != before:
            raise _fail("pull-me changed the pusher's own state")
        self._accept_sink(before)
        if finished and self.setup.sink is None:
            raise _fail("pull-me finished although the identity has no sink")

    def _accept_sink(self, pusher: ZfsModel) -> None:
        now = ZfsModel.read(self.zfs)
        filt = AclModel.of(self.setup.push_filter)
        assert filt is not None
        allowed = {
            v.guid for ds, vs in pusher.versions.items() if filt.maps(ds.split("/")) for v in vs
        }
        for ds in now.datasets:
            inside = ds == SINK_ROOT or ds.startswith(SINK_ROOT + "/")
            if not inside:
                if ds not in self.model.versions or now.versions[ds] != self.model.versions[ds]:
                    raise _fail(f"pull-me changed {ds}, outside the sink {SINK_ROOT}")
                continue
            for v in now.versions[ds]:
                if v.guid not in allowed:
                    raise _fail(f"pull-me received {ds}@{v.name}, not let out by the push filter")
        for ds in self.model.datasets:
            if ds not in now.versions:
                raise _fail(f"pull-me destroyed {ds}")
        self.model = now

    def teardown(self) -> None:
        with contextlib.suppress(Exception):
            self.disconnect()
        self.zfs.close()


# --------------------------------------------------------------------------- drawn runs

ACTIONS: Final = (
    "list_filesystems",
    "list_versions",
    "initial_transfer",
    "incremental_transfer",
    "bad_protocol_version",
    "garbage",
    "close",
    "push",
)
_WEIGHTS: Final = (3, 4, 2, 4, 1, 1, 1, 1)
_ACTION_CHOICE: Final = st.sampled_from(
    [a for a, w in zip(ACTIONS, _WEIGHTS, strict=True) for _ in range(w)]
)
_BAD_VERSIONS: Final = st.sampled_from([v for v in range(256) if v != 1])
_GARBAGE: Final = st.one_of(st.binary(max_size=64), st.deferred(zst.transcript_mutations))
_OTHER_PATHS: Final = st.one_of(zst.near_valid_dataset_paths(), zst.dataset_paths(pool="pool"))
_OTHER_VERSIONS: Final = st.one_of(zst.filesystem_versions(), zst.near_valid_filesystem_versions())
_CHANGES_STATE: Final = frozenset({"push"})


class _Choices:
    """Strategies over the model's current datasets and versions, built once per model."""

    def __init__(self, model: ZfsModel) -> None:
        self.model = model
        known = [DatasetPath(tuple(n.split("/"))) for n in model.datasets]
        self.paths = st.one_of(st.sampled_from(known), st.sampled_from(known), _OTHER_PATHS)
        every = [v for vs in model.versions.values() for v in vs]
        self._every = st.sampled_from(every) if every else None
        self._own: dict[str, st.SearchStrategy[FilesystemVersion]] = {}

    def versions(self, path: DatasetPath) -> st.SearchStrategy[FilesystemVersion]:
        key = path.to_string()
        found = self._own.get(key)
        if found is None:
            own = self.model.versions.get(key, [])
            options: list[st.SearchStrategy[FilesystemVersion]] = []
            if own:
                options += [st.sampled_from(own)] * 3
            if self._every is not None:
                options.append(self._every)
            options.append(_OTHER_VERSIONS)
            found = self._own[key] = st.one_of(options)
        return found


def run_action(
    h: StatefulHarness, action: str, data: st.DataObject, choices: _Choices | None = None
) -> None:
    """Draw the arguments of ``action`` and run it; check the state where it may change.

    The fake's state is compared with the model after every refused request, every push
    and every new connection's garbage (reads that succeed are checked at the end of the
    run: a change would persist until then).
    """
    c = choices if choices is not None and choices.model is h.model else _Choices(h.model)
    before = h.steps
    if action == "list_filesystems":
        h.list_filesystems()
    elif action == "list_versions":
        h.list_versions(data.draw(c.paths, label="path"))
    elif action == "initial_transfer":
        path = data.draw(c.paths, label="path")
        h.initial_transfer(path, data.draw(c.versions(path), label="version"))
    elif action == "incremental_transfer":
        path = data.draw(c.paths, label="path")
        a = data.draw(c.versions(path), label="from")
        h.incremental_transfer(path, a, data.draw(c.versions(path), label="to"))
    elif action == "bad_protocol_version":
        h.bad_protocol_version(data.draw(_BAD_VERSIONS, label="version"))
    elif action == "garbage":
        h.garbage(data.draw(_GARBAGE, label="bytes"))
    elif action == "close":
        h.close()
    else:
        h.push()
    h.steps = before + 1
    if action in _CHANGES_STATE or h.refusals:
        h.refusals = 0
        h.check_state()


def run_drawn_actions(data: st.DataObject, *, max_actions: int = 50) -> int:
    """One whole stateful run drawn from ``data``; returns the number of actions run."""
    h = StatefulHarness(data.draw(setups(), label="setup"))
    try:
        choices = _Choices(h.model)
        for _ in range(data.draw(st.integers(1, max_actions), label="actions")):
            if choices.model is not h.model:
                choices = _Choices(h.model)
            run_action(h, data.draw(_ACTION_CHOICE, label="action"), data, choices)
        h.check_state()
        return h.steps
    finally:
        h.teardown()


def acl_summary(acl: Mapping[str, str] | None) -> str:
    return "no pull ACL" if acl is None else ", ".join(f"{k} -> {v}" for k, v in acl.items())


def random_setup(rng: random.Random) -> Setup:
    """A :class:`Setup` chosen by ``rng`` (same shapes as :func:`setups`, no Hypothesis)."""
    from fakes.zfs.fixtures import BookmarkSpec, DatasetSpec, PoolSpec, SnapshotSpec

    def fixture(pools: tuple[str, ...], n: int) -> Fixture:
        names: list[str] = []
        for _ in range(n):
            parent = rng.choice([*pools, *names])
            name = f"{parent}/{rng.choice(('a', 'b', 'data', 'db', 'x1'))}"
            if name not in names:
                names.append(name)
        snaps, marks = [], []
        for ds in (*pools, *names):
            for i in range(rng.randint(0, 3)):
                snaps.append(SnapshotSpec(f"{ds}@s{i}", referenced=1024, written=1024))
                if rng.random() < 0.25:
                    marks.append(BookmarkSpec(f"{ds}#s{i}", source=f"{ds}@s{i}"))
        return Fixture(
            pools=tuple(PoolSpec(p, referenced=4096) for p in pools),
            datasets=tuple(DatasetSpec(n, referenced=4096) for n in names),
            snapshots=tuple(snaps),
            bookmarks=tuple(marks),
            seed=rng.randrange(2**31),
        )

    fx = fixture(("pool", "backup"), rng.randint(0, 4))
    tree = [d.name for d in fx.datasets]
    acl_options: list[dict[str, str] | None] = [None, {"pool*": "pool"}, {"|": "pool"}]
    acl_options += [{t + "*": "pool"} for t in tree] + [{t: "pool"} for t in tree]
    push = fixture(("pool",), rng.randint(0, 3))
    push_tree = ["pool", *[d.name for d in push.datasets]]
    push_filter = {rng.choice(push_tree) + rng.choice(("*", "")): "pool"}
    sink = rng.choice([None, {"pool*": SINK_ROOT}, {"|": SINK_ROOT}])
    return Setup(fx, rng.choice(acl_options), push, push_filter, sink)


def _random_path(rng: random.Random, model: ZfsModel) -> DatasetPath:
    if model.datasets and rng.random() < 0.85:
        return DatasetPath(tuple(rng.choice(model.datasets).split("/")))
    return rng.choice((DatasetPath(("pool", "")), DatasetPath(("pool", "a@b"))))


def _random_version(rng: random.Random, model: ZfsModel, p: DatasetPath) -> FilesystemVersion:
    own = model.versions.get(p.to_string(), [])
    if own and rng.random() < 0.75:
        return rng.choice(own)
    every = [v for vs in model.versions.values() for v in vs]
    if every and rng.random() < 0.8:
        return rng.choice(every)
    return FilesystemVersion(rng.choice(("snapshot", "bookmark", "x")), "s0", 1, 1)


def run_random_actions(rng: random.Random, actions: int) -> int:
    """A stateful run whose every choice comes from ``rng`` instead of Hypothesis.

    Same harness, same checks, same action mix as :func:`run_drawn_actions`; it trades
    shrinking for speed (bulk runs and the throughput benchmark). Returns actions run.
    """
    h = StatefulHarness(random_setup(rng))
    weighted = [a for a, w in zip(ACTIONS, _WEIGHTS, strict=True) for _ in range(w)]
    try:
        for _ in range(actions):
            path = functools.partial(_random_path, rng, h.model)
            version = functools.partial(_random_version, rng, h.model)
            action = rng.choice(weighted)
            before = h.steps
            if action == "list_filesystems":
                h.list_filesystems()
            elif action == "list_versions":
                h.list_versions(path())
            elif action == "initial_transfer":
                p = path()
                h.initial_transfer(p, version(p))
            elif action == "incremental_transfer":
                p = path()
                h.incremental_transfer(p, version(p), version(p))
            elif action == "bad_protocol_version":
                h.bad_protocol_version(rng.choice((0, 2, 255)))
            elif action == "garbage":
                h.garbage(rng.randbytes(rng.randint(0, 48)))
            elif action == "close":
                h.close()
            else:
                h.push()
            h.steps = before + 1
            if action in _CHANGES_STATE or h.refusals:
                h.refusals = 0
                h.check_state()
        h.check_state()
        return h.steps
    finally:
        h.teardown()
