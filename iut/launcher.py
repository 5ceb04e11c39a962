"""One call to start an implementation's server or client in a fresh sandbox.

:func:`start_server` and :func:`start_client` combine the pieces of this package the way the
contract prescribes (sandbox from fixture and profile, ``{connect}`` listener, placeholders,
environment, process group, stderr file) and return a :class:`Running` that owns all of them,
so callers (replay, ``golden check``, the conformance cases) cannot forget a step or leak a
process. Only creating the process is a hook (``spawn``, an :class:`~iut.process.Spawn`):
:func:`~iut.process.launch` execs the command, a :class:`~iut.forkserver.ForkServer` forks
it from a preloaded interpreter, and every other step is the same for both.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Literal

from bytestreamrpc.transport import Transport
from fakes.closing import Closing

from .connect import ConnectListener
from .process import ExitStatus, IUTProcess, Spawn, launch
from .sandbox import FixtureCache, IUTError, Sandbox
from .spec import IUTSpec, render_command

__all__ = ["DEFAULT_TIMEOUT", "Running", "start_client", "start_server"]

DEFAULT_TIMEOUT = 10.0
"""Seconds a process may take (per connection) when the description names no ``timeout``."""


class Running(Closing):
    """A started implementation process with its sandbox (and listener, for clients)."""

    def __init__(
        self,
        spec: IUTSpec,
        sandbox: Sandbox,
        process: IUTProcess,
        listener: ConnectListener | None = None,
    ) -> None:
        self.spec = spec
        self.sandbox = sandbox
        self.process = process
        self.listener = listener
        self.status: ExitStatus | None = None
        self.stderr = ""

    @property
    def timeout(self) -> float:
        return self.spec.timeout if self.spec.timeout is not None else DEFAULT_TIMEOUT

    @property
    def transport(self) -> Transport:
        """The server's stdio (server processes only)."""
        if self.process.transport is None:
            raise IUTError("this process has no stdio transport (a client: use accept())")
        return self.process.transport

    def accept(self, timeout: float | None = None) -> Transport:
        """The client's connection (client processes only); waits for it to connect."""
        if self.listener is None:
            raise IUTError("this process is a server: use .transport")
        return self.listener.accept(self.timeout if timeout is None else timeout)

    def close(self, timeout: float | None = None) -> ExitStatus:
        """Close our ends, wait (killing after ``timeout``), keep stderr, remove the sandbox."""
        if self.status is None:
            try:
                self.status = self.process.finish(self.timeout if timeout is None else timeout)
                self.stderr = self.process.stderr_text()
            finally:
                if self.listener is not None:
                    self.listener.close()
                self.sandbox.close()
        return self.status


def start_server(
    spec: IUTSpec,
    cache: FixtureCache,
    *,
    fixture: str | None = None,
    profile: Mapping[str, object] | None = None,
    identity: str | None = None,
    keep: bool = False,
    spawn: Spawn = launch,
) -> Running:
    """Start ``spec.server`` on a fresh sandbox; talk to it through ``.transport``."""
    return _start(
        spec, "server", cache, spawn, fixture=fixture, profile=profile, identity=identity, keep=keep
    )


def start_client(
    spec: IUTSpec,
    role: Literal["pull", "push"],
    cache: FixtureCache,
    *,
    fixture: str | None = None,
    profile: Mapping[str, object] | None = None,
    identity: str | None = None,
    keep: bool = False,
    spawn: Spawn = launch,
) -> Running:
    """Start ``spec.pull`` / ``spec.push`` with ``{connect}`` leading back to us.

    The caller then :meth:`Running.accept`-s the connection and plays the server on it;
    ``{connect}`` is :func:`~iut.connect.connect_command` (the ssh-faithful relay).
    """
    return _start(
        spec, role, cache, spawn, fixture=fixture, profile=profile, identity=identity, keep=keep
    )


def _start(
    spec: IUTSpec,
    role: Literal["server", "pull", "push"],
    cache: FixtureCache,
    spawn: Spawn,
    *,
    fixture: str | None,
    profile: Mapping[str, object] | None,
    identity: str | None,
    keep: bool,
) -> Running:
    """The contract's steps around ``spawn``: sandbox, listener (clients), argv, env.

    A process that cannot be started leaves no listener and no sandbox behind, even with
    ``keep`` (there is nothing in it to inspect).
    """
    template = spec.command(role)
    sandbox = Sandbox(cache, fixture=fixture, profile=profile, identity=identity, keep=keep)
    listener: ConnectListener | None = None
    try:
        connect: list[str] | None = None
        if role != "server":
            listener = ConnectListener(sandbox.dir)
            connect = listener.command()
        values = sandbox.placeholders(connect)
        argv = render_command(template, values, what=f"{spec.origin}: {role}")
        env = sandbox.environment(spec.env, connect=connect)
        process = spawn(argv, env=env, cwd=sandbox.dir, stdio=listener is None)
    except BaseException:
        if listener is not None:
            listener.close()
        shutil.rmtree(sandbox.dir, ignore_errors=True)
        raise
    return Running(spec, sandbox, process, listener)
