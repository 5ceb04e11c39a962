"""Our client against `zrepl-conformance serve --stdio`: protocol-version round trips/s (issue 2).

Target: at least 20,000 round trips per second on this 2-core machine.
Baseline in the same run: a raw ping-pong of the same message sizes between
two Python processes over the same kind of pipes (what any Python peer pays).
Usage: python bench/bench_rpc.py [N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from common import header

from bytestreamrpc.client import Client
from bytestreamrpc.transport import SubprocessTransport

ECHO = (
    "import os\n"
    "while True:\n"
    "    d = os.read(0, 65536)\n"
    "    if not d: break\n"
    "    os.write(1, d[:96])\n"
)


def raw_baseline(n: int) -> float:
    p = subprocess.Popen(
        [sys.executable, "-c", ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert p.stdin and p.stdout
    w, r = p.stdin.fileno(), p.stdout.fileno()
    msg = b"x" * 120
    start = time.perf_counter()
    for _ in range(n):
        os.write(w, msg)
        os.read(r, 65536)
    elapsed = time.perf_counter() - start
    p.stdin.close()
    p.wait()
    return n / elapsed


def ours(n: int) -> float:
    t = SubprocessTransport([sys.executable, "-m", "zrepl_conformance", "serve", "--stdio"])
    client = Client.connect(t, timeout=30)
    for _ in range(200):  # warm-up
        client.protocol_version_request()
    start = time.perf_counter()
    for _ in range(n):
        client.protocol_version_request()
    elapsed = time.perf_counter() - start
    client.close_request()
    t.wait(10)
    return n / elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    header(f"protocol-version round trips, client vs serve --stdio, {n} calls")
    results = []
    for attempt in range(3):
        base = raw_baseline(n)
        rate = ours(n)
        results.append(rate)
        print(
            f"run {attempt + 1}: ours {rate:8.0f}/s   raw blocking ping-pong {base:8.0f}/s   "
            f"ratio {rate / base:.2f}"
        )
    best = max(results)
    print(f"best: {best:.0f} round trips/s (target >= 20000)")
    sys.exit(0 if best >= 20_000 else 1)


if __name__ == "__main__":
    main()
