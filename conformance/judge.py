"""Comparing what an implementation answered with what the reference answered.

The comparison is layered the way §conformance-levels grades differences:

* MUST — what a Go peer acts on: the number and order of responses, ``ErrorId``,
  ``ResponseType``, the decoded body (Go's decoder decides "same"), send-stream bytes,
  whether the output breaks the framing, whether the server ends the connection at all;
* MUST also: the ``RequestId`` echo in success responses (§msg.request-id);
* SHOULD — what a Go peer would not notice: message texts, a non-zero ``RequestId`` in an
  error response, the exact
  bytes of the JSON (spacing, key spelling, escapes), chunk boundaries of messages, chunks
  above 32 764 bytes, and by default whether the server closed or went on serving after an
  error (cases raise this to MUST where the spec does);
* INFO — send-stream chunk boundaries (not reproducible even by the original).
"""

from __future__ import annotations

from dataclasses import dataclass

from bytestreamrpc.constants import ErrorId
from bytestreamrpc.deviations import Answer, Observed, Situation, StreamEnd

from .context import CaseContext
from .exchange import Exchange
from .facts import first_difference
from .model import Level
from .wire import ResponseFrame, show_json, split_streams, writer_max_ok

EOF_TEXT = "cannot decode *rpc.RequestHeader: EOF"


def is_eof_answer(r: ResponseFrame) -> bool:
    """The E(1, ...EOF) a server writes after the client's clean close (§server.header.eof)."""
    return (
        r.header is not None
        and r.header.error_id == ErrorId.DECODE_HEADER
        and r.header.message == EOF_TEXT
    )


@dataclass(frozen=True)
class Rules:
    """Knobs of :func:`compare` for one case."""

    text: Level = Level.SHOULD
    """Level of a differing Message text."""
    extra: Level = Level.SHOULD
    """Level of responses beyond the reference's (going on after an error where the
    original closes)."""
    missing: Level = Level.MUST
    """Level of a response the reference gave and the implementation did not."""
    request_id: Level = Level.SHOULD
    """Level of a non-zero RequestId in an *error* response; a success response that does
    not echo the request's Id is always MUST (§msg.request-id)."""
    exact_bytes: Level = Level.SHOULD
    """Level of byte differences in JSON that decodes to the same values."""


DEFAULT = Rules()


def _frame_text(r: ResponseFrame | None) -> str:
    if r is None:
        return "(nothing)"
    text = show_json(r.header_stream.payload, 400)
    if r.body_stream is not None and not r.is_stream:
        text += "  body: " + show_json(r.body_stream.payload, 400)
    return text


def compare_response(
    ctx: CaseContext, n: int, ref: ResponseFrame, got: ResponseFrame, rules: Rules
) -> None:
    """Findings for one response (``n`` counts from 1)."""
    where = f"response #{n}"
    if got.header is None:
        ctx.must(
            f"{where}: the header does not decode ({got.header_error})",
            ref.summary(),
            _frame_text(got),
        )
        return
    assert ref.header is not None
    h, r = got.header, ref.header
    if h.error_id != r.error_id:
        ctx.must(
            f"{where}: ErrorId {h.error_id}, expected {r.error_id}", ref.summary(), got.summary()
        )
    if h.response_type != r.response_type:
        ctx.must(
            f"{where}: ResponseType {h.response_type:#04x}, expected {r.response_type:#04x}",
            ref.summary(),
            got.summary(),
        )
    if h.message != r.message:
        ctx.finding(rules.text, f"{where}: Message text differs", repr(r.message), repr(h.message))
    if h.request_id != r.request_id:
        what = "echo the request's Id" if r.error_id == 0 else "be 16 zeros (error response)"
        ctx.finding(
            Level.MUST if r.error_id == 0 else rules.request_id,
            f"{where}: RequestId should {what} (§msg.request-id)",
            list(r.request_id),
            list(h.request_id),
        )
    if (h.error_id, h.response_type) != (r.error_id, r.response_type):
        return
    if h == r and got.header_stream.payload != ref.header_stream.payload:
        ctx.finding(
            rules.exact_bytes,
            f"{where}: header bytes differ from Go's encoding (same values, §json.encode)",
            show_json(ref.header_stream.payload),
            show_json(got.header_stream.payload),
        )
    if got.header_stream.chunks != ref.header_stream.chunks:
        ctx.should(
            f"{where}: header chunk boundaries differ from the original's (§frame.boundaries)",
            ref.header_stream.describe_chunks(),
            got.header_stream.describe_chunks(),
        )
    _compare_body(ctx, where, ref, got, rules)


def _compare_body(
    ctx: CaseContext, where: str, ref: ResponseFrame, got: ResponseFrame, rules: Rules
) -> None:
    rb, gb = ref.body_stream, got.body_stream
    if rb is None:
        return
    if gb is None or (not gb.chunks and not gb.complete):
        ctx.must(f"{where}: the body is missing", ref.summary(), got.summary())
        return
    if ref.is_stream:
        if gb.payload != rb.payload:
            ctx.must(
                f"{where}: send stream differs from the fake's `zfs send` output: "
                f"{first_difference(rb.payload, gb.payload)}",
                f"{len(rb.payload)} bytes",
                f"{len(gb.payload)} bytes",
            )
        if rb.complete and not gb.complete:
            ctx.must(
                f"{where}: send stream not terminated (EOF inside {gb.end})",
                "the zero chunk",
                f"end of input inside {gb.end}",
            )
        if not writer_max_ok(gb):
            ctx.should(
                f"{where}: send stream has chunks above 32764 bytes (§frame.writer-max)",
                "≤ 32764",
                max(gb.chunks),
            )
        if gb.chunks != rb.chunks:
            ctx.note(
                f"{where}: send stream chunking {gb.describe_chunks()} "
                f"(reference {rb.describe_chunks()}); boundaries carry no meaning"
            )
        return
    if got.body_error is not None:
        ctx.must(
            f"{where}: the body does not decode ({got.body_error})",
            show_json(rb.payload),
            show_json(gb.payload),
        )
        return
    if (got.paths, got.versions) != (ref.paths, ref.versions):
        ctx.must(
            f"{where}: body decodes to different values",
            show_json(rb.payload),
            show_json(gb.payload),
        )
        return
    if gb.payload != rb.payload:
        ctx.finding(
            rules.exact_bytes,
            f"{where}: body bytes differ from Go's encoding (same values, §json.encode)",
            show_json(rb.payload),
            show_json(gb.payload),
        )
    if not gb.complete:
        ctx.must(f"{where}: body not terminated (EOF inside {gb.end})")
    elif gb.chunks != rb.chunks:
        ctx.should(
            f"{where}: body chunk boundaries differ from the original's",
            rb.describe_chunks(),
            gb.describe_chunks(),
        )


def compare(ctx: CaseContext, got: Exchange, ref: Exchange, rules: Rules = DEFAULT) -> None:
    """All findings of an exchange against the reference's exchange for the same script."""
    n_ref, n_got = len(ref.responses), len(got.responses)
    for i, rref in enumerate(ref.responses):
        if i >= n_got:
            rest = ref.responses[i:]
            if len(rest) == 1 and is_eof_answer(rest[0]):
                ctx.should(
                    "no E(1) answer to our end of input before closing (§server.header.eof)",
                    rest[0].summary(),
                    _ending(got),
                )
            else:
                ctx.finding(
                    rules.missing,
                    f"response #{i + 1} missing ({len(rest)} of {n_ref} not received)",
                    "\n".join(r.summary() for r in rest),
                    _ending(got),
                )
            break
        compare_response(ctx, i + 1, rref, got.responses[i], rules)
    if n_got > n_ref:
        extra = got.responses[n_ref:]
        ctx.finding(
            rules.extra,
            f"{len(extra)} response(s) more than the original sends "
            f"({'it went on serving where the original ' + ref_end(ref)})",
            "(nothing more)",
            "\n".join(r.summary() for r in extra),
        )
    if got.incomplete is not None and ref.incomplete is None:
        ctx.must(
            f"output ends inside a chunked stream (EOF inside {got.incomplete.end})",
            "complete chunked streams",
            got.incomplete.describe_chunks(),
        )
    if got.ending == "timeout" and ref.closed:
        ctx.must(
            "the connection was not closed: no end of input within the case timeout "
            "(the original closes)",
            "end of input",
            "still open",
        )
    elif got.ending == "flood":
        ctx.must(
            "the server sent far more than the original",
            f"{len(ref.raw)} bytes",
            f"> {len(got.raw)} bytes",
        )


def observed(ex: Exchange, sent: bytes = b"") -> Observed:
    """An exchange in the terms of the §deviations table (:mod:`bytestreamrpc.deviations`).

    ``sent``: what the suite wrote, for the situations it creates (a last message without
    its zero chunk). An undecodable header ends the list: no row explains one.
    """
    answers: list[Answer] = []
    for r in ex.responses:
        if r.header is None:
            break
        end: StreamEnd = ""
        if r.is_stream:
            end = "complete" if r.body_stream is not None and r.body_stream.complete else "cut"
        answers.append(Answer(r.header.error_id, r.header.response_type, r.header.message, end))
    streams = split_streams(sent)
    cut = bool(streams) and streams[-1].end in ("boundary", "payload") and bool(streams[-1].chunks)
    situations = frozenset({Situation.MESSAGE_WITHOUT_TERMINATOR} if cut else ())
    return Observed(answers=tuple(answers), closed=ex.closed, situations=situations)


def ref_end(ref: Exchange) -> str:
    return "closes" if ref.closed else "stops"


def _ending(ex: Exchange) -> str:
    last = {
        "eof": "connection closed",
        "timeout": "no answer until the case timeout",
        "quiet": "silence",
        "flood": "flood",
    }[ex.ending]
    got = f"{len(ex.responses)} response(s), then {last}"
    if ex.incomplete is not None:
        got += f" (output cut inside a chunked stream: {ex.incomplete.end})"
    return got
