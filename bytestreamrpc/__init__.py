"""bytestreamrpc: the reference implementation of zrepl's ByteStreamRPC v1.

Layers, bottom up: :mod:`~bytestreamrpc.framing` (chunked streams),
:mod:`~bytestreamrpc.gojson` and :mod:`~bytestreamrpc.messages` (Go-exact
JSON), :mod:`~bytestreamrpc.connection` (the sans-I/O state machine for both
roles), then the thin blocking I/O: :mod:`~bytestreamrpc.transport`,
:mod:`~bytestreamrpc.server`, :mod:`~bytestreamrpc.client`,
:mod:`~bytestreamrpc.local`. This package imports nothing else of the toolkit.
"""

from .client import Client, StreamReader
from .connection import Connection, Role, State
from .constants import PROTOCOL_VERSION, ErrorId, RequestType, ResponseType
from .errors import (
    DecodeError,
    HandlerError,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    RequestFailed,
    TruncatedStream,
)
from .interfaces import ByteSource, RPCHandler, RPCRequester
from .local import LocalRequester
from .server import Server

__all__ = [
    "PROTOCOL_VERSION",
    "ByteSource",
    "Client",
    "Connection",
    "DecodeError",
    "ErrorId",
    "HandlerError",
    "LocalProtocolError",
    "LocalRequester",
    "ProtocolError",
    "RPCHandler",
    "RPCRequester",
    "RemoteProtocolError",
    "RequestFailed",
    "RequestType",
    "ResponseType",
    "Role",
    "Server",
    "State",
    "StreamReader",
    "TruncatedStream",
]
