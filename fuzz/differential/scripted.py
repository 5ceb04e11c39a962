"""The scripted server of client-role fuzzing: the reference server, deviating as scripted.

:class:`ScriptedServer` serves one connection from a client job — our reference client in a
thread, or an implementation's ``pull``/``push`` process — exactly like the reference server
over its own copy of the fixture (the profile's pull ACL, sinks and identity), except where
the :class:`~.script.ServerScript` has a rule for a request (:mod:`.answers`). In a push it
answers the PullMe with OK and becomes the requester (§pullme.inversion): the reference pull
job into its sink, or the script's own requests; then ``PullMe{Finished:true}`` and back to
serving (§pullme.resume), or a hang-up.

Every byte goes through a :class:`~recordings.classify.Recorder` (``s2c`` whole, so the
server side can be replayed): the run *is* a transcript. The server only ever waits for the
client (one request, or one answer as puller) at a time and hangs up without reading further
when it closes, so what it records depends on nothing but the client's bytes. A client that
says nothing within the timeout is recorded as a hang (:attr:`ScriptedServer.timed_out`).
"""

from __future__ import annotations

import contextlib
import struct
from collections import Counter
from collections.abc import Mapping
from typing import Final

from bytestreamrpc import messages
from bytestreamrpc.client import Client
from bytestreamrpc.connection import Connection, Role, State
from bytestreamrpc.constants import RequestType, ResponseType
from bytestreamrpc.deviations import Situation
from bytestreamrpc.errors import (
    ConnectionClosed,
    HandlerError,
    PeerTimeout,
    ProtocolError,
    RemoteProtocolError,
    RequestFailed,
)
from bytestreamrpc.events import BadRequest, Request, Response, StreamData, StreamEnd
from bytestreamrpc.messages import (
    CloseRequest,
    FilesystemRequest,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
    PullMeRequest,
    RequestBody,
)
from bytestreamrpc.serving import read_event
from bytestreamrpc.transport import Transport
from fakes.profile import profile_from_obj
from fakes.reference import Reference
from fakes.zfs import FakeZfs
from recordings.classify import Recorder
from recordings.format import C2S, S2C, Record

from .answers import Answer, apply_plan, render, situations_of
from .script import Rule, ServerScript

__all__ = ["ScriptedServer"]

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
        self.timed_out = False
        """A read gave up waiting (the client, or a pushing client's answers, stalled)."""
        self._pending = bytearray()
        self._eof = False
        self._header = bytearray()  # a chunk length being read
        self._left = 0  # payload bytes left in the current chunk

    def _fetch(self, max_bytes: int, timeout: float | None) -> None:
        try:
            data = self.inner.read(max_bytes, timeout)
        except PeerTimeout:
            self.timed_out = True
            raise
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


def _read_all(stream: object) -> bytes:
    parts: list[bytes] = []
    try:
        while block := stream.read(1 << 20):  # type: ignore[attr-defined]
            parts.append(block)
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()
    return b"".join(parts)


class ScriptedServer:
    """Serves one connection as ``script`` says; see the module docstring."""

    def __init__(
        self,
        script: ServerScript,
        transport: Transport,
        *,
        zfs: FakeZfs,
        profile: Mapping[str, object],
        identity: str,
        timeout: float,
        startup: float = 0.0,
    ) -> None:
        self.script = script
        self.rec = Recorder(full=(S2C,))
        self.t = _Tap(transport, self.rec)
        self.handler = Reference(zfs, profile_from_obj(dict(profile)), identity).handler()
        self.identity = identity
        self.timeout = timeout
        self.startup = startup
        """Extra seconds for the client's first request (a process may still be starting)."""
        self.conn = Connection(Role.SERVER, identity=identity)
        self.seen: Counter[RequestType] = Counter()
        self.requests = 0
        self.ending = ""
        self.timed_out: str | None = None
        """What the client did not send in time (a hang), if anything."""
        self.applied: set[Rule] = set()
        """The script's rules that met their request."""
        self.kinds: list[RequestType] = []
        """The client's requests, in order."""
        self.situations: set[Situation] = set()
        """What this server did that a row of the §deviations table refers to."""

    @property
    def records(self) -> list[Record]:
        return self.rec.records

    def run(self) -> str:
        """Serve until the connection ends; returns (and keeps) how it ended."""
        try:
            self.ending = self._serve()
        except (ProtocolError, OSError) as exc:  # a write failed or timed out
            self.ending = f"the client went away: {exc}"
        finally:
            self.t.hang_up()
            self.rec.stop()
        if self.t.timed_out and self.timed_out is None:
            self.timed_out = f"an answer from the client after request {self.requests}"
        return self.ending

    # ------------------------------------------------------------------ serving
    def _serve(self) -> str:
        while True:
            wait = self.timeout + (self.startup if self.requests == 0 else 0.0)
            try:
                ev = read_event(self.conn, self.t, wait)
            except PeerTimeout:
                self.timed_out = f"request {self.requests + 1} from the client"
                return "timeout"
            except RemoteProtocolError as exc:
                return f"protocol error: {exc}"
            if isinstance(ev, BadRequest):
                data = self.conn.send(ev)
                if ev.peer_closed:  # the original answers E(1, ...EOF) to a client that left
                    with contextlib.suppress(ConnectionClosed, PeerTimeout, OSError):
                        self.t.write(data, self.timeout)
                    return "the client closed the connection"
                self.t.write(data, self.timeout)
                if self.conn.state is not State.AWAIT_HEADER:
                    return f"closed after refusing a request (error {ev.error_id})"
                continue
            if not isinstance(ev, Request) or ev.header is None:
                return f"unexpected event {ev!r}"
            done = self._answer(ev)
            if done:
                return done

    def _answer(self, req: Request) -> str:
        assert req.header is not None
        kind = RequestType(req.header.type)
        nth = self.seen[kind]
        self.seen[kind] += 1
        self.requests += 1
        self.kinds.append(kind)
        answer = self._honest(req)
        rule = self.script.rule_for(kind, nth)
        if rule is None:
            data, after = render(answer), "honest"
        else:
            self.applied.add(rule)
            data, after = apply_plan(rule.plan, answer, kind, lambda: self._other_stream(req.body))
            self.situations |= situations_of(rule.plan, answer, kind, data)
        self.t.write(data, self.timeout)
        if after == "close":
            if isinstance(req.body, PullMeRequest) and not req.body.finished:
                self.situations.add(Situation.PULLER_GONE)  # it leaves without Finished:true
            return f"closed by the script after {kind.name} #{nth + 1}"
        if after == "continue":
            self._fresh()
            return ""
        state = self.conn.state
        if state is State.AWAIT_HEADER:
            return ""
        if self.conn.inverted and state is State.IDLE and isinstance(req.body, PullMeRequest):
            return self._pull(req.body)
        return f"closed after {kind.name} ({state.value})"

    def _fresh(self) -> None:
        """A new state machine after a scripted answer (keeping bytes already read)."""
        self.conn = self.conn.successor()

    def _honest(self, req: Request) -> Answer:
        """The reference server's answer; advances the state machine as sending it would."""
        body, conn, h = req.body, self.conn, self.handler
        if isinstance(body, ProtocolVersionRequest | CloseRequest | PullMeRequest):
            header = conn.response_header(ResponseType.OK)
            conn.send(Response(header))
            return Answer(header)
        try:
            if isinstance(body, FilesystemRequest):
                roots = h.handle_filesystem_request(body)
                value = (
                    None
                    if roots is None
                    else tuple(p for p in roots if p.to_string() not in self.script.hide)
                )
                header = conn.response_header(ResponseType.FILESYSTEMS)
                conn.send(Response(header, value))
                return Answer(header, messages.encode_filesystems(value), value)
            if isinstance(body, FilesystemVersionsRequest):
                vs = h.handle_filesystem_versions_request(body)
                versions = None if vs is None else tuple(vs)
                header = conn.response_header(ResponseType.FILESYSTEM_DIFF)
                conn.send(Response(header, versions))
                return Answer(header, messages.encode_versions(versions), versions)
            if isinstance(body, InitialTransferRequest):
                stream: object = h.handle_initial_transfer_request(body)
            else:
                assert isinstance(body, IncrementalTransferRequest)
                stream = h.handle_incremental_transfer_request(body)
        except HandlerError as exc:
            header = conn.handler_error(str(exc))
            conn.send(Response(header))
            return Answer(header)
        except Exception:  # §server.handler-crash: no answer, the connection closes
            conn.abort()
            return Answer()
        header = conn.response_header(ResponseType.CHUNKED_STREAM)
        conn.send(Response(header))
        try:
            data = _read_all(stream)
        except Exception:  # §server.stream-failure: the header, then a close
            conn.abort()
            return Answer(header)
        if data:
            conn.send(StreamData(data))
        conn.send(StreamEnd())
        return Answer(header, data=data)

    def _other_stream(self, body: RequestBody) -> bytes | None:
        """A valid send stream of the same dataset that is not the one asked for."""
        h = self.handler
        try:
            if isinstance(body, IncrementalTransferRequest):  # the full stream of To
                req = InitialTransferRequest(body.filesystem, body.to_version)
                return _read_all(h.handle_initial_transfer_request(req))
            if isinstance(body, InitialTransferRequest):  # the oldest snapshot instead
                vs = h.handle_filesystem_versions_request(
                    FilesystemVersionsRequest(body.filesystem)
                )
                snaps = [v for v in vs or () if v.type == "snapshot"]
                if snaps and snaps[0].name != body.filesystem_version.name:
                    req = InitialTransferRequest(body.filesystem, snaps[0])
                    return _read_all(h.handle_initial_transfer_request(req))
        except Exception:  # no such dataset or version: nothing to send instead
            return None
        return None

    # ------------------------------------------------------------------ pull-me
    def _pull(self, body: PullMeRequest) -> str:
        """The server as requester after its OK to the client's PullMe (§pullme)."""
        gone = self._pulling(body)
        if gone is None:
            return self._finished()
        self.situations.add(Situation.PULLER_GONE)  # it leaves without Finished:true
        return gone

    def _pulling(self, body: PullMeRequest) -> str | None:
        """Pull as the script says; how the connection ended, or ``None`` to finish."""
        client = Client(self.conn, self.t, timeout=self.timeout)
        puller = self.script.puller
        try:
            if puller.requests is None:
                self.handler.handle_pull_me_request(body, self.identity, client)
            else:
                for request in puller.requests:
                    _call(client, request)
        except PeerTimeout:
            self.timed_out = "an answer to the server's request (as puller)"
            return "timeout"
        except (ProtocolError, HandlerError, RequestFailed) as exc:
            return f"closed: the pull failed ({str(exc)[:200]})"
        except Exception as exc:  # the reference server aborts on a crashed pull-me handler
            return f"closed: the pull crashed ({exc!r:.200})"
        if self.t.timed_out:
            self.timed_out = "an answer to the server's request (as puller)"
            return "timeout"
        if self.conn.state is not State.IDLE:
            return f"closed: the pull left the connection {self.conn.state.value}"
        if puller.hang_up:
            return "closed by the script instead of PullMe{Finished:true}"
        return None

    def _finished(self) -> str:
        """Send PullMe{Finished:true}, read the answer and serve on (``""``) if we may."""
        self.t.write(self.conn.send(Request(PullMeRequest(finished=True))), self.timeout)
        try:
            read_event(self.conn, self.t, self.timeout)
        except PeerTimeout:
            self.timed_out = "the client's answer to PullMe{Finished:true}"
            return "timeout"
        except RemoteProtocolError:
            pass  # §pullme.resume: whatever the answer, serve on if the connection allows
        state = _state_of(self.conn)  # read_event moved it on
        if state is not State.AWAIT_HEADER:
            return f"closed after PullMe{{Finished:true}} ({state.value})"
        return ""


def _state_of(conn: Connection) -> State:
    return conn.state


def _call(client: Client, request: RequestBody) -> None:
    """One request of a scripted puller; a send stream is read to its end."""
    if isinstance(request, ProtocolVersionRequest):
        client.protocol_version_request()
    elif isinstance(request, FilesystemRequest):
        client.filesystem_request(request)
    elif isinstance(request, FilesystemVersionsRequest):
        client.filesystem_versions_request(request)
    elif isinstance(request, InitialTransferRequest):
        client.initial_transfer_request(request).drain()
    elif isinstance(request, IncrementalTransferRequest):
        client.incremental_transfer_request(request).drain()
    else:
        raise ValueError(f"a puller does not send {type(request).__name__}")
