"""Before any case runs: can the implementation be started at all?

Without this, an implementation whose program is missing produces one failure per case
(each with the same stderr), and the real cause drowns. :func:`preflight` checks once that
the program of every command exists and is executable, and runs the description's optional
``check`` command (e.g. a wrapper verifying that the binary it wraps is there); a failure is
one :class:`~iut.sandbox.IUTError` line naming the description, the command and the cause.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .sandbox import IUTError
from .spec import IUTSpec

__all__ = ["CHECK_TIMEOUT", "preflight"]

CHECK_TIMEOUT = 30.0
"""Seconds the ``check`` command may take."""


def _program_problem(program: str) -> str:
    if "{" in program:
        return f"the program {program!r} is a placeholder, not a program"
    if os.sep in program:
        if not os.path.isfile(program):
            return f"{program}: no such file"
        if not os.access(program, os.X_OK):
            return f"{program}: not executable"
        return ""
    return "" if shutil.which(program) else f"{program}: not found on PATH"


def preflight(spec: IUTSpec, timeout: float = CHECK_TIMEOUT) -> None:
    """Raise :class:`IUTError` (one line) if ``spec`` cannot possibly start."""
    for role in ("server", "pull", "push", "check"):
        command: tuple[str, ...] | None = getattr(spec, role)
        if command is None:
            continue
        problem = _program_problem(command[0])
        if problem:
            raise IUTError(f"{spec.origin}: '{role}': {problem}")
    if spec.check is None:
        return
    try:
        proc = subprocess.run(
            list(spec.check),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env={**os.environ, **spec.env},
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise IUTError(f"{spec.origin}: 'check' did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise IUTError(f"{spec.origin}: 'check': {exc.strerror or exc}") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        why = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise IUTError(f"{spec.origin}: 'check' failed: {why}")
