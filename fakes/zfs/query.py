"""Reading the model: the objects ``zfs list``/``zfs get`` visit, their property values, order.

The traversal follows ``cmd/zfs/zfs_iter.c`` (``zfs_for_each``/``zfs_callback``): each named
root is opened, then with ``-r``/``-d`` its child datasets, snapshots and bookmarks are
visited down to the depth limit; snapshots are only visited when ``snapshot`` is among the
requested types (the pool property ``listsnapshots`` is off). The result is ordered like
``zfs_sort``: by the ``-s``/``-S`` columns, then ``zfs_compare`` (dataset name, datasets
before their snapshots, snapshots by createtxg).

Property values follow ``zfs_prop_get``: numbers are exact with ``-p`` and human-readable
otherwise, ``mountpoint`` and ``readonly`` and user properties are inherited, and each value
carries its ``SOURCE`` as ``zfs get`` prints it. Everything here runs inside the caller's
read transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from .errors import DatasetOpenError, ZfsError
from .names import (
    BOOKMARK,
    FILESYSTEM,
    SNAPSHOT,
    VOLUME,
    invalid_name_reason,
    split_version,
)
from .numbers import format_creation, nicebytes, nicenum
from .properties import PropDef, is_user_property, lookup_property
from .store import guid_from_db

__all__ = [
    "PropValue",
    "PropertyResolver",
    "ZfsObject",
    "collect_objects",
    "dataset_from_row",
    "open_object",
    "sort_objects",
    "written_between",
]

DATASET_COLUMNS: Final = (
    "id, name, pool, parent, type, guid, createtxg, creation, referenced, written, volsize, mounted"
)
VERSION_COLUMNS: Final = (
    "v.id, v.dataset, v.kind, v.name, v.guid, v.createtxg, v.creation, v.referenced, v.written"
)
_TYPE_NAMES: Final = (FILESYSTEM, VOLUME)
_KIND_NAMES: Final = (SNAPSHOT, BOOKMARK)
_KIND_DELIMS: Final = ("@", "#")
_GUID_SHIFT: Final = 1 << 63  # see store.guid_from_db


class ZfsObject:
    """One filesystem, volume, snapshot or bookmark as stored (a read-only record).

    ``dataset`` is the filesystem/volume name (the object itself for datasets);
    ``dataset_type`` its type. For snapshots and bookmarks ``version_id`` is set.
    """

    __slots__ = (
        "createtxg",
        "creation",
        "dataset",
        "dataset_id",
        "dataset_type",
        "guid",
        "mounted",
        "name",
        "parent_id",
        "pool",
        "referenced",
        "type",
        "version_id",
        "volsize",
        "written",
    )

    def __init__(
        self,
        *,
        name: str,
        type: str,
        guid: int,
        createtxg: int,
        creation: int,
        referenced: int,
        written: int,
        dataset: str,
        dataset_id: int,
        dataset_type: str,
        pool: str,
        volsize: int | None = None,
        mounted: bool = False,
        version_id: int | None = None,
        parent_id: int | None = None,
    ) -> None:
        self.name = name
        self.type = type
        self.guid = guid
        self.createtxg = createtxg
        self.creation = creation
        self.referenced = referenced
        self.written = written
        self.dataset = dataset
        self.dataset_id = dataset_id
        self.dataset_type = dataset_type
        self.pool = pool
        self.volsize = volsize
        self.mounted = mounted
        self.version_id = version_id
        self.parent_id = parent_id

    def __repr__(self) -> str:
        return (
            f"ZfsObject(name={self.name!r}, type={self.type!r}, guid={self.guid}, "
            f"createtxg={self.createtxg})"
        )


def dataset_from_row(row: Sequence[Any]) -> ZfsObject:
    """Build a dataset :class:`ZfsObject` from a ``SELECT {DATASET_COLUMNS}`` row."""
    dtype = _TYPE_NAMES[row[4]]
    return ZfsObject(
        name=row[1],
        type=dtype,
        guid=guid_from_db(row[5]),
        createtxg=row[6],
        creation=row[7],
        referenced=row[8],
        written=row[9],
        dataset=row[1],
        dataset_id=row[0],
        dataset_type=dtype,
        pool=row[2],
        volsize=row[10],
        mounted=bool(row[11]),
        parent_id=row[3],
    )


def _versions_from_rows(rows: Iterable[Sequence[Any]], ds: ZfsObject) -> list[ZfsObject]:
    """Snapshot/bookmark objects of ``ds``; bypasses ``__init__`` (hot path of listings)."""
    out = []
    new = object.__new__
    base = ds.name
    dataset_id = ds.dataset_id
    dataset_type = ds.type
    pool = ds.pool
    volsize = ds.volsize
    for row in rows:
        kind = row[2]
        obj = new(ZfsObject)
        obj.name = base + _KIND_DELIMS[kind] + row[3]
        obj.type = _KIND_NAMES[kind]
        obj.guid = row[4] + _GUID_SHIFT
        obj.createtxg = row[5]
        obj.creation = row[6]
        obj.referenced = row[7]
        obj.written = row[8]
        obj.dataset = base
        obj.dataset_id = dataset_id
        obj.dataset_type = dataset_type
        obj.pool = pool
        obj.volsize = volsize
        obj.mounted = False
        obj.version_id = row[0]
        obj.parent_id = None
        out.append(obj)
    return out


def _version_from_row(row: Sequence[Any], ds: ZfsObject) -> ZfsObject:
    return _versions_from_rows((row,), ds)[0]


def written_between(
    conn: sqlite3.Connection, dataset_id: int, after_txg: int, upto_txg: int | None
) -> int:
    """Bytes written to a dataset in txgs ``(after_txg, upto_txg]`` (open-ended if ``None``).

    Each snapshot records the bytes written since the snapshot before it; a destroyed
    snapshot leaves its bytes behind in ``orphan_writes`` so that increments spanning it
    (for example from a bookmark) keep their size — the data changed in those txgs whether
    or not a snapshot still marks them.
    """
    upper = (1 << 62) if upto_txg is None else upto_txg
    row = conn.execute(
        "SELECT (SELECT COALESCE(SUM(written), 0) FROM versions WHERE dataset = ?1 AND kind = 0 "
        "AND createtxg > ?2 AND createtxg <= ?3) + (SELECT COALESCE(SUM(bytes), 0) "
        "FROM orphan_writes WHERE dataset = ?1 AND txg > ?2 AND txg <= ?3)",
        (dataset_id, after_txg, upper),
    ).fetchone()
    return int(row[0])


def load_dataset(conn: sqlite3.Connection, name: str) -> ZfsObject | None:
    """The filesystem or volume called ``name``, if any."""
    row = conn.execute(f"SELECT {DATASET_COLUMNS} FROM datasets WHERE name = ?", (name,)).fetchone()
    return None if row is None else dataset_from_row(row)


def load_version(
    conn: sqlite3.Connection, ds: ZfsObject, kind: int, short: str
) -> ZfsObject | None:
    """Snapshot (``kind`` 0) or bookmark (1) ``short`` of dataset ``ds``, if any."""
    row = conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM versions v WHERE v.dataset = ? AND v.kind = ? "
        "AND v.name = ?",
        (ds.dataset_id, kind, short),
    ).fetchone()
    return None if row is None else _version_from_row(row, ds)


def load_versions(
    conn: sqlite3.Connection,
    ds: ZfsObject,
    kinds: Iterable[int] = (0, 1),
    *,
    ordered: bool = True,
) -> list[ZfsObject]:
    """Snapshots and/or bookmarks of ``ds``; oldest first (createtxg, kind, name) when
    ``ordered`` (callers that sort anyway pass ``False`` and skip SQLite's sort)."""
    kinds = tuple(kinds)
    if not kinds:
        return []
    marks = ",".join("?" * len(kinds))
    order = " ORDER BY v.createtxg, v.kind, v.name" if ordered else ""
    rows = conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM versions v WHERE v.dataset = ? AND v.kind IN ({marks})"
        + order,
        (ds.dataset_id, *kinds),
    ).fetchall()
    return _versions_from_rows(rows, ds)


def load_subtree(conn: sqlite3.Connection, root: ZfsObject) -> list[ZfsObject]:
    """``root`` and all datasets below it, in name order."""
    rows = conn.execute(
        f"SELECT {DATASET_COLUMNS} FROM datasets WHERE name = ? OR (name > ? AND name < ?) "
        "ORDER BY name",
        (root.name, root.name + "/", root.name + "0"),
    ).fetchall()
    return [dataset_from_row(row) for row in rows]


def open_object(conn: sqlite3.Connection, name: str, types: frozenset[str]) -> ZfsObject:
    """``zfs_open``: the object called ``name`` if it exists and has one of ``types``.

    Raises :class:`DatasetOpenError` with the real ``cannot open '...'`` text otherwise.
    """
    reason = invalid_name_reason(name, types)
    if reason is not None:
        raise DatasetOpenError(f"cannot open '{name}': {reason}")
    fs, delim, short = split_version(name)
    ds = load_dataset(conn, fs)
    if ds is None:
        raise DatasetOpenError(f"cannot open '{name}': dataset does not exist")
    obj: ZfsObject | None = ds
    if delim == "@":
        obj = load_version(conn, ds, 0, short)
        if obj is None:
            raise DatasetOpenError(f"cannot open '{name}': dataset does not exist")
    elif delim == "#":
        obj = load_version(conn, ds, 1, short)
        if obj is None:
            raise DatasetOpenError(f"cannot open '{name}': no such pool or dataset")
    assert obj is not None
    if obj.type not in types:
        raise DatasetOpenError(
            f"cannot open '{name}': operation not applicable to datasets of this type"
        )
    return obj


def collect_objects(
    conn: sqlite3.Connection,
    roots: Sequence[str],
    types: frozenset[str],
    *,
    recursive: bool,
    depth: int | None,
    snapshots_when_named: bool,
    errors: list[ZfsError] | None,
) -> list[ZfsObject]:
    """The objects ``zfs list``/``zfs get`` visit (unordered, without duplicates).

    ``types`` are the types shown; snapshots are traversed only when ``snapshot`` is in
    ``types`` and ``snapshots_when_named`` is false (``-t`` given), mirroring the listsnaps
    logic. A root that cannot be opened is reported into ``errors`` (or raised when ``errors``
    is ``None``) and skipped, as ``zfs_for_each`` continues with the other roots.
    """
    include_snaps = SNAPSHOT in types and not snapshots_when_named
    include_bmarks = BOOKMARK in types
    found: dict[str, ZfsObject] = {}
    if not roots:
        recursive = True
        start = [
            dataset_from_row(row)
            for row in conn.execute(
                f"SELECT {DATASET_COLUMNS} FROM datasets WHERE parent IS NULL ORDER BY name"
            )
        ]
    else:
        argtypes = set(types)
        if recursive:
            argtypes.add(FILESYSTEM)
            if SNAPSHOT in types or BOOKMARK in types:
                argtypes.add(VOLUME)
        frozen_argtypes = frozenset(argtypes)
        start = []
        for name in roots:
            try:
                start.append(open_object(conn, name, frozen_argtypes))
            except ZfsError as exc:
                if errors is None:
                    raise
                errors.append(exc)
    for root in start:
        if root.type in types:
            found.setdefault(root.name, root)
        if not recursive or root.version_id is not None:
            continue
        if depth is not None and depth <= 0:
            continue
        tree = load_subtree(conn, root) if root.type == FILESYSTEM else [root]
        base_depth = root.name.count("/")
        kinds = ([0] if include_snaps else []) + ([1] if include_bmarks else [])
        for ds in tree:
            level = ds.name.count("/") - base_depth
            shown = ds.name != root.name and ds.type in types
            if shown and (depth is None or level <= depth):
                found.setdefault(ds.name, ds)
            if kinds and (depth is None or level < depth):
                for version in load_versions(conn, ds, kinds, ordered=False):
                    found.setdefault(version.name, version)
    return list(found.values())


class _Reverse:
    """Wraps a string so that sorting ascending orders it descending."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _compare_key(obj: ZfsObject) -> tuple[str, int, int]:
    """``zfs_compare``: dataset part by strcmp, datasets first, snapshots by createtxg."""
    at = obj.name.find("@")
    if at < 0:
        return (obj.name, 0, 0)
    return (obj.name[:at], 1, obj.createtxg)


def sort_objects(
    objects: list[ZfsObject],
    sort: Sequence[tuple[str, bool]],
    resolver: PropertyResolver,
) -> list[ZfsObject]:
    """Order like ``zfs_sort``: each ``(property, descending)`` column, then ``zfs_compare``.

    An object for which a sort property is not valid sorts after all valid ones in either
    direction, as in the real code.
    """
    if not sort:
        return sorted(objects, key=_compare_key)
    fast = _fast_sort_key(sort)
    if fast is not None:
        return sorted(objects, key=fast)

    def key(obj: ZfsObject) -> tuple[Any, ...]:
        parts: list[Any] = []
        for prop, descending in sort:
            raw = resolver.raw(obj, prop)
            if raw is None:
                parts.append((1, 0))
            elif isinstance(raw, str):
                parts.append((0, _Reverse(raw) if descending else raw))
            else:
                parts.append((0, -raw if descending else raw))
        parts.append(_compare_key(obj))
        return tuple(parts)

    return sorted(objects, key=key)


def _fast_sort_key(sort: Sequence[tuple[str, bool]]) -> Callable[[ZfsObject], Any] | None:
    """A cheap key for the common single-column createtxg/guid sorts (no lookups)."""
    if len(sort) != 1:
        return None
    prop, descending = sort[0]
    definition = lookup_property(prop)
    if definition is None or definition.name not in ("createtxg", "guid"):
        return None
    attr = definition.name
    sign = -1 if descending else 1

    def key(obj: ZfsObject) -> tuple[int, tuple[str, int, int]]:
        return (sign * getattr(obj, attr), _compare_key(obj))

    return key


class PropValue:
    """A property value as ``zfs get`` prints it: text, raw value (for sorting), source."""

    __slots__ = ("raw", "source", "text")

    def __init__(self, text: str, raw: int | str | None, source: str = "-") -> None:
        self.text = text
        self.raw = raw
        self.source = source

    def __repr__(self) -> str:
        return f"PropValue({self.text!r}, source={self.source!r})"


_NONE: Final = "-"


def _get_name(obj: ZfsObject) -> str:
    return obj.name


def _get_type(obj: ZfsObject) -> str:
    return obj.type


def _get_guid(obj: ZfsObject) -> str:
    return str(obj.guid)


def _get_createtxg(obj: ZfsObject) -> str:
    return str(obj.createtxg)


class PropertyResolver:
    """Computes property values of :class:`ZfsObject` s within one read transaction.

    Inherited properties, space accounting and pool sizes are loaded lazily, once.
    """

    def __init__(self, conn: sqlite3.Connection, *, literal: bool) -> None:
        self._conn = conn
        self.literal = literal
        self._dataset_props: dict[str, dict[str, str]] | None = None
        self._version_props: dict[int, dict[str, str]] | None = None
        self._used: dict[str, int] | None = None
        self._pool_size: dict[str, int] | None = None

    # -- lazily loaded tables -------------------------------------------------------------
    def dataset_props(self) -> dict[str, dict[str, str]]:
        """Local properties of every dataset, by dataset name."""
        if self._dataset_props is None:
            table: dict[str, dict[str, str]] = {}
            for dname, pname, value in self._conn.execute(
                "SELECT d.name, p.name, p.value FROM dataset_props p "
                "JOIN datasets d ON d.id = p.dataset"
            ):
                table.setdefault(dname, {})[pname] = value
            self._dataset_props = table
        return self._dataset_props

    def version_props(self) -> dict[int, dict[str, str]]:
        """Local (user) properties of snapshots, by version id."""
        if self._version_props is None:
            table: dict[int, dict[str, str]] = {}
            for vid, pname, value in self._conn.execute(
                "SELECT version, name, value FROM version_props"
            ):
                table.setdefault(vid, {})[pname] = value
            self._version_props = table
        return self._version_props

    def _space(self) -> tuple[dict[str, int], dict[str, int]]:
        if self._used is None or self._pool_size is None:
            snap_written = dict(
                self._conn.execute(
                    "SELECT dataset, SUM(written) FROM versions WHERE kind = 0 GROUP BY dataset"
                ).fetchall()
            )
            rows = self._conn.execute(
                "SELECT id, name, referenced FROM datasets ORDER BY name DESC"
            ).fetchall()
            used: dict[str, int] = {}
            for ds_id, name, referenced in rows:
                # Children sort after their parent, so in DESC order they come first.
                used[name] = used.get(name, 0) + referenced + int(snap_written.get(ds_id, 0))
                cut = name.rfind("/")
                if cut >= 0:
                    parent = name[:cut]
                    used[parent] = used.get(parent, 0) + used[name]
            self._used = used
            self._pool_size = dict(self._conn.execute("SELECT name, size FROM pools").fetchall())
        return self._used, self._pool_size

    def _inherited(self, obj: ZfsObject, prop: str) -> tuple[str, str] | None:
        """``(value, source)`` of an inheritable property, walking up from ``obj``."""
        if obj.version_id is not None:
            local = self.version_props().get(obj.version_id)
            if local is not None and prop in local:
                return local[prop], "local"
        props = self.dataset_props()
        name: str | None = obj.dataset
        while name is not None:
            local = props.get(name)
            if local is not None and prop in local:
                if name == obj.name:
                    return local[prop], "local"
                return local[prop], f"inherited from {name}"
            cut = name.rfind("/")
            name = name[:cut] if cut >= 0 else None
        return None

    # -- public -----------------------------------------------------------------------------
    def value(self, obj: ZfsObject, prop: str) -> PropValue | None:
        """The value of ``prop`` for ``obj``; ``None`` when it does not apply (shown ``-``)."""
        definition = lookup_property(prop)
        if definition is None:
            if is_user_property(prop):
                return self._user_value(obj, prop)
            return None
        if obj.type not in definition.types:
            return None
        return self._native_value(obj, definition)

    def text_getter(self, prop: str) -> Callable[[ZfsObject], str]:
        """A function giving the displayed text of ``prop`` (``-`` if it does not apply).

        The properties every listing asks for get direct accessors; they are the hot path
        of ``zfs list`` over 100,000 snapshots.
        """
        definition = lookup_property(prop)
        name = definition.name if definition is not None else None
        if name == "name":
            return _get_name
        if name == "type":
            return _get_type
        if name == "guid":
            return _get_guid
        if name == "createtxg":
            return _get_createtxg

        def get(obj: ZfsObject) -> str:
            value = self.value(obj, prop)
            return _NONE if value is None else value.text

        return get

    def raw(self, obj: ZfsObject, prop: str) -> int | str | None:
        """The sort value of ``prop`` for ``obj`` (``None`` if not valid for it)."""
        value = self.value(obj, prop)
        return None if value is None else value.raw

    def _user_value(self, obj: ZfsObject, prop: str) -> PropValue | None:
        if obj.type == BOOKMARK:
            return None
        found = self._inherited(obj, prop)
        if found is None:
            return None
        return PropValue(found[0], found[0], found[1])

    def _number(self, definition: PropDef, value: int, source: str = _NONE) -> PropValue:
        if self.literal:
            return PropValue(str(value), value, source)
        if definition.name in ("used", "available", "referenced"):
            return PropValue(nicebytes(value), value, source)
        if definition.name == "creation":
            return PropValue(format_creation(value), value, source)
        if definition.name in ("guid", "createtxg"):
            return PropValue(str(value), value, source)
        return PropValue(nicenum(value), value, source)

    def _native_value(self, obj: ZfsObject, definition: PropDef) -> PropValue | None:
        name = definition.name
        if name == "name":
            return PropValue(obj.name, obj.name)
        if name == "type":
            return PropValue(obj.type, obj.type)
        if name == "guid":
            return self._number(definition, obj.guid)
        if name == "createtxg":
            return self._number(definition, obj.createtxg)
        if name == "creation":
            return self._number(definition, obj.creation)
        if name == "referenced":
            return self._number(definition, obj.referenced)
        if name == "written":
            return self._number(definition, self._written(obj))
        if name == "used":
            if obj.version_id is not None:
                return self._number(definition, 0)
            used, _sizes = self._space()
            return self._number(definition, used.get(obj.name, 0))
        if name == "available":
            used, sizes = self._space()
            avail = max(0, sizes.get(obj.pool, 0) - used.get(obj.pool, 0))
            return self._number(definition, avail)
        if name == "volsize":
            if obj.dataset_type != VOLUME or obj.volsize is None:
                return None
            return self._number(definition, obj.volsize, "local" if obj.type == VOLUME else "-")
        if name == "mounted":
            text = "yes" if obj.mounted else "no"
            return PropValue(text, int(obj.mounted))
        if name == "readonly":
            found = self._inherited(obj, "readonly")
            text, source = found if found is not None else ("off", "default")
            return PropValue(text, definition.index_values.index(text), source)
        if name == "mountpoint":
            return self._mountpoint(obj)
        return None

    def _written(self, obj: ZfsObject) -> int:
        """``written``: bytes since the previous (still existing) snapshot."""
        if obj.version_id is None:
            newest = self._conn.execute(
                "SELECT COALESCE(MAX(createtxg), 0) FROM versions WHERE dataset = ? AND kind = 0",
                (obj.dataset_id,),
            ).fetchone()[0]
            return obj.written + written_between(self._conn, obj.dataset_id, newest, None)
        previous = self._conn.execute(
            "SELECT COALESCE(MAX(createtxg), 0) FROM versions WHERE dataset = ? AND kind = 0 "
            "AND createtxg < ?",
            (obj.dataset_id, obj.createtxg),
        ).fetchone()[0]
        return written_between(self._conn, obj.dataset_id, previous, obj.createtxg)

    def _mountpoint(self, obj: ZfsObject) -> PropValue:
        props = self.dataset_props()
        name: str | None = obj.name
        while name is not None:
            local = props.get(name)
            if local is not None and "mountpoint" in local:
                value = local["mountpoint"]
                source = "local" if name == obj.name else f"inherited from {name}"
                if not value.startswith("/"):
                    return PropValue(value, value, source)
                relpath = obj.name[len(name) :].lstrip("/")
                if value == "/" and relpath:
                    value = ""
                text = f"{value}/{relpath}" if relpath else value
                return PropValue(text, text, source)
            cut = name.rfind("/")
            name = name[:cut] if cut >= 0 else None
        text = "/" + obj.name
        return PropValue(text, text, "default")
