"""A fake of OpenZFS for replication tests: model, send streams, fixtures, ``fake-zfs`` CLI.

Public API (everything a handler, a replication job or a test needs)::

    from fakes.zfs import FakeZfs, ZfsError, load_fixture, demo_fixture, synthetic_fixture

    zfs = FakeZfs.in_memory()                       # demo fixture in memory
    zfs = FakeZfs.in_memory(load_fixture(path))     # any TOML fixture
    FakeZfs.init_state(path, fixture)               # create a CLI state file
    zfs = FakeZfs.open(path)                        # share a state file with fake-zfs

    zfs.list_filesystems()                          # zfs list -H -p -o name -r -t fs,vol
    zfs.list_versions("pool/data")                  # snapshots+bookmarks by createtxg
    zfs.list(roots, types=..., recursive=..., depth=..., sort=..., properties=...)
    zfs.create(name, parents=..., volsize=..., properties=...)
    zfs.snapshot("pool/data@s1"); zfs.bookmark("pool/data@s1", "pool/data#s1")
    zfs.destroy(name, recursive=...); zfs.set(name, {"readonly": "on"}); zfs.get(name, prop)
    stream = zfs.send("pool/data@s2", "pool/data@s1")   # .read(n), iterate, .size
    zfs.receive("backup/data", stream, force=False, nomount=True)
    zfs.write("pool/data", 4096)                    # simulate data changes

Failures raise :class:`ZfsError` with ``.message`` (the real OpenZFS stderr text) and
``.exit_code`` (1 operational, 2 usage). Module map: :mod:`.engine` (operations),
:mod:`.query` (list/get traversal and property values), :mod:`.stream` (stream format),
:mod:`.content` (payload generation), :mod:`.fixtures`, :mod:`.store` (SQLite schema),
:mod:`.names`, :mod:`.numbers`, :mod:`.properties`; the command line is ``fakes.zfs_cli``.
"""

from .engine import FakeZfs, Listed, ReceiveResult, Version
from .errors import DatasetOpenError, StateError, ZfsError, ZfsUsageError
from .fixtures import (
    BookmarkSpec,
    DatasetSpec,
    Fixture,
    FixtureError,
    PoolSpec,
    SnapshotSpec,
    demo_fixture,
    load_fixture,
    parse_fixture,
    synthetic_fixture,
)
from .query import PropValue, ZfsObject
from .stream import SendStream, StreamHeader, StreamReader

__all__ = [
    "BookmarkSpec",
    "DatasetOpenError",
    "DatasetSpec",
    "FakeZfs",
    "Fixture",
    "FixtureError",
    "Listed",
    "PoolSpec",
    "PropValue",
    "ReceiveResult",
    "SendStream",
    "SnapshotSpec",
    "StateError",
    "StreamHeader",
    "StreamReader",
    "Version",
    "ZfsError",
    "ZfsObject",
    "ZfsUsageError",
    "demo_fixture",
    "load_fixture",
    "parse_fixture",
    "synthetic_fixture",
]
