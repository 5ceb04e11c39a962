"""Installing a :class:`~fakes.zfs.fixtures.Fixture` into a fresh fake-ZFS database.

Kept apart from :mod:`.fixtures` (which says what a fixture is and how one is read) because
this is the other half of the job: turning specs into rows, deriving what a spec leaves
out (GUIDs, createtxgs, creation times, sizes) and rejecting what real ZFS could never hold.

Installation runs in steps, in the order real ZFS would have created the objects, because
each step reads what the earlier ones produced: pools, then datasets (their parents must
exist), then snapshots (each needs its dataset and a txg after its predecessor), then
bookmarks (a bookmark copies its source snapshot's row), and last the pools' next txg.
:class:`_Installer` holds the running state the steps share.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Final

from .fixtures import EMPTY_REFERENCED, BookmarkSpec, DatasetSpec, Fixture, FixtureError
from .names import (
    BOOKMARK,
    FILESYSTEM,
    SNAPSHOT,
    VOLUME,
    invalid_name_reason,
    parent_name,
    pool_of,
    split_version,
)
from .properties import is_user_property, lookup_property
from .store import GuidDeriver, create_indexes, derive_guid, guid_from_db, guid_to_db

__all__ = ["install_fixture"]

#: Snapshot short names that need no full name check (the common case, checked cheaply).
_FAST_SHORT: Final = re.compile(r"[A-Za-z0-9_.: -]+")
_INSERT_VERSION: Final = (
    "INSERT INTO versions(dataset, kind, name, guid, createtxg, creation, referenced, "
    "written) VALUES (?,?,?,?,?,?,?,?)"
)

#: A ``versions`` row: dataset id, kind, short name, GUID (as stored), createtxg,
#: creation, referenced, written.
_VersionRow = tuple[int, int, str, int, int, int, int, int]


class _Ds:
    __slots__ = ("id", "last_referenced", "last_txg", "name", "pool", "type")

    def __init__(self, ds_id: int, name: str, dtype: str, pool: str) -> None:
        self.id = ds_id
        self.name = name
        self.type = dtype
        self.pool = pool
        self.last_txg = 0
        self.last_referenced: int | None = None


def _check_props(what: str, dtype: str, props: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in props.items():
        if lookup_property(key) is None and is_user_property(key):
            out[key] = value
            continue
        prop = lookup_property(key)
        if prop is None or prop.readonly or dtype not in prop.types:
            raise FixtureError(f"fixture: {what}: property '{key}' cannot be set here")
        if prop.kind == "index" and value not in prop.index_values:
            raise FixtureError(f"fixture: {what}: '{prop.name}' must be one of '{prop.values}'")
        if prop.name == "mountpoint" and value not in ("none", "legacy") and value[:1] != "/":
            raise FixtureError(
                f"fixture: {what}: 'mountpoint' must be an absolute path, 'none', or 'legacy'"
            )
        if prop.name == "volsize":
            raise FixtureError(f"fixture: {what}: give volsize as a key, not a property")
        out[prop.name] = value
    return out


def _check_name(name: str, types: frozenset[str], what: str) -> None:
    reason = invalid_name_reason(name, types, modifying=True)
    if reason is not None:
        raise FixtureError(f"fixture: {what}: invalid name '{name}': {reason}")


def install_fixture(conn: sqlite3.Connection, fixture: Fixture) -> None:
    """Load ``fixture`` into a database fresh from ``store.init_schema`` (no indexes yet;
    this creates them after the bulk insert). Runs inside the caller's transaction."""
    installer = _Installer(conn, fixture)
    installer.install_pools()
    installer.install_datasets()
    installer.install_snapshots()
    installer.install_bookmarks()
    installer.store_next_txgs()


class _Installer:
    """The state one installation's steps share: the next txg of each pool, the datasets
    inserted so far, and what the snapshot step leaves for later steps."""

    def __init__(self, conn: sqlite3.Connection, fixture: Fixture) -> None:
        self.conn = conn
        self.fixture = fixture
        self.seed = fixture.seed
        self.base = fixture.base_time
        self.next_txg: dict[str, int] = {}
        self.datasets: dict[str, _Ds] = {}
        #: The ``referenced`` each dataset's spec gave (``None``: take the newest snapshot's).
        self.head_referenced: dict[str, int | None] = {}
        #: ``(fs, short, properties)`` of snapshots with properties, stored once their rows
        #: have ids.
        self.snap_props: list[tuple[str, str, Mapping[str, str]]] = []

    def take_txg(self, pool: str, given: int | None, what: str) -> int:
        """The createtxg for an object of ``pool``: ``given``, else the pool's next."""
        next_txg = self.next_txg
        txg = next_txg[pool] if given is None else given
        if given is not None and given <= 0:
            raise FixtureError(f"fixture: {what}: createtxg must be positive")
        next_txg[pool] = max(next_txg[pool], txg + 1)
        return txg

    def insert_dataset(
        self,
        name: str,
        dtype: str,
        *,
        guid: int | None,
        txg: int,
        creation: int | None,
        volsize: int | None,
        mounted: bool,
        props: Mapping[str, str],
        referenced: int | None,
        written: int,
    ) -> None:
        """Insert one dataset row and its properties, deriving what was not given."""
        conn = self.conn
        parent = parent_name(name)
        parent_id = None if parent is None else self.datasets[parent].id
        cur = conn.execute(
            "INSERT INTO datasets(name, pool, parent, type, guid, createtxg, creation, "
            "referenced, written, volsize, mounted) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                name,
                pool_of(name),
                parent_id,
                1 if dtype == VOLUME else 0,
                guid_to_db(guid if guid is not None else derive_guid(self.seed, name)),
                txg,
                creation if creation is not None else self.base + 60 * txg,
                referenced if referenced is not None else EMPTY_REFERENCED,
                written,
                volsize,
                1 if (mounted and dtype == FILESYSTEM) else 0,
            ),
        )
        assert cur.lastrowid is not None
        self.datasets[name] = _Ds(cur.lastrowid, name, dtype, pool_of(name))
        self.head_referenced[name] = referenced
        clean = _check_props(f"dataset '{name}'", dtype, props)
        conn.executemany(
            "INSERT INTO dataset_props(dataset, name, value) VALUES (?,?,?)",
            [(cur.lastrowid, k, v) for k, v in clean.items()],
        )

    # ------------------------------------------------------------------ pools
    def install_pools(self) -> None:
        """Each pool and its root filesystem; each pool's txgs count from 1."""
        for pool in self.fixture.pools:
            what = f"pool '{pool.name}'"
            if "/" in pool.name:
                raise FixtureError(f"fixture: {what}: a pool name cannot contain '/'")
            _check_name(pool.name, frozenset({FILESYSTEM}), what)
            if not pool.name[0].isalpha():
                raise FixtureError(f"fixture: {what}: pool doesn't begin with a letter")
            if pool.name in self.next_txg:
                raise FixtureError(f"fixture: {what}: declared twice")
            self.next_txg[pool.name] = 1
            self.conn.execute(
                "INSERT INTO pools(name, size, next_txg) VALUES (?,?,?)", (pool.name, pool.size, 1)
            )
            self.insert_dataset(
                pool.name,
                FILESYSTEM,
                guid=pool.guid,
                txg=self.take_txg(pool.name, None, what),
                creation=None,
                volsize=None,
                mounted=pool.mounted,
                props=pool.properties,
                referenced=pool.referenced,
                written=0,
            )

    # ------------------------------------------------------------------ datasets
    def install_datasets(self) -> None:
        """The filesystems and volumes below the pools' roots, parents first."""
        for spec in self.fixture.datasets:
            what = f"dataset '{spec.name}'"
            pool_name = self._check_dataset(spec, what)
            self.insert_dataset(
                spec.name,
                spec.type,
                guid=spec.guid,
                txg=self.take_txg(pool_name, spec.createtxg, what),
                creation=spec.creation,
                volsize=spec.volsize,
                mounted=spec.mounted,
                props=spec.properties,
                referenced=spec.referenced,
                written=spec.written,
            )

    def _check_dataset(self, spec: DatasetSpec, what: str) -> str:
        """Refuse a dataset real ZFS could not hold here; return its pool's name."""
        if spec.type not in (FILESYSTEM, VOLUME):
            raise FixtureError(f"fixture: {what}: type must be 'filesystem' or 'volume'")
        _check_name(spec.name, frozenset({spec.type}), what)
        if spec.name in self.datasets:
            raise FixtureError(f"fixture: {what}: declared twice")
        parent = parent_name(spec.name)
        if parent is None:
            raise FixtureError(f"fixture: {what}: declare pools with [[pool]]")
        pool_name = pool_of(spec.name)
        if pool_name not in self.next_txg:
            raise FixtureError(f"fixture: {what}: pool '{pool_name}' is not declared")
        if parent not in self.datasets:
            raise FixtureError(f"fixture: {what}: parent '{parent}' is not declared before it")
        if self.datasets[parent].type != FILESYSTEM:
            raise FixtureError(f"fixture: {what}: parent '{parent}' is not a filesystem")
        if spec.type == VOLUME and not spec.volsize:
            raise FixtureError(f"fixture: {what}: a volume needs a non-zero volsize")
        if spec.type == FILESYSTEM and spec.volsize is not None:
            raise FixtureError(f"fixture: {what}: only volumes have a volsize")
        return pool_name

    # ------------------------------------------------------------------ snapshots
    def install_snapshots(self) -> None:
        """Bulk-insert the snapshots, then create the indexes (whose uniqueness catches a
        snapshot declared twice), store snapshot properties, and give datasets without a
        declared ``referenced`` their newest snapshot's."""
        conn = self.conn
        conn.executemany(_INSERT_VERSION, self.snapshot_rows())
        try:
            create_indexes(conn)
        except sqlite3.IntegrityError:
            dup = conn.execute(
                "SELECT d.name, v.name FROM versions v JOIN datasets d ON d.id = v.dataset "
                "GROUP BY v.dataset, v.name HAVING COUNT(*) > 1 LIMIT 1"
            ).fetchone()
            raise FixtureError(f"fixture: snapshot '{dup[0]}@{dup[1]}': declared twice") from None
        for fs, short, props in self.snap_props:
            clean = _check_props(f"snapshot '{fs}@{short}'", SNAPSHOT, props)
            row = conn.execute(
                "SELECT id FROM versions WHERE dataset = ? AND kind = 0 AND name = ?",
                (self.datasets[fs].id, short),
            ).fetchone()
            conn.executemany(
                "INSERT INTO version_props(version, name, value) VALUES (?,?,?)",
                [(row[0], k, v) for k, v in clean.items()],
            )
        for ds in self.datasets.values():
            if self.head_referenced[ds.name] is None and ds.last_referenced is not None:
                conn.execute(
                    "UPDATE datasets SET referenced = ? WHERE id = ?", (ds.last_referenced, ds.id)
                )

    def snapshot_rows(self) -> Iterator[_VersionRow]:
        """The snapshots' rows, validated and with every omitted value derived."""
        # Hot loop (a million snapshots for benchmarks): keep per-item work minimal, with
        # everything it touches in locals. Duplicate names are caught by the unique index
        # created afterwards.
        fast_short = _FAST_SHORT.fullmatch
        shift = 1 << 63
        datasets, next_txg, head_referenced = self.datasets, self.next_txg, self.head_referenced
        take_txg, snap_props, base = self.take_txg, self.snap_props, self.base
        derive = GuidDeriver(self.seed)
        for spec in self.fixture.snapshots:
            name = spec.name
            fs, at, short = name.partition("@")
            if not at or not fast_short(short) or short in (".", "..") or len(name) > 255:
                what = f"snapshot '{name}'"
                _check_name(name, frozenset({SNAPSHOT}), what)
                raise FixtureError(f"fixture: {what}: invalid name")
            ds = datasets.get(fs)
            if ds is None:
                raise FixtureError(f"fixture: snapshot '{name}': dataset '{fs}' is not declared")
            given = spec.createtxg
            pool_next = next_txg[ds.pool]
            if given is None:
                txg = pool_next
                next_txg[ds.pool] = pool_next + 1
            else:
                txg = take_txg(ds.pool, given, f"snapshot '{name}'")
            if txg <= ds.last_txg:
                raise FixtureError(
                    f"fixture: snapshot '{name}': createtxg {txg} is not after the previous "
                    f"snapshot of '{fs}' ({ds.last_txg})"
                )
            referenced = spec.referenced
            if referenced is None:
                head = head_referenced[fs]
                referenced = head if head is not None else EMPTY_REFERENCED
            written = spec.written
            if written is None:
                written = referenced if ds.last_txg == 0 else 0
            guid = spec.guid if spec.guid is not None else derive(name)
            creation = spec.creation if spec.creation is not None else base + 60 * txg
            ds.last_txg = txg
            ds.last_referenced = referenced
            if spec.properties:
                snap_props.append((fs, short, spec.properties))
            yield (ds.id, 0, short, guid - shift, txg, creation, referenced, written)

    # ------------------------------------------------------------------ bookmarks
    def install_bookmarks(self) -> None:
        """Insert the bookmarks (all read first: their rows come from snapshot rows)."""
        bookmarks = list(self.bookmark_rows())
        self.conn.executemany(_INSERT_VERSION, bookmarks)

    def bookmark_rows(self) -> Iterator[_VersionRow]:
        """The bookmarks' rows: their source snapshot's values, overridden by what the
        spec gives."""
        seen: set[tuple[int, str]] = set()
        for spec in self.fixture.bookmarks:
            what = f"bookmark '{spec.name}'"
            _check_name(spec.name, frozenset({BOOKMARK}), what)
            fs, _delim, short = split_version(spec.name)
            ds = self.datasets.get(fs)
            if ds is None:
                raise FixtureError(f"fixture: {what}: dataset '{fs}' is not declared")
            if (ds.id, short) in seen:
                raise FixtureError(f"fixture: {what}: declared twice")
            seen.add((ds.id, short))
            guid, txg, creation, referenced = self._bookmark_origin(spec, fs, ds, what)
            if spec.guid is not None:
                guid = spec.guid
            if spec.createtxg is not None:
                txg = spec.createtxg
            if spec.creation is not None:
                creation = spec.creation
            if spec.referenced is not None:
                referenced = spec.referenced
            yield (ds.id, 1, short, guid_to_db(guid), txg, creation, referenced, 0)

    def _bookmark_origin(
        self, spec: BookmarkSpec, fs: str, ds: _Ds, what: str
    ) -> tuple[int, int, int, int]:
        """GUID, createtxg, creation and referenced of the bookmark's source snapshot, or,
        without a source, of the GUID and createtxg the spec must then give."""
        if spec.source is not None:
            sfs, at, sshort = spec.source.partition("@")
            row = None
            if at and sfs == fs:
                row = self.conn.execute(
                    "SELECT guid, createtxg, creation, referenced FROM versions "
                    "WHERE dataset = ? AND kind = 0 AND name = ?",
                    (ds.id, sshort),
                ).fetchone()
            if row is None:
                raise FixtureError(f"fixture: {what}: source must be a declared snapshot of '{fs}'")
            return guid_from_db(row[0]), row[1], row[2], row[3]
        if spec.guid is None or spec.createtxg is None:
            raise FixtureError(f"fixture: {what}: give a source or guid and createtxg")
        return spec.guid, spec.createtxg, self.base + 60 * spec.createtxg, 0

    # ------------------------------------------------------------------ pools' next txg
    def store_next_txgs(self) -> None:
        """Record each pool's next txg, so the engine's new objects come after the fixture's."""
        for pool_name, txg in self.next_txg.items():
            self.conn.execute("UPDATE pools SET next_txg = ? WHERE name = ?", (txg, pool_name))
