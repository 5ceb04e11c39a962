"""Searching for a disagreement with Hypothesis, shrinking it, saving a replayable reproducer.

:func:`differential_fuzz` hands ``hypothesis.find`` the conversation strategy and a condition
that runs one :class:`~fuzz.differential.runner.Trial`. The first disagreement ends the
search phase; Hypothesis then shrinks the conversation (fewer steps, simpler requests) while
the implementation keeps disagreeing. Trials are cached by conversation, so no conversation
is ever run twice (a flaky implementation cannot confuse the shrinker), and shrinking has its
own time budget: once it is spent, untried candidates count as agreeing and Hypothesis
settles on the smallest disagreement found so far.

The reproducer is the *reference's* transcript of the minimal conversation (fixture, profile
and identity in its header): replaying it against the implementation with
``zrepl-conformance replay FILE --server-cmd CMD --level semantic`` fails at the same record,
against the reference it passes. Next to it: ``.actual.jsonl`` (what the implementation
did) and ``.txt`` (the steps, the disagreement, the implementation's stderr).
"""

from __future__ import annotations

import random
import shlex
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import HypothesisWarning, NoSuchExample, Unsatisfiable

from iut import FixtureCache, IUTSpec
from recordings.format import C2S, Header, Transcript, write_transcript

from ..strategies import Conversation, conversations
from .runner import ServerPool, Setting, Trial, compare, run_iut, run_reference

__all__ = ["DEFAULT_EXAMPLES", "FuzzReport", "differential_fuzz", "save_finding"]

DEFAULT_EXAMPLES: Final = 60
"""Conversations tried when neither ``--examples`` nor ``--time`` is given."""
DEFAULT_SHRINK_SECONDS: Final = 20.0


class _OutOfTime(BaseException):
    """The search budget ran out before any disagreement.

    A ``BaseException``: Hypothesis passes those straight through instead of treating them
    as a failure of the condition to be shrunk.
    """


class _Enough(BaseException):
    """The shrink budget is spent: stop Hypothesis and keep the best disagreement so far."""


def _size(conv: Conversation) -> tuple[int, int]:
    return len(conv.steps), len(conv.wire())


@dataclass
class FuzzReport:
    trials: int = 0
    seconds: float = 0.0
    seed: int = 0
    finding: Trial | None = None
    first: Trial | None = None
    """The first disagreeing trial (before shrinking)."""
    files: list[Path] = field(default_factory=list)
    shrink_trials: int = 0


Reporter = Callable[[str], None]


def differential_fuzz(
    spec: IUTSpec,
    *,
    setting: Setting | None = None,
    examples: int | None = None,
    seconds: float | None = None,
    seed: int | None = None,
    timeout: float = 2.0,
    max_steps: int = 6,
    shrink_seconds: float = DEFAULT_SHRINK_SECONDS,
    cache: FixtureCache | None = None,
    report: Reporter | None = None,
) -> FuzzReport:
    """Fuzz ``spec``'s server against the reference; see the module docstring."""
    s = setting or Setting.make()
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    out = FuzzReport(seed=seed)
    budget = examples if examples is not None else (10**9 if seconds else DEFAULT_EXAMPLES)
    start = time.monotonic()
    deadline = start + seconds if seconds else None
    own_cache = cache is None
    fixtures = cache or FixtureCache()
    pool = ServerPool(spec, fixtures, s)
    tried: dict[Conversation, Trial] = {}
    state = {"shrink_until": 0.0, "generated": 0}

    def trial(conv: Conversation) -> Trial:
        ref, ref_exit = run_reference(conv, s, timeout)
        iut = run_iut(conv, pool, ref.answers, timeout)
        t = Trial(conv, ref, ref_exit, iut, compare(ref, ref_exit, iut))
        out.trials += 1
        return t

    def disagrees(conv: Conversation) -> bool:
        known = tried.get(conv)
        if known is not None:
            return known.disagreement is not None
        now = time.monotonic()
        if out.first is not None:
            if now > state["shrink_until"]:
                # Shrink budget spent. Returning False would let Hypothesis walk all its
                # remaining shrink passes (minutes of bookkeeping on long conversations).
                raise _Enough
            out.shrink_trials += 1
        else:
            if deadline is not None and now > deadline:
                raise _OutOfTime
            state["generated"] += 1
        t = tried[conv] = trial(conv)
        if t.disagreement is not None and (
            out.finding is None or _size(conv) < _size(out.finding.conversation)
        ):
            out.finding = t  # the smallest disagreement so far
        if t.disagreement is not None and out.first is None:
            out.first = t
            state["shrink_until"] = time.monotonic() + shrink_seconds
            if report:
                what = t.disagreement.headline()
                report(f"disagreement after {out.trials} trial(s): {what}; shrinking")
        elif report and out.first is None and out.trials % 10 == 0:
            spent = time.monotonic() - start
            report(f"{out.trials} conversations, no disagreement yet ({spent:.0f} s)")
        return t.disagreement is not None

    strategy = conversations(world=s.world(), max_steps=max_steps)
    config = settings(
        max_examples=budget,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HypothesisWarning)  # long reprs of big steps
            minimal = find(strategy, disagrees, settings=config, random=random.Random(seed))
        out.finding = tried[minimal]
    except (NoSuchExample, Unsatisfiable, _OutOfTime, _Enough):
        pass  # out.finding: the smallest disagreement seen, if any
    finally:
        pool.close()
        if own_cache:
            fixtures.close()
        out.seconds = time.monotonic() - start
    return out


def _steps_text(conv: Conversation) -> str:
    return "\n".join(conv.describe())


def save_finding(
    trial: Trial, directory: Path, spec: IUTSpec, setting: Setting, *, name: str | None = None
) -> list[Path]:
    """Write the reproducer transcript, the implementation's transcript and a summary."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = name or time.strftime("finding-%Y%m%d-%H%M%S")
    assert trial.disagreement is not None
    title = f"fuzz finding: {trial.disagreement.headline()}"
    header = Header(
        what="fuzz",
        fixture=setting.fixture,
        profile=dict(setting.profile),
        identity=setting.identity,
        title=title[:300],
        full=(C2S,),
    )
    ref_path = directory / f"{stem}.jsonl"
    write_transcript(ref_path, Transcript(header, list(trial.reference.records)))
    act_header = Header(
        what="fuzz-actual", fixture=setting.fixture, profile=dict(setting.profile),
        identity=setting.identity, title=f"what {spec.name or 'the implementation'} did",
        command=tuple(spec.server), full=(C2S,),
    )  # fmt: skip
    act_path = directory / f"{stem}.actual.jsonl"
    write_transcript(act_path, Transcript(act_header, list(trial.iut.played.records)))
    txt = directory / f"{stem}.txt"
    txt.write_text(
        f"{title}\n\nimplementation: {shlex.join(spec.server)}\n"
        f"fixture: {setting.fixture}\nidentity: {setting.identity}\n\n"
        f"conversation ({len(trial.conversation.steps)} steps):\n"
        f"{_steps_text(trial.conversation)}\n\n"
        f"implementation exit: {trial.iut.status.describe()}\n"
        f"implementation stderr (tail):\n{trial.iut.stderr[-4000:]}\n",
        encoding="utf-8",
    )
    return [ref_path, act_path, txt]
