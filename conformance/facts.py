"""What a fixture holds, for building requests and checking answers against the fake ZFS.

Cases name snapshots by position ("the newest snapshot of pool/data") and let
:class:`FixtureFacts` supply the real names and GUIDs, so the catalog does not hard-code the
demo fixture's values. :meth:`FixtureFacts.send_stream` is the ground truth for transfer
cases: the bytes ``zfs send`` of the fixture produces, against which an implementation's
stream is compared byte for byte.
"""

from __future__ import annotations

import io
import threading
from functools import lru_cache
from pathlib import Path

from bytestreamrpc.messages import DatasetPath, FilesystemVersion
from fakes.zfs import FakeZfs
from fakes.zfs.stream import StreamFormatError, StreamReader


class FixtureFacts:
    """Datasets, versions and send streams of one fixture's initial state."""

    def __init__(self, state: Path) -> None:
        self.state = state
        zfs = FakeZfs.open(state)
        try:
            self.datasets: list[str] = zfs.list_filesystems()
            self._versions = {
                ds: [FilesystemVersion(v.type, v.name, v.guid, v.createtxg) for v in vs]
                for ds in self.datasets
                if (vs := zfs.list_versions(ds))
            }
        finally:
            zfs.close()
        self._lock = threading.Lock()

    def listing(self) -> dict[str, list[tuple[str, str, int]]]:
        """Every dataset with its versions as (type, name, guid): the state's fingerprint."""
        return {ds: [(v.type, v.name, v.guid) for v in self.versions(ds)] for ds in self.datasets}

    def versions(self, dataset: str) -> list[FilesystemVersion]:
        return list(self._versions.get(dataset, []))

    def snapshots(self, dataset: str) -> list[FilesystemVersion]:
        return [v for v in self.versions(dataset) if v.type == "snapshot"]

    def snapshot(self, dataset: str, index: int) -> FilesystemVersion:
        """The ``index``-th snapshot (oldest first; negative counts from the newest)."""
        snaps = self.snapshots(dataset)
        if not snaps:
            raise KeyError(f"fixture has no snapshot of {dataset}")
        return snaps[index]

    def bookmarks(self, dataset: str) -> list[FilesystemVersion]:
        return [v for v in self.versions(dataset) if v.type == "bookmark"]

    @staticmethod
    def path(dataset: str) -> DatasetPath:
        return DatasetPath.from_string(dataset)

    def send_stream(
        self, dataset: str, to: FilesystemVersion, from_: FilesystemVersion | None = None
    ) -> bytes:
        """The exact bytes of ``zfs send [-i FROM] DATASET@TO`` on the fixture."""
        return _send(
            str(self.state),
            to.to_abs_path(self.path(dataset)),
            None if from_ is None else from_.to_abs_path(self.path(dataset)),
        )


@lru_cache(maxsize=32)
def _send(state: str, snapshot: str, from_: str | None) -> bytes:
    zfs = FakeZfs.open(state)
    try:
        return zfs.send(snapshot, from_).read()
    finally:
        zfs.close()


def stream_problem(data: bytes) -> str | None:
    """Why ``data`` is not a complete, valid fake send stream (``None`` if it is)."""
    reader = StreamReader(io.BytesIO(data))
    try:
        reader.read_header()
        reader.verify_payload()
    except StreamFormatError as exc:
        return str(exc)
    return None


def first_difference(a: bytes, b: bytes) -> str:
    """Where two byte strings first differ, for a finding's text."""
    n = min(len(a), len(b))
    for i in range(0, n, 65536):
        if a[i : i + 65536] != b[i : i + 65536]:
            j = next(k for k in range(i, min(i + 65536, n)) if a[k] != b[k])
            return f"first difference at byte {j} (expected {a[j]:#04x}, got {b[j]:#04x})"
    if len(a) != len(b):
        return f"lengths differ: expected {len(a)} bytes, got {len(b)}"
    return "identical"


def state_listing(state: str | Path) -> dict[str, list[tuple[str, str, int]]]:
    """:meth:`FixtureFacts.listing` of a state file as it is now."""
    zfs = FakeZfs.open(state)
    try:
        return {
            ds: [(v.type, v.name, v.guid) for v in zfs.list_versions(ds)]
            for ds in zfs.list_filesystems()
        }
    finally:
        zfs.close()


def snapshot_problem(state: str | Path, snapshot: str, guid: int) -> str | None:
    """Whether ``snapshot`` in the state re-sends as a valid stream of the given GUID."""
    zfs = FakeZfs.open(state)
    try:
        data = zfs.send(snapshot).read()
    except Exception as exc:  # the fake's errors name what is wrong
        return f"cannot send {snapshot}: {exc}"
    finally:
        zfs.close()
    reader = StreamReader(io.BytesIO(data))
    try:
        header = reader.read_header()
        reader.verify_payload()
    except StreamFormatError as exc:
        return f"{snapshot}: content does not verify: {exc}"
    if header.to_guid != guid:
        return f"{snapshot}: GUID {header.to_guid}, expected {guid}"
    return None


def state_property(state: str | Path, name: str, prop: str) -> str | None:
    """``zfs get -H -o value PROP NAME`` on a state file (``None`` if absent)."""
    zfs = FakeZfs.open(state)
    try:
        value = zfs.get(name, prop)
    except Exception:
        return None
    finally:
        zfs.close()
    return None if value is None else value.text
