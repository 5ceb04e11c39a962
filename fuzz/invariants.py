"""The checks every fuzz target applies to our own code, whatever bytes it is fed.

h11's fuzzing invariant, applied layer by layer: *parse, or raise our documented protocol
error, never anything else* — and never hang, never change state that a refused request must
leave alone. Each ``check_*`` function takes raw input, runs one layer of the reference on
it, and raises :class:`InvariantViolation` (an ``AssertionError``, so Hypothesis and
atheris report it as a failure) when the layer misbehaves. Exceptions the layer is
documented to raise (``ProtocolError`` and its subclasses) are the *expected* outcome of bad
input and are swallowed.

The functions are plain code, not tests: the targets in :mod:`fuzz.targets`, the property
suite (tests/fuzz/test_properties.py) and the million-input run (bench/bench_fuzz.py) all
call them.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, cast

from bytestreamrpc import framing, messages
from bytestreamrpc.connection import Connection, Role, State
from bytestreamrpc.errors import ConnectionClosed, DecodeError, ProtocolError
from bytestreamrpc.events import Request
from bytestreamrpc.server import Server
from bytestreamrpc.serving import ServeOutcome

__all__ = [
    "MESSAGE_CLASSES",
    "InvariantViolation",
    "ScriptedTransport",
    "ServerFixture",
    "check_client_parse",
    "check_codec",
    "check_framing",
    "check_server",
    "server_fixture",
]

MESSAGE_CLASSES: Final = (
    messages.RequestHeader,
    messages.ResponseHeader,
    messages.ProtocolVersionRequest,
    messages.FilesystemRequest,
    messages.FilesystemVersionsRequest,
    messages.InitialTransferRequest,
    messages.IncrementalTransferRequest,
    messages.PullMeRequest,
    messages.CloseRequest,
)
SERVE_TIME_LIMIT: Final = 5.0
"""Seconds one fed input may take to serve before it counts as a hang."""


class InvariantViolation(AssertionError):
    """A layer of the reference broke its contract on some input (a real bug)."""


# --------------------------------------------------------------------------- framing


def _frame_events(pieces: Iterable[bytes]) -> tuple[list[object], BaseException | None]:
    dec = framing.ChunkDecoder()
    out: list[object] = []
    payload = bytearray()
    try:
        for piece in (*pieces, b""):
            dec.receive_data(piece)
            while True:
                ev = dec.next_event()
                if ev is framing.NEED_DATA:
                    break
                if isinstance(ev, framing.Payload):
                    payload += ev.data
                    continue
                if isinstance(ev, framing.EndOfStream):
                    out.append(bytes(payload))
                    payload.clear()
                    continue
                out.append("closed")
                return out, None
    except ProtocolError as exc:
        out.append(("truncated", bytes(payload)))
        return out, exc
    except Exception as exc:  # anything else is the bug we are looking for
        raise InvariantViolation(f"ChunkDecoder raised {exc!r}") from exc
    raise InvariantViolation("ChunkDecoder gave neither an end nor an error after EOF")


def check_framing(data: bytes, deliveries: Sequence[bytes] | None = None) -> None:
    """The chunk decoder parses ``data`` or raises ``TruncatedStream``, and the streams it
    reports do not depend on how the bytes were delivered (§frame.boundaries)."""
    whole, err = _frame_events((data,))
    if deliveries is not None:
        if b"".join(deliveries) != data:
            raise ValueError("deliveries must concatenate to data")
        split, err2 = _frame_events(deliveries)
        if split != whole or type(err) is not type(err2):
            raise InvariantViolation(
                f"delivery changed the result: {whole!r}/{err!r} vs {split!r}/{err2!r}"
            )
    for ev in whole:
        if isinstance(ev, bytes):  # re-encoding a decoded stream gives it back
            payload, rest = framing.decode_stream(framing.encode_stream(ev))
            if payload != ev or rest:
                raise InvariantViolation("encode_stream/decode_stream do not round-trip")


# --------------------------------------------------------------------------- codec


@functools.cache
def _decoders() -> tuple[tuple[str, object], ...]:
    out: list[tuple[str, object]] = [(c.__name__, c) for c in MESSAGE_CLASSES]
    out += [("filesystems", "filesystems"), ("versions", "versions")]
    return tuple(out)


def _decode_any(kind: object, data: bytes, truncated: bool) -> object:
    if kind == "filesystems":
        return messages.decode_filesystems(data, truncated=truncated)
    if kind == "versions":
        return messages.decode_versions(data, truncated=truncated)
    return messages.decode_message(cast("type[object]", kind), data, truncated=truncated)


def _encode_any(kind: object, value: object) -> bytes:
    if kind == "filesystems":
        return messages.encode_filesystems(value)  # type: ignore[arg-type]
    if kind == "versions":
        return messages.encode_versions(value)  # type: ignore[arg-type]
    return messages.encode_message(value)


DECODER_NAMES: Final = tuple(name for name, _ in _decoders())


def check_codec(data: bytes, *, truncated: bool = False, only: Sequence[str] | None = None) -> None:
    """Each message decoder (or those named in ``only``, see :data:`DECODER_NAMES`) accepts
    ``data`` or raises ``DecodeError`` whose text starts with ``cannot decode`` (or is the
    bare ``unexpected EOF`` of a failed drain); whatever decodes re-encodes, and the
    encoding decodes to the same value (§json.decode-error-text).
    """
    for name, kind in _decoders():
        if only is not None and name not in only:
            continue
        try:
            value = _decode_any(kind, data, truncated)
        except DecodeError as exc:
            text = str(exc)
            if not (text.startswith("cannot decode ") or text == "unexpected EOF"):
                raise InvariantViolation(f"{name}: unexpected DecodeError text {text!r}") from exc
            continue
        except Exception as exc:
            raise InvariantViolation(f"{name}: decoder raised {exc!r} on {data[:80]!r}") from exc
        try:
            again = _decode_any(kind, _encode_any(kind, value), False)
        except Exception as exc:
            raise InvariantViolation(
                f"{name}: decoded {value!r} does not re-encode: {exc!r}"
            ) from exc
        if again != value:
            raise InvariantViolation(f"{name}: {value!r} re-decoded as {again!r}")


# --------------------------------------------------------------------------- client parse


def check_client_parse(request: messages.RequestBody, answer: Sequence[bytes]) -> None:
    """A client connection that sent ``request`` reads ``answer`` (delivered in pieces):
    it yields events or raises ``ProtocolError``, nothing else, and never loops."""
    conn = Connection(Role.CLIENT)
    conn.send(Request(request))
    budget = 10_000
    try:
        for piece in (*answer, b""):
            if conn.state not in (State.CLOSED, State.ERROR):
                conn.receive_data(piece)
            while conn.state not in (State.CLOSED, State.ERROR, State.IDLE):
                budget -= 1
                if budget < 0:
                    raise InvariantViolation("client connection made no progress")
                try:
                    ev = conn.next_event()
                except ProtocolError:
                    return
                if ev is framing.NEED_DATA:
                    break
                if conn.state in (State.AWAIT_HEADER, State.AWAIT_BODY):
                    return  # roles swapped (pull-me): the serving side is check_server's job
    except InvariantViolation:
        raise
    except ProtocolError:
        return
    except Exception as exc:
        raise InvariantViolation(f"client connection raised {exc!r}") from exc


# --------------------------------------------------------------------------- server


class ScriptedTransport:
    """A transport whose peer sent ``pieces`` then closed; writes are collected.

    Reads never block, so a server fed from it always runs to its end: the whole input is
    "already on the wire", like a pipelined client that then hung up.
    """

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = [p for p in pieces if p]
        self._next = 0
        self.written = bytearray()
        self.closed = False

    def read(self, max_bytes: int = 1 << 18, timeout: float | None = None) -> bytes:
        if self._next >= len(self._pieces):
            return b""
        piece = self._pieces[self._next]
        if len(piece) > max_bytes:
            self._pieces[self._next] = piece[max_bytes:]
            return piece[:max_bytes]
        self._next += 1
        return piece

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        if self.closed:
            raise ConnectionClosed("transport closed")
        self.written += data

    def close_write(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@dataclass
class ServerFixture:
    """A reference server set-up reused across inputs (its state must never change)."""

    server: Server
    fingerprint: tuple[object, ...]
    zfs: object

    def state(self) -> tuple[object, ...]:
        return _fingerprint(self.zfs)


def _fingerprint(zfs: object) -> tuple[object, ...]:
    names = tuple(zfs.list_filesystems())  # type: ignore[attr-defined]
    return names + tuple(tuple(zfs.list_versions(n)) for n in names)  # type: ignore[attr-defined]


def server_fixture(
    *, identity: str = "conformance", fixture: object | None = None
) -> ServerFixture:
    """The reference handler over a fresh in-memory fake ZFS (demo fixture by default) with
    the default profile; pull-me from ``identity`` is allowed (a sink exists)."""
    from fakes.profile import DEFAULT_PROFILE
    from fakes.reference import Reference
    from fakes.zfs import FakeZfs

    for name in ("bytestreamrpc", "fakes"):  # refusals are expected here, not news
        logging.getLogger(name).setLevel(logging.CRITICAL)
    zfs = FakeZfs.in_memory(fixture)  # type: ignore[arg-type]
    ref = Reference(zfs, DEFAULT_PROFILE, identity)
    server = Server(ref.handler(), identity=identity, timeout=SERVE_TIME_LIMIT)
    return ServerFixture(server, _fingerprint(zfs), zfs)


_ENDINGS: Final = (State.CLOSED, State.RETURNED, State.ERROR)


def check_server(
    fx: ServerFixture, pieces: Sequence[bytes], *, check_state: bool = True
) -> ServeOutcome:
    """Serve ``pieces`` (then end of input) with the reference server: ``serve`` returns
    (never raises), in bounded time, in a final state; what it wrote is a sequence of
    chunked streams starting with a decodable response header; the fake ZFS is unchanged
    (nothing the peer can do without answering pull-me requests changes state)."""
    transport = ScriptedTransport(pieces)
    start = time.monotonic()
    try:
        outcome = fx.server.serve(transport)
    except Exception as exc:
        raise InvariantViolation(f"Server.serve raised {exc!r}") from exc
    elapsed = time.monotonic() - start
    if elapsed > SERVE_TIME_LIMIT:
        raise InvariantViolation(f"serving took {elapsed:.1f} s (a hang)")
    if outcome.state not in _ENDINGS:
        raise InvariantViolation(f"server ended in state {outcome.state}")
    if not transport.closed:
        raise InvariantViolation("server did not close the connection")
    out = bytes(transport.written)
    if out:
        try:
            first, _rest = framing.decode_stream(out)
            messages.decode_message(messages.ResponseHeader, first)
        except (ProtocolError, DecodeError) as exc:
            raise InvariantViolation(f"server wrote an undecodable first response: {exc}") from exc
        _events, err = _frame_events((out,))
        if err is not None and outcome.state is not State.CLOSED:
            raise InvariantViolation("server output ends inside a stream without closing")
    if check_state and fx.state() != fx.fingerprint:
        raise InvariantViolation("serving changed the fake ZFS state")
    return outcome
