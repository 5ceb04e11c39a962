"""The golden scenarios: named conversations whose transcripts form ``recordings/golden/``.

Each :class:`Scenario` is a small client script (:class:`~recordings.driver.Driver`) with the
server situation it needs (fixture, profile, identity), the docs/PROTOCOL.md section it
demonstrates, and what it must show: the ``ErrorId`` of every server response in order and
whether the server closes. ``golden update`` refuses to write a transcript that does not
show that, so a golden file cannot silently stop demonstrating its title.

Coverage (docs/RECORDINGS.md lists it): every request type; every row of the server loop's
table (PROTOCOL-FACTS §5), one scenario per row, including a clean end of input, an unknown
type, FilesystemVersions returning without closing and an incremental handler error that
continues; initial and incremental transfers (snapshot and bookmark sources) of the demo
fixture's real snapshots; pull-me success (the client serves the server's pull from its own
fake ZFS) and failures; framing edge cases (1-byte chunks, a header split across chunks,
bytes after the JSON value, maximum and oversized chunks, truncation); Go JSON decoding
details seen from the wire (lower-case keys, a request id to echo).

Two scenarios record a documented deviation of the reference from the original
(``deviation``): the no-ACL Filesystem request (the original crashed without answering) and
a header whose zero chunk never comes (the original decoded it and failed on the body). They
are kept because the §5 row / framing case has no other way to show, and are marked in the
golden file's title; ``golden check --iut`` skips them when the description excludes
``golden.NAME``.

Send streams from the server are stored as digests; the client side is stored whole
(``full = c2s``) because replay has to send it.

This module is a data table: the scenario scripts (a few lines each) and :data:`SCENARIOS`,
one entry per golden file. Its length is the number of scenarios, not the amount of logic,
so it stays one file (where a new scenario is added next to its script) rather than being
split under the project's module-size guideline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bytestreamrpc import framing
from bytestreamrpc.constants import MAX_WRITE_PAYLOAD, ErrorId, RequestType
from bytestreamrpc.messages import (
    CloseRequest,
    FilesystemRequest,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
    PullMeRequest,
)

from .driver import Driver

__all__ = ["GOLDEN_PROFILE", "PUSH_CLIENT_FIXTURE", "SCENARIOS", "Scenario", "by_name"]

RT = RequestType
OK: Final = int(ErrorId.NONE)

GOLDEN_PROFILE: Final[dict[str, Any]] = {
    "identity": "alice",
    "pull_acl": {"pool/data*": "acl"},
    "sinks": {"alice": {"pool/push": "backup/zrepl/push"}},
    "pull_mapping": {"pool/data*": "backup/zrepl"},
    "push_filter": {"pool/push": "ok"},
}
"""The server's profile in most scenarios: ``alice`` may pull ``pool/data`` and below (not
``pool/vol1``) and may push ``pool/push`` into ``backup/zrepl/push``."""

NO_ACL_PROFILE: Final[dict[str, Any]] = {"identity": "alice"}
LOCAL_PROFILE: Final[dict[str, Any]] = {**GOLDEN_PROFILE, "identity": "local"}
NO_SINK_PROFILE: Final[dict[str, Any]] = {**GOLDEN_PROFILE, "sinks": {}}

PUSH_CLIENT_FIXTURE: Final = """
# The pushing client's own fake ZFS in the pull-me scenarios (kept tiny: the client side of
# a golden file stores its send streams whole).
seed = 4242
base_time = 1493596800
[[pool]]
name = "pool"
size = "1G"
[[dataset]]
name = "pool/push"
[[snapshot]]
name = "pool/push@zrepl_20170501_000000_000"
referenced = "4K"
[[snapshot]]
name = "pool/push@zrepl_20170501_010000_000"
referenced = "6K"
written = "2K"
"""

VISIBLE: Final = "pool/data"
HOME: Final = "pool/data/home"
DB: Final = "pool/data/db"
HIDDEN: Final = "pool/vol1"


@dataclass(frozen=True)
class Scenario:
    """One golden conversation."""

    name: str
    section: str
    """The docs/PROTOCOL.md section it demonstrates (``server.fsv.decode-error``)."""
    title: str
    run: Callable[[Driver], None]
    errors: tuple[int, ...]
    """``ErrorId`` of every server response header, in order."""
    closes: bool = True
    """The server ends the connection (every stdio server does once its loop ends)."""
    profile: Mapping[str, Any] = field(default_factory=lambda: dict(GOLDEN_PROFILE))
    fixture: str = "demo"
    deviation: str | None = None
    """The docs/PROTOCOL.md §deviations entry when the reference (and so this golden file)
    knowingly differs from what the original sent in this conversation."""

    @property
    def identity(self) -> str:
        who = self.profile.get("identity")
        return who if isinstance(who, str) else ""


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _pv(d: Driver) -> None:
    d.request(ProtocolVersionRequest())
    d.recv()


def _bye(d: Driver) -> None:
    d.request(CloseRequest())
    d.recv()
    d.finish()


def _then_close(d: Driver) -> None:
    """After a response that ends the connection: wait for the end, then close."""
    d.recv()
    d.finish()


# ------------------------------------------------------------------ request types


def pv_ok(d: Driver) -> None:
    _pv(d)
    _bye(d)


def close_goodbye(d: Driver) -> None:
    _pv(d)
    d.request(CloseRequest("goodbye from the golden corpus"))
    d.recv()
    d.finish()


def fs_ok(d: Driver) -> None:
    _pv(d)
    d.request(FilesystemRequest())
    d.recv(2)
    _bye(d)


def fs_roots(d: Driver) -> None:
    _pv(d)
    d.request(FilesystemRequest(("pool/data",)))
    d.recv(2)
    _bye(d)


def fsv_ok(d: Driver) -> None:
    _pv(d)
    d.request(FilesystemVersionsRequest(d.path(VISIBLE)))
    d.recv(2)
    _bye(d)


def init_ok(d: Driver) -> None:
    _pv(d)
    snap = d.versions(DB)[0]
    d.request(InitialTransferRequest(d.path(DB), snap))
    d.recv(2)
    _bye(d)


def incr_ok(d: Driver) -> None:
    _pv(d)
    s1, s2 = d.versions(HOME)[:2]
    d.request(IncrementalTransferRequest(d.path(HOME), s1, s2))
    d.recv(2)
    _bye(d)


def incr_bookmark(d: Driver) -> None:
    _pv(d)
    mark = d.versions(VISIBLE, "bookmark")[0]
    newest = d.versions(VISIBLE)[-1]
    d.request(IncrementalTransferRequest(d.path(VISIBLE), mark, newest))
    d.recv(2)
    _bye(d)


def pull_session(d: Driver) -> None:
    """What a pull job sends: list, versions, an initial and an incremental transfer."""
    _pv(d)
    d.request(FilesystemRequest())
    d.recv(2)
    d.request(FilesystemVersionsRequest(d.path(HOME)))
    d.recv(2)
    s1, s2 = d.versions(HOME)[:2]
    d.request(InitialTransferRequest(d.path(HOME), s1))
    d.recv(2)
    d.request(IncrementalTransferRequest(d.path(HOME), s1, s2))
    d.recv(2)
    _bye(d)


def _push_zfs() -> Any:
    from fakes.zfs import FakeZfs
    from fakes.zfs.fixtures import parse_fixture

    return FakeZfs.in_memory(parse_fixture(PUSH_CLIENT_FIXTURE))


def pullme_ok(d: Driver) -> None:
    """The reference push job: PullMe, serve the server's pull from our own fake ZFS, Close."""
    from fakes.mapping import parse_mapping
    from fakes.runjob import run_push

    client = d.client()
    client.protocol_version_request()
    run_push(client, _push_zfs(), parse_mapping(GOLDEN_PROFILE["push_filter"]))
    client.close_request(CloseRequest())


def pullme_finished(d: Driver) -> None:
    _pv(d)
    d.request(PullMeRequest(finished=True))
    d.recv()
    d.finish()


def pullme_bad_identity(d: Driver) -> None:
    _pv(d)
    d.request(PullMeRequest(initial_repl_policy="most_recent"))
    _then_close(d)


def pullme_no_sink(d: Driver) -> None:
    _pv(d)
    d.request(PullMeRequest(initial_repl_policy="most_recent"))
    _then_close(d)


# ------------------------------------------------------------------ §5 error rows


def header_decode_error(d: Driver) -> None:
    d.send(framing.encode_stream(b"xyz\n"))
    _then_close(d)


def header_eof(d: Driver) -> None:
    d.close()
    d.recv()
    d.recv_eof()


def header_eof_after_request(d: Driver) -> None:
    _pv(d)
    d.close()
    d.recv()
    d.recv_eof()


def unknown_type(d: Driver) -> None:
    d.raw_request(0x42, b"{}\n")
    _then_close(d)


def pv_decode_error(d: Driver) -> None:
    d.raw_request(RT.PROTOCOL_VERSION, b'{"ClientVersion":"1"}\n')
    _then_close(d)


def pv_mismatch(d: Driver) -> None:
    d.request(ProtocolVersionRequest(2))
    _then_close(d)


def close_decode_error(d: Driver) -> None:
    _pv(d)
    d.raw_request(RT.CLOSE, b'{"Goodbye":42}\n')
    _then_close(d)


def fs_decode_error(d: Driver) -> None:
    _pv(d)
    d.raw_request(RT.FILESYSTEM, b'{"Roots":"pool"}\n')
    _then_close(d)


def fs_handler_error(d: Driver) -> None:
    _pv(d)
    d.request(FilesystemRequest())
    _then_close(d)


def fsv_decode_error(d: Driver) -> None:
    _pv(d)
    d.raw_request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":"pool/data"}\n')
    _then_close(d)


def fsv_handler_error(d: Driver) -> None:
    _pv(d)
    d.request(FilesystemVersionsRequest(d.path(HIDDEN)))
    _then_close(d)


def init_decode_error(d: Driver) -> None:
    _pv(d)
    d.raw_request(RT.INITIAL_TRANSFER, b'{"Filesystem":["pool","data"],"FilesystemVersion":[]}\n')
    _then_close(d)


def init_handler_error(d: Driver) -> None:
    _pv(d)
    snap = d.versions(HIDDEN)[0]
    d.request(InitialTransferRequest(d.path(HIDDEN), snap))
    _then_close(d)


def incr_decode_error(d: Driver) -> None:
    _pv(d)
    d.raw_request(RT.INCREMENTAL_TRANSFER, b'{"Filesystem":["pool","data"],"From":{"Guid":-1}}\n')
    _then_close(d)


def incr_handler_error_continues(d: Driver) -> None:
    """Error 5 on an incremental transfer (ACL refusal), then the connection still answers."""
    _pv(d)
    hidden = d.versions(HIDDEN)[0]
    d.request(IncrementalTransferRequest(d.path(HIDDEN), hidden, hidden))
    d.recv()
    s1, s2 = d.versions(HOME)[:2]
    d.request(IncrementalTransferRequest(d.path(HOME), s1, s2))
    d.recv(2)
    _bye(d)


def pullme_decode_error(d: Driver) -> None:
    _pv(d)
    d.raw_request(RT.PULL_ME, b'{"Finished":"yes"}\n')
    _then_close(d)


# ------------------------------------------------------------------ framing edge cases


def _request_bytes(rtype: int, body: bytes) -> tuple[bytes, bytes]:
    return _json({"Type": int(rtype), "Id": [0] * 16}), body


def frame_one_byte_chunks(d: Driver) -> None:
    header, body = _request_bytes(RT.PROTOCOL_VERSION, b'{"ClientVersion":1}\n')
    d.send(framing.encode_stream(header, 1) + framing.encode_stream(body, 1))
    d.recv()
    _bye(d)


def frame_split_header(d: Driver) -> None:
    """The request header's JSON split over two chunks in the middle of a key."""
    header, body = _request_bytes(RT.PROTOCOL_VERSION, b'{"ClientVersion":1}\n')
    d.send(
        framing.encode_chunks(header[:3])
        + framing.encode_chunks(header[3:])
        + framing.TERMINATOR
        + framing.encode_stream(body)
    )
    d.recv()
    _bye(d)


def frame_trailing_bytes(d: Driver) -> None:
    """Bytes after the JSON value inside the same stream are drained and ignored."""
    _, body = _request_bytes(RT.PROTOCOL_VERSION, b'{"ClientVersion":1}\n')
    header = _json({"Type": 1, "Id": [0] * 16}) + b"trailing garbage {]"
    d.send(framing.encode_stream(header) + framing.encode_stream(body + b"\x00\xff more"))
    d.recv()
    _bye(d)


def frame_max_chunk(d: Driver) -> None:
    """A request body padded with spaces to exactly the original writer's 32764-byte chunk."""
    header, body = _request_bytes(RT.FILESYSTEM, b'{"Roots":null}')
    body = body + b" " * (MAX_WRITE_PAYLOAD - len(body))
    _pv(d)
    d.send(framing.encode_stream(header) + framing.encode_stream(body))
    d.recv(2)
    _bye(d)


def frame_oversized_chunk(d: Driver) -> None:
    """One 40000-byte chunk: more than the original writes, which every reader accepts."""
    header, body = _request_bytes(RT.FILESYSTEM, b'{"Roots":null}')
    body = body + b" " * (40_000 - len(body))
    _pv(d)
    d.send(framing.encode_stream(header) + framing.chunk_header(len(body)) + body + b"\0" * 4)
    d.recv(2)
    _bye(d)


def frame_empty_header_stream(d: Driver) -> None:
    """A request header stream that is only the zero chunk: no JSON at all."""
    d.send(framing.TERMINATOR)
    _then_close(d)


def frame_truncated_header(d: Driver) -> None:
    """End of input inside a request header's chunk payload."""
    header, _ = _request_bytes(RT.PROTOCOL_VERSION, b"")
    d.send(framing.chunk_header(len(header)) + header[:10])
    d.close()
    d.recv()
    d.recv_eof()


def frame_missing_terminator(d: Driver) -> None:
    """A complete header chunk, then end of input where its zero chunk should be."""
    header, _ = _request_bytes(RT.PROTOCOL_VERSION, b"")
    d.send(framing.encode_chunks(header))
    d.close()
    d.recv()
    d.recv_eof()


def frame_truncated_body(d: Driver) -> None:
    """Header complete, the body's chunk header cut after two bytes."""
    header, _ = _request_bytes(RT.PROTOCOL_VERSION, b"")
    d.send(framing.encode_stream(header) + b"\x14\x00")
    d.close()
    d.recv()
    d.recv_eof()


# ------------------------------------------------------------------ Go JSON details


def json_lowercase_keys(d: Driver) -> None:
    """Keys match case-insensitively: ``type``/``id``/``clientversion`` are accepted."""
    d.send(
        framing.encode_stream(_json({"type": 1, "id": [0] * 16}))
        + framing.encode_stream(b'{"clientversion":1}\n')
    )
    d.recv()
    _bye(d)


def json_request_id_echo(d: Driver) -> None:
    """A non-zero request id is echoed by success responses and zeroed in errors."""
    rid = bytes(range(1, 17))
    d.request(ProtocolVersionRequest(), rid=rid)
    d.recv()
    d.request(FilesystemVersionsRequest(d.path(HIDDEN)), rid=rid)
    _then_close(d)


# ------------------------------------------------------------------ the list

E = ErrorId
SCENARIOS: Final[tuple[Scenario, ...]] = (
    Scenario("pv-ok", "server.pv.ok", "protocol version 1 accepted", pv_ok, (OK, OK)),
    Scenario("close-goodbye", "server.close.ok", "Close with a goodbye", close_goodbye, (OK, OK)),
    Scenario("fs-ok", "server.fs.ok", "Filesystem lists what the ACL maps", fs_ok, (OK,) * 3),
    Scenario("fs-roots", "msg.bodies", "Filesystem with Roots (ignored)", fs_roots, (OK,) * 3),
    Scenario("fsv-ok", "server.fsv.ok", "FilesystemVersions, oldest first", fsv_ok, (OK,) * 3),
    Scenario("init-ok", "server.init.ok", "initial transfer of a snapshot", init_ok, (OK,) * 3),
    Scenario("incr-ok", "server.incr.ok", "incremental transfer", incr_ok, (OK,) * 3),
    Scenario(
        "incr-bookmark",
        "handler.transfer",
        "incremental from a bookmark",
        incr_bookmark,
        (OK,) * 3,
    ),
    Scenario("pull-session", "job.pull", "a whole pull conversation", pull_session, (OK,) * 6),
    Scenario(
        "pullme-ok",
        "server.pullme.ok",
        "push: PullMe, the server pulls from the client, Finished, Close",
        pullme_ok,
        (OK,) * 3,
    ),
    Scenario(
        "pullme-finished",
        "server.pullme.finished",
        "PullMe{Finished:true}: OK, the loop returns",
        pullme_finished,
        (OK, OK),
    ),
    Scenario(
        "pullme-bad-identity",
        "server.pullme.bad-identity",
        "PullMe with identity 'local': OK, then close",
        pullme_bad_identity,
        (OK, OK),
        profile=LOCAL_PROFILE,
    ),
    Scenario(
        "pullme-no-sink",
        "pullme.handler-failure",
        "PullMe without a sink for the identity: OK, the handler fails, close",
        pullme_no_sink,
        (OK, OK),
        profile=NO_SINK_PROFILE,
    ),
    Scenario(
        "pullme-decode-error",
        "server.pullme.decode-error",
        "PullMe body does not decode",
        pullme_decode_error,
        (OK, E.DECODE_REQUEST_BODY),
    ),
    Scenario(
        "header-decode-error",
        "server.header.decode-error",
        "request header is not JSON",
        header_decode_error,
        (E.DECODE_HEADER,),
    ),
    Scenario(
        "header-eof",
        "server.header.eof",
        "end of input before any request",
        header_eof,
        (E.DECODE_HEADER,),
    ),
    Scenario(
        "header-eof-after-request",
        "server.header.eof",
        "end of input between requests",
        header_eof_after_request,
        (OK, E.DECODE_HEADER),
    ),
    Scenario(
        "unknown-type",
        "server.unknown-type",
        "request type 0x42",
        unknown_type,
        (E.UNKNOWN_REQUEST_TYPE,),
    ),
    Scenario(
        "pv-decode-error",
        "server.pv.decode-error",
        "ClientVersion is a string",
        pv_decode_error,
        (E.DECODE_REQUEST_BODY,),
    ),
    Scenario(
        "pv-mismatch",
        "server.pv.mismatch",
        "protocol version 2",
        pv_mismatch,
        (E.PROTOCOL_VERSION_MISMATCH,),
    ),
    Scenario(
        "close-decode-error",
        "server.close.decode-error",
        "Goodbye is a number",
        close_decode_error,
        (OK, E.DECODE_REQUEST_BODY),
    ),
    Scenario(
        "fs-decode-error",
        "server.fs.decode-error",
        "Roots is a string (empty Message)",
        fs_decode_error,
        (OK, E.DECODE_REQUEST_BODY),
    ),
    Scenario(
        "fs-handler-error",
        "server.fs.handler-error",
        "no pull ACL for the identity",
        fs_handler_error,
        (OK, E.HANDLER),
        profile=NO_ACL_PROFILE,
        deviation="deviations.handler-crashes",
    ),
    Scenario(
        "fsv-decode-error",
        "server.fsv.decode-error",
        "Filesystem is a string: error 3, the loop returns without closing",
        fsv_decode_error,
        (OK, E.DECODE_REQUEST_BODY),
    ),
    Scenario(
        "fsv-handler-error",
        "server.fsv.handler-error",
        "dataset outside the ACL: error 5, the loop returns",
        fsv_handler_error,
        (OK, E.HANDLER),
    ),
    Scenario(
        "init-decode-error",
        "server.init.decode-error",
        "FilesystemVersion is an array",
        init_decode_error,
        (OK, E.DECODE_REQUEST_BODY),
    ),
    Scenario(
        "init-handler-error",
        "server.init.handler-error",
        "dataset outside the ACL",
        init_handler_error,
        (OK, E.HANDLER),
    ),
    Scenario(
        "incr-decode-error",
        "server.incr.decode-error",
        "a negative Guid",
        incr_decode_error,
        (OK, E.DECODE_REQUEST_BODY),
    ),
    Scenario(
        "incr-handler-error-continues",
        "server.incr.handler-error",
        "error 5 on an incremental transfer, and the loop continues",
        incr_handler_error_continues,
        (OK, E.HANDLER, OK, OK),
    ),
    Scenario(
        "frame-one-byte-chunks",
        "frame.reader-any-length",
        "a request in 1-byte chunks",
        frame_one_byte_chunks,
        (OK, OK),
    ),
    Scenario(
        "frame-split-header",
        "frame.boundaries",
        "a header split across two chunks",
        frame_split_header,
        (OK, OK),
    ),
    Scenario(
        "frame-trailing-bytes",
        "json.first-value",
        "bytes after the JSON value in its stream are ignored",
        frame_trailing_bytes,
        (OK, OK),
    ),
    Scenario(
        "frame-max-chunk",
        "frame.writer-max",
        "a 32764-byte chunk",
        frame_max_chunk,
        (OK, OK, OK),
    ),
    Scenario(
        "frame-oversized-chunk",
        "frame.reader-any-length",
        "one 40000-byte chunk",
        frame_oversized_chunk,
        (OK, OK, OK),
    ),
    Scenario(
        "frame-empty-header-stream",
        "server.header.decode-error",
        "a header stream with no bytes (only the zero chunk)",
        frame_empty_header_stream,
        (E.DECODE_HEADER,),
    ),
    Scenario(
        "frame-truncated-header",
        "frame.truncation",
        "end of input inside a header chunk",
        frame_truncated_header,
        (E.DECODE_HEADER,),
    ),
    Scenario(
        "frame-missing-terminator",
        "frame.truncation",
        "end of input where the zero chunk should be",
        frame_missing_terminator,
        (E.DECODE_HEADER,),
        deviation="deviations.truncated-payload",
    ),
    Scenario(
        "frame-truncated-body",
        "frame.truncation",
        "end of input inside the body's chunk header",
        frame_truncated_body,
        (E.DECODE_REQUEST_BODY,),
    ),
    Scenario(
        "json-lowercase-keys",
        "json.decode.key-folding",
        "keys in lower case are accepted",
        json_lowercase_keys,
        (OK, OK),
    ),
    Scenario(
        "json-request-id-echo",
        "msg.request-id",
        "success echoes the request id, errors carry zeros",
        json_request_id_echo,
        (OK, E.HANDLER),
    ),
)


def by_name(name: str) -> Scenario:
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(f"no golden scenario named {name!r}")
