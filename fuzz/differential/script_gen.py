"""Hypothesis strategies for :class:`~.script.ServerScript`: server behaviours to test clients.

Deviations are aimed where a client can go wrong: error answers and wrong response types
(§client.expect), other RequestIds (§msg.request-id), odd chunk boundaries
(§frame.boundaries), answers cut short (§frame.truncation), stray streams, bodies edited or
replaced by any Go-JSON text (§json.decode: valid respellings, near-valid and invalid texts),
damaged send streams (§client.transfer-drain, §zfs.recv-rules), a Filesystem answer that
offers less, and in pushes a puller that asks for anything or hangs up before
``PullMe{Finished:true}`` (§pullme.*).

The simplest script — Hypothesis's first try and where shrinking heads — is the reference
server itself: no rule, nothing hidden, the reference pull job as puller.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from bytestreamrpc import messages
from bytestreamrpc.constants import RequestType, ResponseType
from bytestreamrpc.gojson import GoType
from bytestreamrpc.messages import (
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
    ProtocolVersionRequest,
    RequestBody,
    ResponseHeader,
)

from ..strategies import World, go_json_encodings, go_json_texts, go_values
from .answers import FOREIGN
from .script import (
    JOBS,
    MUTATIONS,
    STREAM_FAULTS,
    Body,
    Cut,
    Job,
    Mutate,
    OtherId,
    Plan,
    Puller,
    Rechunk,
    Refuse,
    Rule,
    ServerScript,
    Stray,
    StreamFault,
    WrongType,
)

__all__ = ["server_scripts"]

RT = RequestType
_REQUESTS: dict[Job, tuple[RequestType, ...]] = {
    # weighted by how often a client sends them and how much can go wrong there
    "pull": (
        RT.PROTOCOL_VERSION,
        RT.FILESYSTEM,
        RT.FILESYSTEM,
        RT.FILESYSTEM_VERSIONS,
        RT.FILESYSTEM_VERSIONS,
        RT.FILESYSTEM_VERSIONS,
        RT.INITIAL_TRANSFER,
        RT.INITIAL_TRANSFER,
        RT.INCREMENTAL_TRANSFER,
        RT.INCREMENTAL_TRANSFER,
        RT.INCREMENTAL_TRANSFER,
        RT.CLOSE,
    ),
    "push": (RT.PROTOCOL_VERSION, RT.PULL_ME, RT.PULL_ME, RT.PULL_ME, RT.CLOSE),
}

_JOB_WEIGHTS: dict[Job, int] = {"pull": 2, "push": 1}
"""A pull has more requests (and so more room for deviations) than a push."""
_LAST_NTH: dict[RequestType, int] = {
    RT.FILESYSTEM_VERSIONS: 2,
    RT.INITIAL_TRANSFER: 1,
    RT.INCREMENTAL_TRANSFER: 1,
}
"""Highest occurrence a rule aims at (a job sends one ProtocolVersion, Filesystem, PullMe
and Close; the default fixture's pull asks for three version lists and two of each
transfer)."""

_REFUSE = st.builds(
    Refuse,
    error_id=st.one_of(st.sampled_from((5, 1, 2, 3, 4)), st.integers(1, 255)),
    close=st.booleans(),
)
_WRONG_TYPE = st.builds(
    WrongType,
    st.one_of(st.sampled_from([int(t) for t in ResponseType]), st.integers(0, 255)),
)
_CUT = st.builds(Cut, st.integers(0, 400))
_OTHER_ID = st.builds(
    OtherId,
    st.binary(min_size=16, max_size=16).map(lambda b: b if any(b) else b"\x01" + b[1:]),
)
_RECHUNK = st.builds(Rechunk, st.one_of(st.integers(1, 16), st.sampled_from((32765, 65536))))
_STRAY = st.builds(
    Stray,
    st.one_of(
        go_values(ResponseHeader).map(messages.encode_message),
        go_json_texts(ResponseHeader, validity="invalid"),
    ),
)
_MUTATE = st.builds(Mutate, st.sampled_from(MUTATIONS))
_FAULT_WEIGHTS: dict[str, int] = {"flip": 2, "wrong": 2, "cut-complete": 2}
"""Twice as likely as the other faults: a receive that fails with most of the stream still
unread (§client.transfer-drain), and a stream whose zero chunk never comes after all its
data (the original client's quirk, §deviations.truncated-payload)."""
_STREAM_FAULT = st.builds(
    StreamFault,
    st.sampled_from([k for k in STREAM_FAULTS for _ in range(_FAULT_WEIGHTS.get(k, 1))]),
    st.integers(0, 2**16),
)


def _texts(value: object, go_type: GoType, note: str) -> st.SearchStrategy[Body]:
    """A Go-JSON text of ``value`` (how a Go peer may write it), or a near-valid/invalid one."""
    return st.one_of(
        go_json_encodings(value, go_type=go_type).map(lambda b: Body(b, f"{note}, Go-JSON")),
        st.sampled_from(("near-valid", "invalid")).flatmap(
            lambda validity: go_json_texts(go_type, validity=validity).map(
                lambda b: Body(b, validity)
            )
        ),
    )


@st.composite
def _listing_body(draw: st.DrawFn, offered: tuple[str, ...]) -> Body:
    paths = [DatasetPath.from_string(d) for d in offered] + [FOREIGN]
    value = tuple(draw(st.lists(st.sampled_from(paths), unique=True, max_size=len(paths))))
    return draw(_texts(value, messages.FILESYSTEMS_TYPE, f"{len(value)} paths"))


@st.composite
def _versions_body(draw: st.DrawFn, world: World, offered: tuple[str, ...]) -> Body:
    dataset = draw(st.sampled_from(offered)) if offered else ""
    value = world.versions_of(dataset)
    return draw(_texts(value, messages.VERSIONS_TYPE, f"versions of {dataset or 'nothing'}"))


@st.composite
def _plans(draw: st.DrawFn, kind: RequestType, world: World, offered: tuple[str, ...]) -> Plan:
    """A deviation fit for a ``kind`` request; drawn by explicit weights (shrinks to Refuse)."""
    weighted: list[tuple[int, st.SearchStrategy[Plan]]] = [
        (2, _REFUSE),
        (2, _CUT),
        (2, _WRONG_TYPE),
    ]
    if kind is RT.FILESYSTEM:
        weighted += [(2, _MUTATE), (2, _listing_body(offered))]
    elif kind is RT.FILESYSTEM_VERSIONS:
        weighted += [(2, _MUTATE), (2, _versions_body(world, offered))]
    elif kind in (RT.INITIAL_TRANSFER, RT.INCREMENTAL_TRANSFER):
        weighted += [(6, _STREAM_FAULT)]  # what is special about a transfer is its stream
    weighted += [(1, _RECHUNK), (1, _OTHER_ID), (1, _STRAY)]
    slots = [strategy for weight, strategy in weighted for _ in range(weight)]
    return draw(slots[draw(st.integers(0, len(slots) - 1))])


@st.composite
def _rules(draw: st.DrawFn, job: Job, world: World, offered: tuple[str, ...]) -> Rule:
    kind = draw(st.sampled_from(_REQUESTS[job]))
    nth = draw(st.integers(0, _LAST_NTH.get(kind, 0)))
    return Rule(kind, nth, draw(_plans(kind, world, offered)))


@st.composite
def _puller_requests(draw: st.DrawFn, world: World) -> RequestBody:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return ProtocolVersionRequest(1)
    if kind <= 2:
        return FilesystemRequest(None)
    names = [d for d in world.datasets if world.versions_of(d)] or list(world.datasets)
    dataset = draw(st.sampled_from(names)) if names else "pool"
    path = DatasetPath.from_string(dataset)
    own: Sequence[FilesystemVersion] = world.versions_of(dataset)
    if kind <= 5 or not own:
        return FilesystemVersionsRequest(path)
    if kind <= 7:
        return InitialTransferRequest(path, draw(st.sampled_from(own)))
    a, b = draw(st.lists(st.sampled_from(own), min_size=2, max_size=2))
    return IncrementalTransferRequest(path, a, b)


def _pullers(world: World) -> st.SearchStrategy[Puller]:
    requests = st.one_of(st.none(), st.lists(_puller_requests(world), max_size=4).map(tuple))
    return st.builds(Puller, requests, st.booleans())


@st.composite
def _scripts(
    draw: st.DrawFn,
    world: World,
    offered: tuple[str, ...],
    jobs: tuple[Job, ...],
    max_rules: int,
) -> ServerScript:
    job = draw(st.sampled_from([j for j in jobs for _ in range(_JOB_WEIGHTS[j])]))
    rules = tuple(
        draw(
            st.lists(
                _rules(job, world, offered),
                max_size=max_rules,
                unique_by=lambda r: (r.request, r.nth),  # one rule per request at most
            )
        )
    )
    hide: tuple[str, ...] = ()
    if job == "pull" and offered:
        hide = tuple(sorted(draw(st.lists(st.sampled_from(offered), unique=True, max_size=2))))
    puller = draw(_pullers(world)) if job == "push" else Puller()
    return ServerScript(job, rules, hide, puller)


def server_scripts(
    *,
    world: World,
    offered: Sequence[str] = (),
    jobs: Sequence[Job] = JOBS,
    max_rules: int = 6,
) -> st.SearchStrategy[ServerScript]:
    """Server behaviours for a client of ``jobs`` over ``world`` (the fixture).

    ``offered``: the datasets the honest Filesystem answer lists (what ``hide`` and body
    replacements pick from); ``max_rules``: deviations per script at most.
    """
    chosen = tuple(j for j in JOBS if j in jobs)
    if not chosen:
        raise ValueError(f"jobs must name pull and/or push, got {list(jobs)!r}")
    if max_rules < 0:
        raise ValueError(f"max_rules must not be negative, got {max_rules}")
    return _scripts(world, tuple(offered), chosen, max_rules)
