"""The blocking serving loop: a :class:`Connection` in a server state, a transport, a handler.

Used by :class:`~bytestreamrpc.server.Server` for a whole connection and by
:class:`~bytestreamrpc.client.Client` while it serves during pull-me (the
seed's ``serverLoop`` is likewise shared). The loop only moves bytes and
calls the handler; every protocol decision (which error id, close or
continue) is the connection's reaction table.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from . import framing
from .connection import SERVER_STATES, Connection, Outcome, State
from .constants import ResponseType
from .errors import (
    ConnectionClosed,
    HandlerError,
    PeerTimeout,
    ProtocolError,
    RemoteProtocolError,
)
from .events import BadRequest, Event, Request, Response, StreamData, StreamEnd
from .interfaces import ByteSource, RPCHandler, RPCRequester
from .messages import (
    CloseRequest,
    FilesystemRequest,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
    PullMeRequest,
)
from .transport import READ_SIZE, Transport

log = logging.getLogger("bytestreamrpc.serving")

STREAM_BLOCK = 1024 * 1024
"""Bytes read from a send stream per write: bounded memory while streaming."""

DEFAULT_TIMEOUT = 300.0
"""Seconds a peer may stall before we give up (§deviations.timeouts)."""

RequesterFactory = Callable[[Connection, Transport], RPCRequester]
_V = TypeVar("_V")


@dataclass
class ServeOutcome:
    """How a serving loop ended: ``state`` is the connection's final state.

    ``returned_error`` is true when the loop *returned an error* without
    closing (§server.fsv.decode-error, §server.fsv.handler-error): the
    original's ``stdinserver`` then exits with status 1.
    """

    state: State
    reason: str = ""
    requests: int = 0
    returned_error: bool = False


def read_event(conn: Connection, transport: Transport, timeout: float | None) -> Event:
    """Pull the next event, reading from the transport as the connection needs."""
    while True:
        ev = conn.next_event()
        if ev is not framing.NEED_DATA:
            return ev  # type: ignore[return-value]
        conn.receive_data(transport.read(READ_SIZE, timeout))


def serve_loop(
    conn: Connection,
    transport: Transport,
    handler: RPCHandler,
    requester_factory: RequesterFactory,
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> ServeOutcome:
    """Serve requests until the connection leaves the server states.

    Never raises for anything the peer does: a broken peer ends the loop with
    the connection in ``CLOSED`` or ``ERROR`` and a reason.
    """
    served = 0
    while conn.state in SERVER_STATES:
        try:
            ev = read_event(conn, transport, timeout)
        except PeerTimeout as exc:
            conn.abort()
            return ServeOutcome(State.CLOSED, str(exc), served)
        except RemoteProtocolError as exc:  # only from a state that cannot answer
            conn.abort()
            return ServeOutcome(State.ERROR, str(exc), served)
        try:
            if isinstance(ev, BadRequest):
                log.info("refusing request: error %d %r", ev.error_id, ev.message)
                transport.write(conn.send(ev), timeout)
            elif isinstance(ev, Request):
                served += 1
                _dispatch(conn, transport, handler, ev, requester_factory, timeout)
            else:  # pragma: no cover - a server-state connection yields only these
                conn.abort()
                return ServeOutcome(State.ERROR, f"unexpected event {ev!r}", served)
        except (ConnectionClosed, PeerTimeout, OSError) as exc:
            # §server.write-error: a failed write aborts the loop and closes.
            conn.abort()
            return ServeOutcome(State.CLOSED, f"write failed: {exc}", served)
    returned_error = (
        conn.state is State.RETURNED
        and bool(conn.outcomes)
        and conn.outcomes[-1][1] is not Outcome.FINISHED
    )
    return ServeOutcome(conn.state, "", served, returned_error)


@dataclass(frozen=True)
class Answer:
    """What the reference server answers one request with, before anything is written.

    ``response`` is ``None`` when there is no answer at all: the handler crashed and the
    connection closes (§server.handler-crash). ``stream`` is the send stream that follows
    a CHUNKED_STREAM header. Everything that serves a connection — the reference loop below,
    the scripted servers of the suite and the fuzzer — computes answers here and differs only
    in what it does with one: send it, or hand it to a scripted fault.
    """

    response: Response | None
    stream: ByteSource | None = None


def answer(conn: Connection, request: Request, handler: RPCHandler) -> Answer:
    """The reference's answer to ``request`` (the connection's current request); no I/O.

    The header echoes the request's id (§msg.request-id); a :class:`HandlerError` becomes
    the error-5 header; a PullMe is answered OK here (the pull itself follows the OK).
    Does not advance the connection: sending the response does.
    """
    body = request.body
    ok = conn.response_header
    if isinstance(body, ProtocolVersionRequest | CloseRequest | PullMeRequest):
        if isinstance(body, CloseRequest) and body.goodbye:
            log.info("close request with goodbye: %s", body.goodbye)
        return Answer(Response(ok(ResponseType.OK)))
    try:
        if isinstance(body, FilesystemRequest):
            roots = handler.handle_filesystem_request(body)
            return Answer(Response(ok(ResponseType.FILESYSTEMS), _tuple_or_null(roots)))
        if isinstance(body, FilesystemVersionsRequest):
            versions = handler.handle_filesystem_versions_request(body)
            return Answer(Response(ok(ResponseType.FILESYSTEM_DIFF), _tuple_or_null(versions)))
        if isinstance(body, InitialTransferRequest):
            stream = handler.handle_initial_transfer_request(body)
        else:
            assert isinstance(body, IncrementalTransferRequest)
            stream = handler.handle_incremental_transfer_request(body)
    except HandlerError as exc:
        return Answer(Response(conn.handler_error(str(exc))))
    except (ConnectionClosed, PeerTimeout):
        raise
    except Exception as exc:  # §server.handler-crash: no response, close
        log.error("handler crashed: %r", exc)
        return Answer(None)
    return Answer(Response(ok(ResponseType.CHUNKED_STREAM)), stream)


def _tuple_or_null(values: Sequence[_V] | None) -> tuple[_V, ...] | None:
    """A handler's list as the response body; ``None`` stays Go's ``null``."""
    return None if values is None else tuple(values)


def _dispatch(
    conn: Connection,
    transport: Transport,
    handler: RPCHandler,
    req: Request,
    requester_factory: RequesterFactory,
    timeout: float | None,
) -> None:
    reply = answer(conn, req, handler)
    if reply.response is None:
        conn.abort()
        return
    identity = conn.serving_identity  # sending the OK to a PullMe inverts the connection
    transport.write(conn.send(reply.response), timeout)
    if isinstance(req.body, PullMeRequest):
        _pull_me(conn, transport, handler, req.body, identity, requester_factory, timeout)
    elif reply.stream is not None:
        _pump(conn, transport, reply.stream, timeout)


def _pump(
    conn: Connection, transport: Transport, stream: ByteSource, timeout: float | None
) -> None:
    """Copy a send stream into chunks; a failing stream closes without terminator."""
    try:
        while True:
            try:
                block = stream.read(STREAM_BLOCK)
            except Exception as exc:  # §server.stream-failure
                log.error("send stream failed: %r", exc)
                conn.abort()
                return
            if not block:
                break
            transport.write(conn.send(StreamData(block)), timeout)
        transport.write(conn.send(StreamEnd()), timeout)
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:  # a source failing to close must not crash the loop
                log.warning("closing send stream failed: %r", exc)


def _pull_me(
    conn: Connection,
    transport: Transport,
    handler: RPCHandler,
    body: PullMeRequest,
    identity: str,
    requester_factory: RequesterFactory,
    timeout: float | None,
) -> None:
    """After the OK to a PullMe: pull as the handler says, then hand the connection back."""
    if body.finished or conn.state is not State.IDLE:
        return  # Finished=true (the loop returns) or a bad identity (closed)
    requester = requester_factory(conn, transport)
    try:
        handler.handle_pull_me_request(body, identity, requester)
    except (ProtocolError, HandlerError, ConnectionClosed, PeerTimeout, OSError) as exc:
        log.error("pulling failed with error: %s", exc)
        conn.abort()  # §pullme.handler-failure
        return
    except Exception as exc:
        log.error("pull-me handler crashed: %r", exc)
        conn.abort()
        return
    if conn.state is not State.IDLE:
        conn.abort()
        return
    # §pullme.resume: whatever answers (even nothing decodable) we serve again.
    with contextlib.suppress(RemoteProtocolError, PeerTimeout):
        finish_pull_me(conn, transport, timeout)


def finish_pull_me(conn: Connection, transport: Transport, timeout: float | None) -> Event:
    """The puller's last step (§pullme.resume): send PullMe{Finished:true}, read the answer.

    Afterwards the connection is a server again if the answer allowed it (``conn.state``
    says); a :class:`RemoteProtocolError` means the answer was not one.
    """
    transport.write(conn.send(Request(PullMeRequest(finished=True))), timeout)
    return read_event(conn, transport, timeout)
