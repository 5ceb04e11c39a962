"""Family ``transfer``: send streams, checked byte for byte against the fake's ``zfs send``.

Each transfer case requests an initial or incremental stream of the fixture and compares the
stream content with what ``zfs send`` of the same fixture produces (MUST), checks it is a
complete, valid fake send stream (header, payload blocks, trailer CRC), that its chunks stay
within the writer maximum (SHOULD), and that the connection is usable afterwards.
"""

from __future__ import annotations

from bytestreamrpc.messages import FilesystemVersion

from ..catalog import case
from ..context import CaseContext
from ..facts import first_difference, stream_problem
from ..judge import Rules
from ..model import Level, Setup
from ..setups import VISIBLE
from ..wire import go_json, request, version_obj
from .common import PROBE, RID, RT, accept_shapes, fsv_body, standard

F = "transfer"
MUST, SHOULD, INFO = Level.MUST, Level.SHOULD, Level.INFO
ONGOING = Rules(extra=MUST)
HOME = "pool/data/home"


def _init(dataset: str, v: FilesystemVersion) -> bytes:
    body = go_json({"Filesystem": dataset.split("/"), "FilesystemVersion": version_obj(v)})
    return request(RT.INITIAL_TRANSFER, body, RID)


def _incr(dataset: str, a: FilesystemVersion, b: FilesystemVersion) -> bytes:
    body = go_json({"Filesystem": dataset.split("/"), "From": version_obj(a), "To": version_obj(b)})
    return request(RT.INCREMENTAL_TRANSFER, body, RID)


def verify_stream(ctx: CaseContext, data: bytes, expected: bytes, n: int = 1) -> None:
    """The stream is exactly the fake's ``zfs send`` output and a valid send stream."""
    if data != expected:
        ctx.must(
            f"stream #{n} differs from `zfs send` of the fixture: "
            f"{first_difference(expected, data)}",
            f"{len(expected)} bytes",
            f"{len(data)} bytes",
        )
    problem = stream_problem(data)
    if problem is not None:
        ctx.must(f"stream #{n} is not a valid send stream: {problem}")


def _streams(ctx: CaseContext, script: bytes, expected: list[bytes]) -> None:
    got, _ = standard(ctx, script + PROBE, ONGOING)
    streams = [r for r in got.responses if r.is_stream]
    for n, (r, want) in enumerate(zip(streams, expected, strict=False), 1):
        verify_stream(ctx, r.stream_data, want, n)
    if len(streams) < len(expected):
        ctx.must("fewer send streams than requested", len(expected), len(streams))


DEFAULT_SETUP = Setup()


def _init_case(
    cid: str, title: str, dataset: str, index: int, setup: Setup = DEFAULT_SETUP
) -> None:
    def run(ctx: CaseContext) -> None:
        v = ctx.facts.snapshot(dataset, index)
        _streams(ctx, _init(dataset, v), [ctx.facts.send_stream(dataset, v)])

    case(cid, "§server.init.ok", MUST, title, family=F, setup=setup)(run)


def _incr_case(cid: str, title: str, a_index: int, b_index: int, *, bookmark: bool = False) -> None:
    def run(ctx: CaseContext) -> None:
        f = ctx.facts
        a = f.bookmarks(VISIBLE)[0] if bookmark else f.snapshot(VISIBLE, a_index)
        b = f.snapshot(VISIBLE, b_index)
        _streams(ctx, _incr(VISIBLE, a, b), [f.send_stream(VISIBLE, b, a)])

    case(cid, "§server.incr.ok", MUST, title, family=F)(run)


_init_case(
    "transfer.init.1", "Initial transfer of the newest snapshot: the exact send stream", VISIBLE, -1
)
_init_case(
    "transfer.init.2", "Initial transfer of the oldest snapshot: the exact send stream", VISIBLE, 0
)
_init_case("transfer.init.3", "Initial transfer of a child dataset's snapshot", HOME, -1)
_init_case(
    "transfer.init.4",
    "Initial transfer of a volume (all-admitting ACL)",
    "pool/vol1",
    0,
    Setup(profile="all-acl"),
)
_incr_case("transfer.incr.1", "Incremental first -> second snapshot: the exact send stream", 0, 1)
_incr_case("transfer.incr.2", "Incremental second -> third snapshot", 1, 2)
_incr_case("transfer.incr.3", "Incremental first -> newest, skipping one", 0, -1)
_incr_case(
    "transfer.incr.4",
    "Incremental from a bookmark (FS#mark) to the newest snapshot",
    0,
    -1,
    bookmark=True,
)


@case(
    "transfer.sequence.1",
    "§server.init.ok",
    MUST,
    "Two transfers and a FilesystemVersions request on one connection stay in step",
    family=F,
)
def _sequence(ctx: CaseContext) -> None:
    f = ctx.facts
    s0, s1, s2 = f.snapshot(VISIBLE, 0), f.snapshot(VISIBLE, 1), f.snapshot(VISIBLE, 2)
    script = (
        _init(VISIBLE, s0)
        + _incr(VISIBLE, s0, s1)
        + request(RT.FILESYSTEM_VERSIONS, fsv_body(), RID)
        + _incr(VISIBLE, s1, s2)
    )
    _streams(
        ctx,
        script,
        [
            f.send_stream(VISIBLE, s0),
            f.send_stream(VISIBLE, s1, s0),
            f.send_stream(VISIBLE, s2, s1),
        ],
    )


@case(
    "transfer.sequence.2",
    "§server.incr.handler-error",
    MUST,
    "A refused incremental between two good ones does not disturb the stream that follows",
    family=F,
)
def _sequence_refused(ctx: CaseContext) -> None:
    f = ctx.facts
    s0, s1 = f.snapshot(VISIBLE, 0), f.snapshot(VISIBLE, 1)
    hidden = f.snapshot("pool/vol1", 0)
    script = _incr(VISIBLE, s0, s1) + _incr("pool/vol1", hidden, hidden) + _incr(VISIBLE, s0, s1)
    want = f.send_stream(VISIBLE, s1, s0)
    _streams(ctx, script, [want, want])


@case(
    "transfer.version-fields.1",
    "§handler.transfer",
    SHOULD,
    "Only Type and Name select the snapshot: a wrong Guid and CreateTXG give the same stream",
    family=F,
)
def _fields_ignored(ctx: CaseContext) -> None:
    v = ctx.facts.snapshot(VISIBLE, -1)
    odd = FilesystemVersion(v.type, v.name, 12345, 1)
    got, _ = standard(ctx, _init(VISIBLE, odd) + PROBE)
    streams = [r for r in got.responses if r.is_stream]
    if streams:
        verify_stream(ctx, streams[0].stream_data, ctx.facts.send_stream(VISIBLE, v))


FAILED_SEND = accept_shapes(
    {
        ((5, 0),): "E(5) before any stream, then close (the reference)",
        ((5, 0), (0, 1), (1, 0)): "E(5) before any stream, then on serving (the reference)",
        ((0, 0x20),): "OK(0x20) then a close without the zero chunk (the original)",
    }
)


def _failed_send(ctx: CaseContext, script: bytes) -> None:
    got, _ = standard(ctx, script + PROBE, alternative=FAILED_SEND)
    for r in got.responses:
        if r.is_stream and r.body_stream is not None and r.body_stream.complete:
            ctx.must(
                "a failed send ended with the zero chunk: it looks complete "
                "(§server.stream-failure)",
                "no zero chunk",
                r.summary(),
            )


@case(
    "transfer.stream-failure.1",
    "§server.stream-failure",
    MUST,
    "An incremental from a newer to an older snapshot fails without a complete-looking stream",
    family=F,
)
def _reverse(ctx: CaseContext) -> None:
    f = ctx.facts
    _failed_send(ctx, _incr(VISIBLE, f.snapshot(VISIBLE, -1), f.snapshot(VISIBLE, 0)))


@case(
    "transfer.stream-failure.2",
    "§server.stream-failure",
    MUST,
    "An initial transfer naming a bookmark as the snapshot fails cleanly",
    family=F,
)
def _bookmark_target(ctx: CaseContext) -> None:
    _failed_send(ctx, _init(VISIBLE, ctx.facts.bookmarks(VISIBLE)[0]))


@case(
    "transfer.stream-failure.3",
    "§server.stream-failure",
    MUST,
    "An incremental whose source snapshot does not exist fails cleanly",
    family=F,
)
def _missing_source(ctx: CaseContext) -> None:
    f = ctx.facts
    to = f.snapshot(VISIBLE, -1)
    ghost = FilesystemVersion("snapshot", "ghost", 1, 1)
    _failed_send(ctx, _incr(VISIBLE, ghost, to))


@case(
    "transfer.pipelined.1",
    "§server.loop",
    MUST,
    "Requests written behind a transfer request are answered after the whole stream",
    family=F,
)
def _pipelined(ctx: CaseContext) -> None:
    f = ctx.facts
    v = f.snapshot(VISIBLE, 0)
    script = _init(VISIBLE, v) + request(RT.FILESYSTEM, b'{"Roots":null}\n', RID)
    _streams(ctx, script, [f.send_stream(VISIBLE, v)])
