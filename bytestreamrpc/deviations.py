"""The one machine-readable list of docs/PROTOCOL.md §deviations: what the original did instead.

The reference differs from the original on purpose in the places §deviations lists. Every
tool that produces a verdict (the conformance judge, ``golden check`` and ``replay``, both
roles of ``fuzz``) compares an implementation with the reference, so without this table a
faithful port of the original would be told it fails exactly where the original itself
behaves as documented. The rule all of them follow: *a behaviour the original itself shows is
never FAIL and never NON-STRICT*. It is INFO ("the original's behaviour, §deviations.X"), or,
where the row is marked unsafe, a SHOULD finding that only ``--strict`` reports.

A :class:`Deviation` row names its §deviations heading, says in one line what the original
did, whether that is unsafe, and gives the original's behaviour as a predicate over what was
observed: the reference's and the implementation's :class:`Observed` behaviour in the same
situation. Server rows look at the answers and the close; client rows at what the peer did
(:class:`Situation`), the exit status, the requests and whether the local state changed.
Each tool turns its own observations into :class:`Observed` and calls :func:`explain`.
A predicate is as narrow as the original's documented behaviour: it explains the original's
answer and nothing near it, so a real defect is never excused.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from .constants import ErrorId, ResponseType

__all__ = [
    "TABLE",
    "Answer",
    "Deviation",
    "Observed",
    "Situation",
    "StreamEnd",
    "explain",
    "headings",
]

StreamEnd = Literal["", "complete", "cut"]
"""For a ChunkedStream answer: ``complete`` (zero chunk seen) or ``cut``; else ``""``."""


@dataclass(frozen=True)
class Answer:
    """One response as the judge needs it: error id, response type, text, stream end."""

    error_id: int
    response_type: int
    message: str = ""
    stream: StreamEnd = ""

    @property
    def shape(self) -> tuple[int, int]:
        return (self.error_id, self.response_type)

    def __str__(self) -> str:
        if self.error_id:
            return f"E({self.error_id}, {self.message!r})"
        tail = f" ({self.stream} stream)" if self.stream else ""
        return f"OK({self.response_type:#04x}){tail}"


class Situation(enum.Enum):
    """What the observer set up or did: mostly what the peer of a client (the suite's or the
    fuzzer's scripted server) did; for a server, what its configuration holds."""

    PULLME_REFUSED = "the PullMe request was answered with anything but OK(0x01)"
    PULLER_GONE = "the puller closed the connection without PullMe{Finished:true}"
    STREAM_WITHOUT_TERMINATOR = "a send stream ended at a chunk boundary without its zero chunk"
    STREAM_REFUSED_BY_RECV = "a send stream the receive refuses, with more of it still coming"
    DIVERGED = "a local dataset has diverged from the remote one"
    PEER_STALLS = "the peer stopped sending (or reading) in the middle of the conversation"
    EXEC_MAPPING_FAILS = "the server's exec mapping program fails, hangs or answers garbage"
    OVERLAPPING_COMBO = "the server's combo mapping has several entries matching one dataset"
    MESSAGE_WITHOUT_TERMINATOR = (
        "the client's input ended after data chunks of a message, before its zero chunk"
    )


@dataclass(frozen=True)
class Observed:
    """One side's behaviour in one situation, in the terms the table's predicates use.

    Server role: ``answers`` in order and whether the server ``closed`` the connection
    (``False``: still open when the observer stopped waiting). Client role: ``situations``,
    whether the job ``succeeded`` (exit status 0), whether it exited at all (``closed``),
    the ``requests`` it sent (request type names) and whether the local state changed.
    """

    answers: tuple[Answer, ...] = ()
    closed: bool = True
    situations: frozenset[Situation] = frozenset()
    succeeded: bool | None = None
    requests: tuple[str, ...] = ()
    state_changed: bool | None = None


Predicate = Callable[[Observed, Observed], bool]
"""``(reference, implementation) -> True`` when the implementation shows the original's
behaviour of the row."""


@dataclass(frozen=True)
class Deviation:
    """One row: a behaviour of the original that §deviations.``heading`` documents."""

    heading: str
    role: Literal["server", "client"]
    original: str
    """The original's behaviour, one line (what a report says)."""
    unsafe: bool
    """True where the original's behaviour can lose data or mislead the operator (a refused
    push reported as success, a connection left out of step, a truncated stream taken as
    complete): a SHOULD finding under ``--strict``; otherwise INFO."""
    applies: Predicate = field(compare=False, repr=False)

    @property
    def section(self) -> str:
        return f"§deviations.{self.heading}"

    def describe(self) -> str:
        """``the original's behaviour, §deviations.X: ...`` (for notes and findings)."""
        return f"the original's behaviour, {self.section}: {self.original}"


# ------------------------------------------------------------------ server predicates


def _split(ref: Observed, got: Observed) -> tuple[tuple[Answer, ...], tuple[Answer, ...]]:
    """Both sides' answers from the first one whose shape differs."""
    k = 0
    while k < min(len(ref.answers), len(got.answers)):
        if ref.answers[k].shape != got.answers[k].shape:
            break
        k += 1
    return ref.answers[k:], got.answers[k:]


def _ends_there(tail: tuple[Answer, ...], got: Observed, n: int) -> bool:
    """The implementation gave exactly ``n`` answers from the split point, then closed."""
    return len(tail) == n and got.closed


def _failed_send(a: Answer) -> bool:
    """OK(0x20) whose stream never got its zero chunk: a send that failed after the header."""
    return a.shape == (ErrorId.NONE, ResponseType.CHUNKED_STREAM) and a.stream == "cut"


def _message_taken_as_complete(ref: Observed, got: Observed) -> bool:
    # The client's last message lacked its zero chunk. Where the reference reports the
    # truncation (error 1 for a header, 3 for a body), the original had decoded the message
    # as complete: a header then failed on its missing body (error 3, or 2 for an unknown
    # type); a body was answered (and the next header hit end of input, E(1, "...: EOF"),
    # unless the request itself ends the connection, like Close).
    if Situation.MESSAGE_WITHOUT_TERMINATOR not in got.situations or not got.closed:
        return False
    rt, gt = _split(ref, got)
    if not rt or rt[0].error_id not in (ErrorId.DECODE_HEADER, ErrorId.DECODE_REQUEST_BODY):
        return False
    if len(gt) == 1 and gt[0].error_id in (
        ErrorId.UNKNOWN_REQUEST_TYPE,
        ErrorId.DECODE_REQUEST_BODY,
    ):
        return True
    eof = bool(gt) and gt[-1].error_id == ErrorId.DECODE_HEADER and gt[-1].message.endswith(": EOF")
    answered = gt[:-1] if eof else gt
    return bool(answered) and all(a.error_id == ErrorId.NONE for a in answered)


def _eof_text(ref: Observed, got: Observed) -> bool:
    # End of input at a chunk boundary with only whitespace read: the original's decoder said
    # ": EOF" where the reference says ": unexpected EOF". Same ids and types; only those
    # texts differ.
    if Situation.MESSAGE_WITHOUT_TERMINATOR not in got.situations:
        return False
    if [a.shape for a in ref.answers] != [a.shape for a in got.answers]:
        return False
    pairs = [(r, g) for r, g in zip(ref.answers, got.answers, strict=True) if r != g]
    return bool(pairs) and all(
        r.message.endswith(": unexpected EOF")
        and g.message == r.message.removesuffix("unexpected EOF") + "EOF"
        and r.stream == g.stream
        for r, g in pairs
    )


def _accepted_big_message(ref: Observed, got: Observed) -> bool:
    # The reference refuses one JSON message above its bound; the original buffered it and
    # answered what the message asked for.
    rt, gt = _split(ref, got)
    return bool(rt) and "-byte limit" in rt[0].message and bool(gt) and gt[0].error_id == 0


def _never_closes_on_stall(ref: Observed, got: Observed) -> bool:
    # No I/O timeout in the original: where the reference gave up on a stalled peer and
    # closed, the original still waited. Same answers, only the close is missing.
    return (
        Situation.PEER_STALLS in got.situations
        and ref.closed
        and not got.closed
        and ref.answers == got.answers
    )


_PANICKED_ON: Final = ("no pull ACL for client identity", "unexpected VersionType")
"""The reference's E(5) texts where the original's handler panicked (§handler.no-acl,
§handler.transfer)."""


def _crashed_or_failed_send(ref: Observed, got: Observed) -> bool:
    # Where the reference answers E(5) for a missing pull ACL or a version type other than
    # snapshot or bookmark, the original's handler panicked (close, no answer); where the
    # send itself could not start (a version or dataset zfs does not have), the original
    # had already answered OK(0x20) and closed without the zero chunk.
    rt, gt = _split(ref, got)
    if not rt or rt[0].error_id != ErrorId.HANDLER:
        return False
    if _ends_there(gt, got, 1) and _failed_send(gt[0]):
        return True
    return _ends_there(gt, got, 0) and any(t in rt[0].message for t in _PANICKED_ON)


def _combo_in_another_order(ref: Observed, got: Observed) -> bool:
    # With several combo entries matching, the original's Go map order picked any of them:
    # the same kinds of answers, whose bodies (listings, refusals' targets) may differ.
    return Situation.OVERLAPPING_COMBO in got.situations and [a.shape for a in ref.answers] == [
        a.shape for a in got.answers
    ]


def _no_eof_answer(ref: Observed, got: Observed) -> bool:
    # The E(1, "...: EOF") after a clean close is written to a peer that may be gone; when
    # that write fails, the original (and the reference) simply close.
    return (
        got.closed
        and len(ref.answers) == len(got.answers) + 1
        and ref.answers[:-1] == got.answers
        and ref.answers[-1].error_id == ErrorId.DECODE_HEADER
        and ref.answers[-1].message.endswith(": EOF")
    )


def _exec_mapping_panic(ref: Observed, got: Observed) -> bool:
    # An exec mapping that fails: the reference treats it as no match (E(5) for a
    # refused dataset, or a shorter listing); the original's handler panicked and closed.
    rt, gt = _split(ref, got)
    return Situation.EXEC_MAPPING_FAILS in got.situations and bool(rt) and _ends_there(gt, got, 0)


def _unvalidated_path(ref: Observed, got: Observed) -> bool:
    # A malformed DatasetPath: the reference refuses it before the ACL; the original passed
    # it on, so zfs or the mapping refused the name: E(5) with another text. (Where the
    # name got as far as a send that failed, the handler-crashes row applies.)
    if [a.shape for a in ref.answers] != [a.shape for a in got.answers]:
        return False
    pairs = [(r, g) for r, g in zip(ref.answers, got.answers, strict=True) if r != g]
    return bool(pairs) and all(
        r.error_id == ErrorId.HANDLER and "invalid dataset path" in r.message for r, _g in pairs
    )


# ------------------------------------------------------------------ client predicates


def _in(*situations: Situation) -> Callable[[Observed], bool]:
    return lambda got: bool(got.situations.intersection(situations))


def _push_reported_success(ref: Observed, got: Observed) -> bool:
    # The pusher ignored the answer to its PullMe and served until its loop ended without
    # an error: success when the puller hung up, no end at all when it did not.
    return (
        _in(Situation.PULLME_REFUSED, Situation.PULLER_GONE)(got)
        and got.state_changed is not True
        and (got.succeeded is True or not got.closed)
    )


def _truncated_stream_taken(ref: Observed, got: Observed) -> bool:
    return _in(Situation.STREAM_WITHOUT_TERMINATOR)(got) and (
        got.succeeded is True or got.state_changed is True
    )


def _out_of_step_after_refused_recv(ref: Observed, got: Observed) -> bool:
    # The original left the rest of a refused stream unread: the next response was read
    # from inside it, so the datasets after it never arrived and the job failed.
    return _in(Situation.STREAM_REFUSED_BY_RECV)(got) and got.succeeded is False


def _diverged_initial_transfer(ref: Observed, got: Observed) -> bool:
    # A diverged dataset went down the initial-transfer branch; the receive then refused
    # the existing dataset, so nothing changed.
    return (
        _in(Situation.DIVERGED)(got)
        and got.state_changed is not True
        and any(r in ("INITIAL_TRANSFER", "INCREMENTAL_TRANSFER") for r in got.requests)
    )


def _close_on_a_broken_connection(ref: Observed, got: Observed) -> bool:
    # After a response that broke the conversation (a body that does not decode), the
    # original's job still sent its Close request; the reference job closes without one.
    return (
        got.succeeded is False
        and ref.succeeded is False
        and got.state_changed == ref.state_changed
        and bool(ref.requests)
        and got.requests == (*ref.requests, "CLOSE")
    )


def _last_answer_lost_at_close(ref: Observed, got: Observed) -> bool:
    # The original's client closed its connection by killing its ssh (SIGTERM), so the
    # error answer its serving loop (a pusher's) wrote just before could be lost.
    return (
        got.succeeded is False
        and ref.succeeded is False
        and got.state_changed == ref.state_changed
        and got.requests == ref.requests
        and len(ref.answers) == len(got.answers) + 1
        and ref.answers[:-1] == got.answers
        and ref.answers[-1].error_id != ErrorId.NONE
    )


def _client_waits_forever(ref: Observed, got: Observed) -> bool:
    return _in(Situation.PEER_STALLS)(got) and not got.closed


# ------------------------------------------------------------------ the table

TABLE: Final[tuple[Deviation, ...]] = (
    Deviation(
        "truncated-payload",
        "server",
        "a message without its zero chunk, then EOF, was decoded as complete: a header then "
        "failed on its body (error 3, or 2), a body was answered",
        False,
        _message_taken_as_complete,
    ),
    Deviation(
        "truncated-payload",
        "server",
        "end of input with only whitespace read was `cannot decode <T>: EOF`",
        False,
        _eof_text,
    ),
    Deviation(
        "truncated-payload",
        "client",
        "a send stream that ended at a chunk boundary without its zero chunk was taken as complete",
        True,
        _truncated_stream_taken,
    ),
    Deviation(
        "message-bound",
        "server",
        "a JSON message of any size was buffered and answered",
        False,
        _accepted_big_message,
    ),
    Deviation(
        "timeouts",
        "server",
        "no I/O timeout: a silent peer held the connection open",
        False,
        _never_closes_on_stall,
    ),
    Deviation(
        "timeouts",
        "client",
        "no I/O timeout: a silent server held the job forever",
        False,
        _client_waits_forever,
    ),
    Deviation(
        "handler-crashes",
        "server",
        "where the reference answers E(5), the handler panicked (close, no answer) or the "
        "send failed after OK(0x20) (close without zero chunk)",
        False,
        _crashed_or_failed_send,
    ),
    Deviation(
        "mapping-order",
        "server",
        "combo mapping entries were tried in Go map order, so where several matched, any "
        "of them could decide (the answers' kinds are the same, their contents may differ)",
        False,
        _combo_in_another_order,
    ),
    Deviation(
        "clean-eof",
        "server",
        "the E(1, `...: EOF`) after the peer's clean close was lost when the peer had gone",
        False,
        _no_eof_answer,
    ),
    Deviation(
        "pullme-result",
        "client",
        "a push whose PullMe was refused, or whose puller left without Finished=true, "
        "was reported as a success (or the pusher kept serving a pull that never came)",
        True,
        _push_reported_success,
    ),
    Deviation(
        "exec-mapping",
        "server",
        "an exec mapping that failed made the handler panic: close, no answer",
        False,
        _exec_mapping_panic,
    ),
    Deviation(
        "pull-job",
        "client",
        "a diverged dataset went down the initial-transfer branch (the receive then refused it)",
        False,
        _diverged_initial_transfer,
    ),
    Deviation(
        "pull-job",
        "client",
        "after a refused receive the rest of the send stream was left unread: the connection "
        "was out of step and the job failed",
        True,
        _out_of_step_after_refused_recv,
    ),
    Deviation(
        "pull-job",
        "client",
        "after a response that broke the conversation, the job still sent its Close request",
        False,
        _close_on_a_broken_connection,
    ),
    Deviation(
        "transport-close",
        "client",
        "closing killed the ssh process, so the error answer written just before (a pusher's, "
        "serving its puller) could be lost",
        False,
        _last_answer_lost_at_close,
    ),
    Deviation(
        "path-validation",
        "server",
        "a malformed DatasetPath went to the ACL and to zfs unchanged, which refused it with "
        "E(5) and another text",
        False,
        _unvalidated_path,
    ),
)


def headings(table: Iterable[Deviation] = TABLE) -> list[str]:
    """The §deviations headings the table covers, in table order, each once."""
    return list(dict.fromkeys(d.heading for d in table))


def explain(
    reference: Observed,
    implementation: Observed,
    *,
    role: Literal["server", "client"],
    table: Iterable[Deviation] = TABLE,
) -> Deviation | None:
    """The first row of ``role`` whose original behaviour the implementation shows, if any."""
    for row in table:
        if row.role == role and row.applies(reference, implementation):
            return row
    return None
