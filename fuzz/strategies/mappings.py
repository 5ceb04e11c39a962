"""Dataset mappings in the original's config syntax, and whole server profiles.

A mapping is a JSON object from left side to right side (docs/PROTOCOL.md §mapping):
``"a/b*"`` (glob), ``"a/b"`` (direct), ``"|"`` (any single source). Left sides are built
from the given source datasets so that generated ACLs actually cut through the tree: a glob
on a real prefix, a direct entry for a real dataset, a near miss (``a/bc*`` next to
``a/b``). Exec mappings are never generated (they start processes).
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from ._validation import check_sizes, check_strings, check_subset
from .names import dataset_paths

__all__ = ["MAPPING_KINDS", "mappings", "profiles"]

MAPPING_KINDS = ("glob", "direct", "wildcard")
_SINKS = (
    {"*": "backup/sink"},
    {"pool*": "backup/sink"},
    {"pool/data*": "backup/sink"},
    {"|": "backup/sink"},
)


def _prefixes(sources: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for s in sources:
        parts = s.split("/")
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p not in out:
                out.append(p)
    return out


@st.composite
def _left_side(draw: st.DrawFn, sources: tuple[str, ...], kinds: tuple[str, ...]) -> str:
    kind = draw(st.sampled_from(kinds))
    if kind == "wildcard":
        return "|"
    known = _prefixes(sources)
    any_path = dataset_paths(min_size=1, max_size=3).map(lambda p: p.to_string())
    use_known = bool(known) and draw(st.booleans())
    base: str = draw(st.sampled_from(known)) if use_known else draw(any_path)
    if draw(st.integers(0, 4)) == 0:
        base += draw(st.sampled_from(("x", "c", "_1")))  # a near miss of a real name
    if kind == "glob":
        return "*" if draw(st.integers(0, 5)) == 0 else base + "*"
    return base


@st.composite
def _mapping(
    draw: st.DrawFn,
    sources: tuple[str, ...],
    targets: tuple[str, ...],
    lo: int,
    hi: int,
    kinds: tuple[str, ...],
) -> dict[str, str]:
    n = draw(st.integers(lo, hi))
    out: dict[str, str] = {}
    for _ in range(n * 3):
        if len(out) >= n:
            break
        left = draw(_left_side(sources, kinds))
        root = draw(st.sampled_from(targets))
        tail = draw(dataset_paths(min_size=0, max_size=2)).to_string()
        out.setdefault(left, f"{root}/{tail}" if tail else root)
    return out


def mappings(
    *,
    sources: Sequence[str] = ("pool/data", "pool/data/home", "pool/vol1"),
    targets: Sequence[str] = ("backup",),
    min_size: int = 0,
    max_size: int = 3,
    kinds: Sequence[str] = MAPPING_KINDS,
) -> st.SearchStrategy[dict[str, str]]:
    """A mapping object ``fakes.mapping.parse_mapping`` accepts, built around ``sources``.

    >>> mappings(sources=["pool/data"], max_size=2).example()  # doctest: +SKIP
    {'pool/data*': 'backup/x', '|': 'backup'}
    """
    src = check_strings(sources, "sources", allow_empty=True)
    tgt = check_strings(targets, "targets")
    lo, hi = check_sizes(min_size, max_size, ceiling=64)
    which = check_subset(kinds, "kinds", MAPPING_KINDS)
    return _mapping(src, tgt, lo, hi, which)  # type: ignore[arg-type]


@st.composite
def _profile(
    draw: st.DrawFn, sources: tuple[str, ...], identities: tuple[str, ...]
) -> dict[str, object]:
    identity = draw(st.sampled_from(identities))
    prof: dict[str, object] = {"identity": identity}
    if draw(st.integers(0, 5)):
        prof["pull_acl"] = draw(mappings(sources=sources, targets=("pool",), min_size=1))
    sinks: dict[str, object] = {}
    for who in draw(st.lists(st.sampled_from(identities), unique=True, max_size=len(identities))):
        sinks[who] = dict(draw(st.sampled_from(_SINKS)))
    prof["sinks"] = sinks
    prof["pull_mapping"] = draw(mappings(sources=sources, targets=("backup/pulled",)))
    prof["push_filter"] = draw(mappings(sources=sources, targets=("pool",)))
    return prof


def profiles(
    *,
    sources: Sequence[str] = ("pool/data", "pool/data/home", "pool/vol1"),
    identities: Sequence[str] = ("alice", "bob", "local", ""),
) -> st.SearchStrategy[dict[str, object]]:
    """A profile object (``identity``, ``pull_acl``, ``sinks``, ``pull_mapping``,
    ``push_filter``) that ``fakes.profile.profile_from_obj`` accepts; sometimes without a
    pull ACL (§handler.no-acl), sometimes with the reserved identities ``local`` and ``""``.
    """
    src = check_strings(sources, "sources", allow_empty=True)
    ids = check_strings(identities, "identities")
    return _profile(src, ids)
