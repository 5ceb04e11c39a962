"""Exception hierarchy of the reference implementation.

Modelled on h11: :class:`LocalProtocolError` means *we* misused the API (a bug
in the caller), :class:`RemoteProtocolError` means the *peer* broke the
protocol, :class:`PeerTimeout` means the peer stalled (no violation, see there).
Everything the sans-I/O core raises on bad input derives from
:class:`ProtocolError`, so "parse, or raise ProtocolError, never anything
else" is a checkable invariant.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every error the protocol core raises on purpose."""


class LocalProtocolError(ProtocolError):
    """The caller used the API in a way the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""


class FramingError(RemoteProtocolError):
    """The chunked framing itself is broken (§frame)."""


class TruncatedStream(FramingError):
    """The byte stream ended inside a chunk header or a chunk payload.

    Distinct from a clean end (the zero chunk) and from a connection closed
    between two chunked streams.
    """

    def __init__(self, where: str, missing: int) -> None:
        self.where = where
        self.missing = missing
        super().__init__(f"unexpected EOF inside chunk {where} ({missing} byte(s) missing)")


class DecodeError(RemoteProtocolError):
    """A chunked JSON message could not be decoded.

    ``str(err)`` is exactly the text the original Go server puts in
    ``ResponseHeader.Message`` (e.g. ``cannot decode *rpc.RequestHeader: EOF``).
    """

    def __init__(self, go_message: str) -> None:
        self.go_message = go_message
        super().__init__(go_message)


class ConnectionClosed(RemoteProtocolError):
    """The peer closed the connection where we needed more bytes."""


class PeerTimeout(ProtocolError):
    """The peer did not send anything within the configured timeout.

    A :class:`ProtocolError` beside, not under, :class:`RemoteProtocolError`: a peer that
    says nothing has not sent anything the protocol forbids (the original has no timeouts
    at all, §deviations.timeouts), it is merely slower than *our* patience. Code that
    treats "the peer broke the protocol" and "the peer went quiet" alike names both
    (``except (RemoteProtocolError, PeerTimeout)``); ``except ProtocolError`` still
    catches it, so "parse, or raise ProtocolError" holds for the blocking layer too.
    """


class HandlerError(Exception):
    """Raised by an RPC handler to make the server answer error 5 (§server.handler-error).

    The message becomes ``ResponseHeader.Message`` verbatim.
    """


class RequestFailed(Exception):
    """A client call got a response other than the one it needs (§client.expect).

    Carries the response header so callers (conformance cases) can inspect it.
    """

    def __init__(self, message: str, header: object | None = None) -> None:
        self.header = header
        super().__init__(message)
