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
from collections.abc import Callable
from dataclasses import dataclass

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


def _dispatch(
    conn: Connection,
    transport: Transport,
    handler: RPCHandler,
    req: Request,
    requester_factory: RequesterFactory,
    timeout: float | None,
) -> None:
    body = req.body
    write = transport.write
    if isinstance(body, ProtocolVersionRequest | CloseRequest):
        if isinstance(body, CloseRequest) and body.goodbye:
            log.info("close request with goodbye: %s", body.goodbye)
        write(conn.send(Response(conn.response_header(ResponseType.OK))), timeout)
        return
    if isinstance(body, PullMeRequest):
        _pull_me(conn, transport, handler, body, requester_factory, timeout)
        return
    try:
        if isinstance(body, FilesystemRequest):
            roots = handler.handle_filesystem_request(body)
            hdr = conn.response_header(ResponseType.FILESYSTEMS)
            write(conn.send(Response(hdr, None if roots is None else tuple(roots))), timeout)
            return
        if isinstance(body, FilesystemVersionsRequest):
            versions = handler.handle_filesystem_versions_request(body)
            hdr = conn.response_header(ResponseType.FILESYSTEM_DIFF)
            body_out = None if versions is None else tuple(versions)
            write(conn.send(Response(hdr, body_out)), timeout)
            return
        stream: ByteSource
        if isinstance(body, InitialTransferRequest):
            stream = handler.handle_initial_transfer_request(body)
        else:
            assert isinstance(body, IncrementalTransferRequest)
            stream = handler.handle_incremental_transfer_request(body)
    except HandlerError as exc:
        write(conn.send(Response(conn.handler_error(str(exc)))), timeout)
        return
    except (ConnectionClosed, PeerTimeout):
        raise
    except Exception as exc:  # §server.handler-crash: no response, close
        log.error("handler crashed: %r", exc)
        conn.abort()
        return
    write(conn.send(Response(conn.response_header(ResponseType.CHUNKED_STREAM))), timeout)
    _pump(conn, transport, stream, timeout)


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
    requester_factory: RequesterFactory,
    timeout: float | None,
) -> None:
    identity = conn.serving_identity
    transport.write(conn.send(Response(conn.response_header(ResponseType.OK))), timeout)
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
    transport.write(conn.send(Request(PullMeRequest(finished=True))), timeout)
    # §pullme.resume: whatever answers (even nothing decodable) we serve again.
    with contextlib.suppress(RemoteProtocolError, PeerTimeout):
        read_event(conn, transport, timeout)
