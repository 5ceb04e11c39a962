"""Server rows of the transfer requests (InitialTransfer, IncrementalTransfer: only their
table rows here, the streams are family ``transfer``) and of PullMe (§server.pullme.*)."""

from __future__ import annotations

from ...catalog import case
from ...context import CaseContext
from ...exchange import Exchange
from ...judge import Rules
from ...model import Setup
from ...setups import HIDDEN, VISIBLE
from ...wire import go_json, request, version_obj
from ..common import (
    FS,
    PROBE,
    PV,
    RID,
    RT,
    incr_body,
    init_body,
    standard,
)
from .rules import KEEPS_GOING, MUST, SHOULD, F

# ---------------------------------------------------------------- transfers (rows only)


@case(
    "server.init.ok.1",
    "§server.init.ok",
    MUST,
    "InitialTransfer is answered OK(0x20) + the send stream, and the server goes on",
    family=F,
)
def _init_ok(ctx: CaseContext) -> None:
    standard(ctx, request(RT.INITIAL_TRANSFER, init_body(ctx.facts), RID) + PROBE, KEEPS_GOING)


@case(
    "server.init.decode-error.1",
    "§server.init.decode-error",
    MUST,
    'InitialTransfer body {"Filesystem":{}} is E(3, ""), then close',
    family=F,
)
def _init_bad(ctx: CaseContext) -> None:
    standard(ctx, request(RT.INITIAL_TRANSFER, b'{"Filesystem":{}}\n', RID) + PROBE)


@case(
    "server.init.handler-error.1",
    "§server.init.handler-error",
    MUST,
    "InitialTransfer of a dataset outside the ACL is E(5), then close",
    family=F,
)
def _init_hidden(ctx: CaseContext) -> None:
    body = init_body(ctx.facts, HIDDEN, 0)
    standard(ctx, request(RT.INITIAL_TRANSFER, body, RID) + PROBE)


@case(
    "server.incr.ok.1",
    "§server.incr.ok",
    MUST,
    "IncrementalTransfer is answered OK(0x20) + the stream, and the server goes on",
    family=F,
)
def _incr_ok(ctx: CaseContext) -> None:
    standard(ctx, request(RT.INCREMENTAL_TRANSFER, incr_body(ctx.facts), RID) + PROBE, KEEPS_GOING)


@case(
    "server.incr.decode-error.1",
    "§server.incr.decode-error",
    MUST,
    'IncrementalTransfer body {"From":[]} is E(3, ""), then close',
    family=F,
)
def _incr_bad(ctx: CaseContext) -> None:
    standard(ctx, request(RT.INCREMENTAL_TRANSFER, b'{"From":[]}\n', RID) + PROBE)


@case(
    "server.incr.handler-error.1",
    "§server.incr.handler-error",
    MUST,
    "IncrementalTransfer outside the ACL is E(5) and the server goes ON serving",
    family=F,
)
def _incr_hidden(ctx: CaseContext) -> None:
    hidden = ctx.facts.snapshot(HIDDEN, 0)
    body = go_json(
        {"Filesystem": HIDDEN.split("/"), "From": version_obj(hidden), "To": version_obj(hidden)}
    )
    standard(ctx, request(RT.INCREMENTAL_TRANSFER, body, RID) + PROBE, KEEPS_GOING)


@case(
    "server.incr.handler-error.2",
    "§server.incr.handler-error",
    MUST,
    "After an IncrementalTransfer error a following transfer on the connection works",
    family=F,
)
def _incr_then_ok(ctx: CaseContext) -> None:
    facts = ctx.facts
    to = facts.snapshot(VISIBLE, 1)
    body = go_json(
        {"Filesystem": HIDDEN.split("/"), "From": version_obj(to), "To": version_obj(to)}
    )
    standard(
        ctx,
        request(RT.INCREMENTAL_TRANSFER, body, RID)
        + request(RT.INCREMENTAL_TRANSFER, incr_body(facts, VISIBLE, 0, 1), RID)
        + PROBE,
        KEEPS_GOING,
    )


# ---------------------------------------------------------------- pull-me rows


@case(
    "server.pullme.decode-error.1",
    "§server.pullme.decode-error",
    MUST,
    'PullMe body {"Finished":"yes"} is E(3, decoder text), then close',
    family=F,
)
def _pullme_bad(ctx: CaseContext) -> None:
    standard(ctx, request(RT.PULL_ME, b'{"Finished":"yes"}\n', RID) + PROBE)


@case(
    "server.pullme.finished.1",
    "§server.pullme.finished",
    MUST,
    "PullMe Finished=true is answered OK(0x01); the loop returns (the server exits)",
    family=F,
)
def _pullme_finished(ctx: CaseContext) -> None:
    standard(
        ctx,
        PV + request(RT.PULL_ME, b'{"Finished":true,"InitialReplPolicy":""}\n', RID) + PROBE,
        Rules(missing=MUST),
    )


@case(
    "server.pullme.finished.2",
    "§server.pullme.finished",
    MUST,
    "Listing, then PullMe Finished=true: the loop returns as a success (exit status 0)",
    family=F,
)
def _pullme_finished_after_listing(ctx: CaseContext) -> None:
    # what decides the exit status is the *last* outcome (Finished), not an earlier one
    standard(
        ctx,
        PV + FS + request(RT.PULL_ME, b'{"Finished":true,"InitialReplPolicy":""}\n', RID) + PROBE,
        Rules(missing=MUST),
    )


@case(
    "server.pullme.finished.3",
    "§server.pullme.finished",
    MUST,
    "PullMe Finished=true followed by a byte 0xFF in its body: still Finished, OK(0x01), exit 0",
    family=F,
)
def _pullme_finished_trailing_byte(ctx: CaseContext) -> None:
    # Go decodes the first value and ignores what follows it in the message (§json.first-value)
    body = b'{"Finished":true,"InitialReplPolicy":""}\xff\n'
    standard(ctx, PV + request(RT.PULL_ME, body, RID) + PROBE, Rules(missing=MUST))


@case(
    "server.pullme.ok.2",
    "§json.decode.null",
    MUST,
    "A PullMe body without Finished is Finished=false: OK(0x01), then the server's pull begins",
    family=F,
)
def _pullme_without_finished(ctx: CaseContext) -> None:
    # the server's first request of its pull (Filesystem) follows its OK; we then close
    body = b'{"InitialReplPolicy":"most_recent"}\n'
    standard(ctx, PV + request(RT.PULL_ME, body, RID))


@case(
    "server.pullme.bad-identity.1",
    "§server.pullme.bad-identity",
    SHOULD,
    'PullMe from identity "local": OK(0x01), then close without another byte',
    family=F,
    setup=Setup(profile="local-identity"),
)
def _pullme_local(ctx: CaseContext) -> None:
    body = b'{"Finished":false,"InitialReplPolicy":"most_recent"}\n'
    standard(ctx, request(RT.PULL_ME, body, RID) + PROBE, alternative=refused_pullme)


def refused_pullme(ctx: CaseContext, got: Exchange, ref: Exchange) -> bool:
    """A refused pull-me (E(5), then close): NON-STRICT, the original answers OK first."""
    first = got.responses[0] if got.responses else None
    if first is not None and first.error_id == 5 and len(got.responses) == 1 and got.closed:
        ctx.should(
            "refused pull-me with E(5) instead of the original's OK + close "
            "(§server.pullme.bad-identity: NON-STRICT)",
            ref.summary(),
            got.summary(),
        )
        return True
    return False
