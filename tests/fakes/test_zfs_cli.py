"""The ``fake-zfs`` command: exact output and error texts, real invocations, concurrency.

Most cases run ``main(argv)`` in-process (fast); the invocations the original zrepl makes are
also run as real processes through a ``zfs`` wrapper on ``PATH``, including pipelines.
"""

# ruff: noqa: E501 -- tables of exact zfs messages read best one case per line

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes import zfs_cli
from tests.fakes.zfs.test_model import B0, FIXTURE_TOML, S0, S1

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- helpers
def _env(state: Path, bin_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["FAKE_ZFS_STATE"] = str(state)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["TZ"] = "UTC"
    env.pop("POSIXLY_CORRECT", None)
    if bin_dir is not None:
        env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    return env


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state file made by ``fake-zfs init --fixture`` (itself run as a process)."""
    fixture = tmp_path / "fixture.toml"
    fixture.write_text(FIXTURE_TOML)
    path = tmp_path / "state.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "fakes.zfs_cli", "init", "--fixture", str(fixture)],
        env=_env(path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    return path


@pytest.fixture
def zfs_path(tmp_path: Path) -> Path:
    """A directory holding an executable ``zfs`` that runs the fake."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "zfs"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m fakes.zfs_cli "$@"\n')
    wrapper.chmod(0o755)
    return bin_dir


def zfs(
    state: Path, bin_dir: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``zfs ARGS`` exactly as zrepl does: by name, from PATH."""
    return subprocess.run(
        ["zfs", *args],
        env=_env(state, bin_dir),
        input=stdin,
        capture_output=True,
        check=False,
    )


def shell(state: Path, bin_dir: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], env=_env(state, bin_dir), capture_output=True, text=True,
        check=False,
    )  # fmt: skip


@pytest.fixture
def cli(
    state: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> Iterator[object]:
    """``cli(*args) -> (status, stdout, stderr)`` running ``main`` in this process.

    Output is captured as bytes (an argument that is not UTF-8 is echoed as its raw bytes,
    like the real program) and decoded with ``surrogateescape``.
    """
    monkeypatch.setenv("FAKE_ZFS_STATE", str(state))
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("POSIXLY_CORRECT", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        status = zfs_cli.main(list(args))
        captured = capsysbinary.readouterr()
        return (
            status,
            captured.out.decode("utf-8", "surrogateescape"),
            captured.err.decode("utf-8", "surrogateescape"),
        )

    yield run


def _usage_of(command: str) -> str:
    from fakes.zfs.usage import command_usage

    return command_usage(command)


# ---------------------------------------------------------------- the original's invocations
def test_list_filesystems_and_volumes(state: Path, zfs_path: Path) -> None:
    done = zfs(state, zfs_path, "list", "-H", "-p", "-o", "name", "-r", "-t", "filesystem,volume")
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode() == (
        "backup\nbackup/zrepl\npool\npool/data\npool/data/home\npool/vol1\n"
    )


def test_list_versions_sorted_by_createtxg(state: Path, zfs_path: Path) -> None:
    done = zfs(
        state, zfs_path, "list", "-H", "-p", "-o", "name,guid,createtxg", "-r", "-d", "1",
        "-t", "bookmark,snapshot", "-s", "createtxg", "pool/data",
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode() == (
        f"{S0}\t11111111111111111111\t5\n"
        f"{B0}\t11111111111111111111\t5\n"
        f"{S1}\t18446744073709551615\t7\n"
    )


def test_replication_pipelines(state: Path, zfs_path: Path) -> None:
    local = "backup/zrepl/data"
    initial = shell(state, zfs_path, f"set -o pipefail; zfs send {S0} | zfs recv -u {local}")
    assert (initial.returncode, initial.stdout, initial.stderr) == (0, "", "")
    readonly = zfs(state, zfs_path, "set", "readonly=on", local)
    assert (readonly.returncode, readonly.stdout, readonly.stderr) == (0, b"", b"")
    step = shell(state, zfs_path, f"set -o pipefail; zfs send -i {B0} {S1} | zfs recv {local}")
    assert (step.returncode, step.stderr) == (0, "")
    listed = zfs(
        state, zfs_path, "list", "-H", "-p", "-o", "name,guid,createtxg", "-r", "-d", "1",
        "-t", "bookmark,snapshot", "-s", "createtxg", local,
    )  # fmt: skip
    assert listed.stdout.decode() == (
        f"{local}@zrepl_20170501_000000_000\t11111111111111111111\t4\n"
        f"{local}@zrepl_20170501_010000_000\t18446744073709551615\t5\n"
    )
    props = zfs(
        state, zfs_path, "get", "-H", "-o", "property,value,source", "readonly,mounted", local
    )
    assert props.stdout.decode() == "readonly\ton\tlocal\nmounted\tno\t-\n"
    # The received snapshot can itself be sent on, and an incremental from a snapshot works.
    relay = shell(
        state,
        zfs_path,
        f"set -o pipefail; zfs send {local}@zrepl_20170501_000000_000 | zfs recv backup/copy"
        f" && zfs send -i {S0} {S1} | zfs recv backup/copy",
    )
    assert (relay.returncode, relay.stderr) == (0, "")


def test_incremental_onto_wrong_snapshot(state: Path, zfs_path: Path) -> None:
    first = shell(
        state, zfs_path, "zfs send pool/data/home@zrepl_20170501_000000_000 | zfs recv backup/h"
    )
    assert first.returncode == 0
    # The sender may see a broken pipe when the receiver gives up early (as the real one
    # does): only the receiver's stderr is checked.
    bad = shell(state, zfs_path, f"zfs send -i {S0} {S1} 2>/dev/null | zfs recv backup/h")
    assert bad.returncode == 1
    assert bad.stderr == (
        "cannot receive incremental stream: most recent snapshot of backup/h does not\n"
        "match incremental source\n"
    )
    exists = shell(state, zfs_path, f"zfs send {S0} 2>/dev/null | zfs recv backup/h")
    assert exists.stderr == (
        "cannot receive new filesystem stream: destination 'backup/h' exists\n"
        "must specify -F to overwrite it\n"
    )


def test_damaged_stream_through_the_cli(state: Path, zfs_path: Path) -> None:
    stream = zfs(state, zfs_path, "send", S0).stdout
    assert stream.startswith(b"FZFSSEND")
    cut = zfs(state, zfs_path, "recv", "backup/x", stdin=stream[: len(stream) // 2])
    assert (cut.returncode, cut.stderr) == (
        1,
        b"cannot receive new filesystem stream: incomplete stream\n",
    )
    flipped = bytearray(stream)
    flipped[len(stream) // 2] ^= 1
    bad = zfs(state, zfs_path, "recv", "backup/x", stdin=bytes(flipped))
    assert (bad.returncode, bad.stderr) == (
        1,
        b"cannot receive new filesystem stream: checksum mismatch\n",
    )
    empty = zfs(state, zfs_path, "recv", "backup/x", stdin=b"")
    assert empty.stderr == b"cannot receive: failed to read from stream\n"
    ok = zfs(state, zfs_path, "recv", "backup/x", stdin=stream)
    assert (ok.returncode, ok.stderr) == (0, b"")


def test_send_refuses_a_terminal(state: Path) -> None:
    import pty

    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fakes.zfs_cli", "send", S0],
            env=_env(state),
            stdout=follower,
            stderr=subprocess.PIPE,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 1
    assert done.stderr == (
        b"Error: Stream can not be written to a terminal.\nYou must redirect standard output.\n"
    )


# ---------------------------------------------------------------- output formats
def test_default_list_table(cli) -> None:  # type: ignore[no-untyped-def]
    status, out, err = cli("list")
    row = "{:<14}  {:>5}  {:>5}  {:>5}  {}".format
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        row("NAME", "USED", "AVAIL", "REFER", "MOUNTPOINT"),
        row("backup", "192K", "10.0G", "96K", "/backup"),
        row("backup/zrepl", "96K", "10.0G", "96K", "/backup/zrepl"),
        row("pool", "3.38M", "10.0G", "96K", "/pool"),
        row("pool/data", "3.19M", "10.0G", "1.50M", "/pool/data"),
        row("pool/data/home", "192K", "10.0G", "96K", "/pool/data/home"),
        row("pool/vol1", "96K", "10.0G", "96K", "-"),
    ]


def test_list_literal_widens_numeric_columns(cli) -> None:  # type: ignore[no-untyped-def]
    status, out, _err = cli("list", "-p", "-o", "name,used,guid", "-t", "volume")
    assert status == 0
    # Numeric columns start at five characters (zprop_width) and grow with -p.
    assert out.splitlines() == [
        "NAME        USED   GUID",
        "pool/vol1  98304   1004",
    ]


def test_list_snapshots_of_a_dataset_and_user_property_column(cli) -> None:  # type: ignore[no-untyped-def]
    status, out, _err = cli("list", "-t", "snapshot", "-o", "name,zrepl:owner", "pool/data/home")
    assert status == 0
    assert out == (
        "NAME                                      ZREPL:OWNER\n"
        "pool/data/home@zrepl_20170501_000000_000  alice\n"
    )


def test_get_all_table(cli) -> None:  # type: ignore[no-untyped-def]
    status, out, err = cli("get", "all", "pool/data/home")
    line = "{:<14}  {:<11}  {:<21}  {}".format
    name = "pool/data/home"
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        line("NAME", "PROPERTY", "VALUE", "SOURCE"),
        line(name, "type", "filesystem", "-"),
        line(name, "creation", "Mon May  1  0:03 2017", "-"),
        line(name, "used", "192K", "-"),
        line(name, "available", "10.0G", "-"),
        line(name, "referenced", "96K", "-"),
        line(name, "mounted", "yes", "-"),
        line(name, "mountpoint", "/pool/data/home", "default"),
        line(name, "readonly", "off", "default"),
        line(name, "createtxg", "3", "-"),
        line(name, "guid", "1003", "-"),
        line(name, "written", "0", "-"),
        line(name, "zrepl:owner", "alice", "local"),
    ]


def test_get_scripted_sources_and_recursion(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("set", "readonly=on", "pool/data")[0] == 0
    status, out, _err = cli("get", "-H", "-r", "-s", "local,inherited", "readonly", "pool")
    assert status == 0
    assert out == (
        "pool/data\treadonly\ton\tlocal\npool/data/home\treadonly\ton\tinherited from pool/data\n"
    )
    status, out, _err = cli("get", "-Hp", "-o", "value", "used", "pool/vol1")
    assert (status, out) == (0, "98304\n")


def test_no_datasets_available(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("list", "-t", "snapshot", "backup") == (0, "", "no datasets available\n")
    assert cli("list", "-H", "-t", "snapshot", "backup") == (0, "", "")


def test_create_snapshot_bookmark_destroy_round(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("create", "-p", "-o", "zrepl:x=1", "pool/a/b") == (0, "", "")
    assert cli("create", "-V", "1G", "pool/a/v") == (0, "", "")
    assert cli("snapshot", "-r", "pool/a@s") == (0, "", "")
    assert cli("bookmark", "pool/a/b@s", "#m") == (0, "", "")
    assert cli("list", "-H", "-o", "name", "-t", "all", "-r", "pool/a")[1] == (
        "pool/a\npool/a@s\npool/a/b\npool/a/b@s\npool/a/b#m\npool/a/v\npool/a/v@s\n"
    )
    assert cli("destroy", "-r", "pool/a") == (0, "", "")
    assert cli("list", "pool/a")[2] == "cannot open 'pool/a': dataset does not exist\n"


# ---------------------------------------------------------------- error texts and statuses
ERROR_CASES = [
    (["list", "-q"], 2, "invalid option 'q'\n", "list"),
    (["list", "-o"], 2, "invalid option 'o'\n", "list"),
    (["list", "-t", "bogus"], 2, "invalid type 'bogus'\n", "list"),
    (["list", "-s", "bogus"], 2, "invalid property 'bogus'\n", "list"),
    (["list", "-o", "name,bogus"], 2, "bad property list: invalid property 'bogus'\n", "list"),
    (["list", "-o", ""], 2, "bad property list: no properties specified\n", "list"),
    (["list", "-d", "x"], 2, "x is not an integer\n", "list"),
    (["list", "-d", "-1"], 2, "Depth can not be negative.\n", "list"),
    (["list", "pool/nope"], 1, "cannot open 'pool/nope': dataset does not exist\n", None),
    (["list", "-t", "filesystem", S0], 1, f"cannot open '{S0}': snapshot delimiter '@' is not expected here\n", None),
    (["get"], 2, "missing property argument\n", "get"),
    (["get", "-d"], 2, "missing argument for 'd' option\n", "get"),
    (["get", "-o", "bogus", "all"], 2, "invalid column name 'bogus'\n", "get"),
    (["get", "-s", "bogus", "all"], 2, "invalid source 'bogus'\n", "get"),
    (["get", "bogus", "pool"], 2, "bad property list: invalid property 'bogus'\n", "get"),
    (["set"], 2, "missing arguments\n", "set"),
    (["set", "pool"], 2, "missing property=value argument(s)\n", "set"),
    (["set", "readonly=on"], 2, "missing dataset name(s)\n", "set"),
    (["set", "a:b=1", "a:b=2", "pool"], 255, "property 'a:b' specified multiple times\n", None),
    (["set", "readonly=maybe", "pool/data"], 1, "cannot set property for 'pool/data': 'readonly' must be one of 'on | off'\n", None),
    (["set", "readonly=on", "pool/nope"], 1, "cannot open 'pool/nope': dataset does not exist\n", None),
    (["create"], 2, "missing filesystem argument\n", "create"),
    (["create", "-V"], 2, "missing size argument\n", "create"),
    (["create", "-V", "1G"], 2, "missing volume argument\n", "create"),
    (["create", "a", "b"], 2, "too many arguments\n", "create"),
    (["create", "-u", "-V", "1G", "pool/v"], 2, "'-u' can only be used when creating a filesystem\n", "create"),
    (["create", "-V", "zz", "pool/v"], 1, "bad volume size 'zz': bad numeric value 'zz'\n", None),
    (["create", "-o", "novalue", "pool/v"], 1, "missing '=' for property=value argument\n", None),
    (["create", "pool/a/b"], 1, "cannot create 'pool/a/b': parent does not exist\n", None),
    (["create", "-o", "readonly=x", "pool/c"], 1, "cannot create 'pool/c': 'readonly' must be one of 'on | off'\n", None),
    (["snapshot"], 2, "missing snapshot argument\n", "snapshot"),
    (["snapshot", "pool/data"], 2, "", "snapshot"),
    (["snapshot", "pool/nope@x"], 2, "cannot open 'pool/nope': dataset does not exist\n", "snapshot"),
    (["snap", S0], 1, f"cannot create snapshot '{S0}': dataset already exists\n", None),
    (["bookmark"], 2, "missing source argument\n", "bookmark"),
    (["bookmark", S0], 2, "missing bookmark argument\n", "bookmark"),
    (["bookmark", "pool/data", "#x"], 2, "invalid source name 'pool/data': must contain a '@' or '#'\n", "bookmark"),
    (["bookmark", S0, "pool/data"], 2, "invalid bookmark name 'pool/data': must contain a '#'\n", "bookmark"),
    (["bookmark", "@a", "#b"], 2, "either source or bookmark must be specified as full dataset paths", "bookmark"),
    (["bookmark", "pool/data@nope", "#b"], 2, "cannot open 'pool/data@nope': dataset does not exist\n", "bookmark"),
    (["bookmark", S0, B0], 1, f"cannot create bookmark '{B0}': bookmark exists\n", None),
    (["destroy"], 2, "missing dataset argument\n", "destroy"),
    (["destroy", "a", "b"], 2, "too many arguments\n", "destroy"),
    (["destroy", "-r", B0], 255, "recursive is not supported with bookmark\n", None),
    (["destroy", "pool/data@nope"], 1, "could not find any snapshots to destroy; check snapshot names.\n", None),
    (["destroy", "pool/data/home"], 1, "cannot destroy 'pool/data/home': filesystem has children\nuse '-r' to destroy the following datasets:\npool/data/home@zrepl_20170501_000000_000\n", None),
    (["send"], 2, "missing snapshot argument\n", "send"),
    (["send", "-i"], 2, "missing argument for 'i' option\n", "send"),
    (["send", "-i", "a", "-i", "b", "x"], 2, "", "send"),
    (["send", "a", "b"], 2, "too many arguments\n", "send"),
    (["send", "-Q", "x"], 2, "invalid option 'Q'\n", "send"),
    (["send", "--bogus", "x"], 2, "invalid option '--bogus'\n", "send"),
    (["send", "pool/data@nope"], 1, "cannot open 'pool/data@nope': dataset does not exist\n", None),
    (["send", "-i", S1, S0], 1, f"warning: cannot send '{S0}': not an earlier snapshot from the same fs\n", None),
    (["receive"], 2, "missing snapshot argument\n", "receive"),
    (["recv", "-o"], 2, "missing argument for 'o' option\n", "receive"),
    (["recv", "a", "b"], 2, "too many arguments\n", "receive"),
    (["recv", "-q", "x"], 2, "invalid option 'q'\n", "receive"),
    (["rollback", S0], 2, "fake-zfs: 'zfs rollback' is not supported by the fake\n", None),
    (["list", "-j"], 2, "fake-zfs: option '-j' of 'zfs list' is not supported by the fake\n", None),
]  # fmt: skip


@pytest.mark.parametrize(("args", "status", "message", "usage"), ERROR_CASES)
def test_error_texts(cli, args: list[str], status: int, message: str, usage: str | None) -> None:  # type: ignore[no-untyped-def]
    got_status, out, err = cli(*args)
    assert got_status == status
    assert out == ""
    expected = message + (_usage_of(usage) if usage is not None else "")
    assert err == expected


def test_global_usage_cases(cli) -> None:  # type: ignore[no-untyped-def]
    from fakes.zfs.usage import global_usage

    assert cli() == (2, "", "missing command\n" + global_usage())
    assert cli("bogus") == (2, "", "unrecognized command 'bogus'\n" + global_usage())
    assert cli("--help") == (0, zfs_cli.FAKE_HELP + global_usage(), "")
    assert cli("help") == cli("-?") == cli("--help")
    assert cli("list", "--help") == (2, "", _usage_of("list"))
    assert cli("readonly=on", "pool/data") == (0, "", "")  # "zfs prop=value ..." means set
    # An argument that is not UTF-8 is echoed as its original bytes, as C would.
    assert cli("\udcff")[2].startswith("unrecognized command '\udcff'\n")


def test_send_with_untyped_incremental_source_warns(state: Path, zfs_path: Path) -> None:
    done = zfs(state, zfs_path, "send", "-i", "zrepl_20170501_000000_000", S1)
    assert done.returncode == 0
    assert done.stderr == (
        b"Warning: incremental source didn't specify type, assuming snapshot. "
        b"Use '@' or '#' prefix to avoid ambiguity.\n"
    )
    assert done.stdout.startswith(b"FZFSSEND")


# ---------------------------------------------------------------- state handling
def test_state_problems_are_one_line(tmp_path: Path, state: Path) -> None:
    def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fakes.zfs_cli", "list"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip

    missing = run(_env(tmp_path / "nope.sqlite"))
    assert missing.returncode == 1
    assert missing.stderr == (
        f"fake-zfs: state file '{tmp_path / 'nope.sqlite'}' does not exist "
        "(run 'fake-zfs init' first)\n"
    )
    unset = _env(state)
    del unset["FAKE_ZFS_STATE"]
    assert run(unset).stderr.startswith("fake-zfs: FAKE_ZFS_STATE is not set")
    for garbage in (b"this is not a database at all" * 100, state.read_bytes()[:2000]):
        corrupt = tmp_path / "corrupt.sqlite"
        corrupt.write_bytes(garbage)
        done = run(_env(corrupt))
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("fake-zfs: ")
        assert "Traceback" not in done.stderr


def test_init_rejects_bad_fixture(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[dataset]]\nname = "p/a"\n')
    done = subprocess.run(
        [sys.executable, "-m", "fakes.zfs_cli", "init", "--fixture", str(bad)],
        env=_env(tmp_path / "s.sqlite"), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (
        1,
        "fake-zfs init: fixture: dataset 'p/a': pool 'p' is not declared\n",
    )
    assert not (tmp_path / "s.sqlite").exists()


def _init(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fakes.zfs_cli", "init", *args],
        env=_env(state), capture_output=True, text=True, check=False,
    )  # fmt: skip


def _names(state: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "fakes.zfs_cli", "list", "-H", "-o", "name", "-d", "0"],
        env=_env(state), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.split()


def test_init_refuses_a_file_that_is_not_a_state_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("my precious notes\n")
    refused = _init(target)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"fake-zfs init: '{target}' exists and is not a fake-zfs state; use --force to replace it\n"
    )
    assert target.read_text() == "my precious notes\n"
    # an SQLite file of someone else's is not a state either
    other = tmp_path / "other.sqlite"
    import sqlite3

    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE meta(key TEXT, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('format', 'something else')")
        conn.commit()
    before = other.read_bytes()
    assert _init(other).returncode == 1 and other.read_bytes() == before
    forced = _init(target, "--force")
    assert (forced.returncode, forced.stdout, forced.stderr) == (0, "", "")
    assert _names(target) == ["backup", "pool"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "other.sqlite"]


def test_init_replaces_a_state_or_an_empty_file(tmp_path: Path) -> None:
    fixture = tmp_path / "one.toml"
    fixture.write_text('[[pool]]\nname = "solo"\n')
    state = tmp_path / "state.sqlite"
    state.touch()  # e.g. made by mktemp
    assert _init(state, "--fixture", str(fixture)).returncode == 0
    assert _names(state) == ["solo"]
    again = _init(state)  # a fake-zfs state is replaced without --force
    assert (again.returncode, again.stderr) == (0, "")
    assert _names(state) == ["backup", "pool"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.toml", "state.sqlite"]


def test_init_never_replaces_what_is_not_a_file(tmp_path: Path) -> None:
    for target in (tmp_path, Path(os.devnull)):
        done = _init(target, "--force")
        assert (done.returncode, done.stdout) == (1, "")
        assert (
            done.stderr
            == f"fake-zfs init: '{target}' is not a regular file; it is never replaced\n"
        )
    assert Path(os.devnull).is_char_device()
    assert list(tmp_path.iterdir()) == []


def test_init_help_and_bad_arguments(tmp_path: Path) -> None:
    state = tmp_path / "s.sqlite"
    for flag in ("--help", "-h"):
        shown = _init(state, flag)
        assert (shown.returncode, shown.stderr) == (0, "")
        assert shown.stdout.startswith("usage: fake-zfs init [--fixture FILE] [--force]\n")
        assert "FAKE_ZFS_STATE" in shown.stdout and "--force" in shown.stdout
    for args, why in (
        (["--fixture"], "option '--fixture' needs a FILE"),
        (["--bogus"], "unexpected argument '--bogus'"),
    ):
        bad = _init(state, *args)
        assert (bad.returncode, bad.stdout) == (2, "")
        assert (
            bad.stderr == f"fake-zfs init: {why}\nusage: fake-zfs init [--fixture FILE] [--force]\n"
        )
    assert list(tmp_path.iterdir()) == []


def test_global_help_names_init_and_the_state_variable(tmp_path: Path) -> None:
    env = _env(tmp_path / "none.sqlite")
    del env["FAKE_ZFS_STATE"]  # help needs no state
    done = subprocess.run(
        [sys.executable, "-m", "fakes.zfs_cli", "--help"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    head = done.stdout.split("usage: zfs command args ...")[0]
    assert "FAKE_ZFS_STATE" in head and "init [--fixture FILE] [--force]" in head
    assert list(tmp_path.iterdir()) == []


def test_concurrent_invocations_do_not_corrupt_state(state: Path, zfs_path: Path) -> None:
    script = " & ".join(f"zfs snapshot pool/data/home@c{i}" for i in range(8))
    script += " & " + " & ".join("zfs list -H -t snapshot -r pool >/dev/null" for _ in range(4))
    script += "; wait"
    done = shell(state, zfs_path, script)
    assert done.stderr == ""
    listed = zfs(state, zfs_path, "list", "-H", "-p", "-o", "name,createtxg", "-t", "snapshot",
                 "pool/data/home")  # fmt: skip
    rows = [line.split("\t") for line in listed.stdout.decode().splitlines()]
    made = [r for r in rows if "@c" in r[0]]
    assert len(made) == 8
    assert len({r[1] for r in made}) == 8  # each command its own transaction and txg


# ---------------------------------------------------------------- never a traceback
TOKENS = [
    "list", "get", "set", "create", "snapshot", "bookmark", "destroy", "recv", "-r", "-H",
    "-p", "-o", "-t", "-d", "-s", "-S", "-V", "-F", "-u", "-i", "all", "name", "1", "-1",
    "pool", "pool/data", S0, B0, "pool/x", "readonly=on", "a:b=c", "=", "@", "#", "", "-",
    "--", "snapshot,bookmark", "x@y#z", "pool/data@new", "1G", "\udcff", "é",
]  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(st.sampled_from(TOKENS), max_size=6))
def test_no_traceback_for_any_arguments(cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    status, _out, err = cli(*args)
    assert status in (0, 1, 2, 255)
    assert "internal error" not in err and "Traceback" not in err
    if status in (1, 2):
        assert err  # every failure says why
