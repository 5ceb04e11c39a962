"""Dataset operations of the fake ZFS: ``zfs create``, destroying a dataset, data writes.

A mixin of :class:`~fakes.zfs.engine.FakeZfs` (see :mod:`.ops_base` for why the engine is
composed this way). ``zfs destroy`` itself dispatches on the name in ``FakeZfs.destroy``:
a dataset comes here, ``FS@SNAPS`` and ``FS#MARK`` go to :mod:`.ops_snapshots`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from . import query
from .errors import ZfsError
from .names import DATASET_TYPES, FILESYSTEM, VOLUME, invalid_name_reason, parent_name, pool_of
from .ops_base import FS_VOL, EngineBase
from .query import PropertyResolver, ZfsObject

__all__ = [
    "EMPTY_FS_REFERENCED",
    "EMPTY_VOLUME_REFERENCED",
    "MAX_NESTING",
    "VOLBLOCKSIZE",
    "DatasetOps",
]

#: Bytes a new, empty filesystem references (what ``zfs create`` shows as REFER).
EMPTY_FS_REFERENCED: Final = 98304
#: Bytes a new volume references.
EMPTY_VOLUME_REFERENCED: Final = 57344
#: ``ZVOL_DEFAULT_BLOCKSIZE``: volume sizes are rounded up to a multiple of this.
VOLBLOCKSIZE: Final = 16384
#: ``zfs_max_dataset_nesting``.
MAX_NESTING: Final = 50


class DatasetOps(EngineBase):
    """Creating and destroying filesystems and volumes, and writing data into them."""

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

    # ------------------------------------------------------------------ destroy
    def _destroy_dataset(self, name: str, recursive: bool) -> list[str]:
        """``zfs destroy [-r] FS|VOL`` (inside the caller's write transaction)."""
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

    def write(self, name: str, nbytes: int) -> None:
        """Simulate ``nbytes`` of new data written into a filesystem or volume.

        Raises ``ZfsError("cannot write to 'NAME': Read-only file system")`` when its
        effective ``readonly`` is ``on`` (the only thing readonly blocks in ZFS).
        """
        if nbytes < 0:
            raise ValueError("nbytes must not be negative")
        with self._write():
            ds = self._open(name, FS_VOL)
            ro = PropertyResolver(self._conn, literal=True).value(ds, "readonly")
            if ro is not None and ro.text == "on":
                raise ZfsError(f"cannot write to '{name}': Read-only file system")
            self._conn.execute(
                "UPDATE datasets SET referenced = referenced + ?, written = written + ? "
                "WHERE id = ?",
                (nbytes, nbytes, ds.dataset_id),
            )
