"""One client-role trial: the same server script against our client and the implementation's.

Both clients start from the same fixture (their own fresh fake ZFS) and profile and run the
script's job; each meets its own :class:`~fakes.scripted.ScriptedServer` playing the same
:class:`~.script.ServerScript` over a fresh copy of the same fixture:

* **our reference** client job in a thread (exactly what ``zrepl-conformance pull|push``
  does), talking to the server over in-memory pipes whose :class:`~.pipes.StalemateGuard`
  notices when both sides wait for each other (such a script tests nothing and is dropped);
* **the implementation**'s ``pull``/``push`` command, started as the contract says
  (:mod:`iut`: fake ``zfs`` on ``PATH``, the profile, ``{connect}`` leading to the server;
  or its own stdio when a ``--client-cmd`` has no ``{connect}``). Processes are started one
  ahead (:class:`ClientPool`), as start-up dominates a trial.

:func:`compare_clients` then judges the implementation exactly as ``zrepl-conformance replay
--client-cmd`` will judge the saved reproducer: the client's records at the recordings'
``semantic`` level, in order, as far as the reference's go (what a client sends after the
server hung up is nobody's business), a request that does not come within the timeout (a
hang), and at the end the outcome (:mod:`recordings.outcome`): exit status class and the
datasets the job left behind.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bytestreamrpc.constants import RequestType
from bytestreamrpc.deviations import Deviation, Observed, Situation, explain
from bytestreamrpc.errors import PeerTimeout
from bytestreamrpc.transport import Transport, memory_pair
from fakes.jobs import JobReport
from fakes.profile import profile_from_obj
from fakes.runjob import run_job
from fakes.zfs import FakeZfs
from iut import FixtureCache, IUTSpec, Running, start_client, start_server
from iut.process import ExitStatus
from recordings.compare import ComparisonLevel, compare_streams
from recordings.explain import answers_sent
from recordings.format import C2S, EventRecord, Record, StreamRecord
from recordings.outcome import (
    ClientOutcome,
    State,
    compare_outcomes,
    exit_class,
    read_state,
    state_of,
)

from .driver import run_in_thread
from .pipes import StalemateGuard
from .prefetch import Prefetcher
from .runner import STARTUP_ALLOWANCE, Disagreement, Setting
from .script import Job, Rule, ServerScript
from .scripted import play

__all__ = [
    "DEFAULT_CLIENT_FIXTURE",
    "DEFAULT_CLIENT_PROFILE",
    "ClientPool",
    "ClientTrial",
    "ClientTrialRun",
    "client_setting",
    "compare_clients",
    "explain_client",
    "reference_job",
    "run_iut_client",
    "run_reference_client",
]

DEFAULT_CLIENT_FIXTURE: Final = str(
    Path(__file__).resolve().parent.parent / "fixtures" / "fuzz-client.toml"
)
DEFAULT_CLIENT_PROFILE: Final[Mapping[str, object]] = {
    "identity": "alice",
    "pull_acl": {"pool*": "ok"},
    "sinks": {"alice": {"pool/data": "backup/sink/data"}},
    "pull_mapping": {
        "pool/data": "backup/pulled/data",
        "pool/data/home": "backup/pulled/data/home",
        "pool/vol1": "backup/pulled/vol1",
    },
    "push_filter": {"pool/data*": "ok"},
}
"""The scripted server offers the whole ``pool`` tree and sinks pushes of ``pool/data``
into ``backup/sink/data``; a pull lands under ``backup/pulled`` (see the fixture: an
incremental, an initial and a refused receive); a push offers ``pool/data`` and below."""

_LOGGERS: Final = ("bytestreamrpc", "fakes")


def client_setting(
    fixture: str | None = None, profile: Mapping[str, object] | None = None
) -> Setting:
    """The client role's fixture and profile (its own defaults; see above)."""
    return Setting.make(
        fixture or DEFAULT_CLIENT_FIXTURE,
        profile if profile is not None else DEFAULT_CLIENT_PROFILE,
    )


@dataclass
class ClientTrialRun:
    """What one client (the reference's or the implementation's) did against the scripted
    server in a :class:`ClientTrial`: its records, outcome and how the run ended.

    Not the conformance suite's ``ClientCaseRun`` (one run of a conformance case)."""

    records: list[Record]
    outcome: ClientOutcome | None
    ending: str = ""
    timed_out: str | None = None
    """What the client did not send in time (a hang)."""
    stalemate: bool = False
    """Both sides waited for each other (reference runs only: the script is dropped)."""
    error: str | None = None
    """The run could not happen as planned (the client never connected)."""
    status: ExitStatus | None = None
    stderr: str = ""
    applied: frozenset[Rule] = frozenset()
    """The script's rules that met their request in this run."""
    requests: tuple[RequestType, ...] = ()
    """The client's requests, in order."""
    situations: frozenset[Situation] = frozenset()
    """What the scripted server (or, for DIVERGED, the fixture) set up: see
    :func:`~.answers.situations_of`."""

    def client_records(self) -> list[Record]:
        return [r for r in self.records if r.dir == C2S]

    def observed(self, before: State) -> Observed:
        """The run in the terms of the §deviations table (``before``: the fixture's state)."""
        outcome = self.outcome
        status = self.status if self.status is not None else outcome.status if outcome else None
        return Observed(
            answers=answers_sent(self.records, C2S),  # a pushing client's, as the server
            closed=self.timed_out is None and (status is None or exit_class(status) != "timeout"),
            situations=self.situations,
            succeeded=None if outcome is None else outcome.exit == "ok",
            requests=tuple(r.name for r in self.requests),
            state_changed=None if outcome is None or not outcome.state else outcome.state != before,
        )


@dataclass
class ClientTrial:
    """A whole client-role trial's evidence, kept for the reproducer."""

    script: ServerScript
    reference: ClientTrialRun
    iut: ClientTrialRun | None
    disagreement: Disagreement | None = None
    """An unexplained disagreement: a finding."""
    known: tuple[Deviation, Disagreement] | None = None
    """A disagreement §deviations explains (the row; what the comparison said): no finding."""

    def explained(self) -> tuple[Deviation, str] | None:
        """The row that explained this trial's disagreement and what the comparison said."""
        return None if self.known is None else (self.known[0], self.known[1].headline())


def explain_client(ref: ClientTrialRun, iut: ClientTrialRun, before: State) -> Deviation | None:
    """The §deviations row that explains how the implementation's client differed, if any.

    A dataset the reference job found diverged is a situation of the implementation's run
    too (the same fixture and the same server script).
    """
    diverged = ref.situations & {Situation.DIVERGED}
    theirs = dataclasses.replace(iut, situations=iut.situations | diverged)
    return explain(ref.observed(before), theirs.observed(before), role="client")


# --------------------------------------------------------------------------- reference


def reference_job(
    job: Job, transport: Transport, zfs: FakeZfs, profile: Mapping[str, object], timeout: float
) -> tuple[int, JobReport]:
    """``zrepl-conformance pull|push --profile`` (:func:`fakes.runjob.run_job`) over
    ``transport``; the exit code is what the command returns (an unexpected exception is its
    last-resort exit 1)."""
    report = JobReport()
    try:
        report = run_job(job, transport, zfs, profile_from_obj(dict(profile)).job_mapping(job),
                         timeout=timeout)  # fmt: skip
    except Exception:
        return 1, report
    return 0 if report.ok else 1, report


def run_reference_client(script: ServerScript, setting: Setting, timeout: float) -> ClientTrialRun:
    """Our client job in a thread against the scripted server, both in this process."""
    for name in _LOGGERS:  # refusals and failed jobs are the point here
        logging.getLogger(name).setLevel(logging.CRITICAL)
    fixture = setting.load_fixture()
    client_zfs, server_zfs = FakeZfs.in_memory(fixture), FakeZfs.in_memory(fixture)
    client_end, server_end = memory_pair()
    codes: list[tuple[int, JobReport]] = []
    profile = dict(setting.profile)
    thread = run_in_thread(
        lambda: codes.append(reference_job(script.job, client_end, client_zfs, profile, timeout))
    )
    guard = StalemateGuard(server_end, thread)
    played = play(
        script, guard, zfs=server_zfs, profile=profile, identity=setting.identity, timeout=timeout
    )
    server = played.server
    try:
        played.run()
        thread.join(timeout + 5.0)
        outcome = None
        situations = set(server.situations)
        if codes:
            outcome = ClientOutcome(codes[0][0], state_of(client_zfs))
            if any(r.action == "diverged" for r in codes[0][1].results):
                situations.add(Situation.DIVERGED)
        return ClientTrialRun(
            played.records, outcome, str(server.ending), server.timed_out, guard.stalemate,
            error=None if codes else "the reference client did not finish",
            applied=frozenset(played.applied), requests=tuple(server.answered),
            situations=frozenset(situations),
        )  # fmt: skip
    finally:
        client_end.close()
        thread.join(1.0)
        if not thread.is_alive():
            client_zfs.close()
        server_zfs.close()


# --------------------------------------------------------------------------- implementation


class ClientPool:
    """Client processes started ahead of time, one queue per job (start-up dominates)."""

    def __init__(
        self, spec: IUTSpec, cache: FixtureCache, setting: Setting, jobs: tuple[Job, ...]
    ) -> None:
        self.spec, self.cache, self.setting = spec, cache, setting
        self.stdio = {job: getattr(spec, job) is None for job in jobs}
        """Jobs whose command has no ``{connect}``: its stdio is the connection."""
        self._ahead = Prefetcher(self._start, jobs, _discard)

    def _start(self, job: Job) -> Running:
        s = self.setting
        if self.stdio[job]:
            return start_server(self.spec, self.cache, fixture=s.fixture, profile=s.profile,
                                identity=s.identity, keep=True)  # fmt: skip

        return start_client(self.spec, job, self.cache, fixture=s.fixture, profile=s.profile,
                            identity=s.identity, keep=True)  # fmt: skip

    def take(self, job: Job) -> Running:
        return self._ahead.take(job)

    def close(self) -> None:
        self._ahead.close()


def _discard(running: Running) -> None:
    running.close(timeout=0)
    _remove(running)


def _remove(running: Running) -> None:
    running.sandbox.keep = False
    running.sandbox.close()


def _connection(running: Running, stdio: bool, timeout: float) -> Transport | None:
    """The client's connection; ``None`` if it exited or stayed silent instead."""
    if stdio:
        return running.transport
    deadline = time.monotonic() + timeout
    while True:
        try:
            return running.accept(0.1)
        except PeerTimeout:
            if running.process.exited() or time.monotonic() > deadline:
                return None


def run_iut_client(
    script: ServerScript, pool: ClientPool, setting: Setting, timeout: float
) -> ClientTrialRun:
    """The implementation's client job against the scripted server."""
    running = pool.take(script.job)
    try:
        transport = _connection(running, pool.stdio[script.job], timeout + STARTUP_ALLOWANCE)
        if transport is None:
            status = running.close(timeout)
            return ClientTrialRun([], None, error="the client never connected", status=status,
                             stderr=running.stderr)  # fmt: skip
        zfs = FakeZfs.in_memory(setting.load_fixture())
        try:
            played = play(
                script, transport, zfs=zfs, profile=setting.profile, identity=setting.identity,
                timeout=timeout, startup=STARTUP_ALLOWANCE,
            )  # fmt: skip
            played.run()
            server = played.server
        finally:
            zfs.close()
        status = running.close(timeout)
        state = read_state(running.sandbox.state) if status.kind in ("ok", "failed") else {}
        return ClientTrialRun(
            played.records, ClientOutcome(status, state), str(server.ending), server.timed_out,
            status=status, stderr=running.stderr, applied=frozenset(played.applied),
            requests=tuple(server.answered), situations=frozenset(server.situations),
        )  # fmt: skip
    except BaseException:
        running.close(timeout=0)
        raise
    finally:
        _remove(running)


# --------------------------------------------------------------------------- comparing


def _kind_of(status: ExitStatus | None) -> str:
    if status is not None and status.kind == "signal":
        return "crash"
    if status is not None and status.kind == "timeout":
        return "hang"
    return "mismatch"


def compare_clients(
    ref: ClientTrialRun, iut: ClientTrialRun, timeout: float
) -> Disagreement | None:
    """The first way the implementation's client differs from ours (see the module doc)."""
    status = iut.status
    if status is not None and status.kind == "unimplemented":
        return None
    if iut.error is not None:
        how = f"; it {status.describe()}" if status is not None else ""
        return Disagreement(_kind_of(status), "connection", f"{iut.error}{how}", side="client")
    expected, actual = ref.client_records(), iut.client_records()
    for i, exp in enumerate(expected, start=1):
        act = actual[i - 1] if i <= len(actual) else None
        if act is None:
            if i == len(expected) and isinstance(exp, EventRecord) and iut.timed_out is None:
                # The client's end of file after its last message: whether the server saw it
                # depends on whether it was still writing (unsolicited bytes) when the
                # client closed. A client that does not close shows as a hang instead.
                break
            if iut.timed_out is not None:
                detail = f"{iut.timed_out} did not come within {timeout:g} s"
                return Disagreement("hang", "no request", f"{detail}; expected {exp.describe()}",
                                    i, "client")  # fmt: skip
            return Disagreement("mismatch", "missing record",
                                f"expected {exp.describe()}, the client sent nothing more",
                                i, "client")  # fmt: skip
        if isinstance(exp, EventRecord) or isinstance(act, EventRecord):
            if type(exp) is not type(act):
                return Disagreement("mismatch", "connection",
                                    f"expected {exp.describe()}, got {act.describe()}",
                                    i, "client")  # fmt: skip
            continue
        assert isinstance(exp, StreamRecord) and isinstance(act, StreamRecord)
        diff = compare_streams(exp, act, ComparisonLevel.SEMANTIC)
        if diff is not None:
            return Disagreement("mismatch", diff[0], f"{exp.describe()}: {diff[1]}", i, "client")
    if iut.timed_out is not None:
        return Disagreement("hang", "no request", f"{iut.timed_out} did not come in time",
                            len(expected) + 1, "client")  # fmt: skip
    if ref.outcome is None or iut.outcome is None:
        return None
    found = compare_outcomes(ref.outcome, iut.outcome)
    if found is None:
        return None
    what, detail, _diff = found
    return Disagreement(_kind_of(status), f"client outcome: {what}", detail, side="client")
