"""Client-role defects (§client, §job, §pullme seen from the pusher).

These are injected into the ``pull`` / ``push`` job process: the reference client
(:class:`bytestreamrpc.client.Client`), its connection's stream reader, the jobs of
:mod:`fakes.jobs` and the fake ZFS calls the jobs make.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Any

from bytestreamrpc import gojson, messages, serving
from bytestreamrpc.client import Client
from bytestreamrpc.connection import Connection, Role, State
from bytestreamrpc.constants import ResponseType
from bytestreamrpc.errors import ProtocolError, RequestFailed, TruncatedStream
from bytestreamrpc.events import Request, Response, StreamEnd
from bytestreamrpc.interfaces import RPCHandler
from bytestreamrpc.messages import (
    DATASET_PATH_TYPE,
    CloseRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    PullMeRequest,
    RequestBody,
)
from bytestreamrpc.serving import read_event
from bytestreamrpc.transport import Transport
from fakes import jobs
from fakes.diff import FilesystemDiff, make_filesystem_diff
from fakes.zfs import FakeZfs

from .registry import mutant, replace


@mutant(
    "client-no-version-first",
    role=Role.CLIENT,
    description="starts with the Filesystem request, never sending the ProtocolVersion request",
    sections=("§client.connect",),
    family="client",
)
def _no_version_first() -> None:
    def connect(transport: Transport, *, timeout: float | None = serving.DEFAULT_TIMEOUT) -> Client:
        return Client(Connection(Role.CLIENT), transport, timeout=timeout)

    replace(Client, "connect", staticmethod(connect))


@mutant(
    "client-ignores-error-header",
    role=Role.CLIENT,
    description="ignores ErrorId/ResponseType of a response and reads the body it expected "
    "anyway (a body after an error header)",
    sections=("§client.expect",),
    family="client",
)
def _ignores_error_header() -> None:
    call = Client._call

    def careless_call(self: Client, body: RequestBody) -> Response:
        try:
            response: Response = call(self, body)
            return response
        except RequestFailed as exc:
            header = exc.header
            if not isinstance(header, messages.ResponseHeader):
                raise
        conn = self.conn
        expected = conn._expected
        if expected in (ResponseType.FILESYSTEMS, ResponseType.FILESYSTEM_DIFF):
            conn._response_header = header
            conn.state = State.AWAIT_RESPONSE_BODY
            ev = read_event(conn, self.transport, self.timeout)
            assert isinstance(ev, Response)
            return ev
        if expected is ResponseType.CHUNKED_STREAM:
            conn.state = State.RECEIVING_STREAM
        return Response(header=header, expected=None)

    replace(Client, "_call", careless_call)


@mutant(
    "client-no-drain",
    role=Role.CLIENT,
    description="does not drain a send stream whose receive failed: the next request's "
    "response is read from the middle of the stream",
    sections=("§client.transfer-drain", "§frame.drain"),
    family="client",
    expect="STRICT",
)
def _no_drain() -> None:
    replace(jobs, "_drain", lambda stream: None)
    call = Client._call

    def call_without_draining(self: Client, body: RequestBody) -> Response:
        if self._open_stream is not None and not self._open_stream.finished:
            self._open_stream = None
            self.conn.state = State.IDLE
        response: Response = call(self, body)
        return response

    replace(Client, "_call", call_without_draining)


@mutant(
    "client-truncation-as-eof",
    role=Role.CLIENT,
    description="takes end of input after a complete chunk of a send stream for the end of the "
    "stream (the original's quirk) and accepts the transfer",
    sections=("§frame.truncation", "§client.transfer-drain", "§deviations.truncated-payload"),
    family="client",
    expect="STRICT",
)
def _truncation_as_eof() -> None:
    read_stream = Connection._read_stream

    def lenient(self: Connection) -> object:
        try:
            return read_stream(self)
        except TruncatedStream as exc:
            if exc.where == "header" and exc.missing == 4:
                self.state = State.IDLE
                return StreamEnd()
            raise

    replace(Connection, "_read_stream", lenient)


@mutant(
    "client-force-receive",
    role=Role.CLIENT,
    description="receives with zfs recv -F: an existing local dataset with no common snapshot "
    "is overwritten instead of the receive failing",
    sections=("§zfs.recv-rules", "§job.pull.initial"),
    family="client",
)
def _force_receive() -> None:
    receive: Any = FakeZfs.receive

    def forced(
        self: FakeZfs, target: str, source: object, *, force: bool = False, **options: Any
    ) -> object:
        return receive(self, target, source, force=True, **options)

    replace(FakeZfs, "receive", forced)


@mutant(
    "client-incremental-skip",
    role=Role.CLIENT,
    description="sends one incremental from the common snapshot straight to the newest "
    "(-i instead of the step-by-step path), so intermediate snapshots never arrive",
    sections=("§job.pull.incremental", "§diff.algorithm"),
    family="client",
)
def _incremental_skip() -> None:
    make_diff = make_filesystem_diff

    def shortcut(
        left: Sequence[FilesystemVersion], right: Sequence[FilesystemVersion]
    ) -> FilesystemDiff:
        diff: FilesystemDiff = make_diff(left, right)
        path = diff.incremental_path
        if path is not None and len(path) > 2:
            diff = dataclasses.replace(diff, incremental_path=(path[0], path[-1]))
        return diff

    replace(jobs, "make_filesystem_diff", shortcut)


@mutant(
    "client-guid-float",
    role=Role.CLIENT,
    description="decodes FilesystemDiff GUIDs through a float64, so no remote version matches a "
    "local one and incremental replication never happens",
    sections=("§json.decode", "§zfs.guid", "§diff.algorithm"),
    family="client",
)
def _client_guid_float() -> None:
    decode_versions = messages.decode_versions

    def lossy(data: bytes, *, truncated: bool = False) -> tuple[FilesystemVersion, ...] | None:
        got: tuple[FilesystemVersion, ...] | None = decode_versions(data, truncated=truncated)
        if got is None:
            return None
        limit = (1 << 64) - 1
        return tuple(dataclasses.replace(v, guid=min(int(float(v.guid)), limit)) for v in got)

    replace(messages, "decode_versions", lossy)


@mutant(
    "client-path-as-string",
    role=Role.CLIENT,
    description='sends the Filesystem field of its requests as a string "pool/data" instead '
    "of a component array",
    sections=("§msg.dataset-path", "§msg.bodies"),
    family="client",
)
def _client_path_as_string() -> None:
    encode_message = messages.encode_message

    def with_string_path(msg: object) -> bytes:
        data: bytes = encode_message(msg)
        if not isinstance(
            msg, FilesystemVersionsRequest | InitialTransferRequest | IncrementalTransferRequest
        ):
            return data
        path = msg.filesystem
        array = gojson.encode(path, DATASET_PATH_TYPE).rstrip(b"\n")
        text = gojson.encode(path.to_string(), gojson.GoString()).rstrip(b"\n")
        return data.replace(b'"Filesystem":' + array, b'"Filesystem":' + text, 1)

    replace(messages, "encode_message", with_string_path)


@mutant(
    "client-no-ok-to-finished",
    role=Role.CLIENT,
    description="(pusher) leaves its serving loop on PullMe{Finished:true} without answering OK",
    sections=("§server.pullme.finished", "§pullme.finished"),
    family="client",
)
def _no_ok_to_finished() -> None:
    dispatch = serving._dispatch

    def quiet_finish(
        conn: Connection,
        transport: Transport,
        handler: RPCHandler,
        req: Request,
        requester_factory: serving.RequesterFactory,
        timeout: float | None,
    ) -> None:
        body = req.body
        if isinstance(body, PullMeRequest) and body.finished and conn.inverted:
            conn.send(Response(conn.response_header(ResponseType.OK)))  # state change only
            return
        dispatch(conn, transport, handler, req, requester_factory, timeout)

    replace(serving, "_dispatch", quiet_finish)


@mutant(
    "client-push-ignores-failure",
    role=Role.CLIENT,
    description="(pusher) reports success when the puller refuses or hangs up without "
    "Finished (the original's quirk)",
    sections=("§pullme.client-success-quirk", "§deviations.pullme-result"),
    family="client",
    expect="STRICT",
)
def _push_ignores_failure() -> None:
    pull_me_request = Client.pull_me_request

    def optimistic(self: Client, r: PullMeRequest, handler: RPCHandler) -> None:
        try:
            pull_me_request(self, r, handler)
        except RequestFailed:
            return

    replace(Client, "pull_me_request", optimistic)


@mutant(
    "client-no-close",
    role=Role.CLIENT,
    description="ends the job by closing the connection without a Close request",
    sections=("§client.close", "§job.pull"),
    family="client",
    expect="NON-STRICT",
)
def _no_close() -> None:
    def hang_up(self: Client, r: object = None) -> None:
        self.transport.close()

    replace(Client, "close_request", hang_up)


@mutant(
    "client-waits-for-close",
    role=Role.CLIENT,
    description="after Close's OK keeps its side open until the server closes the connection "
    "(a client that waits for the close hangs when the server holds it)",
    sections=("§client.close",),
    family="client",
)
def _waits_for_close() -> None:
    def close_when_the_server_does(self: Client, r: CloseRequest | None = None) -> None:
        try:
            self._call(r or CloseRequest())
            with contextlib.suppress(ProtocolError, OSError):
                while self.transport.read(1 << 16, None):
                    pass  # whatever the server still sends, until it hangs up
        finally:
            self.transport.close()

    replace(Client, "close_request", close_when_the_server_does)


@mutant(
    "client-skip-readonly",
    role=Role.CLIENT,
    description="does not set readonly=on on a dataset after its initial receive",
    sections=("§job.pull.initial",),
    family="client",
    expect="NON-STRICT",
)
def _skip_readonly() -> None:
    set_property = FakeZfs.set_property

    def set_but_readonly(self: FakeZfs, name: str, prop: str, value: str) -> None:
        if prop != "readonly":
            set_property(self, name, prop, value)

    replace(FakeZfs, "set_property", set_but_readonly)
