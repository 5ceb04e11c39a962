"""What a drawn stateful run's steps are: actions and their arguments, drawn in as few
Hypothesis draws as possible over the current model (:class:`_Choices`, :func:`_steps`).

Part of the stateful fuzzer (:mod:`fuzz.stateful` has the overview and the drivers). It is
its own job because it is where the speed of drawn runs is won or lost: every draw costs
tens of microseconds against a step's budget of about a millisecond, so arguments come from
precomputed weighted lists and a whole run of steps from one draw.
"""

from __future__ import annotations

from typing import Any, Final

from hypothesis import strategies as st

from bytestreamrpc.messages import DatasetPath, FilesystemVersion

from . import strategies as zst
from .model import ZfsModel
from .stateful_harness import _WEIGHTS, ACTIONS, Action
from .stateful_setup import _weighted

__all__ = ["Step"]

_ACTION_CHOICE: Final = st.sampled_from(
    [a for a, w in zip(ACTIONS, _WEIGHTS, strict=True) for _ in range(w)]
)
_BAD_VERSIONS: Final = st.sampled_from([v for v in range(256) if v != 1])
_GARBAGE: Final = st.one_of(st.binary(max_size=64), st.deferred(zst.transcript_mutations))
_GENERATED_PATHS: Final = st.one_of(zst.near_valid_dataset_paths(), zst.dataset_paths(pool="pool"))
_GENERATED_VERSIONS: Final = st.one_of(
    zst.filesystem_versions(), zst.near_valid_filesystem_versions()
)
_GENERATE: Final = DatasetPath(("\x00generate",))
"""Marks, in a list of choices, the slot that draws from a generative strategy instead."""
_GENERATE_VERSION: Final = FilesystemVersion("\x00generate", "", 0, 0)

# Arguments beside the model's own: absent but valid, one defect away from valid (both
# must be refused: §deviations.path-validation, §handler.transfer), and for versions also
# common names with edge-case GUIDs and CreateTXGs (a request names a version by type and
# name; the model says which are served). Drawn by index from these lists: a generative
# strategy costs 0.5-1.2 ms a draw, as much as a whole step, so it is only a rare slot
# (_GENERATE) for names nobody listed.
_REFUSED_PATHS: Final = tuple(
    DatasetPath(c)
    for c in (
        ("pool", "zz"), ("pool", "a", "zz"), ("backup", "a"), ("nopool",),
        ("pool", "a", "b", "c", "d"), (), ("pool", ""), ("", "pool"), ("pool", "."),
        ("pool", ".."), ("pool", "a@b"), ("pool", "a#b"), ("pool", "a|b"), ("pool", "a b"),
        ("pool", "a\tb"), ("pool", "a/b"), ("pool", "é"), ("pool", "a\x00"), ("pool", "*"),
        ("pool", "x" * 256),
    )
)  # fmt: skip
_REFUSED_VERSIONS: Final = tuple(
    FilesystemVersion(t, n, g, txg)
    for t, n, g, txg in (
        ("snapshot", "zz", 1, 1), ("bookmark", "zz", 1, 1), ("", "s0", 1, 1),
        ("Snapshot", "s0", 1, 1), ("filesystem", "s0", 1, 1), ("snapshot ", "s0", 1, 1),
        ("ſnapshot", "s0", 1, 1), ("snapshot", "", 1, 1), ("snapshot", ".", 1, 1),
        ("snapshot", "..", 1, 1), ("snapshot", "s0@s1", 1, 1), ("bookmark", "s0#s1", 1, 1),
        ("snapshot", "x" * 256, 1, 1), ("snapshot", "s0", 0, 0),
        ("snapshot", "s0", 2**64 - 1, 2**63), ("bookmark", "s1", 2**53 + 1, 2**64 - 1),
    )
)  # fmt: skip


class _Choices:
    """What a step may draw over one model's datasets and versions, built once per model
    (it changes only when a push lands): one weighted list per kind of argument, drawn
    with a single ``sampled_from`` each."""

    def __init__(self, model: ZfsModel) -> None:
        self.model = model
        known = [DatasetPath(tuple(n.split("/"))) for n in model.datasets]
        near = [DatasetPath((*p.components[:-1], p.components[-1] + "x")) for p in known]
        self._paths = st.sampled_from(
            _weighted((12, known), (1, near), (6, _REFUSED_PATHS), (1, [_GENERATE]))
        )
        self._every = [v for vs in model.versions.values() for v in vs]
        self._versions: dict[str, st.SearchStrategy[FilesystemVersion]] = {}
        self._arguments: dict[Action, st.SearchStrategy[tuple[Any, ...]]] = {}

    def path(self, draw: st.DrawFn) -> DatasetPath:
        """Mostly a dataset of the model, else a path it must refuse."""
        p = draw(self._paths)
        return draw(_GENERATED_PATHS) if p is _GENERATE else p

    def version(self, draw: st.DrawFn, path: DatasetPath) -> FilesystemVersion:
        """Mostly a version of ``path``, else another dataset's, its type swapped, or one
        that cannot exist."""
        key = "/".join(path.components)
        options = self._versions.get(key)
        if options is None:
            own = self.model.versions.get(key, [])
            swapped = [
                FilesystemVersion(
                    "bookmark" if v.type == "snapshot" else "snapshot", v.name, v.guid,
                    v.create_txg,
                )
                for v in own
            ]  # fmt: skip
            options = self._versions[key] = st.sampled_from(
                _weighted(
                    (11, own),
                    (3, self._every),
                    (1, swapped),
                    (4, _REFUSED_VERSIONS),
                    (1, [_GENERATE_VERSION]),
                )
            )
        v = draw(options)
        return draw(_GENERATED_VERSIONS) if v is _GENERATE_VERSION else v

    def arguments(self, action: Action) -> st.SearchStrategy[tuple[Any, ...]]:
        """The arguments of ``action`` alone (the state machine's rules draw these)."""
        found = self._arguments.get(action)
        if found is None:
            found = self._arguments[action] = _arguments(self, action)
        return found


def _draw_arguments(draw: st.DrawFn, c: _Choices, action: Action) -> tuple[Any, ...]:
    if action == Action.LIST_VERSIONS:
        return (c.path(draw),)
    if action == Action.INITIAL_TRANSFER:
        path = c.path(draw)
        return path, c.version(draw, path)
    if action == Action.INCREMENTAL_TRANSFER:
        path = c.path(draw)
        return path, c.version(draw, path), c.version(draw, path)
    if action == Action.BAD_PROTOCOL_VERSION:
        return (draw(_BAD_VERSIONS),)
    if action == Action.GARBAGE:
        return (draw(_GARBAGE),)
    return ()


_STOP: Final = "stop"
_NEXT_ACTION: Final = st.sampled_from(
    [_STOP, *[a for a, w in zip(ACTIONS, _WEIGHTS, strict=True) for _ in range(w)] * 3855]
)
"""The next step's action, or the end of the run: one draw from 2**16 slots, the first
of which stops. Generation rarely picks it (about 1 % of steps), so runs mostly take
``max_actions`` steps, as Hypothesis's own state machines do (they stop with probability
2**-16 a step), while the shrinker, which moves towards the first slot, can cut a failing
run short. One draw for both: every draw costs ~40 µs, a step's budget is ~1 ms."""
_MAY_CHANGE_MODEL: Final = frozenset({Action.PUSH, Action.GARBAGE})
"""Actions after which the model may differ, so later steps' choices must be redrawn."""

Step = tuple[Action, tuple[Any, ...]]
"""An action and its arguments."""


@st.composite
def _steps(draw: st.DrawFn, c: _Choices, most: int) -> tuple[list[Step], bool]:
    """Up to ``most`` steps, ending after the first one that may change the model; and
    whether the run stops there. One ``data.draw`` for all of them: each costs ~90 µs of
    Hypothesis bookkeeping beyond the values drawn, a tenth of a step's budget."""
    steps: list[Step] = []
    while len(steps) < most:
        action = draw(_NEXT_ACTION)
        if not isinstance(action, Action):  # _STOP
            return steps, True
        steps.append((action, _draw_arguments(draw, c, action)))
        if action in _MAY_CHANGE_MODEL:
            break
    return steps, False


@st.composite
def _arguments(draw: st.DrawFn, c: _Choices, action: Action) -> tuple[Any, ...]:
    return _draw_arguments(draw, c, action)
