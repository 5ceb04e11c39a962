"""Family ``pullme``: pull-me as seen by a server (§pullme, §handler.pullme, §server.pullme.*).

The suite connects as a pushing client, sends PullMe{Finished:false}, and then serves the
implementation's pull with our reference handler over the demo fixture (its ACL is the
profile's ``push_filter``), optionally refusing a request or breaking a send stream. It
checks that the server answers OK, pulls with well-formed requests, ends a successful pull
with PullMe{Finished:true} and then serves again, never sends Finished after a failed pull,
and that its fake ZFS state holds exactly what was pushed (by GUID, content verified) — or
nothing, after a failure. Client-side pull-me (the implementation pushing) is in ``client``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bytestreamrpc.client import Client
from bytestreamrpc.errors import HandlerError, ProtocolError, RequestFailed
from bytestreamrpc.interfaces import ByteSource, RPCRequester
from bytestreamrpc.messages import (
    FilesystemRequest,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    PullMeRequest,
)
from fakes.mapping import parse_mapping
from fakes.reference import ReferenceHandler
from fakes.zfs import FakeZfs

from ..catalog import case
from ..context import CaseContext, LiveSession
from ..facts import snapshot_problem, state_listing
from ..model import CaseFunc, Level, Setup
from ..setups import SINK_TARGET, VISIBLE
from ..setups import profile as load_profile
from ..wire import RequestFrame, decode_request_body, show_json, split_streams
from ..wirelog import IN

F = "pullme"
MUST, SHOULD, INFO = Level.MUST, Level.SHOULD, Level.INFO
FINISHED_BYTES = b'{"Finished":true,"InitialReplPolicy":""}\n'


class _FailingStream:
    """A send stream that fails after ``limit`` bytes (like ``zfs send`` dying)."""

    def __init__(self, inner: ByteSource, limit: int) -> None:
        self.inner, self.left = inner, limit

    def read(self, n: int = -1, /) -> bytes:
        if self.left <= 0:
            raise OSError("scripted failure of the send stream")
        data = self.inner.read(min(n if n > 0 else self.left, self.left))
        self.left -= len(data)
        return data


class PusherHandler:
    """The reference handler of a pushing client, recording and optionally failing."""

    def __init__(self, zfs: FakeZfs, push_filter: dict[str, str], fail: str = "") -> None:
        self.inner = ReferenceHandler(
            zfs, identity="", pull_acl=parse_mapping(push_filter), sink_for=lambda _who: None
        )
        self.fail = fail
        self.served: list[str] = []

    def handle_filesystem_request(self, r: FilesystemRequest) -> Any:
        self.served.append("FILESYSTEM")
        if self.fail == "filesystem":
            raise HandlerError("scripted refusal")
        return self.inner.handle_filesystem_request(r)

    def handle_filesystem_versions_request(self, r: FilesystemVersionsRequest) -> Any:
        self.served.append("FILESYSTEM_VERSIONS")
        return self.inner.handle_filesystem_versions_request(r)

    def handle_initial_transfer_request(self, r: InitialTransferRequest) -> ByteSource:
        self.served.append("INITIAL_TRANSFER")
        stream = self.inner.handle_initial_transfer_request(r)
        return _FailingStream(stream, 300_000) if self.fail == "stream" else stream

    def handle_incremental_transfer_request(self, r: IncrementalTransferRequest) -> ByteSource:
        self.served.append("INCREMENTAL_TRANSFER")
        stream = self.inner.handle_incremental_transfer_request(r)
        return _FailingStream(stream, 100_000) if self.fail == "stream" else stream

    def handle_pull_me_request(self, r: PullMeRequest, who: str, c: RPCRequester) -> None:
        raise HandlerError("a pushing client does not pull")


class _SwapFinishedAnswer:
    """Sends ``replacement`` instead of our OK to the server's PullMe{Finished:true}."""

    def __init__(self, inner: Any, replacement: bytes) -> None:
        self.inner = inner
        self.log = inner.log
        self.replacement = replacement
        self.conn: Any = None
        self.done = False

    def read(self, max_bytes: int = 1 << 18, timeout: float | None = None) -> bytes:
        return bytes(self.inner.read(max_bytes, timeout))

    def write(self, data: bytes, timeout: float | None = None) -> None:
        from bytestreamrpc.connection import Outcome
        from bytestreamrpc.constants import RequestType

        outcomes = self.conn.outcomes if self.conn is not None else []
        if not self.done and outcomes and outcomes[-1] == (RequestType.PULL_ME, Outcome.FINISHED):
            self.done = True
            data = self.replacement
        self.inner.write(data, timeout)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Push:
    """What happened when the suite pushed to a server."""

    live: LiveSession | None
    handler: PusherHandler
    pullme_ok: bool = False
    finished: bool = False
    closed_ok: bool = False
    error: str = ""
    requests: list[RequestFrame] = field(default_factory=list)
    unsolicited: str = ""
    """What the server sent on its own after our answer to Finished (it must wait)."""
    again: bool | None = None
    """With ``push(again=True)``: whether a second PullMe after the first pull was answered
    and its pull finished (``None``: not tried)."""
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    state: str = ""


def _requests_after_pullme(raw: bytes) -> list[RequestFrame]:
    """The server's requests during the pull: streams 3.. of its output, up to Finished."""
    from bytestreamrpc import messages
    from bytestreamrpc.messages import RequestHeader

    streams = split_streams(raw)[2:]
    out: list[RequestFrame] = []
    i = 0
    while i + 1 < len(streams) + 1 and i < len(streams):
        hs = streams[i]
        try:
            header = messages.decode_message(RequestHeader, hs.payload)
        except Exception as exc:
            out.append(RequestFrame(hs, None, str(exc)))
            break
        frame = RequestFrame(hs, header)
        if i + 1 < len(streams):
            frame.body_stream = streams[i + 1]
            frame.body, frame.body_error = decode_request_body(header.type, streams[i + 1].payload)
        out.append(frame)
        i += 2
        if isinstance(frame.body, PullMeRequest) and frame.body.finished:
            break
    return out


def push(
    ctx: CaseContext,
    *,
    policy: str = "most_recent",
    fail: str = "",
    reference: bool = False,
    push_filter: dict[str, str] | None = None,
    finished_answer: bytes | None = None,
    again: bool = False,
) -> Push:
    """Connect to the server, PullMe, serve its pull, Close; observe everything.

    ``again``: after the first pull-me has finished, send a second PullMe and serve that
    pull too before the Close (§pullme.resume: the server loop goes on as before)."""
    setup = ctx.case.setup
    zfs = FakeZfs.in_memory()
    filt = push_filter if push_filter is not None else load_profile(setup.profile)["push_filter"]
    handler = PusherHandler(zfs, filt, fail)
    before = ctx.facts.listing()
    if reference:
        session = ctx.start_reference("server")
        live = None
        from ..wirelog import LoggedTransport, WireLog

        transport: Any = LoggedTransport(session.transport, WireLog())
    else:
        live = ctx.start("server")
        transport = live.transport
    result = Push(live, handler, before=before)
    timeout = max(0.5, ctx.remaining() - 0.5)
    swap = None if finished_answer is None else _SwapFinishedAnswer(transport, finished_answer)
    try:
        client = Client.connect(swap or transport, timeout=timeout)
        if swap is not None:
            swap.conn = client.conn
        try:
            client.pull_me_request(PullMeRequest(False, policy), handler)
            result.pullme_ok = result.finished = True
        except RequestFailed as exc:
            result.error = str(exc)
            result.pullme_ok = "did not finish" in str(exc)
        if result.finished:
            result.unsolicited = _unsolicited(client, swap or transport)
            if again and not result.unsolicited:
                result.again = False
                client.pull_me_request(PullMeRequest(False, policy), handler)
                result.again = True
            client.close_request()
            result.closed_ok = True
    except (RequestFailed, ProtocolError, OSError) as exc:
        result.error = result.error or str(exc)
    transport.close()
    if reference:
        session.finish(5.0)
        state = str(session.state)
    else:
        assert live is not None
        live.finish(max(1.0, ctx.remaining() - 0.3))
        state = live.state
    result.state = state
    result.after = state_listing(state)
    result.requests = _requests_after_pullme(transport.log.data(IN))
    return result


def _unsolicited(client: Client, transport: Any) -> str:
    """After the pull-me, the server must wait for our next request: anything it sends on
    its own (or a close) now is reported. Our connection is idle, so its state machine says
    whether the bytes are unsolicited."""
    from bytestreamrpc.errors import PeerTimeout
    from bytestreamrpc.events import CleanClose

    try:
        data = transport.read(65536, 0.05)
    except PeerTimeout:
        data = None
    if data is not None:
        client.conn.receive_data(data)
    try:
        ev = client.conn.next_event()
    except ProtocolError as exc:
        return str(exc)
    if isinstance(ev, CleanClose):
        return "the server closed the connection instead of serving again"
    return ""


def _finished_sent(p: Push) -> bool:
    return any(isinstance(r.body, PullMeRequest) and r.body.finished for r in p.requests)


def expect_received(ctx: CaseContext, p: Push, dataset: str, guids: list[int]) -> None:
    have = [g for t, _n, g in p.after.get(dataset, []) if t == "snapshot"]
    if have != guids:
        ctx.must(
            f"after the push, {dataset} does not hold the pushed snapshots (by GUID)", guids, have
        )
        return
    for t, name, guid in p.after[dataset]:
        if t == "snapshot":
            problem = snapshot_problem(p.state, f"{dataset}@{name}", guid)
            if problem:
                ctx.must(f"received snapshot content does not verify: {problem}")


def expect_untouched(ctx: CaseContext, p: Push, why: str) -> None:
    if p.after != p.before:
        changed = sorted(
            k for k in set(p.before) | set(p.after) if p.before.get(k) != p.after.get(k)
        )
        ctx.must(f"the server's ZFS state changed although {why}", "unchanged", changed)


def expect_failed_pull(ctx: CaseContext, p: Push, why: str) -> None:
    ctx.check(
        not _finished_sent(p),
        MUST,
        f"the server sent PullMe Finished=true although {why} (§pullme.handler-failure)",
        "no Finished=true, the connection closed",
        "Finished=true",
    )
    expect_untouched(ctx, p, why)


def _demo_newest() -> list[int]:
    zfs = FakeZfs.in_memory()
    try:
        snaps = [v for v in zfs.list_versions(VISIBLE) if v.type == "snapshot"]
        return [snaps[-1].guid]
    finally:
        zfs.close()


def pullme_case(
    cid: str, section: str, level: Level, title: str, **setup: Any
) -> Callable[[CaseFunc], CaseFunc]:
    """A server-role pull-me case (the suite sends PullMe); ``setup``: :class:`Setup` fields.

    The client side of pull-me is :func:`.client.push_case`: another role and command, so
    not one helper."""
    return case(cid, section, level, title, family=F, setup=Setup(**setup))


@pullme_case(
    "pullme.request.1",
    "§server.pullme.ok",
    MUST,
    "PullMe{Finished:false} from an identity with a sink is answered OK(0x01)",
)
def _ok(ctx: CaseContext) -> None:
    p = push(ctx)
    ctx.check(p.pullme_ok, MUST, "PullMe was not answered OK(0x01)", "OK", p.error)
    ctx.check(
        bool(p.requests),
        MUST,
        "the server made no request after its OK (no pull)",
        "requests",
        "none",
    )


@pullme_case(
    "pullme.inversion.1",
    "§pullme.inversion",
    SHOULD,
    "After the swap the server pulls like the original: same requests, Go's bytes, no new "
    "ProtocolVersion",
)
def _inversion(ctx: CaseContext) -> None:
    p = push(ctx)
    ref = push(ctx, reference=True)
    got = [r.summary() for r in p.requests]
    want = [r.summary() for r in ref.requests]
    if got != want:
        ctx.should(
            "the server's pull requests differ from the reference puller's",
            "\n".join(want),
            "\n".join(got),
        )
        return
    for i, (g, r) in enumerate(zip(p.requests, ref.requests, strict=True), 1):
        graw = g.header_stream.payload + (g.body_stream.payload if g.body_stream else b"")
        rraw = r.header_stream.payload + (r.body_stream.payload if r.body_stream else b"")
        if graw != rraw or g.header_stream.chunks != r.header_stream.chunks:
            ctx.should(
                f"request #{i} bytes differ from the original's", show_json(rraw), show_json(graw)
            )


@pullme_case(
    "pullme.finished.1",
    "§pullme.finished",
    MUST,
    "A successful pull ends with PullMe{Finished:true}, answered OK, and the push call returns",
)
def _finished(ctx: CaseContext) -> None:
    p = push(ctx)
    ctx.check(
        p.finished,
        MUST,
        "no PullMe{Finished:true} after the pull",
        "Finished=true",
        p.error or "connection ended",
    )
    fin = [r for r in p.requests if isinstance(r.body, PullMeRequest) and r.body.finished]
    if fin and fin[0].body_stream is not None:
        ctx.check(
            fin[0].body_stream.payload == FINISHED_BYTES,
            SHOULD,
            "Finished request body differs from the original's",
            show_json(FINISHED_BYTES),
            show_json(fin[0].body_stream.payload),
        )


@pullme_case(
    "pullme.resume.1",
    "§pullme.resume",
    MUST,
    "After Finished the server serves again: the pusher's Close is answered OK",
)
def _resume(ctx: CaseContext) -> None:
    p = push(ctx)
    ctx.check(
        p.closed_ok,
        MUST,
        "the Close after the pull was not answered OK",
        "OK(0x01), then close",
        p.error or "no answer",
    )
    ctx.check(
        not p.unsolicited,
        MUST,
        "after Finished the server must wait for a request",
        "nothing",
        p.unsolicited,
    )


@pullme_case(
    "pullme.resume.2",
    "§pullme.resume",
    SHOULD,
    "Finished answered with an error header: the server still serves (our Close gets OK)",
)
def _resume_error(ctx: CaseContext) -> None:
    from bytestreamrpc import messages as m
    from bytestreamrpc.messages import ResponseHeader

    from ..wire import chunked

    bad = chunked(m.encode_message(ResponseHeader(bytes(16), 5, "scripted", 0)))
    p = push(ctx, finished_answer=bad)
    ctx.check(
        p.closed_ok and not p.unsolicited,
        SHOULD,
        "after an unexpected answer to Finished the original goes on serving (§pullme.resume)",
        "Close answered OK",
        p.unsolicited or p.error or "no answer",
    )


@pullme_case(
    "pullme.resume.3",
    "§pullme.resume",
    SHOULD,
    "Finished answered with an undecodable header: the server still serves",
)
def _resume_garbage(ctx: CaseContext) -> None:
    from ..wire import chunked

    p = push(ctx, finished_answer=chunked(b"not json\n"))
    ctx.check(
        p.closed_ok and not p.unsolicited,
        SHOULD,
        "after an undecodable answer to Finished the original goes on serving (§pullme.resume)",
        "Close answered OK",
        p.unsolicited or p.error or "no answer",
    )


@pullme_case(
    "pullme.resume.4",
    "§pullme.resume",
    MUST,
    "After a finished pull-me a second PullMe is answered OK and pulled again, then Close OK",
)
def _resume_again(ctx: CaseContext) -> None:
    p = push(ctx, again=True)
    ctx.check(
        p.again is True and p.closed_ok,
        MUST,
        "a second PullMe after a finished pull-me was not served like the first",
        "OK(0x01), a second pull ending with Finished, then Close OK",
        p.error or p.unsolicited or f"second pull-me served: {p.again}",
    )


@pullme_case(
    "pullme.serving.1",
    "§handler.pullme",
    MUST,
    "The pushed dataset arrives under the sink mapping: newest snapshot, same GUID, verified",
)
def _data(ctx: CaseContext) -> None:
    p = push(ctx)
    expect_received(ctx, p, SINK_TARGET, _demo_newest())
    others = {k: v for k, v in p.after.items() if k != SINK_TARGET}
    ctx.check(
        others == p.before,
        MUST,
        "datasets outside the sink target changed",
        "unchanged",
        sorted(set(others) ^ set(p.before)),
    )


@pullme_case(
    "pullme.serving.2",
    "§handler.pullme",
    MUST,
    "A server holding the first snapshot pulls the later ones incrementally",
    fixture="sink-partial",
)
def _incremental(ctx: CaseContext) -> None:
    p = push(ctx)
    zfs = FakeZfs.in_memory()
    guids = [v.guid for v in zfs.list_versions(VISIBLE) if v.type == "snapshot"]
    zfs.close()
    expect_received(ctx, p, SINK_TARGET, guids)
    kinds = {r.summary().split()[0] for r in p.requests if r.body_stream is not None}
    ctx.check(
        "INITIAL_TRANSFER" not in kinds,
        SHOULD,
        "an initial transfer was requested although a common snapshot exists",
        "incremental only",
        sorted(kinds),
    )


@pullme_case(
    "pullme.serving.3",
    "§handler.pullme",
    MUST,
    "A sink mapping two datasets receives both",
    profile="wide-sink",
)
def _two(ctx: CaseContext) -> None:
    p = push(ctx)
    zfs = FakeZfs.in_memory()
    home = [v.guid for v in zfs.list_versions("pool/data/home") if v.type == "snapshot"][-1:]
    zfs.close()
    expect_received(ctx, p, SINK_TARGET, _demo_newest())
    expect_received(ctx, p, "backup/h", home)


@pullme_case(
    "pullme.serving.4",
    "§handler.pullme",
    MUST,
    "A pusher exposing nothing: the pull succeeds empty, Finished=true, state untouched",
)
def _empty(ctx: CaseContext) -> None:
    p = push(ctx, push_filter={})
    ctx.check(
        p.finished,
        MUST,
        "an empty pull must still end with Finished=true",
        "Finished=true",
        p.error or "connection ended",
    )
    expect_untouched(ctx, p, "there was nothing to pull")


@pullme_case(
    "pullme.handler-failure.1",
    "§pullme.handler-failure",
    MUST,
    "No sink for the client identity: OK, then close without Finished",
    profile="no-sink",
)
def _no_sink(ctx: CaseContext) -> None:
    p = push(ctx)
    expect_failed_pull(ctx, p, "there is no sink for the identity")


@pullme_case(
    "pullme.handler-failure.2",
    "§pullme.handler-failure",
    MUST,
    "The pusher refuses the Filesystem request: the puller closes without Finished",
)
def _refused(ctx: CaseContext) -> None:
    p = push(ctx, fail="filesystem")
    expect_failed_pull(ctx, p, "the pusher refused to list its datasets")


@pullme_case(
    "pullme.handler-failure.3",
    "§pullme.handler-failure",
    MUST,
    "The pusher's send stream breaks: no Finished, nothing received",
)
def _broken_stream(ctx: CaseContext) -> None:
    p = push(ctx, fail="stream")
    expect_failed_pull(ctx, p, "the pushed send stream broke off")


@pullme_case(
    "pullme.handler-failure.4",
    "§server.pullme.bad-identity",
    SHOULD,
    'Identity "mallory" without a sink: OK(0x01), then the connection closes',
    identity="mallory",
)
def _stranger(ctx: CaseContext) -> None:
    p = push(ctx)
    ctx.check(
        p.pullme_ok or "E(5" not in p.error,
        SHOULD,
        "PullMe should be answered OK before the server gives up",
        "OK",
        p.error,
    )
    expect_failed_pull(ctx, p, "the identity has no sink")


@pullme_case(
    "pullme.policy.1",
    "§handler.pullme",
    INFO,
    'InitialReplPolicy "all" where an initial transfer is needed (unimplemented originally)',
)
def _policy_all(ctx: CaseContext) -> None:
    p = push(ctx, policy="all")
    if _finished_sent(p):
        ctx.note("the server honoured policy 'all' and finished the pull")
    else:
        ctx.note("the server failed the pull and closed (the original crashed here)")
