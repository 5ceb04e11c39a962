"""A fork server for implementations written in Python: start-up paid once, not per case.

A catalog run starts one process per connection; for a Python implementation most of each
process's life is interpreter start-up and imports. :class:`ForkServer` starts one
single-threaded helper process (``python -m conformance.forkserver SOCKET MODULE...``) that
imports the implementation's modules once and then, per request, forks a child that runs
``python -m MODULE ARGS...`` (via :mod:`runpy`) on the stdin/stdout/stderr file descriptors
the suite passes over a Unix socket (``SCM_RIGHTS``), in its own session, with the
environment and working directory of the request. The child is exactly what the command
would have run, minus the start-up; its exit status comes back over the socket.

:class:`~conformance.targets.ForkServerTarget` uses it for every ``server`` command of the
form ``<this python> -m MODULE ...`` (the mutant implementations of the test-suite are
such commands); anything else is started as an ordinary process.

Protocol (one connection per child): the suite sends one JSON object ``{"argv": [...],
"env": {...}, "cwd": "..."}`` with three descriptors attached; the server answers
``{"pid": N}\\n`` at once and ``{"exit": CODE}\\n`` when the child has ended (CODE negative
for a signal, like :mod:`subprocess`).
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


class ForkedProcess:
    """A child of the fork server, seen from the suite."""

    def __init__(self, conn: socket.socket, pid: int) -> None:
        self.conn = conn
        self.pid = pid
        self.returncode: int | None = None
        self._buf = b""

    def wait(self, timeout: float | None) -> int | None:
        """The exit code, or ``None`` if still running after ``timeout`` seconds."""
        if self.returncode is not None:
            return self.returncode
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self.conn.settimeout(left)
            try:
                data = self.conn.recv(4096)
            except TimeoutError:
                return None
            if not data:
                self.returncode = -signal.SIGKILL
                return self.returncode
            self._buf += data
        self.returncode = int(json.loads(self._buf.split(b"\n", 1)[0])["exit"])
        self.conn.close()
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


class ForkServer:
    """The suite's handle on one fork-server process."""

    def __init__(self, preload: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="zrepl-forkserver-")
        self.path = str(Path(self._dir.name) / "fork.sock")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "conformance.forkserver", self.path, *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(env) if env is not None else None,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != b"ready":
            self.close()
            raise RuntimeError(f"the fork server did not start (said {line!r})")

    def spawn(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, fds: tuple[int, int, int]
    ) -> ForkedProcess:
        """Run ``python -m argv[0] argv[1:]`` in a forked child on ``fds`` (stdin, stdout,
        stderr); the caller keeps (and closes) its own copies of the descriptors."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(self.path)
        payload = json.dumps({"argv": list(argv), "env": dict(env), "cwd": cwd}).encode()
        conn.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        buf = b""
        while b"\n" not in buf:
            data = conn.recv(4096)
            if not data:
                raise RuntimeError("the fork server closed the connection")
            buf += data
        line, rest = buf.split(b"\n", 1)
        answer = json.loads(line)
        if "pid" not in answer:
            raise RuntimeError(f"the fork server refused: {answer.get('error')}")
        child = ForkedProcess(conn, int(answer["pid"]))
        child._buf = rest
        return child

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
        print("usage: python -m conformance.forkserver SOCKET [MODULE...]", file=sys.stderr)
        return 2
    serve(args[0], args[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
