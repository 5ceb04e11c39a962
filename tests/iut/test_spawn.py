"""The launcher's steps around its one hook, ``spawn``, and the fork server that plugs into it.

:func:`iut.start_server` / :func:`iut.start_client` make the sandbox, the ``{connect}``
listener, the argv and the environment, and hand only the creation of the process to
``spawn``: :func:`iut.launch` (exec) by default, :meth:`ForkServer.launch` (fork from a
preloaded interpreter) for the mutant tests. These tests pin that split: what a spawn is
given, what is left behind when it fails, and that a forked implementation is seen exactly
like an exec'd one.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from bytestreamrpc.client import Client
from bytestreamrpc.messages import FilesystemRequest
from bytestreamrpc.server import Server
from iut import (
    STATE_ENV,
    FixtureCache,
    IUTError,
    IUTSpec,
    Running,
    launch,
    reference_spec,
    start_client,
    start_server,
)
from iut.forkserver import ForkedProcess, ForkServer
from iut.process import IUTProcess, PopenProcess

PY = sys.executable
PRELOAD = ("json.tool", "zrepl_conformance.cli", "zrepl_conformance.cmd_serve", "fakes.reference")


@pytest.fixture(scope="module")
def cache() -> Iterator[FixtureCache]:
    with FixtureCache() as c:
        yield c


@pytest.fixture(scope="module")
def forks() -> Iterator[ForkServer]:
    server = ForkServer(PRELOAD)
    try:
        yield server
    finally:
        server.close()


class Recorder:
    """A spawn that notes what it was given, then execs (or fails, with ``fail``)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[list[str], dict[str, str], Path, bool]] = []

    def __call__(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, stdio: bool
    ) -> IUTProcess:
        self.calls.append((list(argv), dict(env), cwd, stdio))
        if self.fail:
            raise IUTError("no process for you")
        return launch(argv, env=env, cwd=cwd, stdio=stdio)


def _filesystems(running: Running) -> list[str]:
    client = Client.connect(running.transport, timeout=20)
    names = [p.to_string() for p in client.filesystem_request(FilesystemRequest())]
    client.close_request()
    return names


# --------------------------------------------------------------------------- the hook


def test_a_server_is_spawned_rendered_in_its_sandbox_on_stdio(cache: FixtureCache) -> None:
    spawn = Recorder()
    spec = IUTSpec(server=(PY, "-c", "pass", "{identity}", "{state}"), origin="t")
    with start_server(spec, cache, identity="gina", spawn=spawn) as running:
        running.close()
    [(argv, env, cwd, stdio)] = spawn.calls
    assert stdio is True
    assert cwd == running.sandbox.dir
    assert argv == [PY, "-c", "pass", "gina", str(running.sandbox.state)]
    assert env[STATE_ENV] == str(running.sandbox.state)
    assert running.status is not None and running.status.kind == "ok"


def test_a_client_is_spawned_with_connect_leading_to_its_listener(cache: FixtureCache) -> None:
    spawn = Recorder()
    spec = IUTSpec(server=("unused",), pull=(PY, "-c", "pass", "{connect}"), origin="t")
    with start_client(spec, "pull", cache, spawn=spawn) as running:
        assert running.listener is not None
        address = running.listener.address
        running.close()
    [(argv, _env, _cwd, stdio)] = spawn.calls
    assert stdio is False
    assert argv[:3] == [PY, "-c", "pass"] and argv[-1] == address
    assert address == f"unix:{running.sandbox.dir / 'connect.sock'}"


@pytest.mark.parametrize("role", ["server", "pull"])
def test_a_failed_spawn_leaves_nothing_behind_even_when_kept(tmp_path: Path, role: str) -> None:
    spec = IUTSpec(server=(PY, "-c", "pass"), pull=(PY, "-c", "pass", "{connect}"), origin="t")
    spawn = Recorder(fail=True)
    with FixtureCache(tmp_path / "cache") as cache:
        with pytest.raises(IUTError, match="no process for you"):
            if role == "server":
                start_server(spec, cache, keep=True, spawn=spawn)
            else:
                start_client(spec, "pull", cache, keep=True, spawn=spawn)
        assert len(spawn.calls) == 1
        assert list(cache.root.glob("proc-*")) == []


# --------------------------------------------------------------------------- the fork server


def test_the_fork_server_forks_python_m_and_execs_anything_else(
    forks: ForkServer, tmp_path: Path
) -> None:
    env = dict(os.environ)
    forked = forks.launch([PY, "-m", "json.tool", "--help"], env=env, cwd=tmp_path, stdio=False)
    execd = forks.launch([PY, "-c", "pass"], env=env, cwd=tmp_path, stdio=False)
    assert isinstance(forked, ForkedProcess) and isinstance(execd, PopenProcess)
    assert forked.finish(10).kind == "ok" and execd.finish(10).kind == "ok"


def test_a_forked_module_serves_on_stdio_and_reports_its_exit(
    forks: ForkServer, tmp_path: Path
) -> None:
    env = dict(os.environ)
    proc = forks.launch([PY, "-m", "json.tool"], env=env, cwd=tmp_path)
    assert proc.transport is not None
    proc.transport.write(b'{"a": [1,2]}', timeout=10)
    proc.transport.close_write()
    out = b""
    while data := proc.transport.read(4096, timeout=10):
        out += data
    assert b'"a": [' in out
    assert proc.finish(10).returncode == 0
    bad = forks.launch([PY, "-m", "no_such_module_xyz"], env=env, cwd=tmp_path)
    status = bad.finish(10)
    assert (status.returncode, status.kind) == (1, "failed")
    assert "no_such_module_xyz" in bad.stderr_text()
    assert (tmp_path / "stderr.txt").exists()


def test_a_forked_process_that_overstays_is_killed(forks: ForkServer, tmp_path: Path) -> None:
    # json.tool waits for the end of its stdin, which we keep open (wait, not finish)
    proc = forks.launch([PY, "-m", "json.tool"], env=dict(os.environ), cwd=tmp_path)
    assert not proc.exited()
    start = time.monotonic()
    status = proc.wait(0.3)
    assert time.monotonic() - start < 5
    assert status.timed_out and status.kind == "timeout"
    assert status.returncode == -signal.SIGKILL
    assert status.describe() == "killed after its timeout"


def test_the_reference_forked_is_the_reference_execd(
    forks: ForkServer, cache: FixtureCache
) -> None:
    profile = {"identity": "erin", "pull_acl": {"pool/data*": "x"}}
    seen = []
    for spawn in (launch, forks.launch):
        with start_server(reference_spec(), cache, profile=profile, spawn=spawn) as running:
            names = _filesystems(running)
            status = running.close()
        seen.append((type(running.process), names, status))
    (t_exec, names_exec, st_exec), (t_fork, names_fork, st_fork) = seen
    assert (t_exec, t_fork) == (PopenProcess, ForkedProcess)
    assert names_fork == names_exec == ["pool/data", "pool/data/db", "pool/data/home"]
    assert st_fork == st_exec and st_fork.kind == "ok"


def test_a_forked_client_connects_back_through_connect(
    forks: ForkServer, cache: FixtureCache
) -> None:
    """The reference ``pull`` job, forked: it reaches our server through ``{connect}`` and
    pulls into its sandbox; its stdout went to ``stdout.txt`` there."""
    from fakes.profile import profile_from_obj
    from fakes.reference import Reference
    from fakes.zfs import FakeZfs

    profile = {"identity": "frank", "pull_mapping": {"pool/data/home": "backup/zrepl/home"}}
    server_zfs = FakeZfs.in_memory()
    server_ref = Reference(server_zfs, profile_from_obj({"pull_acl": {"pool*": "x"}}), "frank")
    spec = reference_spec()
    with start_client(spec, "pull", cache, profile=profile, keep=True, spawn=forks.launch) as run:
        assert isinstance(run.process, ForkedProcess)
        Server(server_ref.handler(), identity="frank", timeout=20).serve(run.accept(20))
        status = run.close()
        pulled = FakeZfs.open(run.sandbox.state).list_versions("backup/zrepl/home")
        assert (run.sandbox.dir / "stdout.txt").exists()
    run.sandbox.keep = False
    run.sandbox.close()
    assert status.kind == "ok", run.stderr
    assert [v.guid for v in pulled] == [server_zfs.list_versions("pool/data/home")[-1].guid]
