"""Replaying one side of a transcript to an implementation and comparing the other side.

:func:`replay` is the engine: over any transport it walks the recorded records in order,
*writes* the streams of the side it plays (exact recorded bytes, chunk boundaries and all),
half-closes where the recording shows that side's end of file, and *reads and compares* the
streams of the other side as they come back (:mod:`recordings.compare`), hashing what
arrives with the digest the transcript names. The first difference stops the replay. What
the implementation actually sent is recorded with the same
:class:`~recordings.classify.Recorder`, so the result carries a transcript of the replay too
(the conformance suite shows it as the wire log).

:func:`replay_server` and :func:`replay_client` start the implementation through :mod:`iut`
with the fixture, profile and identity named in the transcript header, exactly as the
conformance contract says, and fold its exit status in: exit 89 is *unimplemented*. A
client recording that ends with an ``outcome`` event (a client-role fuzz finding) is also
checked for the client's exit status and fake ZFS datasets (:mod:`recordings.outcome`).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from bytestreamrpc.deviations import Deviation
from bytestreamrpc.errors import ConnectionClosed, PeerTimeout
from bytestreamrpc.transport import Transport
from iut import (
    ExitStatus,
    FixtureCache,
    IUTError,
    IUTSpec,
    Running,
    start_client,
    start_server,
)
from iut.spec import parse_command

from .classify import GO_REQUEST_HEADER, Recorder
from .compare import ComparisonLevel, Mismatch, compare_streams, make_mismatch
from .digest import DEFAULT_DIGEST, Digest
from .explain import explain_client_mismatch, explain_server_mismatch
from .format import (
    C2S,
    S2C,
    Direction,
    EventRecord,
    Header,
    Record,
    StreamRecord,
    Transcript,
    other,
    wire_bytes,
)
from .outcome import ClientOutcome, State, compare_outcomes, outcome_of_record, read_state

__all__ = [
    "DEFAULT_REPLAY_TIMEOUT",
    "ReplayResult",
    "recorded_job",
    "replay",
    "replay_client",
    "replay_server",
]

DEFAULT_REPLAY_TIMEOUT = 10.0
"""Seconds to wait for each expected record before calling it missing."""
_READ = 1 << 20

Outcome = Literal["pass", "deviation", "mismatch", "unimplemented", "error"]
"""``deviation``: the one difference is a behaviour of the original that docs/PROTOCOL.md
§deviations lists (:mod:`recordings.explain`); it passes (unless unsafe, under ``strict``)."""


@dataclass
class ReplayResult:
    """What a replay found. ``outcome`` folds in the implementation's exit status."""

    mismatch: Mismatch | None = None
    error: str | None = None
    """The replay could not be carried out (not a verdict about the implementation)."""
    compared: int = 0
    played: int = 0
    actual: list[Record] = field(default_factory=list)
    """Everything that crossed the connection during the replay, as records."""
    status: ExitStatus | None = None
    stderr: str = ""
    digest: Digest = DEFAULT_DIGEST
    """The digest :attr:`actual` stores (the replayed transcript's)."""
    client: ClientOutcome | None = None
    """Client replays: the client's exit status and fake ZFS datasets afterwards."""
    deviation: Deviation | None = None
    """The §deviations row that explains ``mismatch``."""
    strict: bool = False
    """An unsafe ``deviation`` counts as a mismatch (``--strict``)."""

    @property
    def outcome(self) -> Outcome:
        if self.status is not None and self.status.kind == "unimplemented":
            return "unimplemented"
        if self.error is not None:
            return "error"
        if self.mismatch is None:
            return "pass"
        if self.deviation is not None and not (self.strict and self.deviation.unsafe):
            return "deviation"
        return "mismatch"

    @property
    def ok(self) -> bool:
        return self.outcome in ("pass", "deviation")

    def transcript(self, header: Header) -> Transcript:
        """The replay itself as a transcript (for wire logs), under ``header`` with the digest
        its records store."""
        return Transcript(replace(header, digest=self.digest), list(self.actual))

    def summary(self, source: str = "transcript") -> str:
        if self.outcome == "unimplemented":
            return f"{source}: UNIMPLEMENTED (the implementation exited 89)"
        if self.error is not None:
            return f"{source}: cannot replay: {self.error}"
        if self.mismatch is None:
            return f"{source}: ok ({self.compared} records compared)"
        if self.deviation is None:
            return self.mismatch.report(source)
        known = self.deviation.describe()
        if self.outcome == "deviation":
            head = f"{source}: known deviation, {known}"
        else:
            head = f"{source}: unsafe deviation (a failure under --strict), {known}"
        return head + "\nthe comparison said: " + self.mismatch.report(source)


class _Peer:
    """Reads the compared direction into records on demand."""

    def __init__(self, transport: Transport, rec: Recorder, d: Direction, timeout: float):
        self.transport = transport
        self.rec = rec
        self.d = d
        self.timeout = timeout
        self.queue: deque[Record] = deque()

    def next(self) -> Record | None:
        """The next record of the compared side; ``None`` if it went quiet."""
        while not self.queue:
            if self.rec.is_closed(self.d):
                return EventRecord("eof", dir=self.d)
            try:
                data = self.transport.read(_READ, self.timeout)
            except PeerTimeout:
                return None
            except (ConnectionClosed, OSError):
                data = b""
            self.queue.extend(self.rec.feed(self.d, data) if data else self.rec.eof(self.d))
        return self.queue.popleft()


class _Replay:
    """One walk over a transcript: plays one side, reads and compares the other."""

    def __init__(self, transport: Transport, play: Direction, level: ComparisonLevel,
                 ignore: Collection[str], timeout: float, digest: Digest) -> None:  # fmt: skip
        self.transport = transport
        self.play = play
        self.level = level
        self.ignore = ignore
        self.timeout = timeout
        self.rec = Recorder(full=(play,), digest=digest)
        self.peer = _Peer(transport, self.rec, other(play), timeout)
        self.result = ReplayResult(actual=self.rec.records, digest=digest)
        self.writable = True

    def write(self, index: int, exp: StreamRecord) -> bool:
        """Send a played-side record as recorded; ``False``: it cannot be rebuilt."""
        try:
            data = wire_bytes(exp)
        except ValueError as exc:
            self.result.error = f"record {index} (line {exp.line}): {exc}"
            return False
        if self.writable:
            try:
                self.transport.write(data, self.timeout)
            except (ConnectionClosed, PeerTimeout, OSError):
                self.writable = False  # the peer is gone; what it said is compared next
                return True
            saved = self.rec.crafted
            self.rec.crafted = exp.crafted
            self.rec.feed(self.play, data)
            self.rec.crafted = saved
            self.result.played += 1
        return True

    def close_write(self) -> None:
        close_write = getattr(self.transport, "close_write", None)
        if callable(close_write):
            close_write()
        self.rec.eof(self.play)

    def mismatch(self, exp: Record | None, act: Record | None, index: int, what: str,
                 detail: str) -> None:  # fmt: skip
        self.result.mismatch = make_mismatch(exp, act, index, self.level, what, detail, self.ignore)

    def expect_eof(self, index: int, exp: EventRecord) -> bool:
        act = self.peer.next()
        if act is None:
            self.mismatch(exp, None, index, "connection not closed",
                          f"expected the peer to close its side, it stayed open for "
                          f"{self.timeout:g} s")  # fmt: skip
            return False
        if isinstance(act, StreamRecord):
            self.mismatch(exp, act, index, "extra message",
                          f"expected end of file, got {act.describe()}")  # fmt: skip
            return False
        self.result.compared += 1
        return True

    def expect_stream(self, index: int, exp: StreamRecord) -> bool:
        act = self.peer.next()
        if not isinstance(act, StreamRecord):
            why = (
                f"the peer sent nothing within {self.timeout:g} s"
                if act is None
                else "the peer closed the connection"
            )
            self.mismatch(exp, act, index, "missing message", f"expected {exp.describe()}; {why}")
            return False
        diff = compare_streams(exp, act, self.level, self.ignore)
        if diff is not None:
            self.mismatch(exp, act, index, *diff)
            return False
        self.result.compared += 1
        return True

    def walk(self, records: list[Record]) -> int:
        """Replay and compare until the first difference; the number of records done."""
        for index, exp in enumerate(records, start=1):
            if isinstance(exp, EventRecord):
                if exp.event != "eof":
                    continue
                if exp.dir == self.play:
                    self.close_write()
                elif not self.expect_eof(index, exp):
                    return index
            elif exp.dir == self.play:
                if not self.write(index, exp):
                    return index
            elif not self.expect_stream(index, exp):
                return index
        return len(records)

    def settle(self, rest: list[Record]) -> None:
        """After a difference: play the rest as recorded and collect what the peer says
        (uncompared), until it closes or goes quiet, so the §deviations table sees it all."""
        quiet = False
        for exp in rest:
            if isinstance(exp, EventRecord):
                if exp.event == "eof" and exp.dir == self.play:
                    self.close_write()
                elif exp.event == "eof" and not quiet:
                    quiet = self.peer.next() is None
            elif exp.dir == self.play:
                if not self.write(0, exp):
                    self.result.error = None  # not needed for a verdict already reached
                    break
            elif not quiet:
                quiet = self.peer.next() is None
        while not quiet and not self.rec.is_closed(self.peer.d):
            quiet = self.peer.next() is None


def replay(
    transcript: Transcript,
    transport: Transport,
    *,
    play: Direction = C2S,
    level: ComparisonLevel = ComparisonLevel.MESSAGES,
    ignore: Collection[str] = (),
    timeout: float = DEFAULT_REPLAY_TIMEOUT,
    settle: bool = False,
) -> ReplayResult:
    """Play the ``play`` side of ``transcript`` over ``transport``; compare the other side
    (hashing what arrives with the digest the transcript's header names).

    ``settle``: after a difference, carry on playing and collect the rest of what the peer
    says (``result.actual``), for :mod:`recordings.explain`.
    """
    r = _Replay(transport, play, level, ignore, timeout, transcript.header.digest)
    records = list(transcript.records)
    done = r.walk(records)
    if settle and r.result.mismatch is not None and r.result.error is None:
        r.settle(records[done:])
    return r.result


def _finish(running: Running, result: ReplayResult, grace: float) -> ReplayResult:
    result.status = running.close(timeout=grace)
    result.stderr = running.stderr
    return result


def _client_outcome(running: Running, status: ExitStatus | None) -> ClientOutcome | None:
    """The client's exit status and datasets (none if it was killed or never ran)."""
    if status is None:
        return None
    state = read_state(running.sandbox.state) if status.kind in ("ok", "failed") else {}
    return ClientOutcome(status, state)


def _recorded_outcome(transcript: Transcript) -> tuple[int, EventRecord] | None:
    """The transcript's last ``outcome`` event with its record number, if any."""
    found = [
        (i, r)
        for i, r in enumerate(transcript.records, start=1)
        if isinstance(r, EventRecord) and r.event == "outcome"
    ]
    return found[-1] if found else None


def _check_outcome(
    transcript: Transcript,
    actual: ClientOutcome | None,
    result: ReplayResult,
    level: ComparisonLevel,
) -> None:
    """After a clean wire replay: the client's exit status and datasets as recorded.

    Only transcripts with an ``outcome`` event (client-role fuzz findings) are checked.
    """
    recorded = _recorded_outcome(transcript)
    if recorded is None or actual is None or result.outcome != "pass":
        return
    index, rec = recorded
    diff = compare_outcomes(outcome_of_record(rec), actual)
    result.compared += 1
    if diff is not None:
        what, detail, text = diff
        result.mismatch = Mismatch(
            index, rec.line, None, level, f"client outcome: {what}", detail, text
        )


def _explain_client(
    transcript: Transcript, actual: ClientOutcome | None, result: ReplayResult, before: State
) -> None:
    """A client replay's difference that a §deviations client row explains."""
    if result.mismatch is None:
        return
    recorded = _recorded_outcome(transcript)
    result.deviation = explain_client_mismatch(
        transcript.records,
        result.actual,
        expected=None if recorded is None else outcome_of_record(recorded[1]),
        actual=actual,
        before=before,
    )


def replay_server(
    transcript: Transcript,
    spec: IUTSpec,
    cache: FixtureCache,
    *,
    level: ComparisonLevel = ComparisonLevel.MESSAGES,
    ignore: Collection[str] = (),
    timeout: float | None = None,
    fixture: str | None = None,
    profile: Mapping[str, object] | None = None,
    identity: str | None = None,
    strict: bool = False,
) -> ReplayResult:
    """Start ``spec.server`` as the header says and replay the recorded client side to it.

    A difference that a §deviations row explains is outcome ``deviation`` (``strict``: an
    unsafe one stays a ``mismatch``); :mod:`recordings.explain`.
    """
    h = transcript.header
    running = start_server(
        spec,
        cache,
        fixture=fixture or h.fixture,
        profile=profile if profile is not None else h.profile,
        identity=identity or h.identity,
    )
    wait = timeout if timeout is not None else running.timeout
    try:
        result = replay(transcript, running.transport, play=C2S, level=level, ignore=ignore,
                        timeout=wait, settle=True)  # fmt: skip
    except BaseException:
        running.close(timeout=0)
        raise
    result.strict = strict
    if result.mismatch is not None:
        result.deviation = explain_server_mismatch(
            transcript.records, result.actual, result.mismatch
        )
    return _finish(running, result, wait)


def recorded_job(transcript: Transcript) -> Literal["pull", "push"]:
    """``push`` if the recorded client asked to be pulled (PullMe), else ``pull``."""
    for r in transcript.streams(C2S):
        if r.go == GO_REQUEST_HEADER and r.payload is not None and b'"Type":32' in r.payload:
            return "push"
    return "pull"


def client_spec_from_command(cmd: str) -> IUTSpec:
    """``--client-cmd CMD``: its own stdio is the connection unless it uses ``{connect}``."""
    argv = parse_command(cmd, "--client-cmd")
    uses_connect = any("{connect}" in a for a in argv)
    return IUTSpec(
        server=argv,
        pull=argv if uses_connect else None,
        push=argv if uses_connect else None,
        origin="--client-cmd",
        name=argv[0],
    )


def replay_client(
    transcript: Transcript,
    spec: IUTSpec,
    cache: FixtureCache,
    *,
    role: Literal["pull", "push"] | None = None,
    level: ComparisonLevel = ComparisonLevel.MESSAGES,
    ignore: Collection[str] = (),
    timeout: float | None = None,
    fixture: str | None = None,
    profile: Mapping[str, object] | None = None,
    identity: str | None = None,
    strict: bool = False,
) -> ReplayResult:
    """Start the implementation's client and replay the recorded server side to it.

    With a ``pull``/``push`` command (``role``, default: what the transcript shows) the
    client reaches us through ``{connect}``; a description with neither (``--client-cmd``
    without ``{connect}``) is run with its stdio as the connection. A difference that a
    §deviations client row explains with what the transcript says about the recorded server
    is outcome ``deviation`` (``strict``: an unsafe one stays a ``mismatch``).
    """
    h = transcript.header
    job = role or recorded_job(transcript)
    kw: dict[str, object] = {
        "fixture": fixture or h.fixture,
        "profile": profile if profile is not None else h.profile,
        "identity": identity or h.identity,
    }
    stdio = getattr(spec, job) is None
    if stdio and spec.origin != "--client-cmd":
        raise IUTError(f"{spec.origin}: no '{job}' command to replay this {job} recording with")
    running = (
        start_server(spec, cache, keep=True, **kw)  # type: ignore[arg-type]
        if stdio
        else start_client(spec, job, cache, keep=True, **kw)  # type: ignore[arg-type]
    )
    wait = timeout if timeout is not None else running.timeout
    try:
        try:
            transport = running.transport if stdio else running.accept(wait)
        except PeerTimeout as exc:
            result = ReplayResult(error=f"the client never connected: {exc}", digest=h.digest)
            return _finish(running, result, 0)
        try:
            result = replay(transcript, transport, play=S2C, level=level, ignore=ignore,
                            timeout=wait)  # fmt: skip
        except BaseException:
            running.close(timeout=0)
            raise
        finally:
            if not stdio:
                with contextlib.suppress(OSError):
                    transport.close()
        _finish(running, result, wait)
        actual = result.client = _client_outcome(running, result.status)
        _check_outcome(transcript, actual, result, level)
        result.strict = strict
        _explain_client(
            transcript, actual, result, read_state(cache.master_state(fixture or h.fixture))
        )
        return result
    finally:
        running.sandbox.keep = False
        running.sandbox.close()
