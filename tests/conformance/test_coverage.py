"""The catalog exercises the reference's state machines: branch coverage of
``bytestreamrpc/connection.py`` and ``bytestreamrpc/framing.py`` by one catalog run against
our reference in-process, measured with the coverage.py API.

Two figures: *raw* (every branch) and *peer-reachable*, which leaves out what no peer can
cause — lines raising ``LocalProtocolError`` (the application misusing the API) and helpers
that are not part of the state machines (``decode_stream``, ``iter_chunks``, ``__repr__``).
The second must be at least 95%. Run as a script to print both (docs/CONFORMANCE.md quotes
them)::

    python tests/conformance/test_coverage.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = ("bytestreamrpc/connection.py", "bytestreamrpc/framing.py")
NOT_PEER_REACHABLE = (
    "raise LocalProtocolError",
    "def decode_stream",
    "def iter_chunks",
    "def __repr__",
)


def measure() -> dict[str, dict[str, float]]:
    """Run the catalog in-process under coverage; per measure: branches, covered, percent."""
    import coverage

    from conformance.catalog import all_cases
    from conformance.runner import Runner, RunOptions

    include = [str(ROOT / f) for f in FILES]
    raw = coverage.Coverage(branch=True, include=include, data_file=None)
    raw.start()
    runner = Runner.for_spec(None, RunOptions())
    try:
        for case in all_cases():
            runner.run(case)
    finally:
        runner.close()
        raw.stop()
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, excludes in (("raw", ()), ("peer-reachable", NOT_PEER_REACHABLE)):
            for pattern in excludes:
                raw.exclude(pattern)
            path = Path(tmp) / f"{label}.json"
            raw.json_report(outfile=str(path))
            totals = json.loads(path.read_text())["totals"]
            total, covered = totals["num_branches"], totals["covered_branches"]
            out[label] = {"branches": total, "covered": covered, "percent": 100.0 * covered / total}
    return out


def test_the_catalog_covers_95_percent_of_the_state_machines_branches() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run(
        [sys.executable, __file__],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    figures = json.loads(res.stdout.splitlines()[-1])
    reach = figures["peer-reachable"]
    assert reach["branches"] >= 100  # the measure is about the real files, not an empty set
    assert reach["percent"] >= 95.0, figures
    assert figures["raw"]["branches"] > reach["branches"]


if __name__ == "__main__":
    result = measure()
    for label, f in result.items():
        print(
            f"{label:15} {f['covered']:.0f}/{f['branches']:.0f} branches = {f['percent']:.1f}%",
            file=sys.stderr,
        )
    print(json.dumps(result))
