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

Turning a fixture into database rows is :mod:`.fixture_install`
(:func:`install_fixture` here forwards to it).
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .names import FILESYSTEM, VOLUME
from .numbers import NumberError, nicestrtonum

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
    pools = tuple(_parse_pool(t) for t in _tables(doc, "pool"))
    datasets = tuple(_parse_dataset(t) for t in _tables(doc, "dataset"))
    snapshots = tuple(_parse_snapshot(t) for t in _tables(doc, "snapshot"))
    bookmarks = tuple(_parse_bookmark(t) for t in _tables(doc, "bookmark"))
    return Fixture(
        pools=pools,
        datasets=datasets,
        snapshots=snapshots,
        bookmarks=bookmarks,
        seed=seed,
        base_time=base_time,
    )


def _mounted(t: Mapping[str, Any], what: str) -> bool:
    mounted = t.get("mounted", True)
    if not isinstance(mounted, bool):
        raise FixtureError(f"fixture: {what}: 'mounted' must be true or false")
    return mounted


def _parse_pool(t: Mapping[str, Any]) -> PoolSpec:
    what = f"pool {t.get('name')!r}"
    _check_keys(t, {"name", "size", "properties", "guid", "referenced", "mounted"}, what)
    mounted = _mounted(t, what)
    return PoolSpec(
        name=_str(t, "name", what),
        size=_opt_size(t, "size", what) or DEFAULT_POOL_SIZE,
        properties=_props(t, what),
        guid=_opt_u64(t, "guid", what),
        referenced=_opt_size(t, "referenced", what),
        mounted=mounted,
    )


def _parse_dataset(t: Mapping[str, Any]) -> DatasetSpec:
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
    mounted = _mounted(t, what)
    return DatasetSpec(
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


def _parse_snapshot(t: Mapping[str, Any]) -> SnapshotSpec:
    what = f"snapshot {t.get('name')!r}"
    _check_keys(
        t,
        {"name", "guid", "createtxg", "creation", "referenced", "written", "properties"},
        what,
    )
    return SnapshotSpec(
        name=_str(t, "name", what),
        guid=_opt_u64(t, "guid", what),
        createtxg=_opt_u64(t, "createtxg", what),
        creation=_opt_size(t, "creation", what),
        referenced=_opt_size(t, "referenced", what),
        written=_opt_size(t, "written", what),
        properties=_props(t, what),
    )


def _parse_bookmark(t: Mapping[str, Any]) -> BookmarkSpec:
    what = f"bookmark {t.get('name')!r}"
    _check_keys(t, {"name", "source", "guid", "createtxg", "creation", "referenced"}, what)
    source = t.get("source")
    if source is not None and not isinstance(source, str):
        raise FixtureError(f"fixture: {what}: 'source' must be a string")
    return BookmarkSpec(
        name=_str(t, "name", what),
        source=source,
        guid=_opt_u64(t, "guid", what),
        createtxg=_opt_u64(t, "createtxg", what),
        creation=_opt_size(t, "creation", what),
        referenced=_opt_size(t, "referenced", what),
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
def install_fixture(conn: sqlite3.Connection, fixture: Fixture) -> None:
    """Load ``fixture`` into a database fresh from ``store.init_schema`` (no indexes yet;
    this creates them after the bulk insert). Runs inside the caller's transaction.

    The installer is :mod:`.fixture_install`; it is imported here, on use, because it needs
    this module's types, and ``fakes.zfs.fixtures.install_fixture`` is where callers find it.
    """
    from .fixture_install import install_fixture as install

    install(conn, fixture)
