"""Benchmark: what the recorder costs, and how long ``golden check`` takes.

Run on demand (not part of the test suite)::

    python bench/bench_recorder.py [--size-mib 1024] [--rounds 5] [--rate-mib 300] [--skip-golden]

Transfer benchmark: a client (our reference ``Client``) asks a stand-in server
(``tests/recordings_standin.py``, a :class:`bytestreamrpc.server.Server` whose send stream
is a repeated 1 MiB block, so the server is as fast as the framing allows) for one initial
transfer of ``--size-mib`` MiB and drains it. Each round runs the transfer once directly
(the client's connect command is the server) and once through
``zrepl-conformance record --out FILE -- SERVER`` (default digest mode), in alternating order,
and the cost is ``1 - direct_time / recorded_time`` of the median transfer times, i.e. the
throughput lost. Also shown: the time until the server side (server, or recorder + server)
has exited, and the CPU seconds of that side, so the recorder's own CPU cost is visible even
on a busy machine. ``--rate-mib R`` adds a run with the source paced at R MiB/s, the shape of
a real ``zfs send`` over SSH. The recorded transcript is then checked to hold the transfer's
exact length and SHA-256 (computed independently), so the benchmark cannot pass by recording
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
import resource, sys, time
from bytestreamrpc.client import Client
from bytestreamrpc.messages import *
from bytestreamrpc.transport import SubprocessTransport
t = SubprocessTransport(sys.argv[1:])
c = Client.connect(t, timeout=60)
fs = c.filesystem_request(FilesystemRequest())[0]
v = c.filesystem_versions_request(FilesystemVersionsRequest(fs))[0]
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
total = time.perf_counter() - start
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
print(n, elapsed, total, ch.ru_utime + ch.ru_stime, status)
"""


def transfer(server: list[str], size: int) -> tuple[float, float, float]:
    """(transfer seconds, seconds until the server side exited, CPU seconds of that side)."""
    out = subprocess.run(
        [sys.executable, "-c", CLIENT, *server],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    n, elapsed, total, cpu, _status = out.stdout.split()
    if int(n) != size:
        raise SystemExit(f"transfer delivered {n} bytes, expected {size}: {out.stderr}")
    return float(elapsed), float(total), float(cpu)


def expected_digest(size: int) -> str:
    sys.path.insert(0, str(ROOT))
    from tests.recordings_standin import BigSource

    src = BigSource(size, b"pool/data@s1")
    h = hashlib.sha256()
    while block := src.read(1 << 20):
        h.update(block)
    return h.hexdigest()


def bench_recorder(size_mib: int, rounds: int, rate_mib: float = 0.0) -> None:
    size = size_mib << 20
    server = [sys.executable, str(STANDIN), "--size", str(size)]
    if rate_mib:
        server += ["--rate-mib", str(rate_mib)]
    runs: dict[str, list[tuple[float, float, float]]] = {"direct": [], "recorded": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rec.jsonl"
        record = [sys.executable, "-m", "zrepl_conformance", "record", "--out", str(out), "--"]
        for i in range(rounds):
            order = [("direct", server), ("recorded", record + server)]
            if i % 2:
                order.reverse()
            for name, cmd in order:
                runs[name].append(transfer(cmd, size))
        lines = [json.loads(line) for line in out.read_text().splitlines()]
    data = [r for r in lines if r.get("kind") == "data"]
    if len(data) != 1 or data[0]["len"] != size or data[0]["sha256"] != expected_digest(size):
        raise SystemExit("the transcript does not hold the transfer's length and SHA-256")
    what = f"{size_mib} MiB" + (f", source paced at {rate_mib:g} MiB/s" if rate_mib else "")
    print(f"transfer of {what}, {rounds} rounds (medians):")
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in runs.items()}
    for name in ("direct", "recorded"):
        t, total, cpu = med[name]
        print(
            f"  {name:8} transfer {t:6.3f} s {size / t / 2**20:7.1f} MiB/s | until the server"
            f" side exited {total:6.3f} s | CPU of the server side {cpu:5.2f} s"
            f"   (transfers: {fmt([x[0] for x in runs[name]])})"
        )
    d, r = med["direct"][0], med["recorded"][0]
    paired = [1 - x[0] / y[0] for x, y in zip(runs["direct"], runs["recorded"], strict=True)]
    print(f"  recorder cost: {100 * (1 - d / r):.1f}% of throughput (target <= 10%)")
    print(
        f"  paired per round (direct and recorded back to back): median "
        f"{100 * statistics.median(paired):.1f}%, all: "
        + " ".join(f"{100 * c:.0f}%" for c in paired)
    )
    print(f"  recorder CPU: {med['recorded'][2] - med['direct'][2]:.2f} s (includes its start-up)")
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
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--skip-golden", action="store_true")
    p.add_argument("--skip-transfer", action="store_true")
    p.add_argument(
        "--rate-mib",
        type=float,
        default=0.0,
        help="also run with the source paced at this rate (e.g. 300, a fast zfs send over SSH)",
    )
    args = p.parse_args()
    if not args.skip_transfer:
        bench_recorder(args.size_mib, args.rounds)
        if args.rate_mib:
            bench_recorder(args.size_mib, args.rounds, args.rate_mib)
    if not args.skip_golden:
        bench_golden(args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
