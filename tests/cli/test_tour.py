"""The README's "A short tour", pasted as a user would, plus ``connect`` on its own.

Every line of the tour's ``sh`` block is matched by exactly one rule of :data:`TOUR` (a new or
changed line fails the test until a rule says how to run it). Each line that can run offline
runs through ``bash -c`` in a fresh directory, one process per line, with the venv's scripts
first on ``PATH``; ``FAKE_ZFS_STATE`` is whatever the tour's ``export`` line sets. Every line
must exit as the rule says, print no traceback, and the directory must end up holding exactly
the files the tour makes (temporary files go to a ``TMPDIR`` that must end up empty).

Substitutions, the only edits to pasted lines:

* ``serve --listen tcp://127.0.0.1:8022 &`` is started by the test (not bash's ``&``) on a
  free port, and every ``tcp://127.0.0.1:8022`` names that port; it is stopped the way the
  tour says, ``kill`` (SIGTERM), at the end.
* The user's program ``my-port stdinserver`` and the original's ``zrepl stdinserver`` are our
  own reference server, ``zrepl-conformance serve --stdio``.
* Budgets are cut: ``run`` gets ``-k acl.fs`` (7 cases that need ``--profile {profile}``),
  ``golden check`` one scenario (still ``--repeat 5``), and ``fuzz --time 60`` becomes
  ``--examples 10 --seed 1``.
* Input the tour takes for granted: ``profile.json`` is written for ``serve --stdio``;
  ``stream.bin`` is ``frame encode``'s output; ``serve --stdio`` and ``record`` read one
  Filesystem request on stdin; ``xxd`` is ``od -An -tx1`` where xxd is not installed.

Skipped, with the reason in :data:`TOUR`: ``ssh host ...`` (a remote host), ``fuzz
--client-cmd "my-port pull ..."`` (a user's client; our own is fuzzed in
tests/fuzz/test_differential_client.py) and ``fuzz campaign`` (minutes;
tests/fuzz/test_campaign.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bytestreamrpc import framing, messages
from tests.support.wire import parse_replies

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CLI = [sys.executable, "-m", "zrepl_conformance"]
README_PORT = "tcp://127.0.0.1:8022"
FILESYSTEM_REQUEST = framing.encode_stream(b'{"Type":16,"Id":[]}') + framing.encode_stream(b"{}")
DEMO_NAMES = ["pool", "pool/data", "pool/data/db", "pool/data/home", "pool/vol1"]
REFERENCE = "zrepl-conformance serve --stdio"


def tour_lines() -> list[str]:
    """The lines of the first ``sh`` block after the README's "## A short tour"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## A short tour\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "README: no ```sh block in 'A short tour'"
    return [ln for ln in block.group(1).splitlines() if ln.strip()]


@dataclass
class Tour:
    """What the lines run so far have set up."""

    directory: Path
    env: dict[str, str]
    address: str
    server: subprocess.Popen[bytes] | None = None
    results: dict[str, subprocess.CompletedProcess[bytes]] = field(default_factory=dict)

    def paste(
        self, line: str, *, stdin: bytes = b"", extra: str = ""
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``line`` (its comment dropped, ``extra`` arguments added, substituted)."""
        line = re.split(r"\s+#\s", line, maxsplit=1)[0] + extra
        line = line.replace(README_PORT, self.address)
        line = line.replace("my-port stdinserver", REFERENCE)
        line = line.replace("zrepl stdinserver", REFERENCE)
        if shutil.which("xxd", path=self.env["PATH"]) is None:
            line = line.replace("| xxd", "| od -An -tx1")
        res = subprocess.run(
            ["bash", "-c", line], input=stdin, capture_output=True, cwd=self.directory,
            env=self.env, timeout=300, check=False,
        )  # fmt: skip
        assert b"Traceback" not in res.stderr, (line, res.stderr)
        return res


Check = Callable[[Tour, str], None]


def ok(
    tour: Tour, line: str, *, stdin: bytes = b"", extra: str = ""
) -> subprocess.CompletedProcess[bytes]:
    res = tour.paste(line, stdin=stdin, extra=extra)
    assert res.returncode == 0, (line, res.stdout[-2000:], res.stderr[-2000:])
    return res


def serve_stdio(tour: Tour, line: str) -> None:
    profile = {"identity": "alice", "pull_acl": {"pool*": "pool"}}
    (tour.directory / "profile.json").write_text(json.dumps(profile))
    res = ok(tour, line, stdin=FILESYSTEM_REQUEST)
    (reply, _eof) = parse_replies(res.stdout).replies
    names = [p.to_string() for p in messages.decode_filesystems(reply.body or b"") or ()]
    assert names == DEMO_NAMES


def serve_listen(tour: Tour, line: str) -> None:
    assert line.split("#")[0].rstrip().endswith("&")
    command = line.split("&")[0].replace(README_PORT, tour.address)
    tour.server = subprocess.Popen(
        ["bash", "-c", f"exec {command}"], cwd=tour.directory, env=tour.env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    host, port = tour.address.removeprefix("tcp://").rsplit(":", 1)
    deadline = time.monotonic() + 60
    while True:
        assert tour.server.poll() is None, tour.server.communicate()
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "serve --listen did not listen within 60 s"
            time.sleep(0.1)


def frame_encode(tour: Tour, line: str) -> None:
    expected = line.split("#", 1)[1].strip()
    out = ok(tour, line).stdout.decode()
    assert expected in "".join(out.split())
    encoded = subprocess.run(
        [*CLI, "frame", "encode"], input=b"\xca\xfe", capture_output=True, check=True
    )
    (tour.directory / "stream.bin").write_bytes(encoded.stdout)


def frame_decode(tour: Tour, line: str) -> None:
    ok(tour, line)
    assert (tour.directory / "payload.bin").read_bytes() == b"\xca\xfe"


def export_state(tour: Tour, line: str) -> None:
    value = ok(tour, line, extra='; printf %s "$FAKE_ZFS_STATE"').stdout.decode()
    assert value == str(tour.directory / "state.sqlite")
    tour.env["FAKE_ZFS_STATE"] = value


def fake_zfs_init(tour: Tour, line: str) -> None:
    ok(tour, line)
    assert (tour.directory / "state.sqlite").is_file()


def fake_zfs_list(tour: Tour, line: str) -> None:
    rows = ok(tour, line).stdout.decode().splitlines()
    assert rows[0].startswith("pool/data@zrepl_20170501_000000_000\t")
    assert any(r.startswith("pool/data#zrepl_20170501_000000_000\t") for r in rows)


def local_datasets(tour: Tour) -> list[str]:
    res = ok(tour, "fake-zfs list -H -o name -r backup/zrepl")
    return res.stdout.decode().split()


def pull(tour: Tour, line: str) -> None:
    out = ok(tour, line).stdout.decode().splitlines()
    assert out == [
        "pool/data => backup/zrepl/data: ok (initial): received @zrepl_20170501_020000_000",
        "pool/data/home => backup/zrepl/data/home: ok (initial): received "
        "@zrepl_20170501_010000_000",
    ]
    assert local_datasets(tour) == ["backup/zrepl", "backup/zrepl/data", "backup/zrepl/data/home"]


def push(tour: Tour, line: str) -> None:
    out = ok(tour, line).stdout.decode().splitlines()
    assert out and all(": ok (" in row for row in out)


def run_suite(tour: Tour, line: str) -> None:
    ok(tour, line, extra=" -k acl.fs")
    assert (tour.directory / "report.html").stat().st_size > 0
    # the README's --profile {profile} is what makes these pass: without it they fail
    without = tour.paste(
        line.replace(" --profile {profile}", ""), extra=" -k acl.fs --html /dev/null"
    )
    assert without.returncode == 1 and b"7 FAIL" in without.stdout


def record(tour: Tour, line: str) -> None:
    res = ok(tour, line, stdin=FILESYSTEM_REQUEST)
    assert len(parse_replies(res.stdout).replies) == 2
    assert (tour.directory / "conv.jsonl").is_file()


def replay(tour: Tour, line: str) -> None:
    assert ok(tour, line).stdout.decode().startswith("conv.jsonl: ok")


def golden(tour: Tour, line: str) -> None:
    res = ok(tour, line, extra=" close-goodbye")
    assert re.search(rb": 1 pass in ", res.stdout), res.stdout


def fuzz(tour: Tour, line: str) -> None:
    assert "--time 60" in line
    res = ok(tour, line.replace("--time 60", "--examples 10 --seed 1"))
    assert res.stdout.decode().startswith("no disagreement")


def skip(reason: str) -> Check:
    def skipped(_tour: Tour, _line: str) -> None:
        assert reason

    return skipped


TOUR: dict[str, Check] = {
    "zrepl-conformance serve --stdio --identity alice --profile profile.json": serve_stdio,
    "zrepl-conformance serve --listen tcp://127.0.0.1:8022 &": serve_listen,
    "printf '\\xca\\xfe' | zrepl-conformance frame encode | xxd": frame_encode,
    "zrepl-conformance frame decode < stream.bin > payload.bin": frame_decode,
    "export FAKE_ZFS_STATE=$PWD/state.sqlite": export_state,
    "fake-zfs init": fake_zfs_init,
    "fake-zfs list ": fake_zfs_list,
    'zrepl-conformance pull --mapping \'{"pool/data": "backup/zrepl/data", '
    '"pool/data/home": "backup/zrepl/data/home"}\' -- zrepl-conformance connect ': pull,
    'zrepl-conformance push --filter \'{"pool/data*": "ok"}\' -- zrepl-conformance connect ': (
        push
    ),
    'zrepl-conformance pull --mapping \'{"pool/data": "backup/zrepl/data"}\' -- ssh host ': skip(
        "needs a remote host running zrepl"
    ),
    'zrepl-conformance run --server-cmd "my-port stdinserver --identity {identity} '
    '--profile {profile}" --html report.html': run_suite,
    "zrepl-conformance record --out conv.jsonl -- zrepl stdinserver --identity X": record,
    'zrepl-conformance replay conv.jsonl --server-cmd "my-port stdinserver --identity X"': replay,
    'zrepl-conformance golden check --server-cmd "my-port stdinserver --identity {identity} '
    '--profile {profile}"': golden,
    'zrepl-conformance fuzz --server-cmd "my-port stdinserver --identity {identity} '
    '--profile {profile}" --time 60': fuzz,
    'zrepl-conformance fuzz --client-cmd "my-port pull -- {connect}"': skip(
        "a user's pull job; our own client is fuzzed in tests/fuzz/test_differential_client.py"
    ),
    "zrepl-conformance fuzz campaign ": skip("minutes long; see tests/fuzz/test_campaign.py"),
}


def _free_tcp_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def tour(tmp_path: Path) -> Iterator[Tour]:
    directory, scratch = tmp_path / "tour", tmp_path / "tmp"
    directory.mkdir()
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("FAKE_ZFS_STATE", "COLUMNS")}
    env.update(TMPDIR=str(scratch), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    state = Tour(directory, env, _free_tcp_address())
    try:
        yield state
    finally:
        if state.server is not None and state.server.poll() is None:
            state.server.kill()
            state.server.communicate()


def test_the_readme_tour_runs_when_pasted(tour: Tour) -> None:
    used: list[str] = []
    for line in tour_lines():
        rules = [prefix for prefix in TOUR if line.startswith(prefix)]
        assert len(rules) == 1, f"README tour line without exactly one rule: {line!r}"
        used.append(rules[0])
        TOUR[rules[0]](tour, line)
    assert sorted(used) == sorted(TOUR), "a rule matches no README tour line"
    assert tour.server is not None
    tour.server.send_signal(signal.SIGTERM)  # the tour's `kill %1`
    _out, err = tour.server.communicate(timeout=30)
    assert tour.server.returncode == -signal.SIGTERM
    assert err.decode() == f"zrepl-conformance serve: listening on {tour.address}\n"
    made = sorted(p.name for p in tour.directory.iterdir())
    assert made == [
        "conv.jsonl", "payload.bin", "profile.json", "report.html", "state.sqlite", "stream.bin",
    ]  # fmt: skip
    assert list(Path(tour.env["TMPDIR"]).iterdir()) == []


# ---------------------------------------------------------------- connect on its own
def _listen(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    address = f"unix:{directory / 'server.sock'}"
    env = {k: v for k, v in os.environ.items() if k != "FAKE_ZFS_STATE"}
    server = subprocess.Popen(
        [*CLI, "serve", "--listen", address], env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (directory / "server.sock").exists():
        assert server.poll() is None and time.monotonic() < deadline, server.communicate()
        time.sleep(0.05)
    return server, address


def test_connect_relays_and_ends_when_the_server_closes(tmp_path: Path) -> None:
    server, address = _listen(tmp_path)
    try:
        client = subprocess.Popen(
            [*CLI, "connect", address],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert client.stdin is not None and client.stdout is not None
        # a request, then a header that is not JSON: the server answers error 1 and closes
        client.stdin.write(FILESYSTEM_REQUEST + framing.encode_stream(b"not json"))
        client.stdin.flush()
        # stdin stays open: like ssh, connect ends because the server closed
        watchdog = threading.Timer(60, client.kill)  # a relay waiting for stdin would hang
        watchdog.start()
        out = client.stdout.read()  # its end: the server closed
        watchdog.cancel()
        assert client.wait(timeout=30) == 0
        client.stdin.close()
        assert client.stderr is not None and client.stderr.read() == b""
        first, error = parse_replies(out).replies[:2]
        names = [p.to_string() for p in messages.decode_filesystems(first.body or b"") or ()]
        assert names == DEMO_NAMES and error.header.error_id == 1
    finally:
        server.send_signal(signal.SIGINT)
        _out, err = server.communicate(timeout=30)
    assert server.returncode == 130 and b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # the socket is gone


def test_connect_failures_are_one_line(tmp_path: Path) -> None:
    for address, status, text in (
        (f"unix:{tmp_path / 'nothing.sock'}", 1, "cannot connect to unix:"),
        ("tcp://127.0.0.1", 1, "cannot connect to tcp://127.0.0.1: not HOST:PORT"),
        ("ssh://host", 2, "zrepl-conformance connect: 'ssh://host' is not tcp://HOST:PORT"),
    ):
        res = subprocess.run(
            [*CLI, "connect", address], input=b"", capture_output=True, timeout=60, check=False
        )
        err = res.stderr.decode()
        assert (res.returncode, res.stdout) == (status, b""), err
        assert err.count("\n") == 1 and text in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
