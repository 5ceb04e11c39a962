"""Fuzzing throughput and the million-input survival run (issue 6; never part of CI).

Usage (from the repository root):
    python bench/bench_fuzz.py speed [SECONDS] [--repeat R]   framing/codec inputs/s; stateful
        steps/s of every driver (Hypothesis-driven ones and, for comparison, the seeded one),
        SECONDS each, R interleaved rounds (default 3), medians
    python bench/bench_fuzz.py million [N] [--jobs J] our server survives N fuzzed inputs
    python bench/bench_fuzz.py campaign [SECONDS] [TARGET,...] [--repeat R] [--fork]
        campaign execs/s with 1 and 2 workers and their ratio (default 40 s, server,framing;
        --fork adds libFuzzer's -fork=2 for comparison), R interleaved rounds, medians

Targets: >= 5,000 framing/codec inputs/s and >= 1,000 stateful steps/s on one core; the
million run must end with zero violations and no input slower than the hang limit.
Inputs are libFuzzer-style mutations of the golden corpus's client sides (plus random bytes
and splices), generated with a seeded RNG so a run is repeatable.
"""

from __future__ import annotations

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


def speed(seconds: float, repeat: int = 3) -> None:
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

    stateful(seconds, repeat)


def _stateful_once(driver: str, seconds: float, max_steps: int) -> tuple[int, int, float]:
    """Run one stateful driver for ``seconds``: (steps, runs, elapsed).

    A step is an action that completed: its answer checked against the model and the
    fake's state checked after it. Every driver runs the same harness and checks
    (fuzz.stateful.perform); a run starts from a fresh set-up and ends after
    ``max_steps`` steps or when a stop is drawn. Hypothesis is stopped by running
    batches of examples until the time is up, never by raising: a failure would be
    shrunk, and the shrinking timed as if it were fuzzing.
    """
    import random

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import run_state_machine_as_test

    from fuzz.stateful import ServerConversation, run_drawn_actions, run_random_actions

    steps, runs = [0], [0]

    def tick() -> None:
        steps[0] += 1

    quiet = {"database": None, "deadline": None, "suppress_health_check": list(HealthCheck)}
    start = time.perf_counter()
    if driver == "seeded":
        rng = random.Random(3)
        while time.perf_counter() - start < seconds:
            steps[0] += run_random_actions(rng, max_steps)
            runs[0] += 1
    elif driver == "machine":
        before = ServerConversation.completed
        batch = settings(max_examples=20, stateful_step_count=max_steps, **quiet)
        while time.perf_counter() - start < seconds:
            run_state_machine_as_test(ServerConversation, settings=batch)
            runs[0] += 20
        steps[0] = ServerConversation.completed - before
    else:

        @settings(max_examples=20, **quiet)
        @given(st.data())
        def drawn(data: st.DataObject) -> None:
            runs[0] += 1
            run_drawn_actions(data, max_actions=max_steps, on_step=tick)

        rng = random.Random(4)
        while time.perf_counter() - start < seconds:
            if driver == "given":
                drawn()
            else:  # what the atheris target does with libFuzzer's inputs
                drawn.hypothesis.fuzz_one_input(rng.randbytes(8192))
    return steps[0], runs[0], time.perf_counter() - start


_DRIVERS = {
    "given": "Hypothesis @given(st.data()) -> run_drawn_actions",
    "fuzz_one_input": "Hypothesis fuzz_one_input(random 8 KiB) -> run_drawn_actions",
    "machine": "Hypothesis RuleBasedStateMachine ServerConversation",
    "seeded": "seeded random.Random driver (comparison: no Hypothesis)",
}


def stateful(seconds: float, repeat: int, max_steps: int = 50) -> None:
    """Stateful steps/s of every driver, interleaved ``repeat`` times (medians)."""
    import statistics

    print(f"stateful conversation steps/s, one core, runs of up to {max_steps} steps, "
          f"{seconds:g} s per driver per round, {repeat} round(s) "
          f"(load average {os.getloadavg()[0]:.2f}):")  # fmt: skip
    rates: dict[str, list[float]] = {d: [] for d in _DRIVERS}
    lengths: dict[str, list[float]] = {d: [] for d in _DRIVERS}
    for rnd in range(repeat):
        for driver in _DRIVERS:
            steps, runs, elapsed = _stateful_once(driver, seconds, max_steps)
            rates[driver].append(steps / elapsed)
            lengths[driver].append(steps / max(runs, 1))
            print(f"  round {rnd + 1} {driver:>14}: {steps} steps in {elapsed:.1f} s = "
                  f"{steps / elapsed:,.0f} steps/s ({steps / max(runs, 1):.1f} steps a run)",
                  flush=True)  # fmt: skip
    for driver, title in _DRIVERS.items():
        target = "" if driver == "seeded" else " (target >= 1,000)"
        print(f"stateful, {title}: median {statistics.median(rates[driver]):,.0f} steps/s"
              f"{target}; rounds {', '.join(f'{r:,.0f}' for r in rates[driver])}")  # fmt: skip


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


def _campaign_once(target: str, workers: int, seconds: float, parallel: str) -> dict[str, float]:
    """One campaign in a fresh directory; its rate, and how many cores it kept busy.

    The cores come from the children's CPU time over the wall time: on idle cores a
    2-worker campaign keeps about 2 busy, so a ratio well below 2 with ~2 cores busy means
    the workers themselves are slow, while fewer busy cores means the machine was shared.
    """
    import resource
    import tempfile

    from fuzz.campaign import run_campaign

    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        r = run_campaign(target, workers=workers, seconds=seconds, parallel=parallel,
                         corpus=Path(tmp) / "corpus", findings=Path(tmp) / "findings",
                         database=str(Path(tmp) / "db"))  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    p = r.progress
    return {"rate": p.executions / r.seconds, "executions": p.executions, "seconds": r.seconds,
            "cores": cpu / r.seconds, "load": load, "corpus": p.corpus,
            "coverage": p.coverage or 0, "findings": len(r.findings)}  # fmt: skip


def campaign(seconds: float, targets: list[str], repeat: int, fork: bool) -> None:
    """1 worker against 2 workers (and libFuzzer's -fork=2 with --fork), measured in the
    same run, interleaved ``repeat`` times so a change of machine load hits every
    configuration alike; prints every run and the median rates and ratios."""
    import statistics

    configs = [(1, "processes"), (2, "processes")] + ([(2, "fork")] if fork else [])
    names = {(1, "processes"): "1 worker", (2, "processes"): "2 workers", (2, "fork"): "-fork=2"}
    header(f"campaign throughput: {', '.join(targets)}, {seconds:g} s each, {repeat} round(s)")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other processes share these cores)")
    for target in targets:
        rates: dict[tuple[int, str], list[float]] = {c: [] for c in configs}
        ratios: dict[tuple[int, str], list[float]] = {c: [] for c in configs[1:]}
        for rnd in range(repeat):
            got = {}
            for workers, parallel in configs:
                m = got[workers, parallel] = _campaign_once(target, workers, seconds, parallel)
                rates[workers, parallel].append(m["rate"])
                print(f"{target} round {rnd + 1} {names[workers, parallel]:>9}: "
                      f"{m['executions']:,.0f} executions in {m['seconds']:.1f} s = "
                      f"{m['rate']:,.0f}/s, {m['cores']:.2f} cores busy, load before "
                      f"{m['load']:.2f}, corpus {m['corpus']:.0f}, coverage {m['coverage']:.0f}, "
                      f"findings {m['findings']:.0f}", flush=True)  # fmt: skip
            for c in configs[1:]:
                ratios[c].append(got[c]["rate"] / got[1, "processes"]["rate"])
        line = f"{target} median: 1 worker {statistics.median(rates[1, 'processes']):,.0f}/s"
        for c in configs[1:]:
            line += (f"; {names[c]} {statistics.median(rates[c]):,.0f}/s, ratio "
                     f"{statistics.median(ratios[c]):.2f} (rounds: "
                     f"{', '.join(f'{x:.2f}' for x in ratios[c])})")  # fmt: skip
        print(line, flush=True)


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "speed"
    rest = sys.argv[2:]
    if mode == "speed":
        repeat = 3
        if "--repeat" in rest:
            i = rest.index("--repeat")
            repeat = int(rest[i + 1])
            rest = rest[:i] + rest[i + 2 :]
        speed(float(rest[0]) if rest else 10.0, repeat)
    elif mode == "million":
        jobs = 1
        if "--jobs" in rest:
            i = rest.index("--jobs")
            jobs = int(rest[i + 1])
            rest = rest[:i] + rest[i + 2 :]
        million(int(rest[0]) if rest else 1_000_000, jobs)
    elif mode == "campaign":
        fork = "--fork" in rest
        rest = [a for a in rest if a != "--fork"]
        repeat = 1
        if "--repeat" in rest:
            i = rest.index("--repeat")
            repeat = int(rest[i + 1])
            rest = rest[:i] + rest[i + 2 :]
        targets = (rest[1] if len(rest) > 1 else "server,framing").split(",")
        campaign(float(rest[0]) if rest else 40.0, targets, repeat, fork)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
