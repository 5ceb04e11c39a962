"""Replication jobs: pull (§job.pull) and push via pull-me (§job.push), over any requester.

The pull job follows cmd/replication.go of the seed's commit: list the
remote filesystems, map each through the local mapping (no match: skip),
visit the mapped local paths top-down in the original's order (a forest of
the local paths, each node's children in the order the listing first reached
them; :func:`walk_order`; a missing intermediate local dataset stops its
subtree), and per dataset compute the diff of local (left) and remote
(right) versions:

- no common ancestor: initial transfer of the newest remote *snapshot*,
  ``zfs recv -u``, then ``zfs set readonly=on``;
- in sync: nothing;
- otherwise: each incremental step along the path, ``zfs recv`` each.

Deliberate differences, each stopping only that dataset with a clear reason
(docs/PROTOCOL.md §deviations): divergence is reported instead of attempting
an initial transfer onto an existing dataset (the original ignored
``Diverged``); an unimplemented or unknown initial replication policy is a
failure rather than a panic (an empty policy means the default
``most_recent``); a transfer whose receive fails is drained so the
connection stays usable. Results are per dataset, so a job can report every
dataset's fate.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from bytestreamrpc.constants import INITIAL_REPL_POLICY_ALL, INITIAL_REPL_POLICY_MOST_RECENT
from bytestreamrpc.errors import ProtocolError, RequestFailed
from bytestreamrpc.interfaces import RPCRequester, TransferReader
from bytestreamrpc.messages import (
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
)

from .diff import classify, make_filesystem_diff
from .mapping import DatasetMapping, MappingError
from .zfs import FakeZfs
from .zfs.errors import ZfsError


@dataclass
class DatasetResult:
    """What happened to one mapped dataset."""

    remote: str
    local: str
    ok: bool
    action: str  # initial | incremental | in-sync | diverged | failed | skipped
    detail: str = ""
    received: list[FilesystemVersion] = field(default_factory=list)

    def line(self) -> str:
        status = "ok" if self.ok else "FAILED"
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.remote} => {self.local}: {status} ({self.action}){detail}"


@dataclass
class JobReport:
    """The outcome of a pull or push job."""

    results: list[DatasetResult] = field(default_factory=list)
    error: str | None = None  # a failure of the whole job
    close_error: str | None = None
    """The job's Close request failed (reported, but not a failure of the job)."""

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.ok for r in self.results)

    def lines(self) -> list[str]:
        out = [r.line() for r in self.results]
        if self.error:
            out.append(f"job FAILED: {self.error}")
        return out

    def summary(self) -> str:
        failed = [r for r in self.results if not r.ok]
        if self.error:
            return self.error
        if not failed:
            return f"{len(self.results)} dataset(s) replicated"
        return "; ".join(r.line() for r in failed)


class _ConnectionLost(Exception):
    pass


def _drain(stream: TransferReader) -> None:
    try:
        stream.drain()
    except ProtocolError as exc:
        raise _ConnectionLost(f"connection broke while draining a transfer: {exc}") from None


def _receive(zfs: FakeZfs, local: str, stream: TransferReader, *, nomount: bool) -> str | None:
    """``zfs recv [-u] LOCAL`` from a transfer; returns an error text or None.

    The transfer is drained to its zero chunk *before* the receive commits
    (``before_apply``), so a chunked stream cut after its last payload byte
    leaves the local state untouched (§frame.truncation).
    """
    try:
        zfs.receive(local, stream, nomount=nomount, before_apply=stream.drain)
    except ZfsError as exc:
        _drain(stream)
        return exc.message
    except ProtocolError as exc:
        raise _ConnectionLost(f"transfer broke: {exc}") from None
    return None


def _policy_error(policy: str) -> str | None:
    if policy in ("", INITIAL_REPL_POLICY_MOST_RECENT):
        return None
    if policy == INITIAL_REPL_POLICY_ALL:
        return f"initial replication policy '{policy}' is not implemented"
    return f"unknown initial replication policy '{policy}'"


def _sync_one(
    remote: RPCRequester,
    zfs: FakeZfs,
    rpath: DatasetPath,
    local: str,
    local_exists: bool,
    policy: str,
) -> DatasetResult:
    res = DatasetResult(rpath.to_string(), local, ok=False, action="failed")
    try:
        ours = zfs.list_versions(local) if local_exists else []
    except ZfsError as exc:
        res.detail = f"cannot list local versions: {exc.message}"
        return res
    left = [FilesystemVersion(v.type, v.name, v.guid, v.createtxg) for v in ours]
    try:
        right = remote.filesystem_versions_request(FilesystemVersionsRequest(rpath))
    except RequestFailed as exc:
        res.detail = f"cannot fetch remote versions: {exc}"
        return res
    try:
        diff = make_filesystem_diff(left, right)
    except ValueError as exc:
        res.detail = str(exc)
        return res
    kind = classify(diff)
    if kind == "in-sync":
        res.ok, res.action = True, "in-sync"
        return res
    if kind == "diverged":
        res.action = "diverged"
        newest = left[-1].name if left else "?"
        res.detail = (
            f"local has versions newer than the last common one (newest local: {newest}); "
            "not replicating"
        )
        return res
    if kind == "no-common-ancestor":
        problem = _policy_error(policy)
        if problem:
            res.detail = problem
            return res
        snaps = [v for v in (diff.mrca_path_right or ()) if v.type == "snapshot"]
        if not snaps:
            res.detail = "no remote snapshots to start from"
            return res
        res.action = "initial"
        try:
            stream = remote.initial_transfer_request(InitialTransferRequest(rpath, snaps[-1]))
        except RequestFailed as exc:
            res.detail = f"initial transfer refused: {exc}"
            return res
        err = _receive(zfs, local, stream, nomount=True)
        if err:
            res.detail = f"receive of @{snaps[-1].name} failed: {err}"
            return res
        res.received.append(snaps[-1])
        with contextlib.suppress(ZfsError):  # the original ignored this error too
            zfs.set_property(local, "readonly", "on")
        res.ok, res.detail = True, f"received @{snaps[-1].name}"
        return res
    path = list(diff.incremental_path or ())
    res.action = "incremental"
    for frm, to in itertools.pairwise(path):
        try:
            stream = remote.incremental_transfer_request(IncrementalTransferRequest(rpath, frm, to))
        except RequestFailed as exc:
            res.detail = f"incremental {frm.name} -> {to.name} refused: {exc}"
            return res
        err = _receive(zfs, local, stream, nomount=False)
        if err:
            res.detail = f"receive of {frm.name} -> @{to.name} failed: {err}"
            return res
        res.received.append(to)
    res.ok = True
    res.detail = "received " + ", ".join(f"@{v.name}" for v in res.received)
    return res


Components = tuple[str, ...]


def walk_order(paths: Iterable[Components]) -> list[Components]:
    """``paths`` top-down as the original's dataset-path forest walks them (§job.pull).

    Parents before children; the roots, and each node's children, in the order the paths
    first reached them (not sorted): a listing ``b, a/x, a`` is visited ``b, a, a/x``. A
    path given twice is visited once, where it first appeared.
    """
    rank: dict[Components, int] = {}  # every node (fill-ins too): its place among siblings
    unique = list(dict.fromkeys(paths))
    for comps in unique:
        for i in range(1, len(comps) + 1):
            rank.setdefault(comps[:i], len(rank))
    return sorted(unique, key=lambda c: tuple(rank[c[:i]] for i in range(1, len(c) + 1)))


def run_pull(
    remote: RPCRequester,
    zfs: FakeZfs,
    mapping: DatasetMapping,
    *,
    policy: str = INITIAL_REPL_POLICY_MOST_RECENT,
) -> JobReport:
    """Pull every dataset ``mapping`` maps from ``remote`` into ``zfs`` (§job.pull)."""
    report = JobReport()
    try:
        remote_fss = remote.filesystem_request(FilesystemRequest())
    except (RequestFailed, ProtocolError) as exc:
        report.error = f"filesystem request failed: {exc}"
        return report
    try:
        existing = set(zfs.list_filesystems())
    except ZfsError as exc:
        report.error = f"cannot list local filesystems: {exc.message}"
        return report
    targets: dict[tuple[str, ...], DatasetPath] = {}
    for rpath in remote_fss:
        try:
            lpath = mapping.map(rpath)
        except MappingError as exc:
            report.error = f"mapping {rpath.to_string()} failed: {exc}"
            return report
        if lpath is None or not lpath.components:
            continue
        targets[lpath.components] = rpath
    failed_roots: list[tuple[str, ...]] = []
    lost: str | None = None
    for comps in walk_order(targets):
        rpath = targets[comps]
        local = "/".join(comps)
        blocked = next((f for f in failed_roots if comps[: len(f)] == f), None)
        if lost is not None or blocked is not None:
            why = lost or f"parent {'/'.join(blocked or ())} was not replicated"
            report.results.append(DatasetResult(rpath.to_string(), local, False, "skipped", why))
            failed_roots.append(comps)
            continue
        missing = next(
            (
                "/".join(comps[:i])
                for i in range(1, len(comps))
                if comps[:i] not in targets and "/".join(comps[:i]) not in existing
            ),
            None,
        )
        if missing is not None:
            report.results.append(
                DatasetResult(
                    rpath.to_string(),
                    local,
                    False,
                    "failed",
                    f"aborting, don't know how to create fill-in dataset: {missing}",
                )
            )
            failed_roots.append(comps)
            continue
        try:
            result = _sync_one(remote, zfs, rpath, local, local in existing, policy)
        except (_ConnectionLost, ProtocolError) as exc:
            lost = f"connection lost: {exc}"
            result = DatasetResult(rpath.to_string(), local, False, "failed", lost)
        report.results.append(result)
        if not result.ok:
            failed_roots.append(comps)
    return report
