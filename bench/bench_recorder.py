"""Benchmark: what the recorder costs, and how long ``golden check`` takes.

Run on demand (not part of the test suite)::

    python bench/bench_recorder.py [--size-mib 1024] [--rounds 3] [--skip-golden]

Transfer benchmark: a client (our reference ``Client``) asks a stand-in server
(``tests/recordings_standin.py``, a :class:`bytestreamrpc.server.Server` whose send stream
is a repeated 1 MiB block, so the server is as fast as the framing allows) for one initial
transfer of ``--size-mib`` MiB and drains it. Each round runs the transfer once directly
(the client's connect command is the server) and once through
``zrepl-conformance record --out FILE -- SERVER`` (default digest mode), in alternating order,
and the cost is ``1 - direct_time / recorded_time`` of the median times, i.e. the throughput
lost. The recorded transcript is then checked to hold the transfer's exact length and
SHA-256 (computed independently by the client), so the benchmark cannot pass by recording
nothing.

``golden check``: wall time of ``zrepl-conformance golden check`` (whole corpus, reference
server, bytes level), median of ``--rounds``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STANDIN = ROOT / "tests" / "recordings_standin.py"

CLIENT = r"""
import hashlib, sys, time
from bytestreamrpc.client import Client
from bytestreamrpc.messages import *
from bytestreamrpc.transport import SubprocessTransport
t = SubprocessTransport(sys.argv[1:])
c = Client.connect(t, timeout=60)
fs = c.filesystem_request(FilesystemRequest())[0]
v = c.filesystem_versions_request(FilesystemVersionsRequest(fs))[0]
h = hashlib.sha256() if "--hash" in sys.argv[0:1] else None
start = time.perf_counter()
r = c.initial_transfer_request(InitialTransferRequest(fs, v))
n = 0
while True:
    b = r.read(1 << 20)
    if not b:
        break
    n += len(b)
elapsed = time.perf_counter() - start
c.close_request()
status = t.wait(60)
print(n, elapsed, status)
"""


def transfer(server: list[str], size: int) -> tuple[int, float, int]:
    out = subprocess.run(
        [sys.executable, "-c", CLIENT, *server],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    n, elapsed, status = out.stdout.split()
    if int(n) != size:
        raise SystemExit(f"transfer delivered {n} bytes, expected {size}: {out.stderr}")
    return int(n), float(elapsed), int(status)


def expected_digest(size: int) -> str:
    sys.path.insert(0, str(ROOT))
    from tests.recordings_standin import BigSource

    src = BigSource(size, b"pool/data@s1")
    h = hashlib.sha256()
    while block := src.read(1 << 20):
        h.update(block)
    return h.hexdigest()


def bench_recorder(size_mib: int, rounds: int) -> None:
    size = size_mib << 20
    server = [sys.executable, str(STANDIN), "--size", str(size)]
    direct: list[float] = []
    recorded: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rec.jsonl"
        record = [sys.executable, "-m", "zrepl_conformance", "record", "--out", str(out), "--"]
        for i in range(rounds):
            order = [("direct", server), ("recorded", record + server)]
            if i % 2:
                order.reverse()
            for name, cmd in order:
                _, elapsed, _ = transfer(cmd, size)
                (direct if name == "direct" else recorded).append(elapsed)
        lines = [json.loads(line) for line in out.read_text().splitlines()]
    data = [r for r in lines if r.get("kind") == "data"]
    digest = expected_digest(size)
    if len(data) != 1 or data[0]["len"] != size or data[0]["sha256"] != digest:
        raise SystemExit("the transcript does not hold the transfer's length and SHA-256")
    d, r = statistics.median(direct), statistics.median(recorded)
    print(f"transfer of {size_mib} MiB, {rounds} rounds (medians):")
    print(f"  direct   {d:7.3f} s  {size / d / 2**20:8.1f} MiB/s   all: {fmt(direct)}")
    print(f"  recorded {r:7.3f} s  {size / r / 2**20:8.1f} MiB/s   all: {fmt(recorded)}")
    print(f"  recorder cost: {100 * (1 - d / r):.1f}% of throughput (target <= 10%)")
    print("  transcript check: 1 send-stream record, length and SHA-256 match")


def fmt(xs: list[float]) -> str:
    return " ".join(f"{x:.3f}" for x in xs)


def bench_golden(rounds: int) -> None:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        res = subprocess.run(
            [sys.executable, "-m", "zrepl_conformance", "golden", "check"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        times.append(time.perf_counter() - start)
        if res.returncode != 0:
            raise SystemExit(f"golden check failed:\n{res.stdout}{res.stderr}")
    last = res.stdout.strip().splitlines()[-1]
    print(f"golden check (whole corpus, {os.cpu_count()} CPUs), {rounds} rounds:")
    print(f"  median {statistics.median(times):.2f} s   all: {fmt(times)}   ({last})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--skip-golden", action="store_true")
    p.add_argument("--skip-transfer", action="store_true")
    args = p.parse_args()
    if not args.skip_transfer:
        bench_recorder(args.size_mib, args.rounds)
    if not args.skip_golden:
        bench_golden(args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
