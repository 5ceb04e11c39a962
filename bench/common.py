"""Shared helpers for the on-demand benchmarks (never part of the test suite)."""

from __future__ import annotations

import datetime
import os
import shlex
import subprocess
import sys
import time

PY = shlex.quote(sys.executable)
CLI = f"{PY} -m zrepl_conformance"


def timed_shell(command: str) -> float:
    """Run a shell pipeline (``set -o pipefail``); return wall seconds."""
    start = time.perf_counter()
    subprocess.run(["bash", "-c", f"set -euo pipefail; {command}"], check=True)
    return time.perf_counter() - start


def peak_rss_mib_of(argv: list[str], **kw: object) -> tuple[float, float]:
    """Run ``argv`` to completion; return (wall seconds, its peak RSS in MiB)."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.execvp(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed with {status}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def header(title: str) -> None:
    print(f"# {title} — {datetime.date.today().isoformat()} on {os.cpu_count()} cores")
