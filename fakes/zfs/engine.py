"""The fake ZFS engine: every zfs operation replication touches, over one SQLite database.

Construction::

    from fakes.zfs import FakeZfs, demo_fixture, load_fixture
    zfs = FakeZfs.in_memory()                       # demo fixture, private in-memory model
    zfs = FakeZfs.in_memory(load_fixture("x.toml"))  # any fixture
    FakeZfs.init_state("state.sqlite", fixture)      # write a state file (atomic replace)
    zfs = FakeZfs.open("state.sqlite")               # use a state file (shared with CLI)

Every public method is one SQLite transaction, so each operation is atomic and concurrent
users of one state file (``fake-zfs`` processes) serialise cleanly. Failures raise
:class:`~fakes.zfs.errors.ZfsError` whose ``message`` is the text real OpenZFS prints and
whose ``exit_code`` is what real ``zfs`` exits with.

:class:`FakeZfs` is composed of one mixin per operation group, each in its own module, so
that a change to one group is read and reviewed without the rest:

* :mod:`.ops_base` – the shared connection, lock and clock, transactions, row plumbing and
  property validation (the base every mixin extends);
* :mod:`.ops_datasets` – ``create``, destroying datasets, ``write``;
* :mod:`.ops_snapshots` – ``snapshot``, ``bookmark``, destroying snapshots and bookmarks;
* :mod:`.ops_listing` – ``exists``, ``list``, ``list_text``, ``get``, ``set``;
* :mod:`.ops_sendrecv` – ``send`` and ``receive`` (all-or-nothing; see there).

This module keeps construction and ``destroy``, whose name decides which group it belongs
to, and re-exports the result types so ``fakes.zfs.engine`` names keep working.

The model: pools (size, next txg), filesystems and volumes (GUID, createtxg, creation time,
referenced bytes, bytes written since the newest snapshot, volsize, mounted flag, local
properties), snapshots (GUID, createtxg, creation, referenced, written since the previous
snapshot, user properties) and bookmarks (GUID and createtxg of their snapshot). Content is
never stored: a stream's payload is derived from GUIDs and sizes (:mod:`fakes.zfs.content`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..closing import Closing
from . import store
from .errors import StateError
from .names import split_version

# The dataset constants were defined here before the split; "X as X" keeps them importable.
from .ops_datasets import EMPTY_FS_REFERENCED as EMPTY_FS_REFERENCED
from .ops_datasets import EMPTY_VOLUME_REFERENCED as EMPTY_VOLUME_REFERENCED
from .ops_datasets import MAX_NESTING as MAX_NESTING
from .ops_datasets import VOLBLOCKSIZE as VOLBLOCKSIZE
from .ops_datasets import DatasetOps
from .ops_listing import Listed, ListingOps, Version
from .ops_sendrecv import ReceiveResult, SendReceiveOps
from .ops_snapshots import SnapshotOps

if TYPE_CHECKING:
    from .fixtures import Fixture

__all__ = ["FakeZfs", "Listed", "ReceiveResult", "Version"]


class FakeZfs(DatasetOps, SnapshotOps, ListingOps, SendReceiveOps, Closing):
    """The fake ZFS. See the module docstring for construction and guarantees."""

    # ------------------------------------------------------------------ construction
    @classmethod
    def in_memory(
        cls, fixture: Fixture | None = None, *, clock: Callable[[], int] | None = None
    ) -> FakeZfs:
        """A private in-memory model loaded with ``fixture`` (the demo fixture if omitted)."""
        from .fixtures import demo_fixture, install_fixture

        conn = store.connect(":memory:")
        fx = fixture if fixture is not None else demo_fixture()
        with store.write_txn(conn):
            store.init_schema(conn, seed=fx.seed)
            install_fixture(conn, fx)
        return cls(conn, clock=clock)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        clock: Callable[[], int] | None = None,
    ) -> FakeZfs:
        """Use an existing state file. Raises :class:`StateError` if it is missing or bad."""
        import sqlite3

        label = os.fspath(path)
        if not os.path.exists(label):
            raise StateError(
                f"fake-zfs: state file '{label}' does not exist (run 'fake-zfs init' first)"
            )
        try:
            conn = store.connect(label, timeout=timeout)
            with store.read_txn(conn):
                store.verify_schema(conn, label)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"fake-zfs: cannot use state file '{label}': {exc}") from exc
        return cls(conn, clock=clock, label=label)

    @staticmethod
    def init_state(path: str | os.PathLike[str], fixture: Fixture | None = None) -> None:
        """Create (or atomically replace) the state file ``path`` holding ``fixture``."""
        import sqlite3

        from .fixtures import demo_fixture, install_fixture

        target = Path(path)
        fx = fixture if fixture is not None else demo_fixture()
        directory = target.parent if str(target.parent) else Path(".")
        fd, tmp_name = tempfile.mkstemp(prefix=".fake-zfs-", suffix=".tmp", dir=directory)
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp_name, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=OFF")
                conn.execute("PRAGMA synchronous=OFF")
                conn.execute("BEGIN")
                store.init_schema(conn, seed=fx.seed)
                install_fixture(conn, fx)
                conn.execute("COMMIT")
            finally:
                conn.close()
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp made it 0600
            os.replace(tmp_name, target)
        except BaseException:
            with _suppress_os_error():
                os.unlink(tmp_name)
            raise

    # ------------------------------------------------------------------ destroy
    def destroy(self, name: str, *, recursive: bool = False) -> list[str]:
        """``zfs destroy [-r] NAME`` for a dataset, ``FS@SNAPS`` or ``FS#MARK``.

        Returns the full names destroyed. ``FS@SNAPS`` accepts the real snapshot spec:
        comma-separated names and ``first%last`` ranges.
        """
        fs, delim, rest = split_version(name)
        with self._write():
            if delim == "@":
                return self._destroy_snapshots(fs, rest, recursive)
            if delim == "#":
                return self._destroy_bookmark(name, fs, rest, recursive)
            return self._destroy_dataset(name, recursive)


class _suppress_os_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        return isinstance(exc, OSError)
