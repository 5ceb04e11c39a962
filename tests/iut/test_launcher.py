"""The implementation-under-test launcher (package ``iut``): descriptions, sandboxes, processes."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import iut
from bytestreamrpc.client import Client
from bytestreamrpc.messages import FilesystemRequest
from bytestreamrpc.server import Server
from iut import (
    BUILTIN_FIXTURE,
    PROFILE_ENV,
    STATE_ENV,
    FixtureCache,
    IUTError,
    Sandbox,
    SpecError,
    launch,
    load_spec,
    reference_spec,
    render_command,
    spec_from_server_cmd,
    start_client,
    start_server,
)
from iut.spec import REFERENCE_SERVER, IUTSpec
from tests.support.recordings_standin import StandInHandler

STANDIN = str(Path(__file__).parent.parent / "support" / "recordings_standin.py")
PY = sys.executable


@pytest.fixture(scope="module")
def cache() -> Iterator[FixtureCache]:
    with FixtureCache() as c:
        yield c


# --------------------------------------------------------------------------- spec


def write(tmp_path: Path, text: str, name: str = "impl.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_load_full_description(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
name = "port"
server = "my-zrepl stdinserver --identity {identity} --config '{profile}'"
pull = ["my-zrepl", "pull", "--state", "{state}", "--", "{connect}"]
timeout = 7
[env]
LOG = "debug {identity}"
[exclude]
"client.stall" = "no timeouts"
[expect_fail]
"frame.one-byte" = "known bug"
""",
    )
    spec = load_spec(p)
    assert spec.name == "port"
    assert spec.server == (
        "my-zrepl",
        "stdinserver",
        "--identity",
        "{identity}",
        "--config",
        "{profile}",
    )
    assert spec.pull == ("my-zrepl", "pull", "--state", "{state}", "--", "{connect}")
    assert spec.push is None
    assert spec.timeout == 7.0
    assert spec.env == {"LOG": "debug {identity}"}
    assert spec.exclude == {"client.stall": "no timeouts"}
    assert spec.expect_fail == {"frame.one-byte": "known bug"}
    assert spec.origin == str(p)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('servr = "x"', "unknown key 'servr'"),
        ('pull = "x"', "missing required key 'server'"),
        ('server = "x"\ntimeout = -1', "key 'timeout' must be a positive number"),
        ('server = "x"\ntimeout = true', "key 'timeout'"),
        ('server = "x {idenity}"', "unknown placeholder {idenity}"),
        ('server = ""', "key 'server': empty command"),
        ('server = "x \'unclosed"', "cannot split command"),
        ("server = 5", "key 'server': must be a string or a list of strings"),
        ('server = "x"\n[env]\nA = 1', "key 'env'.A: must be a string"),
        ('server = "x"\nexclude = "all"', "key 'exclude': must be a table of strings"),
        ('server = "x"\n[exclude]\na = "r"\n[expect_fail]\na = "r"', "both in 'exclude'"),
        ("server = ", "invalid TOML"),
    ],
)
def test_bad_descriptions_name_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_spec(p)
    msg = str(err.value)
    assert msg.startswith(str(p)), msg
    assert fragment in msg
    assert "\n" not in msg


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.toml: cannot read"):
        load_spec(tmp_path / "nope.toml")


def test_server_cmd_shorthand() -> None:
    spec = spec_from_server_cmd("./srv --id {identity}")
    assert spec.server == ("./srv", "--id", "{identity}")
    assert spec.pull is None and spec.push is None
    assert spec.origin == "--server-cmd"
    with pytest.raises(SpecError, match="--server-cmd"):
        spec_from_server_cmd("srv {nope}")


def test_reference_spec_is_a_contract_command() -> None:
    spec = reference_spec()
    assert spec.server == REFERENCE_SERVER
    argv = render_command(spec.server, {"identity": "bob", "profile": "/p.json", "state": "/s"})
    assert argv[:3] == [sys.executable, "-m", "zrepl_conformance"]
    assert argv[3:] == ["serve", "--stdio", "--identity", "bob", "--profile", "/p.json"]
    assert spec.pull is not None and "{connect}" in spec.pull
    assert spec.push is not None and "{connect}" in spec.push


def test_placeholders_substitute_per_argument() -> None:
    values = {
        "identity": "a b; rm -rf /",
        "profile": "/dir with space/p.json",
        "state": "/s",
        "connect": ["python", "-m", "iut.connect", "unix:/tmp/a b.sock"],
    }
    argv = render_command(
        ("tool", "--id={identity}", "{profile}", "--", "{connect}", "--ssh={connect}", '{"a":{}}'),
        values,
    )
    assert argv[:3] == ["tool", "--id=a b; rm -rf /", "/dir with space/p.json"]
    assert argv[3:8] == ["--", "python", "-m", "iut.connect", "unix:/tmp/a b.sock"]
    assert shlex.split(argv[8].removeprefix("--ssh=")) == values["connect"]
    assert argv[9] == '{"a":{}}'  # only {name} is a placeholder: JSON needs no escaping


def test_placeholder_without_value() -> None:
    with pytest.raises(SpecError, match=r"server: placeholder \{connect\} has no value"):
        render_command(("x", "{connect}"), {"identity": "a"}, what="server")


# --------------------------------------------------------------------------- sandbox


def test_sandbox_layout_and_environment(cache: FixtureCache) -> None:
    profile = {"identity": "carol", "pull_acl": {"pool*": "x"}}
    with Sandbox(cache, profile=profile) as sb:
        assert sb.identity == "carol"
        assert json.loads(sb.profile.read_text()) == profile
        assert sb.state.stat().st_size > 0
        env = sb.environment({"EXTRA": "{identity}@{state}"}, base={"PATH": "/usr/bin:/bin"})
        assert env["PATH"].split(os.pathsep)[0] == str(sb.bin)
        assert env[STATE_ENV] == str(sb.state)
        assert env[PROFILE_ENV] == str(sb.profile)
        assert env["EXTRA"] == f"carol@{sb.state}"
        # the fake zfs is `zfs` on PATH and acts on this sandbox's state
        out = subprocess.run(
            ["zfs", "list", "-H", "-o", "name", "-r", "pool/data"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=sb.dir,
        ).stdout.split()
        assert out == ["pool/data", "pool/data/db", "pool/data/home"]
        where = sb.dir
    assert not where.exists()


def test_sandboxes_get_independent_copies(cache: FixtureCache) -> None:
    with Sandbox(cache, identity="x") as a, Sandbox(cache, identity="y") as b:
        assert a.state != b.state and a.identity == "x"
        env = a.environment()
        subprocess.run(["zfs", "destroy", "-r", "pool/vol1"], env=env, check=True, cwd=a.dir)
        names_a = subprocess.run(
            ["zfs", "list", "-H", "-o", "name"], env=env, capture_output=True, text=True
        ).stdout.split()
        names_b = subprocess.run(
            ["zfs", "list", "-H", "-o", "name"],
            env=b.environment(),
            capture_output=True,
            text=True,
        ).stdout.split()
        assert "pool/vol1" not in names_a
        assert "pool/vol1" in names_b


def test_fixture_initialised_once_per_fixture(tmp_path: Path) -> None:
    """A stand-in fake-zfs counts ``init`` calls: three sandboxes, two fixtures, two inits."""
    log = tmp_path / "inits.log"
    stub = tmp_path / "stub.py"
    stub.write_text(
        "import os, sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "open(os.environ['FAKE_ZFS_STATE'], 'w').write('state')\n"
    )
    fixture = tmp_path / "f.toml"
    fixture.write_text("# any\n")
    with FixtureCache(tmp_path / "cache", fake_zfs=[PY, str(stub)]) as c:
        for fx in (None, BUILTIN_FIXTURE, str(fixture)):
            with Sandbox(c, fixture=fx) as sb:
                assert sb.state.read_text() == "state"
        with Sandbox(c, fixture=str(fixture)):
            pass
    assert log.read_text().splitlines() == ["init", f"init --fixture {fixture.resolve()}"]


def test_failing_fixture_init_is_one_error(tmp_path: Path) -> None:
    with FixtureCache(tmp_path / "c") as c, pytest.raises(IUTError, match="fake-zfs init"):
        bad = tmp_path / "bad.toml"
        bad.write_text("this is [not toml")
        Sandbox(c, fixture=str(bad))
    with FixtureCache(tmp_path / "d") as c, pytest.raises(IUTError, match=r"missing\.toml"):
        Sandbox(c, fixture=str(tmp_path / "missing.toml"))


# --------------------------------------------------------------------------- processes


def test_server_over_its_stdio(cache: FixtureCache) -> None:
    spec = spec_from_server_cmd(f"{PY} {STANDIN} --identity {{identity}}")
    with start_server(spec, cache, identity="dave") as running:
        client = Client.connect(running.transport, timeout=10)
        names = [p.to_string() for p in client.filesystem_request(FilesystemRequest())]
        client.close_request()
        assert names == ["pool/data", "pool/data/child"]
        status = running.close()
    assert status.kind == "ok" and status.returncode == 0


def test_reference_server_runs_in_its_sandbox(cache: FixtureCache) -> None:
    profile = {"identity": "erin", "pull_acl": {"pool/data*": "x"}}
    with start_server(reference_spec(), cache, profile=profile) as running:
        client = Client.connect(running.transport, timeout=10)
        names = [p.to_string() for p in client.filesystem_request(FilesystemRequest())]
        client.close_request()
    assert names == ["pool/data", "pool/data/db", "pool/data/home"]
    assert running.status is not None and running.status.kind == "ok"


@pytest.mark.parametrize(("code", "kind"), [(0, "ok"), (3, "failed"), (89, "unimplemented")])
def test_exit_kinds(tmp_path: Path, code: int, kind: str) -> None:
    proc = launch([PY, "-c", f"import sys; sys.exit({code})"], env=dict(os.environ), cwd=tmp_path)
    status = proc.finish(10)
    assert status.returncode == code
    assert status.kind == kind
    assert not status.timed_out


def test_an_exit_status_without_a_code_is_a_timeout() -> None:
    """A reference thread that is still running has no code (it cannot be killed)."""
    status = iut.ExitStatus(None, timed_out=True)
    assert status.kind == "timeout"
    assert status.describe() == "still running after its timeout"
    assert iut.ExitStatus(-9, timed_out=True).describe() == "killed after its timeout"
    with pytest.raises(ValueError, match="must be a timeout"):
        iut.ExitStatus(None)


def test_signal_exit(tmp_path: Path) -> None:
    proc = launch(
        [PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"],
        env=dict(os.environ),
        cwd=tmp_path,
    )
    status = proc.finish(10)
    assert status.kind == "signal"
    assert "SIGTERM" in status.describe()


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in state


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pidfile}; sleep 60"
    proc = launch(["/bin/sh", "-c", script], env=dict(os.environ), cwd=tmp_path)
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child = int(pidfile.read_text())
    start = time.monotonic()
    status = proc.finish(0.3)
    assert time.monotonic() - start < 5
    assert status.timed_out and status.kind == "timeout"
    deadline = time.monotonic() + 5
    while not _gone(child):
        assert time.monotonic() < deadline, "the background child survived"
        time.sleep(0.01)


def test_stderr_is_captured_and_bounded(tmp_path: Path) -> None:
    code = "import sys; sys.stderr.write('x' * 200000 + 'THE END'); sys.exit(1)"
    proc = launch([PY, "-c", code], env=dict(os.environ), cwd=tmp_path)
    assert proc.finish(10).kind == "failed"
    text = proc.stderr_text(limit=1000)
    assert text.endswith("THE END")
    assert "omitted" in text.splitlines()[0]
    assert len(text) < 1100


def test_unknown_program_is_an_iut_error(tmp_path: Path) -> None:
    with pytest.raises(IUTError, match="cannot start"):
        launch(["/nonexistent/zrepl"], env=dict(os.environ), cwd=tmp_path)


CLIENT = (
    "import sys\n"
    "from bytestreamrpc.client import Client\n"
    "from bytestreamrpc.messages import FilesystemRequest\n"
    "from bytestreamrpc.transport import SubprocessTransport\n"
    "t = SubprocessTransport(sys.argv[1:])\n"
    "c = Client.connect(t, timeout=10)\n"
    "print(len(c.filesystem_request(FilesystemRequest())))\n"
    "c.close_request()\n"
    "sys.exit(t.wait(10))\n"
)


def test_client_reaches_us_through_connect(cache: FixtureCache) -> None:
    """A client command gets ``{connect}``; our side of the connection is a transport."""
    spec = IUTSpec(server=("unused",), pull=(PY, "-c", CLIENT, "{connect}"), origin="test")
    with start_client(spec, "pull", cache) as running:
        transport = running.accept(10)
        outcome = Server(StandInHandler(10), identity="x", timeout=10).serve(transport)
        status = running.close()
        assert (running.sandbox.dir / "stdout.txt").exists() is False  # sandbox removed
    assert outcome.requests == 3  # version, filesystems, close
    assert status.kind == "ok", running.stderr


def test_client_that_cannot_start_leaves_no_sandbox_even_when_kept(
    cache: FixtureCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Path] = []
    real = iut.launcher.Sandbox

    def recording(*args: object, **kw: object) -> iut.Sandbox:
        box = real(*args, **kw)  # type: ignore[arg-type]
        made.append(box.dir)
        return box

    monkeypatch.setattr(iut.launcher, "Sandbox", recording)
    spec = IUTSpec(server=("unused",), pull=("/nonexistent/client", "{connect}"), origin="test")
    with pytest.raises(iut.IUTError, match="cannot start /nonexistent/client"):
        start_client(spec, "pull", cache, keep=True)
    assert len(made) == 1 and not made[0].exists()


def test_client_that_never_connects_times_out(cache: FixtureCache) -> None:
    from bytestreamrpc.errors import PeerTimeout

    spec = IUTSpec(server=("unused",), push=(PY, "-c", "pass", "{connect}"), origin="test")
    with start_client(spec, "push", cache) as running, pytest.raises(PeerTimeout):
        running.accept(0.3)


def test_reference_pull_job_through_the_contract(cache: FixtureCache) -> None:
    """The reference ``pull`` command from :func:`reference_spec` pulls from our server."""
    from fakes.profile import profile_from_obj
    from fakes.reference import Reference
    from fakes.zfs import FakeZfs

    profile = {"identity": "frank", "pull_mapping": {"pool/data/home": "backup/zrepl/home"}}
    server_zfs = FakeZfs.in_memory()
    server_ref = Reference(server_zfs, profile_from_obj({"pull_acl": {"pool*": "x"}}), "frank")
    with start_client(reference_spec(), "pull", cache, profile=profile) as running:
        transport = running.accept(20)
        Server(server_ref.handler(), identity="frank", timeout=20).serve(transport)
        state = running.sandbox.state
        pulled = FakeZfs.open(state).list_versions("backup/zrepl/home")
        status = running.close()
    assert status.kind == "ok", running.stderr
    newest = server_zfs.list_versions("pool/data/home")[-1]
    assert [v.guid for v in pulled] == [newest.guid]


def test_reference_jobs_read_their_mapping_from_the_profile(tmp_path: Path) -> None:
    """``pull|push --profile FILE`` (the reference's contract commands) take the profile's
    mapping; a profile that is not one is a one-line usage error."""
    prof = tmp_path / "p.json"
    prof.write_text('{"push_filter": "not a mapping"}')
    env = {**os.environ, "FAKE_ZFS_STATE": str(tmp_path / "s.sqlite")}
    res = subprocess.run(
        [PY, "-m", "zrepl_conformance", "push", "--profile", str(prof), "--", "true"],
        cwd=prof.parent, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert res.returncode == 2
    assert "push_filter must be an object" in res.stderr and "Traceback" not in res.stderr
    assert "--profile" in " ".join(iut.reference_spec().push or ())
