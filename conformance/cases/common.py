"""Building blocks the case families share: request bytes from fixture facts, the standard
differential run, and checks of how a server process ended."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Final

from bytestreamrpc.constants import RequestType
from iut.process import ExitStatus

from ..context import CaseContext
from ..exchange import Exchange, Script
from ..facts import FixtureFacts
from ..judge import DEFAULT, Rules, compare, observed
from ..model import Level
from ..setups import VISIBLE
from ..wire import go_json, request, version_obj

RT = RequestType
RID: Final = bytes(range(1, 17))
"""A non-zero request id: success responses echo it (§msg.request-id), errors zero it."""
PROBE_ID: Final = bytes([0xA5] * 16)
PROBE: Final = request(RT.PROTOCOL_VERSION, b'{"ClientVersion":1}\n', PROBE_ID)
"""A ProtocolVersion request appended to scripts: answered only if the server went on."""
PV: Final = request(RT.PROTOCOL_VERSION, b'{"ClientVersion":1}\n', RID)
CLOSE: Final = request(RT.CLOSE, b'{"Goodbye":""}\n', RID)
FS: Final = request(RT.FILESYSTEM, b'{"Roots":null}\n', RID)


def path_json(dataset: str) -> bytes:
    return json.dumps(dataset.split("/")).replace(" ", "").encode()


def fsv_body(dataset: str = VISIBLE) -> bytes:
    return b'{"Filesystem":%s}\n' % path_json(dataset)


def init_body(facts: FixtureFacts, dataset: str = VISIBLE, index: int = -1) -> bytes:
    v = facts.snapshot(dataset, index)
    return go_json({"Filesystem": dataset.split("/"), "FilesystemVersion": version_obj(v)})


def incr_body(facts: FixtureFacts, dataset: str = VISIBLE, frm: int = 0, to: int = -1) -> bytes:
    a, b = facts.snapshot(dataset, frm), facts.snapshot(dataset, to)
    return go_json({"Filesystem": dataset.split("/"), "From": version_obj(a), "To": version_obj(b)})


def check_process(ctx: CaseContext, info: ExitStatus, ref: ExitStatus | None = None) -> None:
    """A server process ends on its own, not by a signal, with the exit status the spec gives
    for how its loop ended (§server.loop: 0 after a close or a finished pull-me, non-zero
    after a returned error), which is what its SSH peer sees. The status is a SHOULD: a
    caller that consults §deviations does so after this check, so an original behaviour
    listed there (a handler's panic) is reported as that row, not as a wrong status."""
    if info.kind == "signal" and info.returncode == -13:
        ctx.note(
            "the process ended by SIGPIPE writing to a peer that had gone (how a Go "
            "program ends on a broken stdout): it stopped and closed"
        )
    elif info.kind == "signal":
        ctx.must(
            "the server process died from a signal (§server.handler-crash: MUST NOT crash)",
            "a normal exit",
            info.describe(),
        )
    elif info.kind == "timeout":
        ctx.should(
            "the server process did not exit after its connection ended", "exit", info.describe()
        )
    elif (
        ref is not None
        and info.returncode is not None
        and ref.returncode is not None
        and (info.returncode == 0) != (ref.returncode == 0)
    ):
        ctx.should(
            "the exit status after the loop ended is not the one §server.loop gives "
            "(an SSH peer sees it)",
            f"exit status {'0' if ref.returncode == 0 else 'non-zero'}",
            f"exit status {info.returncode}",
        )


Alternative = Callable[[CaseContext, Exchange, Exchange], bool]
"""Accepts another answer the spec allows (records a note and returns True)."""


def after_first(accept: Alternative) -> Alternative:
    """Apply ``accept`` to the answers after a leading successful one (a ProtocolVersion
    OK that precedes the request under test)."""

    def check(ctx: CaseContext, got: Exchange, ref: Exchange) -> bool:
        if not got.responses or got.responses[0].error_id != 0:
            return False
        rest, ref_rest = copy.copy(got), copy.copy(ref)
        rest.responses, ref_rest.responses = got.responses[1:], ref.responses[1:]
        return accept(ctx, rest, ref_rest)

    return check


def standard(
    ctx: CaseContext,
    script: Script,
    rules: Rules = DEFAULT,
    *,
    close: bool = True,
    quiet: float | None = None,
    alternative: Alternative | None = None,
) -> tuple[Exchange, Exchange]:
    """Run ``script`` against the implementation and the reference; record the differences.

    ``alternative`` may accept another answer the spec allows (it records a note saying
    which it saw and returns True); otherwise the exchanges are compared with ``rules``.
    """
    got, info = ctx.exchange(script, close=close, quiet=quiet)
    ref, ref_info = ctx.reference_exchange(script, close=close, quiet=quiet)
    since = len(ctx.findings)
    if alternative is None or not alternative(ctx, got, ref):
        compare(ctx, got, ref, rules)
    check_process(ctx, info, ref_info)
    sent = script if isinstance(script, bytes) else b"".join(p.data for p in script)
    ctx.consult_deviations(since, observed(ref, sent), observed(got, sent), "server")
    return got, ref


def same_as_plain(
    ctx: CaseContext, script: Script, plain: bytes, rules: Rules = DEFAULT
) -> tuple[Exchange, Exchange]:
    """Run ``script`` — the requests of ``plain``, chunked or written differently — and
    ``plain`` itself against the implementation, and compare the two answers.

    Chunk boundaries and writes carry no meaning (§frame.boundaries), so the implementation
    must answer the re-chunked requests exactly as it answers the plain ones. *What* it
    answers is for the cases of that request's own section: a listing defect is reported
    there, not as a framing failure. (If even the plain requests are not answered like the
    reference, a note says so.)
    """
    got, info = ctx.exchange(script)
    base, base_info = ctx.exchange(plain)
    compare(ctx, got, base, rules)
    check_process(ctx, info, base_info)
    ref, _ref_info = ctx.reference_exchange(plain)
    shapes = [(r.error_id, r.response_type) for r in base.responses]
    if shapes != [(r.error_id, r.response_type) for r in ref.responses]:
        ctx.note(
            "the plain requests themselves are not answered like the reference's "
            f"({base.summary()}); that is judged by the cases of their own sections"
        )
    return got, base


def framing_of(ctx: CaseContext, script: bytes) -> Exchange:
    """The implementation's answers to ``script``, checked for their framing only.

    Every response must arrive whole and decodable, as many as the reference gives, and the
    output must not end inside a chunked stream; values, texts and bodies are left to the
    cases of their sections.
    """
    got, info = ctx.exchange(script)
    ref, ref_info = ctx.reference_exchange(script)
    if len(got.responses) != len(ref.responses):
        ctx.must(
            f"{len(got.responses)} response(s) where the reference gives {len(ref.responses)}",
            ref.summary(),
            got.summary(),
        )
    for n, r in enumerate(got.responses, 1):
        if r.header is None or not r.complete:
            ctx.must(f"response #{n} is not a whole, decodable response", "", r.summary())
    if got.incomplete is not None:
        ctx.must(f"output ends inside a chunked stream ({got.incomplete.end})")
    check_process(ctx, info, ref_info)
    return got


def error5_or_close(what: str) -> Alternative:
    """Accept E(5, any text) like the reference, or a close without any response like the
    original's crash (§deviations.handler-crashes); both end the connection."""

    def accept(ctx: CaseContext, got: Exchange, ref: Exchange) -> bool:
        if not got.responses and got.closed and got.incomplete is None:
            ctx.note(f"{what}: closed without a response (the original's behaviour)")
            return True
        if got.responses and got.responses[0].error_id == 5:
            ctx.note(
                f"{what}: answered E(5, {got.responses[0].header.message!r})"  # type: ignore[union-attr]
                " (the reference's behaviour)"
            )
            compare(ctx, got, ref, Rules(text=Level.INFO))
            return True
        return False

    return accept


Shape = tuple[tuple[int, int], ...]


def accept_shapes(shapes: dict[Shape, str]) -> Alternative:
    """Accept an answer whose (ErrorId, ResponseType) sequence is one of ``shapes``, followed
    by the end of the connection; the note says whose behaviour it is. Used where the spec
    allows the original's and the reference's answers alike (§deviations)."""

    def accept(ctx: CaseContext, got: Exchange, ref: Exchange) -> bool:
        if not got.closed or got.incomplete is not None:
            return False
        if any(r.header is None for r in got.responses):
            return False
        shape = tuple(
            (r.header.error_id, r.header.response_type)  # type: ignore[union-attr]
            for r in got.responses
        )
        label = shapes.get(shape)
        if label is None:
            return False
        texts = "; ".join(r.summary() for r in got.responses)
        ctx.note(f"answered {texts or 'nothing'}: {label}")
        return True

    return accept


def accept_error(ids: dict[int, str]) -> Alternative:
    """One error response (any of ``ids``), then the end of the connection."""
    return accept_shapes({((i, 0),): label for i, label in ids.items()})
