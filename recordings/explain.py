"""Golden check and replay against the §deviations table: the original's behaviour is no mismatch.

When a server replay finds a difference, both sides are put in the terms of
:mod:`bytestreamrpc.deviations`: the recorded (reference) side and what the implementation
sent are each read as an :class:`~bytestreamrpc.deviations.Observed` (the server's answers:
``ErrorId``, ``ResponseType``, ``Message``, whether a ChunkedStream answer ended with its
zero chunk; whether the server closed), and :func:`~bytestreamrpc.deviations.explain` names
the row whose original behaviour the implementation shows, if any. Only a difference in what
the server *answered* (a response header, a missing or extra answer, the close) is put to
the table: a wrong body or send stream behind the same answers is never excused.

Client-role replays are not put to the table: its client rows depend on what the peer did
and on the job's local state (:class:`~bytestreamrpc.deviations.Situation`), which a
transcript does not say in general.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bytestreamrpc import messages
from bytestreamrpc.constants import ResponseType
from bytestreamrpc.deviations import Answer, Deviation, Observed, StreamEnd, explain
from bytestreamrpc.messages import ResponseHeader

from .classify import GO_RESPONSE_HEADER
from .compare import Mismatch
from .format import S2C, EventRecord, Record, StreamRecord

__all__ = ["explain_server_mismatch", "server_observed"]


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


def server_observed(records: Iterable[Record]) -> Observed:
    """The server's side of a conversation (recorded or replayed) as the table sees it.

    An undecodable or cut response header ends the list: no row of the table explains one.
    """
    recs = list(records)
    s2c = [r for r in recs if isinstance(r, StreamRecord) and r.dir == S2C]
    answers: list[Answer] = []
    for i, rec in enumerate(s2c):
        if rec.go != GO_RESPONSE_HEADER:
            continue
        h = _header(rec)
        if h is None:
            break
        end: StreamEnd = ""
        if h.error_id == 0 and h.response_type == ResponseType.CHUNKED_STREAM:
            end = _stream_end(s2c[i + 1 :])
        answers.append(Answer(h.error_id, h.response_type, h.message, end))
    closed = any(isinstance(r, EventRecord) and r.event == "eof" and r.dir == S2C for r in recs)
    return Observed(answers=tuple(answers), closed=closed)


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
    return explain(server_observed(recorded), server_observed(replayed), role="server")
