"""Recorder transparency, the recording proxy, replay, and catching a changed server."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import xxhash

from bytestreamrpc import framing, messages
from bytestreamrpc.client import Client
from bytestreamrpc.messages import (
    CloseRequest,
    FilesystemRequest,
    FilesystemVersionsRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
    RequestHeader,
)
from bytestreamrpc.server import serve_listener
from bytestreamrpc.transport import connect_socket
from iut import FixtureCache, reference_spec, spec_from_server_cmd
from iut.spec import REFERENCE_SERVER, IUTSpec
from recordings.compare import BYTE_LEVELS, ComparisonLevel
from recordings.digest import Digest
from recordings.format import C2S, S2C, Header, StreamRecord, read_transcript
from recordings.golden import GOLDEN_DIR
from recordings.replay import replay_server
from recordings.tee import proxy
from tests.support.recordings_standin import VERSIONS, BigSource, StandInHandler, payload

PY = sys.executable
TESTS = Path(__file__).parent.parent
STANDIN = str(TESTS / "support" / "recordings_standin.py")
MUTANT = str(TESTS / "support" / "recordings_mutant.py")
RECORD = [PY, "-m", "zrepl_conformance", "record"]


@pytest.fixture(scope="module")
def cache() -> Iterator[FixtureCache]:
    with FixtureCache() as c:
        yield c


def request(body: object) -> bytes:
    rtype = messages.REQUEST_TYPE_OF[type(body)]
    return framing.encode_stream(
        messages.encode_message(RequestHeader(int(rtype)))
    ) + framing.encode_stream(messages.encode_message(body))


# A raw client: writes its input, reads everything until EOF, reports digest and exit status.
RAW_CLIENT = r"""
import hashlib, subprocess, sys, threading
data = sys.stdin.buffer.read()
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def feed():
    p.stdin.write(data)
    p.stdin.close()
threading.Thread(target=feed).start()
h = hashlib.sha256(); n = 0
while b := p.stdout.read1(1 << 20):
    h.update(b); n += len(b)
print(n, h.hexdigest(), p.wait())
"""


def run_raw(cmd: list[str], data: bytes) -> tuple[int, str, int]:
    res = subprocess.run(
        [PY, "-c", RAW_CLIENT, *cmd], input=data, capture_output=True, timeout=60, check=True
    )
    n, digest, status = res.stdout.split()
    return int(n), digest.decode(), int(status)


SIZE = 256 << 20


def test_recorder_is_transparent_for_a_256_mib_transfer(tmp_path: Path) -> None:
    """Server to client: the same bytes and exit status with and without the recorder."""
    fs = messages.DatasetPath.from_string("pool/data")
    conversation = (
        request(ProtocolVersionRequest())
        + request(InitialTransferRequest(fs, VERSIONS[0]))
        + request(CloseRequest())
    )
    server = [PY, STANDIN, "--size", str(SIZE), "--fail-status", "7"]
    out = tmp_path / "t.jsonl"
    direct = run_raw(server, conversation)
    recorded = run_raw([*RECORD, "--out", str(out), "--", *server], conversation)
    assert recorded == direct
    assert direct[0] > SIZE and direct[2] == 7
    t = read_transcript(out)
    data = [r for r in t.streams(S2C) if r.kind == "data"]
    src = BigSource(SIZE, b"pool/data@s1")
    h = xxhash.xxh3_128()  # the default digest, computed independently
    while block := src.read(1 << 20):
        h.update(block)
    assert t.header.digest is Digest.XXH3_128
    assert [(r.length, r.digest) for r in data] == [(SIZE, h.hexdigest())]
    assert t.records[-1].event == "exit" and t.records[-1].status == 7  # type: ignore[union-attr]
    eofs = [str(r.dir) for r in t.events() if r.event == "eof"]
    assert sorted(eofs) == [C2S, S2C]


ECHO_HASH = (
    "import hashlib, sys\n"
    "h = hashlib.sha256(); n = 0\n"
    "while b := sys.stdin.buffer.read1(1 << 20):\n"
    "    h.update(b); n += len(b)\n"
    "print(n, h.hexdigest(), flush=True)\n"
    "sys.exit(5)\n"
)


def test_recorder_passes_client_bytes_and_eof_unchanged(tmp_path: Path) -> None:
    """Client to server, arbitrary bytes (not even the protocol): the server sees them all,
    sees end of file, and its exit status comes back."""
    data = hashlib.shake_256(b"garbage").digest(32 << 20)
    server = [PY, "-c", ECHO_HASH]
    out = tmp_path / "g.jsonl"
    n, _, status = run_raw([*RECORD, "--out", str(out), "--", *server], data)
    direct = subprocess.run(server, input=data, capture_output=True, check=False)
    expected = direct.stdout
    assert direct.returncode == 5 and status == 5
    recorded_answer = f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode()
    assert expected == recorded_answer and n == len(recorded_answer)
    t = read_transcript(out)  # garbage is recorded faithfully, not a crash
    assert sum(r.length for r in t.streams(C2S)) <= len(data)
    assert any(r.event == "eof" and r.dir == C2S for r in t.events())


def test_recorder_reports_a_signal_like_a_shell(tmp_path: Path) -> None:
    kill = [PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"]
    res = subprocess.run(
        [*RECORD, "--out", str(tmp_path / "k.jsonl"), "--", *kill],
        input=b"",
        capture_output=True,
        timeout=30,
    )
    assert res.returncode == 128 + 15


def test_record_needs_a_command(tmp_path: Path) -> None:
    res = subprocess.run(
        [*RECORD, "--out", str(tmp_path / "x.jsonl")], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 2
    assert "missing the command" in res.stderr and "Traceback" not in res.stderr


def test_recording_proxy_one_transcript_per_connection(tmp_path: Path) -> None:
    stop = threading.Event()
    addr: list[str] = []
    ready = threading.Event()

    def on_ready(a: str) -> None:
        addr.append(a)
        ready.set()

    server = threading.Thread(
        target=serve_listener,
        args=("tcp://127.0.0.1:0", lambda: StandInHandler(5000)),
        kwargs={"identity": "p", "ready": on_ready, "stop": stop, "timeout": 10},
        daemon=True,
    )
    server.start()
    assert ready.wait(10)
    proxied: list[str] = []
    pready = threading.Event()

    def on_proxy(a: str) -> None:
        proxied.append(a)
        pready.set()

    out = str(tmp_path / "conn-{n}.jsonl")
    header = Header(what="proxy")
    px = threading.Thread(
        target=proxy,
        args=("tcp://127.0.0.1:0", addr[0], out),
        kwargs={"header": header, "count": 2, "ready": on_proxy},
        daemon=True,
    )
    px.start()
    assert pready.wait(10)
    for _ in range(2):
        c = Client.connect(connect_socket(proxied[0]), timeout=10)
        fs = c.filesystem_request(FilesystemRequest())[0]
        c.filesystem_versions_request(FilesystemVersionsRequest(fs))
        assert (
            len(c.initial_transfer_request(InitialTransferRequest(fs, VERSIONS[0])).read()) == 5000
        )
        c.close_request()
    px.join(20)
    stop.set()
    assert not px.is_alive()
    for n in (1, 2):
        t = read_transcript(tmp_path / f"conn-{n}.jsonl")
        assert t.header.what == "proxy" and t.header.title and f"connection {n}" in t.header.title
        assert [r.kind for r in t.streams(S2C)].count("data") == 1
        with FixtureCache() as cache:
            res = replay_server(
                t,
                spec_from_server_cmd(f"{PY} {STANDIN} --size 5000"),
                cache,
                level=ComparisonLevel.BYTES,
            )
        assert res.ok, res.summary()


def test_stdio_record_then_replay_cli(tmp_path: Path) -> None:
    """``record`` in front of the reference server, then ``replay`` of the file (CLI)."""
    out = tmp_path / "r.jsonl"
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"identity": "ann", "pull_acl": {"pool/data*": "x"}}))
    server = [
        a.replace("{identity}", "ann").replace("{profile}", str(profile)) for a in REFERENCE_SERVER
    ]
    conversation = (
        request(ProtocolVersionRequest()) + request(FilesystemRequest()) + request(CloseRequest())
    )
    res = subprocess.run(
        [*RECORD, "--out", str(out), "--profile", str(profile), "--identity", "ann", "--", *server],
        input=conversation,
        capture_output=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    t = read_transcript(out)
    assert t.header.identity == "ann" and t.header.profile == json.loads(profile.read_text())
    for level in ("bytes", "messages", "semantic"):
        rep = subprocess.run(
            [PY, "-m", "zrepl_conformance", "replay", str(out), "--level", level],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rep.returncode == 0, rep.stdout + rep.stderr
        assert "ok (" in rep.stdout


# --------------------------------------------------------------------------- mutants


def mutant_spec(mode: str, at: int) -> IUTSpec:
    return spec_from_server_cmd(f"{PY} {MUTANT} {mode} {at} -- " + " ".join(REFERENCE_SERVER))


@pytest.mark.parametrize(
    ("scenario", "mode", "at", "caught", "what"),
    [
        # the versions list: first integer field (a Guid) + 1
        ("fsv-ok", "field", 2, {"exact", "bytes", "messages", "semantic"}, "field [0].Guid"),
        # an error response's text
        ("fsv-handler-error", "message", 1, {"exact", "bytes", "messages"}, "field Message"),
        # a response split over two chunks
        ("pv-ok", "chunks", 0, {"exact", "bytes"}, "chunk boundaries"),
        # a send stream chunked differently: not the protocol's business, only exact sees it
        ("init-ok", "chunks", 2, {"exact"}, "chunk boundaries"),
        # JSON with spaces
        ("pv-ok", "spacing", 0, {"exact", "bytes"}, "bytes"),
        # the Close answer sent twice
        ("pv-ok", "extra", 1, {"exact", "bytes", "messages", "semantic"}, "extra message"),
    ],
)
def test_a_changed_server_is_caught_at_the_right_level(
    cache: FixtureCache, scenario: str, mode: str, at: int, caught: set[str], what: str
) -> None:
    golden = read_transcript(GOLDEN_DIR / f"{scenario}.jsonl")
    target = [r for r in golden.records if isinstance(r, StreamRecord) and r.dir == S2C][at]
    spec = mutant_spec(mode, at)
    for level in ComparisonLevel:
        res = replay_server(golden, spec, cache, level=level)
        if level.value not in caught:
            assert res.ok, f"{level.value}: {res.summary()}"
            continue
        m = res.mismatch
        assert m is not None, f"{mode} not caught at level {level.value}"
        assert m.level is level
        assert m.direction == S2C
        if mode == "extra":
            # the duplicate arrives where the server's end of file was recorded
            assert golden.records[m.index - 1].line == m.line
            assert m.what == "extra message"
        else:
            assert m.line == target.line and m.index == golden.records.index(target) + 1
            if level not in BYTE_LEVELS or what == "chunk boundaries":
                assert m.what == what
        report = m.report("golden")
        assert report.startswith(f"golden:{m.line}: mismatch at record {m.index} s2c")
        assert "--- expected (recorded)" in report and "+++ actual" in report


def test_replay_of_the_reference_passes_with_ignored_fields(cache: FixtureCache) -> None:
    golden = read_transcript(GOLDEN_DIR / "fsv-handler-error.jsonl")
    res = replay_server(golden, mutant_spec("message", 1), cache, ignore=["Message"])
    assert res.ok, res.summary()
    res = replay_server(golden, reference_spec(), cache, level=ComparisonLevel.BYTES)
    assert res.ok and res.compared == 3  # two answers and the end of file


def test_unimplemented_is_its_own_outcome(cache: FixtureCache) -> None:
    golden = read_transcript(GOLDEN_DIR / "pv-ok.jsonl")
    spec = spec_from_server_cmd(f"{PY} -c 'import sys; sys.exit(89)'")
    res = replay_server(golden, spec, cache)
    assert res.outcome == "unimplemented"
    assert "UNIMPLEMENTED" in res.summary()


def test_a_digest_only_recording_cannot_be_played(cache: FixtureCache, tmp_path: Path) -> None:
    golden = read_transcript(GOLDEN_DIR / "pullme-ok.jsonl")
    data = [r for r in golden.streams(C2S) if r.kind == "data"]
    assert data and data[0].payload is not None  # the golden corpus keeps the client side
    from dataclasses import replace

    golden.records = [
        replace(r, payload=None) if isinstance(r, StreamRecord) and r.kind == "data" else r
        for r in golden.records
    ]
    res = replay_server(golden, reference_spec(), cache)
    assert res.outcome == "error"
    assert "record with --full" in (res.error or "")


def test_record_a_pull_job_then_replay_the_server_side_to_it(
    cache: FixtureCache, tmp_path: Path
) -> None:
    """``record`` as a client's connect command, then ``replay --client-cmd``: the same pull
    job, started fresh through ``{connect}``, must ask exactly the same."""
    import os

    mapping = {"pool/data/home": "backup/zrepl/home"}
    profile = tmp_path / "p.json"
    profile.write_text(
        json.dumps({"identity": "gil", "pull_acl": {"pool/data*": "x"}, "pull_mapping": mapping})
    )
    client_state, server_state = tmp_path / "client.sqlite", tmp_path / "server.sqlite"
    for state in (client_state, server_state):
        subprocess.run(
            [PY, "-m", "fakes.zfs_cli", "init"],
            env={**os.environ, "FAKE_ZFS_STATE": str(state)},
            check=True,
        )
    out = tmp_path / "pull.jsonl"
    server = ["env", f"FAKE_ZFS_STATE={server_state}", PY, "-m", "zrepl_conformance", "serve"]
    server += ["--stdio", "--identity", "gil", "--profile", str(profile)]
    connect = [*RECORD, "--full", "--out", str(out), "--profile", str(profile), "--", *server]
    pull = [PY, "-m", "zrepl_conformance", "pull", "--mapping", json.dumps(mapping), "--"]
    res = subprocess.run(
        [*pull, *connect],
        env={**os.environ, "FAKE_ZFS_STATE": str(client_state)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    t = read_transcript(out)
    assert [r.kind for r in t.streams(S2C)].count("data") == 1  # the initial transfer
    cmd = f"{PY} -m zrepl_conformance pull --mapping '{json.dumps(mapping)}' -- {{connect}}"
    rep = subprocess.run(
        [
            PY,
            "-m",
            "zrepl_conformance",
            "replay",
            str(out),
            "--client-cmd",
            cmd,
            "--level",
            "bytes",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rep.returncode == 0, rep.stdout + rep.stderr
    # the reference description's pull command (mapping from the profile) asks the same
    from recordings.replay import replay_client

    result = replay_client(t, reference_spec(), cache, role="pull", level=ComparisonLevel.BYTES)
    assert result.ok, result.summary() + result.stderr
    # a client that asks for something else is caught on its first differing request
    other = json.dumps({"pool/data/db": "backup/zrepl/db"})
    cmd = f"{PY} -m zrepl_conformance pull --mapping '{other}' -- {{connect}}"
    rep = subprocess.run(
        [PY, "-m", "zrepl_conformance", "replay", str(out), "--client-cmd", cmd],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rep.returncode == 1
    assert "c2s [level messages]: field Filesystem" in rep.stdout


# --------------------------------------------------------------------------- digests

V1_DIR = TESTS / "data" / "transcripts-v1"
"""Golden files as written before transcripts named their digest (format 1, SHA-256)."""


def replay_cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "zrepl_conformance", "replay", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def with_digest_replaced(src: Path, dst: Path, old: str, new: str) -> Path:
    text = src.read_text()
    assert text.count(old) == 1
    dst.write_text(text.replace(old, new))
    return dst


@pytest.mark.parametrize("digest", list(Digest))
def test_record_then_replay_a_send_stream_with_each_digest(tmp_path: Path, digest: Digest) -> None:
    """``record --digest D`` stores the send stream as D; ``replay`` hashes what the server
    sends with D and compares (a changed digest is caught, naming D and the real value)."""
    fs = messages.DatasetPath.from_string("pool/data")
    conversation = (
        request(ProtocolVersionRequest())
        + request(InitialTransferRequest(fs, VERSIONS[0]))
        + request(CloseRequest())
    )
    server = [PY, STANDIN, "--size", "300000"]
    out = tmp_path / "t.jsonl"
    run_raw([*RECORD, "--digest", digest.value, "--out", str(out), "--", *server], conversation)
    t = read_transcript(out)
    assert t.header.digest is digest
    [data] = [r for r in t.streams(S2C) if r.kind == "data"]
    sent = payload(300000, b"pool/data@s1")
    independent = {Digest.SHA256: hashlib.sha256, Digest.XXH3_128: xxhash.xxh3_128}[digest]
    assert (data.length, data.digest) == (len(sent), independent(sent).hexdigest())
    standin = f"{PY} {STANDIN} --size 300000"
    res = replay_cli(out, "--server-cmd", standin, "--level", "bytes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert data.digest is not None
    changed = with_digest_replaced(out, tmp_path / "c.jsonl", data.digest, "0" * len(data.digest))
    res = replay_cli(changed, "--server-cmd", standin)
    assert res.returncode == 1, res.stdout + res.stderr
    assert (
        f"send stream content: expected 300000 bytes ({digest.value} {'0' * len(data.digest)}), "
        f"got 300000 bytes ({digest.value} {data.digest})" in res.stdout
    )


@pytest.mark.parametrize("name", ["init-ok", "pullme-ok"])
def test_an_old_sha256_transcript_still_replays(tmp_path: Path, name: str) -> None:
    old = V1_DIR / f"{name}.jsonl"
    assert '"version":1,' in old.read_text() and '"sha256":' in old.read_text()
    res = replay_cli(old, "--level", "bytes")
    assert res.returncode == 0, res.stdout + res.stderr
    if name == "init-ok":  # its server send stream is compared by SHA-256
        [data] = [r for r in read_transcript(old).streams(S2C) if r.kind == "data"]
        assert data.digest is not None
        changed = with_digest_replaced(old, tmp_path / "c.jsonl", data.digest, "f" * 64)
        res = replay_cli(changed, "--level", "bytes")
        assert res.returncode == 1
        assert f"(sha256 {'f' * 64}), got {data.length} bytes (sha256 {data.digest})" in res.stdout


def test_a_corrupted_digest_field_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    golden = GOLDEN_DIR / "init-ok.jsonl"
    [data] = [r for r in read_transcript(golden).streams(S2C) if r.kind == "data"]
    assert data.digest is not None
    bad = with_digest_replaced(golden, tmp_path / "bad.jsonl", data.digest, data.digest[:-1])
    res = replay_cli(bad)
    assert res.returncode != 0 and res.stdout == ""
    assert res.stderr == (
        f"zrepl-conformance replay: {bad}:{data.line}: stream record: 'xxh3-128' must be 32 "
        f"lower-case hex digits, got '{data.digest[:-1]}'\n"
    )
