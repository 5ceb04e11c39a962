"""Where cases find the implementation under test: as processes, or our reference in-process.

A :class:`ConformanceTarget` starts a *session* per connection a case needs: a server session hands
out the server's end of the connection at once, a client session (``pull`` / ``push``)
waits for the implementation to connect back through ``{connect}``. Either way the session
owns a sandbox whose fake ZFS state the case may inspect after :meth:`Session.finish`, which
ends the process (killing it after the time the case has left) and reports its
:class:`~iut.process.ExitStatus` (its stderr is then :attr:`Session.stderr`).

* :class:`ProcessTarget` starts commands of an IUT description through :mod:`iut`, exactly
  as the contract says; :class:`ForkServerTarget` is one whose Python commands are forked
  from a :class:`~iut.forkserver.ForkServer` instead of exec'd.
* :class:`InProcessTarget` runs our reference (``bytestreamrpc.server.Server`` with the
  reference handler, or the reference pull/push job) in a thread over an in-memory pair.
  The differential oracle uses it for the expected results; tests use it as a fast IUT.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from bytestreamrpc.server import Server
from bytestreamrpc.transport import MemoryTransport, Transport, memory_pair
from fakes.profile import profile_from_obj
from fakes.reference import Reference
from fakes.zfs import FakeZfs
from iut import FixtureCache, IUTSpec, Running, Sandbox, start_client, start_server
from iut.forkserver import ForkServer
from iut.process import ExitStatus, Spawn, launch

from .setups import fixture_path

Command = Literal["server", "pull", "push"]


@dataclass(frozen=True)
class StartSpec:
    """The resolved setup of one session."""

    fixture: str
    profile: Mapping[str, Any]
    identity: str


class Session(ABC):
    """One started implementation (server or client) with its sandbox."""

    def __init__(self, command: Command, state: Path, sandbox_dir: Path) -> None:
        self.command = command
        self.state = state
        self.sandbox_dir = sandbox_dir
        self.status: ExitStatus | None = None
        self.stderr = ""
        """What the implementation wrote to stderr (its log), once :meth:`finish` ended it."""

    @property
    @abstractmethod
    def transport(self) -> Transport:
        """The connection to a server session."""

    @abstractmethod
    def accept(self, timeout: float) -> Transport:
        """The connection a client session opens to us (waits up to ``timeout``)."""

    @abstractmethod
    def finish(self, timeout: float) -> ExitStatus:
        """Close our ends, wait up to ``timeout`` (then kill), keep stderr; idempotent."""

    def cleanup(self) -> None:
        """Remove the sandbox (after the case has inspected the state)."""
        shutil.rmtree(self.sandbox_dir, ignore_errors=True)


class ConformanceTarget(ABC):
    """The implementation under test, as the conformance cases reach it (not a fuzz target)."""

    name: str
    spec: IUTSpec | None = None

    @abstractmethod
    def has(self, command: Command) -> bool: ...

    @abstractmethod
    def start(self, command: Command, setup: StartSpec) -> Session: ...

    current_case: str = ""

    def prefetch(  # noqa: B027
        self, command: Command, setup: StartSpec, for_case: str = ""
    ) -> None:
        """Hint: case ``for_case`` will soon ``start`` this (targets may start it early)."""

    def close(self) -> None:  # noqa: B027 - optional for subclasses
        """Release shared resources (fixture states)."""


# --------------------------------------------------------------------------- processes


class _ProcessSession(Session):
    def __init__(self, command: Command, running: Running) -> None:
        super().__init__(command, running.sandbox.state, running.sandbox.dir)
        self.running = running

    @property
    def transport(self) -> Transport:
        return self.running.transport

    def accept(self, timeout: float) -> Transport:
        return self.running.accept(timeout)

    def finish(self, timeout: float) -> ExitStatus:
        if self.status is None:
            self.status = self.running.close(max(timeout, 0.05))
            self.stderr = self.running.stderr
        return self.status


def _key(command: Command, setup: StartSpec) -> str:
    return json.dumps([command, setup.fixture, setup.profile, setup.identity], sort_keys=True)


class ProcessTarget(ConformanceTarget):
    """An implementation described by an IUT TOML (or ``--server-cmd``), run as processes.

    :meth:`prefetch` starts the session a coming case will need while the current case
    runs: an implementation's start-up (an interpreter, a JVM) then overlaps with the
    current case instead of adding to it. A prefetched process is an ordinary, fresh
    session; one that no case claims is killed and removed.
    """

    spec: IUTSpec

    def __init__(
        self, spec: IUTSpec, cache: FixtureCache | None = None, *, spawn: Spawn = launch
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.spawn = spawn
        """How its processes are created (exec'd, or forked by a fork server)."""
        self._own_cache = cache is None
        self.cache = cache if cache is not None else FixtureCache()
        self._lock = threading.Lock()
        self._prefetched: dict[str, tuple[str, Session]] = {}
        self.current_case = ""
        """Set by the runner: :meth:`start` hands out what was prefetched for this case."""

    def has(self, command: Command) -> bool:
        return getattr(self.spec, command) is not None

    def prefetch(self, command: Command, setup: StartSpec, for_case: str = "") -> None:
        """Start the first session of case ``for_case`` now (dropping stale prefetches)."""
        if not self.has(command):
            return
        session = self._launch(command, setup)
        with self._lock:
            stale = [k for k in self._prefetched if k != self.current_case]
            dropped = [self._prefetched.pop(k)[1] for k in stale]
            self._prefetched[for_case] = (_key(command, setup), session)
        for old in dropped:
            _discard(old)

    def start(self, command: Command, setup: StartSpec) -> Session:
        with self._lock:
            pre = self._prefetched.pop(self.current_case, None)
        if pre is not None:
            if pre[0] == _key(command, setup):
                return pre[1]
            _discard(pre[1])
        return self._launch(command, setup)

    def _launch(self, command: Command, setup: StartSpec) -> Session:
        fixture = fixture_path(setup.fixture)
        if command == "server":
            running = start_server(
                self.spec,
                self.cache,
                fixture=fixture,
                profile=setup.profile,
                identity=setup.identity,
                keep=True,
                spawn=self.spawn,
            )
            return _ProcessSession(command, running)
        running = start_client(
            self.spec,
            command,
            self.cache,
            fixture=fixture,
            profile=setup.profile,
            identity=setup.identity,
            keep=True,
            spawn=self.spawn,
        )
        return _ProcessSession(command, running)

    def close(self) -> None:
        with self._lock:
            pending, self._prefetched = list(self._prefetched.values()), {}
        for _k, session in pending:
            _discard(session)
        if self._own_cache:
            self.cache.close()


def _discard(session: Session) -> None:
    session.finish(0.05)
    session.cleanup()


# --------------------------------------------------------------------------- in-process


class ThreadLogs(logging.Handler):
    """Routes log records of reference threads to their session: their "stderr".

    While :meth:`install`-ed, records of the reference's loggers go to the buffer of the
    thread that emitted them and nowhere else (the suite's own use of the same package,
    e.g. its pushing client, stays quiet).
    """

    LOGGERS: Final = ("bytestreamrpc", "fakes")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self._buffers: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._saved: list[tuple[logging.Logger, bool, int]] = []
        self._users = 0

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            buf = self._buffers.get(threading.current_thread().name)
        if buf is not None:
            buf.append(self.format(record))

    def open(self, thread_name: str) -> list[str]:
        with self._lock:
            return self._buffers.setdefault(thread_name, [])

    def close_buffer(self, thread_name: str) -> str:
        with self._lock:
            return "\n".join(self._buffers.pop(thread_name, []))

    def install(self) -> None:
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            for name in self.LOGGERS:
                lg = logging.getLogger(name)
                self._saved.append((lg, lg.propagate, lg.level))
                lg.addHandler(self)
                lg.propagate = False
                lg.setLevel(logging.INFO)

    def uninstall(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
            for lg, propagate, level in self._saved:
                lg.removeHandler(self)
                lg.propagate = propagate
                lg.setLevel(level)
            self._saved.clear()


THREAD_LOGS: Final = ThreadLogs()
_counter = iter(range(1, 1 << 62))


class _ThreadSession(Session):
    """The reference in a thread; ``exit code`` mirrors what its command would exit with."""

    def __init__(
        self,
        command: Command,
        sandbox: Sandbox,
        zfs: FakeZfs,
        ours: MemoryTransport,
        theirs: MemoryTransport,
    ) -> None:
        super().__init__(command, sandbox.state, sandbox.dir)
        self._zfs = zfs
        self._ours = ours
        self._theirs = theirs
        self._code: int | None = None
        self._error = ""
        self._thread: threading.Thread | None = None

    def run(self, body: Any) -> None:
        name = f"ref-{self.command}-{next(_counter)}"
        THREAD_LOGS.open(name)

        def main() -> None:
            try:
                self._code = body(self._theirs)
            except Exception as exc:  # the reference must not crash; report it if it does
                self._error = f"reference crashed: {exc!r}"
                self._code = 1
            finally:
                self._theirs.close()

        self._thread = threading.Thread(target=main, daemon=True, name=name)
        self._thread.start()

    @property
    def transport(self) -> Transport:
        return self._ours

    def accept(self, timeout: float) -> Transport:
        return self._ours

    def finish(self, timeout: float) -> ExitStatus:
        if self.status is None:
            self._ours.close()
            assert self._thread is not None
            self._thread.join(max(timeout, 0.05))
            if self._thread.is_alive():  # a thread cannot be killed: no exit code
                self.status = ExitStatus(None, timed_out=True)
            else:
                self.status = ExitStatus(self._code if self._code is not None else 1)
                logs = THREAD_LOGS.close_buffer(self._thread.name)
                self.stderr = "\n".join(x for x in (logs, self._error) if x)
                self._zfs.close()
        return self.status


class InProcessTarget(ConformanceTarget):
    """Our reference implementation, run in this process (fast; no process start)."""

    name = "reference (in-process)"

    def __init__(self, cache: FixtureCache | None = None, *, io_timeout: float = 30.0) -> None:
        self._own_cache = cache is None
        self.cache = cache if cache is not None else FixtureCache()
        self.io_timeout = io_timeout

    def has(self, command: Command) -> bool:
        return True

    def start(self, command: Command, setup: StartSpec) -> Session:
        sandbox = Sandbox(
            self.cache,
            fixture=fixture_path(setup.fixture),
            profile=setup.profile,
            identity=setup.identity,
            keep=True,
        )
        zfs = FakeZfs.open(sandbox.state)
        profile = profile_from_obj(dict(setup.profile))
        ours, theirs = memory_pair()
        session = _ThreadSession(command, sandbox, zfs, ours, theirs)
        timeout = self.io_timeout
        if command == "server":
            reference = Reference(zfs, profile, setup.identity)

            def serve(t: Transport) -> int:
                server = Server(reference.handler(), identity=setup.identity, timeout=timeout)
                outcome = server.serve(t)
                return 1 if outcome.returned_error else 0

            session.run(serve)
        else:
            session.run(lambda t: _reference_job(command, t, zfs, profile, timeout))
        return session

    def close(self) -> None:
        if self._own_cache:
            self.cache.close()


def _reference_job(
    command: Command, transport: Transport, zfs: FakeZfs, profile: Any, timeout: float
) -> int:
    """What ``zrepl-conformance pull|push --profile`` does, over ``transport``."""
    from fakes.runjob import run_job

    job: Literal["pull", "push"] = "pull" if command == "pull" else "push"
    report = run_job(job, transport, zfs, profile.job_mapping(job), timeout=timeout)
    return 0 if report.ok else 1


# --------------------------------------------------------------------------- fork server


class ForkServerTarget(ProcessTarget):
    """A :class:`ProcessTarget` whose ``python -m MODULE`` commands are forked from a
    :class:`~iut.forkserver.ForkServer` that imported the implementation once (Python
    implementations only; other commands start as ordinary processes). Everything but
    creating the process is :mod:`iut.launcher`'s, as for any other target."""

    def __init__(
        self, spec: IUTSpec, server: ForkServer, cache: FixtureCache | None = None
    ) -> None:
        super().__init__(spec, cache, spawn=server.launch)
        self.server = server
