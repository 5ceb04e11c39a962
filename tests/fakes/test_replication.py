"""Replication end to end (§job.*) over in-memory, subprocess and TCP transports.

Sender and receiver are separate fake ZFS instances. After each job the
receiver must hold the sender's GUIDs; its content was verified by the fake's
receive (payload derived from GUID and size, checksummed), and we re-send each
received snapshot to check it is a valid stream of the same size.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from bytestreamrpc.client import Client
from bytestreamrpc.interfaces import RPCHandler
from bytestreamrpc.local import LocalRequester
from bytestreamrpc.messages import (
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
)
from bytestreamrpc.server import Server, serve_listener
from bytestreamrpc.transport import SubprocessTransport, Transport, connect_socket, memory_pair
from fakes.jobs import JobReport, run_pull, walk_order
from fakes.mapping import parse_mapping
from fakes.profile import Profile, profile_from_obj
from fakes.reference import Reference
from fakes.runjob import run_push
from fakes.zfs import FakeZfs
from fakes.zfs.stream import StreamReader

PULL_MAPPING = {"pool/data*": "backup/zrepl"}
SERVER_PROFILE = {
    "identity": "alice",
    "pull_acl": {"pool/data*": "x"},
    "sinks": {"alice": {"pool/data*": "backup/zrepl"}},
}


def guids(zfs: FakeZfs, dataset: str) -> list[tuple[str, int]]:
    return [(v.type, v.guid) for v in zfs.list_versions(dataset)]


def snapshot_guids(zfs: FakeZfs, dataset: str) -> list[int]:
    return [v.guid for v in zfs.list_versions(dataset) if v.type == "snapshot"]


def assert_resendable(zfs: FakeZfs, dataset: str) -> None:
    """Every snapshot of ``dataset`` produces a stream the fake verifies byte for byte."""
    for v in zfs.list_versions(dataset):
        if v.type != "snapshot":
            continue
        data = zfs.send(f"{dataset}@{v.name}").read()
        reader = StreamReader(io.BytesIO(data))
        header = reader.read_header()
        reader.verify_payload()
        assert header.to_guid == v.guid


@dataclass
class Remote:
    """The sending side: a fake ZFS served by the reference server under a profile."""

    zfs: FakeZfs
    profile: Profile
    connect: Callable[[], Transport]
    close: Callable[[], None]
    state_path: str | None = None


def _receiver() -> FakeZfs:
    z = FakeZfs.in_memory()
    z.create("backup/zrepl/pool")
    return z


@contextlib.contextmanager
def remote_over(kind: str, profile_obj: dict[str, object]) -> Iterator[Remote]:
    profile = profile_from_obj(profile_obj)
    if kind == "memory":
        zfs = FakeZfs.in_memory()
        ref = Reference(zfs, profile, profile.identity)
        threads: list[threading.Thread] = []

        def connect_memory() -> Transport:
            a, b = memory_pair()
            server = Server(ref.handler(), identity=ref.identity, timeout=10)
            t = threading.Thread(target=server.serve, args=(b,), daemon=True)
            t.start()
            threads.append(t)
            return a

        yield Remote(zfs, profile, connect_memory, lambda: None)
        for t in threads:
            t.join(10)
    elif kind == "tcp":
        zfs = FakeZfs.in_memory()
        ref = Reference(zfs, profile, profile.identity)
        stop = threading.Event()
        ready: list[str] = []
        got = threading.Event()

        def on_ready(addr: str) -> None:
            ready.append(addr)
            got.set()

        listener = threading.Thread(
            target=serve_listener,
            args=("tcp://127.0.0.1:0", ref.handler),
            kwargs={"identity": ref.identity, "timeout": 10, "ready": on_ready, "stop": stop},
            daemon=True,
        )
        listener.start()
        assert got.wait(10)
        yield Remote(zfs, profile, lambda: connect_socket(ready[0]), stop.set)
        stop.set()
        listener.join(10)
    else:  # subprocess: `zrepl-conformance serve --stdio` on a state file
        tmp = tempfile.mkdtemp(prefix="zc-repl-")
        state = os.path.join(tmp, "remote.sqlite")
        FakeZfs.init_state(state)
        prof_path = os.path.join(tmp, "profile.json")
        with open(prof_path, "w", encoding="utf-8") as f:
            f.write(profile.to_json())
        env = dict(os.environ, FAKE_ZFS_STATE=state)
        argv = [sys.executable, "-m", "zrepl_conformance", "serve", "--stdio"]
        argv += ["--profile", prof_path]
        zfs = FakeZfs.open(state)
        yield Remote(zfs, profile, lambda: SubprocessTransport(argv, env=env), lambda: None, state)
        zfs.close()


def pull(remote: Remote, local: FakeZfs, mapping: dict[str, str] = PULL_MAPPING) -> JobReport:
    transport = remote.connect()
    client = Client.connect(transport, timeout=10)
    try:
        return run_pull(client, local, parse_mapping(mapping))
    finally:
        client.close_request()
        if isinstance(transport, SubprocessTransport):
            transport.wait(10)


KINDS = ["memory", "subprocess", "tcp"]


@pytest.mark.parametrize("kind", KINDS)
def test_initial_incremental_bookmark_insync_diverged(kind: str) -> None:
    with remote_over(kind, SERVER_PROFILE) as remote:
        local = _receiver()
        # 1. initial: newest snapshot of each dataset, received -u, then readonly=on
        report = pull(remote, local)
        assert report.ok, report.lines()
        assert {r.action for r in report.results} == {"initial"}
        for ds in ("pool/data", "pool/data/home", "pool/data/db"):
            mine = snapshot_guids(local, f"backup/zrepl/{ds}")
            assert mine == [snapshot_guids(remote.zfs, ds)[-1]]
            prop = local.get(f"backup/zrepl/{ds}", "readonly")
            assert prop is not None and prop.text == "on"
            assert_resendable(local, f"backup/zrepl/{ds}")
        # 2. the sender bookmarks and drops the common snapshot, then makes two more
        common = remote.zfs.list_versions("pool/data")[-1]
        remote.zfs.bookmark(f"pool/data@{common.name}", "pool/data#kept")
        remote.zfs.snapshot("pool/data@n1")
        remote.zfs.destroy(f"pool/data@{common.name}")
        remote.zfs.write("pool/data", 123_456)
        remote.zfs.snapshot("pool/data@n2")
        report = pull(remote, local)
        assert report.ok, report.lines()
        by_local = {r.local: r for r in report.results}
        incr = by_local["backup/zrepl/pool/data"]
        assert incr.action == "incremental"
        assert [v.name for v in incr.received] == ["n1", "n2"]
        assert snapshot_guids(local, "backup/zrepl/pool/data") == [
            common.guid,
            *snapshot_guids(remote.zfs, "pool/data")[-2:],
        ]
        assert_resendable(local, "backup/zrepl/pool/data")
        # 3. nothing new: in sync, no transfer
        report = pull(remote, local)
        assert report.ok and {r.action for r in report.results} == {"in-sync"}
        # 4. the receiver makes its own snapshot: divergence is detected, nothing changes
        local.snapshot("backup/zrepl/pool/data@local-only")
        remote.zfs.snapshot("pool/data@n3")
        before = guids(local, "backup/zrepl/pool/data")
        report = pull(remote, local)
        assert not report.ok
        diverged = {r.local: r for r in report.results}["backup/zrepl/pool/data"]
        assert diverged.action == "diverged" and "newer than the last common" in diverged.detail
        assert guids(local, "backup/zrepl/pool/data") == before


def test_missing_local_parent_stops_that_subtree() -> None:
    with remote_over("memory", SERVER_PROFILE) as remote:
        local = FakeZfs.in_memory()  # no backup/zrepl/pool
        report = pull(remote, local)
        assert not report.ok
        lines = "\n".join(report.lines())
        assert "don't know how to create fill-in dataset: backup/zrepl/pool" in lines
        assert "was not replicated" in lines  # children are skipped with a reason
        assert not local.exists("backup/zrepl/pool/data")


class ListingAsGiven(LocalRequester):
    """The reference server's handler, listing ``listing`` and noting what was asked."""

    def __init__(self, handler: RPCHandler, listing: list[str]) -> None:
        super().__init__(handler)
        self.listing = [DatasetPath.from_string(p) for p in listing]
        self.asked: list[str] = []

    def filesystem_request(self, r: FilesystemRequest) -> list[DatasetPath]:
        return list(self.listing)

    def filesystem_versions_request(self, r: FilesystemVersionsRequest) -> list[FilesystemVersion]:
        self.asked.append(r.filesystem.to_string())
        return super().filesystem_versions_request(r)


def test_pull_visits_an_unsorted_listing_in_the_originals_order() -> None:
    # The original's forest walk: parents first, siblings in the order the listing first
    # reached them (here home before db), not sorted (db before home).
    with remote_over("memory", SERVER_PROFILE) as remote:
        handler = Reference(remote.zfs, remote.profile, remote.profile.identity).handler()
        requester = ListingAsGiven(handler, ["pool/data/home", "pool/data/db", "pool/data"])
        report = run_pull(requester, _receiver(), parse_mapping(PULL_MAPPING))
        assert report.ok, report.lines()
        assert requester.asked == ["pool/data", "pool/data/home", "pool/data/db"]
        assert [r.remote for r in report.results] == requester.asked


def test_walk_order_is_first_appearance_top_down() -> None:
    paths = [("b",), ("a", "x", "2"), ("a", "y"), ("a", "x", "1"), ("a",), ("b",)]
    assert walk_order(paths) == [("b",), ("a",), ("a", "x", "2"), ("a", "x", "1"), ("a", "y")]


@pytest.mark.parametrize("kind", KINDS)
def test_push_via_pull_me_with_sink(kind: str) -> None:
    with remote_over(kind, SERVER_PROFILE) as remote:
        remote.zfs.create("backup/zrepl/pool")
        pusher = FakeZfs.in_memory()
        pusher.snapshot("pool/data@pushed")
        transport = remote.connect()
        client = Client.connect(transport, timeout=10)
        report = run_push(client, pusher, parse_mapping({"pool/data*": "x"}))
        client.close_request()
        if isinstance(transport, SubprocessTransport):
            transport.wait(10)
        assert report.ok, report.lines()
        sent = {r.remote for r in report.results}
        assert sent == {"pool/data", "pool/data/home", "pool/data/db"}
        got = snapshot_guids(remote.zfs, "backup/zrepl/pool/data")
        assert got == [snapshot_guids(pusher, "pool/data")[-1]]
        assert_resendable(remote.zfs, "backup/zrepl/pool/data")


@pytest.mark.parametrize("kind", KINDS)
def test_push_denied_for_unknown_identity(kind: str) -> None:
    profile = dict(SERVER_PROFILE, identity="mallory")
    with remote_over(kind, profile) as remote:
        remote.zfs.create("backup/zrepl/pool")
        transport = remote.connect()
        client = Client.connect(transport, timeout=10)
        report = run_push(client, FakeZfs.in_memory(), parse_mapping({"pool/data*": "x"}))
        client.force_close()
        if isinstance(transport, SubprocessTransport):
            transport.wait(10)
        assert not report.ok and report.error is not None
        assert "pull-me did not finish" in report.error
        assert not remote.zfs.exists("backup/zrepl/pool/data")


def test_pull_and_push_commands_report_per_dataset() -> None:
    """The CLI: `pull --mapping JSON -- CONNECT-CMD` and `push --filter JSON -- ...`."""
    with remote_over("subprocess", SERVER_PROFILE) as remote:
        assert remote.state_path is not None
        remote.zfs.create("backup/zrepl/pool")
        tmp = tempfile.mkdtemp(prefix="zc-cli-")
        local_state = os.path.join(tmp, "local.sqlite")
        FakeZfs.init_state(local_state)
        with contextlib.closing(FakeZfs.open(local_state)) as z:
            z.create("backup/zrepl/pool")
        prof = os.path.join(tmp, "p.json")
        with open(prof, "w", encoding="utf-8") as f:
            f.write(remote.profile.to_json())
        serve = [
            "env",
            f"FAKE_ZFS_STATE={remote.state_path}",
            sys.executable,
            "-m",
            "zrepl_conformance",
            "serve",
            "--stdio",
            "--profile",
            prof,
        ]
        env = dict(os.environ, FAKE_ZFS_STATE=local_state)
        cli = [sys.executable, "-m", "zrepl_conformance"]
        res = subprocess.run(
            [*cli, "pull", "--mapping", '{"pool/data*": "backup/zrepl"}', "--", *serve],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert len(lines) == 3 and all(": ok (initial)" in line for line in lines)
        res = subprocess.run(
            [*cli, "push", "--filter", '{"pool/data*": "x"}', "--", *serve],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        assert len(res.stdout.splitlines()) == 3
        # a diverged pull exits non-zero with a line saying so
        with contextlib.closing(FakeZfs.open(local_state)) as z:
            z.snapshot("backup/zrepl/pool/data@mine")
        remote.zfs.snapshot("pool/data@later")
        res = subprocess.run(
            [*cli, "pull", "--mapping", '{"pool/data*": "backup/zrepl"}', "--", *serve],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert res.returncode == 1
        assert "backup/zrepl/pool/data: FAILED (diverged)" in res.stdout
        assert "Traceback" not in res.stderr
