"""The seed's two interfaces, in Python: ``RPCHandler`` and ``RPCRequester``.

A handler answers requests (the server side, and the client side during a
pull-me); a requester makes them (our socket/stdio client, the in-process
:class:`~bytestreamrpc.local.LocalRequester`, and the requester a server hands
its handler during pull-me). Handlers signal a refusal by raising
:class:`~bytestreamrpc.errors.HandlerError`; the server turns it into error 5.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

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


@runtime_checkable
class ByteSource(Protocol):
    """A readable send stream: ``read(n)`` returns up to ``n`` bytes, ``b""`` at the end."""

    def read(self, n: int = -1, /) -> bytes: ...


class RPCHandler(Protocol):
    """What a server serves with (seed: ``RPCHandler``)."""

    def handle_filesystem_request(self, r: FilesystemRequest) -> list[DatasetPath] | None:
        """Datasets the client may see; ``None`` encodes as ``null``."""
        ...

    def handle_filesystem_versions_request(
        self, r: FilesystemVersionsRequest
    ) -> list[FilesystemVersion] | None:
        """Versions of one dataset, oldest first (by CreateTXG)."""
        ...

    def handle_initial_transfer_request(self, r: InitialTransferRequest) -> ByteSource:
        """A full send stream of one snapshot."""
        ...

    def handle_incremental_transfer_request(self, r: IncrementalTransferRequest) -> ByteSource:
        """An incremental send stream ``From`` → ``To``."""
        ...

    def handle_pull_me_request(
        self, r: PullMeRequest, client_identity: str, client: RPCRequester
    ) -> None:
        """Pull from the client over the same connection (§pullme.inversion)."""
        ...


class TransferReader(Protocol):
    """A send stream arriving from the peer: read it to the end before the next call."""

    def read(self, n: int = -1, /) -> bytes: ...

    def drain(self) -> int:
        """Read and discard the rest; returns the bytes discarded."""
        ...


class RPCRequester(Protocol):
    """What a client calls (seed: ``RPCRequester``)."""

    def filesystem_request(self, r: FilesystemRequest) -> list[DatasetPath]: ...

    def filesystem_versions_request(
        self, r: FilesystemVersionsRequest
    ) -> list[FilesystemVersion]: ...

    def initial_transfer_request(self, r: InitialTransferRequest) -> TransferReader: ...

    def incremental_transfer_request(self, r: IncrementalTransferRequest) -> TransferReader: ...

    def pull_me_request(self, r: PullMeRequest, handler: RPCHandler) -> None: ...

    def close_request(self, r: CloseRequest) -> None: ...

    def force_close(self) -> None: ...
