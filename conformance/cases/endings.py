"""How a connection ends, observed with the suite's side still open (issue 12).

The ``server`` cases of :mod:`conformance.cases.server` close the suite's sending side right
after their script, so a server that answers correctly but never closes its own side (it
waits for the client to hang up first) looks exactly like the original there. A real client
that waits for the close — the original's job after Close, an SSH peer waiting for
``stdinserver`` to exit — hangs on such a server.

Every case here keeps the suite's side open (``*.held.N``, select them with ``-k held``):

* a row whose ending is **close** or **return** (§server.loop: a ``stdinserver`` exits after
  a return, so its peer sees end of input as after a close) requires the answers of the
  row and then end of input within the case's time: a server still open at the deadline is a
  MUST failure ("the connection was not closed", :func:`conformance.judge.compare`);
* a row whose ending is **continue** requires the answer *and* the answer to a further
  request while the suite's side stays open — a server that waits for end of input before
  answering, or closes once the answers are out, fails — and then, after the suite closes,
  the usual end (§server.header.eof).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from bytestreamrpc.connection import Role
from bytestreamrpc.errors import ConnectionClosed, PeerTimeout
from fakes.scripted import EndingKind
from iut.process import ExitStatus

from ..catalog import add, case
from ..context import ORACLE_TIMEOUT, CaseContext
from ..exchange import Exchange
from ..faults import Holding, OkThenClose, Refusal
from ..judge import DEFAULT, Rules, compare, observed
from ..model import Case, Level, Setup
from ..setups import HIDDEN, VISIBLE
from ..wire import ResponseFrame, chunked, go_json, parse_responses, request, version_obj
from ..wirelog import LoggedTransport
from .client import ClientCaseRun, expect_exit, expect_untouched, run_client
from .common import (
    CLOSE,
    FS,
    PROBE,
    PV,
    RID,
    RT,
    Alternative,
    after_first,
    check_process,
    error5_or_close,
    fsv_body,
    incr_body,
    init_body,
    standard,
)
from .server import missing_snapshot, refused_pullme

F: Final = "server"
MUST, SHOULD = Level.MUST, Level.SHOULD
KEEPS_GOING: Final = Rules(extra=MUST, missing=MUST)
LINGER: Final = 0.25
"""Seconds a continue case waits, after the answers it needs, for a premature close."""
NOT_CLOSED: Final = "the connection was not closed"
"""How :func:`conformance.judge.compare` starts its finding for a server still open."""


class Then(enum.Enum):
    """The row's ending (§server.loop)."""

    CLOSE = "close"
    RETURN = "return"
    CONTINUE = "continue"


ScriptOf = Callable[[CaseContext], bytes]


@dataclass(frozen=True)
class Held:
    """One case: a row of §server.summary, its script and how the connection must end."""

    id: str
    section: str
    level: Level
    title: str
    then: Then
    script: ScriptOf
    rules: Rules = DEFAULT
    alternative: Alternative | None = None
    setup: Setup = field(default_factory=Setup)
    answers: int = 0
    """Continue rows: the complete answers expected while the suite's side is open."""


# ------------------------------------------------------------------ exchanges held open


def _complete(frames: list[ResponseFrame]) -> int:
    return sum(1 for f in frames if f.body_stream is None or f.body_stream.complete)


def _read_open(
    transport: LoggedTransport, raw: list[bytes], deadline: float, answers: int, linger: float
) -> bool:
    """Read (our side open) until ``answers`` complete answers and ``linger`` s of silence,
    end of input (returns True) or the deadline (returns False)."""
    enough_at: float | None = None
    while True:
        now = time.monotonic()
        if enough_at is None and _complete(parse_responses(b"".join(raw))[0]) >= answers:
            enough_at = now
        stop = deadline if enough_at is None else min(deadline, enough_at + linger)
        if stop - now <= 0:
            return False
        try:
            data = transport.read(1 << 20, stop - now)
        except PeerTimeout:
            return False
        except OSError:
            data = b""
        if not data:
            return True
        raw.append(data)


def held_continue(
    transport: LoggedTransport, script: bytes, deadline: float, answers: int, linger: float
) -> tuple[Exchange, bool]:
    """Write ``script`` with our side open, read ``answers`` answers (and ``linger`` s more),
    then close our side and read to the end. Returns the exchange and whether the server
    closed while our side was still open."""
    errors: list[str] = []

    def write() -> None:
        try:
            transport.write(script, max(0.05, deadline - time.monotonic()))
        except (ConnectionClosed, PeerTimeout, OSError) as exc:
            errors.append(str(exc))

    writer = threading.Thread(target=write, daemon=True, name="held-writer")
    writer.start()
    raw: list[bytes] = []
    closed_early = _read_open(transport, raw, deadline, answers, linger)
    writer.join(max(0.0, min(1.0, deadline - time.monotonic())))
    ending = "eof" if closed_early else "timeout"
    if not closed_early:
        transport.log.mark("suite closes its sending side")
        with contextlib.suppress(OSError):
            transport.close_write()
        ending = "eof" if _read_open(transport, raw, deadline, 1 << 30, 0.0) else "timeout"
    data = b"".join(raw)
    frames, incomplete = parse_responses(data)
    return Exchange(data, frames, incomplete, ending, "; ".join(errors)), closed_early


def _run_continue(ctx: CaseContext, row: Held) -> None:
    script = row.script(ctx)
    live = ctx.start("server", row.setup)
    got, closed_early = held_continue(live.transport, script, ctx.deadline, row.answers, LINGER)
    info: ExitStatus = live.finish(1.0 if got.closed else 0.3)
    oracle = ctx.start_reference_live("server", row.setup)
    ref, _ = held_continue(
        oracle.transport, script, time.monotonic() + ORACLE_TIMEOUT, row.answers, 0.0
    )
    ref_info = oracle.finish(5.0)
    since = len(ctx.findings)
    if closed_early:
        ctx.must(
            f"the server closed while the suite's side was open ({row.section}: continue); "
            "the client's next request would find the connection gone",
            f"{row.answers} answer(s), then the connection stays open",
            got.summary(),
        )
    compare(ctx, got, ref, row.rules)
    check_process(ctx, info, ref_info)
    ctx.consult_deviations(since, observed(ref, script), observed(got, script), "server")


def _run_closing(ctx: CaseContext, row: Held) -> None:
    since = len(ctx.findings)
    standard(ctx, row.script(ctx), row.rules, close=False, alternative=row.alternative)
    if row.then is Then.RETURN:
        _soften_open_end(ctx, since, row.section)


def _soften_open_end(ctx: CaseContext, since: int, section: str) -> None:
    """After a *return* row, staying open is SHOULD, not MUST: the spec asks to end the
    loop only as a SHOULD (the original's puller goes on sending requests after such an
    error, so a server still serving hangs nobody), while a ``stdinserver`` exits there."""
    for i in range(since, len(ctx.findings)):
        f = ctx.findings[i]
        if f.level is Level.MUST and f.what.startswith(NOT_CLOSED):
            ctx.findings[i] = dataclasses.replace(
                f, level=SHOULD, what=f"{f.what}; after {section} the loop SHOULD return"
            )


def _register(row: Held) -> None:
    def run(ctx: CaseContext) -> None:
        if row.then is Then.CONTINUE:
            _run_continue(ctx, row)
        else:
            _run_closing(ctx, row)

    run.__name__ = run.__qualname__ = "held_" + row.id.replace(".", "_").replace("-", "_")
    add(Case(row.id, row.section, row.level, Role.SERVER, row.title, F, run, row.setup))


# ------------------------------------------------------------------ scripts


def _const(data: bytes) -> ScriptOf:
    return lambda _ctx: data


def _init(ctx: CaseContext) -> bytes:
    return request(RT.INITIAL_TRANSFER, init_body(ctx.facts), RID)


def _init_hidden(ctx: CaseContext) -> bytes:
    return request(RT.INITIAL_TRANSFER, init_body(ctx.facts, HIDDEN, 0), RID)


def _incr(ctx: CaseContext) -> bytes:
    return request(RT.INCREMENTAL_TRANSFER, incr_body(ctx.facts), RID)


def _incr_hidden(ctx: CaseContext) -> bytes:
    hidden = version_obj(ctx.facts.snapshot(HIDDEN, 0))
    body = go_json({"Filesystem": HIDDEN.split("/"), "From": hidden, "To": hidden})
    return request(RT.INCREMENTAL_TRANSFER, body, RID)


def _crash(ctx: CaseContext) -> bytes:
    body = init_body(ctx.facts).replace(b'"snapshot"', b'"foo"')
    return PV + request(RT.INITIAL_TRANSFER, body, RID)


def _fsv(path: str) -> ScriptOf:
    return _const(request(RT.FILESYSTEM_VERSIONS, fsv_body(path), RID))


def _missing_snapshot(ctx: CaseContext) -> None:
    missing_snapshot(ctx, close=False)


PULLME_FINISHED: Final = request(RT.PULL_ME, b'{"Finished":true,"InitialReplPolicy":""}\n', RID)
PULLME_BAD_IDENTITY: Final = request(
    RT.PULL_ME, b'{"Finished":false,"InitialReplPolicy":"most_recent"}\n', RID
)
CLOSES: Final = Rules(extra=MUST)

# ------------------------------------------------------------------ the rows

ROWS: Final = (
    # ---- close
    Held(
        "server.header.decode-error.held.1",
        "§server.header.decode-error",
        MUST,
        "A header that is not JSON, our side open: E(1), then the server closes by itself",
        Then.CLOSE,
        _const(chunked(b"xyz\n")),
        CLOSES,
    ),
    Held(
        "server.header.decode-error.held.2",
        "§server.header.decode-error",
        MUST,
        'After ProtocolVersion OK, a header {"Type":256} with our side open: E(1), then close',
        Then.CLOSE,
        _const(PV + chunked(b'{"Type":256}\n')),
        CLOSES,
    ),
    Held(
        "server.unknown-type.held.1",
        "§server.unknown-type",
        MUST,
        "Request type 0x42, our side open: E(2), then the server closes by itself",
        Then.CLOSE,
        _const(request(0x42, b"{}\n", RID)),
    ),
    Held(
        "server.pv.decode-error.held.1",
        "§server.pv.decode-error",
        MUST,
        'ProtocolVersion {"ClientVersion":"1"}, our side open: E(3), then close',
        Then.CLOSE,
        _const(request(RT.PROTOCOL_VERSION, b'{"ClientVersion":"1"}\n', RID)),
    ),
    Held(
        "server.pv.mismatch.held.1",
        "§server.pv.mismatch",
        MUST,
        "ClientVersion 2, our side open: E(4), then the server closes by itself",
        Then.CLOSE,
        _const(request(RT.PROTOCOL_VERSION, b'{"ClientVersion":2}\n', RID)),
    ),
    Held(
        "server.close.ok.held.1",
        "§server.close.ok",
        MUST,
        "Close with our side open: OK(0x01), then the server closes (a client waits for it)",
        Then.CLOSE,
        _const(PV + CLOSE),
        KEEPS_GOING,
    ),
    Held(
        "server.close.decode-error.held.1",
        "§server.close.decode-error",
        MUST,
        "A Close body [] with our side open: E(3), then the server closes by itself",
        Then.CLOSE,
        _const(request(RT.CLOSE, b"[]\n", RID)),
    ),
    Held(
        "server.fs.decode-error.held.1",
        "§server.fs.decode-error",
        MUST,
        'Filesystem body {"Roots":1}, our side open: E(3), then the server closes by itself',
        Then.CLOSE,
        _const(request(RT.FILESYSTEM, b'{"Roots":1}\n', RID)),
    ),
    Held(
        "server.fs.handler-error.held.1",
        "§server.fs.handler-error",
        MUST,
        "Filesystem without a pull ACL, our side open: E(5) or nothing, then close",
        Then.CLOSE,
        _const(PV + FS),
        alternative=after_first(error5_or_close("no pull ACL")),
        setup=Setup(profile="no-acl"),
    ),
    Held(
        "server.fsv.decode-error.held.1",
        "§server.fsv.decode-error",
        MUST,
        "FilesystemVersions body [1] path, our side open: E(3), the loop returns, the end",
        Then.RETURN,
        _const(request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":[1]}\n', RID)),
    ),
    Held(
        "server.fsv.handler-error.held.1",
        "§server.fsv.handler-error",
        MUST,
        "FilesystemVersions outside the ACL, our side open: E(5), the loop returns, the end",
        Then.RETURN,
        _fsv(HIDDEN),
    ),
    Held(
        "server.init.decode-error.held.1",
        "§server.init.decode-error",
        MUST,
        'InitialTransfer body {"Filesystem":{}}, our side open: E(3), then close',
        Then.CLOSE,
        _const(request(RT.INITIAL_TRANSFER, b'{"Filesystem":{}}\n', RID)),
    ),
    Held(
        "server.init.handler-error.held.1",
        "§server.init.handler-error",
        MUST,
        "InitialTransfer outside the ACL, our side open: E(5), then the server closes",
        Then.CLOSE,
        _init_hidden,
    ),
    Held(
        "server.incr.decode-error.held.1",
        "§server.incr.decode-error",
        MUST,
        'IncrementalTransfer body {"From":[]}, our side open: E(3), then close',
        Then.CLOSE,
        _const(request(RT.INCREMENTAL_TRANSFER, b'{"From":[]}\n', RID)),
    ),
    Held(
        "server.pullme.decode-error.held.1",
        "§server.pullme.decode-error",
        MUST,
        'PullMe body {"Finished":"yes"}, our side open: E(3), then the server closes',
        Then.CLOSE,
        _const(request(RT.PULL_ME, b'{"Finished":"yes"}\n', RID)),
    ),
    Held(
        "server.pullme.finished.held.1",
        "§server.pullme.finished",
        MUST,
        "PullMe Finished=true, our side open: OK(0x01), the loop returns, the server exits",
        Then.RETURN,
        _const(PV + PULLME_FINISHED),
        Rules(missing=MUST),
    ),
    Held(
        "server.pullme.bad-identity.held.1",
        "§server.pullme.bad-identity",
        SHOULD,
        'PullMe from identity "local", our side open: OK(0x01), then the server closes',
        Then.CLOSE,
        _const(PULLME_BAD_IDENTITY),
        alternative=refused_pullme,
        setup=Setup(profile="local-identity"),
    ),
    Held(
        "server.handler-crash.held.1",
        "§server.handler-crash",
        MUST,
        'A transfer of version Type "foo", our side open: E(5) or nothing, then close',
        Then.CLOSE,
        _crash,
        alternative=after_first(error5_or_close("unknown version type")),
    ),
    # ---- continue
    Held(
        "server.pv.ok.held.1",
        "§server.pv.ok",
        MUST,
        "ProtocolVersion with our side open: OK, and a further request is answered",
        Then.CONTINUE,
        _const(PV + PROBE),
        KEEPS_GOING,
        answers=2,
    ),
    Held(
        "server.fs.ok.held.1",
        "§server.fs.ok",
        MUST,
        "Filesystem with our side open: the list, and a further request is answered",
        Then.CONTINUE,
        _const(PV + FS + PROBE),
        KEEPS_GOING,
        answers=3,
    ),
    Held(
        "server.fsv.ok.held.1",
        "§server.fsv.ok",
        MUST,
        "FilesystemVersions with our side open: the list, and a further request is answered",
        Then.CONTINUE,
        lambda _ctx: request(RT.FILESYSTEM_VERSIONS, fsv_body(VISIBLE), RID) + PROBE,
        KEEPS_GOING,
        answers=2,
    ),
    Held(
        "server.init.ok.held.1",
        "§server.init.ok",
        MUST,
        "InitialTransfer with our side open: the stream, and a further request is answered",
        Then.CONTINUE,
        lambda ctx: _init(ctx) + PROBE,
        KEEPS_GOING,
        answers=2,
    ),
    Held(
        "server.incr.ok.held.1",
        "§server.incr.ok",
        MUST,
        "IncrementalTransfer with our side open: the stream, and a further request is answered",
        Then.CONTINUE,
        lambda ctx: _incr(ctx) + PROBE,
        KEEPS_GOING,
        answers=2,
    ),
    Held(
        "server.incr.handler-error.held.1",
        "§server.incr.handler-error",
        MUST,
        "IncrementalTransfer outside the ACL with our side open: E(5), the next request answered",
        Then.CONTINUE,
        lambda ctx: _incr_hidden(ctx) + PROBE,
        KEEPS_GOING,
        answers=2,
    ),
)

for _row in ROWS:
    _register(_row)

add(
    Case(
        "server.stream-failure.held.1",
        "§server.stream-failure",
        MUST,
        Role.SERVER,
        "A transfer of a missing snapshot, our side open: no complete-looking stream, close",
        F,
        _missing_snapshot,
    )
)


# ------------------------------------------------------------------ the client role


def _expect_closed(ctx: CaseContext, run: ClientCaseRun, held: Holding, after: str) -> None:
    """The client ended the connection itself: after the OK to its Close (which the suite
    answers, then holds), or by hanging up without one."""
    if held.outcome == "open":
        ctx.must(
            f"the client did not close the connection {after} while the suite kept its side "
            "open: a client that waits for the server to close hangs",
            "end of input from the client",
            "still open until the suite gave up",
        )
    elif held.outcome is None and run.server.ending.kind is EndingKind.TIMEOUT:
        ctx.must(
            f"the client neither sent Close nor closed the connection {after}",
            "Close, or end of input from the client",
            str(run.server.ending),
        )
    elif held.outcome is None:
        ctx.note(f"no Close request; the connection ended so: {run.server.ending}")


@case(
    "client.close.held.1",
    "§client.close",
    MUST,
    "Close answered OK and the suite keeps the connection: the client closes it and exits 0",
    family="client",
    role=Role.CLIENT,
    needs="pull",
)
def _client_close_held(ctx: CaseContext) -> None:
    held = Holding(OkThenClose())
    run = run_client(ctx, faults={"CLOSE": held})
    _expect_closed(ctx, run, held, "after Close's OK")
    expect_exit(ctx, run, True, "the pull succeeded and Close was answered OK")


@case(
    "client.expect.held.1",
    "§client.expect",
    MUST,
    "Filesystem answered E(5), the suite keeps the connection: the job fails and ends it",
    family="client",
    role=Role.CLIENT,
    needs="pull",
)
def _client_error_held(ctx: CaseContext) -> None:
    held = Holding(OkThenClose())
    run = run_client(ctx, faults={"FILESYSTEM": Refusal(), "CLOSE": held})
    if "FILESYSTEM" not in run.types:
        ctx.must("the client sent no Filesystem request", "FILESYSTEM", " ".join(run.types))
    _expect_closed(ctx, run, held, "after the error that ended its job")
    expect_exit(ctx, run, False, "the server refused the Filesystem request")
    expect_untouched(ctx, run, "the listing was refused")
