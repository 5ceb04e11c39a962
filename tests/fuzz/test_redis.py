"""A real Redis server as the shared example database (``--redis URL``).

The fixture starts Debian's ``redis-server`` on a free loopback port (no persistence) and
stops it; ``.ci/run`` installs it. Without ``redis-server`` the tests fail in CI (``CI`` set,
as CI runs ``.ci/run``), saying so: CI never skips them. Elsewhere — the README's test command
on a machine with only Python — they are skipped with that reason, since the service is not
the project's to install there.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mutants import write_specs

REPO = Path(__file__).resolve().parents[2]

# A campaign of the ``framing`` target with a planted bug (a chunk terminator in an input of
# 40 bytes or more fails: golden-based inputs find it at once, and it shrinks to 40 bytes
# that a fresh campaign does not start with),
# logging every input its check receives, one hex line each, to $INPUT_LOG.
_PLANTED = textwrap.dedent(
    """
    import os, sys
    from fuzz import invariants
    from zrepl_conformance.cli import main

    def planted(data, deliveries=None):
        with open(os.environ["INPUT_LOG"], "a") as log:
            log.write(data.hex() + "\\n")
        if len(data) >= 40 and b"\\0\\0\\0\\0" in data:
            raise invariants.InvariantViolation("planted")

    invariants.check_framing = planted
    sys.exit(main(["fuzz", "campaign", *sys.argv[1:]]))
    """
)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        why = "redis-server is not installed (apt-get install redis-server; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {port}")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _campaign(url: str, log: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INPUT_LOG": str(log)}
    return subprocess.run(
        [sys.executable, "-c", _PLANTED, "--target", "framing", "--engine", "hypothesis",
         "--time", "30", "--redis", url, "--corpus", str(tmp / "corpus"),
         "--findings", str(tmp / log.stem)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _inputs(log: Path) -> list[bytes]:
    return [bytes.fromhex(line) for line in log.read_text().split()]


def test_a_campaign_replays_first_what_another_found(redis_url: str, tmp_path: Path) -> None:
    first = _campaign(f"{redis_url}/0", tmp_path / "first.log", tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "Redis" in first.stdout and "Traceback" not in first.stderr
    failing = [d for d in _inputs(tmp_path / "first.log") if len(d) >= 40 and b"\0\0\0\0" in d]
    minimal = min(failing, key=len)

    second = _campaign(f"{redis_url}/0", tmp_path / "second.log", tmp_path)
    assert second.returncode == 1, second.stdout + second.stderr
    assert _inputs(tmp_path / "second.log")[0] == minimal  # the other's shrunk failure, first

    # the same campaign on an empty database starts elsewhere
    alone = _campaign(f"{redis_url}/1", tmp_path / "alone.log", tmp_path)
    assert alone.returncode == 1
    assert _inputs(tmp_path / "alone.log")[0] != minimal


def _differential(url: str | None, specs: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    extra = ["--redis", url] if url else []
    return subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "fuzz", "--iut", str(specs / "guid-float.toml"),
         "--role", "server", "--seed", "3", "--shrink-time", "3", "--no-confirm",
         "--findings", str(tmp), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def _trials_to_disagree(res: subprocess.CompletedProcess[str]) -> int:
    assert res.returncode == 1, res.stdout + res.stderr
    match = re.search(r"disagreement after (\d+) trial", res.stderr)
    assert match, res.stderr
    return int(match.group(1))


def test_differential_fuzzing_shares_its_findings_through_redis(
    redis_url: str, tmp_path: Path
) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    write_specs(specs)
    url = f"{redis_url}/2"
    searched = _trials_to_disagree(_differential(url, specs, tmp_path / "a"))
    assert searched > 1  # this seed needs a search to find the planted bug
    assert _trials_to_disagree(_differential(url, specs, tmp_path / "b")) == 1


def test_an_unreachable_redis_is_a_one_line_error(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "fuzz", "--examples", "1",
         "--redis", "redis://127.0.0.1:1/0", "--findings", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert res.returncode == 2 and "cannot reach Redis" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
