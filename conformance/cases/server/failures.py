"""Server rows where something fails mid-request: the peer going away during a send stream
(§server.write-error), a handler crash (§server.handler-crash) and a send that fails after
its answer began (§server.stream-failure)."""

from __future__ import annotations

from bytestreamrpc.errors import ConnectionClosed, PeerTimeout

from ...catalog import case
from ...context import CaseContext
from ...judge import Rules
from ...wire import request
from ..common import (
    PROBE,
    PV,
    RID,
    RT,
    after_first,
    check_process,
    error5_or_close,
    init_body,
    standard,
)
from .rules import INFO, MUST, F

# ---------------------------------------------------------------- failures


@case(
    "server.write-error.1",
    "§server.write-error",
    MUST,
    "A client that disconnects during a send stream: the server stops and exits",
    family=F,
)
def _write_error(ctx: CaseContext) -> None:
    live = ctx.start()
    t = live.transport
    try:
        t.write(PV + request(RT.INITIAL_TRANSFER, init_body(ctx.facts), RID), ctx.remaining())
        t.read(64, ctx.remaining())  # the first bytes of the answer
    except (ConnectionClosed, PeerTimeout, OSError) as exc:
        ctx.must("no answer to ProtocolVersion + InitialTransfer", "OK responses", str(exc))
    t.close()
    live.log.mark("suite closed the connection in the middle of the answer")
    info = live.finish()
    if info.kind == "timeout":
        ctx.must("the server did not stop after its peer went away", "exit", info.describe())
    check_process(ctx, info)


@case(
    "server.handler-crash.1",
    "§server.handler-crash",
    MUST,
    'A transfer of version Type "foo": E(5) or a close without a partial response',
    family=F,
)
def _bad_version_type(ctx: CaseContext) -> None:
    body = init_body(ctx.facts).replace(b'"snapshot"', b'"foo"')
    standard(
        ctx,
        PV + request(RT.INITIAL_TRANSFER, body, RID) + PROBE,
        alternative=after_first(error5_or_close("unknown version type")),
    )


@case(
    "server.stream-failure.1",
    "§server.stream-failure",
    MUST,
    "A transfer of a missing snapshot never ends with a terminated (complete-looking) stream",
    family=F,
)
def _missing_snapshot(ctx: CaseContext) -> None:
    missing_snapshot(ctx, close=True)


def missing_snapshot(ctx: CaseContext, *, close: bool) -> None:
    """InitialTransfer of a missing snapshot; ``close=False`` keeps the suite's side open,
    so the server itself must end the connection (§server.stream-failure: close)."""
    body = init_body(ctx.facts).replace(b'"zrepl_', b'"nosuch_')
    script = request(RT.INITIAL_TRANSFER, body, RID) + (PROBE if close else b"")
    got, info = ctx.exchange(script, close=close)
    ref, ref_info = ctx.reference_exchange(script, close=close)
    check_process(ctx, info, ref_info)
    first = got.responses[0] if got.responses else None
    if first is not None and first.error_id == 5:
        ctx.note("answered E(5) before any stream (the reference's behaviour)")
        from ...judge import compare

        compare(ctx, got, ref, Rules(text=INFO))
    elif first is not None and first.is_stream and not first.complete and got.closed:
        ctx.note("OK(0x20), then closed without the zero chunk (the original's behaviour)")
    elif not got.responses and got.closed and got.incomplete is None:
        ctx.note("closed without any response")
    else:
        ctx.must(
            "a failed send must be E(5) or OK(0x20) followed by a close WITHOUT the zero "
            "chunk (§server.stream-failure)",
            ref.summary(),
            got.summary(),
        )
