"""Listing and property operations of the fake ZFS: ``zfs list``, ``zfs get``, ``zfs set``.

A mixin of :class:`~fakes.zfs.engine.FakeZfs` (see :mod:`.ops_base` for why the engine is
composed this way). Traversal, ordering and property values themselves are
:mod:`.query`'s; this group runs them inside a read transaction and shapes the result,
including the SQL fast path replication's version listings take.

The mixin defines a method called ``list``, so annotations below it spell the built-in
``builtins.list``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from . import query
from .errors import DatasetOpenError, ZfsError
from .names import (
    ALL_TYPES,
    BOOKMARK,
    DATASET_TYPES,
    FILESYSTEM,
    SNAPSHOT,
    VOLUME,
    parent_name,
    split_version,
)
from .ops_base import FS_VOL, EngineBase
from .properties import PROPERTIES, is_user_property, lookup_property
from .query import PropertyResolver, PropValue, ZfsObject

__all__ = ["Listed", "ListingOps", "Version"]


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


class ListingOps(EngineBase):
    """Existence checks, listings with property values, and getting and setting properties."""

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
        ds = self._open(root, FS_VOL)
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
