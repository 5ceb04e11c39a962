"""Family ``client``: the implementation's ``pull`` and ``push`` commands against a scripted server.

The suite starts the command with ``{connect}`` leading back to it, serves the connection with
:class:`~fakes.scripted.ScriptedServer` (our reference's answers over the demo fixture,
except where a case scripts one of :mod:`conformance.faults`), then inspects what the client
sent, how it exited and what its fake ZFS state holds afterwards: received snapshots by GUID,
their content verified by re-sending them, and an untouched state wherever a transfer failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from bytestreamrpc.connection import Role
from bytestreamrpc.constants import ErrorId, RequestType, ResponseType
from bytestreamrpc.deviations import Observed, Situation
from bytestreamrpc.messages import (
    CloseRequest,
    FilesystemRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
    PullMeRequest,
)
from fakes.mapping import parse_mapping
from fakes.reference import ReferenceHandler
from fakes.scripted import EndingKind, Fault, ScriptedServer, Seen, chooser
from fakes.zfs import FakeZfs
from iut.process import ExitStatus

from ..catalog import case
from ..context import CaseContext, LiveSession
from ..facts import snapshot_problem, state_listing, state_property
from ..faults import (
    CorruptStream,
    EchoId,
    PullerLeaves,
    RawBody,
    Refusal,
    Stall,
    TruncatedStream,
    WrongType,
)
from ..model import CaseFunc, Level, Setup
from ..setups import SINK_TARGET, VISIBLE
from ..targets import Command
from ..wire import show_json

F = "client"
MUST, SHOULD, INFO = Level.MUST, Level.SHOULD, Level.INFO
RT = RequestType
PUSH_SINK = {VISIBLE: SINK_TARGET}
"""Where the suite, pulling from a pushing client, puts the client's pool/data."""

Listing = dict[str, list[tuple[str, str, int]]]
SUITE_IDENTITY = "alice"
"""The identity the suite's server serves a client under (its pull ACL applies)."""
SUITE_PULL_ACL = {"pool*": "ok"}
"""Everything under pool may be pulled from the suite's server."""


@dataclass
class ClientCaseRun:
    """One run of the client under test in a conformance case: the suite's scripted server
    (what the client sent), how its process ended, the fake ZFS state before and after.

    Not the differential fuzzer's :class:`fuzz.differential.client_runner.ClientTrialRun`
    (records and outcome of one side of a fuzz trial), though both are "a client's run"."""

    server: ScriptedServer
    info: ExitStatus
    before: Listing
    after: Listing
    live: LiveSession

    @property
    def types(self) -> list[str]:
        return [s.name for s in self.server.requests]

    def transfers(self) -> list[Seen]:
        kinds = (RT.INITIAL_TRANSFER, RT.INCREMENTAL_TRANSFER)
        return [s for s in self.server.requests if s.type in kinds]

    def observed(self) -> Observed:
        """The run in the terms of the §deviations table."""
        return Observed(
            closed=self.info.kind != "timeout",
            situations=frozenset(self.server.situations),
            succeeded=self.info.kind == "ok",
            requests=tuple(self.types),
            state_changed=self.after != self.before,
        )


def run_client(
    ctx: CaseContext,
    command: str = "pull",
    faults: Mapping[str, Fault] | None = None,
    *,
    reference: bool = False,
    sink: Mapping[str, str] | None = PUSH_SINK,
    rechunk: int = 0,
    situations: frozenset[Situation] = frozenset(),
) -> ClientCaseRun:
    """Start the client (or, with ``reference``, ours in-process) and serve it.

    ``sink``: where the suite, pulling from a pushing client, puts its datasets (``None``:
    the suite has none and closes after its OK to PullMe). ``situations``: what the case's
    setup does beyond the faults (a diverged fixture), for the §deviations table the runner
    consults afterwards.
    """
    before = ctx.facts.listing()
    cmd = cast(Command, command)
    live = ctx.start_reference_live(cmd) if reference else ctx.start(cmd)
    t = live.accept()
    server = ScriptedServer(
        t,
        ReferenceHandler(
            FakeZfs.in_memory(),
            identity=SUITE_IDENTITY,
            pull_acl=parse_mapping(SUITE_PULL_ACL),
            sink_for=lambda _who: None,
        ),
        sink=parse_mapping(sink) if sink is not None else None,
        faults=chooser(faults or {}),
        deadline=ctx.deadline,
        rechunk=rechunk,
        note=live.log.mark,
    )
    server.situations.update(situations)
    server.run()
    live.log.mark(f"suite: {server.ending}")
    info = live.finish(max(1.0, ctx.remaining() - 0.5))
    after = state_listing(live.state) if info.kind != "timeout" else before
    run = ClientCaseRun(server, info, before, after, live)
    if not reference:
        ctx.client_observed = run.observed()
    return run


def expect_exit(ctx: CaseContext, run: ClientCaseRun, ok: bool, why: str) -> None:
    info = run.info
    if info.kind == "timeout":
        ctx.must(
            f"the client did not finish within the case timeout ({why})", "exit", info.describe()
        )
    elif info.kind == "signal":
        ctx.must(f"the client died from a signal ({why})", "exit", info.describe())
    elif ok and info.returncode != 0:
        ctx.must(f"the job should succeed: {why}", "exit 0", info.describe())
    elif not ok and info.returncode == 0:
        ctx.must(f"the job reported success although {why}", "a non-zero exit", "exit 0")


def expect_untouched(ctx: CaseContext, run: ClientCaseRun, why: str) -> None:
    if run.after != run.before:
        changed = sorted(
            k for k in set(run.before) | set(run.after) if run.before.get(k) != run.after.get(k)
        )
        ctx.must(
            f"the client's ZFS state changed although {why}",
            "unchanged",
            "; ".join(f"{k}: {run.after.get(k, 'gone')}" for k in changed),
        )


def expect_received(ctx: CaseContext, run: ClientCaseRun, dataset: str, guids: list[int]) -> None:
    """``dataset`` holds snapshots with exactly these GUIDs (in order), content verified."""
    have = [g for t, _n, g in run.after.get(dataset, []) if t == "snapshot"]
    if have != guids:
        ctx.must(f"{dataset} does not hold the expected snapshots (by GUID)", guids, have)
        return
    for t, name, guid in run.after[dataset]:
        if t == "snapshot" and guid in guids:
            problem = snapshot_problem(run.live.state, f"{dataset}@{name}", guid)
            if problem:
                ctx.must(f"received snapshot content does not verify: {problem}")


def expect_pv_first(ctx: CaseContext, run: ClientCaseRun) -> None:
    reqs = run.server.requests
    if not reqs:
        ctx.must("the client sent no request at all", "ProtocolVersion", "nothing")
        return
    first = reqs[0]
    if first.type != RT.PROTOCOL_VERSION or first.body != ProtocolVersionRequest(1):
        ctx.must(
            "the first request must be ProtocolVersion {ClientVersion:1} (§client.connect)",
            "PROTOCOL_VERSION",
            f"{first.name} {first.body!r}",
        )


def expect_close(ctx: CaseContext, run: ClientCaseRun) -> None:
    reqs = run.server.requests
    if not reqs or not isinstance(reqs[-1].body, CloseRequest):
        ctx.should(
            "the client should end with a Close request (§client.close)",
            "CLOSE",
            reqs[-1].name if reqs else "nothing",
        )


def compare_with_reference(
    ctx: CaseContext, run: ClientCaseRun, faults: Any = None, command: str = "pull"
) -> None:
    """The request sequence and bytes, against our reference client on the same script."""
    ref = run_client(ctx, command, faults, reference=True)
    got_types, ref_types = run.types, ref.types
    if got_types != ref_types:
        ctx.should(
            "the request sequence differs from the reference pull job's",
            " ".join(ref_types),
            " ".join(got_types),
        )
        return
    for i, (g, r) in enumerate(zip(run.server.requests, ref.server.requests, strict=True), 1):
        if g.body != r.body:
            ctx.should(
                f"request #{i} ({g.name}) has different values than the reference's",
                repr(r.body),
                repr(g.body),
            )
        elif g.raw != r.raw:
            ctx.should(
                f"request #{i} ({g.name}) bytes differ from Go's encoding",
                show_json(r.raw),
                show_json(g.raw),
            )


def _newest_guids(ctx: CaseContext, n: int = 1) -> list[int]:
    return [v.guid for v in ctx.facts_for("demo").snapshots(VISIBLE)[-n:]]


def ccase(
    cid: str,
    section: str,
    level: Level,
    title: str,
    *,
    needs: str = "pull",
    fixture: str = "demo",
    profile: str = "default",
) -> Callable[[CaseFunc], CaseFunc]:
    return case(
        cid,
        section,
        level,
        title,
        family=F,
        role=Role.CLIENT,
        needs=needs,
        setup=Setup(fixture=fixture, profile=profile),
    )


# ---------------------------------------------------------------- connecting


@ccase(
    "client.connect.1",
    "§client.connect",
    MUST,
    "The pull client's first request is ProtocolVersion {ClientVersion:1}",
)
def _connect(ctx: CaseContext) -> None:
    run = run_client(ctx)
    expect_pv_first(ctx, run)
    if run.server.requests:
        first = run.server.requests[0]
        from ..wire import request

        want = request(RT.PROTOCOL_VERSION, ProtocolVersionRequest(1))
        ctx.check(
            first.raw == want,
            SHOULD,
            "ProtocolVersion request bytes differ from Go's (zero id, compact JSON)",
            show_json(want),
            show_json(first.raw),
        )


@ccase(
    "client.connect.2",
    "§client.connect",
    MUST,
    "A ProtocolVersion answered E(4): no further request, non-zero exit, state untouched",
)
def _connect_refused(ctx: CaseContext) -> None:
    run = run_client(
        ctx,
        faults={"PROTOCOL_VERSION": Refusal(ErrorId.PROTOCOL_VERSION_MISMATCH, "")},
    )
    expect_pv_first(ctx, run)
    extra = [s.name for s in run.server.requests[1:]]
    ctx.check(not extra, MUST, "requests after a refused ProtocolVersion", "none", extra)
    expect_exit(ctx, run, False, "the server refused the protocol version")
    expect_untouched(ctx, run, "it never connected")
    if run.server.ending.kind is not EndingKind.CLIENT_CLOSED:
        ctx.should(
            "the client should close the connection after the refusal",
            "end of input",
            str(run.server.ending),
        )


# ---------------------------------------------------------------- a whole pull


@ccase(
    "client.pull.initial.1",
    "§job.pull.initial",
    MUST,
    "Pull of a new dataset: the newest snapshot arrives with the server's GUID, exit 0",
)
def _pull_initial(ctx: CaseContext) -> None:
    run = run_client(ctx)
    expect_pv_first(ctx, run)
    expect_exit(ctx, run, True, "a plain initial pull")
    expect_received(ctx, run, SINK_TARGET, _newest_guids(ctx))
    others = {k: v for k, v in run.after.items() if k != SINK_TARGET}
    ctx.check(
        others == run.before,
        MUST,
        "datasets other than the target changed",
        "unchanged",
        sorted(set(others) ^ set(run.before)),
    )
    if SINK_TARGET in run.after:
        ro = state_property(run.live.state, SINK_TARGET, "readonly")
        ctx.check(
            ro == "on",
            SHOULD,
            "the original sets readonly=on after an initial receive (§job.pull.initial)",
            "on",
            ro,
        )


@ccase(
    "client.pull.sequence.1",
    "§job.pull",
    SHOULD,
    "A pull sends the original's requests: ProtocolVersion, Filesystem, versions, transfer, Close",
)
def _pull_sequence(ctx: CaseContext) -> None:
    run = run_client(ctx)
    compare_with_reference(ctx, run)
    fs = [s for s in run.server.requests if s.type == RT.FILESYSTEM]
    if fs:
        ctx.check(
            fs[0].body == FilesystemRequest(None),
            SHOULD,
            'the Filesystem request should be {"Roots":null}',
            "null",
            repr(fs[0].body),
        )
    inits = [s.body for s in run.server.requests if isinstance(s.body, InitialTransferRequest)]
    want = ctx.facts_for("demo").snapshot(VISIBLE, -1)
    if inits:
        ctx.check(
            inits[0].filesystem_version == want,
            SHOULD,
            "the InitialTransfer should carry the newest snapshot as received",
            repr(want),
            repr(inits[0].filesystem_version),
        )


@ccase(
    "client.boundaries.1",
    "§frame.boundaries",
    MUST,
    "Every response in 1-byte chunks, one write each: the pull still succeeds",
)
def _pull_byte_chunks(ctx: CaseContext) -> None:
    run = run_client(ctx, rechunk=1)
    expect_exit(ctx, run, True, "only the chunk boundaries were unusual")
    expect_received(ctx, run, SINK_TARGET, _newest_guids(ctx))


@ccase(
    "client.close.1",
    "§client.close",
    SHOULD,
    'The pull client ends with Close {"Goodbye":""} and reads its OK',
)
def _pull_close(ctx: CaseContext) -> None:
    run = run_client(ctx)
    expect_close(ctx, run)
    ctx.check(
        run.server.ending.kind is EndingKind.CLOSE_REQUEST,
        SHOULD,
        "the connection should end with the client's Close",
        "Close, OK, end",
        str(run.server.ending),
    )


@ccase(
    "client.pull.incremental.1",
    "§job.pull.incremental",
    MUST,
    "A client holding the first snapshot receives the later ones incrementally",
    fixture="sink-partial",
)
def _pull_incremental(ctx: CaseContext) -> None:
    run = run_client(ctx)
    expect_exit(ctx, run, True, "an incremental pull")
    guids = [v.guid for v in ctx.facts_for("demo").snapshots(VISIBLE)]
    expect_received(ctx, run, SINK_TARGET, guids)
    kinds = {s.name for s in run.transfers()}
    ctx.check(
        kinds == {"INCREMENTAL_TRANSFER"},
        SHOULD,
        "only incremental transfers expected",
        "INCREMENTAL_TRANSFER",
        sorted(kinds),
    )


@ccase(
    "client.diff.bookmark-preference.1",
    "§diff.bookmark-preference",
    SHOULD,
    "The first incremental step starts from the snapshot, not its same-GUID bookmark",
    fixture="sink-partial",
)
def _bookmark_pref(ctx: CaseContext) -> None:
    run = run_client(ctx)
    incr = [s.body for s in run.server.requests if isinstance(s.body, IncrementalTransferRequest)]
    if not incr:
        ctx.should("no incremental transfer requested", "IncrementalTransfer", run.types)
        return
    ctx.check(
        incr[0].from_version.type == "snapshot",
        SHOULD,
        "the first From should be the snapshot",
        "snapshot",
        incr[0].from_version.type,
    )


@ccase(
    "client.pull.in-sync.1",
    "§job.pull.in-sync",
    SHOULD,
    "A client already in sync requests no transfer and exits 0",
    fixture="sink-insync",
)
def _pull_in_sync(ctx: CaseContext) -> None:
    run = run_client(ctx)
    ctx.check(
        not run.transfers(),
        SHOULD,
        "transfers requested although in sync",
        "none",
        [s.name for s in run.transfers()],
    )
    expect_exit(ctx, run, True, "nothing to do")
    expect_untouched(ctx, run, "it was in sync")


@ccase(
    "client.pull.diverged.1",
    "§job.pull.diverged",
    MUST,
    "A diverged local dataset keeps its snapshots (no transfer should be requested)",
    fixture="sink-diverged",
)
def _pull_diverged(ctx: CaseContext) -> None:
    run = run_client(ctx, situations=frozenset({Situation.DIVERGED}))
    expect_untouched(ctx, run, "the local dataset had diverged")
    if run.transfers():
        ctx.should(
            "a diverged dataset should be reported without a transfer request",
            "no transfer",
            [s.name for s in run.transfers()],
        )


@ccase(
    "client.pull.existing.1",
    "§zfs.recv-rules",
    MUST,
    "An existing target without snapshots is not overwritten by a forced receive",
    fixture="sink-existing",
)
def _pull_existing(ctx: CaseContext) -> None:
    run = run_client(ctx)
    expect_untouched(ctx, run, "the target already existed")
    expect_exit(ctx, run, False, "the initial receive into an existing dataset must fail")


# ---------------------------------------------------------------- error responses


def _refused_case(
    cid: str,
    title: str,
    request_name: str,
    section: str = "§client.expect",
    fault: Fault | None = None,
) -> None:
    def run(ctx: CaseContext) -> None:
        r = run_client(ctx, faults={request_name: fault or Refusal()})
        expect_exit(ctx, r, False, f"the server refused {request_name}")
        expect_untouched(ctx, r, f"the server refused {request_name}")
        names = r.types
        after = names[names.index(request_name) + 1 :] if request_name in names else []
        bad = [n for n in after if n in ("INITIAL_TRANSFER", "INCREMENTAL_TRANSFER")]
        ctx.check(
            not bad,
            MUST,
            f"a transfer was requested after {request_name} failed",
            "no transfer",
            bad,
        )

    ccase(cid, section, MUST, title)(run)


_refused_case(
    "client.expect.1",
    "Filesystem answered E(5): no transfer, non-zero exit, untouched",
    "FILESYSTEM",
)
_refused_case(
    "client.expect.2",
    "Filesystem answered OK(0x01) (wrong type, no body): the call fails, non-zero exit",
    "FILESYSTEM",
    fault=WrongType(ResponseType.OK),
)
_refused_case(
    "client.expect.3",
    "FilesystemVersions answered E(5): no transfer, non-zero exit",
    "FILESYSTEM_VERSIONS",
)
_refused_case(
    "client.expect.4",
    "InitialTransfer answered E(5): non-zero exit, state untouched",
    "INITIAL_TRANSFER",
)
_refused_case(
    "client.expect.5",
    "FilesystemVersions answered FilesystemDiff-typed with a Filesystems body: refused",
    "FILESYSTEM_VERSIONS",
    fault=WrongType(ResponseType.FILESYSTEMS, body=b'[["pool","data"]]\n'),
)


@ccase(
    "client.expect.6",
    "§client.expect",
    INFO,
    "A header with the expected type but ErrorId 5 (the original looked at the type only)",
)
def _error_with_type(ctx: CaseContext) -> None:
    body = b'[["pool","data"]]\n'
    run = run_client(
        ctx,
        faults={"FILESYSTEM": WrongType(ResponseType.FILESYSTEMS, ErrorId.HANDLER, body)},
    )
    went_on = "FILESYSTEM_VERSIONS" in run.types
    ctx.note(
        "went on as if the answer were OK (the original's behaviour)"
        if went_on
        else "treated ErrorId 5 as a failure"
    )


@ccase(
    "client.request-id.1",
    "§msg.request-id",
    MUST,
    "Responses echoing non-zero RequestIds are accepted: the pull still succeeds",
)
def _request_ids(ctx: CaseContext) -> None:
    rid = bytes(range(200, 216))
    faults = {
        n: EchoId(rid)
        for n in ("PROTOCOL_VERSION", "FILESYSTEM", "FILESYSTEM_VERSIONS", "INITIAL_TRANSFER")
    }
    run = run_client(ctx, faults=faults)
    expect_exit(ctx, run, True, "only the RequestIds were unusual")
    expect_received(ctx, run, SINK_TARGET, _newest_guids(ctx))


@ccase(
    "client.filesystems-body.1",
    "§msg.filesystems-body",
    MUST,
    "A Filesystems body of null is the empty list: nothing to do, no failure",
)
def _fs_null(ctx: CaseContext) -> None:

    run = run_client(ctx, faults={"FILESYSTEM": RawBody(ResponseType.FILESYSTEMS, b"null\n")})
    expect_exit(ctx, run, True, "an empty list of datasets")
    expect_untouched(ctx, run, "there was nothing to pull")
    ctx.check(
        "FILESYSTEM_VERSIONS" not in run.types,
        MUST,
        "versions requested although no dataset was listed",
        "none",
        run.types,
    )


@ccase(
    "client.diff-body.1",
    "§msg.diff-body",
    MUST,
    "A FilesystemDiff body of null is the empty list: no transfer, no crash",
)
def _fsv_null(ctx: CaseContext) -> None:
    run = run_client(
        ctx, faults={"FILESYSTEM_VERSIONS": RawBody(ResponseType.FILESYSTEM_DIFF, b"null\n")}
    )
    ctx.check(
        not run.transfers(),
        MUST,
        "a transfer was requested for an empty version list",
        "none",
        [s.name for s in run.transfers()],
    )
    expect_untouched(ctx, run, "the server listed no versions")
    if run.info.kind in ("signal", "timeout"):
        ctx.must("the client crashed or hung on a null list", "exit", run.info.describe())


@ccase(
    "client.diff-body.2",
    "§msg.diff-body",
    SHOULD,
    "An unsorted FilesystemDiff body is refused as a failure of that dataset, not a crash",
)
def _fsv_unsorted(ctx: CaseContext) -> None:
    from ..wire import go_json, version_obj

    vs = list(reversed(ctx.facts_for("demo").versions(VISIBLE)))
    body = go_json([version_obj(v) for v in vs])
    run = run_client(
        ctx, faults={"FILESYSTEM_VERSIONS": RawBody(ResponseType.FILESYSTEM_DIFF, body)}
    )
    if run.info.kind in ("signal", "timeout"):
        ctx.should("the client crashed or hung on an unsorted list", "exit", run.info.describe())
    if run.transfers():
        ctx.should(
            "a transfer was requested from an unsorted version list",
            "none",
            [s.name for s in run.transfers()],
        )


# ---------------------------------------------------------------- broken streams


def _broken_stream(cid: str, title: str, fault: Fault, why: str) -> None:
    def run(ctx: CaseContext) -> None:
        r = run_client(ctx, faults={"INITIAL_TRANSFER": fault})
        expect_exit(ctx, r, False, why)
        expect_untouched(ctx, r, why)

    ccase(cid, "§client.transfer-drain", MUST, title)(run)


_broken_stream(
    "client.transfer-drain.1",
    "A send stream cut after complete chunks: non-zero exit, state untouched",
    TruncatedStream("boundary"),
    "the stream was truncated at a chunk boundary",
)
_broken_stream(
    "client.transfer-drain.2",
    "A send stream cut inside a chunk payload: non-zero exit, state untouched",
    TruncatedStream("payload"),
    "the stream was truncated inside a payload",
)
_broken_stream(
    "client.transfer-drain.3",
    "A send stream cut inside a chunk length: non-zero exit, state untouched",
    TruncatedStream("length"),
    "the stream was truncated inside a chunk length",
)
_broken_stream(
    "client.transfer-drain.6",
    "A whole send stream without its zero chunk, then EOF: non-zero exit, state untouched",
    TruncatedStream("complete"),
    "the stream's zero chunk never came (§deviations.truncated-payload)",
)
_broken_stream(
    "client.transfer-drain.7",
    "OK(0x20) and then the end of input, no stream at all: the transfer failed",
    TruncatedStream("empty"),
    "the server sent no stream (the original's failed zfs send)",
)
_broken_stream(
    "client.transfer-drain.4",
    "A server that stalls mid-stream, then dies: non-zero exit, state untouched",
    TruncatedStream("boundary", stall=0.5),
    "the server stalled and died",
)


@ccase(
    "client.transfer-drain.5",
    "§client.transfer-drain",
    MUST,
    "After a receive fails early, the client reads the rest of the stream (or closes)",
)
def _drain(ctx: CaseContext) -> None:
    corrupt = CorruptStream()
    faults: dict[str, Fault] = {"INITIAL_TRANSFER": corrupt}
    run = run_client(ctx, faults=faults)
    if corrupt.drained is False and not corrupt.drain_error:
        ctx.must(
            "the client stopped reading the send stream after its receive failed",
            "the stream read to its zero chunk, or the connection closed",
            "the suite could not write the rest of the stream",
        )
    expect_exit(ctx, run, False, "the stream was not a valid send stream")
    expect_untouched(ctx, run, "the stream was not a valid send stream")
    compare_with_reference(ctx, run, faults)


@ccase(
    "client.transfer-drain.8",
    "§client.transfer-drain",
    MUST,
    "After a failed receive the connection stays in step: the next dataset still arrives",
    profile="wide-pull-mapping",
)
def _drain_then_continue(ctx: CaseContext) -> None:
    # Requests: ProtocolVersion, Filesystem, FilesystemVersions, then #4 = the first
    # InitialTransfer (pool/data), corrupted here; pool/data/home follows. A client that
    # drained the bad stream goes on in step; one that did not reads the stream's tail as
    # the next response and loses the connection.
    run = run_client(ctx, faults={"#4": CorruptStream()})
    expect_exit(ctx, run, False, "the first send stream was not a valid send stream")
    newest = [ctx.facts_for("demo").snapshots("pool/data/home")[-1].guid]
    expect_received(ctx, run, "backup/zrepl/home", newest)


@ccase(
    "client.stall.1",
    "§deviations.timeouts",
    INFO,
    "A server that never answers the Filesystem request (does the client give up?)",
)
def _stall(ctx: CaseContext) -> None:
    ctx.deadline = min(ctx.deadline, time.monotonic() + 1.5)
    stall = Stall()
    run = run_client(ctx, faults={"FILESYSTEM": stall})
    if stall.client_gave_up:
        ctx.note(f"the client gave up by itself ({run.info.describe()})")
    else:
        ctx.note(
            "the client was still waiting after 1 s (like the original, which had no timeouts)"
        )


# ---------------------------------------------------------------- push (pull-me, client side)


def push_case(cid: str, section: str, level: Level, title: str) -> Callable[[CaseFunc], CaseFunc]:
    """A client-role case that starts the implementation's ``push`` command (it sends PullMe
    to the suite); the server side of pull-me is :func:`.pullme.pullme_case`."""
    return ccase(cid, section, level, title, needs="push")


def _pullme_seen(run: ClientCaseRun) -> Seen | None:
    return next((s for s in run.server.requests if s.type == RT.PULL_ME), None)


@push_case(
    "client.push.1",
    "§job.push",
    MUST,
    "A push: PullMe{Finished:false}, the suite pulls the client's data, Finished, exit 0",
)
def _push(ctx: CaseContext) -> None:
    run = run_client(ctx, "push")
    expect_pv_first(ctx, run)
    pm = _pullme_seen(run)
    if pm is None:
        ctx.must("no PullMe request", "PULL_ME", run.types)
        return
    ctx.check(
        isinstance(pm.body, PullMeRequest) and not pm.body.finished,
        MUST,
        "PullMe must carry Finished=false",
        "false",
        repr(pm.body),
    )
    pull = run.server.pull
    ctx.check(
        pull is not None and pull.ok,
        MUST,
        "the suite's pull from the client failed",
        "success",
        pull.detail if pull else "no pull",
    )
    if pull is not None and pull.ok:
        ctx.check(
            pull.finished_answer == "OK",
            MUST,
            "the client must answer Finished=true with OK(0x01) (§pullme.finished)",
            "OK",
            pull.finished_answer,
        )
        ctx.check(
            [g for _d, g in pull.received] == _newest_guids(ctx),
            MUST,
            "the suite did not receive the client's newest snapshot",
            _newest_guids(ctx),
            pull.received,
        )
    expect_exit(ctx, run, True, "the push succeeded")
    expect_close(ctx, run)


@push_case(
    "client.push.request.1",
    "§pullme.request",
    SHOULD,
    'The PullMe request is byte-exact: {"Finished":false,"InitialReplPolicy":"most_recent"}',
)
def _push_bytes(ctx: CaseContext) -> None:
    from ..wire import request

    run = run_client(ctx, "push")
    pm = _pullme_seen(run)
    want = request(RT.PULL_ME, PullMeRequest(False, "most_recent"))
    ctx.check(
        pm is not None and pm.raw == want,
        SHOULD,
        "PullMe bytes differ from the original's",
        show_json(want),
        show_json(pm.raw) if pm else "no PullMe",
    )


@push_case(
    "client.push.refused.1",
    "§pullme.client-success-quirk",
    MUST,
    "PullMe answered E(5): the push must fail (non-zero exit)",
)
def _push_refused(ctx: CaseContext) -> None:
    run = run_client(ctx, "push", faults={"PULL_ME": Refusal()})
    expect_exit(ctx, run, False, "the server refused the PullMe")


@push_case(
    "client.push.abandoned.1",
    "§pullme.client-success-quirk",
    MUST,
    "The puller closes after OK without Finished: the push must fail (non-zero exit)",
)
def _push_abandoned(ctx: CaseContext) -> None:
    run = run_client(ctx, "push", faults={"PULL_ME": PullerLeaves()})
    expect_exit(ctx, run, False, "the puller went away without Finished=true")


@push_case(
    "client.push.filter.1",
    "§pullme.serving",
    MUST,
    "The pushing client lists only the datasets its push filter admits",
)
def _push_filter(ctx: CaseContext) -> None:
    run = run_client(ctx, "push")
    log = run.live.log.data("iut>suite")
    ctx.check(
        b'"vol1"' not in log and b'"backup"' not in log,
        MUST,
        "the pushing client listed or sent a dataset outside its push filter",
        "only pool/data*",
        show_json(log[:2000]),
    )
    pull = run.server.pull
    ctx.check(
        pull is not None and pull.ok,
        MUST,
        "the suite's pull from the client failed",
        "success",
        pull.detail if pull else "no pull",
    )


@push_case(
    "client.push.no-sink.1",
    "§pullme.handler-failure",
    MUST,
    "A puller without a sink closes after OK: the push fails, the client's state is untouched",
)
def _push_no_sink(ctx: CaseContext) -> None:
    run = run_client(ctx, "push", sink=None)
    expect_exit(ctx, run, False, "the puller had no sink and closed")
    expect_untouched(ctx, run, "nothing was pulled")
