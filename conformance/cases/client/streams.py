"""Client cases of broken send streams: cut at every position, stalled, corrupt with a long
tail that must be drained (§client.transfer-drain, §deviations.timeouts)."""

from __future__ import annotations

import time

from fakes.scripted import Fault

from ...context import CaseContext
from ...faults import (
    CorruptStream,
    Stall,
    TruncatedStream,
)
from .run import (
    INFO,
    MUST,
    ccase,
    compare_with_reference,
    expect_exit,
    expect_received,
    expect_untouched,
    run_client,
)

# ---------------------------------------------------------------- broken streams


def _broken_stream(cid: str, title: str, fault: Fault, why: str) -> None:
    def run(ctx: CaseContext) -> None:
        r = run_client(ctx, faults={"INITIAL_TRANSFER": fault})
        expect_exit(ctx, r, False, why)
        expect_untouched(ctx, r, why)

    ccase(cid, "§client.transfer-drain", MUST, title)(run)


_broken_stream(
    "client.transfer-drain.1",
    "A send stream cut after complete chunks: non-zero exit, state untouched",
    TruncatedStream("boundary"),
    "the stream was truncated at a chunk boundary",
)
_broken_stream(
    "client.transfer-drain.2",
    "A send stream cut inside a chunk payload: non-zero exit, state untouched",
    TruncatedStream("payload"),
    "the stream was truncated inside a payload",
)
_broken_stream(
    "client.transfer-drain.3",
    "A send stream cut inside a chunk length: non-zero exit, state untouched",
    TruncatedStream("length"),
    "the stream was truncated inside a chunk length",
)
_broken_stream(
    "client.transfer-drain.6",
    "A whole send stream without its zero chunk, then EOF: non-zero exit, state untouched",
    TruncatedStream("complete"),
    "the stream's zero chunk never came (§deviations.truncated-payload)",
)
_broken_stream(
    "client.transfer-drain.7",
    "OK(0x20) and then the end of input, no stream at all: the transfer failed",
    TruncatedStream("empty"),
    "the server sent no stream (the original's failed zfs send)",
)
_broken_stream(
    "client.transfer-drain.4",
    "A server that stalls mid-stream, then dies: non-zero exit, state untouched",
    TruncatedStream("boundary", stall=0.5),
    "the server stalled and died",
)


@ccase(
    "client.transfer-drain.5",
    "§client.transfer-drain",
    MUST,
    "After a receive fails early, the client reads the rest of the stream (or closes)",
)
def _drain(ctx: CaseContext) -> None:
    corrupt = CorruptStream()
    faults: dict[str, Fault] = {"INITIAL_TRANSFER": corrupt}
    run = run_client(ctx, faults=faults)
    if corrupt.drained is False and not corrupt.drain_error:
        ctx.must(
            "the client stopped reading the send stream after its receive failed",
            "the stream read to its zero chunk, or the connection closed",
            "the suite could not write the rest of the stream",
        )
    expect_exit(ctx, run, False, "the stream was not a valid send stream")
    expect_untouched(ctx, run, "the stream was not a valid send stream")
    compare_with_reference(ctx, run, faults)


@ccase(
    "client.transfer-drain.8",
    "§client.transfer-drain",
    MUST,
    "After a failed receive the connection stays in step: the next dataset still arrives",
    profile="wide-pull-mapping",
)
def _drain_then_continue(ctx: CaseContext) -> None:
    # Requests: ProtocolVersion, Filesystem, FilesystemVersions, then #4 = the first
    # InitialTransfer (pool/data), corrupted here; pool/data/home follows. A client that
    # drained the bad stream goes on in step; one that did not reads the stream's tail as
    # the next response and loses the connection.
    run = run_client(ctx, faults={"#4": CorruptStream()})
    expect_exit(ctx, run, False, "the first send stream was not a valid send stream")
    newest = [ctx.facts_for("demo").snapshots("pool/data/home")[-1].guid]
    expect_received(ctx, run, "backup/zrepl/home", newest)


@ccase(
    "client.stall.1",
    "§deviations.timeouts",
    INFO,
    "A server that never answers the Filesystem request (does the client give up?)",
)
def _stall(ctx: CaseContext) -> None:
    ctx.deadline = min(ctx.deadline, time.monotonic() + 1.5)
    stall = Stall()
    run = run_client(ctx, faults={"FILESYSTEM": stall})
    if stall.client_gave_up:
        ctx.note(f"the client gave up by itself ({run.info.describe()})")
    else:
        ctx.note(
            "the client was still waiting after 1 s (like the original, which had no timeouts)"
        )
