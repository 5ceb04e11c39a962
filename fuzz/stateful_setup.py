"""What a stateful run starts from: :class:`Setup`, drawn by Hypothesis (:func:`setups`)
or chosen by a seeded ``random.Random`` (:func:`random_setup`).

Part of the stateful fuzzer (:mod:`fuzz.stateful` has the overview and the drivers). A
set-up is its own job, apart from the conversation it starts, because how it is drawn is
tuned for speed and for the name relations the checks are about (see the comment on the
vocabularies below); the step drawing (:mod:`fuzz.stateful_choices`) reuses its
:func:`_weighted` lists and :func:`_index` strategies.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from hypothesis import strategies as st

from fakes.zfs.fixtures import BookmarkSpec, DatasetSpec, Fixture, PoolSpec, SnapshotSpec

__all__ = ["SINK_ROOT", "Setup", "acl_summary", "random_setup", "setups"]

SINK_ROOT: Final = "backup/sink"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Setup:
    """Everything one stateful run starts from."""

    fixture: Fixture
    pull_acl: dict[str, str] | None
    push_fixture: Fixture
    push_filter: dict[str, str]
    sink: dict[str, str] | None


# Set-ups are drawn from small curated vocabularies rather than from the general name
# strategies of fuzz.strategies: drawing free-form names cost ~8 ms per set-up (more than
# twenty conversation steps), and what the stateful checks are about is how names relate
# (siblings that are string prefixes of each other, "a" / "ab" / "a.b", which glob ACLs must
# tell apart; snapshots and bookmarks of the same name; zrepl's own snapshot names), which
# a small vocabulary produces often and free text almost never. Odd name syntax is the
# server, codec and gojson targets' business, and still reaches this machine as rare
# arguments (_GENERATED_PATHS, _GENERATED_VERSIONS).
_COMPONENTS: Final = ("a", "ab", "a.b", "a-b", "a_b", "a:b", "b", "data", "data2", "x1", "A", "9")
_SNAPSHOT_NAMES: Final = (
    "s0", "s1", "s2", "a", "ab", "x.y", "x-y", "x:y", "x_y",
    "zrepl_20170501_000000_000", "zrepl_20170501_010000_000",
)  # fmt: skip
_NEAR_MISSES: Final = ("", "", "", "", "x", "c", "_1")
"""Suffixes of ACL left sides: mostly none, sometimes a near miss of a real name."""
_UNRELATED: Final = ("nopool", "pool/zz", "backup", "backup/sink")
_RIGHT_SIDES: Final = ("pool", "pool/x", "pool/a/b")
_SINKS: Final = (None, {"pool*": SINK_ROOT}, {"pool/*": SINK_ROOT}, {"|": SINK_ROOT})


def _weighted(*groups: tuple[int, Sequence[_T]]) -> list[_T]:
    """One list to draw from with a single ``sampled_from``: each non-empty group fills
    about ``weight`` parts of it whatever its length, every item at least once.

    One index draw replaces a draw of the group and another of the item (each Hypothesis
    draw costs tens of microseconds; a step has a millisecond). The first group's first
    item comes first, so it is what a failing example shrinks to.
    """
    present = [(w, list(items)) for w, items in groups if w > 0 and items]
    total = sum(w for w, _ in present)
    size = max(-(-len(items) * total // w) for w, items in present)
    out: list[_T] = []
    for w, items in present:
        slots = max(len(items), size * w // total)
        out += [items[i % len(items)] for i in range(slots)]
    return out


@functools.cache
def _index(n: int) -> st.SearchStrategy[int]:
    """An index into a sequence of ``n`` items (one strategy per length, built once)."""
    return st.integers(0, n - 1)


@functools.cache
def _snapshot_lists(most: int) -> st.SearchStrategy[tuple[str, ...]]:
    """A dataset's snapshots, oldest first: each length from 0 to ``most`` equally often,
    in one draw (the empty list first, which is what shrinking goes to)."""
    by_length = [list(itertools.permutations(_SNAPSHOT_NAMES, k)) for k in range(most + 1)]
    return st.sampled_from(_weighted(*((1, group) for group in by_length)))


@functools.cache
def _bookmark_masks(count: int) -> st.SearchStrategy[tuple[bool, ...]]:
    """Which of ``count`` snapshots get a bookmark, each with probability 1/4, in one draw
    (none first)."""
    return st.sampled_from(
        [tuple(d == 3 for d in digits) for digits in itertools.product(range(4), repeat=count)]
    )


@functools.cache
def _children(parents: int) -> st.SearchStrategy[tuple[int, str]]:
    """A new dataset: the index of its parent among ``parents`` and its name, in one draw."""
    return st.sampled_from(list(itertools.product(range(parents), _COMPONENTS)))


_NEAR_MISS: Final = st.sampled_from(_NEAR_MISSES)
_RIGHT: Final = st.sampled_from(_RIGHT_SIDES)
_LEFT_KIND: Final = st.sampled_from(("glob", "glob", "direct", "direct", "unrelated", "wildcard"))
_GLOB_ALL: Final = st.integers(0, 5)
_ACL_KIND: Final = st.sampled_from(("none", "common", "drawn", "drawn"))
_SEED: Final = st.integers(0, 2**31)


def _draw_fixture(
    draw: st.DrawFn, pools: tuple[str, ...], max_datasets: int, max_snapshots: int
) -> Fixture:
    """A small fixture: a tree of curated names below ``pools`` (parents first, at most three
    levels), up to ``max_snapshots`` snapshots per dataset in creation order, a quarter of
    them bookmarked."""
    names: list[str] = []
    for _ in range(draw(_index(max_datasets + 1))):
        parents = [p for p in (*pools, *names) if p.count("/") < 3]
        parent, component = draw(_children(len(parents)))
        name = f"{parents[parent]}/{component}"
        if name not in names:
            names.append(name)
    snapshots: list[SnapshotSpec] = []
    marks: list[BookmarkSpec] = []
    for ds in (*pools, *names):
        shorts = draw(_snapshot_lists(max_snapshots))
        for short in shorts:
            snapshots.append(SnapshotSpec(f"{ds}@{short}", referenced=1024, written=1024))
        for short, marked in zip(shorts, draw(_bookmark_masks(len(shorts))), strict=True):
            if marked:
                marks.append(BookmarkSpec(f"{ds}#{short}", source=f"{ds}@{short}"))
    return Fixture(
        pools=tuple(PoolSpec(p, referenced=4096) for p in pools),
        datasets=tuple(DatasetSpec(n, referenced=4096) for n in names),
        snapshots=tuple(snapshots),
        bookmarks=tuple(marks),
        seed=draw(_SEED),
    )


def _draw_mapping(draw: st.DrawFn, tree: list[str]) -> dict[str, str]:
    """One to three mapping entries (§mapping) whose left sides cut through ``tree``: a glob
    or direct entry on a real prefix (sometimes a near miss of it), an unrelated name, ``|``,
    or ``*``."""
    prefixes = sorted(
        {"/".join(n.split("/")[:i]) for n in tree for i in range(1, n.count("/") + 2)}
    )
    out: dict[str, str] = {}
    for _ in range(1 + draw(_index(3))):
        kind = draw(_LEFT_KIND)
        if kind == "wildcard":
            left = "|"
        elif kind == "unrelated":
            left = _UNRELATED[draw(_index(len(_UNRELATED)))]
        else:
            left = prefixes[draw(_index(len(prefixes)))] + draw(_NEAR_MISS)
            if kind == "glob":
                left = "*" if draw(_GLOB_ALL) == 0 else left + "*"
        out.setdefault(left, draw(_RIGHT))
    return out


@st.composite
def _setup(draw: st.DrawFn) -> Setup:
    fixture = _draw_fixture(draw, ("pool", "backup"), max_datasets=4, max_snapshots=3)
    tree = ["pool", *(d.name for d in fixture.datasets)]
    kind = draw(_ACL_KIND)
    acl: dict[str, str] | None = None
    if kind == "common":
        acl = {"pool*": "pool"}  # the common real-world ACL, so listings are not all empty
    elif kind == "drawn":
        acl = _draw_mapping(draw, tree)
    push_fx = _draw_fixture(draw, ("pool",), max_datasets=3, max_snapshots=3)
    push_filter = _draw_mapping(draw, ["pool", *(d.name for d in push_fx.datasets)])
    sink = _SINKS[draw(_index(len(_SINKS)))]
    return Setup(fixture, acl, push_fx, push_filter, None if sink is None else dict(sink))


def setups() -> st.SearchStrategy[Setup]:
    """A fixture, a pull ACL (a quarter of runs none, a quarter the common ``pool*``), and a
    pusher's fixture, filter and sink: every one of them loads and parses."""
    return _SETUPS


_SETUPS: Final = _setup()


def acl_summary(acl: Mapping[str, str] | None) -> str:
    return "no pull ACL" if acl is None else ", ".join(f"{k} -> {v}" for k, v in acl.items())


def random_setup(rng: random.Random) -> Setup:
    """A :class:`Setup` chosen by ``rng`` (same shapes as :func:`setups`, no Hypothesis)."""

    def fixture(pools: tuple[str, ...], n: int) -> Fixture:
        names: list[str] = []
        for _ in range(n):
            parent = rng.choice([*pools, *names])
            name = f"{parent}/{rng.choice(('a', 'b', 'data', 'db', 'x1'))}"
            if name not in names:
                names.append(name)
        snaps, marks = [], []
        for ds in (*pools, *names):
            for i in range(rng.randint(0, 3)):
                snaps.append(SnapshotSpec(f"{ds}@s{i}", referenced=1024, written=1024))
                if rng.random() < 0.25:
                    marks.append(BookmarkSpec(f"{ds}#s{i}", source=f"{ds}@s{i}"))
        return Fixture(
            pools=tuple(PoolSpec(p, referenced=4096) for p in pools),
            datasets=tuple(DatasetSpec(n, referenced=4096) for n in names),
            snapshots=tuple(snaps),
            bookmarks=tuple(marks),
            seed=rng.randrange(2**31),
        )

    fx = fixture(("pool", "backup"), rng.randint(0, 4))
    tree = [d.name for d in fx.datasets]
    acl_options: list[dict[str, str] | None] = [None, {"pool*": "pool"}, {"|": "pool"}]
    acl_options += [{t + "*": "pool"} for t in tree] + [{t: "pool"} for t in tree]
    push = fixture(("pool",), rng.randint(0, 3))
    push_tree = ["pool", *[d.name for d in push.datasets]]
    push_filter = {rng.choice(push_tree) + rng.choice(("*", "")): "pool"}
    sink = rng.choice([None, {"pool*": SINK_ROOT}, {"|": SINK_ROOT}])
    return Setup(fx, rng.choice(acl_options), push, push_filter, sink)
