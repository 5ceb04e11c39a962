"""Send and receive of the fake ZFS: ``zfs send [-i FROM]`` and ``zfs receive [-F] [-u]``.

A mixin of :class:`~fakes.zfs.engine.FakeZfs` (see :mod:`.ops_base` for why the engine is
composed this way).

Receive reads and validates the stream header, checks the destination (read transaction),
then reads and verifies the whole payload with no lock held, and finally applies the result
in one short write transaction that re-checks the destination. A damaged or mismatched
stream therefore never changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import query, store
from .errors import DatasetOpenError, ZfsError
from .names import (
    DATASET_TYPES,
    FILESYSTEM,
    SNAPSHOT,
    VOLUME,
    invalid_name_reason,
    parent_name,
    pool_of,
    split_version,
)
from .ops_base import EngineBase
from .query import ZfsObject
from .stream import (
    KIND_FULL,
    KIND_INCREMENTAL,
    Readable,
    SendStream,
    StreamFormatError,
    StreamHeader,
    StreamReader,
)

__all__ = ["ReceiveResult", "SendReceiveOps"]


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """What a successful receive did."""

    snapshot: str  # full name of the received snapshot
    guid: int
    createtxg: int
    created_dataset: bool
    skipped: bool = False  # the snapshot already existed with the same GUID
    rolled_back: tuple[str, ...] = ()  # snapshots destroyed by -F


@dataclass(frozen=True, slots=True)
class _ReceivePlan:
    action: str  # "newfs", "overwrite", "incremental" or "skip"
    dataset: ZfsObject | None
    rollback: tuple[ZfsObject, ...] = ()
    existing: ZfsObject | None = None
    from_txg: int | None = None  # set for -F incrementals (rollback target)


class SendReceiveOps(EngineBase):
    """Producing send streams from snapshots and applying received streams."""

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
        """Check the destination against the stream; raise what the real receive prints.

        Runs twice, before the payload is read and again in the write transaction, so a
        destination that changed meanwhile is refused rather than overwritten.
        """
        fs = destsnap.partition("@")[0]
        ds = self._dataset(fs)
        if not header.is_incremental:
            if ds is not None:
                return self._plan_overwrite(header, fs, ds, errbuf, force)
            return self._plan_new_dataset(fs, errbuf)
        if ds is None:
            raise ZfsError(f"{errbuf}: destination '{fs}' does not exist")
        return self._plan_incremental(header, destsnap, ds, errbuf, force)

    def _plan_overwrite(
        self, header: StreamHeader, fs: str, ds: ZfsObject, errbuf: str, force: bool
    ) -> _ReceivePlan:
        """A full stream onto an existing dataset: only with -F, and only onto one that has
        no snapshots (nor, for a volume, children)."""
        if not force:
            raise ZfsError(f"{errbuf}: destination '{fs}' exists\nmust specify -F to overwrite it")
        snaps = query.load_versions(self._conn, ds, (0,))
        if snaps:
            raise ZfsError(
                f"{errbuf}: destination has snapshots (eg. {snaps[0].name})\n"
                "must destroy them to overwrite it"
            )
        if header.dataset_type == VOLUME:
            if "/" not in fs:
                raise ZfsError(
                    f"{errbuf}: destination {fs} is the root dataset\ncannot overwrite with a ZVOL"
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

    def _plan_new_dataset(self, fs: str, errbuf: str) -> _ReceivePlan:
        """A full stream creating ``fs``: its parent must exist and be a filesystem."""
        parent = parent_name(fs)
        if parent is None:
            raise ZfsError(f"{errbuf}: destination '{fs}' does not exist")
        try:
            pds = self._open(parent, DATASET_TYPES)
        except DatasetOpenError as exc:
            raise ZfsError(f"{exc.message}\n{errbuf}: unable to restore to destination") from exc
        if pds.type != FILESYSTEM:
            raise ZfsError(f"{errbuf}: parent '{parent}' is not a filesystem")
        return _ReceivePlan("newfs", None)

    def _plan_incremental(
        self, header: StreamHeader, destsnap: str, ds: ZfsObject, errbuf: str, force: bool
    ) -> _ReceivePlan:
        """An incremental stream: its source must be a snapshot of the destination."""
        fs, _at, short = destsnap.partition("@")
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
        """Make the planned change (inside the write transaction that re-planned it)."""
        fs, _at, short = destsnap.partition("@")
        if plan.action == "skip":
            assert plan.existing is not None
            return ReceiveResult(
                destsnap, plan.existing.guid, plan.existing.createtxg, False, skipped=True
            )
        pool = pool_of(fs)
        created = False
        if plan.action == "newfs":
            self._receive_new_dataset(header, fs, nomount)
            created = True
        elif plan.action == "overwrite":
            assert plan.dataset is not None
            self._receive_overwrite(header, plan.dataset, nomount)
        else:
            assert plan.dataset is not None
            self._receive_rollback(plan, header, plan.dataset)
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

    def _receive_new_dataset(self, header: StreamHeader, fs: str, nomount: bool) -> None:
        """Create the dataset a full stream makes (it gets a new GUID of its own)."""
        txg = self._next_txg(pool_of(fs))
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

    def _receive_overwrite(self, header: StreamHeader, ds: ZfsObject, nomount: bool) -> None:
        """Turn an existing, snapshot-less dataset into what a full stream describes."""
        conn = self._conn
        conn.execute("DELETE FROM orphan_writes WHERE dataset = ?", (ds.dataset_id,))
        conn.execute(
            "UPDATE datasets SET type = ?, referenced = ?, written = 0, volsize = ?, "
            "mounted = ? WHERE id = ?",
            (
                1 if header.dataset_type == VOLUME else 0,
                header.referenced,
                header.volsize if header.dataset_type == VOLUME else None,
                1 if header.dataset_type == FILESYSTEM and not nomount else 0,
                ds.dataset_id,
            ),
        )

    def _receive_rollback(self, plan: _ReceivePlan, header: StreamHeader, ds: ZfsObject) -> None:
        """Before an incremental lands: drop what -F rolls back, then take the new size."""
        conn = self._conn
        for snap in plan.rollback:
            conn.execute("DELETE FROM version_props WHERE version = ?", (snap.version_id,))
            conn.execute("DELETE FROM versions WHERE id = ?", (snap.version_id,))
        if plan.rollback or plan.from_txg is not None:
            # Rolled-back data is gone, not merely unsnapshotted.
            conn.execute(
                "DELETE FROM orphan_writes WHERE dataset = ? AND txg > ?",
                (ds.dataset_id, plan.from_txg or 0),
            )
        conn.execute(
            "UPDATE datasets SET referenced = ?, written = 0 WHERE id = ?",
            (header.referenced, ds.dataset_id),
        )
