"""When a difference may come from the setting, not the protocol, the tools say so.

``record`` keeps the identity and profile the recorded server ran with (from its options or
its command line), so ``replay`` rebuilds the same server; a transcript that does not say,
and a server command that does not use ``{profile}``, get a one-line note beside the
difference in ``replay``, ``run`` and ``fuzz``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from recordings.format import read_transcript
from tests.support.wire import raw_request

ROOT = Path(__file__).resolve().parents[2]
BOB = {"identity": "bob", "pull_acl": {"pool/data": "ok"}}  # only pool/data, not its children


def _cli(
    *args: str, stdin: bytes = b"", cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ZREPL_CONFORMANCE_PROFILE", None)
    return subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", *args],
        input=stdin, capture_output=True, env=env, timeout=120, check=False, cwd=cwd,
    )  # fmt: skip


def _listing_conversation() -> bytes:
    return raw_request(0x01, b'{"ClientVersion":1}\n') + raw_request(0x10, b'{"Roots":null}\n')


def _record(tmp_path: Path, *server_args: str) -> Path:
    state = tmp_path / "state.sqlite"
    init = subprocess.run(
        [sys.executable, "-m", "fakes.zfs_cli", "init"],
        env={**os.environ, "FAKE_ZFS_STATE": str(state)}, capture_output=True, check=False,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    out = tmp_path / "t.jsonl"
    serve = [sys.executable, "-m", "zrepl_conformance", "serve", "--stdio", *server_args]
    env_state = ["env", f"FAKE_ZFS_STATE={state}"]
    proc = _cli(
        "record", "--out", str(out), "--", *env_state, *serve, stdin=_listing_conversation()
    )
    assert proc.returncode == 0, proc.stderr
    return out


def test_record_takes_identity_and_profile_from_the_command_and_replay_rebuilds_it(
    tmp_path: Path,
) -> None:
    profile = tmp_path / "bob.json"
    profile.write_text(json.dumps(BOB), encoding="utf-8")
    out = _record(tmp_path, "--identity", "bob", "--profile", str(profile))
    header = read_transcript(out).header
    assert header.identity == "bob" and header.profile == BOB
    proc = _cli("replay", str(out))
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


def test_a_transcript_that_does_not_say_gets_a_note_beside_the_difference(tmp_path: Path) -> None:
    profile = tmp_path / "bob.json"
    profile.write_text(json.dumps(BOB), encoding="utf-8")
    out = _record(tmp_path, "--identity", "bob", "--profile", str(profile))
    lines = out.read_text(encoding="utf-8").splitlines()
    head = json.loads(lines[0])
    head.pop("identity"), head.pop("profile")
    out.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n", encoding="utf-8")
    proc = _cli("replay", str(out))
    assert proc.returncode == 1
    text = proc.stdout.decode()
    assert "note: the transcript does not say which identity and profile its server had" in text
    assert b"Traceback" not in proc.stderr


def test_run_says_when_the_server_command_does_not_use_the_profile() -> None:
    serve = f"{sys.executable} -m zrepl_conformance serve --stdio --identity {{identity}}"
    proc = _cli("run", "--server-cmd", serve, "-k", "acl.fs")
    assert proc.returncode == 1
    assert "note: the server command does not use {profile}" in proc.stderr.decode()
    good = _cli("run", "--server-cmd", serve + " --profile {profile}", "-k", "acl.fs")
    assert good.returncode == 0 and b"does not use {profile}" not in good.stderr
