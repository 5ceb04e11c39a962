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

Receive reads and validates the stream header, checks the destination (read transaction),
then reads and verifies the whole payload with no lock held, and finally applies the result
in one short write transaction that re-checks the destination. A damaged or mismatched
stream therefore never changes anything.

The model: pools (size, next txg), filesystems and volumes (GUID, createtxg, creation time,
referenced bytes, bytes written since the newest snapshot, volsize, mounted flag, local
properties), snapshots (GUID, createtxg, creation, referenced, written since the previous
snapshot, user properties) and bookmarks (GUID and createtxg of their snapshot). Content is
never stored: a stream's payload is derived from GUIDs and sizes (:mod:`fakes.zfs.content`).
"""

from __future__ import annotations

import builtins
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from . import query, store
from .errors import DatasetOpenError, StateError, ZfsError, ZfsUsageError
from .names import (
    ALL_TYPES,
    BOOKMARK,
    DATASET_TYPES,
    FILESYSTEM,
    SNAPSHOT,
    VOLUME,
    invalid_name_reason,
    parent_name,
    pool_of,
    split_version,
)
from .numbers import NumberError, nicestrtonum
from .properties import PROPERTIES, is_user_property, lookup_property
from .query import PropertyResolver, PropValue, ZfsObject
from .stream import (
    KIND_FULL,
    KIND_INCREMENTAL,
    Readable,
    SendStream,
    StreamFormatError,
    StreamHeader,
    StreamReader,
)

if TYPE_CHECKING:
    import sqlite3

    from .fixtures import Fixture

__all__ = ["FakeZfs", "Listed", "ReceiveResult", "Version"]

#: Bytes a new, empty filesystem references (what ``zfs create`` shows as REFER).
EMPTY_FS_REFERENCED: Final = 98304
#: Bytes a new volume references.
EMPTY_VOLUME_REFERENCED: Final = 57344
#: ``ZVOL_DEFAULT_BLOCKSIZE``: volume sizes are rounded up to a multiple of this.
VOLBLOCKSIZE: Final = 16384
#: ``zfs_max_dataset_nesting``.
MAX_NESTING: Final = 50
_FS_VOL: Final = frozenset({FILESYSTEM, VOLUME})


@dataclass(frozen=True, slots=True)
class Version:
    """A snapshot or bookmark as the replication protocol sees it (``FilesystemVersion``)."""

    type: str  # "snapshot" or "bookmark"
    name: str  # short name, after the delimiter
    guid: int
    createtxg: int

    def full_name(self, dataset: str) -> str:
        """``dataset@name`` or ``dataset#name``."""
        return f"{dataset}{'@' if self.type == SNAPSHOT else '#'}{self.name}"


@dataclass(frozen=True, slots=True)
class Listed:
    """One object of a listing with the requested property values (``None`` = ``-``)."""

    object: ZfsObject
    values: tuple[tuple[str, PropValue | None], ...]


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """What a successful receive did."""

    snapshot: str  # full name of the received snapshot
    guid: int
    createtxg: int
    created_dataset: bool
    skipped: bool = False  # the snapshot already existed with the same GUID
    rolled_back: tuple[str, ...] = ()  # snapshots destroyed by -F


def _now() -> int:
    override = os.environ.get("FAKE_ZFS_NOW")
    if override is not None and override.strip().isdigit():
        return int(override)
    return int(time.time())


class FakeZfs:
    """The fake ZFS. See the module docstring for construction and guarantees."""

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

    def __enter__(self) -> FakeZfs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    # ------------------------------------------------------------------ create
    def create(
        self,
        name: str,
        *,
        parents: bool = False,
        volsize: int | None = None,
        properties: Mapping[str, str] | None = None,
        mount: bool = True,
    ) -> None:
        """``zfs create [-p] [-u] [-o prop=value]... [-V volsize] NAME``.

        A volume is created when ``volsize`` is given (rounded up to 16 KiB like the real
        command). New filesystems are mounted unless ``mount`` is false (``-u``).
        """
        dtype = VOLUME if volsize is not None else FILESYSTEM
        props = dict(properties or {})
        errbuf = f"cannot create '{name}'"
        with self._write():
            if dtype == VOLUME:
                pool = name.split("/", 1)[0]
                if not self._pool_exists(pool):
                    raise ZfsError(f"cannot open '{pool}': no such pool")
                assert volsize is not None
                if volsize % VOLBLOCKSIZE:
                    volsize += VOLBLOCKSIZE - volsize % VOLBLOCKSIZE
            if parents and invalid_name_reason(name, frozenset({dtype})) is None:
                existing = self._dataset(name)
                if existing is not None and existing.type == dtype:
                    return
                self._create_ancestors(name)
            self._create_one(name, dtype, props, errbuf, volsize=volsize, mount=mount)

    def _check_parents(self, name: str, errbuf: str) -> None:
        parent = parent_name(name)
        if parent is None:
            raise ZfsError(f"{errbuf}: missing dataset name")
        pool = pool_of(name)
        if not self._pool_exists(pool):
            raise ZfsError(f"{errbuf}: no such pool '{pool}'")
        pds = self._dataset(parent)
        if pds is None:
            raise ZfsError(f"{errbuf}: parent does not exist")
        if pds.type != FILESYSTEM:
            raise ZfsError(f"{errbuf}: parent is not a filesystem")

    def _create_ancestors(self, name: str) -> None:
        errbuf = f"cannot create '{name}'"
        pool = pool_of(name)
        if not self._pool_exists(pool):
            raise ZfsError(f"{errbuf}: no such pool '{pool}'")
        parts = name.split("/")
        for end in range(1, len(parts)):
            ancestor = "/".join(parts[:end])
            ds = self._dataset(ancestor)
            if ds is None:
                self._create_one(ancestor, FILESYSTEM, {}, f"cannot create '{ancestor}'")
            elif ds.type != FILESYSTEM:
                raise ZfsError(f"{errbuf}: parent is not a filesystem")

    def _create_one(
        self,
        name: str,
        dtype: str,
        props: Mapping[str, str],
        errbuf: str,
        *,
        volsize: int | None = None,
        mount: bool = True,
    ) -> None:
        reason = invalid_name_reason(name, frozenset({dtype}), modifying=True)
        if reason is not None:
            raise ZfsError(f"{errbuf}: {reason}")
        if name.count("/") >= MAX_NESTING:
            raise ZfsError(f"{errbuf}: maximum name nesting depth exceeded")
        self._check_parents(name, errbuf)
        if self._dataset(name) is not None:
            raise ZfsError(f"{errbuf}: dataset already exists")
        clean = self._validate_props(dtype, props, errbuf)
        if dtype == VOLUME:
            if volsize is None:
                raise ZfsError(f"{errbuf}: missing volume size")
            if volsize == 0:
                raise ZfsError(f"{errbuf}: volume size cannot be zero")
        pool = pool_of(name)
        txg = self._next_txg(pool)
        ds_id = self._insert_dataset(
            name,
            dtype,
            txg=txg,
            guid=self._new_guid(name),
            creation=self._clock(),
            referenced=EMPTY_VOLUME_REFERENCED if dtype == VOLUME else EMPTY_FS_REFERENCED,
            volsize=volsize,
            mounted=dtype == FILESYSTEM and mount,
        )
        self._store_dataset_props(ds_id, clean)

    # ------------------------------------------------------------------ snapshot
    def snapshot(
        self,
        names: str | Sequence[str],
        *,
        recursive: bool = False,
        properties: Mapping[str, str] | None = None,
    ) -> list[str]:
        """``zfs snapshot [-r] [-o prop=value]... FS@SNAP...``; all in one txg, atomically.

        Returns the full names created. Raises :class:`DatasetOpenError` if a dataset is
        missing (the real command then prints its usage and exits 2).
        """
        wanted = [names] if isinstance(names, str) else list(names)
        multiple = recursive or len(wanted) > 1
        with self._write():
            targets: list[tuple[ZfsObject, str]] = []
            for full in wanted:
                fs, at, short = full.partition("@")
                if not at:
                    raise ZfsUsageError("", "snapshot")
                ds = self._open(fs, _FS_VOL)
                tree = query.load_subtree(self._conn, ds) if recursive else [ds]
                targets.extend((member, short) for member in tree)
            seen: dict[str, tuple[ZfsObject, str]] = {}
            for ds, short in targets:
                seen.setdefault(f"{ds.name}@{short}", (ds, short))
            for snapname in seen:
                reason = invalid_name_reason(snapname, frozenset({SNAPSHOT}), modifying=True)
                if reason is not None:
                    raise ZfsError(f"cannot create snapshot '{snapname}': {reason}")
            clean = self._validate_props(
                SNAPSHOT, dict(properties or {}), "cannot create snapshots "
            )
            pools = {pool_of(n) for n in seen}
            per_dataset = [ds.dataset_id for ds, _short in seen.values()]
            if len(pools) > 1 or len(set(per_dataset)) != len(per_dataset):
                # lzc_snapshot fails with EXDEV; libzfs words it like this.
                raise ZfsError(
                    "cannot create snapshots : multiple snapshots of same fs not allowed"
                    + ("\nno snapshots were created" if multiple else "")
                )
            existing = [
                snapname
                for snapname, (ds, short) in seen.items()
                if query.load_version(self._conn, ds, 0, short) is not None
            ]
            if existing:
                lines = [f"cannot create snapshot '{n}': dataset already exists" for n in existing]
                if multiple:
                    lines.append("no snapshots were created")
                raise ZfsError("\n".join(lines))
            if not seen:
                return []
            txg = self._next_txg(pools.pop())
            now = self._clock()
            for snapname, (ds, short) in seen.items():
                vid = self._insert_version(
                    ds,
                    0,
                    short,
                    guid=self._new_guid(snapname),
                    createtxg=txg,
                    creation=now,
                    referenced=ds.referenced,
                    written=ds.written,
                )
                self._conn.execute("UPDATE datasets SET written = 0 WHERE id = ?", (ds.dataset_id,))
                for pname, value in clean.items():
                    self._conn.execute(
                        "INSERT INTO version_props(version, name, value) VALUES (?,?,?)",
                        (vid, pname, value),
                    )
            return list(seen)

    # ------------------------------------------------------------------ bookmark
    def bookmark(self, source: str, bookmark: str) -> str:
        """``zfs bookmark SNAPSHOT|BOOKMARK BOOKMARK``; returns the bookmark's full name.

        Either name may be given in short form (``@snap``, ``#mark``) relative to the other.
        The bookmark carries the GUID and createtxg of its source.
        """
        if "@" not in source and "#" not in source:
            raise ZfsUsageError(
                f"invalid source name '{source}': must contain a '@' or '#'", "bookmark"
            )
        if "#" not in bookmark:
            raise ZfsUsageError(
                f"invalid bookmark name '{bookmark}': must contain a '#'", "bookmark"
            )
        source_short = source[0] in "@#"
        book_short = bookmark[0] == "#"
        if source_short and book_short:
            raise ZfsUsageError(
                "either source or bookmark must be specified as full dataset paths",
                "bookmark",
                newline=False,
            )
        if book_short:
            bookmark = split_version(source)[0] + bookmark
        elif source_short:
            source = split_version(bookmark)[0] + source
        source_type = SNAPSHOT if split_version(source)[1] == "@" else BOOKMARK
        with self._write():
            src = self._open(source, frozenset({source_type}))
            errbuf = f"cannot create bookmark '{bookmark}'"
            fs, _delim, short = split_version(bookmark)
            if invalid_name_reason(bookmark, frozenset({BOOKMARK})) is not None:
                raise ZfsError(f"{errbuf}: invalid argument")
            if pool_of(bookmark) != src.pool:
                raise ZfsError(f"{errbuf}: bookmark is in a different pool")
            ds = self._dataset(fs)
            if ds is None:
                raise ZfsError(f"{errbuf}: dataset does not exist")
            if ds.dataset_id != src.dataset_id:
                raise ZfsError(f"{errbuf}: source is not an ancestor of the new bookmark's dataset")
            if query.load_version(self._conn, ds, 1, short) is not None:
                raise ZfsError(f"{errbuf}: bookmark exists")
            self._insert_version(
                ds,
                1,
                short,
                guid=src.guid,
                createtxg=src.createtxg,
                creation=src.creation,
                referenced=src.referenced,
                written=0,
            )
            return bookmark

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
                if recursive:
                    raise ZfsError("recursive is not supported with bookmark", exit_code=255)
                ds = self._dataset(fs)
                mark = None if ds is None else query.load_version(self._conn, ds, 1, rest)
                if mark is None or invalid_name_reason(name, frozenset({BOOKMARK})) is not None:
                    raise ZfsError(f"bookmark '{name}' does not exist.")
                self._conn.execute("DELETE FROM versions WHERE id = ?", (mark.version_id,))
                return [name]
            ds = self._open(name, DATASET_TYPES)
            if not recursive and "/" not in ds.name and ds.type == FILESYSTEM:
                raise ZfsError(
                    f"cannot destroy '{ds.name}': operation does not apply to pools\n"
                    f"use 'zfs destroy -r {ds.name}' to destroy all datasets in the pool\n"
                    f"use 'zpool destroy {ds.name}' to destroy the pool itself"
                )
            dependents = self._dependents(ds)
            if dependents and not recursive:
                raise ZfsError(
                    f"cannot destroy '{ds.name}': {ds.type} has children\n"
                    "use '-r' to destroy the following datasets:\n" + "\n".join(dependents)
                )
            destroyed = list(dependents)
            tree = query.load_subtree(self._conn, ds) if ds.type == FILESYSTEM else [ds]
            is_pool_root = "/" not in ds.name
            for member in tree:
                if is_pool_root and member.name == ds.name:
                    # The pool's root dataset stays; only its snapshots go.
                    for snap in query.load_versions(self._conn, member, (0,)):
                        self._delete_snapshot(snap)
                    continue
                self._delete_dataset(member.dataset_id)
            if not is_pool_root:
                destroyed.append(ds.name)
            return destroyed

    def _dependents(self, ds: ZfsObject) -> list[str]:
        """``zfs_iter_dependents`` order: post-order, children first then snapshots."""
        out: list[str] = []
        tree = query.load_subtree(self._conn, ds) if ds.type == FILESYSTEM else [ds]
        children: dict[int, list[ZfsObject]] = {}
        for member in tree:
            if member.parent_id is not None:
                children.setdefault(member.parent_id, []).append(member)

        def visit(node: ZfsObject, first: bool) -> None:
            for child in children.get(node.dataset_id, []):
                visit(child, False)
            for snap in query.load_versions(self._conn, node, (0,)):
                out.append(snap.name)
            if not first:
                out.append(node.name)

        visit(ds, True)
        return out

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

    def _destroy_snapshots(self, fs: str, spec: str, recursive: bool) -> list[str]:
        ds = self._open(fs, _FS_VOL)
        tree = query.load_subtree(self._conn, ds) if recursive else [ds]
        victims: list[ZfsObject] = []
        for member in tree:
            victims.extend(self._match_snapspec(member, spec))
        if not victims:
            raise ZfsError("could not find any snapshots to destroy; check snapshot names.")
        for snap in victims:
            self._delete_snapshot(snap)
        return [snap.name for snap in victims]

    def _match_snapspec(self, ds: ZfsObject, spec: str) -> list[ZfsObject]:
        """``zfs_iter_snapspec``: ``a,b,c%d`` — names and inclusive createtxg ranges.

        Unknown names are ignored, as in the real code (only an empty result is an error).
        """
        snaps = query.load_versions(self._conn, ds, (0,))
        by_name = {s.name.partition("@")[2]: s for s in snaps}
        chosen: dict[str, ZfsObject] = {}
        for part in spec.split(","):
            if "%" not in part:
                if part in by_name:
                    chosen.setdefault(by_name[part].name, by_name[part])
                continue
            first, _, last = part.partition("%")
            if (first and first not in by_name) or (last and last not in by_name):
                continue
            lo = by_name[first].createtxg if first else None
            hi = by_name[last].createtxg if last else None
            for snap in snaps:
                if (lo is None or snap.createtxg >= lo) and (hi is None or snap.createtxg <= hi):
                    chosen.setdefault(snap.name, snap)
        return sorted(chosen.values(), key=lambda s: s.createtxg)

    def _delete_snapshot(self, snap: ZfsObject) -> None:
        """Remove a snapshot; the bytes it recorded stay in the dataset's write history."""
        conn = self._conn
        conn.execute(
            "INSERT INTO orphan_writes(dataset, txg, bytes) VALUES (?,?,?)",
            (snap.dataset_id, snap.createtxg, snap.written),
        )
        conn.execute("DELETE FROM version_props WHERE version = ?", (snap.version_id,))
        conn.execute("DELETE FROM versions WHERE id = ?", (snap.version_id,))

    # ------------------------------------------------------------------ properties API
    def set(self, name: str, properties: Mapping[str, str]) -> None:
        """``zfs set prop=value... NAME`` (all properties or none)."""
        with self._write():
            obj = self._open(name, DATASET_TYPES)
            errbuf = f"cannot set property for '{name}'"
            clean = self._validate_props(obj.type, properties, errbuf)
            if obj.version_id is not None:
                for pname, value in clean.items():
                    self._conn.execute(
                        "INSERT OR REPLACE INTO version_props(version, name, value) VALUES (?,?,?)",
                        (obj.version_id, pname, value),
                    )
            else:
                self._store_dataset_props(obj.dataset_id, clean)

    def set_property(self, name: str, prop: str, value: str) -> None:
        """Shorthand for ``set(name, {prop: value})``."""
        self.set(name, {prop: value})

    def get(self, name: str, prop: str, *, literal: bool = True) -> PropValue | None:
        """The value of one property of one object (``None`` if it does not apply)."""
        with self._read():
            obj = self._open(name, ALL_TYPES)
            return PropertyResolver(self._conn, literal=literal).value(obj, prop)

    def write(self, name: str, nbytes: int) -> None:
        """Simulate ``nbytes`` of new data written into a filesystem or volume.

        Raises ``ZfsError("cannot write to 'NAME': Read-only file system")`` when its
        effective ``readonly`` is ``on`` (the only thing readonly blocks in ZFS).
        """
        if nbytes < 0:
            raise ValueError("nbytes must not be negative")
        with self._write():
            ds = self._open(name, _FS_VOL)
            ro = PropertyResolver(self._conn, literal=True).value(ds, "readonly")
            if ro is not None and ro.text == "on":
                raise ZfsError(f"cannot write to '{name}': Read-only file system")
            self._conn.execute(
                "UPDATE datasets SET referenced = referenced + ?, written = written + ? "
                "WHERE id = ?",
                (nbytes, nbytes, ds.dataset_id),
            )

    # ------------------------------------------------------------------ listing
    def exists(self, name: str) -> bool:
        """Whether a dataset, snapshot or bookmark called ``name`` exists."""
        with self._read():
            try:
                self._open(name, ALL_TYPES)
            except DatasetOpenError:
                return False
            return True

    def list(
        self,
        roots: Sequence[str] = (),
        *,
        types: Iterable[str] | None = None,
        recursive: bool = False,
        depth: int | None = None,
        sort: Sequence[tuple[str, bool]] = (),
        properties: Sequence[str] | None = ("name",),
        literal: bool = True,
        errors: list[ZfsError] | None = None,
        snapshots_when_named: bool | None = None,
    ) -> list[Listed]:
        """``zfs list``/``zfs get`` traversal with property values, in ``zfs list`` order.

        ``types`` ``None`` means the default (filesystems, volumes, and snapshots only when
        named). ``depth`` implies recursion. ``sort`` holds ``(property, descending)``
        (``-s`` is ascending, ``-S`` descending). ``properties`` ``None`` means every
        property that applies (``all``). A root that cannot be opened raises, or is appended
        to ``errors`` when a list is passed (the real command reports and continues).
        ``snapshots_when_named`` (default: ``types is None``) lists snapshots only when they
        are named as roots, which is what the real commands do without ``-t``.
        """
        with self._read():
            ordered, resolver = self._collect(
                roots, types, recursive, depth, sort, literal, errors, snapshots_when_named
            )
            out: builtins.list[Listed] = []
            for obj in ordered:
                props = properties
                if props is None:
                    props = [
                        p.name for p in PROPERTIES if not p.hidden and obj.type in p.types
                    ] + self._user_prop_names(resolver, obj)
                values = tuple((p, resolver.value(obj, p)) for p in props)
                out.append(Listed(obj, values))
            return out

    def list_text(
        self,
        roots: Sequence[str] = (),
        *,
        properties: Sequence[str],
        types: Iterable[str] | None = None,
        recursive: bool = False,
        depth: int | None = None,
        sort: Sequence[tuple[str, bool]] = (),
        literal: bool = True,
        errors: builtins.list[ZfsError] | None = None,
    ) -> builtins.list[tuple[str, ...]]:
        """Like :meth:`list` but only the displayed text of each value (``-`` when it does
        not apply): the fast path behind ``zfs list`` output."""
        with self._read():
            fast = self._versions_text_fast(roots, properties, types, depth, sort)
            if fast is not None:
                return fast
            ordered, resolver = self._collect(
                roots, types, recursive, depth, sort, literal, errors, None
            )
            getters = [resolver.text_getter(p) for p in properties]
            if len(getters) == 1:
                only = getters[0]
                return [(only(obj),) for obj in ordered]
            return [tuple([get(obj) for get in getters]) for obj in ordered]

    def _versions_text_fast(
        self,
        roots: Sequence[str],
        properties: Sequence[str],
        types: Iterable[str] | None,
        depth: int | None,
        sort: Sequence[tuple[str, bool]],
    ) -> builtins.list[tuple[str, ...]] | None:
        """The replication hot path, straight from SQL: the snapshots/bookmarks of one
        dataset (``-d 1 -t bookmark,snapshot FS``) sorted by createtxg or unsorted, showing
        only name/guid/createtxg/type. ``None`` when the listing is not of that shape.

        Within one dataset, ``zfs_compare`` orders snapshots by createtxg and puts
        bookmarks (``fs#x`` > ``fs``) after them by name; with ``-s createtxg`` ties put the
        snapshot first (``fs`` < ``fs#x``) then bookmarks by name. Both are plain ORDER BYs.
        """
        if len(roots) != 1 or depth != 1 or types is None:
            return None
        kinds = [k for k, t in ((0, SNAPSHOT), (1, BOOKMARK)) if t in set(types)]
        if not kinds or not set(types) <= {SNAPSHOT, BOOKMARK}:
            return None
        names = [lookup_property(p) for p in properties]
        cheap = {"name", "guid", "createtxg", "type"}
        if not all(d is not None and d.name in cheap for d in names):
            return None
        if tuple(sort) == (("createtxg", False),):
            order = "createtxg, kind, name"
        elif not sort:
            order = "kind, CASE WHEN kind = 0 THEN createtxg ELSE 0 END, name"
        else:
            return None
        root = roots[0]
        if "@" in root or "#" in root:
            return None
        ds = self._open(root, _FS_VOL)
        kind_filter = "" if len(kinds) == 2 else f" AND kind = {kinds[0]}"
        rows = self._conn.execute(
            f"SELECT kind, name, guid, createtxg FROM versions WHERE dataset = ?{kind_filter} "
            f"ORDER BY {order}",
            (ds.dataset_id,),
        ).fetchall()
        prefix = (ds.name + "@", ds.name + "#")
        type_names = (SNAPSHOT, BOOKMARK)
        shift = 1 << 63
        columns = []
        for definition in names:
            assert definition is not None
            if definition.name == "name":
                columns.append([prefix[k] + n for k, n, _g, _t in rows])
            elif definition.name == "guid":
                columns.append([str(g + shift) for _k, _n, g, _t in rows])
            elif definition.name == "createtxg":
                columns.append([str(t) for _k, _n, _g, t in rows])
            else:
                columns.append([type_names[k] for k, _n, _g, _t in rows])
        return builtins.list(zip(*columns, strict=True)) if rows else []

    def _collect(
        self,
        roots: Sequence[str],
        types: Iterable[str] | None,
        recursive: bool,
        depth: int | None,
        sort: Sequence[tuple[str, bool]],
        literal: bool,
        errors: builtins.list[ZfsError] | None,
        snapshots_when_named: bool | None,
    ) -> tuple[builtins.list[ZfsObject], PropertyResolver]:
        """Visit and order the objects of a listing (inside a read transaction)."""
        chosen = frozenset(types) if types is not None else DATASET_TYPES
        snaps_when_named = types is None if snapshots_when_named is None else snapshots_when_named
        if depth is not None:
            recursive = True
        if chosen in ({SNAPSHOT}, {BOOKMARK}) and roots and not recursive:
            recursive, depth = True, 1
        objects = query.collect_objects(
            self._conn,
            roots,
            chosen,
            recursive=recursive,
            depth=depth,
            snapshots_when_named=snaps_when_named,
            errors=errors,
        )
        resolver = PropertyResolver(self._conn, literal=literal)
        return query.sort_objects(objects, sort, resolver), resolver

    @staticmethod
    def _user_prop_names(resolver: PropertyResolver, obj: ZfsObject) -> builtins.list[str]:
        if obj.type == BOOKMARK:
            return []
        names: set[str] = set()
        dataset_props = resolver.dataset_props()
        current: str | None = obj.dataset
        while current is not None:
            names.update(p for p in dataset_props.get(current, {}) if is_user_property(p))
            current = parent_name(current)
        if obj.version_id is not None:
            names.update(resolver.version_props().get(obj.version_id, {}))
        return sorted(names)

    def list_filesystems(self) -> builtins.list[str]:
        """``zfs list -H -p -o name -r -t filesystem,volume``: every dataset name, in order."""
        return [
            item.object.name
            for item in self.list(types=(FILESYSTEM, VOLUME), recursive=True, properties=())
        ]

    def list_versions(self, dataset: str) -> builtins.list[Version]:
        """``zfs list -H -p -o name,guid,createtxg -r -d 1 -t bookmark,snapshot -s createtxg``.

        Snapshots and bookmarks of ``dataset``, oldest first. Raises if it does not exist.
        """
        listed = self.list(
            [dataset],
            types=(BOOKMARK, SNAPSHOT),
            depth=1,
            sort=(("createtxg", False),),
            properties=(),
        )
        out = []
        for item in listed:
            obj = item.object
            out.append(Version(obj.type, split_version(obj.name)[2], obj.guid, obj.createtxg))
        return out

    # ------------------------------------------------------------------ send
    def send(self, snapshot: str, from_: str | None = None) -> SendStream:
        """``zfs send [-i FROM] SNAPSHOT``: a lazily produced stream (``read(n)``/iterate).

        ``from_`` may be a full snapshot or bookmark name or a short ``@snap``/``#mark``
        relative to the snapshot's dataset. Metadata is read now; producing the bytes later
        needs no database access.
        """
        with self._read():
            target = self._open(snapshot, DATASET_TYPES)
            errbuf = f"warning: cannot send '{target.name}'"
            if target.type != SNAPSHOT:
                raise ZfsError(f"{errbuf}: target is busy; if a filesystem, it must not be mounted")
            ds = self._dataset(target.dataset)
            assert ds is not None
            if from_ is None:
                header = StreamHeader(
                    kind=KIND_FULL,
                    dataset_type=ds.type,
                    to_guid=target.guid,
                    from_guid=0,
                    creation=target.creation,
                    referenced=target.referenced,
                    volsize=ds.volsize or 0,
                    payload_len=target.referenced,
                    to_name=target.name,
                    from_name="",
                )
                return SendStream(header)
            if from_.startswith(("@", "#")):
                from_ = target.dataset + from_
            source = self._send_source(target, from_, errbuf)
            written = query.written_between(
                self._conn, target.dataset_id, source.createtxg, target.createtxg
            )
            header = StreamHeader(
                kind=KIND_INCREMENTAL,
                dataset_type=ds.type,
                to_guid=target.guid,
                from_guid=source.guid,
                creation=target.creation,
                referenced=target.referenced,
                volsize=ds.volsize or 0,
                payload_len=int(written),
                to_name=target.name,
                from_name=source.name,
            )
            return SendStream(header)

    def _send_source(self, target: ZfsObject, from_: str, errbuf: str) -> ZfsObject:
        if "#" in from_:
            fs, _delim, short = split_version(from_)
            ds = self._dataset(fs)
            mark = None if ds is None else query.load_version(self._conn, ds, 1, short)
            if mark is None:
                raise ZfsError(f"{errbuf}: incremental source ({from_}) does not exist")
            if mark.dataset_id != target.dataset_id or mark.createtxg >= target.createtxg:
                raise ZfsError(f"{errbuf}: not an earlier snapshot from the same fs")
            return mark
        source = self._open(from_, DATASET_TYPES)
        if (
            source.type != SNAPSHOT
            or source.dataset_id != target.dataset_id
            or source.createtxg >= target.createtxg
        ):
            raise ZfsError(f"{errbuf}: not an earlier snapshot from the same fs")
        return source

    # ------------------------------------------------------------------ receive
    def receive(
        self,
        target: str,
        source: Readable,
        *,
        force: bool = False,
        nomount: bool = False,
        before_apply: Callable[[], object] | None = None,
    ) -> ReceiveResult:
        """``zfs receive [-F] [-u] TARGET`` reading the stream from ``source`` (``read(n)``).

        ``TARGET`` is a filesystem/volume (the snapshot keeps the stream's short name) or a
        full snapshot name. The snapshot keeps the sender's GUID and gets this pool's next
        createtxg. All-or-nothing: on any error nothing changes.

        ``before_apply`` runs after the whole stream was read and verified and before
        anything changes; whatever it raises propagates and nothing is applied. A
        replication client passes the check that its transport delivered the stream's
        end (the chunked stream's zero chunk), so a transfer cut just after the last
        payload byte is not kept (§frame.truncation).
        """
        reader = StreamReader(source)
        try:
            header = reader.read_header()
        except StreamFormatError as exc:
            raise ZfsError(f"cannot receive: {exc.reason}") from exc
        destsnap = target if "@" in target else f"{target}@{header.snapshot_short_name}"
        if invalid_name_reason(destsnap, frozenset({SNAPSHOT})) is not None:
            raise ZfsError("cannot receive: invalid name")
        errbuf = (
            "cannot receive incremental stream"
            if header.is_incremental
            else "cannot receive new filesystem stream"
        )
        with self._read():
            self._plan_receive(header, destsnap, errbuf, force)
        try:
            reader.verify_payload()
        except StreamFormatError as exc:
            raise ZfsError(f"{errbuf}: {exc.reason}") from exc
        if before_apply is not None:
            before_apply()
        with self._write():
            plan = self._plan_receive(header, destsnap, errbuf, force)
            return self._apply_receive(plan, header, destsnap, nomount)

    def _plan_receive(
        self, header: StreamHeader, destsnap: str, errbuf: str, force: bool
    ) -> _ReceivePlan:
        fs, _at, short = destsnap.partition("@")
        ds = self._dataset(fs)
        if not header.is_incremental:
            if ds is not None:
                if not force:
                    raise ZfsError(
                        f"{errbuf}: destination '{fs}' exists\nmust specify -F to overwrite it"
                    )
                snaps = query.load_versions(self._conn, ds, (0,))
                if snaps:
                    raise ZfsError(
                        f"{errbuf}: destination has snapshots (eg. {snaps[0].name})\n"
                        "must destroy them to overwrite it"
                    )
                if header.dataset_type == VOLUME:
                    if "/" not in fs:
                        raise ZfsError(
                            f"{errbuf}: destination {fs} is the root dataset\n"
                            "cannot overwrite with a ZVOL"
                        )
                    child = self._conn.execute(
                        "SELECT name FROM datasets WHERE parent = ? ORDER BY name LIMIT 1",
                        (ds.dataset_id,),
                    ).fetchone()
                    if child is not None:
                        raise ZfsError(
                            f"{errbuf}: destination has children (eg. {child[0]})\n"
                            "cannot overwrite with a ZVOL"
                        )
                return _ReceivePlan("overwrite", ds)
            parent = parent_name(fs)
            if parent is None:
                raise ZfsError(f"{errbuf}: destination '{fs}' does not exist")
            try:
                pds = self._open(parent, DATASET_TYPES)
            except DatasetOpenError as exc:
                raise ZfsError(
                    f"{exc.message}\n{errbuf}: unable to restore to destination"
                ) from exc
            if pds.type != FILESYSTEM:
                raise ZfsError(f"{errbuf}: parent '{parent}' is not a filesystem")
            return _ReceivePlan("newfs", None)
        if ds is None:
            raise ZfsError(f"{errbuf}: destination '{fs}' does not exist")
        existing = query.load_version(self._conn, ds, 0, short)
        if existing is not None:
            same = self._conn.execute(
                "SELECT 1 FROM versions WHERE dataset = ? AND kind = 0 AND guid = ?",
                (ds.dataset_id, store.guid_to_db(header.to_guid)),
            ).fetchone()
            if same is not None:
                return _ReceivePlan("skip", ds, existing=existing)
            raise ZfsError(f"cannot restore to {destsnap}: destination already exists")
        snaps = query.load_versions(self._conn, ds, (0,))
        match_index = None
        for index in range(len(snaps) - 1, -1, -1):
            if snaps[index].guid == header.from_guid:
                match_index = index
                break
        if match_index is None:
            raise ZfsError(
                f"{errbuf}: most recent snapshot of {fs} does not\nmatch incremental source"
            )
        newer = snaps[match_index + 1 :]
        from_txg = snaps[match_index].createtxg
        if force:
            # -F: roll back to the source, destroying newer snapshots and head changes.
            return _ReceivePlan("incremental", ds, rollback=tuple(newer), from_txg=from_txg)
        # Without -F the kernel refuses if anything changed since the source snapshot
        # (dsl_dataset_modified_since_snap); newer snapshots that changed nothing are kept.
        if ds.written + query.written_between(self._conn, ds.dataset_id, from_txg, None) > 0:
            raise ZfsError(
                f"{errbuf}: destination {fs} has been modified\nsince most recent snapshot"
            )
        return _ReceivePlan("incremental", ds)

    def _apply_receive(
        self, plan: _ReceivePlan, header: StreamHeader, destsnap: str, nomount: bool
    ) -> ReceiveResult:
        fs, _at, short = destsnap.partition("@")
        conn = self._conn
        if plan.action == "skip":
            assert plan.existing is not None
            return ReceiveResult(
                destsnap, plan.existing.guid, plan.existing.createtxg, False, skipped=True
            )
        pool = pool_of(fs)
        created = False
        if plan.action == "newfs":
            txg = self._next_txg(pool)
            self._insert_dataset(
                fs,
                header.dataset_type,
                txg=txg,
                guid=self._new_guid(fs),
                creation=self._clock(),
                referenced=header.referenced,
                volsize=header.volsize if header.dataset_type == VOLUME else None,
                mounted=header.dataset_type == FILESYSTEM and not nomount,
            )
            created = True
        elif plan.action == "overwrite":
            assert plan.dataset is not None
            conn.execute("DELETE FROM orphan_writes WHERE dataset = ?", (plan.dataset.dataset_id,))
            conn.execute(
                "UPDATE datasets SET type = ?, referenced = ?, written = 0, volsize = ?, "
                "mounted = ? WHERE id = ?",
                (
                    1 if header.dataset_type == VOLUME else 0,
                    header.referenced,
                    header.volsize if header.dataset_type == VOLUME else None,
                    1 if header.dataset_type == FILESYSTEM and not nomount else 0,
                    plan.dataset.dataset_id,
                ),
            )
        else:
            assert plan.dataset is not None
            for snap in plan.rollback:
                conn.execute("DELETE FROM version_props WHERE version = ?", (snap.version_id,))
                conn.execute("DELETE FROM versions WHERE id = ?", (snap.version_id,))
            if plan.rollback or plan.from_txg is not None:
                # Rolled-back data is gone, not merely unsnapshotted.
                conn.execute(
                    "DELETE FROM orphan_writes WHERE dataset = ? AND txg > ?",
                    (plan.dataset.dataset_id, plan.from_txg or 0),
                )
            conn.execute(
                "UPDATE datasets SET referenced = ?, written = 0 WHERE id = ?",
                (header.referenced, plan.dataset.dataset_id),
            )
        ds = self._dataset(fs)
        assert ds is not None
        txg = self._next_txg(pool)
        self._insert_version(
            ds,
            0,
            short,
            guid=header.to_guid,
            createtxg=txg,
            creation=header.creation,
            referenced=header.referenced,
            written=header.payload_len,
        )
        return ReceiveResult(
            destsnap,
            header.to_guid,
            txg,
            created,
            rolled_back=tuple(s.name for s in plan.rollback),
        )


@dataclass(frozen=True, slots=True)
class _ReceivePlan:
    action: str  # "newfs", "overwrite", "incremental" or "skip"
    dataset: ZfsObject | None
    rollback: tuple[ZfsObject, ...] = ()
    existing: ZfsObject | None = None
    from_txg: int | None = None  # set for -F incrementals (rollback target)


class _Txn:
    """Engine lock + one SQLite transaction (re-entrant calls join the open one)."""

    def __init__(self, engine: FakeZfs, *, write: bool) -> None:
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


class _suppress_os_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        return isinstance(exc, OSError)
