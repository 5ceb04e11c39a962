"""An implementation that answers differently every other run, for the ``--repeat`` tests.

``python tests/support/alternating.py COUNTER MODE N -- SERVER-CMD...`` counts its starts in
the file COUNTER. Starts 1, 3, 5, ... run SERVER-CMD unchanged; starts 2, 4, 6, ... run it
behind ``tests/support/recordings_mutant.py MODE N`` (the N-th server stream gets defect MODE). A
replay repeated 2k times therefore sees k identical runs and k differing ones: exactly the
flaky implementation that ``--repeat`` must report as UNSTABLE.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

MUTANT = Path(__file__).resolve().parent / "recordings_mutant.py"


def next_start(counter: str) -> int:
    """This start's number (1-based), counted under a lock so parallel starts agree."""
    with open(counter, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = len(f.read()) + 1
        f.write("x")
        return n


def main() -> int:
    counter, mode, at, sep, *cmd = sys.argv[1:]
    if sep != "--" or not cmd:
        raise SystemExit("usage: alternating.py COUNTER MODE N -- SERVER-CMD...")
    if next_start(counter) % 2 == 0:
        cmd = [sys.executable, str(MUTANT), mode, at, "--", *cmd]
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main())
