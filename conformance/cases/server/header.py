"""Server rows about the request header: headers that do not decode (§server.header.decode-error,
§server.header.eof) and request types the server does not know (§server.unknown-type)."""

from __future__ import annotations

from ...catalog import case
from ...context import CaseContext
from ...wire import chunked, request
from ..common import (
    PROBE,
    PV,
    RID,
    standard,
)
from .rules import CLOSES, MUST, SHOULD, F

# ---------------------------------------------------------------- header errors


@case(
    "server.header.decode-error.1",
    "§server.header.decode-error",
    MUST,
    "A header that is not JSON is answered E(1, decoder text), then the server closes",
    family=F,
)
def _hdr_syntax(ctx: CaseContext) -> None:
    standard(ctx, chunked(b"xyz\n") + chunked(b"{}\n") + PROBE, CLOSES)


@case(
    "server.header.decode-error.2",
    "§server.header.decode-error",
    MUST,
    'Header {"Type":256} (out of uint8 range) is error 1, not an unknown type',
    family=F,
)
def _hdr_range(ctx: CaseContext) -> None:
    standard(ctx, chunked(b'{"Type":256}\n') + chunked(b"{}\n") + PROBE, CLOSES)


@case(
    "server.header.decode-error.3",
    "§server.header.decode-error",
    MUST,
    "An empty header stream (zero chunk only) is E(1, ...: EOF)",
    family=F,
)
def _hdr_empty(ctx: CaseContext) -> None:
    standard(ctx, chunked(b"") + PROBE, CLOSES)


@case(
    "server.header.decode-error.4",
    "§server.header.decode-error",
    MUST,
    "A header that is a JSON array is error 1 (type mismatch)",
    family=F,
)
def _hdr_array(ctx: CaseContext) -> None:
    standard(ctx, chunked(b"[1]\n") + chunked(b"{}\n") + PROBE, CLOSES)


@case(
    "server.header.eof.1",
    "§server.header.eof",
    SHOULD,
    "End of input before any request: E(1, 'cannot decode *rpc.RequestHeader: EOF'), close",
    family=F,
)
def _hdr_eof(ctx: CaseContext) -> None:
    standard(ctx, b"")


@case(
    "server.header.eof.2",
    "§server.header.eof",
    SHOULD,
    "End of input after a complete request: the answer, then E(1, ...EOF), then close",
    family=F,
)
def _hdr_eof_after(ctx: CaseContext) -> None:
    standard(ctx, PV)


# ---------------------------------------------------------------- unknown types


def _unknown(rtype: int) -> bytes:
    return request(rtype, b"{}\n", RID)


@case(
    "server.unknown-type.1",
    "§server.unknown-type",
    MUST,
    'Request type 0x42 is answered E(2, "") and the server closes',
    family=F,
)
def _unknown_42(ctx: CaseContext) -> None:
    standard(ctx, _unknown(0x42) + PROBE)


@case(
    "server.unknown-type.2",
    "§server.unknown-type",
    MUST,
    "Type 0 (a header of {}) is an unknown type, error 2",
    family=F,
)
def _unknown_0(ctx: CaseContext) -> None:
    standard(ctx, chunked(b"{}\n") + chunked(b"{}\n") + PROBE)


@case(
    "server.unknown-type.3",
    "§server.unknown-type",
    MUST,
    "Type 0xFF (in range, unassigned) is error 2",
    family=F,
)
def _unknown_ff(ctx: CaseContext) -> None:
    standard(ctx, _unknown(0xFF) + PROBE)


@case(
    "server.unknown-type.4",
    "§server.unknown-type",
    MUST,
    "Type 0x02, next to ProtocolVersion, is error 2",
    family=F,
)
def _unknown_02(ctx: CaseContext) -> None:
    standard(ctx, _unknown(0x02) + PROBE)


@case(
    "server.unknown-type.5",
    "§server.unknown-type",
    SHOULD,
    "Error 2 comes right after the header, without waiting for a body",
    family=F,
)
def _unknown_no_body(ctx: CaseContext) -> None:
    header_only = chunked(b'{"Type":66,"Id":[1,2,3]}\n')
    standard(ctx, header_only, close=False, quiet=1.5)


@case(
    "server.unknown-type.6",
    "§server.unknown-type",
    MUST,
    "Type 0x14 (between IncrementalTransfer and PullMe) is error 2",
    family=F,
)
def _unknown_14(ctx: CaseContext) -> None:
    standard(ctx, _unknown(0x14) + PROBE)
