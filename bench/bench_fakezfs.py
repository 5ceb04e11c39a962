"""Benchmarks of the fake ZFS (run as ``python bench/bench_fakezfs.py``; not a test).

Budgets from the issue:

* 10,000 datasets + 1,000,000 snapshots loaded into the in-memory model: < 10 s;
* the same into a SQLite state file: < 30 s;
* ``fake-zfs list -H -p -o name,guid,createtxg -r -d 1 -t bookmark,snapshot -s createtxg FS``
  on a dataset with 100,000 snapshots (and 10,000 bookmarks): < 1 s including start-up;
* ``fake-zfs send`` of a 4 GiB snapshot piped into ``fake-zfs recv``: >= 500 MB/s with a
  peak RSS below 64 MiB in each process.

Options: ``--quick`` shrinks every size by 10x (for a smoke run).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fakes.zfs import FakeZfs, synthetic_fixture  # noqa: E402

CLI = [sys.executable, "-m", "fakes.zfs_cli"]


def _env(state: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FAKE_ZFS_STATE"] = str(state)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _verdict(ok: bool) -> str:
    return "OK" if ok else "OVER BUDGET"


def bench_load(workdir: Path, datasets: int, snapshots: int) -> None:
    start = time.perf_counter()
    zfs = FakeZfs.in_memory(synthetic_fixture(datasets, snapshots))
    model = time.perf_counter() - start
    count = zfs.list(types=("snapshot",), recursive=True, properties=())
    assert len(count) == snapshots
    zfs.close()
    print(
        f"load model   {datasets:>7,} datasets {snapshots:>9,} snapshots: {model:6.2f} s "
        f"(budget 10 s) {_verdict(model < 10)}"
    )
    path = workdir / "load.sqlite"
    start = time.perf_counter()
    FakeZfs.init_state(path, synthetic_fixture(datasets, snapshots))
    state = time.perf_counter() - start
    size = path.stat().st_size / 2**20
    print(
        f"load state   {datasets:>7,} datasets {snapshots:>9,} snapshots: {state:6.2f} s "
        f"(budget 30 s, file {size:.0f} MiB) {_verdict(state < 30)}"
    )
    path.unlink()


def bench_list(workdir: Path, snapshots: int) -> None:
    path = workdir / "list.sqlite"
    FakeZfs.init_state(path, synthetic_fixture(1, snapshots, bookmark_every=10))
    argv = [
        *CLI, "list", "-H", "-p", "-o", "name,guid,createtxg", "-r", "-d", "1",
        "-t", "bookmark,snapshot", "-s", "createtxg", "pool/s0000",
    ]  # fmt: skip
    times = []
    lines = 0
    for _ in range(5):
        start = time.perf_counter()
        done = subprocess.run(argv, env=_env(path), capture_output=True, check=True)
        times.append(time.perf_counter() - start)
        lines = done.stdout.count(b"\n")
    best, median = min(times), statistics.median(times)
    print(
        f"list -d 1    {snapshots:>9,} snapshots ({lines:,} lines incl. bookmarks): "
        f"best {best:.3f} s, median {median:.3f} s incl. process start "
        f"(budget 1 s) {_verdict(median < 1)}"
    )
    path.unlink()


#: Runs argv[2:] as a child and writes the child's peak RSS (KiB) to argv[1]. The bench
#: process is large after loading fixtures, and a child's ru_maxrss includes what it
#: inherited before exec, so the measured processes are forked from this small wrapper.
_RSS_WRAPPER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _measured(argv: list[str], rss_file: Path) -> list[str]:
    return [sys.executable, "-c", _RSS_WRAPPER, str(rss_file), *argv]


def _wait(proc: subprocess.Popen[bytes], rss_file: Path) -> float:
    """Wait for ``proc``; return the peak RSS (MiB) of the command it wrapped."""
    if proc.wait() != 0:
        raise SystemExit(f"{proc.args!r} exited with {proc.returncode}")
    return int(rss_file.read_text()) / 1024


def bench_stream(workdir: Path, size: int) -> None:
    path = workdir / "stream.sqlite"
    fixture = workdir / "stream.toml"
    fixture.write_text(
        '[[pool]]\nname = "src"\n[[pool]]\nname = "dst"\n[[dataset]]\nname = "src/big"\n'
        f'[[snapshot]]\nname = "src/big@s1"\nreferenced = {size}\n'
    )
    subprocess.run([*CLI, "init", "--fixture", str(fixture)], env=_env(path), check=True)
    env = _env(path)
    send_file, recv_file = workdir / "send.rss", workdir / "recv.rss"
    start = time.perf_counter()
    sender = subprocess.Popen(
        _measured([*CLI, "send", "src/big@s1"], send_file), env=env, stdout=subprocess.PIPE
    )
    assert sender.stdout is not None
    receiver = subprocess.Popen(
        _measured([*CLI, "recv", "-u", "dst/big"], recv_file), env=env, stdin=sender.stdout
    )
    sender.stdout.close()
    send_rss = _wait(sender, send_file)
    recv_rss = _wait(receiver, recv_file)
    elapsed = time.perf_counter() - start
    rate = size / elapsed / 1e6
    with FakeZfs.open(path) as zfs:
        received = zfs.list_versions("dst/big")
    assert [v.name for v in received] == ["s1"], received
    ok = rate >= 500 and send_rss < 64 and recv_rss < 64
    print(
        f"send | recv  {size / 2**30:.2f} GiB: {elapsed:.2f} s = {rate:,.0f} MB/s "
        f"(budget >= 500 MB/s); peak RSS send {send_rss:.1f} MiB, recv {recv_rss:.1f} MiB "
        f"(budget < 64 MiB each) {_verdict(ok)}"
    )
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(
        f"# bench_fakezfs — {datetime.date.today().isoformat()} — Python "
        f"{sys.version.split()[0]} on {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="bench-fakezfs-") as tmp:
        workdir = Path(tmp)
        bench_load(workdir, 10_000 // scale, 1_000_000 // scale)
        bench_list(workdir, 100_000 // scale)
        bench_stream(workdir, (4 << 30) // scale)


if __name__ == "__main__":
    main()
