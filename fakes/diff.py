"""The filesystem diff a puller uses to decide what to transfer (zrepl 35dcfc2, zfs/diff.go).

It answers one question: given the versions (snapshots and bookmarks) on the *left* and on
the *right*, both sorted by ``create_txg``, which versions must be sent so that the left catches
up with the right's newest one?  In the original's pull job the left is the **local** (receiving)
filesystem and the right is the **remote** (sending) one; the Go doc comment calls the left
"the sender", which does not match how ``doPull`` in cmd/replication.go calls it.

The results are identical to the original's on every input, but the most recent common
ancestor is found through a GUID index, so the diff is linear instead of the original's nested,
quadratic scan.  Go's ``nil`` slices are ``None`` here; non-nil slices are tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bytestreamrpc.messages import FilesystemVersion

__all__ = ["DiffClass", "FilesystemDiff", "classify", "make_filesystem_diff"]

_SNAPSHOT = "snapshot"
_BOOKMARK = "bookmark"

DiffClass = Literal["no-common-ancestor", "diverged", "in-sync", "incremental"]


@dataclass(frozen=True)
class FilesystemDiff:
    """The original's ``FilesystemDiff``, field for field.

    ``incremental_path``: the common version followed by every newer right snapshot, or ``None``
    when there is no common ancestor or the two sides diverged.  ``diverged``: the left's newest
    version is not on the right.  ``mrca_path_left``: when diverged, the left from the most recent
    common ancestor on; else ``None``.  ``mrca_path_right``: when diverged, the right from the
    most recent common ancestor on; with no common ancestor, the whole right; else ``None``.
    """

    incremental_path: tuple[FilesystemVersion, ...] | None
    diverged: bool
    mrca_path_left: tuple[FilesystemVersion, ...] | None
    mrca_path_right: tuple[FilesystemVersion, ...] | None


def _check_sorted(versions: Sequence[FilesystemVersion], side: str) -> None:
    """Reject lists not ascending by create_txg, where the original panicked."""
    for i in range(1, len(versions)):
        if versions[i].create_txg < versions[i - 1].create_txg:
            raise ValueError(
                f"cannot make filesystem diff: unsorted {side} "
                f"(create_txg {versions[i].create_txg} at index {i} "
                f"follows {versions[i - 1].create_txg})"
            )


def make_filesystem_diff(
    left: Sequence[FilesystemVersion], right: Sequence[FilesystemVersion]
) -> FilesystemDiff:
    """Diff ``left`` against ``right``; both must be ascending by ``create_txg`` (ties allowed).

    Raises ``ValueError`` for an unsorted list (the original panicked).
    """
    _check_sorted(left, "left")
    _check_sorted(right, "right")

    # The original scans the right from newest to oldest for each left version, newest first,
    # so for every GUID only its newest position on the right can ever be found.
    newest_on_right: dict[int, int] = {}
    for index, version in enumerate(right):
        newest_on_right[version.guid] = index

    mrca_left = len(left) - 1
    mrca_right = -1
    while mrca_left >= 0:
        found = newest_on_right.get(left[mrca_left].guid)
        if found is not None:
            mrca_right = found
            break
        mrca_left -= 1

    if mrca_left < 0:
        return FilesystemDiff(
            incremental_path=None, diverged=False, mrca_path_left=None, mrca_path_right=tuple(right)
        )

    # Prefer a snapshot over a bookmark of the same GUID -- but, like the original, only by
    # looking one position back.
    before = mrca_right - 1
    if (
        before >= 0
        and right[before].guid == right[mrca_right].guid
        and right[before].type == _SNAPSHOT
    ):
        mrca_right = before

    if mrca_left != len(left) - 1:
        return FilesystemDiff(
            incremental_path=None,
            diverged=True,
            mrca_path_left=tuple(left[mrca_left:]),
            mrca_path_right=tuple(right[mrca_right:]),
        )

    path = [right[mrca_right]]
    path.extend(v for v in right[mrca_right + 1 :] if v.type != _BOOKMARK)
    return FilesystemDiff(
        incremental_path=tuple(path), diverged=False, mrca_path_left=None, mrca_path_right=None
    )


def classify(diff: FilesystemDiff) -> DiffClass:
    """Name the case a pull job must handle (the original only tested the path for nil/length)."""
    if diff.incremental_path is None:
        return "diverged" if diff.diverged else "no-common-ancestor"
    if len(diff.incremental_path) < 2:
        return "in-sync"
    return "incremental"
