"""The object a case function works with: sessions, the oracle, findings, the deadline.

A case asks its :class:`CaseContext` to start the implementation (``start``), to run a
client script against it (``exchange``) and the same script against our in-process reference
(``reference_exchange``: the differential oracle on the same fixture, profile and identity),
and records what differs as findings with a level. Every operation is bounded by the case's
deadline; sessions the case did not finish are ended (and killed if need be) by the runner,
which also collects their exit statuses and stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from bytestreamrpc.deviations import Deviation, Observed, explain
from iut.process import ExitStatus

from .exchange import Exchange, Script, converse
from .facts import FixtureFacts
from .model import Case, Finding, Level, Setup
from .setups import profile as named_profile
from .targets import Command, ConformanceTarget, Session, StartSpec
from .wirelog import LoggedTransport, WireLog

ORACLE_TIMEOUT = 20.0
"""Seconds the in-process reference gets for one exchange (it needs milliseconds)."""


def _observed_text(o: Observed) -> str:
    parts = [", ".join(str(a) for a in o.answers) or "no answer"] if o.answers else []
    if o.situations:
        parts.append("; ".join(sorted(x.value for x in o.situations)))
    if o.succeeded is not None:
        parts.append("job succeeded" if o.succeeded else "job failed")
    if o.requests:
        parts.append("requests: " + " ".join(o.requests))
    if o.state_changed is not None:
        parts.append("state changed" if o.state_changed else "state unchanged")
    parts.append("closed" if o.closed else "still open")
    return "; ".join(parts)


class CaseError(Exception):
    """The case cannot go on (the implementation did not connect, a session broke)."""


class LiveSession:
    """A started session with its wire log; ``transport`` is logged."""

    def __init__(
        self,
        ctx: CaseContext,
        session: Session,
        label: str,
        log: WireLog,
        spec: StartSpec | None = None,
    ) -> None:
        self.ctx = ctx
        self.spec = spec
        self.session = session
        self.label = label
        self.log = log
        self._transport: LoggedTransport | None = None
        if session.command == "server":
            self._transport = LoggedTransport(session.transport, log)

    @property
    def transport(self) -> LoggedTransport:
        if self._transport is None:
            raise CaseError("the implementation has not connected yet (call accept())")
        return self._transport

    def accept(self) -> LoggedTransport:
        """Wait for a client session to connect (bounded by the deadline)."""
        if self._transport is None:
            try:
                inner = self.session.accept(max(0.05, self.ctx.remaining()))
            except Exception as exc:
                raise CaseError(f"the implementation never connected: {exc}") from None
            self._transport = LoggedTransport(inner, self.log)
        return self._transport

    def finish(self, grace: float | None = None) -> ExitStatus:
        """End the process (waiting up to ``grace`` s, default: what the case has left)."""
        if self.session.status is None:
            wait = self.ctx.remaining() if grace is None else min(grace, self.ctx.remaining())
            status = self.session.finish(max(wait, 0.2))
            if status.kind == "timeout":
                self.log.mark(f"{self.label}: killed ({status.describe()})")
            return status
        return self.session.status

    @property
    def state(self) -> str:
        """The session's fake ZFS state file (inspect only after :meth:`finish`)."""
        return str(self.session.state)


class CaseContext:
    """Everything one run of one case needs and produces."""

    def __init__(
        self,
        case: Case,
        target: ConformanceTarget,
        oracle: ConformanceTarget,
        facts: Callable[[str], FixtureFacts],
        timeout: float,
        *,
        oracle_cache: dict[object, object] | None = None,
    ) -> None:
        self.case = case
        self.target = target
        self.oracle = oracle
        self._facts = facts
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self.client_observed: Observed | None = None
        """What the implementation's client did (set by client cases; see
        :meth:`consult_deviations`)."""
        self.sessions: list[LiveSession] = []
        self._oracle_sessions: list[Session] = []
        self._oracle_cache = oracle_cache

    # ------------------------------------------------------------------ findings
    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def finding(self, level: Level, what: str, expected: object = "", actual: object = "") -> None:
        self.findings.append(Finding(level, what, str(expected), str(actual)))

    def must(self, what: str, expected: object = "", actual: object = "") -> None:
        self.finding(Level.MUST, what, expected, actual)

    def should(self, what: str, expected: object = "", actual: object = "") -> None:
        self.finding(Level.SHOULD, what, expected, actual)

    def info(self, what: str, expected: object = "", actual: object = "") -> None:
        self.finding(Level.INFO, what, expected, actual)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def consult_deviations(
        self,
        since: int,
        reference: Observed,
        implementation: Observed,
        role: Literal["server", "client"],
    ) -> Deviation | None:
        """Apply the §deviations table to the findings recorded since index ``since``.

        If they include a MUST or SHOULD finding and the implementation shows a behaviour of
        the original that the table lists, they are replaced by one finding naming that
        §deviations entry (INFO; SHOULD under ``--strict`` where the entry is unsafe), and
        what they said is kept as a note. The original is never told that it fails.
        """
        recent = self.findings[since:]
        if not any(f.level >= Level.SHOULD for f in recent):
            return None
        row = explain(reference, implementation, role=role)
        if row is None:
            return None
        del self.findings[since:]
        self.findings.append(
            Finding(
                Level.INFO,
                row.describe(),
                _observed_text(reference),
                _observed_text(implementation),
                deviation=row.heading,
                unsafe=row.unsafe,
            )
        )
        self.notes.append(
            f"explained by {row.section}"
            + (" (unsafe: reported under --strict)" if row.unsafe else "")
            + "; the comparison said:\n"
            + "\n".join(f"[{f.level}] {f.what}" for f in recent)
        )
        return row

    def check(self, ok: bool, level: Level, what: str, expected: object, actual: object) -> bool:
        if not ok:
            self.finding(level, what, expected, actual)
        return ok

    # ------------------------------------------------------------------ setup
    def resolve(self, setup: Setup | None = None) -> StartSpec:
        s = setup or self.case.setup
        prof: dict[str, Any] = named_profile(s.profile)
        identity = s.identity if s.identity is not None else str(prof.get("identity") or "")
        return StartSpec(s.fixture, prof, identity)

    @property
    def facts(self) -> FixtureFacts:
        return self._facts(self.case.setup.fixture)

    def facts_for(self, fixture: str) -> FixtureFacts:
        return self._facts(fixture)

    # ------------------------------------------------------------------ sessions
    def start(self, command: Command = "server", setup: Setup | None = None) -> LiveSession:
        """Start the implementation's ``command`` (its wire log goes into the report)."""
        spec = self.resolve(setup)
        session = self.target.start(command, spec)
        live = LiveSession(self, session, f"connection {len(self.sessions) + 1}", WireLog(), spec)
        self.sessions.append(live)
        return live

    def start_reference(self, command: Command = "server", setup: Setup | None = None) -> Session:
        """Our reference in-process on the same setup (cleaned up by the runner)."""
        session = self.oracle.start(command, self.resolve(setup))
        self._oracle_sessions.append(session)
        return session

    def start_reference_live(
        self, command: Command = "server", setup: Setup | None = None
    ) -> LiveSession:
        """Like :meth:`start_reference`, wrapped for scripted use (its log is not reported)."""
        session = self.start_reference(command, setup)
        return LiveSession(self, session, "reference", WireLog())

    def exchange(
        self,
        script: Script,
        *,
        close: bool = True,
        quiet: float | None = None,
        setup: Setup | None = None,
    ) -> tuple[Exchange, ExitStatus]:
        """Run ``script`` against a fresh server of the implementation; end the process."""
        live = self.start("server", setup)
        ex = converse(live.transport, script, self.deadline, close=close, quiet=quiet)
        info = live.finish(1.0 if ex.closed else 0.3)
        return ex, info

    def reference_exchange(
        self,
        script: Script,
        *,
        close: bool = True,
        quiet: float | None = None,
        setup: Setup | None = None,
    ) -> tuple[Exchange, ExitStatus]:
        """The same against our reference, in-process: the expected answer.

        Memoised per case and script: the expected answer does not depend on the
        implementation under test, so a run over many implementations computes it once.
        """
        data = script if isinstance(script, bytes) else b"".join(p.data for p in script)
        key = (self.case.id, data, repr(self.resolve(setup)), close, quiet)
        hit = None if self._oracle_cache is None else self._oracle_cache.get(key)
        if hit is not None:
            return hit  # type: ignore[return-value]
        session = self.start_reference("server", setup)
        log = WireLog()
        deadline = time.monotonic() + ORACLE_TIMEOUT
        ex = converse(
            LoggedTransport(session.transport, log), script, deadline, close=close, quiet=quiet
        )
        info = session.finish(5.0)
        if self._oracle_cache is not None:
            self._oracle_cache[key] = (ex, info)
        return ex, info

    # ------------------------------------------------------------------ end
    def finish_all(self) -> list[ExitStatus]:
        """End every session (the runner calls this); returns their statuses in order."""
        out: list[ExitStatus] = []
        for live in self.sessions:
            out.append(live.finish(max(0.2, min(2.0, self.remaining()))))
        for session in self._oracle_sessions:
            session.finish(2.0)
        return out

    def cleanup(self) -> None:
        for live in self.sessions:
            live.session.cleanup()
        for session in self._oracle_sessions:
            session.cleanup()
