"""The one scripted server: the reference server, except where a fault answers instead.

It plays the server to a client under test — the suite's client-role cases and the
client-role fuzzer both use it. Every request first gets the reference's own answer
(:func:`bytestreamrpc.serving.answer` over a :class:`~fakes.reference.ReferenceHandler`),
which advances the connection's state machine as sending it would. Then either that answer
is written, or a :class:`Fault` the caller chose for this request writes what it likes and
says what happens next (:class:`Then`). Fault vocabularies live with their users (the
suite's hand-written faults, the fuzzer's generated plans); the server knows none of them.

A PullMe answered OK turns the server into the requester (§pullme.inversion): it pulls with
the reference pull job into ``sink`` (or sends ``puller_requests``), then sends
``PullMe{Finished:true}`` and serves again if the client's answer allows (§pullme.resume,
:func:`bytestreamrpc.serving.finish_pull_me`).

What a caller inspects afterwards is declared here: :attr:`ScriptedServer.requests` (every
request with its exact bytes), :attr:`~ScriptedServer.ending`, :attr:`~ScriptedServer.pull`,
:attr:`~ScriptedServer.timed_out` and :attr:`~ScriptedServer.situations` (in the terms of
the §deviations table).
"""

from __future__ import annotations

import contextlib
import enum
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from bytestreamrpc import framing, messages
from bytestreamrpc.client import Client
from bytestreamrpc.connection import Connection, Role, State
from bytestreamrpc.constants import MAX_WRITE_PAYLOAD, RequestType, ResponseType
from bytestreamrpc.deviations import Situation
from bytestreamrpc.errors import (
    ConnectionClosed,
    HandlerError,
    PeerTimeout,
    ProtocolError,
    RemoteProtocolError,
    RequestFailed,
    TruncatedStream,
)
from bytestreamrpc.events import BadRequest, Event, Request, Response, StreamData, StreamEnd
from bytestreamrpc.interfaces import ByteSource
from bytestreamrpc.messages import (
    DatasetPath,
    FilesystemRequest,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
    PullMeRequest,
    RequestBody,
    ResponseHeader,
)
from bytestreamrpc.serving import answer, finish_pull_me, read_event
from bytestreamrpc.transport import Transport

from .jobs import run_pull
from .mapping import DatasetMapping
from .reference import ReferenceHandler

__all__ = [
    "Ending",
    "EndingKind",
    "Fault",
    "FaultChooser",
    "Honest",
    "PullResult",
    "ScriptedServer",
    "Seen",
    "Then",
    "chooser",
    "chunks",
    "frame",
    "read_all",
    "render",
]

RECHUNK_LIMIT: Final = 65536
"""Writes at least this long go out as they are even when rechunking (send streams)."""


class Then(enum.Enum):
    """What happens after a fault wrote its answer."""

    HONEST = "honest"
    """As the reference's state machine says after its own answer (serve on, pull, close)."""
    CONTINUE = "continue"
    """Serve the next request with a fresh state machine (the answer was not the reference's)."""
    CLOSE = "close"
    """Hang up now."""


class EndingKind(enum.Enum):
    """How a scripted server's connection ended, for callers that branch on it."""

    TIMEOUT = "timeout"
    PROTOCOL_ERROR = "protocol-error"
    CLIENT_CLOSED = "client-closed"
    REFUSED = "refused"
    SCRIPT = "script"
    CLOSE_REQUEST = "close-request"
    CLOSED_AFTER = "closed-after"
    LOST = "lost"
    PULL_FAILED = "pull-failed"
    UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class Ending:
    """The kind of ending and its one-line description (what wire logs and findings show)."""

    kind: EndingKind
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Honest:
    """The reference's answer to one request, in bytes: what a fault starts from.

    ``header`` ``None``: no answer at all (the handler crashed, §server.handler-crash).
    ``body`` is the JSON body (Filesystems, FilesystemDiff) with its decoded ``value``;
    ``data`` the whole send stream; ``stream_failed`` a send stream that failed after its
    header (§server.stream-failure).
    """

    header: ResponseHeader | None = None
    body: bytes | None = None
    value: tuple[object, ...] | None = None
    data: bytes | None = None
    stream_failed: bool = False


def chunks(payload: bytes, size: int) -> bytes:
    """``payload`` in data chunks of ``size`` bytes (any size: readers take up to 2^32-1)."""
    return b"".join(
        framing.chunk_header(len(payload[i : i + size])) + payload[i : i + size]
        for i in range(0, len(payload), size)
    )


def frame(payload: bytes, size: int = MAX_WRITE_PAYLOAD) -> bytes:
    """One chunked stream: ``payload`` in chunks of ``size`` bytes, then the zero chunk."""
    return chunks(payload, size) + framing.TERMINATOR


def render(honest: Honest, size: int = MAX_WRITE_PAYLOAD) -> bytes:
    """The answer's bytes, every stream in chunks of at most ``size`` bytes."""
    if honest.header is None:
        return b""
    out = frame(messages.encode_message(honest.header), size)
    if honest.body is not None:
        out += frame(honest.body, size)
    if honest.data is not None:
        out += frame(honest.data, size)
    return out


class Fault(Protocol):
    """Answers one request instead of the reference (which has already worked out
    ``honest``) by writing through the server, and says what happens next."""

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then: ...


FaultChooser = Callable[[RequestType, int, int], "Fault | None"]
"""``(type, nth of that type from 0, position among all requests from 1)`` → the fault
answering that request, or ``None`` for the reference's answer."""


@dataclass(frozen=True)
class Seen:
    """One request the client sent: its type, decoded body and exact bytes."""

    type: int | None
    body: object
    raw: bytes = b""
    error: str = ""

    @property
    def name(self) -> str:
        if self.type is None:
            return "undecodable"
        try:
            return RequestType(self.type).name
        except ValueError:
            return f"type {self.type:#04x}"


@dataclass
class PullResult:
    """What the server's pull (after the OK to a client's PullMe) did."""

    ok: bool = False
    detail: str = ""
    finished_answer: str = ""
    received: list[tuple[str, int]] = field(default_factory=list)


class _Reader:
    """The client's direction as the server reads it, keeping the bytes not yet attributed
    to a request (for :attr:`Seen.raw`) and noting a read that gave up waiting."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.pending = bytearray()
        self.timed_out = False

    def read(self, max_bytes: int = 1 << 20, timeout: float | None = None) -> bytes:
        try:
            data = self.inner.read(max_bytes, timeout)
        except PeerTimeout:
            self.timed_out = True
            raise
        self.pending += data
        return data

    def write(self, data: bytes, timeout: float | None = None) -> None:
        self.inner.write(data, timeout)

    def close(self) -> None:
        self.inner.close()

    def take(self, unread: int) -> bytes:
        """The bytes read so far except the last ``unread`` (still in a decoder)."""
        cut = len(self.pending) - unread
        raw = bytes(self.pending[:cut])
        del self.pending[:cut]
        return raw


class ScriptedServer:
    """Serves one connection; see the module docstring."""

    def __init__(
        self,
        transport: Transport,
        handler: ReferenceHandler,
        *,
        sink: DatasetMapping | None,
        faults: FaultChooser | None = None,
        timeout: float = math.inf,
        deadline: float = math.inf,
        startup: float = 0.0,
        rechunk: int = 0,
        hide: frozenset[str] = frozenset(),
        puller_requests: tuple[RequestBody, ...] | None = None,
        hang_up_after_pull: bool = False,
        push_job: bool = False,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.transport = transport
        """The connection as given (for faults that read or close it themselves)."""
        self._reader = _Reader(transport)
        self.handler = handler
        self.sink = sink
        """Where the reference pull job puts a pushing client's datasets (``None``: refuse)."""
        self._choose = faults
        self.timeout = timeout
        """Seconds to wait for the client each time (a request, an answer as puller)."""
        self.deadline = deadline
        """``time.monotonic()`` by which everything must be over (a case's deadline)."""
        self.startup = startup
        """Extra seconds for the client's first request (a process may still be starting)."""
        self.rechunk = rechunk
        """If set, answers shorter than :data:`RECHUNK_LIMIT` go out in chunks of this
        many bytes, one write per chunk (a client must reassemble, §frame.boundaries)."""
        self.hide = hide
        """Datasets left out of the reference's Filesystems answer (a server offering less)."""
        self.puller_requests = puller_requests
        self.hang_up_after_pull = hang_up_after_pull
        self.push_job = push_job
        """The client runs a push: a scripted hang-up before Finished:true is PULLER_GONE."""
        self.note: Callable[[str], None] = note or (lambda _text: None)
        """Marks a line in the caller's wire log, if it keeps one."""
        self.conn = Connection(Role.SERVER, identity=handler.identity)
        self.requests: list[Seen] = []
        """Every request the client sent, undecodable ones included, in order."""
        self.answered: list[RequestType] = []
        """The types of the decodable requests, in order."""
        self._nth: Counter[RequestType] = Counter()
        self.situations: set[Situation] = set()
        """What this server did that a row of the §deviations table refers to."""
        self.ending = Ending(EndingKind.UNEXPECTED, "not run")
        self.pull: PullResult | None = None
        self.timed_out: str | None = None
        """What the client did not send in time (a hang), if anything."""
        self.finished_sent = False
        """PullMe{Finished:true} went out."""

    # ------------------------------------------------------------------ writing
    def remaining(self) -> float:
        """Seconds left before the deadline (at least a little, to notice an end)."""
        return max(0.05, self.deadline - time.monotonic())

    def _wait(self) -> float:
        first = self.startup if not self.requests else 0.0
        return max(0.05, min(self.timeout + first, self.deadline - time.monotonic()))

    def write(self, data: bytes) -> None:
        """Write ``data`` to the client, rechunked if the server was asked to."""
        payloads = _stream_payloads(data) if self.rechunk and len(data) < RECHUNK_LIMIT else []
        if payloads:
            for payload in payloads:
                for i in range(0, len(payload), self.rechunk):
                    piece = payload[i : i + self.rechunk]
                    self.transport.write(framing.chunk_header(len(piece)) + piece, self._wait())
                    time.sleep(0.0002)
                self.transport.write(framing.TERMINATOR, self._wait())
            return
        self.transport.write(data, self._wait())

    def respond(self, header: ResponseHeader, body: bytes | None = None) -> None:
        """Write a response (header, optional JSON body) outside the state machine."""
        self.write(render(Honest(header, body)))

    def fresh(self) -> None:
        """Continue with a new state machine (keeping bytes already read but not used)."""
        self.conn = self.conn.successor()

    # ------------------------------------------------------------------ serving
    def run(self) -> Ending:
        """Serve until the connection ends; returns (and keeps) how it ended."""
        try:
            self.ending = self._serve()
        except (ProtocolError, OSError) as exc:  # a write failed or timed out
            self.ending = Ending(EndingKind.LOST, f"the client went away: {exc}")
        finally:
            with contextlib.suppress(OSError, ProtocolError):
                self.transport.close()  # like the original: every ending closes
        if self._reader.timed_out and self.timed_out is None:
            self.timed_out = f"an answer from the client after request {len(self.answered)}"
        return self.ending

    def _serve(self) -> Ending:
        while True:
            try:
                ev = read_event(self.conn, self._reader, self._wait())
            except PeerTimeout:
                self.timed_out = f"request {len(self.answered) + 1} from the client"
                return Ending(EndingKind.TIMEOUT, "timeout: the client sent nothing more")
            except RemoteProtocolError as exc:
                return Ending(EndingKind.PROTOCOL_ERROR, f"protocol error: {exc}")
            if time.monotonic() > self.deadline:
                return Ending(EndingKind.TIMEOUT, "timeout")
            if isinstance(ev, BadRequest):
                refused = self._refuse(ev)
                if refused is not None:
                    return refused
                continue
            if not isinstance(ev, Request) or ev.header is None:
                return Ending(EndingKind.UNEXPECTED, f"unexpected event {ev!r}")
            seen = Seen(ev.header.type, ev.body, self._raw())
            self.requests.append(seen)
            try:
                done = self._answer(ev, seen)
            except (ConnectionClosed, PeerTimeout, OSError) as exc:
                text = f"connection lost while answering {seen.name}: {exc}"
                return Ending(EndingKind.LOST, text)
            if done is not None:
                return done

    def _raw(self) -> bytes:
        return self._reader.take(self.conn.decoder.buffered)

    def _refuse(self, ev: BadRequest) -> Ending | None:
        """The reference's refusal of an undecodable request; ``None`` to serve on."""
        raw = self._raw()
        gone = Ending(EndingKind.CLIENT_CLOSED, "client closed the connection")
        if ev.peer_closed:  # the original writes E(1, ...EOF) to a client that hung up
            with contextlib.suppress(ConnectionClosed, PeerTimeout, OSError):
                self.write(self.conn.send(ev))
            return gone
        self.requests.append(Seen(ev.request_type, None, raw, ev.message))
        try:
            self.write(self.conn.send(ev))
        except (ConnectionClosed, PeerTimeout, OSError):
            return gone
        if self.conn.state is not State.AWAIT_HEADER:
            text = f"closed after a bad request (error {ev.error_id})"
            return Ending(EndingKind.REFUSED, text)
        return None

    def _answer(self, req: Request, seen: Seen) -> Ending | None:
        assert req.header is not None
        kind = RequestType(req.header.type)
        nth = self._nth[kind]
        self._nth[kind] += 1
        self.answered.append(kind)
        fault = self._choose(kind, nth, len(self.requests)) if self._choose else None
        honest = self._honest(req)
        if fault is None:
            self.write(render(honest))
            then = Then.HONEST
        else:
            then = fault.apply(self, req, honest)
        if then is Then.CLOSE:
            if self.push_job and not self.finished_sent:
                self.situations.add(Situation.PULLER_GONE)  # it leaves without Finished:true
            return Ending(EndingKind.SCRIPT, f"closed by the script after {seen.name}")
        if then is Then.CONTINUE:
            self.fresh()
            return None
        state = self.conn.state
        if state is State.AWAIT_HEADER:
            return None
        if self.conn.inverted and state is State.IDLE and isinstance(req.body, PullMeRequest):
            return self._pull(req.body)
        if kind is RequestType.CLOSE and honest.header and not honest.header.error_id:
            return Ending(EndingKind.CLOSE_REQUEST, "closed after the client's Close")
        if honest.header is not None and honest.header.error_id:
            return Ending(EndingKind.CLOSED_AFTER, "closed after a handler error")
        return Ending(EndingKind.CLOSED_AFTER, f"closed after {kind.name} ({state.value})")

    def _honest(self, req: Request) -> Honest:
        """The reference's answer; advances the state machine as sending it would."""
        conn = self.conn
        reply = answer(conn, req, self.handler)
        if reply.response is None:  # §server.handler-crash: no answer, the connection closes
            conn.abort()
            return Honest()
        header, value = reply.response.header, reply.response.body
        if isinstance(req.body, FilesystemRequest) and value is not None and self.hide:
            value = tuple(
                p for p in value if isinstance(p, DatasetPath) and p.to_string() not in self.hide
            )
        conn.send(Response(header, value))
        if header.error_id or reply.stream is None:
            return Honest(header, _encoded(header, value), value)
        try:
            data = read_all(reply.stream)
        except Exception:  # §server.stream-failure: the header, then a close
            conn.abort()
            return Honest(header, stream_failed=True)
        if data:
            conn.send(StreamData(data))
        conn.send(StreamEnd())
        return Honest(header, data=data)

    # ------------------------------------------------------------------ pull-me
    def _pull(self, body: PullMeRequest) -> Ending | None:
        """The server as requester after its OK to the client's PullMe (§pullme)."""
        result = PullResult()
        self.pull = result
        gone = self._pulling(body, result)
        if gone is None:
            return self._finished(result)
        self.situations.add(Situation.PULLER_GONE)  # it leaves without Finished:true
        return gone

    def _pulling(self, body: PullMeRequest, result: PullResult) -> Ending | None:
        """Pull as configured; how the connection ended, or ``None`` to finish."""
        client = Client(self.conn, self._reader, timeout=self._wait())
        failed = EndingKind.PULL_FAILED
        try:
            if self.puller_requests is not None:
                for request in self.puller_requests:
                    _call(client, request)
            elif self.sink is None:
                result.detail = "no sink: closed"
                return Ending(failed, "closed: the suite has no sink for this push")
            else:
                report = run_pull(
                    client, self.handler.zfs, self.sink, policy=body.initial_repl_policy
                )
                result.detail = report.summary()
                result.received = [(r.local, v.guid) for r in report.results for v in r.received]
                if not report.ok:
                    return Ending(failed, f"closed: the suite's pull failed ({report.summary()})")
        except PeerTimeout:
            self.timed_out = "an answer to the server's request (as puller)"
            return Ending(EndingKind.TIMEOUT, "timeout")
        except (ProtocolError, HandlerError, RequestFailed, OSError) as exc:
            result.detail = f"pull failed: {exc}"
            return Ending(failed, f"closed: the pull failed ({str(exc)[:200]})")
        except Exception as exc:  # the reference server aborts on a crashed pull-me handler
            return Ending(failed, f"closed: the pull crashed ({exc!r:.200})")
        if self._reader.timed_out:
            self.timed_out = "an answer to the server's request (as puller)"
            return Ending(EndingKind.TIMEOUT, "timeout")
        if self.conn.state is not State.IDLE:
            return Ending(failed, f"closed: the pull left the connection {self.conn.state.value}")
        if self.hang_up_after_pull:
            return Ending(
                EndingKind.SCRIPT, "closed by the script instead of PullMe{Finished:true}"
            )
        result.ok = True
        return None

    def _finished(self, result: PullResult) -> Ending | None:
        """Send PullMe{Finished:true}, read the answer and serve on (``None``) if we may."""
        self.finished_sent = True
        try:
            ev = finish_pull_me(self.conn, self._reader, self._wait())
        except PeerTimeout:
            self.timed_out = "the client's answer to PullMe{Finished:true}"
            result.finished_answer = "no answer: timeout"
            return Ending(EndingKind.TIMEOUT, "timeout")
        except RemoteProtocolError as exc:  # §pullme.resume: serve on if the state allows
            result.finished_answer = f"no answer: {exc}"
        else:
            result.finished_answer = _describe(ev)
        self._raw()  # the answer is not a request
        state = self.conn.state
        if state is not State.AWAIT_HEADER:
            text = f"closed after PullMe{{Finished:true}} ({state.value})"
            return Ending(EndingKind.CLOSED_AFTER, text)
        return None


def _describe(ev: Event) -> str:
    if isinstance(ev, Response):
        h = ev.header
        if (h.error_id, h.response_type) == (0, ResponseType.OK):
            return "OK"
        return f"E({h.error_id}, {h.message!r}) type {h.response_type:#04x}"
    return type(ev).__name__


def _encoded(header: ResponseHeader, value: tuple[object, ...] | None) -> bytes | None:
    """The JSON body a success header of this type carries (``None``: no body)."""
    if header.error_id:
        return None
    if header.response_type == ResponseType.FILESYSTEMS:
        return messages.encode_filesystems(value)  # type: ignore[arg-type]
    if header.response_type == ResponseType.FILESYSTEM_DIFF:
        return messages.encode_versions(value)  # type: ignore[arg-type]
    return None


def _stream_payloads(data: bytes) -> list[bytes]:
    """The payloads of the complete chunked streams ``data`` consists of ([] if it is not)."""
    out: list[bytes] = []
    rest = data
    while rest:
        try:
            payload, rest = framing.decode_stream(rest)
        except TruncatedStream:
            return []
        out.append(payload)
    return out


def read_all(stream: ByteSource) -> bytes:
    """Everything a send stream yields; the stream is closed afterwards, even on failure."""
    parts: list[bytes] = []
    try:
        while block := stream.read(1 << 20):
            parts.append(block)
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()
    return b"".join(parts)


def _call(client: Client, request: RequestBody) -> None:
    """One request of a scripted puller; a send stream is read to its end."""
    if isinstance(request, ProtocolVersionRequest):
        client.protocol_version_request()
    elif isinstance(request, FilesystemRequest):
        client.filesystem_request(request)
    elif isinstance(request, FilesystemVersionsRequest):
        client.filesystem_versions_request(request)
    elif isinstance(request, InitialTransferRequest):
        client.initial_transfer_request(request).drain()
    elif isinstance(request, IncrementalTransferRequest):
        client.incremental_transfer_request(request).drain()
    else:
        raise ValueError(f"a puller does not send {type(request).__name__}")


def chooser(faults: Mapping[str, Fault]) -> FaultChooser:
    """A :data:`FaultChooser` from faults keyed by request type name (every request of that
    type) or ``"#N"`` (the N-th request of the connection, from 1)."""

    def choose(kind: RequestType, nth: int, position: int) -> Fault | None:
        return faults.get(kind.name) or faults.get(f"#{position}")

    return choose
