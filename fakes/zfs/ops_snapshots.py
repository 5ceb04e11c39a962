"""Snapshot and bookmark operations of the fake ZFS: ``zfs snapshot``, ``zfs bookmark`` and
destroying ``FS@SNAPS`` and ``FS#MARK``.

A mixin of :class:`~fakes.zfs.engine.FakeZfs` (see :mod:`.ops_base` for why the engine is
composed this way). Both kinds are rows of the ``versions`` table (kind 0 a snapshot, 1 a
bookmark), which is why they form one group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import query
from .errors import ZfsError, ZfsUsageError
from .names import BOOKMARK, SNAPSHOT, invalid_name_reason, pool_of, split_version
from .ops_base import FS_VOL, EngineBase
from .query import ZfsObject

__all__ = ["SnapshotOps"]


class SnapshotOps(EngineBase):
    """Creating snapshots and bookmarks, and destroying them by name or snapshot spec."""

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
                ds = self._open(fs, FS_VOL)
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
    def _destroy_bookmark(self, name: str, fs: str, short: str, recursive: bool) -> list[str]:
        """``zfs destroy FS#MARK`` (inside the caller's write transaction)."""
        if recursive:
            raise ZfsError("recursive is not supported with bookmark", exit_code=255)
        ds = self._dataset(fs)
        mark = None if ds is None else query.load_version(self._conn, ds, 1, short)
        if mark is None or invalid_name_reason(name, frozenset({BOOKMARK})) is not None:
            raise ZfsError(f"bookmark '{name}' does not exist.")
        self._conn.execute("DELETE FROM versions WHERE id = ?", (mark.version_id,))
        return [name]

    def _destroy_snapshots(self, fs: str, spec: str, recursive: bool) -> list[str]:
        ds = self._open(fs, FS_VOL)
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
