"""Server-loop and handler defects (§server, §handler, §pullme seen from the puller).

The reference server's decisions live in a few places, each replaced here for one mutant:
``connection.REACTIONS`` (close / continue / return after each outcome),
``Connection._refuse`` (the error header for a refused request),
``Connection.response_header`` / ``handler_error`` (request ids), the dispatcher
``serving._dispatch``, and the handler ``fakes.reference.ReferenceHandler`` (ACL, version
lists, send streams, pull-me).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

from bytestreamrpc import connection, server, serving
from bytestreamrpc.connection import After, Connection, Outcome, Role, State
from bytestreamrpc.constants import ZERO_REQUEST_ID, ErrorId, RequestType, ResponseType
from bytestreamrpc.errors import ConnectionClosed, HandlerError, PeerTimeout
from bytestreamrpc.events import BadRequest, Event, Request
from bytestreamrpc.interfaces import ByteSource, RPCHandler, RPCRequester
from bytestreamrpc.messages import (
    CloseRequest,
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    ProtocolVersionRequest,
    PullMeRequest,
    ResponseHeader,
)
from bytestreamrpc.transport import READ_SIZE, Transport
from fakes.reference import ReferenceHandler, zfs_failure
from fakes.zfs.errors import ZfsError

from .registry import mutant, replace

RT = RequestType
RefuseHook = Callable[[Connection, BadRequest, Outcome, bool], BadRequest]


def _after_refuse(hook: RefuseHook) -> None:
    """Let ``hook(conn, bad, outcome, peer_closed)`` adjust every refusal."""
    refuse = Connection._refuse

    def wrapped(
        self: Connection,
        rtype: RequestType | None,
        outcome: Outcome,
        error: ErrorId,
        message: str,
        *,
        peer_closed: bool = False,
    ) -> BadRequest:
        bad: BadRequest = refuse(self, rtype, outcome, error, message, peer_closed=peer_closed)
        return hook(self, bad, outcome, peer_closed)

    replace(Connection, "_refuse", wrapped)


# --------------------------------------------------------------------------- error rows


@mutant(
    "header-error-id-3",
    role=Role.SERVER,
    description="answers an undecodable request header with error 3 instead of 1",
    sections=("§server.header.decode-error", "§msg.constants"),
    family="server-rows",
)
def _header_error_id_3() -> None:
    def hook(conn: Connection, bad: BadRequest, outcome: Outcome, peer_closed: bool) -> BadRequest:
        if bad.error_id != ErrorId.DECODE_HEADER:
            return bad
        response = dataclasses.replace(bad.response, error_id=int(ErrorId.DECODE_REQUEST_BODY))
        conn._pending_error = response
        return dataclasses.replace(bad, response=response)

    _after_refuse(hook)


@mutant(
    "unknown-type-silent",
    role=Role.SERVER,
    description="answers nothing to an unknown request type and reads on (its body is then "
    "taken for the next header)",
    sections=("§server.unknown-type",),
    family="server-rows",
)
def _unknown_type_silent() -> None:
    def hook(conn: Connection, bad: BadRequest, outcome: Outcome, peer_closed: bool) -> BadRequest:
        if outcome is Outcome.UNKNOWN_TYPE:
            conn._after_error = After.CONTINUE
        return bad

    _after_refuse(hook)
    send = Connection.send

    def silent_send(self: Connection, event: Event) -> bytes:
        data: bytes = send(self, event)
        if isinstance(event, BadRequest) and event.error_id == ErrorId.UNKNOWN_REQUEST_TYPE:
            return b""
        return data

    replace(Connection, "send", silent_send)


@mutant(
    "pv-version-unchecked",
    role=Role.SERVER,
    description="accepts any ClientVersion (answers OK to version 2 instead of error 4)",
    sections=("§server.pv.mismatch",),
    family="server-rows",
)
def _version_unchecked() -> None:
    read_body = Connection._read_request_body

    def lenient(self: Connection) -> object:
        ev = read_body(self)
        if isinstance(ev, BadRequest) and ev.error_id == ErrorId.PROTOCOL_VERSION_MISMATCH:
            self.outcomes.pop()
            self._pending_error = None
            self._pull_me_finished = False
            self.state = State.MUST_RESPOND
            return Request(ProtocolVersionRequest(), self._header)
        return ev

    replace(Connection, "_read_request_body", lenient)


@mutant(
    "incr-handler-error-closes",
    role=Role.SERVER,
    description="closes the connection after an IncrementalTransfer handler error instead of "
    "continuing",
    sections=("§server.incr.handler-error", "§server.handler-error"),
    family="server-rows",
)
def _incr_error_closes() -> None:
    connection.REACTIONS[(RT.INCREMENTAL_TRANSFER, Outcome.HANDLER_ERROR)] = After.CLOSE


@mutant(
    "close-without-ok",
    role=Role.SERVER,
    description="closes the connection on a Close request without answering OK",
    sections=("§server.close.ok",),
    family="server-rows",
)
def _close_without_ok() -> None:
    dispatch = serving._dispatch

    def dispatch_no_ok(
        conn: Connection,
        transport: Transport,
        handler: RPCHandler,
        req: Request,
        requester_factory: serving.RequesterFactory,
        timeout: float | None,
    ) -> None:
        if isinstance(req.body, CloseRequest):
            conn.abort()
            return
        dispatch(conn, transport, handler, req, requester_factory, timeout)

    replace(serving, "_dispatch", dispatch_no_ok)


@mutant(
    "header-error-stays-open",
    role=Role.SERVER,
    description="keeps reading after an undecodable request header instead of closing",
    sections=("§server.header.decode-error",),
    family="server-rows",
    expect="FAIL",
)
def _header_error_stays_open() -> None:
    def hook(conn: Connection, bad: BadRequest, outcome: Outcome, peer_closed: bool) -> BadRequest:
        if outcome is Outcome.HEADER_ERROR and not peer_closed and not conn.decoder.eof:
            conn._after_error = After.CONTINUE
        return bad

    _after_refuse(hook)


@mutant(
    "fsv-error-continues",
    role=Role.SERVER,
    description="keeps serving after a FilesystemVersions decode or handler error instead of "
    "ending the loop",
    sections=("§server.fsv.decode-error", "§server.fsv.handler-error"),
    family="server-rows",
    expect="NON-STRICT",
)
def _fsv_error_continues() -> None:
    for outcome in (Outcome.BODY_ERROR, Outcome.HANDLER_ERROR):
        connection.REACTIONS[(RT.FILESYSTEM_VERSIONS, outcome)] = After.CONTINUE


@mutant(
    "success-zero-request-id",
    role=Role.SERVER,
    description="sends 16 zeros as RequestId in success responses instead of echoing the "
    "request's Id",
    sections=("§msg.request-id",),
    family="server-rows",
    expect="FAIL",
)
def _success_zero_id() -> None:
    def zero_id(self: Connection, response_type: ResponseType) -> ResponseHeader:
        return ResponseHeader(request_id=ZERO_REQUEST_ID, response_type=int(response_type))

    replace(Connection, "response_header", zero_id)


@mutant(
    "error-echoes-request-id",
    role=Role.SERVER,
    description="echoes the request's Id in error responses instead of sending zeros",
    sections=("§msg.request-id",),
    family="server-rows",
    expect="NON-STRICT",
)
def _error_echoes_id() -> None:
    def hook(conn: Connection, bad: BadRequest, outcome: Outcome, peer_closed: bool) -> BadRequest:
        header = conn.current_request
        if header is None or outcome is Outcome.HEADER_ERROR:
            return bad
        response = dataclasses.replace(bad.response, request_id=header.id)
        conn._pending_error = response
        return dataclasses.replace(bad, response=response)

    _after_refuse(hook)
    handler_error = Connection.handler_error

    def echoing(self: Connection, message: str) -> ResponseHeader:
        response: ResponseHeader = handler_error(self, message)
        header = self.current_request
        return response if header is None else dataclasses.replace(response, request_id=header.id)

    replace(Connection, "handler_error", echoing)


@mutant(
    "error-text-empty",
    role=Role.SERVER,
    description="sends an empty Message for every body decode error, also where the original "
    "sends the decoder's text (ProtocolVersion, Close, FilesystemVersions, PullMe)",
    sections=("§json.decode-error-text", "§server.pv.decode-error"),
    family="server-rows",
    expect="NON-STRICT",
)
def _error_text_empty() -> None:
    replace(connection, "BODY_ERROR_CARRIES_MESSAGE", frozenset())


# --------------------------------------------------------------------------- handler


@mutant(
    "versions-newest-first",
    role=Role.SERVER,
    description="lists FilesystemVersions newest first instead of ascending by CreateTXG",
    sections=("§msg.diff-body", "§handler.fsv"),
    family="server-rows",
)
def _versions_newest_first() -> None:
    versions = ReferenceHandler.handle_filesystem_versions_request

    def reversed_versions(
        self: ReferenceHandler, r: FilesystemVersionsRequest
    ) -> list[FilesystemVersion] | None:
        got: list[FilesystemVersion] | None = versions(self, r)
        return None if got is None else got[::-1]

    replace(ReferenceHandler, "handle_filesystem_versions_request", reversed_versions)


@mutant(
    "acl-leak-filesystems",
    role=Role.SERVER,
    description="lists every filesystem in the Filesystem response, ignoring the pull ACL",
    sections=("§handler.fs", "§server.fs.ok"),
    family="acl",
)
def _acl_leak_filesystems() -> None:
    def list_all(self: ReferenceHandler, r: FilesystemRequest) -> list[DatasetPath] | None:
        self._acl()  # still refuses an identity without any ACL
        try:
            names = self.zfs.list_filesystems()
        except ZfsError as exc:
            raise zfs_failure(exc) from None
        return [DatasetPath.from_string(n) for n in names]

    replace(ReferenceHandler, "handle_filesystem_request", list_all)


@mutant(
    "acl-unchecked-access",
    role=Role.SERVER,
    description="applies the pull ACL only to the listing: FilesystemVersions and transfers of "
    "a dataset outside it are served",
    sections=("§handler.fsv", "§handler.transfer"),
    family="acl",
)
def _acl_unchecked_access() -> None:
    def allow_all(self: ReferenceHandler, path: DatasetPath) -> bool:
        self._acl()
        return True

    replace(ReferenceHandler, "_allowed", allow_all)


@mutant(
    "incr-sends-full",
    role=Role.SERVER,
    description="answers an IncrementalTransfer with a full send stream of To (forgot -i From)",
    sections=("§handler.transfer", "§server.incr.ok"),
    family="transfers",
)
def _incr_sends_full() -> None:
    def full(self: ReferenceHandler, r: IncrementalTransferRequest) -> ByteSource:
        self._require(r.filesystem)
        self._abs(r.filesystem, r.from_version)
        target = self._abs(r.filesystem, r.to_version)
        try:
            return self.zfs.send(target)
        except ZfsError as exc:
            raise zfs_failure(exc) from None

    replace(ReferenceHandler, "handle_incremental_transfer_request", full)


# --------------------------------------------------------------------------- pull-me


@mutant(
    "pullme-no-finished",
    role=Role.SERVER,
    description="after a successful pull-me pull, closes the connection instead of sending "
    "PullMe{Finished:true}",
    sections=("§pullme.finished", "§server.pullme.ok"),
    family="pullme",
)
def _pullme_no_finished() -> None:
    pull_me = ReferenceHandler.handle_pull_me_request

    def pull_then_quit(
        self: ReferenceHandler, r: PullMeRequest, client_identity: str, client: RPCRequester
    ) -> None:
        pull_me(self, r, client_identity, client)
        raise HandlerError("(mutant) done pulling; hanging up without Finished")

    replace(ReferenceHandler, "handle_pull_me_request", pull_then_quit)


@mutant(
    "pullme-finished-after-failure",
    role=Role.SERVER,
    description="sends PullMe{Finished:true} even when its pull failed (or it has no sink for "
    "the identity)",
    sections=("§pullme.handler-failure",),
    family="pullme",
)
def _pullme_finished_after_failure() -> None:
    pull_me = ReferenceHandler.handle_pull_me_request

    def pull_ignoring_failure(
        self: ReferenceHandler, r: PullMeRequest, client_identity: str, client: RPCRequester
    ) -> None:
        try:
            pull_me(self, r, client_identity, client)
        except HandlerError:
            return

    replace(ReferenceHandler, "handle_pull_me_request", pull_ignoring_failure)


# --------------------------------------------------------------------------- endings


class _HoldsOpen:
    """A transport whose ``close`` first waits for the peer to hang up (issue 12)."""

    def __init__(self, inner: Transport, limit: float | None) -> None:
        self.inner = inner
        self.limit = limit

    def read(self, max_bytes: int = READ_SIZE, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, timeout)

    def write(self, data: bytes, timeout: float | None = None) -> None:
        self.inner.write(data, timeout)

    def close(self) -> None:
        with contextlib.suppress(ConnectionClosed, PeerTimeout, OSError):
            while self.inner.read(READ_SIZE, self.limit):
                pass  # answers nothing more, only waits for the peer's end of input
        self.inner.close()


@mutant(
    "never-closes",
    role=Role.SERVER,
    description="answers exactly like the reference but, where it would close the connection "
    "(or end the loop), keeps it open until the client hangs up",
    sections=("§server.loop", "§server.close.ok", "§server.header.decode-error"),
    family="server-rows",
    expect="FAIL",
)
def _never_closes() -> None:
    serve = server.Server.serve

    def serve_until_hangup(
        self: server.Server, transport: Transport, *, close: bool = True
    ) -> serving.ServeOutcome:
        outcome: serving.ServeOutcome = serve(
            self, _HoldsOpen(transport, self.timeout), close=close
        )
        return outcome

    replace(server.Server, "serve", serve_until_hangup)


@mutant(
    "exit-status-ignores-error",
    role=Role.SERVER,
    description="answers and closes exactly like the reference, but its stdinserver exits 0 "
    "where the loop returned an error (an SSH peer cannot tell the failure from a success)",
    sections=("§server.loop", "§server.fsv.decode-error", "§server.fsv.handler-error"),
    family="server-rows",
    expect="NON-STRICT",
)
def _exit_status_ignores_error() -> None:
    serve = server.Server.serve

    def serve_and_forget_the_error(
        self: server.Server, transport: Transport, *, close: bool = True
    ) -> serving.ServeOutcome:
        outcome: serving.ServeOutcome = serve(self, transport, close=close)
        return dataclasses.replace(outcome, returned_error=False)

    replace(server.Server, "serve", serve_and_forget_the_error)
