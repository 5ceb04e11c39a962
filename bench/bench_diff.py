"""Time the GUID-indexed filesystem diff against the quadratic transcription of the original.

Run as ``python bench/bench_diff.py``.  The budget: two 100,000-version lists without a common
ancestor (the original's worst case) must be diffed in under 0.1 s.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bytestreamrpc.messages import FilesystemVersion  # noqa: E402
from fakes.diff import FilesystemDiff, make_filesystem_diff  # noqa: E402

Diff = Callable[[Sequence[FilesystemVersion], Sequence[FilesystemVersion]], FilesystemDiff]
BUDGET_SECONDS = 0.1


def load_reference() -> Diff:
    """The quadratic transcription lives in the test file only; load it from there."""
    spec = importlib.util.spec_from_file_location(
        "test_diff", ROOT / "tests" / "fakes" / "test_diff.py"
    )
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reference: Diff = module.reference_diff
    return reference


def snapshots(count: int, first_guid: int) -> list[FilesystemVersion]:
    return [
        FilesystemVersion("snapshot", f"s{i}", first_guid + i, create_txg=i) for i in range(count)
    ]


def best_of(
    runs: int, diff: Diff, left: list[FilesystemVersion], right: list[FilesystemVersion]
) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        diff(left, right)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    reference = load_reference()
    n = 100_000
    left, right = snapshots(n, 0), snapshots(n, n)
    fast = best_of(5, make_filesystem_diff, left, right)
    verdict = "OK" if fast < BUDGET_SECONDS else "OVER BUDGET"
    print(f"fast diff, {n:,} vs {n:,} versions, no common ancestor: {fast:.4f} s ({verdict})")

    shared = snapshots(n, 0)
    fast_inc = best_of(5, make_filesystem_diff, shared[:1], shared)
    print(f"fast diff, 1 vs {n:,} versions, incremental path of {n:,}: {fast_inc:.4f} s")

    for small in (1_000, 3_000):
        left, right = snapshots(small, 0), snapshots(small, small)
        slow = best_of(1, reference, left, right)
        quick = best_of(5, make_filesystem_diff, left, right)
        print(
            f"{small:,} vs {small:,}, no common ancestor: quadratic {slow:.4f} s, "
            f"fast {quick:.6f} s, ratio {slow / quick:,.0f}x"
        )
    return 0 if fast < BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
