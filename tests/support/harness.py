"""Two ways to run the reference server for byte-level tests: in memory and as a subprocess.

Both serve the reference handler over the demo fixture with one of a few
profiles, so a test written once checks our ``Server`` class and the real
``zrepl-conformance serve --stdio`` command alike.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading

from bytestreamrpc.connection import State
from bytestreamrpc.server import Server
from bytestreamrpc.serving import ServeOutcome
from bytestreamrpc.transport import SubprocessTransport, Transport, memory_pair
from fakes.profile import Profile, profile_from_obj
from fakes.reference import Reference
from fakes.zfs import FakeZfs
from fakes.zfs.stream import StreamFormatError, StreamReader
from tests.support.wire import Transcript, parse_replies, read_until_quiet

PROFILES: dict[str, dict[str, object]] = {
    "default": {"identity": "alice", "pull_acl": {"pool/data*": "x"}},
    "no-acl": {"identity": "alice"},
    "local-identity": {"identity": "local", "pull_acl": {"pool/data*": "x"}},
}
VISIBLE = "pool/data"
HIDDEN = "pool/vol1"  # exists, but outside the default pull ACL


def version_json(name: str, guid: int, txg: int) -> bytes:
    return json.dumps(
        {"Type": "snapshot", "Name": name, "Guid": guid, "CreateTXG": txg}, separators=(",", ":")
    ).encode()


class Harness:
    """Base: fixture facts for building requests, and the run/verify interface."""

    def __init__(self, zfs: FakeZfs | None, profile: Profile) -> None:
        self.profile = profile
        self._snaps: dict[str, tuple[str, int, int]] = {}
        if zfs is not None:
            snaps = [v for v in zfs.list_versions(VISIBLE) if v.type == "snapshot"]
            for label, v in zip(("s1", "s2", "s3"), snaps, strict=False):
                self._snaps[label] = (v.name, v.guid, v.createtxg)

    @classmethod
    def placeholder(cls) -> Harness:
        """Enough to enumerate rows without starting anything."""
        return cls(None, Profile())

    def dataset_json(self, which: str) -> bytes:
        name = VISIBLE if which == "visible" else HIDDEN
        return json.dumps(name.split("/")).encode()

    def snapshot_json(self, label: str) -> bytes:
        name, guid, txg = self._snaps.get(label, (label, 1, 1))
        return version_json(name, guid, txg)

    def run(self, data: bytes, *, close_input: bool = True) -> tuple[Transcript, State | None]:
        raise NotImplementedError

    def verify_stream(self, data: bytes) -> bool:
        """True if ``data`` is a complete, valid send stream of the fake ZFS."""
        reader = StreamReader(io.BytesIO(data))
        try:
            reader.read_header()
            reader.verify_payload()
        except StreamFormatError:
            return False
        return True

    def cleanup(self) -> None:
        pass

    def _exchange(self, t: Transport, data: bytes, close_input: bool) -> Transcript:
        with contextlib.suppress(Exception):
            t.write(data, 5)
        if close_input:
            with contextlib.suppress(Exception):
                t.close_write()  # type: ignore[attr-defined]
        # With our input closed the server always ends the connection, so wait for that
        # (bounded) rather than for a quiet spell, which a slow start on a busy machine
        # could exceed.
        raw, closed = read_until_quiet(t, quiet=15.0 if close_input else 0.3, limit=30.0)
        transcript = parse_replies(raw)
        transcript.closed = closed
        return transcript


class MemoryHarness(Harness):
    """Our ``Server`` in a thread over an in-memory pair."""

    def __init__(self, profile: Profile) -> None:
        self.zfs = FakeZfs.in_memory()
        super().__init__(self.zfs, profile)
        self.reference = Reference(self.zfs, profile, profile.identity)

    def run(self, data: bytes, *, close_input: bool = True) -> tuple[Transcript, State | None]:
        a, b = memory_pair()
        outcome: list[ServeOutcome] = []
        server = Server(self.reference.handler(), identity=self.reference.identity, timeout=5)
        thread = threading.Thread(target=lambda: outcome.append(server.serve(b)))
        thread.start()
        transcript = self._exchange(a, data, close_input)
        a.close()
        thread.join(10)
        return transcript, outcome[0].state if outcome else None


class SubprocessHarness(Harness):
    """``zrepl-conformance serve --stdio`` with a state file and a profile file."""

    def __init__(self, profile: Profile) -> None:
        self.dir = tempfile.mkdtemp(prefix="zc-harness-")
        self.state = os.path.join(self.dir, "state.sqlite")
        FakeZfs.init_state(self.state)
        zfs = FakeZfs.open(self.state)
        try:
            super().__init__(zfs, profile)
        finally:
            zfs.close()
        self.profile_path = os.path.join(self.dir, "profile.json")
        with open(self.profile_path, "w", encoding="utf-8") as f:
            f.write(profile.to_json())

    def run(self, data: bytes, *, close_input: bool = True) -> tuple[Transcript, State | None]:
        env = dict(os.environ, FAKE_ZFS_STATE=self.state)
        argv = [sys.executable, "-m", "zrepl_conformance", "serve", "--stdio"]
        t = SubprocessTransport([*argv, "--profile", self.profile_path], env=env)
        try:
            transcript = self._exchange(t, data, close_input)
        finally:
            self.exit_code = t.wait(10)
        return transcript, None

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def make_harness(kind: str, *, profile: str = "default") -> Harness:
    prof = profile_from_obj(PROFILES[profile])
    if kind == "memory":
        return MemoryHarness(prof)
    if kind == "subprocess":
        return SubprocessHarness(prof)
    raise ValueError(kind)
