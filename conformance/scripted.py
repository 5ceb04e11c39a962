"""The suite as a server for client-role cases: the reference's answers, plus scripted faults.

:class:`ScriptedServer` serves one connection from an implementation's ``pull`` or ``push``
command. By default it behaves like our reference server over the suite's own fake ZFS (the
demo fixture) with a pull ACL; a case replaces the answer to chosen requests with a
:data:`Fault` — an error response, a wrong response type, a send stream cut at a chosen
point, a stall, a corrupt stream with a long tail — and afterwards inspects what the client
sent (:attr:`ScriptedServer.requests`, each with its raw bytes) and how the connection ended.

For ``push`` the server answers the client's PullMe with OK and then runs the reference pull
job over the same connection (§pullme.inversion), sends PullMe{Finished:true} when it
succeeded, and goes back to serving (§pullme.resume).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from bytestreamrpc import framing, messages
from bytestreamrpc.client import Client
from bytestreamrpc.connection import Connection, Role, State
from bytestreamrpc.constants import ErrorId, RequestType, ResponseType
from bytestreamrpc.deviations import Situation
from bytestreamrpc.errors import (
    ConnectionClosed,
    HandlerError,
    PeerTimeout,
    ProtocolError,
    RemoteProtocolError,
)
from bytestreamrpc.events import BadRequest, Request, Response, StreamData, StreamEnd
from bytestreamrpc.messages import (
    FilesystemRequest,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    PullMeRequest,
    ResponseHeader,
)
from bytestreamrpc.serving import read_event
from fakes.mapping import DatasetMapping, parse_mapping
from fakes.reference import ReferenceHandler
from fakes.zfs import FakeZfs

from .wire import chunked, split_streams
from .wirelog import LoggedTransport

STREAM_BLOCK: Final = 256 * 1024


@dataclass
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


Fault = Callable[["ScriptedServer", Request], str]
"""Answers one request itself; returns ``"continue"`` or ``"close"``."""


@dataclass
class PullResult:
    """What the suite's pull (during a push) did."""

    ok: bool = False
    detail: str = ""
    finished_answer: str = ""
    received: list[tuple[str, int]] = field(default_factory=list)


class ScriptedServer:
    """Serves one connection; see the module docstring."""

    def __init__(
        self,
        transport: LoggedTransport,
        deadline: float,
        *,
        zfs: FakeZfs | None = None,
        pull_acl: dict[str, str] | None = None,
        sink: dict[str, str] | None = None,
        identity: str = "alice",
        faults: dict[str, Fault] | None = None,
        rechunk: int = 0,
    ) -> None:
        self.t = transport
        self.rechunk = rechunk
        """If set, JSON messages go out in chunks of this size, one write per chunk."""
        self.deadline = deadline
        self.zfs = zfs if zfs is not None else FakeZfs.in_memory()
        acl: DatasetMapping = parse_mapping(pull_acl if pull_acl is not None else {"pool*": "ok"})
        self.handler = ReferenceHandler(
            self.zfs, identity=identity, pull_acl=acl, sink_for=lambda _who: None
        )
        self.sink = parse_mapping(sink) if sink is not None else None
        self.identity = identity
        self.faults = dict(faults or {})
        self.requests: list[Seen] = []
        self.situations: set[Situation] = set()
        """What this server did that a row of the §deviations table may refer to."""
        self.ending = ""
        self.pull: PullResult | None = None
        self.conn = Connection(Role.SERVER, identity=identity)
        self._mark = 0  # bytes of the client's direction already attributed to requests

    # ------------------------------------------------------------------ helpers
    def remaining(self) -> float:
        return max(0.05, self.deadline - time.monotonic())

    def write(self, data: bytes) -> None:
        if self.rechunk and len(data) < 65536:
            streams = split_streams(data)
            if streams and all(st.complete for st in streams):
                for st in streams:
                    for i in range(0, len(st.payload), self.rechunk):
                        piece = st.payload[i : i + self.rechunk]
                        self.t.write(framing.chunk_header(len(piece)) + piece, self.remaining())
                        time.sleep(0.0002)
                    self.t.write(framing.TERMINATOR, self.remaining())
                return
        self.t.write(data, self.remaining())

    def respond(self, header: ResponseHeader, body: bytes | None = None) -> None:
        """Write a raw response (header, optional JSON body) outside the state machine."""
        out = chunked(messages.encode_message(header))
        if body is not None:
            out += chunked(body)
        self.write(out)

    def fresh(self) -> None:
        """Continue with a new state machine after a scripted answer (keeps unread bytes)."""
        self.conn = self.conn.successor()

    def _raw_since_mark(self) -> bytes:
        data = self.t.log.data("iut>suite")
        consumed = len(data) - self.conn.decoder.buffered
        raw = data[self._mark : consumed]
        self._mark = consumed
        return raw

    # ------------------------------------------------------------------ serving
    def run(self) -> str:
        """Serve until the connection ends; returns (and stores) how it ended."""
        try:
            self.ending = self._loop()
        finally:
            self.t.close()  # like the original: every ending closes the connection
        return self.ending

    def _loop(self) -> str:
        while True:
            try:
                ev = read_event(self.conn, self.t, self.remaining())
            except PeerTimeout:
                return "timeout: the client sent nothing more"
            except RemoteProtocolError as exc:
                return f"protocol error: {exc}"
            if time.monotonic() > self.deadline:
                return "timeout"
            if isinstance(ev, BadRequest):
                raw = self._raw_since_mark()
                if ev.peer_closed:
                    # the original writes E(1, ...EOF) to a client that hung up
                    with contextlib.suppress(ConnectionClosed, PeerTimeout, OSError):
                        self.write(self.conn.send(ev))
                    return "client closed the connection"
                self.requests.append(Seen(ev.request_type, None, raw, ev.message))
                try:
                    self.write(self.conn.send(ev))
                except (ConnectionClosed, PeerTimeout, OSError):
                    return "client closed the connection"
                if self.conn.state is not State.AWAIT_HEADER:
                    self.t.close()
                    return f"closed after a bad request (error {ev.error_id})"
                continue
            if not isinstance(ev, Request):
                return f"unexpected event {ev!r}"
            assert ev.header is not None
            seen = Seen(ev.header.type, ev.body, self._raw_since_mark())
            self.requests.append(seen)
            fault = self.faults.get(seen.name) or self.faults.get(f"#{len(self.requests)}")
            try:
                if fault is not None:
                    if fault(self, ev) == "close":
                        self.t.close()
                        return f"closed by the script after {seen.name}"
                    self.fresh()
                    continue
                done = self._answer(ev)
            except (ConnectionClosed, PeerTimeout, OSError) as exc:
                return f"connection lost while answering {seen.name}: {exc}"
            if done:
                return done

    def _answer(self, req: Request) -> str:
        body = req.body
        conn = self.conn
        ok = conn.response_header
        if isinstance(body, messages.CloseRequest):
            self.write(conn.send(Response(ok(ResponseType.OK))))
            self.t.close()
            return "closed after the client's Close"
        if isinstance(body, messages.ProtocolVersionRequest):
            self.write(conn.send(Response(ok(ResponseType.OK))))
            return ""
        if isinstance(body, PullMeRequest):
            return self._pull_me(body)
        try:
            if isinstance(body, FilesystemRequest):
                paths = self.handler.handle_filesystem_request(body) or []
                self.write(conn.send(Response(ok(ResponseType.FILESYSTEMS), tuple(paths))))
                return ""
            if isinstance(body, FilesystemVersionsRequest):
                vs = self.handler.handle_filesystem_versions_request(body) or []
                self.write(conn.send(Response(ok(ResponseType.FILESYSTEM_DIFF), tuple(vs))))
                return ""
            if isinstance(body, InitialTransferRequest):
                stream = self.handler.handle_initial_transfer_request(body)
            else:
                assert isinstance(body, IncrementalTransferRequest)
                stream = self.handler.handle_incremental_transfer_request(body)
        except HandlerError as exc:
            self.write(conn.send(Response(conn.handler_error(str(exc)))))
            return "" if conn.state is State.AWAIT_HEADER else "closed after a handler error"
        self.write(conn.send(Response(ok(ResponseType.CHUNKED_STREAM))))
        while block := stream.read(STREAM_BLOCK):
            self.write(conn.send(StreamData(block)))
        self.write(conn.send(StreamEnd()))
        return ""

    def _pull_me(self, body: PullMeRequest) -> str:
        """OK, then pull from the client over this connection (the suite as puller)."""
        from fakes.jobs import run_pull

        conn = self.conn
        self.write(conn.send(Response(conn.response_header(ResponseType.OK))))
        result = PullResult()
        self.pull = result
        if body.finished or conn.state is not State.IDLE:
            result.detail = "nothing to pull (Finished=true or refused)"
            return "" if conn.state is State.AWAIT_HEADER else "closed after PullMe"
        if self.sink is None:
            self.t.close()
            self.situations.add(Situation.PULLER_GONE)
            result.detail = "no sink: closed"
            return "closed: the suite has no sink for this push"
        client = Client(conn, self.t, timeout=self.remaining())
        try:
            report = run_pull(client, self.zfs, self.sink, policy=body.initial_repl_policy)
        except (ProtocolError, OSError) as exc:
            result.detail = f"pull failed: {exc}"
            self.situations.add(Situation.PULLER_GONE)
            self.t.close()
            return "closed: the suite's pull failed"
        result.detail = report.summary()
        result.received = [(r.local, v.guid) for r in report.results for v in r.received]
        if not report.ok:
            self.situations.add(Situation.PULLER_GONE)
            self.t.close()
            return f"closed: the suite's pull failed ({report.summary()})"
        result.ok = True
        self.write(conn.send(Request(PullMeRequest(finished=True))))
        try:
            ev = read_event(conn, self.t, self.remaining())
        except ProtocolError as exc:
            result.finished_answer = f"no answer: {exc}"
            return "closed: no answer to Finished=true"
        if isinstance(ev, Response):
            h = ev.header
            result.finished_answer = (
                "OK"
                if (h.error_id, h.response_type) == (0, ResponseType.OK)
                else f"E({h.error_id}, {h.message!r}) type {h.response_type:#04x}"
            )
        else:
            result.finished_answer = f"{type(ev).__name__}"
        self._mark = len(self.t.log.data("iut>suite")) - conn.decoder.buffered
        return ""


# ---------------------------------------------------------------- faults


def error_fault(
    error_id: int = ErrorId.HANDLER, message: str = "scripted refusal", then: str = "continue"
) -> Fault:
    """Answer with an error header (ResponseType NONE)."""

    def fault(s: ScriptedServer, req: Request) -> str:
        s.respond(ResponseHeader(bytes(16), int(error_id), message, 0))
        if isinstance(req.body, PullMeRequest):
            s.situations.add(Situation.PULLME_REFUSED)
        return then

    return fault


def wrong_type_fault(response_type: int, error_id: int = 0, body: bytes | None = None) -> Fault:
    """Answer with a header of another response type (and optionally a body)."""

    def fault(s: ScriptedServer, req: Request) -> str:
        s.respond(ResponseHeader(bytes(16), error_id, "", response_type), body)
        return "continue"

    return fault


def raw_body_fault(response_type: int, body: bytes) -> Fault:
    """The expected response type, with a hand-made JSON body."""

    def fault(s: ScriptedServer, req: Request) -> str:
        s.respond(ResponseHeader(bytes(16), 0, "", response_type), body)
        return "continue"

    return fault


def id_echo_fault(rid: bytes) -> Fault:
    """Answer normally, but with a non-zero RequestId in the header."""

    def fault(s: ScriptedServer, req: Request) -> str:
        original = s.conn.response_header

        def header(rt: ResponseType) -> ResponseHeader:
            h = original(rt)
            return ResponseHeader(rid, h.error_id, h.message, h.response_type)

        s.conn.response_header = header  # type: ignore[method-assign,assignment]
        try:
            s._answer(req)
        finally:
            del s.conn.response_header
        return "continue"

    return fault


def _stream_bytes(s: ScriptedServer, req: Request) -> bytes:
    body = req.body
    if isinstance(body, InitialTransferRequest):
        return s.handler.handle_initial_transfer_request(body).read()
    assert isinstance(body, IncrementalTransferRequest)
    return s.handler.handle_incremental_transfer_request(body).read()


def truncated_stream_fault(where: str, stall: float = 0.0) -> Fault:
    """OK(0x20), part of the real stream, then (after ``stall`` s) close.

    ``where``: ``boundary`` (after complete chunks, §frame.truncation (c)), ``payload``
    (inside a chunk's payload, (d)), ``length`` (inside a chunk length, (b)), or
    ``complete`` (every data chunk of the whole stream, only the zero chunk missing), or
    ``empty`` (no stream chunk at all: what the original sent when ``zfs send`` failed).
    """

    def fault(s: ScriptedServer, req: Request) -> str:
        data = _stream_bytes(s, req)
        half = {"complete": data, "empty": b""}.get(where, data[: len(data) // 2])
        s.respond(
            ResponseHeader(
                s.conn.current_request.id if s.conn.current_request else bytes(16),
                0,
                "",
                ResponseType.CHUNKED_STREAM,
            )
        )
        out = framing.encode_chunks(half)
        if where in ("complete", "boundary"):
            s.situations.add(Situation.STREAM_WITHOUT_TERMINATOR)
        if where == "payload":
            out += framing.chunk_header(4096) + data[len(half) : len(half) + 1000]
        elif where == "length":
            out += framing.chunk_header(4096)[:2]
        s.write(out)
        if stall:
            end = min(time.monotonic() + stall, s.deadline - 0.5)
            while time.monotonic() < end:
                time.sleep(0.02)
        return "close"

    return fault


def corrupt_stream_fault(tail: int = 8 * 1024 * 1024) -> Fault:
    """OK(0x20) and a complete chunked stream whose content is not a valid send stream
    (bad magic) followed by ``tail`` more bytes: a receiver fails at once and must then
    drain the rest (§client.transfer-drain). Sets ``s.drained``."""

    def fault(s: ScriptedServer, req: Request) -> str:
        s.respond(
            ResponseHeader(
                s.conn.current_request.id if s.conn.current_request else bytes(16),
                0,
                "",
                ResponseType.CHUNKED_STREAM,
            )
        )
        payload = b"NOTZFS!!" + bytes(tail)
        s.situations.add(Situation.STREAM_REFUSED_BY_RECV)
        done = threading.Event()
        failed: list[str] = []

        def writer() -> None:
            try:
                for i in range(0, len(payload), STREAM_BLOCK):
                    s.write(framing.encode_chunks(payload[i : i + STREAM_BLOCK]))
                s.write(framing.TERMINATOR)
            except (ConnectionClosed, PeerTimeout, OSError) as exc:
                failed.append(str(exc))
            done.set()

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        while not done.wait(0.05):
            if time.monotonic() > s.deadline - 1.0:
                break
        s.drained = done.is_set() and not failed  # type: ignore[attr-defined]
        s.drain_error = failed[0] if failed else ""  # type: ignore[attr-defined]
        if not done.is_set():
            s.t.close()
            return "close"
        return "close" if failed else "continue"

    return fault


def stall_fault() -> Fault:
    """Never answer: hold the connection until the client gives up (closes) or the case
    deadline is near. Sets ``s.client_gave_up``."""

    def fault(s: ScriptedServer, req: Request) -> str:
        s.situations.add(Situation.PEER_STALLS)
        s.client_gave_up = False  # type: ignore[attr-defined]
        while time.monotonic() < s.deadline - 0.3:
            try:
                data = s.t.read(65536, 0.05)
            except PeerTimeout:
                continue
            except OSError:
                data = b""
            if not data:
                s.client_gave_up = True  # type: ignore[attr-defined]
                break
        return "close"

    return fault
