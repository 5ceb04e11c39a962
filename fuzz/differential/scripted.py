"""A client-role trial's server: the one scripted server, playing a :class:`ServerScript`.

:func:`play` sets up :class:`fakes.scripted.ScriptedServer` (the suite's client cases use the
same server) for one connection from a client job — our reference client in a thread, or an
implementation's ``pull``/``push`` process: the reference server over its own copy of the
fixture (the profile's pull ACL, sinks and identity), except where the script has a rule for
a request; a rule's plan becomes the answer through :class:`PlanFault` (:mod:`.answers`). In
a push the server becomes the requester after its OK to PullMe (§pullme.inversion): the
reference pull job into the profile's sink, or the script's own requests; then
``PullMe{Finished:true}`` and back to serving (§pullme.resume), or a hang-up.

Every byte goes through a :class:`~recordings.classify.Recorder` (``s2c`` whole, so the
server side can be replayed): the run *is* a transcript. The server only ever waits for the
client (one request, or one answer as puller) at a time and hangs up without reading further
when it closes, so what it records depends on nothing but the client's bytes. A client that
says nothing within the timeout is recorded as a hang (:attr:`ScriptedServer.timed_out`).
"""

from __future__ import annotations

import contextlib
import functools
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from bytestreamrpc.constants import RequestType
from bytestreamrpc.errors import ConnectionClosed, ProtocolError
from bytestreamrpc.events import Request
from bytestreamrpc.messages import (
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
)
from bytestreamrpc.transport import Transport
from fakes.profile import profile_from_obj
from fakes.reference import Reference, ReferenceHandler
from fakes.scripted import Honest, ScriptedServer, Then, read_all
from fakes.zfs import FakeZfs
from recordings.classify import Recorder
from recordings.format import C2S, S2C, Record

from .answers import apply_plan, situations_of
from .script import Rule, ServerScript

__all__ = ["PlanFault", "Played", "play"]

_READ: Final = 1 << 20
_LENGTH: Final = struct.Struct("<I")


class _Tap:
    """Our end of the connection: what we read is recorded ``c2s``, what we write ``s2c``.

    Reads hand out at most one chunked stream at a time (the rest stays here, unrecorded),
    so a message the client sent early — a Close right behind an answer — is recorded only
    if the server goes on to read it, never because of how the bytes happened to arrive.
    """

    def __init__(self, inner: Transport, recorder: Recorder) -> None:
        self.inner = inner
        self.rec = recorder
        self._pending = bytearray()
        self._eof = False
        self._header = bytearray()  # a chunk length being read
        self._left = 0  # payload bytes left in the current chunk

    def _fetch(self, max_bytes: int, timeout: float | None) -> None:
        try:
            data = self.inner.read(max_bytes, timeout)
        except (ConnectionClosed, OSError):
            data = b""
        if data:
            self._pending += data
        else:
            self._eof = True

    def _one_stream(self, limit: int) -> int:
        """How many pending bytes to hand out: up to the end of the current stream."""
        buf, i = self._pending, 0
        end = min(len(buf), limit)
        while i < end:
            if self._left:
                step = min(self._left, end - i)
                self._left -= step
                i += step
                continue
            take = buf[i : i + min(4 - len(self._header), end - i)]
            self._header += take
            i += len(take)
            if len(self._header) == 4:
                (length,) = _LENGTH.unpack(self._header)
                self._header.clear()
                if length == 0:
                    break  # the stream's zero chunk: stop here
                self._left = length
        return i

    def read(self, max_bytes: int = _READ, timeout: float | None = None) -> bytes:
        if self.rec.is_closed(C2S):
            return b""
        if not self._pending and not self._eof:
            self._fetch(max_bytes, timeout)
        if not self._pending:
            self.rec.eof(C2S)
            return b""
        n = self._one_stream(max_bytes)
        data = bytes(self._pending[:n])
        del self._pending[:n]
        self.rec.feed(C2S, data)
        return data

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        if self.rec.is_closed(S2C):
            raise ConnectionClosed("we already hung up")
        chunk = bytes(data)
        self.inner.write(chunk, timeout)
        self.rec.feed(S2C, chunk)

    def close_write(self) -> None:
        self.hang_up()

    def close(self) -> None:
        self.hang_up()

    def hang_up(self) -> None:
        """Close the connection (like the original server: both directions at once)."""
        with contextlib.suppress(OSError, ProtocolError):
            self.inner.close()
        if not self.rec.is_closed(S2C):
            self.rec.eof(S2C)


@dataclass(eq=False)
class PlanFault:
    """A script's rule as a fault of the scripted server: the plan turns the reference's
    answer into the bytes written (:func:`.answers.apply_plan`)."""

    rule: Rule
    applied: set[Rule]
    """Every rule that met its request (shared by the faults of one trial)."""

    def apply(self, server: ScriptedServer, request: Request, honest: Honest) -> Then:
        assert request.header is not None
        kind = RequestType(request.header.type)
        self.applied.add(self.rule)
        other = functools.partial(_other_stream, server.handler, request.body)
        data, after = apply_plan(self.rule.plan, honest, kind, other)
        server.situations |= situations_of(self.rule.plan, honest, kind, data)
        server.write(data)
        return after


@dataclass
class Played:
    """One scripted server of a trial, with its recorder and the rules that applied."""

    server: ScriptedServer
    recorder: Recorder
    applied: set[Rule] = field(default_factory=set)

    def run(self) -> None:
        """Serve the connection to its end; the transcript is complete afterwards."""
        try:
            self.server.run()
        finally:
            self.recorder.stop()

    @property
    def records(self) -> list[Record]:
        return self.recorder.records


def play(
    script: ServerScript,
    transport: Transport,
    *,
    zfs: FakeZfs,
    profile: Mapping[str, object],
    identity: str,
    timeout: float,
    startup: float = 0.0,
) -> Played:
    """The scripted server for one client-role trial, ready to :meth:`~Played.run`."""
    recorder = Recorder(full=(S2C,))
    settings = profile_from_obj(dict(profile))
    handler = Reference(zfs, settings, identity).handler()
    applied: set[Rule] = set()

    def choose(kind: RequestType, nth: int, _position: int) -> PlanFault | None:
        rule = script.rule_for(kind, nth)
        return None if rule is None else PlanFault(rule, applied)

    server = ScriptedServer(
        _Tap(transport, recorder),
        handler,
        sink=settings.sink_for(identity),
        faults=choose,
        timeout=timeout,
        startup=startup,
        hide=frozenset(script.hide),
        puller_requests=script.puller.requests,
        hang_up_after_pull=script.puller.hang_up,
        push_job=script.job == "push",
    )
    return Played(server, recorder, applied)


def _other_stream(handler: ReferenceHandler, body: object) -> bytes | None:
    """A valid send stream of the same dataset that is not the one asked for."""
    try:
        if isinstance(body, IncrementalTransferRequest):  # the full stream of To
            req = InitialTransferRequest(body.filesystem, body.to_version)
            return read_all(handler.handle_initial_transfer_request(req))
        if isinstance(body, InitialTransferRequest):  # the oldest snapshot instead
            vs = handler.handle_filesystem_versions_request(
                FilesystemVersionsRequest(body.filesystem)
            )
            snaps = [v for v in vs or () if v.type == "snapshot"]
            if snaps and snaps[0].name != body.filesystem_version.name:
                req = InitialTransferRequest(body.filesystem, snaps[0])
                return read_all(handler.handle_initial_transfer_request(req))
    except Exception:  # no such dataset or version: nothing to send instead
        return None
    return None
