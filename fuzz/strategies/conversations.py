"""Whole client conversations: sequences of requests, well-formed and not, as wire bytes.

A :class:`Conversation` is what a client sends on one connection, one :class:`Send` (a
request header stream and its body stream, each with its own chunking) or :class:`Raw`
(arbitrary bytes) per step. Requests are aimed at a :class:`World` — the datasets and
versions the server really has — so most of them reach the handler's interesting branches
(real snapshots, real incremental pairs, datasets inside and outside the ACL) rather than
bouncing off "no such dataset". Malformed steps cover every refusal row of docs/PROTOCOL.md
§server.summary: undecodable and unknown-type headers, undecodable bodies, a header whose
type does not match its body, bytes after the JSON value inside a stream, chunks longer than
the original writer's, and plain garbage.

A ``PullMe{Finished:false}`` step hands the connection to the server (§pullme.inversion);
whoever drives the conversation must then serve the server's requests until it sends
``Finished:true`` — :mod:`fuzz.differential` does.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from bytestreamrpc import messages
from bytestreamrpc.constants import (
    INITIAL_REPL_POLICY_MOST_RECENT,
    ZERO_REQUEST_ID,
    RequestType,
)
from bytestreamrpc.framing import TERMINATOR, chunk_header
from bytestreamrpc.messages import (
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
    RequestHeader,
)

from ._validation import check_bool, check_sizes
from .chunking import chunkings
from .gojson import go_json_encodings, go_json_texts
from .messages import close_requests, request_ids
from .names import dataset_paths, near_valid_dataset_paths
from .versions import filesystem_versions, near_valid_filesystem_versions

__all__ = [
    "Conversation",
    "Raw",
    "Send",
    "Step",
    "World",
    "conversations",
    "request_steps",
]


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    """What a server holds, for aiming requests: dataset names and their versions."""

    datasets: tuple[str, ...]
    versions: tuple[tuple[str, tuple[FilesystemVersion, ...]], ...] = ()

    def versions_of(self, dataset: str) -> tuple[FilesystemVersion, ...]:
        for name, vs in self.versions:
            if name == dataset:
                return vs
        return ()

    @classmethod
    def from_mapping(cls, versions: Mapping[str, Sequence[FilesystemVersion]]) -> World:
        return cls(tuple(versions), tuple((k, tuple(v)) for k, v in versions.items()))

    @classmethod
    def from_zfs(cls, zfs: object) -> World:
        """Read a ``fakes.zfs.FakeZfs``: every filesystem/volume and its versions."""
        names = zfs.list_filesystems()  # type: ignore[attr-defined]
        out: dict[str, list[FilesystemVersion]] = {}
        for n in names:
            out[n] = [
                FilesystemVersion(v.type, v.name, v.guid, v.createtxg)
                for v in zfs.list_versions(n)  # type: ignore[attr-defined]
            ]
        return cls.from_mapping(out)

    @classmethod
    def from_fixture(cls, fixture: object) -> World:
        from fakes.zfs import FakeZfs

        zfs = FakeZfs.in_memory(fixture)  # type: ignore[arg-type]
        try:
            return cls.from_zfs(zfs)
        finally:
            zfs.close()

    @classmethod
    @functools.cache
    def demo(cls) -> World:
        """The fake ZFS's built-in demo fixture."""
        from fakes.zfs import demo_fixture

        return cls.from_fixture(demo_fixture())


# --------------------------------------------------------------------------- steps


def frame(payload: bytes, sizes: Sequence[int] = ()) -> bytes:
    """``payload`` as one chunked stream split into ``sizes`` (one chunk when empty)."""
    if not payload:
        return TERMINATOR
    out = bytearray()
    pos = 0
    for size in sizes or (len(payload),):
        out += chunk_header(size) + payload[pos : pos + size]
        pos += size
    return bytes(out) + TERMINATOR


@dataclass(frozen=True)
class Send:
    """One request as two chunked streams: ``header`` and ``body`` payloads (``body``
    ``None``: no body stream at all). ``request`` is what a Go peer decodes when the step is
    well-formed (``None`` for malformed steps)."""

    header: bytes
    body: bytes | None
    header_chunks: tuple[int, ...] = ()
    body_chunks: tuple[int, ...] = ()
    intent: str = ""
    request: tuple[RequestHeader, RequestBody] | None = field(default=None, compare=False)

    def wire(self) -> bytes:
        out = frame(self.header, self.header_chunks)
        if self.body is not None:
            out += frame(self.body, self.body_chunks)
        return out

    def describe(self) -> str:
        return self.intent or "request"

    @property
    def hands_over(self) -> bool:
        """A well-formed ``PullMe{Finished:false}``: the server may start requesting."""
        return (
            self.request is not None
            and isinstance(self.request[1], PullMeRequest)
            and not self.request[1].finished
        )


@dataclass(frozen=True)
class Raw:
    """Arbitrary bytes (broken framing, garbage, a stream cut short)."""

    data: bytes
    intent: str = "raw bytes"

    def wire(self) -> bytes:
        return self.data

    def describe(self) -> str:
        return self.intent

    @property
    def hands_over(self) -> bool:
        return False


Step = Send | Raw


@dataclass(frozen=True)
class Conversation:
    """The client side of one connection; the connection ends (EOF) after the last step."""

    steps: tuple[Step, ...]

    def wire(self) -> bytes:
        return b"".join(s.wire() for s in self.steps)

    def describe(self) -> list[str]:
        return [f"{i + 1}. {s.describe()}" for i, s in enumerate(self.steps)]


# --------------------------------------------------------------------------- drawing


def _path_text(p: DatasetPath) -> str:
    return "/".join(p.components)


@functools.lru_cache(maxsize=32)
def _weighted_datasets(world: World) -> st.SearchStrategy[str]:
    """World datasets, each as often as it has versions (plus one): requests then reach
    real listings and transfers far more often than empty datasets."""
    return st.sampled_from(
        [ds for ds in world.datasets for _ in range(1 + len(world.versions_of(ds)))]
    )


@st.composite
def _path(draw: st.DrawFn, world: World) -> DatasetPath:
    roll = draw(st.integers(0, 9))
    if world.datasets and roll < 7:
        return DatasetPath(tuple(draw(_weighted_datasets(world)).split("/")))
    if roll < 9:
        return draw(near_valid_dataset_paths() if roll == 7 else dataset_paths(pool="pool"))
    return DatasetPath(())


@st.composite
def _version(draw: st.DrawFn, world: World, dataset: str) -> FilesystemVersion:
    own = world.versions_of(dataset)
    roll = draw(st.integers(0, 9))
    if own and roll < 7:
        v = draw(st.sampled_from(own))
        if roll == 0:  # right name, other numbers: the handler only uses Type and Name
            return FilesystemVersion(v.type, v.name, draw(st.integers(0, 2**64 - 1)), 1)
        return v
    others = [v for _, vs in world.versions for v in vs]
    if others and roll < 8:
        return draw(st.sampled_from(others))
    if roll < 9:
        return draw(near_valid_filesystem_versions())
    return draw(filesystem_versions())


@st.composite
def _body(draw: st.DrawFn, world: World, kind: RequestType) -> RequestBody:
    if kind is RequestType.PROTOCOL_VERSION:
        return ProtocolVersionRequest(draw(_CLIENT_VERSIONS))
    if kind is RequestType.FILESYSTEM:
        return FilesystemRequest(
            draw(
                st.one_of(
                    st.none(), st.just(()), st.lists(st.text(max_size=8), max_size=2).map(tuple)
                )
            )
        )
    if kind is RequestType.CLOSE:
        return draw(close_requests())
    if kind is RequestType.PULL_ME:
        finished = draw(st.integers(0, 3)) == 0
        policy = (
            ""
            if finished
            else draw(
                st.sampled_from((INITIAL_REPL_POLICY_MOST_RECENT,) * 3 + ("", "all", "bogus"))
            )
        )
        return PullMeRequest(finished, policy)
    path = draw(_path(world))
    ds = _path_text(path)
    if kind is RequestType.FILESYSTEM_VERSIONS:
        return FilesystemVersionsRequest(path)
    if kind is RequestType.INITIAL_TRANSFER:
        return InitialTransferRequest(path, draw(_version(world, ds)))
    own = world.versions_of(ds)
    if len(own) >= 2 and draw(st.integers(0, 3)):
        i, j = sorted(
            draw(st.lists(st.integers(0, len(own) - 1), min_size=2, max_size=2, unique=True))
        )
        a, b = (own[i], own[j]) if draw(st.integers(0, 4)) else (own[j], own[i])
        return IncrementalTransferRequest(path, a, b)
    return IncrementalTransferRequest(path, draw(_version(world, ds)), draw(_version(world, ds)))


_CLIENT_VERSIONS = st.one_of(st.sampled_from((1, 0, 2)), st.integers(0, 255))
"""The handshake step is always version 1; a later ProtocolVersion is usually not."""
_KIND_WEIGHTS = (
    (RequestType.PROTOCOL_VERSION, 2),
    (RequestType.FILESYSTEM, 3),
    (RequestType.FILESYSTEM_VERSIONS, 4),
    (RequestType.INITIAL_TRANSFER, 2),
    (RequestType.INCREMENTAL_TRANSFER, 3),
    (RequestType.PULL_ME, 1),
    (RequestType.CLOSE, 1),
)
_KINDS = tuple(k for k, w in _KIND_WEIGHTS for _ in range(w))


@st.composite
def _chunks(draw: st.DrawFn, payload: bytes) -> tuple[int, ...]:
    if draw(st.integers(0, 5)):
        return ()
    return tuple(len(p) for p in draw(chunkings(payload)))


def _label(rid: bytes, body: RequestBody) -> str:
    rid_note = "" if rid == ZERO_REQUEST_ID else f" id={rid.hex()}"
    return f"{type(body).__name__} {body}{rid_note}"


@st.composite
def _well_formed(draw: st.DrawFn, world: World, allow_pull_me: bool) -> Send:
    kinds = _KINDS if allow_pull_me else tuple(k for k in _KINDS if k is not RequestType.PULL_ME)
    kind = draw(st.sampled_from(kinds))
    body = draw(_body(world, kind))
    rid = draw(request_ids())
    header = RequestHeader(int(kind), rid)
    if draw(st.integers(0, 3)):
        htext, btext = messages.encode_message(header), messages.encode_message(body)
        how = ""
    else:  # any encoding a Go peer reads the same way (§json.decode)
        htext = draw(go_json_encodings(header))
        btext = draw(go_json_encodings(body))
        how = " (Go-JSON variant)"
    return Send(
        htext,
        btext,
        draw(_chunks(htext)),
        draw(_chunks(btext)),
        _label(rid, body) + how,
        (header, body),
    )


_KNOWN_TYPES = frozenset(int(k) for k in RequestType)
_UNKNOWN_TYPES = st.sampled_from([t for t in range(256) if t not in _KNOWN_TYPES])
_MALFORMED = (
    "header-text",
    "unknown-type",
    "body-text",
    "type-mismatch",
    "trailing",
    "big-chunk",
    "garbage",
    "no-body",
    "cut",
)


@st.composite
def _malformed(draw: st.DrawFn, world: World) -> Step:
    what = draw(st.sampled_from(_MALFORMED))
    kind = draw(st.sampled_from([k for k, _ in _KIND_WEIGHTS if k is not RequestType.PULL_ME]))
    body = draw(_body(world, kind))
    btext = messages.encode_message(body)
    htext = messages.encode_message(RequestHeader(int(kind)))
    if what == "header-text":
        validity = draw(st.sampled_from(("near-valid", "invalid")))
        bad = draw(go_json_texts(RequestHeader, validity=validity))
        return Send(bad, btext, intent=f"{validity} request header {bad[:60]!r}")
    if what == "unknown-type":
        rtype = draw(_UNKNOWN_TYPES)
        hdr = messages.encode_message(RequestHeader(rtype, draw(request_ids())))
        return Send(hdr, btext, intent=f"unknown request type {rtype}")
    if what == "body-text":
        validity = draw(st.sampled_from(("near-valid", "invalid")))
        bad = draw(go_json_texts(type(body), validity=validity))
        return Send(htext, bad, intent=f"{kind.name} with a {validity} body {bad[:60]!r}")
    if what == "type-mismatch":
        other = draw(st.sampled_from([k for k in RequestType if k is not kind]))
        hdr = messages.encode_message(RequestHeader(int(other)))
        return Send(hdr, btext, intent=f"header {other.name} with a {kind.name} body")
    if what == "trailing":
        junk = draw(st.sampled_from((b" ", b"\n{}", b"xyz", b"\x00\xff", b"]}")))
        hdr = htext + junk if draw(st.booleans()) else htext
        return Send(
            hdr, btext + junk, intent=f"{kind.name} with bytes after the JSON value {junk!r}"
        )
    if what == "big-chunk":
        pad = b" " * draw(st.sampled_from((32765, 40000)))
        return Send(
            htext, btext + pad, intent=f"{kind.name} body in one {len(btext) + len(pad)}-byte chunk"
        )
    if what == "garbage":
        data = draw(st.binary(min_size=1, max_size=40))
        return Raw(data, f"garbage {data!r}")
    if what == "no-body":
        return Raw(frame(htext), f"{kind.name} header, then no body stream")
    cut_at = draw(st.integers(0, len(htext) + 7))
    whole = frame(htext)
    return Raw(whole[:cut_at], f"{kind.name} header cut after {cut_at} bytes")


def request_steps(
    *, world: World | None = None, malformed: bool = True, pull_me: bool = True
) -> st.SearchStrategy[Step]:
    """One conversation step aimed at ``world`` (default: the demo fixture's)."""
    w = world if world is not None else World.demo()
    if not isinstance(w, World):
        raise InvalidArgument(f"world must be a fuzz.strategies.World, got {type(w).__name__}")
    good = _well_formed(w, check_bool(pull_me, "pull_me"))
    if not check_bool(malformed, "malformed"):
        return good
    return st.one_of(good, good, _malformed(w))


def _handshake() -> Send:
    body = ProtocolVersionRequest()
    header = RequestHeader(int(RequestType.PROTOCOL_VERSION))
    return Send(
        messages.encode_message(header),
        messages.encode_message(body),
        intent="ProtocolVersionRequest (handshake)",
        request=(header, body),
    )


def _close() -> Send:
    body = CloseRequest()
    header = RequestHeader(int(RequestType.CLOSE))
    return Send(
        messages.encode_message(header),
        messages.encode_message(body),
        intent="CloseRequest",
        request=(header, body),
    )


@st.composite
def _conversation(
    draw: st.DrawFn,
    world: World,
    lo: int,
    hi: int,
    handshake: bool | None,
    close: bool | None,
    malformed: bool,
    pull_me: bool,
) -> Conversation:
    steps: list[Step] = []
    if handshake or (handshake is None and draw(st.integers(0, 7))):
        steps.append(_handshake())
    body = draw(
        st.lists(
            request_steps(world=world, malformed=malformed, pull_me=pull_me),
            min_size=max(lo - len(steps), 0),
            max_size=max(hi - len(steps), 0),
        )
    )
    steps += body
    if (close or (close is None and draw(st.booleans()))) and len(steps) < hi:
        steps.append(_close())
    return Conversation(tuple(steps[:hi]) if len(steps) > hi else tuple(steps))


def conversations(
    *,
    world: World | None = None,
    min_steps: int = 1,
    max_steps: int = 6,
    handshake: bool | None = None,
    close: bool | None = None,
    malformed: bool = True,
    pull_me: bool = True,
) -> st.SearchStrategy[Conversation]:
    """A client conversation of ``min_steps..max_steps`` steps aimed at ``world``.

    ``handshake`` True/False forces/forbids the opening ProtocolVersion request (default:
    usually); ``close`` likewise for a final Close request; ``malformed=False`` keeps every
    step well-formed; ``pull_me=False`` never hands the connection to the server.

    >>> c = conversations(max_steps=3).example()  # doctest: +SKIP
    >>> c.describe()  # doctest: +SKIP
    ['1. ProtocolVersionRequest (handshake)', "2. FilesystemVersionsRequest ...", '3. CloseRequest']
    """
    w = world if world is not None else World.demo()
    if not isinstance(w, World):
        raise InvalidArgument(f"world must be a fuzz.strategies.World, got {type(w).__name__}")
    lo, hi = check_sizes(
        min_steps, max_steps, ceiling=1000, min_name="min_steps", max_name="max_steps"
    )
    if handshake is not None:
        check_bool(handshake, "handshake")
    if close is not None:
        check_bool(close, "close")
    return _conversation(
        w,
        lo,
        hi,
        handshake,
        close,
        check_bool(malformed, "malformed"),
        check_bool(pull_me, "pull_me"),
    )
