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


def header(title: str) -> None:
    print(f"# {title} — {datetime.date.today().isoformat()} on {os.cpu_count()} cores")
