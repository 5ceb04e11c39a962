"""Dataset trees and whole fake-ZFS fixtures (``fakes.zfs.Fixture``).

Fixtures are kept small on purpose: a few datasets, a few snapshots each, tiny ``referenced``
sizes, so a send stream costs microseconds and a stateful run can make thousands of steps.
Every fixture this module produces loads into ``FakeZfs.in_memory`` without error.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from fakes.zfs.fixtures import BookmarkSpec, DatasetSpec, Fixture, PoolSpec, SnapshotSpec

from ._validation import check_bool, check_int, check_sizes, check_strings
from .names import COMPONENT_ALPHABET, dataset_components, version_names

__all__ = ["dataset_trees", "fixtures", "pool_names"]


def pool_names() -> st.SearchStrategy[str]:
    """A valid pool name: starts with a letter, no ``/``, not a reserved word."""
    return st.one_of(
        st.sampled_from(("pool", "tank", "backup", "zroot")),
        st.builds(
            lambda head, tail: head + tail,
            st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
            st.text(COMPONENT_ALPHABET.replace(":", "").replace(".", ""), max_size=6),
        ).filter(lambda n: n not in ("mirror", "raidz", "spare", "log", "draid", "local")),
    )


def _check_pools(pools: object) -> tuple[str, ...]:
    names = check_strings(pools, "pools")
    for p in names:
        if not p[:1].isalpha() or any(c not in COMPONENT_ALPHABET for c in p):
            raise InvalidArgument(f"pools: {p!r} is not a valid pool name")
    return names


@st.composite
def _trees(
    draw: st.DrawFn, pools: tuple[str, ...], lo: int, hi: int, max_depth: int
) -> tuple[str, ...]:
    names: list[str] = []
    target = draw(st.integers(lo, hi))
    attempts = 0
    while len(names) < target and attempts < target * 4 + 8:
        attempts += 1
        parents = [p for p in (*pools, *names) if p.count("/") < max_depth]
        parent = draw(st.sampled_from(parents))
        name = f"{parent}/{draw(dataset_components(max_size=8))}"
        if name not in names and len(name) < 200:
            names.append(name)
    if len(names) < lo:  # pragma: no cover - only with absurdly narrow alphabets
        raise InvalidArgument("could not build enough distinct dataset names")
    return tuple(names)


def dataset_trees(
    *,
    pools: Sequence[str] = ("pool",),
    min_size: int = 0,
    max_size: int = 8,
    max_depth: int = 3,
) -> st.SearchStrategy[tuple[str, ...]]:
    """Dataset names below ``pools`` (pools themselves excluded), every parent listed
    before its children, all distinct and valid; at most ``max_depth`` levels below a pool.

    >>> dataset_trees(max_size=3).example()  # doctest: +SKIP
    ('pool/data', 'pool/data/db', 'pool/home')
    """
    names = _check_pools(pools)
    lo, hi = check_sizes(min_size, max_size, ceiling=200)
    depth = check_int(max_depth, "max_depth", minimum=1, maximum=40)
    return _trees(names, lo, hi, depth)


@st.composite
def _fixtures(
    draw: st.DrawFn,
    pools: tuple[str, ...],
    lo: int,
    hi: int,
    max_snapshots: int,
    bookmarks: bool,
) -> Fixture:
    tree = draw(dataset_trees(pools=pools, min_size=lo, max_size=hi))
    snapshots: list[SnapshotSpec] = []
    marks: list[BookmarkSpec] = []
    for ds in (*pools, *tree):
        count = draw(st.integers(0, max_snapshots))
        short = draw(
            st.lists(version_names(max_size=12), min_size=count, max_size=count, unique=True)
        )
        for name in short:
            size = draw(st.sampled_from((512, 1024, 4096)))
            snapshots.append(SnapshotSpec(name=f"{ds}@{name}", referenced=size, written=size))
            if bookmarks and draw(st.integers(0, 3)) == 0:
                marks.append(BookmarkSpec(name=f"{ds}#{name}", source=f"{ds}@{name}"))
    return Fixture(
        pools=tuple(PoolSpec(name=p, referenced=4096) for p in pools),
        datasets=tuple(DatasetSpec(name=n, referenced=4096) for n in tree),
        snapshots=tuple(snapshots),
        bookmarks=tuple(marks),
        seed=draw(st.integers(0, 2**31)),
    )


def fixtures(
    *,
    pools: Sequence[str] = ("pool", "backup"),
    min_datasets: int = 0,
    max_datasets: int = 6,
    max_snapshots: int = 3,
    bookmarks: bool = True,
) -> st.SearchStrategy[Fixture]:
    """A small fake-ZFS fixture: the pools, a dataset tree below them, up to
    ``max_snapshots`` snapshots per dataset (tiny sizes), some bookmarked.

    >>> from fakes.zfs import FakeZfs
    >>> fx = fixtures(max_datasets=2).example()  # doctest: +SKIP
    >>> FakeZfs.in_memory(fx).list_filesystems()  # doctest: +SKIP
    ['backup', 'pool', 'pool/data']
    """
    names = _check_pools(pools)
    lo, hi = check_sizes(
        min_datasets, max_datasets, ceiling=200, min_name="min_datasets", max_name="max_datasets"
    )
    snaps = check_int(max_snapshots, "max_snapshots", maximum=100)
    return _fixtures(names, lo, hi, snaps, check_bool(bookmarks, "bookmarks"))
