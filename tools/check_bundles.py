#!/usr/bin/env python3
"""Run every bundled fuzz target as OSS-Fuzz would: ``-runs=N`` over its seed corpus with its
dictionary, then the same from source, and print both execution rates.

    python tools/check_bundles.py OUT [--runs N]

``OUT`` is what ``tools/bundle_fuzzers.sh OUT`` wrote. A bundle that fails (an import the
bundle lacks, a seed its target refuses with a crash) fails the check: exit 1, one line per
failure. Used by ``tox -e fuzz-bundle``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")


def _run(argv: list[str], cwd: Path) -> tuple[bool, float, str]:
    """Whether the run completed, its wall time, and the last line of its log."""
    start = time.monotonic()
    res = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    wall = time.monotonic() - start
    tail = (res.stderr.strip().splitlines() or ["(no output)"])[-1]
    return res.returncode == 0 and bool(_DONE.search(res.stderr)), wall, tail


def check(out: Path, name: str, runs: int) -> str | None:
    """One target: bundle, then source; ``None`` if the bundle ran, else why not."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        with zipfile.ZipFile(out / f"{name}_seed_corpus.zip") as z:
            z.extractall(corpus)
            seeds = len(z.namelist())
        flags = [f"-runs={runs}", f"-artifact_prefix={tmp}/"]
        if (out / f"{name}.dict").is_file():
            flags.append(f"-dict={out / f'{name}.dict'}")
        ok, bundled, tail = _run([str(out / name), *flags, str(corpus)], Path(tmp))
        if not ok:
            return f"{name}: the bundle failed: {tail}"
        src_ok, source, src_tail = _run(
            [sys.executable, str(REPO / "fuzz" / "targets" / f"{name}.py"), *flags, str(corpus)],
            Path(tmp),
        )
        total = runs + seeds
        rate = f"{total / source:.0f}/s" if src_ok else f"failed: {src_tail}"
        print(f"{name}: {seeds} seeds + {runs} runs: bundle {bundled:.1f} s "
              f"({total / bundled:.0f}/s), source {source:.1f} s ({rate})", flush=True)  # fmt: skip
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from fuzz.targets import names

    failures = [f for f in (check(args.out, n, args.runs) for n in names()) if f]
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
