"""The command line on bad input: one clear line, the right exit status, never a traceback."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import termios
import tty
from pathlib import Path

from bytestreamrpc import framing, messages
from tests.support.wire import parse_replies

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


def test_version_option_prints_the_distributions_version() -> None:
    import importlib.metadata

    res = run("--version")
    assert res.returncode == 0 and res.stderr == b""
    expected = f"zrepl-conformance {importlib.metadata.version('zrepl-conformance')}\n"
    assert res.stdout.decode() == expected


def test_help_lists_every_command_and_serve_imports_only_its_module() -> None:
    res = run("--help")
    for name in (
        "serve",
        "connect",
        "pull",
        "push",
        "frame",
        "record",
        "replay",
        "golden",
        "run",
        "list",
    ):
        assert name.encode() in res.stdout
    probe = (
        "import sys; had = 'importlib.metadata' in sys.modules; "
        "from zrepl_conformance import cli; cli.build_parser('serve'); "
        "print(sorted(m for m in sys.modules if m.startswith('zrepl_conformance.cmd_')))\n"
        "print(had or 'importlib.metadata' not in sys.modules)"  # the version stays lazy
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["['zrepl_conformance.cmd_serve']", "True"]


# ---------------------------------------------------------------- fuzz: help, status line, atheris
FUZZ_ARGS = ("fuzz", "--role", "server", "--examples", "30", "--seed", "7", "--no-confirm")
"""A short server-role search of our own reference: with this seed it reports progress at
least twice (every 10 trials) and finds nothing."""


def _isolated_env(tmp_path: Path) -> dict[str, str]:
    """No FAKE_ZFS_STATE; temporary files go to ``tmp_path/tmp`` (checked empty after)."""
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("FAKE_ZFS_STATE", "COLUMNS")}
    return {**env, "TMPDIR": str(tmp_path / "tmp")}


def test_fuzz_help_is_plain_text() -> None:
    for args in (("fuzz", "--help"), ("fuzz", "campaign", "--help"), ("fuzz", "list", "--help")):
        res = run(*args)
        assert res.returncode == 0 and res.stderr == b""
        for markup in (b"``", b"**", b":data:", b":func:", b"`"):
            assert markup not in res.stdout, (args, markup)
    text = run("fuzz", "--help").stdout.decode()
    assert "fuzz campaign --target NAME|all" in text and "status line" in text


def test_fuzz_progress_is_plain_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    res = subprocess.run(
        [*CLI, *FUZZ_ARGS, "--findings", str(tmp_path / "f")],
        capture_output=True, timeout=300, check=False, cwd=tmp_path, env=_isolated_env(tmp_path),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert b"\r" not in res.stderr and b"Traceback" not in res.stderr
    lines = res.stderr.decode().splitlines()
    assert len(lines) >= 2 and all(re.fullmatch(r"fuzz: \d+ conversations, .*", ln) for ln in lines)
    assert re.fullmatch(rb"no disagreement in \d+ conversations \(seed 7, .*\)\n", res.stdout)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_fuzz_progress_is_one_redrawn_line_on_a_terminal(tmp_path: Path) -> None:
    """stdout and stderr on one pseudo-terminal (raw: bytes arrive as written), 100 columns."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    termios.tcsetwinsize(slave, (24, 100))
    try:
        proc = subprocess.Popen(
            [*CLI, *FUZZ_ARGS, "--findings", str(tmp_path / "f")],
            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=tmp_path,
            env=_isolated_env(tmp_path),
        )  # fmt: skip
        os.close(slave)
        seen = _read_until_closed(master)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    text = seen.decode()
    assert "Traceback" not in text
    # "\rfuzz: 10 ...\rfuzz: 20 ..." redrawn in place, ended once, then the result.
    m = re.fullmatch(
        r"((?:\rfuzz: [^\r\n]*){2,})\nno disagreement in \d+ conversations [^\n]*\n", text
    )
    assert m is not None, repr(text)
    assert all(len(part) < 100 for part in m.group(1).split("\r"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]
    assert list((tmp_path / "tmp").iterdir()) == []


def _read_until_closed(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: every writer of the terminal has closed it
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_fuzz_campaign_without_atheris_says_so_first(tmp_path: Path) -> None:
    """atheris made unimportable in the CLI process (the way fuzz.libfuzzer detects it: import).

    A campaign keeps Hypothesis's files (the engine's own cache) where Hypothesis keeps them;
    HYPOTHESIS_STORAGE_DIRECTORY puts them in ``hypothesis-home`` of the test's directory.
    """
    no_atheris = (
        "import sys; sys.modules['atheris'] = None; "
        "from zrepl_conformance.cli import main; sys.exit(main())"
    )
    res = subprocess.run(
        [sys.executable, "-c", no_atheris, "fuzz", "campaign", "--target", "framing",
         "--time", "1", "--runs", "50", "--corpus", "corpus", "--findings", "findings",
         "--database", "db"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False,
        cwd=tmp_path,
        env={**_isolated_env(tmp_path), "HYPOTHESIS_STORAGE_DIRECTORY": "hypothesis-home"},
    )  # fmt: skip
    out = res.stdout.decode()
    assert res.returncode == 0, out
    assert "Traceback" not in out
    first, *rest = out.splitlines()
    assert first.startswith("zrepl-conformance fuzz campaign: note: atheris unavailable: ")
    assert "atheris is not installed" in first
    # (a progress line may come first when a loaded machine makes the 1 s campaign slow)
    assert any(line.startswith("campaign framing: engine hypothesis, ") for line in rest), out
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left in (
        ["corpus", "db", "findings", "tmp"],
        ["corpus", "db", "findings", "hypothesis-home", "tmp"],
    )
    assert list((tmp_path / "tmp").iterdir()) == []


def test_pull_and_push_help_name_connect_and_the_state() -> None:
    for job in ("pull", "push"):
        res = run(job, "--help", env={**os.environ, "COLUMNS": "1000"})  # no wrapping
        text = res.stdout.decode()
        assert res.returncode == 0 and res.stderr == b""
        assert "'zrepl-conformance connect ADDRESS'" in text and "FAKE_ZFS_STATE" in text


def test_golden_check_of_no_such_scenario_names_the_closest() -> None:
    res = run("golden", "check", "pv-okk")
    assert res.returncode == 2 and b"Traceback" not in res.stderr
    assert (
        res.stderr.decode()
        .strip()
        .endswith("no such scenario 'pv-okk' (did you mean: pv-ok, fsv-ok?)")
    )


def test_replay_of_an_unreadable_transcript_is_exit_2(tmp_path: Path) -> None:
    res = run("replay", str(tmp_path / "missing.jsonl"))
    assert res.returncode == 2 and b"cannot read" in res.stderr and b"Traceback" not in res.stderr
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("this is not a transcript\n", encoding="utf-8")
    res = run("replay", str(garbage))
    assert res.returncode == 2 and b"garbage.jsonl:1:" in res.stderr
    assert len(res.stderr.decode().strip().splitlines()) == 1
