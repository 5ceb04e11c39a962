"""What the scripted server does in one client-role trial: a :class:`ServerScript`.

Client-role differential fuzzing plays a *server* against two clients (ours and the
implementation's). The server is our reference server over the fixture (the profile's pull
ACL, sinks and identity), except where the script says otherwise. A script is plain frozen
data, so Hypothesis can generate and shrink it and a trial can be cached by it:

* ``job``: which job the client runs (``pull`` or ``push``);
* ``rules``: deviations, each aimed at the ``nth`` request of one type the client sends
  (``INCREMENTAL_TRANSFER`` #1, ...) so it hits the same request whatever the client did
  before; the first matching rule wins, every other request gets the reference's answer;
* ``hide``: datasets left out of the honest Filesystems answer (a server that offers less);
* ``puller``: in a push, what the server does once it is the requester (§pullme.inversion):
  the reference pull job, or a list of requests of its own; then ``PullMe{Finished:true}``
  or, with ``hang_up``, just closing.

A script is a deterministic function of the requests the client sends, which is what makes
a finding replayable: replaying the reference client's recorded conversation to the
implementation gives it exactly the bytes the scripted server would have given it, up to
the first request where the two clients differ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final, Literal

from bytestreamrpc.constants import RequestType, ResponseType
from bytestreamrpc.messages import RequestBody

__all__ = [
    "JOBS",
    "STREAM_FAULTS",
    "Body",
    "Cut",
    "Job",
    "Mutate",
    "OtherId",
    "Plan",
    "Puller",
    "Rechunk",
    "Refuse",
    "Rule",
    "ServerScript",
    "Stray",
    "StreamFault",
    "WrongType",
]

Job = Literal["pull", "push"]
JOBS: Final[tuple[Job, Job]] = ("pull", "push")


def _type_name(value: int, names: type[RequestType] | type[ResponseType]) -> str:
    try:
        return names(value).name
    except ValueError:
        return f"{value:#04x}"


@dataclass(frozen=True)
class Refuse:
    """An error response (zero RequestId, ResponseType NONE), then go on or hang up."""

    error_id: int
    close: bool = False

    def describe(self) -> str:
        return f"refuse with error {self.error_id}" + (", then close" if self.close else "")


@dataclass(frozen=True)
class WrongType:
    """A success header of another response type, without a body (§client.expect)."""

    response_type: int

    def describe(self) -> str:
        return f"answer OK with response type {_type_name(self.response_type, ResponseType)}"


@dataclass(frozen=True)
class OtherId:
    """The reference's answer with another RequestId in its header (§msg.request-id)."""

    request_id: bytes

    def describe(self) -> str:
        return f"answer with RequestId {self.request_id.hex()}"


@dataclass(frozen=True)
class Rechunk:
    """The reference's answer in chunks of ``size`` bytes (§frame.boundaries)."""

    size: int

    def describe(self) -> str:
        return f"answer in {self.size}-byte chunks"


@dataclass(frozen=True)
class Cut:
    """The reference's answer cut after ``at`` bytes, then close (§frame.truncation)."""

    at: int

    def describe(self) -> str:
        return "close without answering" if self.at == 0 else f"close after {self.at} answer bytes"


@dataclass(frozen=True)
class Stray:
    """The reference's answer followed by one unsolicited JSON stream."""

    payload: bytes

    def describe(self) -> str:
        return f"answer, then a stray stream {self.payload[:40]!r}"


@dataclass(frozen=True)
class Body:
    """A Filesystems / FilesystemDiff answer with this body text instead (any Go JSON)."""

    payload: bytes
    note: str = ""

    def describe(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"answer with the body {self.payload[:60]!r}{note}"


MUTATIONS: Final = (
    "drop-first",
    "drop-last",
    "reverse",
    "duplicate",
    "null",
    "empty",
    "guid-plus-one",
    "add-foreign",
)
"""Edits of the reference's Filesystems / FilesystemDiff body (see :mod:`.answers`)."""


@dataclass(frozen=True)
class Mutate:
    """The reference's Filesystems / FilesystemDiff body, edited by ``op``."""

    op: str

    def describe(self) -> str:
        return f"answer with the body edited: {self.op}"


STREAM_FAULTS: Final = (
    "flip",
    "short",
    "long",
    "empty",
    "wrong",
    "cut-boundary",
    "cut-payload",
    "cut-length",
    "cut-complete",
)
"""Faults of a send stream: ``flip`` a byte, ``short``/``long``/``empty`` payload (stream
complete), ``wrong`` (the stream of another snapshot: a full stream for an incremental, the
oldest snapshot for an initial), ``cut-*`` (end of file at a chunk boundary, inside a
payload, inside a chunk length, or after every data chunk without the zero chunk)."""


@dataclass(frozen=True)
class StreamFault:
    """An OK(ChunkedStream) whose send stream is damaged as ``kind`` says (``n``: where)."""

    kind: str
    n: int = 0

    def describe(self) -> str:
        return f"send stream fault {self.kind}" + (f" at {self.n}" if self.n else "")


Plan = Refuse | WrongType | OtherId | Rechunk | Cut | Stray | Body | Mutate | StreamFault


@dataclass(frozen=True)
class Rule:
    """Answer the ``nth`` (0-based) request of type ``request`` as ``plan`` says."""

    request: RequestType
    nth: int
    plan: Plan

    def describe(self) -> str:
        return f"{self.request.name} #{self.nth + 1}: {self.plan.describe()}"


def _body_text(body: RequestBody) -> str:
    return f"{type(body).__name__} {body}"


@dataclass(frozen=True)
class Puller:
    """The server's part after it answered a PullMe with OK (push jobs only).

    ``requests`` ``None`` is the reference pull job into the profile's sink; otherwise the
    server sends these requests (reading every answer, a send stream to its end) and gives
    up at the first that fails. Then ``PullMe{Finished:true}``, or with ``hang_up`` a close.
    """

    requests: tuple[RequestBody, ...] | None = None
    hang_up: bool = False

    def describe(self) -> list[str]:
        pull = (
            ["pull with the reference pull job"]
            if self.requests is None
            else [f"request {_body_text(b)}" for b in self.requests] or ["request nothing"]
        )
        end = "close without PullMe{Finished:true}" if self.hang_up else "PullMe{Finished:true}"
        return [*pull, end]


@dataclass(frozen=True)
class ServerScript:
    """One generated server behaviour (see the module docstring)."""

    job: Job
    rules: tuple[Rule, ...] = ()
    hide: tuple[str, ...] = ()
    puller: Puller = Puller()

    def rule_for(self, request: RequestType, nth: int) -> Rule | None:
        """The rule for the ``nth`` (0-based) request of this type, if any (the first)."""
        for rule in self.rules:
            if rule.request is request and rule.nth == nth:
                return rule
        return None

    def keeping(self, rules: set[Rule]) -> ServerScript:
        """This script with only ``rules`` (those a run actually applied)."""
        return dataclasses.replace(self, rules=tuple(r for r in self.rules if r in rules))

    def describe(self) -> list[str]:
        lines = [f"job: {self.job}"]
        if self.hide:
            lines.append(f"the Filesystem answer leaves out {', '.join(self.hide)}")
        lines += [rule.describe() for rule in self.rules]
        if self.job == "push":
            lines += [f"as puller: {line}" for line in self.puller.describe()]
        if len(lines) == 1:
            lines.append("every request answered like the reference server")
        return lines

    def size(self) -> tuple[int, ...]:
        """What "smaller" means when several scripts disagree (fewer, simpler deviations)."""
        requests = len(self.puller.requests or ()) + (self.puller.requests is not None)
        return (
            len(self.rules) + len(self.hide) + requests + self.puller.hang_up,
            self.job == "push",
            len(repr(self)),
        )
