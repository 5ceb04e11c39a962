"""Known deviations: disagreements that docs/PROTOCOL.md §deviations explains.

A behaviour of the original is never a finding (:mod:`bytestreamrpc.deviations`). When a
trial disagrees, each role turns what it observed into :class:`~bytestreamrpc.deviations.
Observed` (the server role with :func:`recordings.explain.server_observed`, the one reading
of a server's records that replay and golden check use too; the client role in
:mod:`.client_runner`, from the scripted server's situations and the job's outcome) and asks
:func:`~bytestreamrpc.deviations.explain`. An explained disagreement is a *known deviation*:
:func:`~.search.search` counts it (:class:`KnownMet`: how often, the first trial that showed
it), keeps searching, and neither shrinks nor saves it; the summary lists every one met.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from bytestreamrpc.deviations import Deviation

__all__ = ["KnownMet", "summary_lines"]

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
