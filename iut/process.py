"""Starting one implementation process and ending it, whatever it does.

:func:`launch` starts a rendered command in its own session (so a hung implementation and
everything it spawned can be killed as one process group), with stderr going to a file and,
for ``server`` commands, stdin/stdout wrapped as a :class:`~bytestreamrpc.transport.Transport`
(:class:`ProcessTransport`). :meth:`IUTProcess.finish` closes our ends, waits up to a
deadline, kills the group if it overstays and returns an :class:`ExitStatus` whose ``kind``
separates success, failure, a kill by signal, a timeout and exit code 89, which the contract
reserves for "this case is not implemented" (reported UNIMPLEMENTED, never FAIL).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Literal

from bytestreamrpc.transport import FdTransport

from .sandbox import IUTError

__all__ = [
    "STDERR_READ_LIMIT",
    "UNIMPLEMENTED_EXIT",
    "ExitKind",
    "ExitStatus",
    "IUTProcess",
    "ProcessTransport",
    "launch",
]

UNIMPLEMENTED_EXIT: Final = 89
"""Exit code meaning "not implemented" (the contract's UNIMPLEMENTED verdict)."""
STDERR_READ_LIMIT: Final = 64 * 1024
"""Bytes of stderr :meth:`IUTProcess.stderr_text` returns at most (the tail)."""

ExitKind = Literal["ok", "failed", "signal", "timeout", "unimplemented"]


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended. ``returncode`` is negative for a signal (like subprocess)."""

    returncode: int
    timed_out: bool = False

    @property
    def kind(self) -> ExitKind:
        if self.timed_out:
            return "timeout"
        if self.returncode == UNIMPLEMENTED_EXIT:
            return "unimplemented"
        if self.returncode < 0:
            return "signal"
        return "ok" if self.returncode == 0 else "failed"

    def describe(self) -> str:
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


class ProcessTransport(FdTransport):
    """A transport over a child's stdout (read) and stdin (write)."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self._stdin = stdin
        self._stdout = stdout
        super().__init__(stdout.fileno(), stdin.fileno(), close_fds=False)

    def close_write(self) -> None:
        """Signal end of file to the child (it sees EOF on stdin)."""
        if self.write_fd >= 0:
            with contextlib.suppress(OSError):
                self._stdin.close()
            self.write_fd = -1

    def close(self) -> None:
        super().close()
        for f in (self._stdin, self._stdout):
            with contextlib.suppress(OSError):
                f.close()
        self.write_fd = -1


class IUTProcess:
    """A started implementation process (see :func:`launch`)."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        argv: Sequence[str],
        stderr_path: Path,
        transport: ProcessTransport | None,
    ) -> None:
        self.popen = popen
        self.argv = list(argv)
        self.stderr_path = stderr_path
        self.transport = transport
        self.status: ExitStatus | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _exited(self) -> bool:
        """True once the leader has exited; it stays a zombie (not reaped) until :meth:`_reap`."""
        if self.popen.returncode is not None:
            return True
        try:
            res = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return res is not None

    def _kill_group(self) -> None:
        # Safe while the leader is unreaped: its pid (= the group id) cannot be reused.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def _reap(self) -> int:
        return self.popen.wait()

    def wait(self, timeout: float | None) -> ExitStatus:
        """Wait for exit (without closing our ends); kill the group after ``timeout`` s."""
        if self.status is not None:
            return self.status
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.0005
        timed_out = False
        while not self._exited():
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        self._kill_group()  # a timeout, or stragglers the leader left behind
        code = self._reap()
        self.status = ExitStatus(code, timed_out)
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


def launch(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | Path,
    stdio: bool = True,
    stderr_path: str | Path | None = None,
) -> IUTProcess:
    """Start ``argv`` in a new session.

    With ``stdio`` its stdin/stdout become :attr:`IUTProcess.transport` (a ``server``);
    otherwise stdin is ``/dev/null`` and stdout goes to ``stdout.txt`` in ``cwd`` (a client
    that reaches the server through ``{connect}``). stderr goes to ``stderr_path`` (default
    ``cwd/stderr.txt``).
    """
    cwd = Path(cwd)
    err_path = Path(stderr_path) if stderr_path is not None else cwd / "stderr.txt"
    with contextlib.ExitStack() as stack:
        err = stack.enter_context(err_path.open("wb"))
        out: int | IO[bytes] = subprocess.PIPE
        if not stdio:
            out = stack.enter_context((cwd / "stdout.txt").open("wb"))
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE if stdio else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise IUTError(f"cannot start {shlex.join(argv)}: {exc.strerror or exc}") from None
    transport = None
    if stdio:
        assert popen.stdin is not None and popen.stdout is not None
        transport = ProcessTransport(popen.stdin, popen.stdout)
    return IUTProcess(popen, argv, err_path, transport)
