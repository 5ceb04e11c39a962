"""Starting one implementation process and ending it, whatever it does.

A :class:`Spawn` creates the process from a rendered command: :func:`launch` execs it; a fork
server (:meth:`iut.forkserver.ForkServer.launch`) forks it from an interpreter that imported
the implementation once. Either way the process runs in its own session (so a hung
implementation and everything it spawned can be killed as one process group) on the
descriptors :class:`ChildStdio` prepares: for ``server`` commands stdin/stdout are pipes
whose other ends become an :class:`~bytestreamrpc.transport.FdTransport`, and stderr goes to
a file. :meth:`IUTProcess.finish` closes our ends, waits up to a deadline, kills the group
if it overstays and returns an :class:`ExitStatus` whose ``kind`` separates success,
failure, a kill by signal, a timeout and exit code 89, which the contract reserves for
"this case is not implemented" (reported UNIMPLEMENTED, never FAIL).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Protocol

from bytestreamrpc.transport import FdTransport

from .sandbox import IUTError

__all__ = [
    "STDERR_READ_LIMIT",
    "UNIMPLEMENTED_EXIT",
    "ChildStdio",
    "ExitKind",
    "ExitStatus",
    "IUTProcess",
    "PopenProcess",
    "Spawn",
    "launch",
]

UNIMPLEMENTED_EXIT: Final = 89
"""Exit code meaning "not implemented" (the contract's UNIMPLEMENTED verdict)."""
STDERR_READ_LIMIT: Final = 64 * 1024
"""Bytes of stderr :meth:`IUTProcess.stderr_text` returns at most (the tail)."""
_WRITE_NEW: Final = os.O_WRONLY | os.O_CREAT | os.O_TRUNC

ExitKind = Literal["ok", "failed", "signal", "timeout", "unimplemented"]


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended. ``returncode`` is negative for a signal (like subprocess).

    ``returncode`` is ``None`` only together with ``timed_out``: the implementation was still
    running when we stopped waiting and could not be killed (our reference run in a thread
    by the conformance suite), so there is no code to report.
    """

    returncode: int | None
    timed_out: bool = False

    def __post_init__(self) -> None:
        if self.returncode is None and not self.timed_out:
            raise ValueError("an exit status without a return code must be a timeout")

    @property
    def kind(self) -> ExitKind:
        if self.timed_out or self.returncode is None:
            return "timeout"
        if self.returncode == UNIMPLEMENTED_EXIT:
            return "unimplemented"
        if self.returncode < 0:
            return "signal"
        return "ok" if self.returncode == 0 else "failed"

    def describe(self) -> str:
        if self.returncode is None:
            return "still running after its timeout"
        if self.timed_out:
            return "killed after its timeout"
        if self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            return f"killed by {name}"
        if self.returncode == UNIMPLEMENTED_EXIT:
            return f"exit {UNIMPLEMENTED_EXIT} (unimplemented)"
        return f"exit {self.returncode}"


class ChildStdio:
    """The descriptors a new process gets (stdin, stdout, stderr) and our ends of them.

    The contract's plumbing, the same however the process is created: a ``server`` (``stdio``)
    reads and writes pipes whose other ends :meth:`transport` hands to us; a client (which
    reaches us through ``{connect}``) reads ``/dev/null`` and writes ``stdout.txt`` in its
    directory; stderr goes to ``stderr_path`` (default ``stderr.txt`` there). Use as a
    context manager around creating the process: leaving it closes the child's copies (the
    child has its own by then) and, if creating it failed, ours too.
    """

    def __init__(
        self, cwd: str | Path, *, stdio: bool, stderr_path: str | Path | None = None
    ) -> None:
        cwd = Path(cwd)
        self.stderr_path = Path(stderr_path) if stderr_path is not None else cwd / "stderr.txt"
        self._theirs: list[int] = []
        self._mine: list[int] = []
        try:
            if stdio:
                stdin_r, stdin_w = os.pipe()
                self._theirs.append(stdin_r)
                self._mine.append(stdin_w)
                stdout_r, stdout_w = os.pipe()
                self._theirs.append(stdout_w)
                self._mine.append(stdout_r)
            else:
                self._theirs.append(os.open(os.devnull, os.O_RDONLY))
                self._theirs.append(os.open(cwd / "stdout.txt", _WRITE_NEW, 0o644))
            self._theirs.append(os.open(self.stderr_path, _WRITE_NEW, 0o644))
        except BaseException:
            self._close(self._theirs)
            self._close(self._mine)
            raise

    @property
    def fds(self) -> tuple[int, int, int]:
        """The child's stdin, stdout and stderr."""
        stdin, stdout, stderr = self._theirs
        return stdin, stdout, stderr

    def transport(self) -> FdTransport | None:
        """Our ends (reading its stdout, writing its stdin), now owned by the transport."""
        if not self._mine:
            return None
        write_fd, read_fd = self._mine
        self._mine = []
        return FdTransport(read_fd, write_fd)

    @staticmethod
    def _close(fds: list[int]) -> None:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        fds.clear()

    def __enter__(self) -> ChildStdio:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close(self._theirs)
        if exc_type is not None:
            self._close(self._mine)


class IUTProcess(ABC):
    """A started implementation process, however it was created (see :class:`Spawn`).

    Subclasses say how to learn that it exited and how to collect its exit code; ending it
    (close our ends, wait up to a deadline, kill the group, report an :class:`ExitStatus`)
    and reading its stderr are the same for all.
    """

    def __init__(
        self, pid: int, argv: Sequence[str], stderr_path: Path, transport: FdTransport | None
    ) -> None:
        self.pid = pid
        self.argv = list(argv)
        self.stderr_path = stderr_path
        self.transport = transport
        self.status: ExitStatus | None = None

    @abstractmethod
    def _await_exit(self, timeout: float | None) -> bool:
        """True once the process has exited (within ``timeout`` s; ``None``: no limit)."""

    @abstractmethod
    def _collect(self, timed_out: bool) -> int:
        """Its exit code, after it exited or (``timed_out``) after killing it."""

    def exited(self) -> bool:
        """Whether it has exited (without waiting, and without reporting a status)."""
        return self.status is not None or self._await_exit(0.0)

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def wait(self, timeout: float | None) -> ExitStatus:
        """Wait for exit (without closing our ends); kill the group after ``timeout`` s."""
        if self.status is None:
            timed_out = not self._await_exit(timeout)
            self.status = ExitStatus(self._collect(timed_out), timed_out)
            if self.transport is not None:
                self.transport.close()
        return self.status

    def finish(self, timeout: float | None) -> ExitStatus:
        """Close our ends of its stdio, then :meth:`wait`."""
        if self.transport is not None:
            self.transport.close()
        return self.wait(timeout)

    def kill(self) -> ExitStatus:
        """Kill the process group now and reap it."""
        if self.status is None:
            self._kill_group()
        return self.finish(None)

    def stderr_text(self, limit: int = STDERR_READ_LIMIT) -> str:
        """The last ``limit`` bytes of its stderr (decoded leniently, marked if cut)."""
        try:
            with self.stderr_path.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - limit))
                data = f.read(limit)
        except OSError:
            return ""
        text = data.decode("utf-8", "replace")
        if size > limit:
            text = f"[... {size - limit} earlier bytes of stderr omitted ...]\n" + text
        return text

    def describe(self) -> str:
        return shlex.join(self.argv)


class PopenProcess(IUTProcess):
    """A process we exec'd (:func:`launch`): our own child, so we reap it."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        argv: Sequence[str],
        stderr_path: Path,
        transport: FdTransport | None,
    ) -> None:
        super().__init__(popen.pid, argv, stderr_path, transport)
        self.popen = popen

    def _exited(self) -> bool:
        """True once the leader has exited; it stays a zombie (not reaped) until collected."""
        if self.popen.returncode is not None:
            return True
        try:
            res = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return res is not None

    def _await_exit(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.0005
        while not self._exited():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        return True

    def _collect(self, timed_out: bool) -> int:
        # Kill a process that overstayed, or stragglers the leader left behind: safe while
        # the leader is unreaped, since its pid (= the group id) cannot be reused.
        self._kill_group()
        return self.popen.wait()


class Spawn(Protocol):
    """How a process is created from its rendered command.

    :func:`launch` execs ``argv``; :meth:`iut.forkserver.ForkServer.launch` forks it from a
    preloaded interpreter. The launcher (:mod:`iut.launcher`) does everything else the same
    way for both. ``stdio``: stdin/stdout are the connection (a ``server``), see
    :class:`ChildStdio`.
    """

    def __call__(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, stdio: bool
    ) -> IUTProcess: ...


def launch(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | Path,
    stdio: bool = True,
    stderr_path: str | Path | None = None,
) -> IUTProcess:
    """Exec ``argv`` in a new session on the descriptors of :class:`ChildStdio` (a :class:`Spawn`).

    With ``stdio`` its stdin/stdout become :attr:`IUTProcess.transport` (a ``server``);
    otherwise stdin is ``/dev/null`` and stdout goes to ``stdout.txt`` in ``cwd`` (a client
    that reaches the server through ``{connect}``). stderr goes to ``stderr_path`` (default
    ``cwd/stderr.txt``).
    """
    with ChildStdio(cwd, stdio=stdio, stderr_path=stderr_path) as io:
        stdin, stdout, stderr = io.fds
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise IUTError(f"cannot start {shlex.join(argv)}: {exc.strerror or exc}") from None
        return PopenProcess(popen, argv, io.stderr_path, io.transport())
