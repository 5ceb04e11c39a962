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
from .compare import Level, Mismatch, compare_streams, make_mismatch
from .digest import DEFAULT_DIGEST, Digest
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
from .outcome import ClientOutcome, compare_outcomes, outcome_of_record, read_state

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

Outcome = Literal["pass", "mismatch", "unimplemented", "error"]


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

    @property
    def outcome(self) -> Outcome:
        if self.status is not None and self.status.kind == "unimplemented":
            return "unimplemented"
        if self.error is not None:
            return "error"
        return "mismatch" if self.mismatch is not None else "pass"

    @property
    def ok(self) -> bool:
        return self.outcome == "pass"

    def transcript(self, header: Header) -> Transcript:
        """The replay itself as a transcript (for wire logs), under ``header`` with the digest
        its records store."""
        return Transcript(replace(header, digest=self.digest), list(self.actual))

    def summary(self, source: str = "transcript") -> str:
        if self.outcome == "unimplemented":
            return f"{source}: UNIMPLEMENTED (the implementation exited 89)"
        if self.error is not None:
            return f"{source}: cannot replay: {self.error}"
        if self.mismatch is not None:
            return self.mismatch.report(source)
        return f"{source}: ok ({self.compared} records compared)"


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


def replay(
    transcript: Transcript,
    transport: Transport,
    *,
    play: Direction = C2S,
    level: Level = Level.MESSAGES,
    ignore: Collection[str] = (),
    timeout: float = DEFAULT_REPLAY_TIMEOUT,
) -> ReplayResult:
    """Play the ``play`` side of ``transcript`` over ``transport``; compare the other side."""
    compared = other(play)
    digest = transcript.header.digest
    rec = Recorder(full=(play,), digest=digest)
    peer = _Peer(transport, rec, compared, timeout)
    result = ReplayResult(actual=rec.records, digest=digest)
    writable = True
    for index, exp in enumerate(transcript.records, start=1):
        if isinstance(exp, EventRecord):
            if exp.event != "eof":
                continue
            if exp.dir == play:
                close_write = getattr(transport, "close_write", None)
                if callable(close_write):
                    close_write()
                rec.eof(play)
                continue
            act = peer.next()
            if act is None:
                result.mismatch = make_mismatch(
                    exp, None, index, level, "connection not closed",
                    f"expected the peer to close its side, it stayed open for {timeout:g} s",
                    ignore,
                )  # fmt: skip
                return result
            if isinstance(act, StreamRecord):
                result.mismatch = make_mismatch(
                    exp, act, index, level, "extra message",
                    f"expected end of file, got {act.describe()}", ignore,
                )  # fmt: skip
                return result
            result.compared += 1
            continue
        if exp.dir == play:
            try:
                data = wire_bytes(exp)
            except ValueError as exc:
                result.error = f"record {index} (line {exp.line}): {exc}"
                return result
            if writable:
                try:
                    transport.write(data, timeout)
                except (ConnectionClosed, PeerTimeout, OSError):
                    writable = False  # the peer is gone; what it said is compared next
                    continue
                saved = rec.crafted
                rec.crafted = exp.crafted
                rec.feed(play, data)
                rec.crafted = saved
                result.played += 1
            continue
        act = peer.next()
        if not isinstance(act, StreamRecord):
            why = (
                f"the peer sent nothing within {timeout:g} s"
                if act is None
                else "the peer closed the connection"
            )
            result.mismatch = make_mismatch(
                exp, act, index, level, "missing message", f"expected {exp.describe()}; {why}",
                ignore,
            )  # fmt: skip
            return result
        diff = compare_streams(exp, act, level, ignore)
        if diff is not None:
            what, detail = diff
            result.mismatch = make_mismatch(exp, act, index, level, what, detail, ignore)
            return result
        result.compared += 1
    return result


def _finish(running: Running, result: ReplayResult, grace: float) -> ReplayResult:
    result.status = running.close(timeout=grace)
    result.stderr = running.stderr
    return result


def _check_outcome(
    transcript: Transcript, running: Running, result: ReplayResult, level: Level
) -> None:
    """After a clean wire replay: the client's exit status and datasets as recorded.

    Only transcripts with an ``outcome`` event (client-role fuzz findings) are checked;
    the client's sandbox is removed afterwards either way.
    """
    try:
        recorded = [
            (i, r)
            for i, r in enumerate(transcript.records, start=1)
            if isinstance(r, EventRecord) and r.event == "outcome"
        ]
        status = result.status
        if not recorded or status is None or result.outcome != "pass":
            return
        index, rec = recorded[-1]
        expected = outcome_of_record(rec)
        state = read_state(running.sandbox.state) if status.kind in ("ok", "failed") else {}
        diff = compare_outcomes(expected, ClientOutcome(status, state))
        result.compared += 1
        if diff is not None:
            what, detail, text = diff
            result.mismatch = Mismatch(
                index, rec.line, None, level, f"client outcome: {what}", detail, text
            )
    finally:
        running.sandbox.keep = False
        running.sandbox.close()


def replay_server(
    transcript: Transcript,
    spec: IUTSpec,
    cache: FixtureCache,
    *,
    level: Level = Level.MESSAGES,
    ignore: Collection[str] = (),
    timeout: float | None = None,
    fixture: str | None = None,
    profile: Mapping[str, object] | None = None,
    identity: str | None = None,
) -> ReplayResult:
    """Start ``spec.server`` as the header says and replay the recorded client side to it."""
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
                        timeout=wait)  # fmt: skip
    except BaseException:
        running.close(timeout=0)
        raise
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
    level: Level = Level.MESSAGES,
    ignore: Collection[str] = (),
    timeout: float | None = None,
    fixture: str | None = None,
    profile: Mapping[str, object] | None = None,
    identity: str | None = None,
) -> ReplayResult:
    """Start the implementation's client and replay the recorded server side to it.

    With a ``pull``/``push`` command (``role``, default: what the transcript shows) the
    client reaches us through ``{connect}``; a description with neither (``--client-cmd``
    without ``{connect}``) is run with its stdio as the connection.
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
            result = ReplayResult(error=f"the client never connected: {exc}")
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
        _check_outcome(transcript, running, result, level)
        return result
    finally:
        running.sandbox.keep = False
        running.sandbox.close()
