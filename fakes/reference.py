"""The reference handler: the seed's ``RPCHandler`` over the fake ZFS (§handler.*).

It reproduces cmd/handler.go of the seed's commit, with the original's
crashes replaced by documented error-5 answers (docs/PROTOCOL.md
§deviations.handler-crashes):

- Filesystem: every filesystem and volume the pull ACL maps; "no match" hides
  a dataset, any other mapping error fails the request. No ACL for the
  identity: error 5 (the original crashed on a nil interface).
- FilesystemVersions / transfers: the ACL must map the dataset, else error 5
  with the original's ``no match found in mapping``. Versions come from
  ``zfs list ... -s createtxg``; a ``zfs`` failure is error 5 with the
  original's ``zfs exited with error: exit status 1``.
- Transfers are checked before the ChunkedStream header is sent, so a missing
  snapshot or a bad version type is error 5 rather than a stream that dies
  after its header (the original's behaviour, §server.stream-failure).
- PullMe: the sink mapping for the client identity (none: error 5 ``no sink
  for client identity 'NAME'``), then the pull job (:mod:`fakes.jobs`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from bytestreamrpc.errors import HandlerError
from bytestreamrpc.interfaces import ByteSource, RPCRequester
from bytestreamrpc.messages import (
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    PullMeRequest,
)

from .jobs import run_pull
from .mapping import NO_MATCH_MESSAGE, DatasetMapping, MappingError
from .profile import DEFAULT_PROFILE, Profile, load_profile
from .zfs import FakeZfs
from .zfs.errors import ZfsError

log = logging.getLogger("fakes.reference")

VERSION_TYPES = ("snapshot", "bookmark")
_FORBIDDEN = frozenset("/@#| \t")


def zfs_failure(exc: ZfsError) -> HandlerError:
    """The original's ``ZFSError`` text: the exit status, not zfs's stderr."""
    return HandlerError(f"zfs exited with error: exit status {exc.exit_code}")


class ReferenceHandler:
    """Serves one client identity from one fake ZFS."""

    def __init__(
        self,
        zfs: FakeZfs,
        *,
        identity: str,
        pull_acl: DatasetMapping | None,
        sink_for: Callable[[str], DatasetMapping | None],
    ) -> None:
        self.zfs = zfs
        self.identity = identity
        self.pull_acl = pull_acl
        self.sink_for = sink_for
        self.sent: list[tuple[str, str]] = []
        """(dataset, what) for every send stream handed out, e.g. for a push report."""

    # -- ACL -------------------------------------------------------------------------
    def _acl(self) -> DatasetMapping:
        if self.pull_acl is None:
            raise HandlerError(f"no pull ACL for client identity '{self.identity}'")
        return self.pull_acl

    def _allowed(self, path: DatasetPath) -> bool:
        try:
            return self._acl().map(path) is not None
        except MappingError as exc:
            raise HandlerError(str(exc)) from None

    def _require(self, path: DatasetPath) -> str:
        bad = next((c for c in path.components if not c or set(c) & _FORBIDDEN), None)
        if bad is not None or not path.components:
            # §msg.dataset-path: a component the client made up (``a/b``, ``x@y``,
            # empty) must not smuggle a different dataset past the ACL.
            raise HandlerError(f"invalid dataset path {list(path.components)!r}")
        if not self._allowed(path):
            raise HandlerError(NO_MATCH_MESSAGE)
        return path.to_string()

    # -- requests --------------------------------------------------------------------
    def handle_filesystem_request(self, r: FilesystemRequest) -> list[DatasetPath] | None:
        acl = self._acl()
        try:
            names = self.zfs.list_filesystems()
        except ZfsError as exc:
            raise zfs_failure(exc) from None
        visible = []
        for name in names:
            path = DatasetPath.from_string(name)
            try:
                mapped = acl.map(path)
            except MappingError as exc:
                raise HandlerError(str(exc)) from None
            if mapped is not None:
                visible.append(path)
        return visible

    def handle_filesystem_versions_request(
        self, r: FilesystemVersionsRequest
    ) -> list[FilesystemVersion] | None:
        name = self._require(r.filesystem)
        try:
            versions = self.zfs.list_versions(name)
        except ZfsError as exc:
            raise zfs_failure(exc) from None
        return [FilesystemVersion(v.type, v.name, v.guid, v.createtxg) for v in versions]

    def _abs(self, fs: DatasetPath, v: FilesystemVersion) -> str:
        if v.type not in VERSION_TYPES:
            raise HandlerError(f"unexpected VersionType {v.type!r}")
        return v.to_abs_path(fs)

    def handle_initial_transfer_request(self, r: InitialTransferRequest) -> ByteSource:
        self._require(r.filesystem)
        snapshot = self._abs(r.filesystem, r.filesystem_version)
        try:
            stream = self.zfs.send(snapshot)
        except ZfsError as exc:
            raise zfs_failure(exc) from None
        self.sent.append((r.filesystem.to_string(), f"full @{r.filesystem_version.name}"))
        return stream

    def handle_incremental_transfer_request(self, r: IncrementalTransferRequest) -> ByteSource:
        self._require(r.filesystem)
        source = self._abs(r.filesystem, r.from_version)
        target = self._abs(r.filesystem, r.to_version)
        try:
            stream = self.zfs.send(target, from_=source)
        except ZfsError as exc:
            raise zfs_failure(exc) from None
        what = f"incremental {r.from_version.name} -> @{r.to_version.name}"
        self.sent.append((r.filesystem.to_string(), what))
        return stream

    def handle_pull_me_request(
        self, r: PullMeRequest, client_identity: str, client: RPCRequester
    ) -> None:
        sink = self.sink_for(client_identity)
        if sink is None:
            log.info("no sink mapping for client identity %r, denying pull-me", client_identity)
            raise HandlerError(f"no sink for client identity '{client_identity}'")
        report = run_pull(client, self.zfs, sink, policy=r.initial_repl_policy)
        if not report.ok:
            raise HandlerError(report.summary())


@dataclass
class Reference:
    """A configured reference server: its identity, and a handler per connection."""

    zfs: FakeZfs
    profile: Profile
    identity: str

    def handler(self) -> ReferenceHandler:
        return ReferenceHandler(
            self.zfs,
            identity=self.identity,
            pull_acl=self.profile.pull_acl_mapping(),
            sink_for=self.profile.sink_for,
        )


def open_zfs() -> FakeZfs:
    """The fake ZFS named by ``FAKE_ZFS_STATE``, else an in-memory demo fixture."""
    state = os.environ.get("FAKE_ZFS_STATE")
    return FakeZfs.open(state) if state else FakeZfs.in_memory()


def load_reference(profile_path: str | None, identity: str | None) -> Reference:
    """What ``zrepl-conformance serve`` runs: profile file (or the default) plus identity."""
    profile = load_profile(profile_path) if profile_path else DEFAULT_PROFILE
    who = identity if identity is not None else profile.identity
    return Reference(open_zfs(), profile, who)
