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
  every action the fake's state equals the model's (a full comparison whenever any row of
  the fake changed, :meth:`StatefulHarness.check_state`);
* a push (pull-me) only ever creates data below the sink's target, made of snapshots the
  pusher's filter lets out.

Three drivers share the harness, the actions and the checks (:func:`perform`): the
Hypothesis ``RuleBasedStateMachine`` :class:`ServerConversation` (the test suite), one
``st.data()`` drawing a whole run (:func:`run_drawn_actions`, which the ``stateful`` fuzz
target hands to atheris through ``fuzz_one_input``), and a seeded ``random.Random``
(:func:`run_random_actions`, bulk runs without shrinking).

Speed: a step's own work (a request through client, server thread, handler and fake) costs
about half a millisecond, and every Hypothesis draw tens of microseconds, so the drawn
drivers draw a step's action and arguments in one go from precomputed lists over the
current model (:class:`_Choices`), set-ups come from curated names (:func:`setups`), and the
after-every-step state check re-reads the fake only when a row of it changed.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import logging
import queue
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

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
from fakes.zfs.fixtures import BookmarkSpec, DatasetSpec, Fixture, PoolSpec, SnapshotSpec
from fakes.zfs.stream import StreamFormatError, StreamReader

from . import strategies as zst
from .invariants import InvariantViolation
from .model import AclModel, ZfsModel

__all__ = [
    "ACTIONS",
    "ServerConversation",
    "Setup",
    "StatefulHarness",
    "perform",
    "run_drawn_actions",
    "run_random_actions",
    "setups",
]

TIMEOUT: Final = 10.0
IDENTITY: Final = "alice"
SINK_ROOT: Final = "backup/sink"
_T = TypeVar("_T")


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


# Set-ups are drawn from small curated vocabularies rather than from the general name
# strategies of fuzz.strategies: drawing free-form names cost ~8 ms per set-up (more than
# twenty conversation steps), and what the stateful checks are about is how names relate
# (siblings that are string prefixes of each other, "a" / "ab" / "a.b", which glob ACLs must
# tell apart; snapshots and bookmarks of the same name; zrepl's own snapshot names), which
# a small vocabulary produces often and free text almost never. Odd name syntax is the
# server, codec and gojson targets' business, and still reaches this machine as rare
# arguments (_GENERATED_PATHS, _GENERATED_VERSIONS).
_COMPONENTS: Final = ("a", "ab", "a.b", "a-b", "a_b", "a:b", "b", "data", "data2", "x1", "A", "9")
_SNAPSHOT_NAMES: Final = (
    "s0", "s1", "s2", "a", "ab", "x.y", "x-y", "x:y", "x_y",
    "zrepl_20170501_000000_000", "zrepl_20170501_010000_000",
)  # fmt: skip
_NEAR_MISSES: Final = ("", "", "", "", "x", "c", "_1")
"""Suffixes of ACL left sides: mostly none, sometimes a near miss of a real name."""
_UNRELATED: Final = ("nopool", "pool/zz", "backup", "backup/sink")
_RIGHT_SIDES: Final = ("pool", "pool/x", "pool/a/b")
_SINKS: Final = (None, {"pool*": SINK_ROOT}, {"pool/*": SINK_ROOT}, {"|": SINK_ROOT})


def _weighted(*groups: tuple[int, Sequence[_T]]) -> list[_T]:
    """One list to draw from with a single ``sampled_from``: each non-empty group fills
    about ``weight`` parts of it whatever its length, every item at least once.

    One index draw replaces a draw of the group and another of the item (each Hypothesis
    draw costs tens of microseconds; a step has a millisecond). The first group's first
    item comes first, so it is what a failing example shrinks to.
    """
    present = [(w, list(items)) for w, items in groups if w > 0 and items]
    total = sum(w for w, _ in present)
    size = max(-(-len(items) * total // w) for w, items in present)
    out: list[_T] = []
    for w, items in present:
        slots = max(len(items), size * w // total)
        out += [items[i % len(items)] for i in range(slots)]
    return out


@functools.cache
def _index(n: int) -> st.SearchStrategy[int]:
    """An index into a sequence of ``n`` items (one strategy per length, built once)."""
    return st.integers(0, n - 1)


@functools.cache
def _snapshot_lists(most: int) -> st.SearchStrategy[tuple[str, ...]]:
    """A dataset's snapshots, oldest first: each length from 0 to ``most`` equally often,
    in one draw (the empty list first, which is what shrinking goes to)."""
    by_length = [list(itertools.permutations(_SNAPSHOT_NAMES, k)) for k in range(most + 1)]
    return st.sampled_from(_weighted(*((1, group) for group in by_length)))


@functools.cache
def _bookmark_masks(count: int) -> st.SearchStrategy[tuple[bool, ...]]:
    """Which of ``count`` snapshots get a bookmark, each with probability 1/4, in one draw
    (none first)."""
    return st.sampled_from(
        [tuple(d == 3 for d in digits) for digits in itertools.product(range(4), repeat=count)]
    )


@functools.cache
def _children(parents: int) -> st.SearchStrategy[tuple[int, str]]:
    """A new dataset: the index of its parent among ``parents`` and its name, in one draw."""
    return st.sampled_from(list(itertools.product(range(parents), _COMPONENTS)))


_NEAR_MISS: Final = st.sampled_from(_NEAR_MISSES)
_RIGHT: Final = st.sampled_from(_RIGHT_SIDES)
_LEFT_KIND: Final = st.sampled_from(("glob", "glob", "direct", "direct", "unrelated", "wildcard"))
_GLOB_ALL: Final = st.integers(0, 5)
_ACL_KIND: Final = st.sampled_from(("none", "common", "drawn", "drawn"))
_SEED: Final = st.integers(0, 2**31)


def _draw_fixture(
    draw: st.DrawFn, pools: tuple[str, ...], max_datasets: int, max_snapshots: int
) -> Fixture:
    """A small fixture: a tree of curated names below ``pools`` (parents first, at most three
    levels), up to ``max_snapshots`` snapshots per dataset in creation order, a quarter of
    them bookmarked."""
    names: list[str] = []
    for _ in range(draw(_index(max_datasets + 1))):
        parents = [p for p in (*pools, *names) if p.count("/") < 3]
        parent, component = draw(_children(len(parents)))
        name = f"{parents[parent]}/{component}"
        if name not in names:
            names.append(name)
    snapshots: list[SnapshotSpec] = []
    marks: list[BookmarkSpec] = []
    for ds in (*pools, *names):
        shorts = draw(_snapshot_lists(max_snapshots))
        for short in shorts:
            snapshots.append(SnapshotSpec(f"{ds}@{short}", referenced=1024, written=1024))
        for short, marked in zip(shorts, draw(_bookmark_masks(len(shorts))), strict=True):
            if marked:
                marks.append(BookmarkSpec(f"{ds}#{short}", source=f"{ds}@{short}"))
    return Fixture(
        pools=tuple(PoolSpec(p, referenced=4096) for p in pools),
        datasets=tuple(DatasetSpec(n, referenced=4096) for n in names),
        snapshots=tuple(snapshots),
        bookmarks=tuple(marks),
        seed=draw(_SEED),
    )


def _draw_mapping(draw: st.DrawFn, tree: list[str]) -> dict[str, str]:
    """One to three mapping entries (§mapping) whose left sides cut through ``tree``: a glob
    or direct entry on a real prefix (sometimes a near miss of it), an unrelated name, ``|``,
    or ``*``."""
    prefixes = sorted(
        {"/".join(n.split("/")[:i]) for n in tree for i in range(1, n.count("/") + 2)}
    )
    out: dict[str, str] = {}
    for _ in range(1 + draw(_index(3))):
        kind = draw(_LEFT_KIND)
        if kind == "wildcard":
            left = "|"
        elif kind == "unrelated":
            left = _UNRELATED[draw(_index(len(_UNRELATED)))]
        else:
            left = prefixes[draw(_index(len(prefixes)))] + draw(_NEAR_MISS)
            if kind == "glob":
                left = "*" if draw(_GLOB_ALL) == 0 else left + "*"
        out.setdefault(left, draw(_RIGHT))
    return out


@st.composite
def _setup(draw: st.DrawFn) -> Setup:
    fixture = _draw_fixture(draw, ("pool", "backup"), max_datasets=4, max_snapshots=3)
    tree = ["pool", *(d.name for d in fixture.datasets)]
    kind = draw(_ACL_KIND)
    acl: dict[str, str] | None = None
    if kind == "common":
        acl = {"pool*": "pool"}  # the common real-world ACL, so listings are not all empty
    elif kind == "drawn":
        acl = _draw_mapping(draw, tree)
    push_fx = _draw_fixture(draw, ("pool",), max_datasets=3, max_snapshots=3)
    push_filter = _draw_mapping(draw, ["pool", *(d.name for d in push_fx.datasets)])
    sink = _SINKS[draw(_index(len(_SINKS)))]
    return Setup(fixture, acl, push_fx, push_filter, None if sink is None else dict(sink))


def setups() -> st.SearchStrategy[Setup]:
    """A fixture, a pull ACL (a quarter of runs none, a quarter the common ``pool*``), and a
    pusher's fixture, filter and sink: every one of them loads and parses."""
    return _SETUPS


_SETUPS: Final = _setup()


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
"""The actions, each a :class:`StatefulHarness` method of the same name."""
_WEIGHTS: Final = (3, 4, 2, 4, 1, 1, 1, 1)
_ACTION_CHOICE: Final = st.sampled_from(
    [a for a, w in zip(ACTIONS, _WEIGHTS, strict=True) for _ in range(w)]
)
_BAD_VERSIONS: Final = st.sampled_from([v for v in range(256) if v != 1])
_GARBAGE: Final = st.one_of(st.binary(max_size=64), st.deferred(zst.transcript_mutations))
_GENERATED_PATHS: Final = st.one_of(zst.near_valid_dataset_paths(), zst.dataset_paths(pool="pool"))
_GENERATED_VERSIONS: Final = st.one_of(
    zst.filesystem_versions(), zst.near_valid_filesystem_versions()
)
_GENERATE: Final = DatasetPath(("\x00generate",))
"""Marks, in a list of choices, the slot that draws from a generative strategy instead."""
_GENERATE_VERSION: Final = FilesystemVersion("\x00generate", "", 0, 0)

# Arguments beside the model's own: absent but valid, one defect away from valid (both
# must be refused: §deviations.path-validation, §handler.transfer), and for versions also
# common names with edge-case GUIDs and CreateTXGs (a request names a version by type and
# name; the model says which are served). Drawn by index from these lists: a generative
# strategy costs 0.5-1.2 ms a draw, as much as a whole step, so it is only a rare slot
# (_GENERATE) for names nobody listed.
_REFUSED_PATHS: Final = tuple(
    DatasetPath(c)
    for c in (
        ("pool", "zz"), ("pool", "a", "zz"), ("backup", "a"), ("nopool",),
        ("pool", "a", "b", "c", "d"), (), ("pool", ""), ("", "pool"), ("pool", "."),
        ("pool", ".."), ("pool", "a@b"), ("pool", "a#b"), ("pool", "a|b"), ("pool", "a b"),
        ("pool", "a\tb"), ("pool", "a/b"), ("pool", "é"), ("pool", "a\x00"), ("pool", "*"),
        ("pool", "x" * 256),
    )
)  # fmt: skip
_REFUSED_VERSIONS: Final = tuple(
    FilesystemVersion(t, n, g, txg)
    for t, n, g, txg in (
        ("snapshot", "zz", 1, 1), ("bookmark", "zz", 1, 1), ("", "s0", 1, 1),
        ("Snapshot", "s0", 1, 1), ("filesystem", "s0", 1, 1), ("snapshot ", "s0", 1, 1),
        ("ſnapshot", "s0", 1, 1), ("snapshot", "", 1, 1), ("snapshot", ".", 1, 1),
        ("snapshot", "..", 1, 1), ("snapshot", "s0@s1", 1, 1), ("bookmark", "s0#s1", 1, 1),
        ("snapshot", "x" * 256, 1, 1), ("snapshot", "s0", 0, 0),
        ("snapshot", "s0", 2**64 - 1, 2**63), ("bookmark", "s1", 2**53 + 1, 2**64 - 1),
    )
)  # fmt: skip


class _Choices:
    """What a step may draw over one model's datasets and versions, built once per model
    (it changes only when a push lands): one weighted list per kind of argument, drawn
    with a single ``sampled_from`` each."""

    def __init__(self, model: ZfsModel) -> None:
        self.model = model
        known = [DatasetPath(tuple(n.split("/"))) for n in model.datasets]
        near = [DatasetPath((*p.components[:-1], p.components[-1] + "x")) for p in known]
        self._paths = st.sampled_from(
            _weighted((12, known), (1, near), (6, _REFUSED_PATHS), (1, [_GENERATE]))
        )
        self._every = [v for vs in model.versions.values() for v in vs]
        self._versions: dict[str, st.SearchStrategy[FilesystemVersion]] = {}
        self._arguments: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {}

    def path(self, draw: st.DrawFn) -> DatasetPath:
        """Mostly a dataset of the model, else a path it must refuse."""
        p = draw(self._paths)
        return draw(_GENERATED_PATHS) if p is _GENERATE else p

    def version(self, draw: st.DrawFn, path: DatasetPath) -> FilesystemVersion:
        """Mostly a version of ``path``, else another dataset's, its type swapped, or one
        that cannot exist."""
        key = "/".join(path.components)
        options = self._versions.get(key)
        if options is None:
            own = self.model.versions.get(key, [])
            swapped = [
                FilesystemVersion(
                    "bookmark" if v.type == "snapshot" else "snapshot", v.name, v.guid,
                    v.create_txg,
                )
                for v in own
            ]  # fmt: skip
            options = self._versions[key] = st.sampled_from(
                _weighted(
                    (11, own),
                    (3, self._every),
                    (1, swapped),
                    (4, _REFUSED_VERSIONS),
                    (1, [_GENERATE_VERSION]),
                )
            )
        v = draw(options)
        return draw(_GENERATED_VERSIONS) if v is _GENERATE_VERSION else v

    def arguments(self, action: str) -> st.SearchStrategy[tuple[Any, ...]]:
        """The arguments of ``action`` alone (the state machine's rules draw these)."""
        found = self._arguments.get(action)
        if found is None:
            found = self._arguments[action] = _arguments(self, action)
        return found


def _draw_arguments(draw: st.DrawFn, c: _Choices, action: str) -> tuple[Any, ...]:
    if action == "list_versions":
        return (c.path(draw),)
    if action == "initial_transfer":
        path = c.path(draw)
        return path, c.version(draw, path)
    if action == "incremental_transfer":
        path = c.path(draw)
        return path, c.version(draw, path), c.version(draw, path)
    if action == "bad_protocol_version":
        return (draw(_BAD_VERSIONS),)
    if action == "garbage":
        return (draw(_GARBAGE),)
    return ()


_STOP: Final = "stop"
_NEXT_ACTION: Final = st.sampled_from(
    [_STOP, *[a for a, w in zip(ACTIONS, _WEIGHTS, strict=True) for _ in range(w)] * 3855]
)
"""The next step's action, or the end of the run: one draw from 2**16 slots, the first
of which stops. Generation rarely picks it (about 1 % of steps), so runs mostly take
``max_actions`` steps, as Hypothesis's own state machines do (they stop with probability
2**-16 a step), while the shrinker, which moves towards the first slot, can cut a failing
run short. One draw for both: every draw costs ~40 µs, a step's budget is ~1 ms."""
_MAY_CHANGE_MODEL: Final = frozenset({"push", "garbage"})
"""Actions after which the model may differ, so later steps' choices must be redrawn."""

Step = tuple[str, tuple[Any, ...]]
"""An action and its arguments."""


@st.composite
def _steps(draw: st.DrawFn, c: _Choices, most: int) -> tuple[list[Step], bool]:
    """Up to ``most`` steps, ending after the first one that may change the model; and
    whether the run stops there. One ``data.draw`` for all of them: each costs ~90 µs of
    Hypothesis bookkeeping beyond the values drawn, a tenth of a step's budget."""
    steps: list[Step] = []
    while len(steps) < most:
        action = draw(_NEXT_ACTION)
        if action is _STOP:
            return steps, True
        steps.append((action, _draw_arguments(draw, c, action)))
        if action in _MAY_CHANGE_MODEL:
            break
    return steps, False


@st.composite
def _arguments(draw: st.DrawFn, c: _Choices, action: str) -> tuple[Any, ...]:
    return _draw_arguments(draw, c, action)


def perform(h: StatefulHarness, action: str, arguments: tuple[Any, ...]) -> None:
    """Run ``action`` (checking its answer against the model), count it, then check the
    fake's state against the model: after every step, since that costs next to nothing
    unless something changed (:meth:`StatefulHarness.check_state`)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    try:
        getattr(h, action)(*arguments)
    except Exception:
        h.raise_if_server_crashed()  # the cause, rather than the client's view of it
        raise
    h.steps += 1
    h.check_state()


def run_drawn_actions(
    data: st.DataObject, *, max_actions: int = 50, on_step: Callable[[], None] | None = None
) -> int:
    """One whole stateful run drawn from ``data``; returns the number of actions run.

    Runs take ``max_actions`` steps unless a stop is drawn (:data:`_STOP`). The steps up to
    the next one that may change the model are drawn together (:func:`_steps`), against
    the model they will run on. ``on_step`` is called after every completed step (a run cut
    short, e.g. by a fuzzer's input running out, returns nothing).
    """
    h = StatefulHarness(data.draw(setups(), label="setup"))
    try:
        choices = _Choices(h.model)
        while h.steps < max_actions:
            if choices.model is not h.model:
                choices = _Choices(h.model)
            steps, stop = data.draw(_steps(choices, max_actions - h.steps), label="steps")
            for action, arguments in steps:
                try:
                    perform(h, action, arguments)
                except Exception as exc:
                    exc.add_note(f"stateful step {h.steps + 1}: {action}{arguments!r}")
                    raise
                if on_step is not None:
                    on_step()
            if stop or not steps:
                break
        h.check_state()
        return h.steps
    finally:
        h.teardown()


class ServerConversation(RuleBasedStateMachine):
    """A client talking to our server, every answer and the state after every step checked
    against the model (``ServerConversation.TestCase`` is a unittest test case).

    One rule per action; a rule's arguments come from one draw over the current model
    (:class:`_Choices`). :attr:`completed` counts the steps every instance completed.
    """

    completed: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.harness: StatefulHarness | None = None
        self._choices: _Choices | None = None

    @initialize(setup=setups())
    def start(self, setup: Setup) -> None:
        self.harness = StatefulHarness(setup)

    def _run(self, action: str, data: st.DataObject | None = None) -> None:
        h = self.harness
        assert h is not None
        arguments: tuple[Any, ...] = ()
        if data is not None:
            if self._choices is None or self._choices.model is not h.model:
                self._choices = _Choices(h.model)
            arguments = data.draw(self._choices.arguments(action), label=action)
        perform(h, action, arguments)
        type(self).completed += 1

    @rule()
    def list_filesystems(self) -> None:
        self._run("list_filesystems")

    @rule(data=st.data())
    def list_versions(self, data: st.DataObject) -> None:
        self._run("list_versions", data)

    @rule(data=st.data())
    def initial_transfer(self, data: st.DataObject) -> None:
        self._run("initial_transfer", data)

    @rule(data=st.data())
    def incremental_transfer(self, data: st.DataObject) -> None:
        self._run("incremental_transfer", data)

    @rule(data=st.data())
    def bad_protocol_version(self, data: st.DataObject) -> None:
        self._run("bad_protocol_version", data)

    @rule(data=st.data())
    def garbage(self, data: st.DataObject) -> None:
        self._run("garbage", data)

    @rule()
    def close(self) -> None:
        self._run("close")

    @rule()
    def push(self) -> None:
        self._run("push")

    def teardown(self) -> None:
        if self.harness is not None:
            try:
                self.harness.check_state()
            finally:
                self.harness.teardown()


def acl_summary(acl: Mapping[str, str] | None) -> str:
    return "no pull ACL" if acl is None else ", ".join(f"{k} -> {v}" for k, v in acl.items())


def random_setup(rng: random.Random) -> Setup:
    """A :class:`Setup` chosen by ``rng`` (same shapes as :func:`setups`, no Hypothesis)."""

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
            arguments: tuple[Any, ...] = ()
            if action == "list_versions":
                arguments = (path(),)
            elif action == "initial_transfer":
                p = path()
                arguments = (p, version(p))
            elif action == "incremental_transfer":
                p = path()
                arguments = (p, version(p), version(p))
            elif action == "bad_protocol_version":
                arguments = (rng.choice((0, 2, 255)),)
            elif action == "garbage":
                arguments = (rng.randbytes(rng.randint(0, 48)),)
            perform(h, action, arguments)
        h.check_state()
        return h.steps
    finally:
        h.teardown()
