"""A small stand-in ByteStreamRPC server for the recordings and iut tests.

``python -m tests.support.recordings_standin [--identity ID] [--size N]`` serves one connection on
stdin/stdout with :class:`bytestreamrpc.server.Server` and a fixed handler: two datasets, two
snapshots each, send streams of ``--size`` deterministic bytes, pull-me that lists the
client's datasets. It lets the recorder, proxy, replay engine and launcher be tested without
the fake ZFS or the reference handler. ``--fail-status N`` exits with status N after the
connection ends (exit-status pass-through tests); ``--rate-mib R`` paces send streams at
R MiB/s (the recorder benchmark's realistic-rate run).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import time

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
from bytestreamrpc.server import Server
from bytestreamrpc.transport import FdTransport

DATASETS = ("pool/data", "pool/data/child")
VERSIONS = (
    FilesystemVersion("snapshot", "s1", 0x1111_2222_3333_4444, 10),
    FilesystemVersion("snapshot", "s2", 0xF000_0000_0000_0001, 20),
)


def payload(size: int, seed: bytes) -> bytes:
    """``size`` deterministic bytes derived from ``seed``."""
    block = hashlib.shake_128(seed).digest(65536)
    reps = size // len(block) + 1
    return (block * reps)[:size]


class BigSource:
    """A send stream of ``size`` bytes produced block by block (no big allocation).

    ``rate`` (bytes per second) paces it like a real ``zfs send`` would be paced.
    """

    def __init__(self, size: int, seed: bytes, rate: float = 0.0) -> None:
        self.left = size
        self.block = payload(1 << 20, seed)
        self.rate = rate
        self.sent = 0
        self.start = 0.0

    def read(self, n: int = -1, /) -> bytes:
        if self.left <= 0:
            return b""
        if self.rate:
            now = time.monotonic()
            if not self.start:
                self.start = now
            ahead = self.sent / self.rate - (now - self.start)
            if ahead > 0:
                time.sleep(ahead)
        take = min(self.left, len(self.block), n if n > 0 else len(self.block))
        self.left -= take
        self.sent += take
        return self.block[:take]


class StandInHandler:
    def __init__(self, size: int, rate: float = 0.0) -> None:
        self.size = size
        self.rate = rate

    def handle_filesystem_request(self, r: FilesystemRequest) -> list[DatasetPath] | None:
        return [DatasetPath.from_string(s) for s in DATASETS]

    def handle_filesystem_versions_request(
        self, r: FilesystemVersionsRequest
    ) -> list[FilesystemVersion] | None:
        if r.filesystem.to_string() not in DATASETS:
            raise HandlerError(f"dataset {r.filesystem.to_string()!r} is not visible")
        return list(VERSIONS)

    def handle_initial_transfer_request(self, r: InitialTransferRequest) -> ByteSource:
        if r.filesystem.to_string() not in DATASETS:
            raise HandlerError("no such dataset")
        seed = f"{r.filesystem.to_string()}@{r.filesystem_version.name}".encode()
        if self.size > 4 << 20 or self.rate:
            return BigSource(self.size, seed, self.rate)
        return io.BytesIO(payload(self.size, seed))

    def handle_incremental_transfer_request(self, r: IncrementalTransferRequest) -> ByteSource:
        if r.from_version.guid == r.to_version.guid:
            raise HandlerError("incremental source and target are the same snapshot")
        seed = f"{r.filesystem.to_string()}@{r.from_version.name}..{r.to_version.name}".encode()
        return io.BytesIO(payload(self.size // 2, seed))

    def handle_pull_me_request(
        self, r: PullMeRequest, client_identity: str, client: RPCRequester
    ) -> None:
        for fs in client.filesystem_request(FilesystemRequest()):
            client.filesystem_versions_request(FilesystemVersionsRequest(fs))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--identity", default="standin-client")
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--fail-status", type=int, default=0)
    p.add_argument("--rate-mib", type=float, default=0.0, help="pace send streams (MiB/s)")
    args = p.parse_args()
    handler = StandInHandler(args.size, args.rate_mib * (1 << 20))
    Server(handler, identity=args.identity, timeout=30).serve(FdTransport.stdio())
    return int(args.fail_status)


if __name__ == "__main__":
    sys.exit(main())
