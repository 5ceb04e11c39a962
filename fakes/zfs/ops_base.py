"""The state every operation group of the fake ZFS shares, and the row-level plumbing.

:class:`~fakes.zfs.engine.FakeZfs` is composed of one mixin per operation group
(:mod:`.ops_datasets`, :mod:`.ops_snapshots`, :mod:`.ops_listing`, :mod:`.ops_sendrecv`).
Each group reads and writes the same SQLite connection under the same lock and clock, so
they are declared once here, on :class:`EngineBase`, which every mixin subclasses: mypy
then checks each mixin on its own, and no group can grow a private copy of the state.

What lives here is what more than one group needs: transactions (:class:`_Txn`), GUID and
txg allocation, inserting and deleting dataset and version rows, and the property
validation ``zfs create``, ``zfs snapshot -o`` and ``zfs set`` have in common.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

from . import query, store
from .errors import ZfsError
from .names import FILESYSTEM, SNAPSHOT, VOLUME, parent_name, pool_of
from .numbers import NumberError, nicestrtonum
from .properties import is_user_property, lookup_property
from .query import ZfsObject

if TYPE_CHECKING:
    import sqlite3

__all__ = ["FS_VOL", "EngineBase"]

#: The types a snapshot, a write or a send target's dataset may have.
FS_VOL: Final = frozenset({FILESYSTEM, VOLUME})


def _now() -> int:
    override = os.environ.get("FAKE_ZFS_NOW")
    if override is not None and override.strip().isdigit():
        return int(override)
    return int(time.time())


class EngineBase:
    """The connection, lock and clock of one fake ZFS, and what every operation needs.

    ``_lock`` serialises threads sharing this object; SQLite transactions serialise
    processes sharing a state file. ``_clock`` is the creation time source (overridable so
    tests and recordings are reproducible).
    """

    _conn: sqlite3.Connection
    _clock: Callable[[], int]
    _lock: threading.RLock
    label: str

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        clock: Callable[[], int] | None = None,
        label: str = ":memory:",
    ) -> None:
        self._conn = conn
        self._clock = clock or _now
        self._lock = threading.RLock()
        self.label = label

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def change_count(self) -> int:
        """Rows inserted, updated or deleted through this object so far (SQLite's
        ``total_changes``), rolled-back writes included.

        All of the fake's state is rows of its database, so an unchanged count proves that
        nothing changed through this object: a checker that must show "this request changed
        nothing" can compare two counts instead of re-reading the whole state (the stateful
        fuzzer does so after every step). A state file other processes also write to can
        change without this count moving.
        """
        with self._lock:
            return self._conn.total_changes

    # ------------------------------------------------------------------ transactions
    def _read(self) -> _Txn:
        return _Txn(self, write=False)

    def _write(self) -> _Txn:
        return _Txn(self, write=True)

    # ------------------------------------------------------------------ small helpers
    def _next_txg(self, pool: str) -> int:
        conn = self._conn
        row = conn.execute("SELECT next_txg FROM pools WHERE name = ?", (pool,)).fetchone()
        txg = int(row[0])
        conn.execute("UPDATE pools SET next_txg = ? WHERE name = ?", (txg + 1, pool))
        return txg

    def _new_guid(self, label: str) -> int:
        conn = self._conn
        meta = dict(
            conn.execute(
                "SELECT key, value FROM meta WHERE key IN ('seed', 'guid_counter')"
            ).fetchall()
        )
        counter = int(meta["guid_counter"]) + 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'guid_counter'", (str(counter),))
        return store.derive_guid(int(meta["seed"]), f"runtime:{counter}:{label}")

    def _pool_exists(self, pool: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM pools WHERE name = ?", (pool,)).fetchone()
        return row is not None

    def _dataset(self, name: str) -> ZfsObject | None:
        return query.load_dataset(self._conn, name)

    def _open(self, name: str, types: frozenset[str]) -> ZfsObject:
        return query.open_object(self._conn, name, types)

    def _insert_dataset(
        self,
        name: str,
        dtype: str,
        *,
        txg: int,
        guid: int,
        creation: int,
        referenced: int,
        volsize: int | None,
        mounted: bool,
    ) -> int:
        parent = parent_name(name)
        parent_id = None
        if parent is not None:
            row = self._conn.execute("SELECT id FROM datasets WHERE name = ?", (parent,)).fetchone()
            parent_id = row[0]
        cur = self._conn.execute(
            "INSERT INTO datasets(name, pool, parent, type, guid, createtxg, creation, "
            "referenced, written, volsize, mounted) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                name,
                pool_of(name),
                parent_id,
                1 if dtype == VOLUME else 0,
                store.guid_to_db(guid),
                txg,
                creation,
                referenced,
                0,
                volsize,
                1 if mounted else 0,
            ),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def _insert_version(
        self,
        ds: ZfsObject,
        kind: int,
        short: str,
        *,
        guid: int,
        createtxg: int,
        creation: int,
        referenced: int,
        written: int,
    ) -> int:
        cur = self._conn.execute(
            "INSERT INTO versions(dataset, kind, name, guid, createtxg, creation, referenced, "
            "written) VALUES (?,?,?,?,?,?,?,?)",
            (
                ds.dataset_id,
                kind,
                short,
                store.guid_to_db(guid),
                createtxg,
                creation,
                referenced,
                written,
            ),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    # ------------------------------------------------------------------ properties
    def _validate_props(self, dtype: str, props: Mapping[str, str], errbuf: str) -> dict[str, str]:
        """``zfs_valid_proplist``: check ``props`` for an object of ``dtype``.

        Returns the canonical ``{name: value}`` to store; raises :class:`ZfsError`.
        """
        result: dict[str, str] = {}
        for pname, value in props.items():
            if lookup_property(pname) is None and is_user_property(pname):
                if len(pname) >= 256:
                    raise ZfsError(f"{errbuf}: property name '{pname}' is too long")
                result[pname] = value
                continue
            if dtype == SNAPSHOT:
                raise ZfsError(f"{errbuf}: this property can not be modified for snapshots")
            definition = lookup_property(pname)
            if definition is None:
                raise ZfsError(f"{errbuf}: invalid property '{pname}'")
            if dtype not in definition.types:
                raise ZfsError(f"{errbuf}: '{pname}' does not apply to datasets of this type")
            if definition.readonly:
                raise ZfsError(f"{errbuf}: '{pname}' is readonly")
            if definition.kind == "index":
                if value not in definition.index_values:
                    raise ZfsError(
                        f"{errbuf}: '{definition.name}' must be one of '{definition.values}'"
                    )
            elif definition.kind == "number":
                try:
                    number = nicestrtonum(value)
                except NumberError as exc:
                    raise ZfsError(f"{errbuf}: {exc}") from exc
                if definition.name == "volsize" and number == 0:
                    raise ZfsError(f"{errbuf}: volume size cannot be zero")
                value = str(number)
            elif (
                definition.name == "mountpoint"
                and value not in ("none", "legacy")
                and not value.startswith("/")
            ):
                raise ZfsError(
                    f"{errbuf}: 'mountpoint' must be an absolute path, 'none', or 'legacy'"
                )
            result[definition.name] = value
        return result

    def _store_dataset_props(self, ds_id: int, props: Mapping[str, str]) -> None:
        for pname, value in props.items():
            if pname == "volsize":
                self._conn.execute(
                    "UPDATE datasets SET volsize = ? WHERE id = ?", (int(value), ds_id)
                )
                continue
            self._conn.execute(
                "INSERT OR REPLACE INTO dataset_props(dataset, name, value) VALUES (?,?,?)",
                (ds_id, pname, value),
            )

    def _delete_dataset(self, ds_id: int) -> None:
        conn = self._conn
        conn.execute(
            "DELETE FROM version_props WHERE version IN "
            "(SELECT id FROM versions WHERE dataset = ?)",
            (ds_id,),
        )
        conn.execute("DELETE FROM versions WHERE dataset = ?", (ds_id,))
        conn.execute("DELETE FROM dataset_props WHERE dataset = ?", (ds_id,))
        conn.execute("DELETE FROM orphan_writes WHERE dataset = ?", (ds_id,))
        conn.execute("DELETE FROM datasets WHERE id = ?", (ds_id,))

    def _delete_snapshot(self, snap: ZfsObject) -> None:
        """Remove a snapshot; the bytes it recorded stay in the dataset's write history."""
        conn = self._conn
        conn.execute(
            "INSERT INTO orphan_writes(dataset, txg, bytes) VALUES (?,?,?)",
            (snap.dataset_id, snap.createtxg, snap.written),
        )
        conn.execute("DELETE FROM version_props WHERE version = ?", (snap.version_id,))
        conn.execute("DELETE FROM versions WHERE id = ?", (snap.version_id,))


class _Txn:
    """Engine lock + one SQLite transaction (re-entrant calls join the open one)."""

    def __init__(self, engine: EngineBase, *, write: bool) -> None:
        self._engine = engine
        self._write = write
        self._outer = False

    def __enter__(self) -> None:
        engine = self._engine
        engine._lock.acquire()
        conn = engine._conn
        if conn.in_transaction:
            return
        self._outer = True
        try:
            conn.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        except BaseException:
            engine._lock.release()
            raise

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        engine = self._engine
        try:
            if self._outer:
                engine._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            engine._lock.release()
