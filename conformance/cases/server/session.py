"""Server rows about the session itself: the ProtocolVersion handshake (§server.pv.*), the
loop serving requests in order (§server.loop) and Close (§server.close.*)."""

from __future__ import annotations

from ...catalog import case
from ...context import CaseContext
from ...exchange import Piece
from ...wire import request
from ..common import (
    CLOSE,
    FS,
    PROBE,
    PV,
    RID,
    RT,
    fsv_body,
    standard,
)
from .rules import KEEPS_GOING, MUST, SHOULD, F

# ---------------------------------------------------------------- protocol version


@case(
    "server.pv.ok.1",
    "§server.pv.ok",
    MUST,
    "ProtocolVersion 1 is answered OK(0x01) and the server goes on serving",
    family=F,
)
def _pv_ok(ctx: CaseContext) -> None:
    standard(ctx, PV + PROBE, KEEPS_GOING)


@case(
    "server.pv.ok.2",
    "§server.loop",
    SHOULD,
    "A repeated ProtocolVersion request is answered OK again",
    family=F,
)
def _pv_twice(ctx: CaseContext) -> None:
    standard(ctx, PV + PV + PROBE)


@case(
    "server.loop.1",
    "§server.loop",
    SHOULD,
    "A Filesystem request without a ProtocolVersion request first is served",
    family=F,
)
def _no_pv_first(ctx: CaseContext) -> None:
    standard(ctx, FS + PROBE)


@case(
    "server.loop.2",
    "§server.loop",
    MUST,
    "Pipelined requests (one write) are answered in order",
    family=F,
)
def _pipelined(ctx: CaseContext) -> None:
    fsv = request(RT.FILESYSTEM_VERSIONS, fsv_body(), RID)
    standard(ctx, PV + FS + fsv + PV + CLOSE, KEEPS_GOING)


@case(
    "server.loop.3",
    "§server.loop",
    MUST,
    "Requests written one at a time with pauses are answered in order",
    family=F,
)
def _paced(ctx: CaseContext) -> None:
    fsv = request(RT.FILESYSTEM_VERSIONS, fsv_body(), RID)
    standard(ctx, [Piece(PV), Piece(FS, 0.02), Piece(fsv, 0.02), Piece(CLOSE, 0.02)], KEEPS_GOING)


@case(
    "server.pv.decode-error.1",
    "§server.pv.decode-error",
    MUST,
    'ProtocolVersion body {"ClientVersion":"1"} is E(3, decoder text), close',
    family=F,
)
def _pv_string(ctx: CaseContext) -> None:
    standard(ctx, request(RT.PROTOCOL_VERSION, b'{"ClientVersion":"1"}\n', RID) + PROBE)


@case(
    "server.pv.decode-error.2",
    "§server.pv.decode-error",
    MUST,
    "ClientVersion 256 is a decode error (3), not a version mismatch (4)",
    family=F,
)
def _pv_256(ctx: CaseContext) -> None:
    standard(ctx, request(RT.PROTOCOL_VERSION, b'{"ClientVersion":256}\n', RID) + PROBE)


@case(
    "server.pv.decode-error.3",
    "§server.pv.decode-error",
    MUST,
    "A ProtocolVersion body that is not JSON is error 3",
    family=F,
)
def _pv_garbage(ctx: CaseContext) -> None:
    standard(ctx, request(RT.PROTOCOL_VERSION, b"\x00\x01\x02", RID) + PROBE)


@case(
    "server.pv.mismatch.1",
    "§server.pv.mismatch",
    MUST,
    'ClientVersion 2 is E(4, ""), then close',
    family=F,
)
def _pv_2(ctx: CaseContext) -> None:
    standard(ctx, request(RT.PROTOCOL_VERSION, b'{"ClientVersion":2}\n', RID) + PROBE)


@case(
    "server.pv.mismatch.2",
    "§server.pv.mismatch",
    MUST,
    "A ProtocolVersion body {} (version 0) is error 4",
    family=F,
)
def _pv_empty_obj(ctx: CaseContext) -> None:
    standard(ctx, request(RT.PROTOCOL_VERSION, b"{}\n", RID) + PROBE)


@case(
    "server.pv.mismatch.3",
    "§server.pv.mismatch",
    MUST,
    "A ProtocolVersion body null (version 0) is error 4, not 3",
    family=F,
)
def _pv_null(ctx: CaseContext) -> None:
    standard(ctx, request(RT.PROTOCOL_VERSION, b"null\n", RID) + PROBE)


@case("server.pv.mismatch.4", "§server.pv.mismatch", MUST, "ClientVersion 0 is error 4", family=F)
def _pv_0(ctx: CaseContext) -> None:
    standard(ctx, request(RT.PROTOCOL_VERSION, b'{"ClientVersion":0}\n', RID) + PROBE)


# ---------------------------------------------------------------- close


@case(
    "server.close.ok.1",
    "§server.close.ok",
    MUST,
    "Close is answered OK(0x01), then the connection ends (nothing after it is served)",
    family=F,
)
def _close(ctx: CaseContext) -> None:
    standard(ctx, PV + CLOSE + PROBE, KEEPS_GOING)


@case(
    "server.close.ok.2",
    "§server.close.ok",
    MUST,
    "Close with a non-empty Goodbye is answered OK(0x01) like an empty one",
    family=F,
)
def _close_goodbye(ctx: CaseContext) -> None:
    standard(ctx, request(RT.CLOSE, b'{"Goodbye":"see you \\u003c3"}\n', RID), KEEPS_GOING)


@case(
    "server.close.ok.3",
    "§server.close.ok",
    MUST,
    "Close as the very first request is answered OK(0x01)",
    family=F,
)
def _close_first(ctx: CaseContext) -> None:
    standard(ctx, CLOSE + PROBE, KEEPS_GOING)


@case(
    "server.close.decode-error.1",
    "§server.close.decode-error",
    MUST,
    "A Close body [] is E(3, decoder text), then close",
    family=F,
)
def _close_bad(ctx: CaseContext) -> None:
    standard(ctx, request(RT.CLOSE, b"[]\n", RID) + PROBE)


@case(
    "server.close.decode-error.2",
    "§server.close.decode-error",
    MUST,
    'Close body {"Goodbye":1} is error 3',
    family=F,
)
def _close_bad2(ctx: CaseContext) -> None:
    standard(ctx, request(RT.CLOSE, b'{"Goodbye":1}\n', RID) + PROBE)
