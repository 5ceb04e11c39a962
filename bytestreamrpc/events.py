"""Events exchanged between an application and a :class:`~bytestreamrpc.connection.Connection`.

Like h11's events: plain frozen values. The connection *returns* them from
``next_event`` (what the peer did) and *accepts* them in ``send`` (what we do),
turning them into bytes. No event carries a socket or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from .messages import (
    DatasetPath,
    FilesystemVersion,
    RequestBody,
    RequestHeader,
    ResponseHeader,
)

ResponseBody = tuple[DatasetPath, ...] | tuple[FilesystemVersion, ...] | None


@dataclass(frozen=True, slots=True)
class Request:
    """A complete request: header plus decoded body (§msg.bodies).

    When *sending*, ``header`` may be ``None``: the connection fills in the
    type inferred from the body and the all-zero id (§msg.request-id).
    """

    body: RequestBody
    header: RequestHeader | None = None


@dataclass(frozen=True, slots=True)
class BadRequest:
    """A request the server must refuse (§server.*.decode-error, §server.pv.mismatch, ...).

    ``response`` is the exact error header to send back; the connection has
    already decided (from its reaction table) what happens after it is sent.
    ``request_type`` is ``None`` when the header itself did not decode.
    """

    response: ResponseHeader
    request_type: int | None
    peer_closed: bool = False

    @property
    def error_id(self) -> int:
        return self.response.error_id

    @property
    def message(self) -> str:
        return self.response.message


@dataclass(frozen=True, slots=True)
class Response:
    """A response header (and, for Filesystems / FilesystemDiff, its body).

    ``expected`` is the response type the request called for (§client.expect);
    a header with another type carries no body.
    """

    header: ResponseHeader
    body: ResponseBody = None
    expected: int | None = None

    @property
    def matched(self) -> bool:
        return self.expected is None or self.header.response_type == self.expected


@dataclass(frozen=True, slots=True)
class StreamData:
    """A piece of a send stream (chunk boundaries are not reported)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The zero chunk ending a send stream."""


@dataclass(frozen=True, slots=True)
class CleanClose:
    """The peer closed the connection where that is allowed (client idle).

    Not h11's name (``ConnectionClosed``): ours is taken by the *exception*
    :class:`~bytestreamrpc.errors.ConnectionClosed`, a close where we needed more bytes.
    One is an event the peer may cause, the other a protocol error; the names say which.
    """


@dataclass(frozen=True, slots=True)
class UndecodableResponse:
    """The answer to our PullMe{Finished:true} did not decode.

    The original ignores that answer entirely (§pullme.resume), so this is
    reported for diagnostics only and the connection goes back to serving.
    """

    message: str


Event = Request | BadRequest | Response | StreamData | StreamEnd | CleanClose | UndecodableResponse
