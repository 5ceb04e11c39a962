"""The in-process requester (seed: ``LocalRPC``; §client.local).

Calls go straight to a handler, no bytes involved. Like the original, pull-me
is not supported here: the reserved identity ``"local"`` cannot be pulled
from. The original panicked; we raise :class:`LocalProtocolError`.
"""

from __future__ import annotations

from .errors import LocalProtocolError
from .interfaces import ByteSource, RPCHandler
from .messages import (
    CloseRequest,
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    PullMeRequest,
)


class LocalStream:
    """Wraps a handler's byte source with the requester's ``drain``."""

    def __init__(self, source: ByteSource) -> None:
        self._source = source

    def read(self, n: int = -1, /) -> bytes:
        return self._source.read(n)

    def drain(self) -> int:
        total = 0
        while chunk := self._source.read(1 << 20):
            total += len(chunk)
        return total


class LocalRequester:
    """A requester whose calls are direct handler calls."""

    def __init__(self, handler: RPCHandler) -> None:
        self.handler = handler

    def filesystem_request(self, r: FilesystemRequest) -> list[DatasetPath]:
        return list(self.handler.handle_filesystem_request(r) or ())

    def filesystem_versions_request(self, r: FilesystemVersionsRequest) -> list[FilesystemVersion]:
        return list(self.handler.handle_filesystem_versions_request(r) or ())

    def initial_transfer_request(self, r: InitialTransferRequest) -> LocalStream:
        return LocalStream(self.handler.handle_initial_transfer_request(r))

    def incremental_transfer_request(self, r: IncrementalTransferRequest) -> LocalStream:
        return LocalStream(self.handler.handle_incremental_transfer_request(r))

    def pull_me_request(self, r: PullMeRequest, handler: RPCHandler) -> None:
        raise LocalProtocolError("pull-me is not supported on the local transport")

    def close_request(self, r: CloseRequest | None = None) -> None:
        return None

    def force_close(self) -> None:
        return None
