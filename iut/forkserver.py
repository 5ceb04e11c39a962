"""A fork server for implementations written in Python: start-up paid once, not per process.

A catalog run starts one process per connection; for a Python implementation most of each
process's life is interpreter start-up and imports (over the mutant matrix, most of an
hour). :class:`ForkServer` starts one single-threaded helper process (``python -m
iut.forkserver SOCKET MODULE...``) that imports the implementation's modules once and then,
per request, forks a child that runs ``python -m MODULE ARGS...`` (via :mod:`runpy`) on the
stdin/stdout/stderr file descriptors we pass over a Unix socket (``SCM_RIGHTS``), in its own
session, with the environment and working directory of the request. The child is exactly
what the command would have run, minus the start-up; its exit status comes back over the
socket.

:meth:`ForkServer.launch` is a :class:`~iut.process.Spawn`: pass it as ``spawn`` to
:func:`~iut.launcher.start_server` / :func:`~iut.launcher.start_client` and every command of
the form ``<this python> -m MODULE ...`` (the mutant implementations of the test-suite are
such commands) is forked, with the sandbox, ``{connect}``, descriptors and ending exactly as
for an exec'd process; anything else is exec'd by :func:`~iut.process.launch`.

Protocol (one connection per child): we send one JSON object ``{"argv": [...], "env":
{...}, "cwd": "..."}`` with three descriptors attached; the server answers ``{"pid": N}\\n``
at once and ``{"exit": CODE}\\n`` when the child has ended (CODE negative for a signal, like
:mod:`subprocess`).
"""

from __future__ import annotations

import array
import contextlib
import importlib
import json
import os
import runpy
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from bytestreamrpc.transport import FdTransport

from .process import ChildStdio, IUTProcess, launch
from .sandbox import IUTError

__all__ = ["ForkServer", "ForkedProcess"]

MAX_REQUEST: Final = 1 << 20


def _child(request: dict[str, object], fds: list[int]) -> int:
    """Become the requested ``python -m MODULE ...`` process (never returns)."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(str(request["cwd"]))
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    argv = [str(a) for a in request["argv"]]  # type: ignore[attr-defined]
    module = argv[0]
    sys.argv = [module, *argv[1:]]
    sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def serve(path: str, preload: Sequence[str]) -> None:
    """The fork server's main loop (runs in its own single-threaded process)."""
    for module in preload:
        importlib.import_module(module)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda _sig, _frame: None)
    print("ready", flush=True)
    children: dict[int, socket.socket] = {}
    while True:
        ready, _, _ = select.select([listener, sys.stdin, wake_r], [], [], 1.0)
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 4096)
        if sys.stdin in ready and not os.read(0, 4096):
            break  # the suite went away: stop, killing what is left
        if listener in ready:
            conn, _ = listener.accept()
            try:
                data, fds = _receive(conn)
                request = json.loads(data)
            except (OSError, ValueError) as exc:
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                conn.close()
                for s in children.values():
                    s.close()
                os.close(wake_r)
                os.close(wake_w)
                _child(request, fds)
            for fd in fds:
                os.close(fd)
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            children[pid] = conn
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            done = children.pop(pid, None)
            if done is not None:
                code = os.waitstatus_to_exitcode(status)
                with contextlib.suppress(OSError):
                    done.sendall(json.dumps({"exit": code}).encode() + b"\n")
                done.close()
    for pid in children:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


def _receive(conn: socket.socket) -> tuple[bytes, list[int]]:
    fds = array.array("i")
    msg, anc, _flags, _addr = conn.recvmsg(MAX_REQUEST, socket.CMSG_SPACE(3 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise OSError(f"expected 3 file descriptors, got {len(fds)}")
    return msg, list(fds)


class ForkedProcess(IUTProcess):
    """A child of the fork server. The fork server, not we, is its parent: it reaps the child
    and reports the exit code over the request's socket, which is how we wait for it."""

    def __init__(
        self,
        conn: socket.socket,
        pid: int,
        argv: Sequence[str],
        stderr_path: Path,
        transport: FdTransport | None,
        pending: bytes = b"",
    ) -> None:
        super().__init__(pid, argv, stderr_path, transport)
        self._conn = conn
        self._buf = pending
        self._code: int | None = None

    def _await_exit(self, timeout: float | None) -> bool:
        if self._code is not None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._conn.settimeout(left)
            try:
                data = self._conn.recv(4096)
            except (TimeoutError, BlockingIOError):
                return False
            if not data:  # the fork server is gone, and with it the child
                self._code = -signal.SIGKILL
                self._conn.close()
                return True
            self._buf += data
        self._code = int(json.loads(self._buf.split(b"\n", 1)[0])["exit"])
        self._conn.close()
        return True

    def _collect(self, timed_out: bool) -> int:
        # Only a child that overstayed is killed: one that exited has been reaped by the
        # fork server, so its pid (the group id) may already be someone else's.
        if timed_out:
            self._kill_group()
        if self._await_exit(5.0) and self._code is not None:
            return self._code
        return -signal.SIGKILL


class ForkServer:
    """Our handle on one fork-server process; :meth:`launch` is its :class:`~iut.process.Spawn`."""

    def __init__(self, preload: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="zrepl-forkserver-")
        self.path = str(Path(self._dir.name) / "fork.sock")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "iut.forkserver", self.path, *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(env) if env is not None else None,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != b"ready":
            self.close()
            raise IUTError(f"the fork server did not start (said {line!r})")

    @staticmethod
    def forks(argv: Sequence[str]) -> bool:
        """Whether :meth:`launch` forks ``argv``: ``<this python> -m MODULE ...``."""
        return len(argv) > 2 and list(argv[:2]) == [sys.executable, "-m"]

    def launch(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | Path,
        stdio: bool = True,
        stderr_path: str | Path | None = None,
    ) -> IUTProcess:
        """:func:`~iut.process.launch`, except that ``python -m MODULE ...`` is forked."""
        if not self.forks(argv):
            return launch(argv, env=env, cwd=cwd, stdio=stdio, stderr_path=stderr_path)
        with ChildStdio(cwd, stdio=stdio, stderr_path=stderr_path) as io:
            conn, pid, pending = self._fork(argv[2:], env, str(cwd), io.fds)
            return ForkedProcess(conn, pid, argv, io.stderr_path, io.transport(), pending)

    def _fork(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, fds: tuple[int, int, int]
    ) -> tuple[socket.socket, int, bytes]:
        """Ask for ``python -m argv[0] argv[1:]`` on ``fds`` (stdin, stdout, stderr): the
        socket its exit code will come over, its pid, and what came after the pid."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.path)
            payload = json.dumps({"argv": list(argv), "env": dict(env), "cwd": cwd}).encode()
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
            conn.sendmsg([payload], rights)
            buf = b""
            while b"\n" not in buf:
                data = conn.recv(4096)
                if not data:
                    raise IUTError("the fork server closed the connection")
                buf += data
            line, rest = buf.split(b"\n", 1)
            answer = json.loads(line)
            if "pid" not in answer:
                raise IUTError(f"the fork server refused: {answer.get('error')}")
        except BaseException:
            conn.close()
            raise
        return conn, int(answer["pid"]), rest

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._dir.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m iut.forkserver SOCKET [MODULE...]", file=sys.stderr)
        return 2
    serve(args[0], args[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
