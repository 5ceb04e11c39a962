"""What every client case uses: starting the client against the scripted server, and the
expectations cases check afterwards (exit status, state, requests)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from bytestreamrpc.connection import Role
from bytestreamrpc.constants import RequestType
from bytestreamrpc.deviations import Observed, Situation
from bytestreamrpc.messages import (
    CloseRequest,
    ProtocolVersionRequest,
)
from fakes.mapping import parse_mapping
from fakes.reference import ReferenceHandler
from fakes.scripted import Fault, ScriptedServer, Seen, chooser
from fakes.zfs import FakeZfs
from iut.process import ExitStatus

from ...catalog import case
from ...context import CaseContext, LiveSession
from ...facts import snapshot_problem, state_listing
from ...model import CaseFunc, Level, Setup
from ...setups import SINK_TARGET, VISIBLE
from ...targets import Command
from ...wire import show_json

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


def newest_guids(ctx: CaseContext, n: int = 1) -> list[int]:
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
