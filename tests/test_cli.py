"""The command line on bad input: one clear line, the right exit status, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bytestreamrpc import framing, messages
from tests.wire import parse_replies

CLI = [sys.executable, "-m", "zrepl_conformance"]


def run(
    *args: str, data: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, *args], input=data, capture_output=True, timeout=60, check=False, env=env
    )


def test_serve_stdio_answers_garbage_and_exits_cleanly() -> None:
    res = run("serve", "--stdio", data=os.urandom(3) + b"\x00" * 7 + b"\xff" * 40)
    assert b"Traceback" not in res.stderr
    assert res.returncode == 0
    replies = parse_replies(res.stdout).replies
    assert len(replies) == 1 and replies[0].header.error_id == 1


def test_serve_stdio_peer_closes_mid_frame() -> None:
    res = run("serve", "--stdio", data=b'\x40\x00\x00\x00{"Type":1')
    assert b"Traceback" not in res.stderr and res.returncode == 0
    (reply,) = parse_replies(res.stdout).replies
    assert reply.header.message == "cannot decode *rpc.RequestHeader: unexpected EOF"


def test_serve_stdio_stalled_peer_times_out(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*CLI, "serve", "--stdio", "--timeout", "0.5"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(b"\x05\x00\x00\x00{")
    proc.stdin.flush()
    out = proc.stdout.read()  # stdin stays open: only the server's timeout ends this
    err = proc.stderr.read()
    proc.stdin.close()
    assert proc.wait(30) == 0
    assert out == b""
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "did not send anything within 0.5 s" in lines[0]


def test_serve_with_bad_profile_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"pull_acl": {"a b*": "x"}}')
    res = run("serve", "--stdio", "--profile", str(bad))
    lines = res.stderr.decode().strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1
    assert "pull_acl" in lines[0] and str(bad) in lines[0]
    missing = run("serve", "--stdio", "--profile", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and b"cannot read profile" in missing.stderr
    assert b"Traceback" not in missing.stderr


def test_serve_with_corrupt_state_is_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"this is not sqlite" * 100)
    res = run("serve", "--stdio", env=dict(os.environ, FAKE_ZFS_STATE=str(state)))
    lines = res.stderr.decode().strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1 and str(state) in lines[0]


def test_serve_without_profile_uses_demo_fixture() -> None:
    req = framing.encode_stream(b'{"Type":16,"Id":[]}') + framing.encode_stream(b"{}")
    res = run("serve", "--stdio", data=req)
    (reply, _eof) = parse_replies(res.stdout).replies
    names = [p.to_string() for p in messages.decode_filesystems(reply.body or b"") or ()]
    assert names == ["pool", "pool/data", "pool/data/db", "pool/data/home", "pool/vol1"]


def test_pull_usage_errors_exit_2() -> None:
    res = run(
        "pull",
        "--mapping",
        "{}",
        env={k: v for k, v in os.environ.items() if k != "FAKE_ZFS_STATE"},
    )
    assert res.returncode == 2 and b"CONNECT-CMD" in res.stderr
    res = run(
        "pull", "--mapping", "not json", "--", "true", env=dict(os.environ, FAKE_ZFS_STATE="/x")
    )
    assert res.returncode == 2 and b"bad mapping" in res.stderr


def test_version_matches_the_distribution() -> None:
    import importlib.metadata

    import zrepl_conformance

    assert zrepl_conformance.__version__ == importlib.metadata.version("zrepl-conformance")


def test_help_lists_every_command_and_serve_imports_only_its_module() -> None:
    res = run("--help")
    for name in ("serve", "pull", "push", "frame", "record", "replay", "golden", "run", "list"):
        assert name.encode() in res.stdout
    probe = (
        "import sys; from zrepl_conformance import cli; cli.build_parser('serve'); "
        "print(sorted(m for m in sys.modules if m.startswith('zrepl_conformance.cmd_')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['zrepl_conformance.cmd_serve']"
