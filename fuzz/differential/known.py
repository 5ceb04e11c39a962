"""Known deviations: disagreements that docs/PROTOCOL.md §deviations explains.

A behaviour of the original is never a finding (:mod:`bytestreamrpc.deviations`). When a
trial disagrees, each role turns what it observed into :class:`~bytestreamrpc.deviations.
Observed` (the server role here, from the two servers' records; the client role in
:mod:`.client_runner`, from the scripted server's situations and the job's outcome) and asks
:func:`~bytestreamrpc.deviations.explain`. An explained disagreement is a *known deviation*:
:func:`~.search.search` counts it (:class:`KnownMet`: how often, the first trial that showed
it), keeps searching, and neither shrinks nor saves it; the summary lists every one met.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from bytestreamrpc import messages
from bytestreamrpc.constants import ErrorId, ResponseType
from bytestreamrpc.deviations import Answer, Deviation, Observed, StreamEnd
from recordings.classify import GO_RESPONSE_HEADER
from recordings.format import S2C, EventRecord, Record, StreamRecord

__all__ = ["KnownMet", "server_answers", "server_observed", "summary_lines"]

T = TypeVar("T")
_EXAMPLE_LINES: Final = 8
"""Input lines of a known deviation's example shown in the summary."""


@dataclass
class KnownMet(Generic[T]):
    """One row of the table the implementation showed during a search."""

    row: Deviation
    count: int
    trial: int
    """The search's trial number of the first example (``--seed`` repeats the search)."""
    example: T
    said: str
    """What the comparison said of the example before the table explained it."""


def server_answers(records: Sequence[Record]) -> tuple[Answer, ...]:
    """The server's response headers in ``records``, each with how its send stream ended.

    An undecodable header ends the list (no row of the table explains one). A send stream
    is ``cut`` when its zero chunk never came, including when the server closed right after
    the OK(ChunkedStream) header.
    """
    answers: list[Answer] = []
    streams = [r for r in records if isinstance(r, StreamRecord) and r.dir == S2C]
    for i, r in enumerate(streams):
        if r.go != GO_RESPONSE_HEADER:
            continue
        try:
            h = messages.decode_message(messages.ResponseHeader, r.payload or b"")
        except Exception:
            break
        if r.cut is not None:
            break
        end: StreamEnd = ""
        if h.error_id == ErrorId.NONE and h.response_type == ResponseType.CHUNKED_STREAM:
            data = streams[i + 1] if i + 1 < len(streams) else None
            whole = data is not None and data.kind == "data" and data.cut is None
            end = "complete" if whole else "cut"
        answers.append(Answer(h.error_id, h.response_type, h.message, end))
    return tuple(answers)


def server_observed(records: Sequence[Record], *, hung: bool) -> Observed:
    """One server's side of a trial in the table's terms (``hung``: it never closed)."""
    closed = not hung and any(
        isinstance(r, EventRecord) and r.event == "eof" and r.dir == S2C for r in records
    )
    return Observed(answers=server_answers(records), closed=closed)


def summary_lines(
    known: Sequence[KnownMet[T]], seed: int, describe: Callable[[T], list[str]]
) -> list[str]:
    """The summary's list of the known deviations met (empty if none): per row its section,
    how many trials showed it, whether it is unsafe, and the first example (its trial number
    under ``--seed``, what the comparison said, the input as ``describe`` tells it)."""
    if not known:
        return []
    out = [f"known deviations met: {len(known)} (the original's behaviour, not findings)"]
    for k in known:
        unsafe = "; unsafe (a SHOULD under --strict)" if k.row.unsafe else ""
        out.append(f"  {k.row.section}: {k.count} trial(s){unsafe}: {k.row.original}")
        out.append(f"    first seen in trial {k.trial} (--seed {seed}): {k.said}")
        lines = describe(k.example)
        shown = lines[:_EXAMPLE_LINES]
        more = [f"... ({len(lines) - len(shown)} more)"] if len(lines) > len(shown) else []
        out += [f"      {line}" for line in [*shown, *more]]
    return out
