"""Answers of the scripted server as data, and the plans that deviate from them.

The scripted server (:mod:`.scripted`) first works out what the reference server would
answer — an :class:`Honest`: a response header, a JSON body (Filesystems / FilesystemDiff)
or a send stream — and then lets the script's :data:`~.script.Plan` for that request turn
it into the bytes actually written and what happens next. Keeping this pure (bytes in,
bytes out, no I/O) makes every deviation a few lines that can be read and tested alone.

What happens next is a :class:`fakes.scripted.Then`: ``HONEST`` (the connection goes on as
the reference's state machine says after its own answer), ``CONTINUE`` (serve the next
request), ``CLOSE`` (hang up now).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from typing import Final, cast

from bytestreamrpc import framing, messages
from bytestreamrpc.connection import EXPECTED_RESPONSE
from bytestreamrpc.constants import (
    MAX_WRITE_PAYLOAD,
    ZERO_REQUEST_ID,
    ErrorId,
    RequestType,
    ResponseType,
)
from bytestreamrpc.deviations import Situation
from bytestreamrpc.messages import DatasetPath, FilesystemVersion, ResponseHeader
from fakes.scripted import Honest, Then, chunks, frame, render

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

__all__ = ["apply_plan", "situations_of"]

MAX_CHUNK: Final = MAX_WRITE_PAYLOAD
"""The original writer's largest chunk (32764 bytes): what the honest answer uses."""
_LENGTH: Final = struct.Struct("<I")
REFUSAL: Final = "fuzz: scripted refusal"
FOREIGN: Final = DatasetPath(("pool", "ghost"))
"""A dataset no fixture of ours has (``add-foreign`` listings)."""

Listing = tuple[DatasetPath, ...]
Versions = tuple[FilesystemVersion, ...]


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
    plan: StreamFault, answer: Honest, other_stream: Callable[[], bytes | None]
) -> tuple[bytes, Then]:
    assert answer.header is not None and answer.data is not None
    head = frame(messages.encode_message(answer.header), MAX_CHUNK)
    data = answer.data
    kind = plan.kind
    if kind.startswith("cut-"):
        size = max(1, min(MAX_CHUNK, len(data) // 3 or 1))
        whole_stream = chunks(data, size)
        if kind == "cut-complete":
            return head + whole_stream, Then.CLOSE
        whole = len(data) // size // 2  # complete chunks kept: about half the stream
        kept = chunks(data[: whole * size], size)
        if kind == "cut-boundary":
            return head + kept, Then.CLOSE
        rest = data[whole * size : whole * size + size]
        if not rest:  # nothing left to cut into: end at the boundary
            return head + kept, Then.CLOSE
        if kind == "cut-length":
            return head + kept + framing.chunk_header(len(rest))[: 1 + plan.n % 3], Then.CLOSE
        part = rest[: plan.n % len(rest)]  # fewer bytes than the chunk announces
        return head + kept + framing.chunk_header(len(rest)) + part, Then.CLOSE
    if kind == "flip":
        if not data:
            return head + framing.TERMINATOR, Then.HONEST
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
    return head + frame(data, MAX_CHUNK), Then.HONEST


def apply_plan(
    plan: Plan,
    answer: Honest,
    request: RequestType,
    other_stream: Callable[[], bytes | None] = lambda: None,
) -> tuple[bytes, Then]:
    """The bytes to write for ``request`` under ``plan``, and what happens next.

    A plan that does not fit the answer (a body edit for a request without a body, a stream
    fault for an error answer, a "wrong" type that is the right one) leaves it as the
    reference's, so every generated script is meaningful for any client.
    """
    honest: tuple[bytes, Then] = (render(answer), Then.HONEST)
    if answer.header is None:
        return honest
    header = answer.header
    ok = header.error_id == ErrorId.NONE
    if isinstance(plan, Refuse):
        error = ResponseHeader(ZERO_REQUEST_ID, plan.error_id, REFUSAL, int(ResponseType.NONE))
        return render(Honest(error)), (Then.CLOSE if plan.close else Then.CONTINUE)
    if isinstance(plan, WrongType):
        if plan.response_type == EXPECTED_RESPONSE[request]:
            return honest
        wrong = dataclasses.replace(
            header, error_id=0, message="", response_type=plan.response_type
        )
        return render(Honest(wrong)), Then.CONTINUE
    if isinstance(plan, OtherId):
        return render(
            dataclasses.replace(
                answer, header=dataclasses.replace(header, request_id=plan.request_id)
            )
        ), Then.HONEST
    if isinstance(plan, Rechunk):
        return render(answer, plan.size), Then.HONEST
    if isinstance(plan, Cut):
        return render(answer)[: plan.at], Then.CLOSE
    if isinstance(plan, Stray):
        return render(answer) + frame(plan.payload, MAX_CHUNK), Then.HONEST
    if isinstance(plan, Body | Mutate):
        if not ok or answer.body is None:
            return honest
        if isinstance(plan, Body):
            return render(dataclasses.replace(answer, body=plan.payload)), Then.HONEST
        value = _mutated(plan.op, answer.value or ())
        body = _encode_value(header, value)
        return render(dataclasses.replace(answer, body=body, value=value)), Then.HONEST
    if not ok or answer.data is None:
        return honest
    return _stream_fault(plan, answer, other_stream)


_CORRUPTING: Final = frozenset({"flip", "short", "long", "wrong"})
"""Stream faults that leave a complete stream the receive refuses part-way."""


def situations_of(plan: Plan, answer: Honest, request: RequestType, sent: bytes) -> set[Situation]:
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
    head = len(frame(messages.encode_message(answer.header), MAX_CHUNK))
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
