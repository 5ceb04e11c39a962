"""The fast filesystem diff must give the original's (zfs/diff.go, 35dcfc2) result on every input.

``reference_diff`` below is a plain, quadratic transcription of the original's algorithm; it
lives only here, as the oracle for the Hypothesis test (and is timed by bench/bench_diff.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bytestreamrpc.messages import FilesystemVersion
from fakes.diff import FilesystemDiff, classify, make_filesystem_diff


def reference_diff(
    left: Sequence[FilesystemVersion], right: Sequence[FilesystemVersion]
) -> FilesystemDiff:
    """MakeFilesystemDiff as the original wrote it: nested scan, newest first on both sides."""
    for side, versions in (("left", left), ("right", right)):
        for i in range(1, len(versions)):
            if versions[i].create_txg < versions[i - 1].create_txg:
                raise ValueError(f"cannot make filesystem diff: unsorted {side}")
    mrca_left = len(left) - 1
    mrca_right = 0
    found = False
    while mrca_left >= 0 and not found:
        for i in range(len(right) - 1, -1, -1):
            if left[mrca_left].guid == right[i].guid:
                mrca_right = i
                # prefer snapshots over bookmarks
                if (
                    i - 1 >= 0
                    and right[i - 1].guid == right[i].guid
                    and right[i - 1].type == "snapshot"
                ):
                    mrca_right = i - 1
                found = True
                break
        if not found:
            mrca_left -= 1
    if mrca_left == -1:
        return FilesystemDiff(None, False, None, tuple(right))
    if mrca_left != len(left) - 1:
        return FilesystemDiff(None, True, tuple(left[mrca_left:]), tuple(right[mrca_right:]))
    path = [right[mrca_right]]
    for i in range(mrca_right + 1, len(right)):
        if right[i].type != "bookmark":
            path.append(right[i])
    return FilesystemDiff(tuple(path), False, None, None)


def versions(*specs: str) -> tuple[FilesystemVersion, ...]:
    """``"@a"`` is snapshot a, ``"#a"`` a bookmark of it (same GUID and create_txg), as in the
    original's diff_test.go -- which, unlike here, left GUIDs and createtxgs zero."""
    out = []
    for spec in specs:
        kind = {"@": "snapshot", "#": "bookmark"}[spec[0]]
        name = spec[1:]
        # GUID and txg derived from the name, so equal names are the same ZFS snapshot.
        txg = sum(ord(c) * 256**i for i, c in enumerate(reversed(name)))
        out.append(FilesystemVersion(type=kind, name=name, guid=txg + 1000, create_txg=txg))
    return tuple(out)


l = versions  # noqa: E741 -- same short name as the Go test's helper


# --- the original's test cases (diff_test.go), with real GUIDs -------------------------------


def test_incremental_path_from_common_snapshot() -> None:
    d = make_filesystem_diff(l("@a", "@b"), l("@a", "@b", "@c", "@d"))
    assert d.incremental_path == l("@b", "@c", "@d")
    assert classify(d) == "incremental"


def test_no_common_ancestor_when_left_empty() -> None:
    d = make_filesystem_diff(l(), l("@a"))
    assert d == FilesystemDiff(None, False, None, l("@a"))
    assert classify(d) == "no-common-ancestor"


def test_no_common_ancestor_with_disjoint_lists() -> None:
    d = make_filesystem_diff(l("@a", "@b"), l("@c", "@d"))
    assert d == FilesystemDiff(None, False, None, l("@c", "@d"))


def test_divergence_is_detected() -> None:
    d = make_filesystem_diff(l("@a", "@b1"), l("@a", "@b2"))
    assert d == FilesystemDiff(None, True, l("@a", "@b1"), l("@a", "@b2"))
    assert classify(d) == "diverged"


def test_gaps_before_common_ancestor_do_not_matter() -> None:
    d = make_filesystem_diff(l("@a", "@b", "@c"), l("@a", "@c", "@d"))
    assert d.incremental_path == l("@c", "@d")


def test_bookmark_is_used_as_incremental_source() -> None:
    assert make_filesystem_diff(l("@a"), l("#a", "@b")).incremental_path == l("#a", "@b")


def test_bookmarks_after_common_version_are_skipped() -> None:
    assert make_filesystem_diff(l("@a"), l("#a", "#b", "@c")).incremental_path == l("#a", "@c")


@pytest.mark.parametrize("right", [l("#a", "@a", "@b"), l("@a", "#a", "@b")])
def test_snapshot_preferred_over_bookmark_of_same_guid(right: tuple[FilesystemVersion]) -> None:
    assert make_filesystem_diff(l("@a"), right).incremental_path == l("@a", "@b")


# --- cases the Go tests did not cover ----------------------------------------------------------


def test_same_newest_version_is_in_sync() -> None:
    d = make_filesystem_diff(l("@a", "@b"), l("@a", "@b"))
    assert d == FilesystemDiff(l("@b"), False, None, None)
    assert classify(d) == "in-sync"


def test_left_ahead_of_right_counts_as_diverged() -> None:
    # The Go doc comment calls this "the left has newer versions"; the code says diverged.
    d = make_filesystem_diff(l("@c", "@d", "@e"), l("@a", "@b", "@c"))
    assert d == FilesystemDiff(None, True, l("@c", "@d", "@e"), l("@c"))


def test_both_empty_is_no_common_ancestor() -> None:
    assert make_filesystem_diff((), ()) == FilesystemDiff(None, False, None, ())


def test_snapshot_preference_looks_only_one_position_back() -> None:
    snap = FilesystemVersion("snapshot", "a", 7, 10)
    mark1 = FilesystemVersion("bookmark", "m1", 7, 10)
    mark2 = FilesystemVersion("bookmark", "m2", 7, 10)
    d = make_filesystem_diff([snap], [snap, mark1, mark2])
    assert d.incremental_path == (mark2,)


def test_duplicate_snapshot_guid_starts_path_at_older_one() -> None:
    first = FilesystemVersion("snapshot", "x", 7, 10)
    second = FilesystemVersion("snapshot", "y", 7, 11)
    assert make_filesystem_diff([second], [first, second]).incremental_path == (first, second)


def test_common_version_is_newest_on_right_among_duplicates() -> None:
    # Only the right's newest occurrence of a GUID is ever found by the original's scan.
    old = FilesystemVersion("bookmark", "old", 7, 10)
    mid = FilesystemVersion("snapshot", "mid", 8, 11)
    new = FilesystemVersion("bookmark", "new", 7, 12)
    assert make_filesystem_diff([old], [old, mid, new]).incremental_path == (new,)


def test_equal_create_txgs_count_as_sorted() -> None:
    d = make_filesystem_diff(l("@a", "#a"), l("@a", "#a"))
    assert d.incremental_path == l("@a")


@pytest.mark.parametrize("side", ["left", "right"])
def test_unsorted_input_is_rejected(side: str) -> None:
    unsorted = l("@b", "@a")
    args = (unsorted, l("@a")) if side == "left" else (l("@a"), unsorted)
    with pytest.raises(ValueError, match=f"unsorted {side}"):
        make_filesystem_diff(*args)


def test_classify_reads_path_length() -> None:
    one = l("@a")
    assert classify(FilesystemDiff(one, False, None, None)) == "in-sync"
    assert classify(FilesystemDiff(one + l("@b"), False, None, None)) == "incremental"
    assert classify(FilesystemDiff(None, True, one, one)) == "diverged"
    assert classify(FilesystemDiff(None, False, None, one)) == "no-common-ancestor"


# --- agreement with the transcription on generated inputs -------------------------------------

_version = st.builds(
    FilesystemVersion,
    type=st.sampled_from(["snapshot", "bookmark"]),
    name=st.sampled_from(["a", "b", "c"]),
    guid=st.integers(0, 6),
    create_txg=st.integers(0, 8),
)
_sorted_versions = st.lists(_version, max_size=12).map(
    lambda vs: sorted(vs, key=lambda v: v.create_txg)
)


@given(_sorted_versions, _sorted_versions)
@example([], [])
@example(list(l("@a")), list(l("#a", "@a", "#a", "@b")))
def test_fast_diff_agrees_with_transcription(
    left: list[FilesystemVersion], right: list[FilesystemVersion]
) -> None:
    assert make_filesystem_diff(left, right) == reference_diff(left, right)


@given(st.lists(_version, max_size=8), st.lists(_version, max_size=8))
def test_fast_diff_rejects_exactly_what_transcription_rejects(
    left: list[FilesystemVersion], right: list[FilesystemVersion]
) -> None:
    try:
        expected: FilesystemDiff | str = reference_diff(left, right)
    except ValueError as err:
        expected = str(err)
    try:
        actual: FilesystemDiff | str = make_filesystem_diff(left, right)
    except ValueError as err:
        actual = str(err)
    if isinstance(expected, str):
        assert isinstance(actual, str) and actual.startswith(expected)
    else:
        assert actual == expected
