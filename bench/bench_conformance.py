"""Benchmark: the whole conformance catalog against the reference, serial and parallel.

    python bench/bench_conformance.py [--repeat N]

Runs ``zrepl-conformance run`` (our reference as subprocesses: one ``serve --stdio`` per
connection, the reference jobs for client cases) serially and with ``-n 2``, and the
in-process run for comparison; prints the wall time of each and the per-case mean. The
issue's target is the serial subprocess run under 30 s on a 2-core machine. An idle machine
matters: the run is CPU-bound (interpreter start-ups), so a busy neighbour shows directly.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import header

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> tuple[float, int, dict[str, int]]:
    """Wall seconds, case count and verdict counts of one ``zrepl-conformance run``."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "r.json"
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}
        start = time.perf_counter()
        res = subprocess.run(
            [sys.executable, "-m", "zrepl_conformance", "run", "--json", str(report), *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        wall = time.perf_counter() - start
        if res.returncode != 0:
            raise SystemExit(f"run {args} failed ({res.returncode}):\n{res.stdout[-3000:]}")
        doc = json.loads(report.read_text())
    return wall, len(doc["cases"]), doc["counts"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    header("conformance catalog against the reference")
    load = os.getloadavg()[0]
    print(f"load average before: {load:.2f}")
    for label, extra in (
        ("subprocess, serial", []),
        ("subprocess, -n 2", ["-n", "2"]),
        ("in-process, serial", ["--in-process"]),
    ):
        for _ in range(args.repeat):
            wall, n, counts = run(*extra)
            print(
                f"{label:20} {n} cases  {wall:6.1f} s  ({1000 * wall / n:5.0f} ms/case)  "
                f"{counts['PASS']} PASS {counts['INFO']} INFO {counts['FAIL']} FAIL"
            )


if __name__ == "__main__":
    main()
