"""Golden check and replay against the §deviations table: the original's behaviour is no mismatch.

When a server replay finds a difference, both sides are put in the terms of
:mod:`bytestreamrpc.deviations`: the recorded (reference) side and what the implementation
sent are each read as an :class:`~bytestreamrpc.deviations.Observed` (the server's answers:
``ErrorId``, ``ResponseType``, ``Message``, whether a ChunkedStream answer ended with its
zero chunk; whether the server closed; what the played client side set up,
:func:`server_situations`), and :func:`~bytestreamrpc.deviations.explain` names
the row whose original behaviour the implementation shows, if any. Only a difference in what
the server *answered* (a response header, a missing or extra answer, the close) is put to
the table: a wrong body or send stream behind the same answers is never excused.

A client replay's difference (on the wire or in the recorded outcome) is put to the table's
client rows with what a transcript does say about the peer, the recorded server side played
to the client (:func:`client_situations`): a refused PullMe, a puller that left without
``PullMe{Finished:true}``, a send stream that ended at a chunk boundary without its zero
chunk. The other situations (a receive that refused the stream, a diverged dataset, a stall)
depend on the client's state or timing, which a transcript does not say: rows needing them
never apply to a replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bytestreamrpc import messages
from bytestreamrpc.constants import RequestType, ResponseType
from bytestreamrpc.deviations import Answer, Deviation, Observed, Situation, StreamEnd, explain
from bytestreamrpc.messages import PullMeRequest, RequestHeader, ResponseHeader

from .classify import GO_REQUEST_HEADER, GO_RESPONSE_HEADER
from .compare import Mismatch
from .format import C2S, S2C, Direction, EventRecord, Record, StreamRecord
from .outcome import ClientOutcome

__all__ = [
    "answers_sent",
    "client_observed",
    "client_situations",
    "explain_client_mismatch",
    "explain_server_mismatch",
    "server_observed",
    "server_situations",
]


def _header(rec: StreamRecord) -> ResponseHeader | None:
    if rec.payload is None or rec.cut is not None:
        return None
    try:
        return messages.decode_message(ResponseHeader, rec.payload)
    except Exception:  # DecodeError, or anything a broken message provokes
        return None


def _stream_end(rest: Sequence[StreamRecord]) -> StreamEnd:
    """How the send stream after a ChunkedStream answer ended (``cut``: none came)."""
    if rest and rest[0].kind == "data" and rest[0].cut is None:
        return "complete"
    return "cut"


def server_situations(records: Iterable[Record]) -> frozenset[Situation]:
    """What the recorded client side did, in the table's terms: its last message ended after
    data chunks (at a chunk boundary or inside a chunk) without its zero chunk. A server's
    configuration (an overlapping combo or a failing exec mapping) and a stall are not read
    from a transcript: rows that need them never apply to a replay."""
    sent = [r for r in records if isinstance(r, StreamRecord) and r.dir == C2S]
    last = sent[-1] if sent else None
    if last is None or last.cut is None:
        return frozenset()
    inside_a_chunk = last.cut.declared is not None
    after_a_chunk = bool(last.chunks) and not last.cut.header  # not inside a chunk length
    if not (inside_a_chunk or after_a_chunk):
        return frozenset()
    return frozenset({Situation.MESSAGE_WITHOUT_TERMINATOR})


def answers_sent(records: Iterable[Record], direction: Direction = S2C) -> tuple[Answer, ...]:
    """The response headers sent in ``direction`` (``S2C``: a server's; ``C2S``: a pushing
    client's, serving its puller), each with how its send stream ended.

    An undecodable or cut response header ends the list: no row of the table explains one.
    """
    sent = [r for r in records if isinstance(r, StreamRecord) and r.dir == direction]
    answers: list[Answer] = []
    for i, rec in enumerate(sent):
        if rec.go != GO_RESPONSE_HEADER:
            continue
        h = _header(rec)
        if h is None:
            break
        end: StreamEnd = ""
        if h.error_id == 0 and h.response_type == ResponseType.CHUNKED_STREAM:
            end = _stream_end(sent[i + 1 :])
        answers.append(Answer(h.error_id, h.response_type, h.message, end))
    return tuple(answers)


def server_observed(
    records: Iterable[Record], situations: frozenset[Situation] = frozenset()
) -> Observed:
    """The server's side of a conversation (recorded or replayed) as the table sees it."""
    recs = list(records)
    closed = any(isinstance(r, EventRecord) and r.event == "eof" and r.dir == S2C for r in recs)
    return Observed(answers=answers_sent(recs), closed=closed, situations=situations)


def _about_answers(expected: Record | None) -> bool:
    """The difference is in what the server answered, not in a body or send stream (a
    missing or wrong body behind the same answers is never the original's behaviour)."""
    if not isinstance(expected, StreamRecord):
        return True  # an end of file the server did or did not give, or an extra answer
    return expected.go == GO_RESPONSE_HEADER


def explain_server_mismatch(
    recorded: Sequence[Record], replayed: Sequence[Record], mismatch: Mismatch
) -> Deviation | None:
    """The §deviations row (server role) that explains ``mismatch``, if any.

    ``recorded``: the transcript's records (the reference); ``replayed``: everything the
    implementation said, including what it said after the first difference.
    """
    expected = recorded[mismatch.index - 1] if 0 < mismatch.index <= len(recorded) else None
    if not _about_answers(expected):
        return None
    situations = server_situations(recorded)
    return explain(
        server_observed(recorded, situations),
        server_observed(replayed, situations),
        role="server",
    )


# --------------------------------------------------------------------------- client role


def _requests(records: Iterable[Record], d: Direction) -> list[tuple[int, RequestType | None]]:
    """``(position, type)`` of every request header sent in direction ``d``."""
    out: list[tuple[int, RequestType | None]] = []
    for i, r in enumerate(records):
        if not (isinstance(r, StreamRecord) and r.dir == d and r.go == GO_REQUEST_HEADER):
            continue
        try:
            h = messages.decode_message(RequestHeader, r.payload or b"")
            kind: RequestType | None = RequestType(h.type)
        except Exception:  # undecodable or an unknown type
            kind = None
        out.append((i, kind))
    return out


def _pullme_answer(recs: Sequence[Record], at: int) -> ResponseHeader | None:
    """The server's answer to the client's request at ``at``: its next response header."""
    for r in recs[at + 1 :]:
        if isinstance(r, StreamRecord) and r.dir == S2C and r.go == GO_RESPONSE_HEADER:
            return _header(r)
    return None


def _finished(recs: Sequence[Record], at: int) -> bool | None:
    """``Finished`` of the PullMe request whose header is at ``at`` (``None``: undecodable)."""
    d = recs[at].dir
    body = next((r for r in recs[at + 1 :] if isinstance(r, StreamRecord) and r.dir == d), None)
    try:
        return (
            messages.decode_message(PullMeRequest, body.payload or b"").finished if body else None
        )
    except Exception:  # undecodable: no PullMe a peer would act on
        return None


def _at_chunk_boundary(r: Record) -> bool:
    """A server's send stream that ended after a complete chunk, without its zero chunk."""
    return (
        isinstance(r, StreamRecord)
        and r.dir == S2C
        and r.kind == "data"
        and r.cut is not None
        and r.cut.declared is None
        and not r.cut.header
    )


def client_situations(records: Iterable[Record]) -> frozenset[Situation]:
    """What the recorded server side did, in the table's terms (what a transcript says)."""
    recs = list(records)
    found: set[Situation] = set()
    if any(_at_chunk_boundary(r) for r in recs):
        found.add(Situation.STREAM_WITHOUT_TERMINATOR)
    pullmes = [
        i
        for i, t in _requests(recs, C2S)
        if t is RequestType.PULL_ME and _finished(recs, i) is False
    ]
    if pullmes:
        answer = _pullme_answer(recs, pullmes[0])
        if answer is None or (answer.error_id, answer.response_type) != (0, ResponseType.OK):
            found.add(Situation.PULLME_REFUSED)  # the original's pusher ignored any answer
        elif not any(t is RequestType.PULL_ME and _finished(recs, i)
                     for i, t in _requests(recs, S2C)):  # fmt: skip
            found.add(Situation.PULLER_GONE)
    return frozenset(found)


def client_observed(
    records: Iterable[Record],
    situations: frozenset[Situation],
    outcome: ClientOutcome | None,
    before: Mapping[str, Mapping[str, Any]] | None,
) -> Observed:
    """A client's side (recorded or replayed) as the table sees it. ``outcome``: its exit
    status and datasets (``None``: not known); ``before``: its datasets at the start."""
    kinds = [t.name if t is not None else "UNKNOWN" for _i, t in _requests(records, C2S)]
    exit_kind = None if outcome is None else outcome.exit
    return Observed(
        closed=exit_kind != "timeout",
        situations=situations,
        succeeded=None if exit_kind is None else exit_kind == "ok",
        requests=tuple(kinds),
        state_changed=None if outcome is None or before is None else outcome.state != before,
    )


def explain_client_mismatch(
    recorded: Sequence[Record],
    replayed: Sequence[Record],
    *,
    expected: ClientOutcome | None,
    actual: ClientOutcome | None,
    before: Mapping[str, Mapping[str, Any]] | None,
) -> Deviation | None:
    """The §deviations row (client role) that explains a client replay's difference."""
    situations = client_situations(recorded)
    if not situations:
        return None
    ref = client_observed(recorded, situations, expected, before)
    got = client_observed(replayed, situations, actual, before)
    return explain(ref, got, role="client")
