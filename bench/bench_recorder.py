"""Benchmark: what the recorder costs, and how long ``golden check`` takes.

Run on demand (not part of the test suite)::

    python bench/bench_recorder.py [--size-mib 1024] [--rounds 5] [--rate-mib 300] [--pin]
                                   [--skip-golden] [--skip-transfer]

Transfer benchmark: a client (our reference ``Client``) asks a stand-in server
(``tests/support/recordings_standin.py``, a :class:`bytestreamrpc.server.Server` whose send stream
is a repeated 1 MiB block, so the server is as fast as the framing allows) for one initial
transfer of ``--size-mib`` MiB and drains it. Each round runs the transfer once directly
(the client's connect command is the server), once through
``zrepl-conformance record --out FILE -- SERVER`` (the default digest, xxh3-128) and once
with ``record --digest sha256``, each round in a rotated order, and the cost is
``1 - direct_time / recorded_time`` of the median transfer times, i.e. the throughput lost.
Also shown: the time until the server side (server, or recorder + server) has exited, and
the CPU seconds of that side, so the recorder's own CPU cost is visible even on a busy
machine. ``--rate-mib R`` adds a run with the source paced at R MiB/s, the shape of a real
``zfs send`` over SSH; ``--pin`` adds a run with client and server sharing CPU 0 and the
recorder alone on CPU 1.

CPU accounting: each side's CPU spent on the transfer (a 1 MiB transfer's start-up cost
subtracted) and each digest's own cost over the same number of bytes, measured in the same
run, give the *budget* line: how much CPU the recorder may use for the recorded transfer to
stay within 10% on this machine's cores, against what each recorder variant used. Each
recorded transcript is then checked to hold the transfer's exact length and digest
(computed independently), so the benchmark cannot pass by recording nothing.

``golden check``: wall time of ``zrepl-conformance golden check`` (whole corpus, reference
server, bytes level), median of ``--rounds``. Exits 1 when a target (cost <= 10% with the
default digest, golden check < 10 s) is missed.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

ROOT = Path(__file__).resolve().parent.parent
STANDIN = ROOT / "tests" / "support" / "recordings_standin.py"

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
me0 = resource.getrusage(resource.RUSAGE_SELF)
r = c.initial_transfer_request(InitialTransferRequest(fs, v))
n = 0
while True:
    b = r.read(1 << 20)
    if not b:
        break
    n += len(b)
elapsed = time.perf_counter() - start
me1 = resource.getrusage(resource.RUSAGE_SELF)
mine = me1.ru_utime + me1.ru_stime - me0.ru_utime - me0.ru_stime
c.close_request()
status = t.wait(60)
total = time.perf_counter() - start
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
print(n, elapsed, total, ch.ru_utime + ch.ru_stime, mine, status)
"""


def transfer(server: list[str], size: int, client_cpu: int | None = None) -> Run:
    """One transfer; ``client_cpu`` pins the client to that CPU."""
    client = [sys.executable, "-c", CLIENT, *server]
    if client_cpu is not None:
        client = pinned(client_cpu, client)
    out = subprocess.run(client, capture_output=True, text=True, check=True, cwd=ROOT)
    n, elapsed, total, cpu, mine, _status = out.stdout.split()
    if int(n) != size:
        raise SystemExit(f"transfer delivered {n} bytes, expected {size}: {out.stderr}")
    return Run(float(elapsed), float(total), float(cpu), float(mine))


@dataclass(frozen=True)
class Run:
    """One transfer's measurements."""

    transfer: float
    """seconds from the request to the last byte drained"""
    until_exit: float
    """seconds from the request until the server side (server, or recorder + server) exited"""
    side_cpu: float
    """CPU seconds of the server side over its whole life (start-up included)"""
    client_cpu: float
    """CPU seconds of the client during the transfer"""


def pinned(cpu: int, argv: list[str]) -> list[str]:
    """``argv`` run with its CPU affinity set to ``{cpu}`` (inherited by its children)."""
    pin = (
        "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])}); "
        "os.execvp(sys.argv[2], sys.argv[2:])"
    )
    return [sys.executable, "-c", pin, str(cpu), *argv]


DIGESTS = ("xxh3-128", "sha256")
"""The recorded variants: the default digest first, then SHA-256 for comparison."""


def hasher(digest: str) -> Any:
    """A running digest, straight from the libraries (independent of ``recordings.digest``)."""
    return xxhash.xxh3_128() if digest == "xxh3-128" else hashlib.sha256()


def expected_digest(size: int, digest: str) -> str:
    sys.path.insert(0, str(ROOT))
    from tests.support.recordings_standin import BigSource

    src = BigSource(size, b"pool/data@s1")
    h = hasher(digest)
    while block := src.read(1 << 20):
        h.update(block)
    return str(h.hexdigest())


def digest_seconds(size: int, digest: str) -> float:
    """CPU seconds ``digest`` takes over ``size`` bytes here, now."""
    block = os.urandom(1 << 20)
    h = hasher(digest)
    start = time.process_time()
    for _ in range(size >> 20):
        h.update(block)
    return time.process_time() - start


def bench_recorder(size_mib: int, rounds: int, rate_mib: float = 0.0, pin: bool = False) -> bool:
    """Print the transfer figures; ``True`` when the recorder (default digest) cost <= 10%."""
    size = size_mib << 20
    server = [sys.executable, str(STANDIN), "--size", str(size)]
    if rate_mib:
        server += ["--rate-mib", str(rate_mib)]
    tiny = [sys.executable, str(STANDIN), "--size", str(1 << 20)]
    names = ["direct", *(f"recorded {d}" for d in DIGESTS)]
    runs: dict[str, list[Run]] = {n: [] for n in names}
    startup: dict[str, list[Run]] = {n: [] for n in names}
    client_cpu = 0 if pin else None
    with tempfile.TemporaryDirectory() as tmp:
        outs = {d: Path(tmp) / f"rec-{d}.jsonl" for d in DIGESTS}

        def record(d: str) -> list[str]:
            return [sys.executable, "-m", "zrepl_conformance", "record", "--digest", d,
                    "--out", str(outs[d]), "--"]  # fmt: skip

        def commands(srv: list[str]) -> dict[str, list[str]]:
            if pin:  # endpoints share CPU 0; the recorder has CPU 1 to itself
                cmds = {"direct": pinned(0, srv)}
                cmds.update(
                    {f"recorded {d}": pinned(1, record(d) + pinned(0, srv)) for d in DIGESTS}
                )
                return cmds
            return {"direct": srv, **{f"recorded {d}": record(d) + srv for d in DIGESTS}}

        for name, cmd in commands(tiny).items():  # start-up CPU of each side, 1 MiB transfer
            startup[name] = [transfer(cmd, 1 << 20, client_cpu) for _ in range(3)]
        for i in range(rounds):
            order = list(commands(server).items())
            shift = i % len(order)  # interleaved: each variant takes each position in turn
            for name, cmd in order[shift:] + order[:shift]:
                runs[name].append(transfer(cmd, size, client_cpu))
        for d in DIGESTS:
            header, *lines = [json.loads(line) for line in outs[d].read_text().splitlines()]
            data = [r for r in lines if r.get("kind") == "data"]
            if header.get("digest") != d or len(data) != 1 or data[0]["len"] != size:
                raise SystemExit(f"the {d} transcript does not hold the transfer")
            if data[0][d] != expected_digest(size, d):
                raise SystemExit(f"the {d} transcript's digest is not the transfer's")
    what = f"{size_mib} MiB" + (f", source paced at {rate_mib:g} MiB/s" if rate_mib else "")
    if pin:
        what += ", client and server pinned to CPU 0, recorder to CPU 1"
    print(f"transfer of {what}, {rounds} interleaved rounds (medians):")

    def med(name: str, field: str, among: dict[str, list[Run]] = runs) -> float:
        return float(statistics.median(getattr(r, field) for r in among[name]))

    for name in names:
        t = med(name, "transfer")
        print(
            f"  {name:17} transfer {t:6.3f} s {size / t / 2**20:7.1f} MiB/s | until the server"
            f" side exited {med(name, 'until_exit'):6.3f} s | CPU: server side"
            f" {med(name, 'side_cpu'):5.2f} s, client {med(name, 'client_cpu'):5.2f} s"
            f"   (transfers: {fmt([r.transfer for r in runs[name]])})"
        )
    d = med("direct", "transfer")
    side = {n: med(n, "side_cpu") - med(n, "side_cpu", startup) for n in runs}
    endpoints = med("direct", "client_cpu") + side["direct"]
    cores = 1 if pin else len(os.sched_getaffinity(0))
    budget = cores * d / 0.9 - endpoints
    costs = {}
    for digest in DIGESTS:
        name = f"recorded {digest}"
        r = med(name, "transfer")
        costs[digest] = 1 - d / r
        paired = [
            1 - x.transfer / y.transfer for x, y in zip(runs["direct"], runs[name], strict=True)
        ]
        target = "target <= 10%" if digest == DIGESTS[0] else "for comparison"
        print(
            f"  recorder cost, {digest:8}: {100 * costs[digest]:5.1f}% of throughput ({target});"
            f" paired per round: median {100 * statistics.median(paired):.1f}%, all: "
            + " ".join(f"{100 * c:.0f}%" for c in paired)
        )
    print(f"  CPU per transfer, start-up excluded: endpoints {endpoints:.2f} s (direct)")
    for digest in DIGESTS:
        recorder = side[f"recorded {digest}"] - side["direct"]
        alone = digest_seconds(size, digest)
        fits = "" if pin else f"; budget {budget:.2f} ({'fits' if recorder <= budget else 'over'})"
        print(
            f"    recorder with {digest:8}: {recorder:.2f} CPU-s, of which the digest alone "
            f"{alone:.2f} (measured now){fits}"
        )
    if not pin:
        print(
            f"  budget: to stay within 10% on {cores} cores the recorder may use at most "
            f"{cores} x {d:.3f} / 0.9 - {endpoints:.2f} = {budget:.2f} CPU-s"
        )
    print("  transcript check: 1 send-stream record per digest, length and digest match")
    return costs[DIGESTS[0]] <= 0.10


def fmt(xs: list[float]) -> str:
    return " ".join(f"{x:.3f}" for x in xs)


def bench_golden(rounds: int) -> bool:
    """Print the ``golden check`` timing; ``True`` when the median is under 10 s."""
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
    return statistics.median(times) < 10


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
    p.add_argument(
        "--pin",
        action="store_true",
        help="also run with client and server sharing CPU 0 and the recorder alone on CPU 1",
    )
    args = p.parse_args()
    met = True
    if not args.skip_transfer:
        met = bench_recorder(args.size_mib, args.rounds)
        if args.pin:
            bench_recorder(args.size_mib, args.rounds, pin=True)
        if args.rate_mib:
            met = bench_recorder(args.size_mib, args.rounds, args.rate_mib) and met
    if not args.skip_golden:
        met = bench_golden(args.rounds) and met
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
