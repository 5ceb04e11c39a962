"""`frame encode | frame decode` moving 2 GiB between processes vs `cat | cat` (issue 2).

Target: at least 0.6x the throughput of `cat | cat` measured in the same run.
Usage: python bench/bench_frame.py [GiB]
"""

from __future__ import annotations

import sys

from common import CLI, header, timed_shell


def main() -> None:
    gib = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    size = int(gib * 2**30)
    src = f"head -c {size} /dev/zero"
    header(f"frame encode|decode vs cat|cat, {gib:g} GiB")
    rows = []
    for attempt in range(3):
        cat = timed_shell(f"{src} | cat | cat > /dev/null")
        ours = timed_shell(f"{src} | {CLI} frame encode | {CLI} frame decode > /dev/null")
        rows.append((cat, ours))
        print(
            f"run {attempt + 1}: cat|cat {size / cat / 1e6:8.0f} MB/s   "
            f"frame encode|decode {size / ours / 1e6:8.0f} MB/s   ratio {cat / ours:.2f}"
        )
    best_cat = min(r[0] for r in rows)
    best_ours = min(r[1] for r in rows)
    ratio = best_cat / best_ours
    print(f"best: ratio {ratio:.2f} (target >= 0.60)")
    sys.exit(0 if ratio >= 0.6 else 1)


if __name__ == "__main__":
    main()
