"""Every request and response message of ByteStreamRPC v1 as typed values.

Each strategy yields the frozen dataclasses of :mod:`bytestreamrpc.messages`, which
``encode_message`` turns into Go's exact bytes. Values span the whole wire range of each
field (any uint8 request type, any 16-byte id, any ``ClientVersion``), weighted towards the
values the protocol gives meaning to, so a handful of examples already reach every row of
docs/PROTOCOL.md §server.summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, cast

from hypothesis import strategies as st

from bytestreamrpc.constants import (
    INITIAL_REPL_POLICY_ALL,
    INITIAL_REPL_POLICY_MOST_RECENT,
    ErrorId,
    RequestType,
    ResponseType,
)
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
    ResponseHeader,
)

from ._validation import check_sizes, check_subset
from .names import dataset_paths, near_valid_dataset_paths
from .versions import filesystem_versions, near_valid_filesystem_versions, version_lists

__all__ = [
    "REQUEST_TYPES",
    "close_requests",
    "filesystem_requests",
    "filesystem_versions_requests",
    "filesystems_bodies",
    "incremental_transfer_requests",
    "initial_transfer_requests",
    "protocol_version_requests",
    "pull_me_requests",
    "request_bodies",
    "request_headers",
    "request_ids",
    "response_bodies",
    "response_headers",
    "versions_bodies",
]

REQUEST_TYPES: Final = tuple(RequestType)
_POLICIES: Final = (INITIAL_REPL_POLICY_MOST_RECENT, INITIAL_REPL_POLICY_ALL, "", "bogus")


def request_ids(*, zero: bool = False) -> st.SearchStrategy[bytes]:
    """A 16-byte request id; all zeros half the time (the original client never set one)."""
    if zero:
        return st.just(bytes(16))
    return st.one_of(st.just(bytes(16)), st.binary(min_size=16, max_size=16))


def request_headers(
    *, types: Sequence[int] | None = None, ids: st.SearchStrategy[bytes] | None = None
) -> st.SearchStrategy[RequestHeader]:
    """A :class:`RequestHeader`; ``types`` restricts ``Type`` (default: any uint8, mostly
    the seven known ones, so unknown types — §server.unknown-type — are also reached).

    >>> request_headers(types=[RequestType.CLOSE]).example()  # doctest: +SKIP
    RequestHeader(type=240, id=b'\\x00...')
    """
    if types is None:
        kinds: st.SearchStrategy[int] = st.one_of(
            st.sampled_from([int(t) for t in REQUEST_TYPES]), st.integers(0, 255)
        )
    else:
        allowed = check_subset(types, "types", range(256))
        kinds = st.sampled_from([int(t) for t in allowed])  # type: ignore[call-overload]
    return st.builds(RequestHeader, kinds, ids if ids is not None else request_ids())


def _paths(paths: st.SearchStrategy[DatasetPath] | None) -> st.SearchStrategy[DatasetPath]:
    if paths is not None:
        return paths
    return st.one_of(
        dataset_paths(pool="pool"), near_valid_dataset_paths(), dataset_paths(min_size=0)
    )


def _versions(
    versions: st.SearchStrategy[FilesystemVersion] | None,
) -> st.SearchStrategy[FilesystemVersion]:
    if versions is not None:
        return versions
    return st.one_of(filesystem_versions(), near_valid_filesystem_versions())


def protocol_version_requests() -> st.SearchStrategy[ProtocolVersionRequest]:
    """``ClientVersion`` 1 most of the time, else any uint8 (§server.pv.mismatch)."""
    return st.builds(ProtocolVersionRequest, st.one_of(st.just(1), st.just(1), st.integers(0, 255)))


def filesystem_requests() -> st.SearchStrategy[FilesystemRequest]:
    """``Roots`` ``null`` (what the original sends) or a list of strings (ignored)."""
    roots = st.one_of(st.none(), st.lists(st.text(max_size=12), max_size=3).map(tuple))
    return st.builds(FilesystemRequest, roots)


def filesystem_versions_requests(
    *, paths: st.SearchStrategy[DatasetPath] | None = None
) -> st.SearchStrategy[FilesystemVersionsRequest]:
    return st.builds(FilesystemVersionsRequest, _paths(paths))


def initial_transfer_requests(
    *,
    paths: st.SearchStrategy[DatasetPath] | None = None,
    versions: st.SearchStrategy[FilesystemVersion] | None = None,
) -> st.SearchStrategy[InitialTransferRequest]:
    return st.builds(InitialTransferRequest, _paths(paths), _versions(versions))


def incremental_transfer_requests(
    *,
    paths: st.SearchStrategy[DatasetPath] | None = None,
    versions: st.SearchStrategy[FilesystemVersion] | None = None,
) -> st.SearchStrategy[IncrementalTransferRequest]:
    v = _versions(versions)
    return st.builds(IncrementalTransferRequest, _paths(paths), v, v)


def pull_me_requests(*, finished: bool | None = None) -> st.SearchStrategy[PullMeRequest]:
    """A PullMe body; ``finished`` fixes the flag (default: either)."""
    flag = st.booleans() if finished is None else st.just(bool(finished))
    return st.builds(PullMeRequest, flag, st.sampled_from(_POLICIES))


def close_requests() -> st.SearchStrategy[CloseRequest]:
    return st.builds(CloseRequest, st.one_of(st.just(""), st.text(max_size=20)))


_BY_TYPE: Final[dict[RequestType, Any]] = {
    RequestType.PROTOCOL_VERSION: lambda p, v: protocol_version_requests(),
    RequestType.FILESYSTEM: lambda p, v: filesystem_requests(),
    RequestType.FILESYSTEM_VERSIONS: lambda p, v: filesystem_versions_requests(paths=p),
    RequestType.INITIAL_TRANSFER: lambda p, v: initial_transfer_requests(paths=p, versions=v),
    RequestType.INCREMENTAL_TRANSFER: lambda p, v: incremental_transfer_requests(
        paths=p, versions=v
    ),
    RequestType.PULL_ME: lambda p, v: pull_me_requests(),
    RequestType.CLOSE: lambda p, v: close_requests(),
}


def request_bodies(
    *,
    types: Sequence[RequestType] = REQUEST_TYPES,
    paths: st.SearchStrategy[DatasetPath] | None = None,
    versions: st.SearchStrategy[FilesystemVersion] | None = None,
) -> st.SearchStrategy[RequestBody]:
    """A request body of one of ``types`` (default: all seven).

    ``paths`` / ``versions`` replace the default mix of valid and near-valid paths and
    versions, e.g. with ``st.sampled_from`` over a fixture's real datasets.

    >>> request_bodies(types=[RequestType.FILESYSTEM_VERSIONS]).example()  # doctest: +SKIP
    FilesystemVersionsRequest(filesystem=DatasetPath(components=('pool', 'data')))
    """
    kinds = check_subset(types, "types", REQUEST_TYPES)
    makers = [_BY_TYPE[RequestType(cast(int, k))] for k in kinds]
    return st.one_of(*[make(paths, versions) for make in makers])


def response_headers(
    *,
    error_ids: Sequence[int] | None = None,
    response_types: Sequence[int] | None = None,
) -> st.SearchStrategy[ResponseHeader]:
    """A :class:`ResponseHeader`; by default any uint8 in each field, mostly meaningful ones."""
    errs = (
        st.one_of(st.sampled_from([int(e) for e in ErrorId]), st.integers(0, 255))
        if error_ids is None
        else st.sampled_from(list(check_subset(error_ids, "error_ids", range(256))))
    )
    rts = (
        st.one_of(st.sampled_from([int(r) for r in ResponseType]), st.integers(0, 255))
        if response_types is None
        else st.sampled_from(list(check_subset(response_types, "response_types", range(256))))
    )
    return st.builds(
        ResponseHeader,
        request_ids(),
        errs,
        st.one_of(st.just(""), st.text(max_size=40)),
        rts,
    )


def filesystems_bodies(
    *, min_size: int = 0, max_size: int = 8
) -> st.SearchStrategy[tuple[DatasetPath, ...] | None]:
    """A Filesystems body: a list of dataset paths, or ``None`` (Go's nil, JSON ``null``)."""
    lo, hi = check_sizes(min_size, max_size, ceiling=1000)
    paths = st.lists(dataset_paths(), min_size=lo, max_size=hi).map(tuple)
    return st.one_of(st.none(), paths) if lo == 0 else paths


def versions_bodies(
    *, min_size: int = 0, max_size: int = 8
) -> st.SearchStrategy[tuple[FilesystemVersion, ...] | None]:
    """A FilesystemDiff body (:func:`version_lists`), or ``None``."""
    lo, hi = check_sizes(min_size, max_size, ceiling=1000)
    lists = version_lists(min_size=lo, max_size=hi)
    return st.one_of(st.none(), lists) if lo == 0 else lists


def response_bodies() -> st.SearchStrategy[
    tuple[DatasetPath, ...] | tuple[FilesystemVersion, ...] | None
]:
    """Either kind of JSON response body."""
    return st.one_of(filesystems_bodies(), versions_bodies())
