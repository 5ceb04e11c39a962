"""Answers of the scripted server as data, and the plans that deviate from them.

The scripted server (:mod:`.scripted`) first works out what the reference server would
answer — an :class:`Answer`: a response header, a JSON body (Filesystems / FilesystemDiff)
or a send stream — and then lets the script's :data:`~.script.Plan` for that request turn
it into the bytes actually written and what happens next. Keeping this pure (bytes in,
bytes out, no I/O) makes every deviation a few lines that can be read and tested alone.

``After``: ``honest`` (the connection goes on as the reference's state machine says after
its own answer), ``continue`` (serve the next request), ``close`` (hang up now).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, cast

from bytestreamrpc import framing, messages
from bytestreamrpc.constants import (
    MAX_WRITE_PAYLOAD,
    ZERO_REQUEST_ID,
    ErrorId,
    RequestType,
    ResponseType,
)
from bytestreamrpc.deviations import Situation
from bytestreamrpc.messages import DatasetPath, FilesystemVersion, ResponseHeader

from .script import (
    Body,
    Cut,
    Mutate,
    OtherId,
    Plan,
    Rechunk,
    Refuse,
    Stray,
    StreamFault,
    WrongType,
)

__all__ = ["EXPECTED", "After", "Answer", "apply_plan", "render", "situations_of"]

After = Literal["honest", "continue", "close"]
MAX_CHUNK: Final = MAX_WRITE_PAYLOAD
"""The original writer's largest chunk (32764 bytes): what the honest answer uses."""
_LENGTH: Final = struct.Struct("<I")
REFUSAL: Final = "fuzz: scripted refusal"
FOREIGN: Final = DatasetPath(("pool", "ghost"))
"""A dataset no fixture of ours has (``add-foreign`` listings)."""
EXPECTED: Final[dict[RequestType, ResponseType]] = {
    RequestType.PROTOCOL_VERSION: ResponseType.OK,
    RequestType.FILESYSTEM: ResponseType.FILESYSTEMS,
    RequestType.FILESYSTEM_VERSIONS: ResponseType.FILESYSTEM_DIFF,
    RequestType.INITIAL_TRANSFER: ResponseType.CHUNKED_STREAM,
    RequestType.INCREMENTAL_TRANSFER: ResponseType.CHUNKED_STREAM,
    RequestType.PULL_ME: ResponseType.OK,
    RequestType.CLOSE: ResponseType.OK,
}

Listing = tuple[DatasetPath, ...]
Versions = tuple[FilesystemVersion, ...]


@dataclass(frozen=True)
class Answer:
    """What the reference server answers one request with.

    ``raw`` (refusals of undecodable requests) is written as is; otherwise the header, then
    the JSON ``body`` (with its decoded ``value``) or the send stream ``data``.
    """

    header: ResponseHeader | None = None
    body: bytes | None = None
    value: tuple[object, ...] | None = None
    """The decoded body (paths or versions), for edits of it."""
    data: bytes | None = None
    raw: bytes = b""


def _chunks(payload: bytes, size: int) -> bytes:
    """``payload`` in data chunks of ``size`` bytes (any size: readers take up to 2^32-1)."""
    return b"".join(
        framing.chunk_header(len(payload[i : i + size])) + payload[i : i + size]
        for i in range(0, len(payload), size)
    )


def _frame(payload: bytes, size: int) -> bytes:
    return _chunks(payload, size) + framing.TERMINATOR


def render(answer: Answer, size: int = MAX_CHUNK) -> bytes:
    """The answer's bytes, every stream in chunks of at most ``size`` bytes."""
    if answer.header is None:
        return answer.raw
    out = _frame(messages.encode_message(answer.header), size)
    if answer.body is not None:
        out += _frame(answer.body, size)
    if answer.data is not None:
        out += _frame(answer.data, size)
    return out


def _mutated(op: str, value: tuple[object, ...]) -> tuple[object, ...] | None:
    """``value`` edited by a :data:`~.script.MUTATIONS` op (``None`` is Go's ``null``)."""
    if op == "null":
        return None
    if op == "empty":
        return ()
    if op == "drop-first":
        return value[1:]
    if op == "drop-last":
        return value[:-1]
    if op == "reverse":
        return value[::-1]
    if op == "duplicate":
        return value + value[-1:]
    if op == "guid-plus-one":
        return tuple(
            dataclasses.replace(v, guid=(v.guid + 1) % 2**64)
            if isinstance(v, FilesystemVersion)
            else v
            for v in value
        )
    if op == "add-foreign":
        last = value[-1] if value else None
        if isinstance(last, FilesystemVersion):
            return (
                *value,
                FilesystemVersion("snapshot", "fuzz_foreign", 12345, last.create_txg + 1),
            )
        return (*value, FOREIGN)
    raise ValueError(f"unknown mutation {op!r}")


def _encode_value(header: ResponseHeader, value: tuple[object, ...] | None) -> bytes:
    if header.response_type == ResponseType.FILESYSTEMS:
        return messages.encode_filesystems(cast("Listing | None", value))
    return messages.encode_versions(cast("Versions | None", value))


def _stream_fault(
    plan: StreamFault, answer: Answer, other_stream: Callable[[], bytes | None]
) -> tuple[bytes, After]:
    assert answer.header is not None and answer.data is not None
    head = _frame(messages.encode_message(answer.header), MAX_CHUNK)
    data = answer.data
    kind = plan.kind
    if kind.startswith("cut-"):
        size = max(1, min(MAX_CHUNK, len(data) // 3 or 1))
        chunks = _chunks(data, size)
        if kind == "cut-complete":
            return head + chunks, "close"
        whole = len(data) // size // 2  # complete chunks kept: about half the stream
        kept = _chunks(data[: whole * size], size)
        if kind == "cut-boundary":
            return head + kept, "close"
        rest = data[whole * size : whole * size + size]
        if not rest:  # nothing left to cut into: end at the boundary
            return head + kept, "close"
        if kind == "cut-length":
            return head + kept + framing.chunk_header(len(rest))[: 1 + plan.n % 3], "close"
        part = rest[: plan.n % len(rest)]  # fewer bytes than the chunk announces
        return head + kept + framing.chunk_header(len(rest)) + part, "close"
    if kind == "flip":
        if not data:
            return head + framing.TERMINATOR, "honest"
        i = plan.n % len(data)
        data = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1 :]
    elif kind == "short":
        data = data[: plan.n % max(1, len(data))]
    elif kind == "long":
        data = data + bytes([0xA5]) * (1 + plan.n % 64)
    elif kind == "empty":
        data = b""
    elif kind == "wrong":
        data = other_stream() or b""
    else:
        raise ValueError(f"unknown stream fault {kind!r}")
    return head + _frame(data, MAX_CHUNK), "honest"


def apply_plan(
    plan: Plan,
    answer: Answer,
    request: RequestType,
    other_stream: Callable[[], bytes | None] = lambda: None,
) -> tuple[bytes, After]:
    """The bytes to write for ``request`` under ``plan``, and what happens next.

    A plan that does not fit the answer (a body edit for a request without a body, a stream
    fault for an error answer, a "wrong" type that is the right one) leaves it as the
    reference's, so every generated script is meaningful for any client.
    """
    honest: tuple[bytes, After] = (render(answer), "honest")
    if answer.header is None:
        return honest
    header = answer.header
    ok = header.error_id == ErrorId.NONE
    if isinstance(plan, Refuse):
        error = ResponseHeader(ZERO_REQUEST_ID, plan.error_id, REFUSAL, int(ResponseType.NONE))
        return render(Answer(error)), ("close" if plan.close else "continue")
    if isinstance(plan, WrongType):
        if plan.response_type == EXPECTED[request]:
            return honest
        wrong = dataclasses.replace(
            header, error_id=0, message="", response_type=plan.response_type
        )
        return render(Answer(wrong)), "continue"
    if isinstance(plan, OtherId):
        return render(
            dataclasses.replace(
                answer, header=dataclasses.replace(header, request_id=plan.request_id)
            )
        ), "honest"
    if isinstance(plan, Rechunk):
        return render(answer, plan.size), "honest"
    if isinstance(plan, Cut):
        return render(answer)[: plan.at], "close"
    if isinstance(plan, Stray):
        return render(answer) + _frame(plan.payload, MAX_CHUNK), "honest"
    if isinstance(plan, Body | Mutate):
        if not ok or answer.body is None:
            return honest
        if isinstance(plan, Body):
            return render(dataclasses.replace(answer, body=plan.payload)), "honest"
        value = _mutated(plan.op, answer.value or ())
        body = _encode_value(header, value)
        return render(dataclasses.replace(answer, body=body, value=value)), "honest"
    if not ok or answer.data is None:
        return honest
    return _stream_fault(plan, answer, other_stream)


_CORRUPTING: Final = frozenset({"flip", "short", "long", "wrong"})
"""Stream faults that leave a complete stream the receive refuses part-way."""


def situations_of(plan: Plan, answer: Answer, request: RequestType, sent: bytes) -> set[Situation]:
    """What answering ``request`` with ``sent`` (``plan`` applied to ``answer``) set up, in
    the terms of the §deviations table (:class:`~bytestreamrpc.deviations.Situation`)."""
    if answer.header is None:
        return set()
    if request is RequestType.PULL_ME and (isinstance(plan, Refuse) or not _answers_ok(sent)):
        return {Situation.PULLME_REFUSED}
    if answer.data is None or sent == render(answer):
        return set()
    if isinstance(plan, StreamFault) and plan.kind in _CORRUPTING:
        return {Situation.STREAM_REFUSED_BY_RECV}
    head = len(_frame(messages.encode_message(answer.header), MAX_CHUNK))
    if _ends_at_chunk_boundary(sent, head):
        return {Situation.STREAM_WITHOUT_TERMINATOR}
    return set()


def _answers_ok(sent: bytes) -> bool:
    """``sent`` starts with a whole response header that says OK(0x01) (anything else, to
    the original's pusher, was an answer it ignored: §pullme.client-success-quirk)."""
    payload, pos = bytearray(), 0
    while pos + 4 <= len(sent):
        (length,) = _LENGTH.unpack_from(sent, pos)
        pos += 4
        if length == 0:
            try:
                h = messages.decode_message(ResponseHeader, bytes(payload))
            except Exception:  # not a response header a peer would act on
                return False
            return (h.error_id, h.response_type) == (0, ResponseType.OK)
        payload += sent[pos : pos + length]
        pos += length
    return False


def _ends_at_chunk_boundary(sent: bytes, start: int) -> bool:
    """From ``start`` on, ``sent`` is whole data chunks and no zero chunk (end of file at a
    chunk boundary of the send stream)."""
    pos = start
    while pos + 4 <= len(sent):
        (length,) = _LENGTH.unpack_from(sent, pos)
        if length == 0:
            return False
        pos += 4 + length
    return pos == len(sent) and len(sent) >= start
