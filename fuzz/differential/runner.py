"""One differential trial: a conversation against the reference and against the implementation.

The reference runs in-process on a fresh in-memory fake ZFS built from the fixture; the
implementation is started through :mod:`iut` exactly as the conformance contract says (its
own fresh state from the same fixture, the profile file, the identity, ``zfs`` on ``PATH``).
Both get the same client bytes; when a server pulls from us (pull-me) both are served by
the same pusher (reference handler, fresh copy of the fixture, the profile's push filter).

The two server sides are compared at the recordings' ``semantic`` level: what a Go peer
decodes, minus what the spec leaves free (error texts, chunk boundaries). A hang (an answer
that does not come within the timeout) and a crash (killed by a signal, or an exit status
other than 0/1/89) are disagreements too.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bytestreamrpc.deviations import Deviation, Observed, explain
from bytestreamrpc.server import Server
from bytestreamrpc.transport import memory_pair
from fakes.mapping import parse_mapping
from fakes.profile import profile_from_obj
from fakes.reference import Reference, ReferenceHandler
from fakes.zfs import FakeZfs, demo_fixture, load_fixture
from fakes.zfs.fixtures import Fixture
from iut import FixtureCache, IUTSpec, Running, start_server
from iut.process import ExitStatus
from recordings.compare import ComparisonLevel, compare_streams
from recordings.explain import server_observed, server_situations
from recordings.format import S2C, EventRecord, Record, StreamRecord

from ..strategies import Conversation, World
from .driver import Played, play, run_in_thread
from .prefetch import Prefetcher

__all__ = [
    "DEFAULT_FIXTURE",
    "DEFAULT_PROFILE",
    "Disagreement",
    "ServerPool",
    "Setting",
    "Trial",
    "compare",
    "explain_server",
    "run_iut",
    "run_reference",
]

DEFAULT_FIXTURE: Final = str(Path(__file__).resolve().parent.parent / "fixtures" / "fuzz.toml")
DEFAULT_PROFILE: Final[Mapping[str, object]] = {
    "identity": "alice",
    "pull_acl": {"pool/data*": "pool"},
    "sinks": {"alice": {"pool/data": "backup/sink/data"}},
    "pull_mapping": {"pool*": "backup/pulled"},
    "push_filter": {"pool/data": "ok"},
}
"""A pull ACL that hides part of the pool (so leaks show), and a push of ``pool/data`` into
``backup/sink/data`` that succeeds (the sink's parent exists in the default fixture)."""


STARTUP_ALLOWANCE: Final = 10.0
"""Extra seconds for the first answer of a process (start-up on a busy machine is no hang)."""


@dataclass(frozen=True)
class Setting:
    """What both servers start from: fixture, profile, identity."""

    fixture: str
    profile: Mapping[str, object]
    identity: str

    @classmethod
    def make(
        cls, fixture: str | None = None, profile: Mapping[str, object] | None = None
    ) -> Setting:
        prof = dict(profile if profile is not None else DEFAULT_PROFILE)
        profile_from_obj(prof)  # fail early on a bad profile
        who = prof.get("identity")
        return cls(
            fixture or DEFAULT_FIXTURE, prof, who if isinstance(who, str) and who else "alice"
        )

    def load_fixture(self) -> Fixture:
        return demo_fixture() if self.fixture == "demo" else load_fixture(self.fixture)

    def world(self) -> World:
        return World.from_fixture(self.load_fixture())

    def pusher(self) -> ReferenceHandler:
        """The pushing client's handler: a fresh copy of the fixture, the push filter."""
        raw = self.profile.get("push_filter")
        acl = parse_mapping(raw) if isinstance(raw, dict) else None
        zfs = FakeZfs.in_memory(self.load_fixture())
        return ReferenceHandler(zfs, identity="", pull_acl=acl, sink_for=lambda _who: None)


def run_reference(conv: Conversation, setting: Setting, timeout: float) -> tuple[Played, int]:
    """The reference's side of the trial, and the exit status ``serve --stdio`` would have."""
    for name in ("bytestreamrpc", "fakes"):  # refusals and failed pulls are expected here
        logging.getLogger(name).setLevel(logging.CRITICAL)
    zfs = FakeZfs.in_memory(setting.load_fixture())
    reference = Reference(zfs, profile_from_obj(dict(setting.profile)), setting.identity)
    server = Server(reference.handler(), identity=setting.identity, timeout=timeout)
    ours, theirs = memory_pair()
    outcome: list[object] = []
    thread = run_in_thread(lambda: outcome.append(server.serve(theirs)))
    try:
        played = play(
            conv, ours, pusher=setting.pusher, timeout=timeout,
            settle=lambda: ours.wait_until_peer_waits(thread, timeout),
        )  # fmt: skip
    finally:
        ours.close()
        thread.join(timeout)
        zfs.close()
    returned_error = bool(outcome) and bool(getattr(outcome[0], "returned_error", False))
    return played, 1 if returned_error else 0


class ServerPool:
    """Implementation processes started ahead of time (process start-up dominates a trial)."""

    def __init__(self, spec: IUTSpec, cache: FixtureCache, setting: Setting) -> None:
        self.spec, self.cache, self.setting = spec, cache, setting
        self._ahead = Prefetcher(self._start, ("server",), lambda r: r.close(timeout=0))

    def _start(self, _key: str) -> Running:
        s = self.setting
        return start_server(self.spec, self.cache, fixture=s.fixture, profile=s.profile,
                            identity=s.identity)  # fmt: skip

    def take(self) -> Running:
        return self._ahead.take("server")

    def close(self) -> None:
        self._ahead.close()


@dataclass
class IUTRun:
    played: Played
    status: ExitStatus
    stderr: str


def run_iut(
    conv: Conversation, pool: ServerPool, expected_answers: list[int], timeout: float
) -> IUTRun:
    running = pool.take()
    try:
        played = play(
            conv, running.transport, pusher=pool.setting.pusher, timeout=timeout,
            expected_answers=expected_answers, startup=STARTUP_ALLOWANCE,
        )  # fmt: skip
    except BaseException:
        running.close(timeout=0)
        raise
    status = running.close(timeout=timeout)
    return IUTRun(played, status, running.stderr)


@dataclass(frozen=True)
class Disagreement:
    """How the implementation differed from the reference on one conversation."""

    kind: str  # mismatch | hang | crash
    what: str
    detail: str
    index: int = 0
    side: str = "server"
    """Whose records ``index`` counts (``server``: server-role fuzzing, ``client``)."""

    def headline(self) -> str:
        where = f" at {self.side} record {self.index}" if self.index else ""
        return f"{self.kind}{where}: {self.what}: {self.detail}"


def _server_records(records: list[Record]) -> list[Record]:
    return [r for r in records if r.dir == S2C]


def _describe(r: Record | None) -> str:
    if r is None:
        return "nothing"
    return r.describe()


def compare(ref: Played, ref_exit: int, iut: IUTRun) -> Disagreement | None:
    """The first way the implementation's side differs from the reference's, if any.

    When the implementation also exited abnormally, the exit status and the last line of its
    stderr are added, so "it could not even start" never passes for a protocol finding.
    """
    if iut.status.kind == "unimplemented":
        return None
    found = _first_difference(ref, ref_exit, iut)
    if found is None or iut.status.returncode == ref_exit:
        return found
    last = next((ln for ln in reversed(iut.stderr.strip().splitlines()) if ln.strip()), "")
    note = (
        f" [implementation {iut.status.describe()}"
        + (f": {last.strip()[:160]}" if last else "")
        + "]"
    )
    return Disagreement(found.kind, found.what, found.detail + note, found.index, found.side)


def _first_difference(ref: Played, ref_exit: int, iut: IUTRun) -> Disagreement | None:
    expected, actual = _server_records(ref.records), _server_records(iut.played.records)
    for i, (a, b) in enumerate(zip(expected, actual, strict=False), start=1):
        if isinstance(a, EventRecord) or isinstance(b, EventRecord):
            if type(a) is not type(b):
                return Disagreement(
                    "mismatch", "connection", f"expected {_describe(a)}, got {_describe(b)}", i
                )
            continue
        assert isinstance(a, StreamRecord) and isinstance(b, StreamRecord)
        diff = compare_streams(a, b, ComparisonLevel.SEMANTIC)
        if diff is not None:
            return Disagreement("mismatch", diff[0], f"{a.describe()}: {diff[1]}", i)
    if iut.played.timed_out is not None:
        return Disagreement("hang", "no answer", f"{iut.played.timed_out} did not come in time",
                            min(len(actual), len(expected)) + 1)  # fmt: skip
    if len(expected) != len(actual):
        i = min(len(expected), len(actual))
        exp = expected[i] if i < len(expected) else None
        act = actual[i] if i < len(actual) else None
        what = "missing record" if act is None else "extra record"
        return Disagreement(
            "mismatch", what, f"expected {_describe(exp)}, got {_describe(act)}", i + 1
        )
    if iut.status.kind == "timeout":
        return Disagreement("hang", "process", "did not exit after the connection ended")
    if iut.status.kind == "signal" or iut.status.returncode not in (0, 1):
        return Disagreement(
            "crash", "exit status", f"{iut.status.describe()} (reference: {ref_exit})"
        )
    return None


@dataclass
class Trial:
    """A whole trial's evidence, kept for the reproducer."""

    conversation: Conversation
    reference: Played
    reference_exit: int
    iut: IUTRun
    disagreement: Disagreement | None = None
    """An unexplained disagreement: a finding."""
    notes: list[str] = field(default_factory=list)
    known: tuple[Deviation, Disagreement] | None = None
    """A disagreement §deviations explains (the row; what the comparison said): no finding."""

    def explained(self) -> tuple[Deviation, str] | None:
        """The row that explained this trial's disagreement and what the comparison said."""
        return None if self.known is None else (self.known[0], self.known[1].headline())


def explain_server(ref: Played, iut: IUTRun) -> Deviation | None:
    """The §deviations row that explains how the implementation's server differed, if any."""
    situations = server_situations(ref.records)  # both played the same client script

    def seen(played: Played) -> Observed:
        obs = server_observed(played.records, situations)
        return obs if played.timed_out is None else dataclasses.replace(obs, closed=False)

    return explain(seen(ref), seen(iut.played), role="server")
