"""Family ``server``: every row of the server loop's table (§server.summary, PROTOCOL-FACTS §5).

Each case sends one request (raw bytes, so broken requests are possible), a probe
ProtocolVersion request, and then closes its side; the reference's answers to the same bytes
on the same fixture and profile are the expected ones. Whether the server *closed*, *returned*
or *went on* shows in whether the probe was answered; whether an error id is right is a MUST,
texts, ids and closing after an error are SHOULD unless the row says otherwise.
"""

from __future__ import annotations

from bytestreamrpc.errors import ConnectionClosed, PeerTimeout

from ..catalog import case
from ..context import CaseContext
from ..exchange import Exchange, Piece
from ..judge import DEFAULT, Rules
from ..model import Level, Setup
from ..setups import HIDDEN, VISIBLE
from ..wire import chunked, go_json, request, version_obj
from .common import (
    CLOSE,
    FS,
    PROBE,
    PV,
    RID,
    RT,
    after_first,
    check_process,
    error5_or_close,
    fsv_body,
    incr_body,
    init_body,
    standard,
)

F = "server"
MUST, SHOULD, INFO = Level.MUST, Level.SHOULD, Level.INFO
KEEPS_GOING = Rules(extra=MUST, missing=MUST)
"""For rows whose 'then' is itself the requirement (continue after OK, close after Close)."""
CLOSES = Rules(extra=MUST)
"""Closing after an undecodable header is MUST (§server.header.decode-error)."""


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


# ---------------------------------------------------------------- filesystem


@case(
    "server.fs.ok.1",
    "§server.fs.ok",
    MUST,
    "Filesystem is answered OK(0x10) + the ACL's datasets, and the server goes on",
    family=F,
)
def _fs_ok(ctx: CaseContext) -> None:
    standard(ctx, PV + FS + PROBE, KEEPS_GOING)


@case(
    "server.fs.ok.2",
    "§msg.bodies",
    SHOULD,
    'Roots ["pool"] is ignored: the answer is the same as for null',
    family=F,
)
def _fs_roots(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM, b'{"Roots":["pool"]}\n', RID) + PROBE)


@case(
    "server.fs.decode-error.1",
    "§server.fs.decode-error",
    MUST,
    'Filesystem body {"Roots":1} is E(3, "") (empty message), then close',
    family=F,
)
def _fs_bad(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM, b'{"Roots":1}\n', RID) + PROBE)


@case(
    "server.fs.decode-error.2",
    "§server.fs.decode-error",
    MUST,
    'Filesystem body {"Roots":"pool"} is error 3',
    family=F,
)
def _fs_bad2(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM, b'{"Roots":"pool"}\n', RID) + PROBE)


@case(
    "server.fs.handler-error.1",
    "§server.fs.handler-error",
    MUST,
    "Filesystem without a pull ACL: E(5) then close, or close without a response",
    family=F,
    setup=Setup(profile="no-acl"),
)
def _fs_no_acl(ctx: CaseContext) -> None:
    standard(ctx, PV + FS + PROBE, alternative=after_first(error5_or_close("no pull ACL")))


# ---------------------------------------------------------------- filesystem versions


@case(
    "server.fsv.ok.1",
    "§server.fsv.ok",
    MUST,
    "FilesystemVersions is answered OK(0x11) + the versions, and the server goes on",
    family=F,
)
def _fsv_ok(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, fsv_body(), RID) + PROBE, KEEPS_GOING)


@case(
    "server.fsv.decode-error.1",
    "§server.fsv.decode-error",
    MUST,
    "FilesystemVersions with a string path is E(3, decoder text); the loop returns",
    family=F,
)
def _fsv_bad(ctx: CaseContext) -> None:
    body = b'{"Filesystem":"pool/data"}\n'
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, body, RID) + PROBE)


@case(
    "server.fsv.decode-error.2",
    "§server.fsv.decode-error",
    MUST,
    "FilesystemVersions with a path of numbers is error 3",
    family=F,
)
def _fsv_bad2(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":[1]}\n', RID) + PROBE)


@case(
    "server.fsv.decode-error.3",
    "§server.fsv.decode-error",
    SHOULD,
    "After a FilesystemVersions decode error the server serves nothing more",
    family=F,
)
def _fsv_bad_returns(ctx: CaseContext) -> None:
    body = request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":{}}\n', RID)
    standard(ctx, body + PV + PROBE)


@case(
    "server.fsv.handler-error.1",
    "§server.fsv.handler-error",
    MUST,
    "FilesystemVersions of a dataset outside the ACL: E(5, 'no match found in mapping')",
    family=F,
)
def _fsv_hidden(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, fsv_body(HIDDEN), RID) + PROBE)


@case(
    "server.fsv.handler-error.2",
    "§server.fsv.handler-error",
    MUST,
    "FilesystemVersions of a missing dataset the ACL admits is error 5",
    family=F,
)
def _fsv_missing(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, fsv_body(VISIBLE + "/nope"), RID) + PROBE)


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
        from ..judge import compare

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


__all__ = ["DEFAULT"]
