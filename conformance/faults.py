"""The suite's scripted faults: what a client-role case answers instead of the reference.

Each fault is a typed value for :class:`fakes.scripted.ScriptedServer` (the one scripted
server, which the client-role fuzzer uses too): an error response, a wrong response type, a
hand-made body, another RequestId, a send stream cut at a chosen point, a corrupt stream
with a long tail, a stall, or an answer after which the suite holds the connection open.
What a case inspects afterwards is a declared field of the fault (``drained``,
``client_gave_up``, ``outcome``), set while the server ran.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Final, Literal

from bytestreamrpc import framing
from bytestreamrpc.constants import ErrorId, ResponseType
from bytestreamrpc.deviations import Situation
from bytestreamrpc.errors import ConnectionClosed, PeerTimeout
from bytestreamrpc.events import Request
from bytestreamrpc.messages import PullMeRequest, ResponseHeader
from fakes.scripted import Fault, Honest, ScriptedServer, Then, render

__all__ = [
    "CorruptStream",
    "EchoId",
    "Holding",
    "OkThenClose",
    "PullerLeaves",
    "RawBody",
    "Refusal",
    "Stall",
    "TruncatedStream",
    "WrongType",
]

STREAM_BLOCK: Final = 256 * 1024
HOLD_MARGIN: Final = 1.0
"""Seconds before the case deadline at which a held connection is given up."""
_ZERO_ID: Final = bytes(16)


@dataclass(frozen=True)
class Refusal:
    """An error header (ResponseType NONE), then serve on or close."""

    error_id: int = ErrorId.HANDLER
    message: str = "scripted refusal"
    then: Then = Then.CONTINUE

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        server.respond(ResponseHeader(_ZERO_ID, int(self.error_id), self.message, 0))
        if isinstance(request.body, PullMeRequest):
            server.situations.add(Situation.PULLME_REFUSED)
        return self.then


@dataclass(frozen=True)
class WrongType:
    """A header of another response type (optionally with a body), then serve on."""

    response_type: int
    error_id: int = 0
    body: bytes | None = None

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        server.respond(ResponseHeader(_ZERO_ID, self.error_id, "", self.response_type), self.body)
        return Then.CONTINUE


@dataclass(frozen=True)
class RawBody:
    """The expected response type with a hand-made JSON body, then serve on."""

    response_type: int
    body: bytes

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        server.respond(ResponseHeader(_ZERO_ID, 0, "", self.response_type), self.body)
        return Then.CONTINUE


@dataclass(frozen=True)
class EchoId:
    """The reference's answer with another (non-zero) RequestId in its header."""

    request_id: bytes

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        if honest.header is not None:
            header = dataclasses.replace(honest.header, request_id=self.request_id)
            honest = dataclasses.replace(honest, header=header)
        server.write(render(honest))
        return Then.CONTINUE


Cut = Literal["boundary", "payload", "length", "complete", "empty"]


@dataclass(frozen=True)
class TruncatedStream:
    """OK(0x20), part of the real send stream, then (after ``stall`` s) a close.

    ``where``: ``boundary`` (after complete chunks, §frame.truncation (c)), ``payload``
    (inside a chunk's payload, (d)), ``length`` (inside a chunk length, (b)), ``complete``
    (every data chunk, only the zero chunk missing) or ``empty`` (no stream chunk at all:
    what the original sent when ``zfs send`` failed).
    """

    where: Cut
    stall: float = 0.0

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        data = honest.data or b""
        half = {"complete": data, "empty": b""}.get(self.where, data[: len(data) // 2])
        rid = honest.header.request_id if honest.header is not None else _ZERO_ID
        server.respond(ResponseHeader(rid, 0, "", ResponseType.CHUNKED_STREAM))
        out = framing.encode_chunks(half)
        if self.where in ("complete", "boundary"):
            server.situations.add(Situation.STREAM_WITHOUT_TERMINATOR)
        if self.where == "payload":
            out += framing.chunk_header(4096) + data[len(half) : len(half) + 1000]
        elif self.where == "length":
            out += framing.chunk_header(4096)[:2]
        server.write(out)
        if self.stall:
            end = min(time.monotonic() + self.stall, server.deadline - 0.5)
            while time.monotonic() < end:
                time.sleep(0.02)
        return Then.CLOSE


@dataclass
class CorruptStream:
    """OK(0x20) and a complete chunked stream that is no valid send stream (bad magic)
    followed by ``tail`` more bytes: a receiver fails at once and must then drain the rest
    (§client.transfer-drain)."""

    tail: int = 8 * 1024 * 1024
    drained: bool | None = field(default=None, init=False)
    """The whole stream was written (the client kept reading); ``None``: not applied."""
    drain_error: str = field(default="", init=False)
    """Why writing the rest failed (the client closed), if it did."""

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        rid = honest.header.request_id if honest.header is not None else _ZERO_ID
        server.respond(ResponseHeader(rid, 0, "", ResponseType.CHUNKED_STREAM))
        payload = b"NOTZFS!!" + bytes(self.tail)
        server.situations.add(Situation.STREAM_REFUSED_BY_RECV)
        done = threading.Event()
        failed: list[str] = []

        def writer() -> None:
            try:
                for i in range(0, len(payload), STREAM_BLOCK):
                    server.write(framing.encode_chunks(payload[i : i + STREAM_BLOCK]))
                server.write(framing.TERMINATOR)
            except (ConnectionClosed, PeerTimeout, OSError) as exc:
                failed.append(str(exc))
            done.set()

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        while not done.wait(0.05):
            if time.monotonic() > server.deadline - 1.0:
                break
        self.drained = done.is_set() and not failed
        self.drain_error = failed[0] if failed else ""
        if not done.is_set() or failed:
            return Then.CLOSE
        return Then.CONTINUE


@dataclass
class Stall:
    """Never answer: hold the connection until the client gives up (closes) or the case
    deadline is near."""

    client_gave_up: bool | None = field(default=None, init=False)
    """The client closed the connection while the suite stalled; ``None``: not applied."""

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        server.situations.add(Situation.PEER_STALLS)
        self.client_gave_up = False
        while time.monotonic() < server.deadline - 0.3:
            try:
                data = server.transport.read(65536, 0.05)
            except PeerTimeout:
                continue
            except OSError:
                data = b""
            if not data:
                self.client_gave_up = True
                break
        return Then.CLOSE


@dataclass(frozen=True)
class OkThenClose:
    """OK (echoing the request's id) and nothing more: what a held Close is answered with."""

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        assert request.header is not None
        server.respond(ResponseHeader(request.header.id, 0, "", int(ResponseType.OK)))
        return Then.CLOSE


Held = Literal["closed", "open"]


@dataclass
class Holding:
    """``answer``, after which the suite keeps the connection open until the client closes
    it (``outcome`` ``"closed"``) or the case is nearly out of time (``"open"``)."""

    answer: Fault
    outcome: Held | None = field(default=None, init=False)
    """How the held connection ended; ``None``: the fault never applied."""

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        self.answer.apply(server, request, honest)
        server.note("suite keeps the connection open, waiting for the client to close it")
        until = server.deadline - HOLD_MARGIN
        try:
            while server.transport.read(1 << 16, max(0.05, until - time.monotonic())):
                pass
            self.outcome = "closed"
        except PeerTimeout:
            self.outcome = "open"
        except (ConnectionClosed, OSError):
            self.outcome = "closed"
        return Then.CLOSE


@dataclass(frozen=True)
class PullerLeaves:
    """OK to a PullMe, then a close instead of pulling (no PullMe{Finished:true})."""

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        assert honest.header is not None
        server.respond(honest.header)
        server.situations.add(Situation.PULLER_GONE)
        return Then.CLOSE
