"""The reference client: every requester call of the seed over a blocking transport.

:meth:`Client.connect` performs the protocol-version handshake
(§client.connect). Each call sends header + body and requires the response
type the request calls for; anything else, an error header included, raises
:class:`~bytestreamrpc.errors.RequestFailed` naming both types
(§client.expect). Transfer calls return a :class:`StreamReader` that must be
read to its end (or :meth:`~StreamReader.drain`-ed) before the next call
(§client.transfer-drain). :meth:`Client.pull_me_request` serves a handler on
the same connection until the server sends ``PullMe{Finished:true}``.
"""

from __future__ import annotations

from .connection import Connection, Role, State
from .constants import ResponseType
from .errors import LocalProtocolError, RemoteProtocolError, RequestFailed
from .events import Request, Response, StreamData, StreamEnd
from .interfaces import RPCHandler
from .messages import (
    CloseRequest,
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
    PullMeRequest,
    RequestBody,
    ResponseHeader,
)
from .serving import DEFAULT_TIMEOUT, read_event, serve_loop
from .transport import Transport


def describe_header(h: ResponseHeader) -> str:
    """A one-line rendering of a response header for error messages."""
    return (
        f"ResponseHeader{{RequestId:{h.request_id.hex()}, ErrorId:{h.error_id}, "
        f"Message:{h.message!r}, ResponseType:{h.response_type:#x}}}"
    )


class StreamReader:
    """A send stream arriving on the connection; file-like ``read``.

    Memory is bounded by one transport read: data is handed out as it comes.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._pending = b""
        self._done = False
        self.bytes_read = 0

    @property
    def finished(self) -> bool:
        return self._done and not self._pending

    def _next_piece(self) -> bytes:
        ev = read_event(self._client.conn, self._client.transport, self._client.timeout)
        if isinstance(ev, StreamData):
            return ev.data
        if isinstance(ev, StreamEnd):
            self._done = True
            return b""
        raise RemoteProtocolError(f"unexpected {type(ev).__name__} inside a send stream")

    def read(self, n: int = -1, /) -> bytes:
        if n is None or n < 0:
            parts = [self._pending]
            self._pending = b""
            while not self._done:
                parts.append(self._next_piece())
            data = b"".join(parts)
            self.bytes_read += len(data)
            return data
        while not self._pending and not self._done:
            self._pending = self._next_piece()
        data, self._pending = self._pending[:n], self._pending[n:]
        self.bytes_read += len(data)
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def drain(self) -> int:
        """Read and discard the rest of the stream (§frame.drain)."""
        discarded = len(self._pending)
        self._pending = b""
        while not self._done:
            discarded += len(self._next_piece())
        self.bytes_read += discarded
        return discarded


class Client:
    """A requester over a transport (seed: ``ByteStreamRPC`` as client)."""

    def __init__(
        self,
        conn: Connection,
        transport: Transport,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        self.conn = conn
        self.transport = transport
        self.timeout = timeout
        self._open_stream: StreamReader | None = None

    @classmethod
    def connect(cls, transport: Transport, *, timeout: float | None = DEFAULT_TIMEOUT) -> Client:
        """Open a connection: send the protocol-version request, require OK."""
        client = cls(Connection(Role.CLIENT), transport, timeout=timeout)
        client.protocol_version_request()
        return client

    # ----------------------------------------------------------------- core
    def _call(self, body: RequestBody) -> Response:
        if self._open_stream is not None and not self._open_stream.finished:
            raise LocalProtocolError("drain the previous transfer before the next call")
        self._open_stream = None
        if self.conn.state is not State.IDLE:
            raise LocalProtocolError(f"connection is {self.conn.state.value}, not idle")
        self.transport.write(self.conn.send(Request(body)), self.timeout)
        ev = read_event(self.conn, self.transport, self.timeout)
        if not isinstance(ev, Response):
            raise RemoteProtocolError(f"expected a response header, got {type(ev).__name__}")
        if not ev.matched:
            expected = ResponseType(ev.expected or 0)
            raise RequestFailed(
                f"unexpected response type in response header: got {ev.header.response_type:#x},"
                f" expected {int(expected):#x} ({expected.name}). "
                f"response header: {describe_header(ev.header)}",
                ev.header,
            )
        return ev

    def protocol_version_request(self) -> None:
        self._call(ProtocolVersionRequest())

    def filesystem_request(self, r: FilesystemRequest) -> list[DatasetPath]:
        body = self._call(r).body
        return list(body or ())  # type: ignore[arg-type]

    def filesystem_versions_request(self, r: FilesystemVersionsRequest) -> list[FilesystemVersion]:
        body = self._call(r).body
        return list(body or ())  # type: ignore[arg-type]

    def initial_transfer_request(self, r: InitialTransferRequest) -> StreamReader:
        self._call(r)
        self._open_stream = StreamReader(self)
        return self._open_stream

    def incremental_transfer_request(self, r: IncrementalTransferRequest) -> StreamReader:
        self._call(r)
        self._open_stream = StreamReader(self)
        return self._open_stream

    def pull_me_request(self, r: PullMeRequest, handler: RPCHandler) -> None:
        """Ask the server to pull from us and serve it until it says Finished.

        Unlike the original (§pullme.client-success-quirk) a pull-me that ends
        with the server closing the connection is reported as a failure.
        """
        self._call(r)
        outcome = serve_loop(
            self.conn,
            self.transport,
            handler,
            lambda conn, transport: Client(conn, transport, timeout=self.timeout),
            timeout=self.timeout,
        )
        if self.conn.state is not State.IDLE:
            reason = outcome.reason or f"connection {outcome.state.value}"
            raise RequestFailed(f"pull-me did not finish: {reason}")

    def close_request(self, r: CloseRequest | None = None) -> None:
        """Send Close, require OK, then close the transport (§client.close)."""
        try:
            self._call(r or CloseRequest())
        finally:
            self.transport.close()

    def force_close(self) -> None:
        """Close without a Close request (§client.force-close)."""
        self.transport.close()
