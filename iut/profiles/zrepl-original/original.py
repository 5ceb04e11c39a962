"""The original zrepl (commit 35dcfc2, May 2017) under the conformance contract.

Usage (see zrepl-original.toml)::

    python3 -I -S original.py server PROFILE IDENTITY
    python3 -I -S original.py pull|push PROFILE -- CONNECT...

Both read the original's binary from ``$ZREPL_ORIGINAL_BIN``; without a usable one they fail
at once with one line saying so. Standard library only (run with ``-I -S``).

``server``
==========

Turns the suite's profile JSON into the original's config and replaces itself with
``$ZREPL_ORIGINAL_BIN --config zrepl-original-server.yml stdinserver --identity IDENTITY``,
which serves one connection on stdin/stdout, exactly as under ``ssh`` with a forced command.

The original's config (cmd/config.go at 35dcfc2) is YAML with five top-level keys, all of
which must be lists (``pull_acls`` and ``sinks`` are parsed with "expected list" and a missing
one aborts start-up): ``pools``, ``pushs``, ``pulls``, ``sinks`` (``{from: IDENTITY,
mapping: MAPPING}``: where a client's pushes / pull-me requests land) and ``pull_acls`` (same
shape: what a client may pull). A profile without ``pull_acl`` (or ``null``) gets no ACL entry
at all, which is how the original is "not configured" (its handler then crashes on a nil ACL:
docs/PROTOCOL.md §handler.no-acl). JSON is YAML, so the config is written as JSON.

The config file lands in the working directory (the suite gives every process its own).
The original's own log goes to stderr. Standard library only; no environment is needed
beyond ``ZREPL_ORIGINAL_BIN`` (and the ``PATH`` holding the fake ``zfs``).

``pull`` / ``push``: ONE job
============================

The original has no one-shot mode. ``zrepl --config FILE run`` starts every configured job at
once and then repeats it every 5 seconds, forever; it logs to stderr::

    jobrun 2017/05/20 10:00:00 job[pull0]: doing pull: ...          (the job's own log)
    2017/05/20 10:00:01 notificaiton on job pull0: error=...         (sic; only if it failed)
    jobrun 2017/05/20 10:00:01 [pull0] finished after 1.2s           (after every run)

So this wrapper

1. writes a config with one pool (the suite, reached through ``ssh``) and one pull job
   (``mapping`` = the profile's ``pull_mapping``) or one push job (``filter`` = the profile's
   ``push_filter``); the job is then called ``pull0`` / ``push0``;
2. writes an ``ssh`` stub (see below) into ``zrepl-original-ssh/`` in the working directory
   and puts that directory first on the original's ``PATH``;
3. runs ``$ZREPL_ORIGINAL_BIN --config zrepl-original-job.yml run`` in its own process group,
   echoing its stderr to ours;
4. stops it (SIGTERM to the group, SIGKILL after 2 s) once the first run of the job has
   finished, and exits 0 if that run succeeded, 1 if a ``notificaiton on job JOB: error=`` line
   came for it. The two lines come from two goroutines, so the notification may follow the
   "finished" line: we wait ``GRACE`` seconds more for it.

The wait is bounded by ``$ZREPL_ORIGINAL_JOB_TIMEOUT`` seconds (default 60; the suite
usually kills us earlier); an original that exits or hangs before its first run finishes is
a failure (exit 1) with one line saying so.

**The ssh stub.** The original's SSH transport (sshbytestream.Outgoing) runs
``ssh -p PORT -q -i IDENTITY_FILE -o BatchMode=yes -o ServerAliveInterval=60 USER@HOST``,
found through the original's ``PATH``, with an EMPTY environment (``Cmd.Env = []string{}``),
and talks the protocol over its stdin/stdout. (Its ``ssh_command`` setting is ignored: a bug
at 35dcfc2.) The stub therefore cannot rely on any inherited variable: it is generated here
with everything baked in -- ``PATH``, the contract variables and the ``{connect}`` command
with an absolute program path -- and ignores all of ssh's arguments.

A wrapper that is killed takes the original along: the original's process group is ours to
stop, and on Linux it also gets SIGKILL when this wrapper dies (``PR_SET_PDEATHSIG``). (A
``{connect}`` command it started then sees its stdin close; it is not killed.)
Standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

BIN_ENV = "ZREPL_ORIGINAL_BIN"
TIMEOUT_ENV = "ZREPL_ORIGINAL_JOB_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
GRACE = 0.5
"""Seconds to wait after ``finished`` for a late ``notificaiton ... error=`` line."""
STOP_WAIT = 2.0
CONFIG_NAME = "zrepl-original-job.yml"
STUB_DIR = "zrepl-original-ssh"
POOL = "conformance"
BAKED_ENV = ("PATH", "ZREPL_CONFORMANCE_PROFILE", "FAKE_ZFS_STATE", "LANG", "LC_ALL", "TMPDIR")
"""Variables the ssh stub sets again (their values when the wrapper started)."""

SERVER_CONFIG = "zrepl-original-server.yml"
PROG = "zrepl-original"


def original_binary() -> str:
    """The original's binary from ``$ZREPL_ORIGINAL_BIN``; one line and exit 2 if unusable."""
    path = os.environ.get(BIN_ENV, "")
    if not path:
        sys.exit(f"{PROG}: {BIN_ENV} is not set (the zrepl binary built from commit 35dcfc2)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit(f"{PROG}: {BIN_ENV}={path} is not an executable file")
    return os.path.abspath(path)


def job_config(kind: str, profile: dict[str, Any], directory: str) -> dict[str, Any]:
    """One pool (``ssh`` to the suite, through the stub) and one pull or push job.

    At 35dcfc2 the ssh transport opens ``connlog_read_file`` / ``connlog_write_file``
    unconditionally (util.NewReadWriteCloserLogger), so both are required: without them every
    run fails with ``open : no such file or directory``. They get what the original read from
    and wrote to the connection, which is handy when reading a case's directory.
    """
    pool = {
        "name": POOL,
        "transport": {
            "ssh": {
                # All ignored by the stub, but the original passes them to ssh.
                "host": "conformance-suite",
                "user": "zrepl",
                "port": 22,
                "identity_file": "/dev/null",
                "connlog_read_file": os.path.join(directory, "zrepl-original-conn.read"),
                "connlog_write_file": os.path.join(directory, "zrepl-original-conn.write"),
            }
        },
    }
    config: dict[str, Any] = {
        "pools": [pool],
        "pushs": [],
        "pulls": [],
        "sinks": [],
        "pull_acls": [],
    }
    if kind == "pull":
        config["pulls"] = [{"from": POOL, "mapping": profile.get("pull_mapping") or {}}]
    else:
        config["pushs"] = [{"to": POOL, "filter": profile.get("push_filter") or {}}]
    return config


def write_stub(directory: str, connect: list[str]) -> str:
    """``DIRECTORY/zrepl-original-ssh/ssh``, exec-ing ``connect``; returns the stub's dir."""
    argv = list(connect)
    if "/" not in argv[0]:
        found = shutil.which(argv[0])
        if found is None:
            sys.exit(f"{PROG}: connect command {argv[0]!r} not found on PATH")
        argv[0] = found
    argv[0] = os.path.abspath(argv[0])
    lines = [
        "#!/bin/sh",
        "# Generated by iut/profiles/zrepl-original/original.py: the original runs",
        "# 'ssh -p PORT -q -i FILE -o ... USER@HOST' with an empty environment;",
        "# ignore all of it and reach the conformance suite through {connect}.",
    ]
    for name in BAKED_ENV:
        value = os.environ.get(name)
        if value is not None:
            lines.append(f"{name}={shlex.quote(value)}; export {name}")
    lines.append("exec " + shlex.join(argv))
    stub_dir = os.path.join(directory, STUB_DIR)
    os.makedirs(stub_dir, exist_ok=True)
    stub = os.path.join(stub_dir, "ssh")
    with open(stub, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(stub, 0o755)
    return stub_dir


def _child_setup() -> None:
    """In the child before exec: own process group; die with the wrapper (Linux)."""
    os.setpgid(0, 0)
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _load_prctl() -> Callable[..., int] | None:
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl() if sys.platform.startswith("linux") else None


class Original:
    """The running ``zrepl run``: its stderr, line by line, echoed to ours."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),  # the original logs nothing on stdout
            stderr=subprocess.PIPE,
            env=env,
            preexec_fn=_child_setup,
        )
        assert self.proc.stderr is not None
        self.fd = self.proc.stderr.fileno()
        self.buf = b""
        self.eof = False

    def lines(self, deadline: float) -> Iterator[str]:
        """Yield complete stderr lines until ``deadline`` (monotonic) or end of output."""
        while not self.eof:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                yield line.decode("utf-8", "replace")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return
            chunk = os.read(self.fd, 65536)
            if chunk:
                sys.stderr.buffer.write(chunk)
                sys.stderr.flush()
                self.buf += chunk
            else:
                self.eof = True
                if self.buf:
                    yield self.buf.decode("utf-8", "replace")
                    self.buf = b""

    def stop(self) -> None:
        """SIGTERM to the group (zrepl and its ssh stubs), SIGKILL after STOP_WAIT."""
        pgid = self.proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
            if sig == signal.SIGTERM:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(STOP_WAIT)
        self.proc.wait()
        # Echo what is left of its log (bounded: the pipe may be held by a stray child).
        for _ in self.lines(time.monotonic() + 0.2):
            pass


def server_config(profile: dict[str, Any]) -> dict[str, Any]:
    """``pull_acls`` for the profile's identity (none for a ``null`` ACL) and ``sinks``."""
    acl = profile.get("pull_acl")
    acls = [] if acl is None else [{"from": profile.get("identity", ""), "mapping": acl}]
    sinks = [{"from": who, "mapping": m} for who, m in (profile.get("sinks") or {}).items()]
    return {"pools": [], "pushs": [], "pulls": [], "sinks": sinks, "pull_acls": acls}


def read_profile(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            profile = json.load(f)
    except (OSError, ValueError) as exc:
        sys.exit(f"{PROG}: cannot read the profile {path}: {exc}")
    if not isinstance(profile, dict):
        sys.exit(f"{PROG}: the profile {path} is not a JSON object")
    return profile


def serve(profile_path: str, identity: str) -> int:
    """Write the server config, then become ``zrepl stdinserver`` (one connection)."""
    binary = original_binary()
    config = os.path.join(os.getcwd(), SERVER_CONFIG)
    with open(config, "w", encoding="utf-8") as f:
        json.dump(server_config(read_profile(profile_path)), f, indent=1)
        f.write("\n")
    os.execv(binary, [binary, "--config", config, "stdinserver", "--identity", identity])


USAGE = (
    f"usage: {PROG} check | {PROG} server PROFILE IDENTITY | {PROG} pull|push PROFILE -- CONNECT..."
)


def main(argv: list[str]) -> int:
    if argv == ["check"]:  # the description's ``check``: is the binary there?
        original_binary()
        return 0
    if len(argv) == 3 and argv[0] == "server":
        return serve(argv[1], argv[2])
    if len(argv) < 4 or argv[0] not in ("pull", "push") or argv[2] != "--":
        print(USAGE, file=sys.stderr)
        return 2
    return run_job(argv[0], argv[1], argv[3:])


def run_job(kind: str, profile_path: str, connect: list[str]) -> int:
    """One run of one pull or push job of the original; its exit status is the job's."""
    binary = original_binary()
    try:
        timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    except ValueError:
        sys.exit(f"{PROG}: {TIMEOUT_ENV} must be a number of seconds")
    profile = read_profile(profile_path)
    here = os.getcwd()
    config = os.path.join(here, CONFIG_NAME)
    with open(config, "w", encoding="utf-8") as f:
        json.dump(job_config(kind, profile, here), f, indent=1)
        f.write("\n")
    stub_dir = write_stub(here, connect)
    env = dict(os.environ)
    env["PATH"] = stub_dir + (os.pathsep + env["PATH"] if env.get("PATH") else "")

    job = f"{kind}0"
    # Not anchored at the line start: the original sometimes prints text without a newline
    # just before (e.g. "close request conn.Close()" when closing the connection).
    finished = re.compile(r"jobrun [0-9/]+ [0-9:]+ \[" + job + r"\] finished after ")
    failed = re.compile(r"notificaiton on job " + job + r": error=")

    original = Original([binary, "--config", config, "run"], env)

    def on_signal(signum: int, _frame: object) -> None:
        original.stop()
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    error = False
    done = False
    deadline = time.monotonic() + timeout
    for line in original.lines(deadline):
        if failed.search(line):
            error = True
        if finished.search(line):  # same line possible: see the comment on ``finished``
            done = True
            break
    if done and not error:
        for line in original.lines(time.monotonic() + GRACE):
            if failed.search(line):
                error = True
                break
    status = original.proc.poll()
    original.stop()

    if not done:
        if status is not None:
            why = f"exited with status {status}"
        elif original.eof:
            why = "closed its log"
        else:
            why = f"did not finish it within {timeout:g} s ({TIMEOUT_ENV})"
        print(f"{PROG}: the original's first {job} run never finished: it {why}", file=sys.stderr)
        return 1
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
