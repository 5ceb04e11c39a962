"""Family ``framing``: chunked streams as a server reads and writes them (§frame).

Requests are re-chunked (one byte per chunk, splits inside keys and values, splits at
every structural point), delivered in separate writes (a 4-byte length split across reads),
carried in chunks larger than the original writer's 32 764 bytes, cut off at each of the
positions of §frame.truncation, left without their zero chunk, followed by trailing bytes,
or padded with extra chunks that only a drain consumes. A re-chunked or re-written request is
judged against the implementation's own answer to the same request sent plainly
(:func:`~.common.same_as_plain`), and the answers' framing against the reference's
(:func:`~.common.framing_of`): what the answers *say* is for the cases of their own sections,
so a listing defect is reported under §handler.fs, not as a framing failure. Truncations and
errors are compared with the reference's answers; where the original answered a truncation
differently (§deviations.truncated-payload) both answers are accepted.
"""

from __future__ import annotations

import struct

from ..catalog import case
from ..context import CaseContext
from ..exchange import Piece
from ..judge import Rules
from ..model import Level, Setup
from ..wire import chunked, header_json, request
from .common import (
    CLOSE,
    FS,
    PROBE,
    PV,
    RID,
    RT,
    accept_error,
    accept_shapes,
    framing_of,
    fsv_body,
    init_body,
    same_as_plain,
    standard,
)

F = "framing"
MUST, SHOULD, INFO = Level.MUST, Level.SHOULD, Level.INFO
PV_HEADER = header_json(RT.PROTOCOL_VERSION, RID)
PV_BODY = b'{"ClientVersion":1}\n'
FSV_HEADER = header_json(RT.FILESYSTEM_VERSIONS, RID)
ONGOING = Rules(extra=MUST)


def _each(payload: bytes, size: int) -> list[int]:
    return [size] * ((len(payload) + size - 1) // size)


def _le(n: int) -> bytes:
    return struct.pack("<I", n)


# ---------------------------------------------------------------- re-chunking


@case(
    "frame.boundaries.1",
    "§frame.boundaries",
    MUST,
    "A request whose header and body arrive in 1-byte chunks is served",
    family=F,
)
def _one_byte(ctx: CaseContext) -> None:
    script = chunked(PV_HEADER, _each(PV_HEADER, 1)) + chunked(PV_BODY, _each(PV_BODY, 1))
    same_as_plain(ctx, script + PROBE, PV + PROBE, ONGOING)


@case(
    "frame.boundaries.2",
    "§frame.boundaries",
    MUST,
    "A header split into two chunks inside a key is served",
    family=F,
)
def _split_key(ctx: CaseContext) -> None:
    same_as_plain(ctx, chunked(PV_HEADER, [4]) + chunked(PV_BODY) + PROBE, PV + PROBE, ONGOING)


@case(
    "frame.boundaries.3",
    "§frame.boundaries",
    MUST,
    "A header split inside the id array and a body split inside its number are served",
    family=F,
)
def _split_values(ctx: CaseContext) -> None:
    script = chunked(PV_HEADER, [17, 3, 5]) + chunked(PV_BODY, [len(PV_BODY) - 3])
    same_as_plain(ctx, script + PROBE, PV + PROBE, ONGOING)


@case(
    "frame.boundaries.4",
    "§frame.boundaries",
    MUST,
    "A FilesystemVersions body in 1-byte chunks gets the same versions",
    family=F,
)
def _fsv_one_byte(ctx: CaseContext) -> None:
    body = fsv_body()
    plain = chunked(FSV_HEADER) + chunked(body) + PROBE
    same_as_plain(ctx, chunked(FSV_HEADER) + chunked(body, _each(body, 1)) + PROBE, plain, ONGOING)


@case(
    "frame.boundaries.5",
    "§frame.boundaries",
    MUST,
    "Four pipelined requests, every stream in 3-byte chunks, are answered in order",
    family=F,
)
def _three_bytes(ctx: CaseContext) -> None:
    from ..wire import split_streams

    plain = PV + FS + request(RT.FILESYSTEM_VERSIONS, fsv_body(), RID) + CLOSE
    script = b""
    for s in split_streams(plain):
        script += chunked(s.payload, _each(s.payload, 3))
    same_as_plain(ctx, script, plain, ONGOING)


@case(
    "frame.boundaries.6",
    "§frame.boundaries",
    MUST,
    "A chunk length split across two writes (2 + 2 bytes, with a pause) is read whole",
    family=F,
)
def _split_length(ctx: CaseContext) -> None:
    whole = PV + PROBE
    same_as_plain(ctx, [Piece(whole[:2]), Piece(whole[2:], 0.05)], whole, ONGOING)


@case(
    "frame.boundaries.7",
    "§frame.boundaries",
    MUST,
    "A request written one byte per write is served",
    family=F,
)
def _byte_writes(ctx: CaseContext) -> None:
    pieces = [Piece(PV[i : i + 1], 0.0005) for i in range(len(PV))] + [Piece(PROBE)]
    same_as_plain(ctx, pieces, PV + PROBE, ONGOING)


@case(
    "frame.boundaries.8",
    "§frame.boundaries",
    MUST,
    "A chunk's length and its payload in separate writes (pause between) are read whole",
    family=F,
)
def _header_then_payload(ctx: CaseContext) -> None:
    first = _le(len(PV_HEADER))
    rest = PV[4:]
    same_as_plain(ctx, [Piece(first), Piece(rest, 0.05), Piece(PROBE)], PV + PROBE, ONGOING)


@case(
    "frame.boundaries.9",
    "§frame.boundaries",
    MUST,
    "The zero chunk of the header arrives in its own write after a pause",
    family=F,
)
def _late_terminator(ctx: CaseContext) -> None:
    head = _le(len(PV_HEADER)) + PV_HEADER
    pieces = [Piece(head), Piece(b"\0\0\0\0" + chunked(PV_BODY), 0.05), Piece(PROBE)]
    same_as_plain(ctx, pieces, PV + PROBE, ONGOING)


# ---------------------------------------------------------------- chunk sizes


@case(
    "frame.reader-any-length.1",
    "§frame.reader-any-length",
    MUST,
    "A request header in one 40 000-byte chunk (above the writer maximum) is accepted",
    family=F,
)
def _big_header_chunk(ctx: CaseContext) -> None:
    padded = PV_HEADER + b" " * (40000 - len(PV_HEADER))
    script = chunked(padded, [len(padded)]) + chunked(PV_BODY) + PROBE
    same_as_plain(ctx, script, PV + PROBE, ONGOING)


@case(
    "frame.reader-any-length.2",
    "§frame.reader-any-length",
    MUST,
    "A FilesystemVersions body in one 70 000-byte chunk is accepted",
    family=F,
)
def _big_body_chunk(ctx: CaseContext) -> None:
    body = fsv_body()
    padded = body + b"\n" * (70000 - len(body))
    script = chunked(FSV_HEADER) + chunked(padded, [len(padded)]) + PROBE
    same_as_plain(ctx, script, chunked(FSV_HEADER) + chunked(body) + PROBE, ONGOING)


@case(
    "frame.reader-any-length.3",
    "§frame.reader-any-length",
    MUST,
    "A chunk declaring 2^32-1 bytes followed by end of input: error 1, no allocation, close",
    family=F,
)
def _huge_declared(ctx: CaseContext) -> None:
    standard(ctx, _le(0xFFFFFFFF) + b'{"Type":1')


@case(
    "frame.reader-any-length.4",
    "§frame.reader-any-length",
    MUST,
    "A body chunk declaring 2^31 bytes followed by end of input: error 3, close",
    family=F,
)
def _huge_declared_body(ctx: CaseContext) -> None:
    standard(ctx, chunked(PV_HEADER) + _le(0x80000000) + b"{" + b" " * 100)


BOUND = 16 * 1024 * 1024 + 64
"""Just above the reference's bound on one JSON message (§deviations.message-bound)."""


@case(
    "frame.message-bound.1",
    "§deviations.message-bound",
    INFO,
    "A request header of 16 MiB + 64 bytes in one chunk (the original buffered any size)",
    family=F,
)
def _huge_header(ctx: CaseContext) -> None:
    padded = PV_HEADER + b" " * (BOUND - len(PV_HEADER))
    got, _ = standard(ctx, chunked(padded, [len(padded)]) + chunked(PV_BODY))
    first = got.responses[0].summary() if got.responses else "no answer"
    ctx.note(f"answered {first} (the original: OK; the reference refuses above 16 MiB)")


@case(
    "frame.message-bound.2",
    "§deviations.message-bound",
    INFO,
    "A body of 16 MiB + 64 bytes in 32 764-byte chunks (the original buffered any size)",
    family=F,
)
def _huge_body(ctx: CaseContext) -> None:
    body = PV_BODY + b"\n" * (BOUND - len(PV_BODY))
    got, _ = standard(ctx, chunked(PV_HEADER) + chunked(body))
    first = got.responses[0].summary() if got.responses else "no answer"
    ctx.note(f"answered {first} (the original: OK; the reference refuses above 16 MiB)")


EXACT_BOUND = 16 * 1024 * 1024
"""The reference's bound itself: a message of exactly this size is not above it."""


def _exact_bound_body() -> bytes:
    """A ProtocolVersion body padded with newlines to exactly :data:`EXACT_BOUND` bytes (built
    when a case runs, not at import)."""
    return PV_BODY + b"\n" * (EXACT_BOUND - len(PV_BODY))


@case(
    "frame.message-bound.3",
    "§deviations.message-bound",
    SHOULD,
    "A request header of exactly 16 MiB in one chunk is answered like a short one",
    family=F,
)
def _exact_bound_header(ctx: CaseContext) -> None:
    padded = PV_HEADER + b" " * (EXACT_BOUND - len(PV_HEADER))
    standard(ctx, chunked(padded, [len(padded)]) + chunked(PV_BODY))


@case(
    "frame.message-bound.4",
    "§deviations.message-bound",
    SHOULD,
    "A body of exactly 16 MiB in 32 764-byte chunks is answered like a short one",
    family=F,
)
def _exact_bound_in_body(ctx: CaseContext) -> None:
    standard(ctx, chunked(PV_HEADER) + chunked(_exact_bound_body()))


@case(
    "frame.message-bound.5",
    "§deviations.message-bound",
    SHOULD,
    "A header in two chunks, then a body of exactly 16 MiB: each message is counted alone",
    family=F,
)
def _exact_bound_after_split_header(ctx: CaseContext) -> None:
    split_header = chunked(PV_HEADER, [10, len(PV_HEADER) - 10])
    standard(ctx, split_header + chunked(_exact_bound_body()))


# ---------------------------------------------------------------- truncation


def _cut_header(n: int) -> bytes:
    return _le(len(PV_HEADER))[:n]


@case(
    "frame.truncation.1",
    "§frame.truncation",
    MUST,
    "End of input after 1 byte of a header's chunk length is error 1 (unexpected EOF)",
    family=F,
)
def _trunc_b1(ctx: CaseContext) -> None:
    standard(ctx, _cut_header(1))


@case(
    "frame.truncation.2",
    "§frame.truncation",
    MUST,
    "End of input after 2 bytes of a header's chunk length is error 1",
    family=F,
)
def _trunc_b2(ctx: CaseContext) -> None:
    standard(ctx, _cut_header(2))


@case(
    "frame.truncation.3",
    "§frame.truncation",
    MUST,
    "End of input after 3 bytes of a header's chunk length is error 1",
    family=F,
)
def _trunc_b3(ctx: CaseContext) -> None:
    standard(ctx, _cut_header(3))


@case(
    "frame.truncation.4",
    "§frame.truncation",
    MUST,
    "End of input inside the header's JSON payload is error 1 (unexpected EOF)",
    family=F,
)
def _trunc_d_value(ctx: CaseContext) -> None:
    standard(ctx, _le(len(PV_HEADER)) + PV_HEADER[:20])


@case(
    "frame.truncation.5",
    "§frame.truncation",
    MUST,
    "A complete header chunk without its zero chunk, then end of input: an error, close",
    family=F,
)
def _trunc_c_header(ctx: CaseContext) -> None:
    standard(
        ctx,
        _le(len(PV_HEADER)) + PV_HEADER,
        alternative=accept_error(
            {
                1: "the reference (truncation is an error)",
                3: "the original (it took the header as complete)",
            }
        ),
    )


@case(
    "frame.truncation.6",
    "§frame.truncation",
    MUST,
    "A header whose payload lacks only its final newline, then end of input: an error",
    family=F,
)
def _trunc_d_after_value(ctx: CaseContext) -> None:
    standard(
        ctx,
        _le(len(PV_HEADER)) + PV_HEADER[:-1],
        alternative=accept_error({1: "the reference", 3: "the original"}),
    )


@case(
    "frame.truncation.7",
    "§frame.truncation",
    MUST,
    "End of input inside a body's chunk length is error 3",
    family=F,
)
def _trunc_body_b(ctx: CaseContext) -> None:
    standard(ctx, chunked(PV_HEADER) + _le(len(PV_BODY))[:2])


@case(
    "frame.truncation.8",
    "§frame.truncation",
    MUST,
    "End of input inside a body's JSON value is error 3",
    family=F,
)
def _trunc_body_d(ctx: CaseContext) -> None:
    standard(ctx, chunked(PV_HEADER) + _le(len(PV_BODY)) + PV_BODY[:8])


@case(
    "frame.truncation.9",
    "§frame.truncation",
    MUST,
    "A complete body chunk without its zero chunk, then end of input: an error, close",
    family=F,
)
def _trunc_body_c(ctx: CaseContext) -> None:
    standard(
        ctx,
        chunked(PV_HEADER) + _le(len(PV_BODY)) + PV_BODY,
        alternative=accept_shapes(
            {
                ((3, 0),): "the reference (truncation is an error)",
                ((0, 1), (1, 0)): "the original (it took the body as complete)",
            }
        ),
    )


@case(
    "frame.truncation.10",
    "§frame.truncation",
    MUST,
    "A FilesystemVersions body cut inside its value: error 3 and the loop returns",
    family=F,
)
def _trunc_fsv(ctx: CaseContext) -> None:
    body = fsv_body()
    standard(ctx, chunked(FSV_HEADER) + _le(len(body)) + body[:10])


@case(
    "frame.truncation.11",
    "§frame.truncation",
    MUST,
    "An InitialTransfer body cut inside its value: error 3, no stream",
    family=F,
)
def _trunc_init(ctx: CaseContext) -> None:
    body = init_body(ctx.facts)
    header = header_json(RT.INITIAL_TRANSFER, RID)
    standard(ctx, chunked(header) + _le(len(body)) + body[: len(body) // 2])


@case(
    "frame.truncation.12",
    "§frame.truncation",
    MUST,
    "A Close body cut inside its value: error 3 (not a successful Close)",
    family=F,
)
def _trunc_close(ctx: CaseContext) -> None:
    body = b'{"Goodbye":"bye"}\n'
    standard(ctx, chunked(header_json(RT.CLOSE, RID)) + _le(len(body)) + body[:12])


@case(
    "frame.truncation.13",
    "§frame.truncation",
    MUST,
    "End of input between a header and its body is error 3 for that request",
    family=F,
)
def _trunc_between(ctx: CaseContext) -> None:
    standard(ctx, chunked(PV_HEADER))


@case(
    "frame.truncation.14",
    "§frame.truncation",
    MUST,
    "A header cut inside its second data chunk is error 1",
    family=F,
)
def _trunc_second_chunk(ctx: CaseContext) -> None:
    standard(ctx, _le(10) + PV_HEADER[:10] + _le(40) + PV_HEADER[10:25])


# ---------------------------------------------------------------- terminator, drain, trailing


@case(
    "frame.terminator.1",
    "§frame.terminator",
    MUST,
    "A header without its zero chunk, directly followed by the body's chunks",
    family=F,
)
def _missing_terminator(ctx: CaseContext) -> None:
    script = _le(len(PV_HEADER)) + PV_HEADER + chunked(PV_BODY) + PROBE
    standard(ctx, script)


@case(
    "frame.terminator.2",
    "§frame.terminator",
    MUST,
    "A body without its zero chunk, directly followed by the next request",
    family=F,
)
def _missing_body_terminator(ctx: CaseContext) -> None:
    script = chunked(PV_HEADER) + _le(len(PV_BODY)) + PV_BODY + PROBE
    standard(ctx, script)


@case(
    "frame.drain.1",
    "§frame.drain",
    MUST,
    "Extra data chunks after the header's JSON (same stream) are drained, not read as the body",
    family=F,
)
def _drain_header(ctx: CaseContext) -> None:
    stream = _le(len(PV_HEADER)) + PV_HEADER + _le(5) + b"\x00\x01\x02\x03\x04" + _le(1) + b"x"
    standard(ctx, stream + b"\0\0\0\0" + chunked(PV_BODY) + PROBE, ONGOING)


@case(
    "frame.drain.2",
    "§frame.drain",
    MUST,
    "Binary chunks after a body's JSON (same stream) are drained; the next request is served",
    family=F,
)
def _drain_body(ctx: CaseContext) -> None:
    body = fsv_body()
    stream = _le(len(body)) + body + _le(3) + b"\xff\xfe\xfd" + b"\0\0\0\0"
    standard(ctx, chunked(FSV_HEADER) + stream + PROBE, ONGOING)


@case(
    "frame.drain.3",
    "§frame.drain",
    MUST,
    "Drain of a header stream cut off before its zero chunk is an error",
    family=F,
)
def _drain_truncated(ctx: CaseContext) -> None:
    standard(
        ctx,
        _le(len(PV_HEADER)) + PV_HEADER + _le(3) + b"abc",
        alternative=accept_error({1: "the reference", 3: "the original"}),
    )


@case(
    "frame.trailing.1",
    "§json.first-value",
    MUST,
    "Garbage after a complete request is the next header: error 1 after the first answer",
    family=F,
)
def _trailing_garbage(ctx: CaseContext) -> None:
    standard(ctx, PV + chunked(b"garbage"))


@case(
    "frame.trailing.2",
    "§frame.truncation",
    MUST,
    "Two stray bytes after a complete request: the answer, then error 1 (unexpected EOF)",
    family=F,
)
def _trailing_partial(ctx: CaseContext) -> None:
    standard(ctx, PV + b"\x05\x00")


@case(
    "frame.empty-input.1",
    "§frame.empty-input",
    MUST,
    "An empty ProtocolVersion body (zero chunk only) is E(3, ...: EOF)",
    family=F,
)
def _empty_body(ctx: CaseContext) -> None:
    standard(ctx, chunked(PV_HEADER) + chunked(b"") + PROBE)


@case(
    "frame.empty-input.2",
    "§frame.empty-input",
    MUST,
    "An empty FilesystemVersions body is error 3 and the loop returns",
    family=F,
)
def _empty_fsv(ctx: CaseContext) -> None:
    standard(ctx, chunked(FSV_HEADER) + chunked(b"") + PROBE)


@case(
    "frame.empty-input.3",
    "§frame.empty-input",
    MUST,
    "A whitespace-only Close body is error 3",
    family=F,
)
def _ws_close(ctx: CaseContext) -> None:
    standard(ctx, chunked(header_json(RT.CLOSE, RID)) + chunked(b" \n\t ") + PROBE)


# ---------------------------------------------------------------- the server as writer


@case(
    "frame.writer-max.1",
    "§frame.writer-max",
    SHOULD,
    "A Filesystems body above 32 764 bytes is written in chunks of at most 32 764",
    family=F,
    setup=Setup(fixture="many", profile="all-acl"),
)
def _big_filesystems(ctx: CaseContext) -> None:
    got, _ = standard(ctx, FS)
    body = got.responses[0].body_stream if got.responses else None
    if body is not None and len(body.payload) <= 32764:
        ctx.note(f"the body was only {len(body.payload)} bytes")


@case(
    "frame.writer-max.2",
    "§frame.writer-max",
    SHOULD,
    "A send stream of 2 MiB is written in chunks of at most 32 764 bytes",
    family=F,
)
def _big_stream(ctx: CaseContext) -> None:
    from ..wire import writer_max_ok

    got, _ = standard(ctx, request(RT.INITIAL_TRANSFER, init_body(ctx.facts), RID))
    if got.responses and got.responses[0].body_stream is not None:
        stream = got.responses[0].body_stream
        ctx.check(
            writer_max_ok(stream),
            SHOULD,
            "send stream chunk above 32 764 bytes",
            "≤ 32764",
            max(stream.chunks, default=0),
        )


@case(
    "frame.chunk.1",
    "§frame.chunk",
    MUST,
    "Response chunk lengths are 4-byte little-endian and match their payloads",
    family=F,
)
def _le_lengths(ctx: CaseContext) -> None:
    got = framing_of(ctx, PV + FS + CLOSE)
    raw = got.raw
    if len(raw) >= 4:
        (n,) = struct.unpack("<I", raw[:4])
        ctx.check(
            n <= len(raw) - 4,
            MUST,
            "the first chunk length, read little-endian, exceeds everything that followed",
            f"≤ {len(raw) - 4}",
            f"{n} (bytes {raw[:4].hex()})",
        )
