"""Fixtures: declarative starting states for the fake ZFS (TOML files or Python objects).

A fixture lists pools, datasets, snapshots and bookmarks. Everything not given is derived
deterministically: GUIDs from the fixture ``seed`` and the object's name, createtxg from
declaration order (each pool counts from 1: pools, then datasets, then snapshots, each taking
the next txg unless it names one), creation times as ``base_time + 60 * createtxg``.

TOML format (see ``fakes/fixtures/demo.toml`` and ``docs/FAKE-ZFS.md``)::

    seed = 2017                     # optional, default 0
    base_time = 1493596800          # optional, Unix seconds

    [[pool]]
    name = "pool"
    size = "100G"                   # sizes: integers or zfs size strings
    properties = { "zrepl:x" = "y" }

    [[dataset]]
    name = "pool/data"
    type = "filesystem"             # or "volume" (then volsize is required)
    volsize = "1G"
    properties = { readonly = "on", mountpoint = "/srv" }
    referenced = "1M"               # bytes the live dataset references (default: newest
                                    #   snapshot's, else 96K)
    written = 0                     # bytes written since its newest snapshot
    mounted = true                  # filesystems only
    guid = 123                      # optional (integer or string, e.g. "0xdeadbeef")
    createtxg = 5                   # optional

    [[snapshot]]
    name = "pool/data@snap1"
    referenced = "1M"               # default: the dataset's referenced
    written = "1M"                  # default: referenced for the first snapshot, else 0
    guid = 456                      # optional; createtxg, creation, properties likewise

    [[bookmark]]
    name = "pool/data#mark1"
    source = "pool/data@snap1"      # or give guid and createtxg explicitly

Large synthetic trees for benchmarks are built in Python by :func:`synthetic_fixture`,
which generates snapshots lazily instead of materialising a million objects.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

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
from .numbers import NumberError, nicestrtonum
from .properties import is_user_property, lookup_property
from .store import GuidDeriver, create_indexes, derive_guid, guid_from_db, guid_to_db

__all__ = [
    "BookmarkSpec",
    "DatasetSpec",
    "Fixture",
    "FixtureError",
    "PoolSpec",
    "SnapshotSpec",
    "demo_fixture",
    "install_fixture",
    "load_fixture",
    "parse_fixture",
    "synthetic_fixture",
]

DEFAULT_BASE_TIME: Final = 1493596800  # 2017-05-01T00:00:00Z, the seed's era
DEFAULT_POOL_SIZE: Final = 1 << 40
EMPTY_REFERENCED: Final = 98304
DEMO_PATH: Final = Path(__file__).resolve().parent.parent / "fixtures" / "demo.toml"
_FAST_SHORT: Final = re.compile(r"[A-Za-z0-9_.: -]+")


class FixtureError(ValueError):
    """A fixture is inconsistent; the message names the object and the problem."""


@dataclass(slots=True)
class PoolSpec:
    """A pool and its root filesystem."""

    name: str
    size: int = DEFAULT_POOL_SIZE
    properties: Mapping[str, str] = field(default_factory=dict)
    guid: int | None = None
    referenced: int | None = None
    mounted: bool = True


@dataclass(slots=True)
class DatasetSpec:
    """A filesystem or volume below a pool's root."""

    name: str
    type: str = FILESYSTEM
    volsize: int | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    guid: int | None = None
    createtxg: int | None = None
    creation: int | None = None
    referenced: int | None = None
    written: int = 0
    mounted: bool = True


@dataclass(slots=True)
class SnapshotSpec:
    """A snapshot ``FS@NAME``."""

    name: str
    guid: int | None = None
    createtxg: int | None = None
    creation: int | None = None
    referenced: int | None = None
    written: int | None = None
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class BookmarkSpec:
    """A bookmark ``FS#NAME`` made from ``source`` or with explicit GUID and createtxg."""

    name: str
    source: str | None = None
    guid: int | None = None
    createtxg: int | None = None
    creation: int | None = None
    referenced: int | None = None


@dataclass(frozen=True)
class Fixture:
    """A complete starting state. ``snapshots`` may be any re-iterable (lazy) collection."""

    pools: tuple[PoolSpec, ...] = ()
    datasets: tuple[DatasetSpec, ...] = ()
    snapshots: Iterable[SnapshotSpec] = ()
    bookmarks: Iterable[BookmarkSpec] = ()
    seed: int = 0
    base_time: int = DEFAULT_BASE_TIME


# ---------------------------------------------------------------------------- TOML
def _size(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise FixtureError(f"fixture: {what}: expected a size, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise FixtureError(f"fixture: {what}: size must not be negative")
        return value
    if isinstance(value, str):
        try:
            return nicestrtonum(value)
        except NumberError as exc:
            raise FixtureError(f"fixture: {what}: {exc}") from exc
    raise FixtureError(f"fixture: {what}: expected a size, got {value!r}")


def _opt_size(table: Mapping[str, Any], key: str, what: str) -> int | None:
    return None if key not in table else _size(table[key], f"{what}: {key}")


def _u64(value: Any, what: str) -> int:
    number: int
    if isinstance(value, bool):
        raise FixtureError(f"fixture: {what}: expected an integer, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value, 0)
        except ValueError as exc:
            raise FixtureError(f"fixture: {what}: not an integer: {value!r}") from exc
    else:
        raise FixtureError(f"fixture: {what}: expected an integer, got {value!r}")
    if not 0 < number < (1 << 64):
        raise FixtureError(f"fixture: {what}: must be between 1 and 2^64-1")
    return number


def _opt_u64(table: Mapping[str, Any], key: str, what: str) -> int | None:
    return None if key not in table else _u64(table[key], f"{what}: {key}")


def _str(table: Mapping[str, Any], key: str, what: str) -> str:
    value = table.get(key)
    if not isinstance(value, str):
        raise FixtureError(f"fixture: {what}: '{key}' must be a string")
    return value


def _props(table: Mapping[str, Any], what: str) -> dict[str, str]:
    raw = table.get("properties", {})
    if not isinstance(raw, dict):
        raise FixtureError(f"fixture: {what}: 'properties' must be a table")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, bool):
            value = "on" if value else "off"
        if not isinstance(value, str | int):
            raise FixtureError(f"fixture: {what}: property '{key}' must be a string")
        out[str(key)] = str(value)
    return out


def _check_keys(table: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise FixtureError(f"fixture: {what}: unknown key(s) {', '.join(unknown)}")


def _tables(doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    raw = doc.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise FixtureError(f"fixture: '{key}' must be an array of tables ([[{key}]])")
    return raw


def parse_fixture(text: str) -> Fixture:
    """Parse fixture TOML text (see the module docstring)."""
    import tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FixtureError(f"fixture: invalid TOML: {exc}") from exc
    _check_keys(doc, {"seed", "base_time", "pool", "dataset", "snapshot", "bookmark"}, "top level")
    seed = doc.get("seed", 0)
    base_time = doc.get("base_time", DEFAULT_BASE_TIME)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise FixtureError("fixture: 'seed' must be an integer")
    if not isinstance(base_time, int) or isinstance(base_time, bool) or base_time < 0:
        raise FixtureError("fixture: 'base_time' must be a non-negative integer")
    pools = []
    for t in _tables(doc, "pool"):
        what = f"pool {t.get('name')!r}"
        _check_keys(t, {"name", "size", "properties", "guid", "referenced", "mounted"}, what)
        mounted = t.get("mounted", True)
        if not isinstance(mounted, bool):
            raise FixtureError(f"fixture: {what}: 'mounted' must be true or false")
        pools.append(
            PoolSpec(
                name=_str(t, "name", what),
                size=_opt_size(t, "size", what) or DEFAULT_POOL_SIZE,
                properties=_props(t, what),
                guid=_opt_u64(t, "guid", what),
                referenced=_opt_size(t, "referenced", what),
                mounted=mounted,
            )
        )
    datasets = []
    for t in _tables(doc, "dataset"):
        what = f"dataset {t.get('name')!r}"
        _check_keys(
            t,
            {
                "name",
                "type",
                "volsize",
                "properties",
                "guid",
                "createtxg",
                "creation",
                "referenced",
                "written",
                "mounted",
            },
            what,
        )
        dtype = t.get("type", FILESYSTEM)
        if dtype not in (FILESYSTEM, VOLUME):
            raise FixtureError(f"fixture: {what}: type must be 'filesystem' or 'volume'")
        mounted = t.get("mounted", True)
        if not isinstance(mounted, bool):
            raise FixtureError(f"fixture: {what}: 'mounted' must be true or false")
        datasets.append(
            DatasetSpec(
                name=_str(t, "name", what),
                type=dtype,
                volsize=_opt_size(t, "volsize", what),
                properties=_props(t, what),
                guid=_opt_u64(t, "guid", what),
                createtxg=_opt_u64(t, "createtxg", what),
                creation=_opt_size(t, "creation", what),
                referenced=_opt_size(t, "referenced", what),
                written=_opt_size(t, "written", what) or 0,
                mounted=mounted,
            )
        )
    snapshots = []
    for t in _tables(doc, "snapshot"):
        what = f"snapshot {t.get('name')!r}"
        _check_keys(
            t,
            {"name", "guid", "createtxg", "creation", "referenced", "written", "properties"},
            what,
        )
        snapshots.append(
            SnapshotSpec(
                name=_str(t, "name", what),
                guid=_opt_u64(t, "guid", what),
                createtxg=_opt_u64(t, "createtxg", what),
                creation=_opt_size(t, "creation", what),
                referenced=_opt_size(t, "referenced", what),
                written=_opt_size(t, "written", what),
                properties=_props(t, what),
            )
        )
    bookmarks = []
    for t in _tables(doc, "bookmark"):
        what = f"bookmark {t.get('name')!r}"
        _check_keys(t, {"name", "source", "guid", "createtxg", "creation", "referenced"}, what)
        source = t.get("source")
        if source is not None and not isinstance(source, str):
            raise FixtureError(f"fixture: {what}: 'source' must be a string")
        bookmarks.append(
            BookmarkSpec(
                name=_str(t, "name", what),
                source=source,
                guid=_opt_u64(t, "guid", what),
                createtxg=_opt_u64(t, "createtxg", what),
                creation=_opt_size(t, "creation", what),
                referenced=_opt_size(t, "referenced", what),
            )
        )
    return Fixture(
        pools=tuple(pools),
        datasets=tuple(datasets),
        snapshots=tuple(snapshots),
        bookmarks=tuple(bookmarks),
        seed=seed,
        base_time=base_time,
    )


def load_fixture(path: str | Path) -> Fixture:
    """Read and parse a fixture TOML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(f"fixture: cannot read '{path}': {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise FixtureError(f"fixture: '{path}' is not UTF-8 text") from exc
    return parse_fixture(text)


def demo_fixture() -> Fixture:
    """The built-in demo fixture (``fakes/fixtures/demo.toml``)."""
    return load_fixture(DEMO_PATH)


# ---------------------------------------------------------------------------- synthetic
class _SyntheticSnapshots:
    """Lazily generated snapshots, spread round-robin-free: dataset by dataset."""

    def __init__(self, datasets: tuple[str, ...], count: int, base_time: int) -> None:
        self._datasets = datasets
        self._count = count
        self._base_time = base_time

    def __iter__(self) -> Iterator[SnapshotSpec]:
        n = len(self._datasets)
        if n == 0:
            return
        per, extra = divmod(self._count, n)
        stamps = [
            "@zrepl_"
            + time.strftime("%Y%m%d_%H%M%S", time.gmtime(self._base_time + 600 * j))
            + "_000"
            for j in range(per + (1 if extra else 0))
        ]
        first_written = 1 << 20
        later_written = 1 << 16
        for index, ds in enumerate(self._datasets):
            k = per + (1 if index < extra else 0)
            for j in range(k):
                yield SnapshotSpec(
                    ds + stamps[j],
                    referenced=1 << 20,
                    written=first_written if j == 0 else later_written,
                )


class _SyntheticBookmarks:
    def __init__(self, snapshots: _SyntheticSnapshots, every: int) -> None:
        self._snapshots = snapshots
        self._every = every

    def __iter__(self) -> Iterator[BookmarkSpec]:
        if self._every <= 0:
            return
        for index, snap in enumerate(self._snapshots):
            if index % self._every == 0:
                fs, _at, short = snap.name.partition("@")
                yield BookmarkSpec(name=f"{fs}#{short}", source=snap.name)


def synthetic_fixture(
    datasets: int = 10_000,
    snapshots: int = 1_000_000,
    *,
    seed: int = 0,
    pool: str = "pool",
    bookmark_every: int = 0,
) -> Fixture:
    """A large tree for benchmarks: ``datasets`` filesystems below ``pool`` in two levels
    (about sqrt(n) groups ``pool/sNNNN`` holding ``pool/sNNNN/dNNNNNN``), ``snapshots``
    spread evenly over them (named ``zrepl_YYYYmmdd_HHMMSS_000``), and a bookmark for every
    ``bookmark_every``-th snapshot. Snapshots are generated lazily.
    """
    if datasets < 0 or snapshots < 0:
        raise FixtureError("fixture: counts must not be negative")
    groups = max(1, round(math.sqrt(datasets))) if datasets else 0
    groups = min(groups, datasets)
    names = [f"{pool}/s{g:04d}" for g in range(groups)]
    for i in range(datasets - groups):
        names.append(f"{pool}/s{i % groups:04d}/d{i:06d}")
    specs = tuple(DatasetSpec(name=n) for n in names)
    snaps = _SyntheticSnapshots(tuple(names), snapshots, DEFAULT_BASE_TIME)
    return Fixture(
        pools=(PoolSpec(name=pool, size=1 << 50),),
        datasets=specs,
        snapshots=snaps,
        bookmarks=_SyntheticBookmarks(snaps, bookmark_every),
        seed=seed,
    )


# ---------------------------------------------------------------------------- install
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
    seed = fixture.seed
    base = fixture.base_time
    next_txg: dict[str, int] = {}
    datasets: dict[str, _Ds] = {}
    head_referenced: dict[str, int | None] = {}

    def take_txg(pool: str, given: int | None, what: str) -> int:
        txg = next_txg[pool] if given is None else given
        if given is not None and given <= 0:
            raise FixtureError(f"fixture: {what}: createtxg must be positive")
        next_txg[pool] = max(next_txg[pool], txg + 1)
        return txg

    def insert_dataset(
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
        parent = parent_name(name)
        parent_id = None if parent is None else datasets[parent].id
        cur = conn.execute(
            "INSERT INTO datasets(name, pool, parent, type, guid, createtxg, creation, "
            "referenced, written, volsize, mounted) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                name,
                pool_of(name),
                parent_id,
                1 if dtype == VOLUME else 0,
                guid_to_db(guid if guid is not None else derive_guid(seed, name)),
                txg,
                creation if creation is not None else base + 60 * txg,
                referenced if referenced is not None else EMPTY_REFERENCED,
                written,
                volsize,
                1 if (mounted and dtype == FILESYSTEM) else 0,
            ),
        )
        assert cur.lastrowid is not None
        datasets[name] = _Ds(cur.lastrowid, name, dtype, pool_of(name))
        head_referenced[name] = referenced
        clean = _check_props(f"dataset '{name}'", dtype, props)
        conn.executemany(
            "INSERT INTO dataset_props(dataset, name, value) VALUES (?,?,?)",
            [(cur.lastrowid, k, v) for k, v in clean.items()],
        )

    for pool in fixture.pools:
        what = f"pool '{pool.name}'"
        if "/" in pool.name:
            raise FixtureError(f"fixture: {what}: a pool name cannot contain '/'")
        _check_name(pool.name, frozenset({FILESYSTEM}), what)
        if not pool.name[0].isalpha():
            raise FixtureError(f"fixture: {what}: pool doesn't begin with a letter")
        if pool.name in next_txg:
            raise FixtureError(f"fixture: {what}: declared twice")
        next_txg[pool.name] = 1
        conn.execute(
            "INSERT INTO pools(name, size, next_txg) VALUES (?,?,?)", (pool.name, pool.size, 1)
        )
        insert_dataset(
            pool.name,
            FILESYSTEM,
            guid=pool.guid,
            txg=take_txg(pool.name, None, what),
            creation=None,
            volsize=None,
            mounted=pool.mounted,
            props=pool.properties,
            referenced=pool.referenced,
            written=0,
        )

    for spec in fixture.datasets:
        what = f"dataset '{spec.name}'"
        if spec.type not in (FILESYSTEM, VOLUME):
            raise FixtureError(f"fixture: {what}: type must be 'filesystem' or 'volume'")
        _check_name(spec.name, frozenset({spec.type}), what)
        if spec.name in datasets:
            raise FixtureError(f"fixture: {what}: declared twice")
        parent = parent_name(spec.name)
        if parent is None:
            raise FixtureError(f"fixture: {what}: declare pools with [[pool]]")
        pool_name = pool_of(spec.name)
        if pool_name not in next_txg:
            raise FixtureError(f"fixture: {what}: pool '{pool_name}' is not declared")
        if parent not in datasets:
            raise FixtureError(f"fixture: {what}: parent '{parent}' is not declared before it")
        if datasets[parent].type != FILESYSTEM:
            raise FixtureError(f"fixture: {what}: parent '{parent}' is not a filesystem")
        if spec.type == VOLUME and not spec.volsize:
            raise FixtureError(f"fixture: {what}: a volume needs a non-zero volsize")
        if spec.type == FILESYSTEM and spec.volsize is not None:
            raise FixtureError(f"fixture: {what}: only volumes have a volsize")
        insert_dataset(
            spec.name,
            spec.type,
            guid=spec.guid,
            txg=take_txg(pool_name, spec.createtxg, what),
            creation=spec.creation,
            volsize=spec.volsize,
            mounted=spec.mounted,
            props=spec.properties,
            referenced=spec.referenced,
            written=spec.written,
        )

    snap_props: list[tuple[str, str, Mapping[str, str]]] = []
    derive = GuidDeriver(seed)
    insert_version = (
        "INSERT INTO versions(dataset, kind, name, guid, createtxg, creation, referenced, "
        "written) VALUES (?,?,?,?,?,?,?,?)"
    )

    def snapshot_rows() -> Iterator[tuple[int, int, str, int, int, int, int, int]]:
        # Hot loop (a million snapshots for benchmarks): keep per-item work minimal.
        # Duplicate names are caught by the unique index created afterwards.
        fast_short = _FAST_SHORT.fullmatch
        shift = 1 << 63
        for spec in fixture.snapshots:
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

    conn.executemany(insert_version, snapshot_rows())
    try:
        create_indexes(conn)
    except sqlite3.IntegrityError:
        dup = conn.execute(
            "SELECT d.name, v.name FROM versions v JOIN datasets d ON d.id = v.dataset "
            "GROUP BY v.dataset, v.name HAVING COUNT(*) > 1 LIMIT 1"
        ).fetchone()
        raise FixtureError(f"fixture: snapshot '{dup[0]}@{dup[1]}': declared twice") from None
    for fs, short, props in snap_props:
        clean = _check_props(f"snapshot '{fs}@{short}'", SNAPSHOT, props)
        row = conn.execute(
            "SELECT id FROM versions WHERE dataset = ? AND kind = 0 AND name = ?",
            (datasets[fs].id, short),
        ).fetchone()
        conn.executemany(
            "INSERT INTO version_props(version, name, value) VALUES (?,?,?)",
            [(row[0], k, v) for k, v in clean.items()],
        )
    for ds in datasets.values():
        if head_referenced[ds.name] is None and ds.last_referenced is not None:
            conn.execute(
                "UPDATE datasets SET referenced = ? WHERE id = ?", (ds.last_referenced, ds.id)
            )

    def bookmark_rows() -> Iterator[tuple[int, int, str, int, int, int, int, int]]:
        seen: set[tuple[int, str]] = set()
        for spec in fixture.bookmarks:
            what = f"bookmark '{spec.name}'"
            _check_name(spec.name, frozenset({BOOKMARK}), what)
            fs, _delim, short = split_version(spec.name)
            ds = datasets.get(fs)
            if ds is None:
                raise FixtureError(f"fixture: {what}: dataset '{fs}' is not declared")
            if (ds.id, short) in seen:
                raise FixtureError(f"fixture: {what}: declared twice")
            seen.add((ds.id, short))
            if spec.source is not None:
                sfs, at, sshort = spec.source.partition("@")
                row = None
                if at and sfs == fs:
                    row = conn.execute(
                        "SELECT guid, createtxg, creation, referenced FROM versions "
                        "WHERE dataset = ? AND kind = 0 AND name = ?",
                        (ds.id, sshort),
                    ).fetchone()
                if row is None:
                    raise FixtureError(
                        f"fixture: {what}: source must be a declared snapshot of '{fs}'"
                    )
                guid, txg, creation, referenced = guid_from_db(row[0]), row[1], row[2], row[3]
            else:
                if spec.guid is None or spec.createtxg is None:
                    raise FixtureError(f"fixture: {what}: give a source or guid and createtxg")
                guid, txg = spec.guid, spec.createtxg
                creation = base + 60 * txg
                referenced = 0
            if spec.guid is not None:
                guid = spec.guid
            if spec.createtxg is not None:
                txg = spec.createtxg
            if spec.creation is not None:
                creation = spec.creation
            if spec.referenced is not None:
                referenced = spec.referenced
            yield (ds.id, 1, short, guid_to_db(guid), txg, creation, referenced, 0)

    bookmarks = list(bookmark_rows())
    conn.executemany(insert_version, bookmarks)
    for pool_name, txg in next_txg.items():
        conn.execute("UPDATE pools SET next_txg = ? WHERE name = ?", (txg, pool_name))
