"""Filesystem versions (snapshots and bookmarks), GUIDs, and FilesystemDiff-shaped lists.

GUIDs are drawn with a bias towards the values that break careless code: 0, 2^53 ± 1 (where
a float stops being exact), 2^63 (where a signed integer overflows) and 2^64 − 1
(docs/PROTOCOL.md §json.encode.integers, §zfs.guid).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Final

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from bytestreamrpc.messages import FilesystemVersion

from ._validation import check_int, check_sizes, check_subset
from .names import COMPONENT_ALPHABET, version_names

__all__ = [
    "MAX_UINT64",
    "VERSION_TYPES",
    "filesystem_versions",
    "guids",
    "near_valid_filesystem_versions",
    "version_lists",
]

MAX_UINT64: Final = 2**64 - 1
VERSION_TYPES: Final = ("snapshot", "bookmark")
_EDGES: Final = (0, 1, 2**53 - 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, MAX_UINT64)


def guids(*, min_value: int = 0, max_value: int = MAX_UINT64) -> st.SearchStrategy[int]:
    """A uint64, often one of the edge values (0, 2^53 ± 1, 2^63, 2^64 − 1).

    >>> guids(min_value=1).example()  # doctest: +SKIP
    9007199254740993
    """
    lo = check_int(min_value, "min_value", maximum=MAX_UINT64)
    hi = check_int(max_value, "max_value", maximum=MAX_UINT64)
    if lo > hi:
        raise InvalidArgument(f"min_value={lo} must not exceed max_value={hi}")
    return _guids(lo, hi)


@functools.lru_cache(maxsize=64)
def _guids(lo: int, hi: int) -> st.SearchStrategy[int]:
    edges = [e for e in _EDGES if lo <= e <= hi]
    free = st.integers(lo, hi)
    return st.one_of(st.sampled_from(edges), free) if edges else free


def filesystem_versions(
    *,
    types: Sequence[str] = VERSION_TYPES,
    min_txg: int = 1,
    max_txg: int = MAX_UINT64,
    guid: st.SearchStrategy[int] | None = None,
) -> st.SearchStrategy[FilesystemVersion]:
    """A valid :class:`FilesystemVersion`: Type ``snapshot``/``bookmark``, a valid name.

    >>> filesystem_versions(types=["snapshot"]).example()  # doctest: +SKIP
    FilesystemVersion(type='snapshot', name='zrepl_20170501_000000_000', guid=1, create_txg=7)
    """
    kinds = check_subset(types, "types", VERSION_TYPES)
    lo = check_int(min_txg, "min_txg", maximum=MAX_UINT64)
    hi = check_int(max_txg, "max_txg", maximum=MAX_UINT64)
    if lo > hi:
        raise InvalidArgument(f"min_txg={lo} must not exceed max_txg={hi}")
    if guid is None:
        return _versions(tuple(str(k) for k in kinds), lo, hi)
    return st.builds(FilesystemVersion, st.sampled_from(kinds), version_names(), guid,
                     st.integers(lo, hi))  # fmt: skip


@functools.lru_cache(maxsize=64)
def _versions(kinds: tuple[str, ...], lo: int, hi: int) -> st.SearchStrategy[FilesystemVersion]:
    return st.builds(
        FilesystemVersion, st.sampled_from(kinds), version_names(), guids(), st.integers(lo, hi)
    )


_BAD_TYPES: Final = (
    "",
    "Snapshot",
    "BOOKMARK",
    "snap",
    "filesystem",
    "volume",
    "snapshot ",
    "ſnapshot",
)


# Built once, not inside the composite: a strategy made per draw is validated per draw,
# which made this strategy cost milliseconds an example.
_BAD_TYPE: Final = st.one_of(st.sampled_from(_BAD_TYPES), st.text(max_size=10))
_BAD_NAME: Final = st.one_of(
    st.just(""),
    st.sampled_from((".", "..")),
    st.builds(
        lambda a, c, b: a + c + b,
        st.text(COMPONENT_ALPHABET, max_size=4),
        # not " ": OpenZFS allows spaces in names (zfs_namecheck.c valid_char)
        st.sampled_from(("@", "#", "/", "\t", "é", "*", "\x00")),
        st.text(COMPONENT_ALPHABET, max_size=4),
    ),
    st.just("x" * 256),
)


@st.composite
def _near_valid_version(draw: st.DrawFn) -> FilesystemVersion:
    version = draw(filesystem_versions())
    if draw(st.booleans()):
        bad_type = draw(_BAD_TYPE)
        return FilesystemVersion(
            bad_type if bad_type not in VERSION_TYPES else "",
            version.name,
            version.guid,
            version.create_txg,
        )
    name = draw(_BAD_NAME)
    return FilesystemVersion(version.type, name, version.guid, version.create_txg)


@functools.cache
def near_valid_filesystem_versions() -> st.SearchStrategy[FilesystemVersion]:
    """A version one defect away from valid: a Type other than ``snapshot``/``bookmark``
    (the original panicked on it, §handler.transfer) or a Name no ZFS object can have."""
    return _near_valid_version()


@st.composite
def _version_list(
    draw: st.DrawFn, lo: int, hi: int, bookmarks: bool
) -> tuple[FilesystemVersion, ...]:
    n = draw(st.integers(lo, hi))
    names = draw(st.lists(version_names(), min_size=n, max_size=n, unique=True))
    ids = draw(st.lists(guids(min_value=1), min_size=n, max_size=n, unique=True))
    txg = draw(st.integers(1, 1000))
    out: list[FilesystemVersion] = []
    for name, guid in zip(names, ids, strict=True):
        txg += draw(st.integers(1, 50))
        out.append(FilesystemVersion("snapshot", name, guid, txg))
        if bookmarks and draw(st.integers(0, 3)) == 0:
            out.append(FilesystemVersion("bookmark", name, guid, txg))
    return tuple(out)


def version_lists(
    *, min_size: int = 0, max_size: int = 8, bookmarks: bool = True
) -> st.SearchStrategy[tuple[FilesystemVersion, ...]]:
    """A plausible FilesystemDiff body: ``min_size..max_size`` snapshots with distinct names
    and GUIDs, ascending by CreateTXG, some with a bookmark of the same name, GUID and
    CreateTXG right after them (as ``zfs list -s createtxg`` prints them).
    """
    lo, hi = check_sizes(min_size, max_size, ceiling=1000)
    if not isinstance(bookmarks, bool):
        raise InvalidArgument(f"bookmarks={bookmarks!r} must be True or False")
    return _version_list(lo, hi, bookmarks)
