"""Fuzzing throughput and the million-input survival run (issue 6; never part of CI).

Usage (from the repository root):
    python bench/bench_fuzz.py speed [SECONDS]        framing/codec inputs/s, stateful steps/s
    python bench/bench_fuzz.py million [N] [--jobs J] our server survives N fuzzed inputs
    python bench/bench_fuzz.py campaign [SECONDS] [TARGET]   campaign execs/s, 1 and 2 workers

Targets: >= 5,000 framing/codec inputs/s and >= 1,000 stateful steps/s on one core; the
million run must end with zero violations and no input slower than the hang limit.
Inputs are libFuzzer-style mutations of the golden corpus's client sides (plus random bytes
and splices), generated with a seeded RNG so a run is repeatable.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import random
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import header

from bytestreamrpc import framing
from fuzz.invariants import (
    DECODER_NAMES,
    SERVE_TIME_LIMIT,
    InvariantViolation,
    check_codec,
    check_framing,
    check_server,
    server_fixture,
)
from fuzz.strategies import golden_client_sides

LENGTHS = (0, 1, 4, 0x7FFC, 0x7FFD, 0xFFFFFFFF)


def mutate(rng: random.Random, data: bytes, donors: tuple[bytes, ...]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(8)
        n = len(buf)
        if n == 0 or op == 0:
            at = rng.randint(0, n)
            buf[at:at] = rng.randbytes(rng.randint(1, 8))
            continue
        at = rng.randrange(n)
        if op == 1:
            buf[at] ^= 1 << rng.randrange(8)
        elif op == 2:
            buf[at] = rng.randrange(256)
        elif op == 3:
            del buf[at : at + rng.randint(1, 16)]
        elif op == 4:
            end = min(n, at + rng.randint(1, 64))
            buf[end:end] = buf[at:end]
        elif op == 5:
            at = min(at, max(n - 4, 0))
            buf[at : at + 4] = struct.pack("<I", rng.choice(LENGTHS))
        elif op == 6:
            donor = rng.choice(donors)
            buf[at:] = donor[rng.randrange(len(donor)) :] if donor else b""
        else:
            del buf[at:]
    return bytes(buf)


def inputs(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    sides = golden_client_sides()
    out = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.8:
            out.append(mutate(rng, rng.choice(sides), sides))
        elif roll < 0.9:
            out.append(rng.choice(sides))
        else:
            out.append(rng.randbytes(rng.randint(0, 200)))
    return out


def deliveries(rng: random.Random, data: bytes) -> list[bytes]:
    if len(data) < 2 or rng.random() < 0.5:
        return [data]
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 6))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def speed(seconds: float) -> None:
    header("fuzz harness speed, one core")
    data = inputs(1, 20000)
    rng = random.Random(2)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        d = data[n % len(data)]
        check_framing(d, deliveries(rng, d))
        try:
            payload, _ = framing.decode_stream(d)
        except Exception:
            payload = d[4:]
        check_codec(
            payload, only=(DECODER_NAMES[d[0] % len(DECODER_NAMES)] if d else "RequestHeader",)
        )
        n += 1
    rate = n / (time.perf_counter() - start)
    print(f"framing+codec: {n} inputs, {rate:,.0f} inputs/s (target >= 5,000)")

    from fuzz.stateful import run_random_actions

    rng = random.Random(3)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        steps += run_random_actions(rng, 50)
    rate = steps / (time.perf_counter() - start)
    print(f"stateful (seeded RNG driver): {steps} steps, {rate:,.0f} steps/s (target >= 1,000)")

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from fuzz.stateful import run_drawn_actions

    counted = [0]

    @settings(max_examples=10**6, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data())
    def drawn(d: st.DataObject) -> None:
        counted[0] += run_drawn_actions(d, max_actions=50)
        if time.perf_counter() - t0 > seconds:
            raise _Done

    t0 = time.perf_counter()
    with contextlib.suppress(_Done):
        drawn()
    rate = counted[0] / (time.perf_counter() - t0)
    print(f"stateful (Hypothesis-driven, generation overhead included): {rate:,.0f} steps/s")


class _Done(Exception):
    pass


def _million_worker(args: tuple[int, int, int]) -> tuple[int, int, float, float, list[str]]:
    seed, start, count = args
    fx = server_fixture()
    rng = random.Random(seed)
    sides = golden_client_sides()
    slowest, violations = 0.0, []
    done, t0 = 0, time.perf_counter()
    for i in range(count):
        roll = rng.random()
        if roll < 0.8:
            d = mutate(rng, rng.choice(sides), sides)
        elif roll < 0.9:
            d = rng.choice(sides)
        else:
            d = rng.randbytes(rng.randint(0, 200))
        t = time.perf_counter()
        try:
            check_server(fx, deliveries(rng, d), check_state=(i % 1000 == 999))
        except InvariantViolation as exc:
            violations.append(f"input {start + i}: {exc} ({d[:60]!r})")
        slowest = max(slowest, time.perf_counter() - t)
        done += 1
    try:
        check_server(fx, [b""], check_state=True)
    except InvariantViolation as exc:
        violations.append(f"final state check: {exc}")
    return done, len(violations), slowest, time.perf_counter() - t0, violations[:5]


def million(total: int, jobs: int) -> None:
    header(f"server survives {total:,} fuzzed inputs ({jobs} process(es))")
    per = total // jobs
    work = [
        (1000 + j, j * per, per if j < jobs - 1 else total - per * (jobs - 1)) for j in range(jobs)
    ]
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        results = pool.map(_million_worker, work)
    elapsed = time.perf_counter() - start
    done = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    slowest = max(r[2] for r in results)
    cpu = sum(r[3] for r in results)
    print(f"inputs: {done:,}  violations: {bad}  slowest input: {slowest * 1000:.1f} ms "
          f"(hang limit {SERVE_TIME_LIMIT:g} s)")  # fmt: skip
    print(f"wall {elapsed:.0f} s, {done / elapsed:,.0f} inputs/s overall, "
          f"{done / cpu:,.0f} inputs/s per process")  # fmt: skip
    for r in results:
        for line in r[4]:
            print("  " + line)
    sys.exit(1 if bad else 0)


def campaign(seconds: float, target: str) -> None:
    from fuzz.campaign import run_campaign

    header(f"campaign throughput: {target}, {seconds:g} s")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other processes share these cores)")
    for workers in (1, 2):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            r = run_campaign(target, workers=workers, seconds=seconds,
                             corpus=Path(tmp) / "corpus", findings=Path(tmp) / "findings",
                             database=str(Path(tmp) / "db"))  # fmt: skip
            p = r.progress
            print(f"{workers} worker(s): engine {r.engine}, {p.executions:,} executions in "
                  f"{r.seconds:.1f} s = {p.executions / r.seconds:,.0f}/s ({p.checks:,} reached "
                  f"the check), corpus {p.corpus}, coverage {p.coverage}, "
                  f"findings {len(r.findings)}")  # fmt: skip


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "speed"
    rest = sys.argv[2:]
    if mode == "speed":
        speed(float(rest[0]) if rest else 10.0)
    elif mode == "million":
        jobs = 1
        if "--jobs" in rest:
            i = rest.index("--jobs")
            jobs = int(rest[i + 1])
            rest = rest[:i] + rest[i + 2 :]
        million(int(rest[0]) if rest else 1_000_000, jobs)
    elif mode == "campaign":
        campaign(float(rest[0]) if rest else 20.0, rest[1] if len(rest) > 1 else "server")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
