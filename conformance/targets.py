"""Where cases find the implementation under test: as processes, or our reference in-process.

A :class:`Target` starts one *session* per connection a case needs: a server session hands
out the server's end of the connection at once, a client session (``pull`` / ``push``)
waits for the implementation to connect back through ``{connect}``. Either way the session
owns a sandbox whose fake ZFS state the case may inspect after :meth:`Session.finish`, which
ends the process (killing it after the time the case has left) and reports its exit status
and stderr.

* :class:`ProcessTarget` starts commands of an IUT description through :mod:`iut`, exactly
  as the contract says.
* :class:`InProcessTarget` runs our reference (``bytestreamrpc.server.Server`` with the
  reference handler, or the reference pull/push job) in a thread over an in-memory pair.
  The differential oracle uses it for the expected results; tests use it as a fast IUT.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bytestreamrpc.client import Client
from bytestreamrpc.errors import ProtocolError, RequestFailed
from bytestreamrpc.messages import CloseRequest
from bytestreamrpc.server import Server
from bytestreamrpc.transport import MemoryTransport, Transport, memory_pair
from fakes.profile import profile_from_obj
from fakes.reference import Reference
from fakes.zfs import FakeZfs
from iut import FixtureCache, IUTSpec, Running, Sandbox, start_client, start_server
from iut.process import UNIMPLEMENTED_EXIT

from .setups import fixture_path

Command = Literal["server", "pull", "push"]


@dataclass(frozen=True)
class ProcInfo:
    """How one implementation process ended."""

    returncode: int | None
    kind: str  # ok | failed | signal | timeout | unimplemented
    description: str
    stderr: str = ""

    @property
    def unimplemented(self) -> bool:
        return self.kind == "unimplemented"


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
        self.info: ProcInfo | None = None

    @property
    @abstractmethod
    def transport(self) -> Transport:
        """The connection to a server session."""

    @abstractmethod
    def accept(self, timeout: float) -> Transport:
        """The connection a client session opens to us (waits up to ``timeout``)."""

    @abstractmethod
    def finish(self, timeout: float) -> ProcInfo:
        """Close our ends, wait up to ``timeout`` (then kill); idempotent."""

    def cleanup(self) -> None:
        """Remove the sandbox (after the case has inspected the state)."""
        shutil.rmtree(self.sandbox_dir, ignore_errors=True)


class Target(ABC):
    """The implementation under test."""

    name: str
    spec: IUTSpec | None = None

    @abstractmethod
    def has(self, command: Command) -> bool: ...

    @abstractmethod
    def start(self, command: Command, setup: StartSpec) -> Session: ...

    def close(self) -> None:
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

    def finish(self, timeout: float) -> ProcInfo:
        if self.info is None:
            status = self.running.close(max(timeout, 0.05))
            self.info = ProcInfo(
                status.returncode, status.kind, status.describe(), self.running.stderr
            )
        return self.info


class ProcessTarget(Target):
    """An implementation described by an IUT TOML (or ``--server-cmd``), run as processes."""

    def __init__(self, spec: IUTSpec, cache: FixtureCache | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self._own_cache = cache is None
        self.cache = cache if cache is not None else FixtureCache()

    def has(self, command: Command) -> bool:
        return getattr(self.spec, command) is not None

    def start(self, command: Command, setup: StartSpec) -> Session:
        fixture = fixture_path(setup.fixture)
        if command == "server":
            running = start_server(
                self.spec,
                self.cache,
                fixture=fixture,
                profile=setup.profile,
                identity=setup.identity,
                keep=True,
            )
        else:
            running = start_client(
                self.spec,
                command,
                self.cache,
                fixture=fixture,
                profile=setup.profile,
                identity=setup.identity,
                keep=True,
            )
        return _ProcessSession(command, running)

    def close(self) -> None:
        if self._own_cache:
            self.cache.close()


# --------------------------------------------------------------------------- in-process


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
        def main() -> None:
            try:
                self._code = body(self._theirs)
            except Exception as exc:  # the reference must not crash; report it if it does
                self._error = f"reference crashed: {exc!r}"
                self._code = 1
            finally:
                self._theirs.close()

        self._thread = threading.Thread(target=main, daemon=True, name=f"ref-{self.command}")
        self._thread.start()

    @property
    def transport(self) -> Transport:
        return self._ours

    def accept(self, timeout: float) -> Transport:
        return self._ours

    def finish(self, timeout: float) -> ProcInfo:
        if self.info is None:
            self._ours.close()
            assert self._thread is not None
            self._thread.join(max(timeout, 0.05))
            if self._thread.is_alive():
                self.info = ProcInfo(None, "timeout", "still running after its timeout")
            else:
                code = self._code if self._code is not None else 1
                kind = "ok" if code == 0 else "unimplemented" if code == UNIMPLEMENTED_EXIT else (
                    "failed"
                )
                self.info = ProcInfo(code, kind, f"exit {code}", self._error)
                self._zfs.close()
        return self.info


class InProcessTarget(Target):
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
    """What ``zrepl-conformance pull|push`` does, over ``transport`` (see cmd_jobs)."""
    from fakes.jobs import JobReport, run_pull, run_push
    from fakes.mapping import parse_mapping

    raw = profile.pull_mapping if command == "pull" else profile.push_filter
    mapping = parse_mapping(raw or {})
    report = JobReport()
    try:
        client = Client.connect(transport, timeout=timeout)
    except (RequestFailed, ProtocolError, OSError) as exc:
        report.error = f"cannot connect: {exc}"
    else:
        if command == "pull":
            report = run_pull(client, zfs, mapping)
        else:
            report = run_push(client, zfs, mapping)
        with contextlib.suppress(RequestFailed, ProtocolError, OSError):
            client.close_request(CloseRequest())
    transport.close()
    return 0 if report.ok else 1
