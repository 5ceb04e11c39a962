"""Client cases of a whole pull: connecting, initial, incremental, in-sync, diverged, existing."""

from __future__ import annotations

from bytestreamrpc.constants import ErrorId
from bytestreamrpc.deviations import Situation
from bytestreamrpc.messages import (
    FilesystemRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
)
from fakes.scripted import EndingKind

from ...context import CaseContext
from ...facts import state_property
from ...faults import (
    Refusal,
)
from ...setups import SINK_TARGET, VISIBLE
from ...wire import show_json
from .run import (
    MUST,
    RT,
    SHOULD,
    ccase,
    compare_with_reference,
    expect_close,
    expect_exit,
    expect_pv_first,
    expect_received,
    expect_untouched,
    newest_guids,
    run_client,
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
        from ...wire import request

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
    expect_received(ctx, run, SINK_TARGET, newest_guids(ctx))
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
    expect_received(ctx, run, SINK_TARGET, newest_guids(ctx))


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
