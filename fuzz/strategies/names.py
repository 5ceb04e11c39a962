"""Dataset paths and version names: valid ones, and near-valid ones with exactly one defect.

Valid means what both sides of the protocol accept: the original's ``zfs.NewDatasetPath``
(no ``@ # | TAB SPACE``) and the real ZFS name rules the fake enforces
(``fakes.zfs.names.invalid_name_reason``). Near-valid paths differ from a valid one by one
defect a careless implementation might let through (an empty component, ``..``, an embedded
``/`` or ``@``, a non-ASCII letter, a name over 255 bytes); they are what ACL-bypass and
path-confusion bugs are made of (docs/PROTOCOL.md §msg.dataset-path,
§deviations.path-validation).
"""

from __future__ import annotations

import functools
from typing import Final

from hypothesis import strategies as st

from bytestreamrpc.messages import DatasetPath

from ._validation import check_sizes

__all__ = [
    "COMPONENT_ALPHABET",
    "dataset_components",
    "dataset_paths",
    "near_valid_dataset_paths",
    "version_names",
]

COMPONENT_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:"
"""Characters valid in a ZFS name component that ``zfs.NewDatasetPath`` also accepts."""

_COMMON: Final = ("pool", "data", "home", "db", "backup", "zrepl", "a", "b", "x")
_DEFECT_CHARS: Final = ("/", "@", "#", "|", "\t", " ", "é", "\x00", "*", "\u017f")


def dataset_components(*, min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    """One valid name component: ``COMPONENT_ALPHABET`` only, never ``.`` or ``..``.

    >>> dataset_components().example()  # doctest: +SKIP
    'db'
    """
    lo, hi = check_sizes(min_size, max_size, floor=1, ceiling=200)
    return _components(lo, hi)


@functools.lru_cache(maxsize=256)
def _components(lo: int, hi: int) -> st.SearchStrategy[str]:
    # Built once per size range: Hypothesis analyses filter lambdas when a strategy is made.
    common = [c for c in _COMMON if lo <= len(c) <= hi]
    free = st.text(COMPONENT_ALPHABET, min_size=lo, max_size=hi).filter(_not_dots)
    return st.one_of(st.sampled_from(common), free) if common else free


def _not_dots(c: str) -> bool:
    return c not in (".", "..")


def dataset_paths(
    *, min_size: int = 1, max_size: int = 4, pool: str | None = None
) -> st.SearchStrategy[DatasetPath]:
    """A valid :class:`DatasetPath` of ``min_size..max_size`` components.

    Its text form round-trips through ``DatasetPath.from_string`` and (when non-empty) is a
    valid ZFS filesystem name. ``pool`` fixes the first component.

    >>> dataset_paths(pool="pool").example()  # doctest: +SKIP
    DatasetPath(components=('pool', 'data'))
    """
    lo, hi = check_sizes(min_size, max_size, floor=0, ceiling=16)
    if pool is not None:
        if not isinstance(pool, str) or not pool or any(c not in COMPONENT_ALPHABET for c in pool):
            from hypothesis.errors import InvalidArgument

            raise InvalidArgument(f"pool={pool!r} must be one valid name component")
        if hi == 0:
            from hypothesis.errors import InvalidArgument

            raise InvalidArgument("pool= needs max_size >= 1")
        rest = st.lists(dataset_components(), min_size=max(lo - 1, 0), max_size=hi - 1)
        return rest.map(lambda cs: DatasetPath((pool, *cs)))
    return st.lists(dataset_components(), min_size=lo, max_size=hi).map(
        lambda cs: DatasetPath(tuple(cs))
    )


_DEFECTS: Final = st.sampled_from(("empty", "dot", "dotdot", "char", "long"))
_DEFECT_CHAR: Final = st.sampled_from(_DEFECT_CHARS)  # both built once, not per draw


@st.composite
def _near_valid(draw: st.DrawFn, lo: int, hi: int) -> DatasetPath:
    components = list(draw(st.lists(dataset_components(), min_size=max(lo, 1), max_size=hi)))
    at = draw(st.integers(0, len(components) - 1))
    defect = draw(_DEFECTS)
    if defect == "empty":
        components.insert(draw(st.integers(0, len(components))), "")
    elif defect == "dot":
        components[at] = "."
    elif defect == "dotdot":
        components[at] = ".."
    elif defect == "char":
        word = components[at]
        pos = draw(st.integers(0, len(word)))
        components[at] = word[:pos] + draw(_DEFECT_CHAR) + word[pos:]
    else:
        components[at] = components[at] + "x" * 256
    return DatasetPath(tuple(components))


def near_valid_dataset_paths(
    *, min_size: int = 1, max_size: int = 4
) -> st.SearchStrategy[DatasetPath]:
    """A path one defect away from valid (see the module docstring).

    Every result either fails to round-trip through ``DatasetPath.from_string`` or is
    rejected by the ZFS name rules; a handler must refuse it (error 5), never map it.

    >>> near_valid_dataset_paths().example()  # doctest: +SKIP
    DatasetPath(components=('pool', '', 'data'))
    """
    lo, hi = check_sizes(min_size, max_size, floor=1, ceiling=16)
    return _near_valid(lo, hi)


def version_names(*, min_size: int = 1, max_size: int = 24) -> st.SearchStrategy[str]:
    """A valid snapshot/bookmark short name (the part after ``@`` or ``#``).

    Includes zrepl's own ``zrepl_YYYYmmdd_HHMMSS_000`` style.
    """
    lo, hi = check_sizes(min_size, max_size, floor=1, ceiling=200)
    return _version_names(lo, hi)


def _stamp(day: int, hour: int) -> str:
    return f"zrepl_201705{day:02d}_{hour:02d}0000_000"


@functools.lru_cache(maxsize=256)
def _version_names(lo: int, hi: int) -> st.SearchStrategy[str]:
    free = st.text(COMPONENT_ALPHABET, min_size=lo, max_size=hi).filter(_not_dots)
    if lo <= len(_stamp(1, 0)) <= hi:
        return st.one_of(st.builds(_stamp, st.integers(1, 28), st.integers(0, 23)), free)
    return free
