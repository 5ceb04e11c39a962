"""Client cases of a push: PullMe, the suite pulling over the same connection, Finished, and a
puller that refuses, leaves or has no sink (§job.push, §pullme)."""

from __future__ import annotations

from collections.abc import Callable

from bytestreamrpc.messages import (
    PullMeRequest,
)
from fakes.scripted import Seen

from ...context import CaseContext
from ...faults import (
    PullerLeaves,
    Refusal,
)
from ...model import CaseFunc, Level
from ...wire import show_json
from .run import (
    MUST,
    RT,
    SHOULD,
    ClientCaseRun,
    ccase,
    expect_close,
    expect_exit,
    expect_pv_first,
    expect_untouched,
    newest_guids,
    run_client,
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
            [g for _d, g in pull.received] == newest_guids(ctx),
            MUST,
            "the suite did not receive the client's newest snapshot",
            newest_guids(ctx),
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
    from ...wire import request

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
