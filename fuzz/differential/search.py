"""Searching for a disagreement with Hypothesis, shrinking it, saving a replayable reproducer.

:func:`search` is the engine both roles share: it hands ``hypothesis.find`` a strategy and a
condition that runs one trial. The first disagreement ends the search phase; Hypothesis then
shrinks the input (fewer steps, simpler requests; fewer and simpler server deviations) while
the implementation keeps disagreeing. Trials are cached by input, so nothing is ever run
twice (a flaky implementation cannot confuse the shrinker), and shrinking has its own time
budget: once it is spent, untried candidates count as agreeing and Hypothesis settles on the
smallest disagreement found so far.

:func:`differential_fuzz` is the server role (conversations against a server, one
:class:`~fuzz.differential.runner.Trial` each; the client role is
:mod:`fuzz.differential.client_search`). Its reproducer is the *reference's* transcript of
the minimal conversation (fixture, profile and identity in its header): replaying it against
the implementation with ``zrepl-conformance replay FILE --server-cmd CMD --level semantic``
fails at the same record, against the reference it passes. Next to it: ``.actual.jsonl``
(what the implementation did) and ``.txt`` (the steps, the disagreement, the stderr).
"""

from __future__ import annotations

import random
import shlex
import time
import warnings
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Generic, TypeVar

from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.control import current_build_context
from hypothesis.database import ExampleDatabase, choices_to_bytes
from hypothesis.errors import HypothesisWarning, NoSuchExample, Unsatisfiable
from hypothesis.strategies import SearchStrategy

from bytestreamrpc.deviations import Deviation
from iut import FixtureCache, IUTSpec
from recordings.format import C2S, Header, Transcript, write_transcript

from ..database import differential_key
from ..strategies import Conversation, conversations
from .known import KnownMet
from .runner import ServerPool, Setting, Trial, compare, explain_server, run_iut, run_reference

__all__ = ["DEFAULT_EXAMPLES", "FuzzReport", "differential_fuzz", "save_finding", "search"]

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


def _size(conv: Conversation) -> tuple[int, ...]:
    return len(conv.steps), len(conv.wire())


T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass
class FuzzReport(Generic[T]):
    """How a search went; ``T`` is the trial type of the role (server or client)."""

    trials: int = 0
    seconds: float = 0.0
    seed: int = 0
    finding: T | None = None
    first: T | None = None
    """The first disagreeing trial (before shrinking)."""
    files: list[Path] = field(default_factory=list)
    shrink_trials: int = 0
    known: list[KnownMet[T]] = field(default_factory=list)
    """The known deviations met (§deviations explained the disagreement), first met first."""

    def note_known(self, row: Deviation, result: T, said: str) -> None:
        """Count one trial that showed ``row`` (the first one is kept as the example)."""
        met = next((k for k in self.known if k.row == row), None)
        if met is None:
            self.known.append(KnownMet(row, 1, self.trials, result, said))
        else:
            met.count += 1


Reporter = Callable[[str], None]


def search(
    strategy: SearchStrategy[K],
    run: Callable[[K], T],
    verdict: Callable[[T], str | None],
    size: Callable[[K], tuple[int, ...]],
    *,
    examples: int | None = None,
    seconds: float | None = None,
    seed: int | None = None,
    shrink_seconds: float = DEFAULT_SHRINK_SECONDS,
    report: Reporter | None = None,
    noun: str = "conversations",
    explained_by: Callable[[T], tuple[Deviation, str] | None] = lambda _t: None,
    database: ExampleDatabase | None = None,
    database_key: bytes = b"",
) -> FuzzReport[T]:
    """Run generated inputs until one disagrees, then shrink it; see the module docstring.

    ``run`` is one trial; ``verdict`` its disagreement's headline (``None``: they agree);
    ``size`` orders disagreeing inputs (the smallest is kept when shrinking runs out);
    ``explained_by`` the §deviations row that explained a trial's disagreement and what the
    comparison said (such a trial agrees for the search and is counted in
    :attr:`FuzzReport.known`). With a ``database`` (``--redis``), the disagreements stored
    under ``database_key`` by earlier searches, here or on other machines, are tried first,
    and what this search finds is stored there.
    """
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    out: FuzzReport[T] = FuzzReport(seed=seed)
    budget = examples if examples is not None else (10**9 if seconds else DEFAULT_EXAMPLES)
    start = time.monotonic()
    deadline = start + seconds if seconds else None
    trials = _Trials(out, run, verdict, size, explained_by, report, noun, shrink_seconds,
                     start, deadline)  # fmt: skip
    config = settings(
        max_examples=budget,
        database=database,
        deadline=None,
        phases=[*([Phase.reuse] if database is not None else []), Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    disagrees = trials.disagrees
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HypothesisWarning)  # long reprs of big inputs
            if database is None:
                minimal = find(strategy, disagrees, settings=config, random=random.Random(seed))
            else:
                minimal = _find_sharing(strategy, disagrees, config, seed, database, database_key)
        out.finding = trials.tried[minimal][0]
    except (NoSuchExample, Unsatisfiable, _OutOfTime, _Enough):
        pass  # out.finding: the smallest disagreement seen, if any
    finally:
        out.seconds = time.monotonic() - start
    return out


@dataclass
class _Trials(Generic[K, T]):
    """The condition :func:`search` hands Hypothesis (:meth:`disagrees`), with what it keeps
    between calls: every trial by input (so none runs twice), the smallest disagreement, and
    the budgets (search until ``deadline``, then ``shrink_seconds`` after the first
    disagreement)."""

    out: FuzzReport[T]
    run: Callable[[K], T]
    verdict: Callable[[T], str | None]
    size: Callable[[K], tuple[int, ...]]
    explained_by: Callable[[T], tuple[Deviation, str] | None]
    report: Reporter | None
    noun: str
    shrink_seconds: float
    start: float
    deadline: float | None
    tried: dict[K, tuple[T, str | None]] = field(default_factory=dict)
    best: list[K] = field(default_factory=list)
    shrink_until: float = 0.0

    def disagrees(self, item: K) -> bool:
        """Whether ``item``'s trial disagrees; raises :class:`_OutOfTime` / :class:`_Enough`
        when the search / shrink budget is spent."""
        known = self.tried.get(item)
        if known is not None:
            return known[1] is not None
        out = self.out
        now = time.monotonic()
        if out.first is not None:
            if now > self.shrink_until:
                # Shrink budget spent. Returning False would let Hypothesis walk all its
                # remaining shrink passes (minutes of bookkeeping on long inputs).
                raise _Enough
            out.shrink_trials += 1
        elif self.deadline is not None and now > self.deadline:
            raise _OutOfTime
        result = self.run(item)
        headline = self.verdict(result)
        self.tried[item] = (result, headline)
        out.trials += 1
        self._record(item, result, headline)
        return headline is not None

    def _record(self, item: K, result: T, headline: str | None) -> None:
        """Count a known deviation, keep the smallest disagreement, start the shrink budget
        at the first one, and report progress."""
        out, report = self.out, self.report
        explained = self.explained_by(result) if headline is None else None
        if explained is not None:
            if report and not any(k.row == explained[0] for k in out.known):
                report(f"known deviation in trial {out.trials}: {explained[0].section}; going on")
            out.note_known(explained[0], result, explained[1])
        if headline is not None and (not self.best or self.size(item) < self.size(self.best[0])):
            self.best[:] = [item]
            out.finding = result  # the smallest disagreement so far
        if headline is not None and out.first is None:
            out.first = result
            self.shrink_until = time.monotonic() + self.shrink_seconds
            if report:
                report(f"disagreement after {out.trials} trial(s): {headline}; shrinking")
        elif report and out.first is None and out.trials % 10 == 0:
            spent = time.monotonic() - self.start
            report(f"{out.trials} {self.noun}, no disagreement yet ({spent:.0f} s)")


class _Found(Exception):
    pass


class _ReplayOnly(ExampleDatabase):
    """Reads the shared database, writes nothing: Hypothesis would also store the
    candidate a search stopped at (``_Enough``), which is no disagreement."""

    def __init__(self, shared: ExampleDatabase) -> None:
        super().__init__()
        self.shared = shared

    def fetch(self, key: bytes) -> Iterable[bytes]:
        return self.shared.fetch(key)

    def save(self, key: bytes, value: bytes) -> None:
        pass

    def delete(self, key: bytes, value: bytes) -> None:
        pass


def _find_sharing(
    strategy: SearchStrategy[K],
    condition: Callable[[K], bool],
    config: settings,
    seed: int,
    database: ExampleDatabase,
    database_key: bytes,
) -> K:
    """``hypothesis.find`` seeded, replaying ``database_key`` of ``database`` first, and
    storing there the last (smallest) disagreement. ``find(random=...)`` seeds through
    ``@seed``, which switches the database off: the seed is set as ``@seed`` sets it."""
    last: list[K] = []
    found: list[bytes] = []

    @settings(config, database=_ReplayOnly(database), report_multiple_bugs=False)
    @given(strategy)
    def test(value: K) -> None:
        if condition(value):
            last[:] = [value]
            found[:] = [choices_to_bytes(current_build_context().data.choices)]
            raise _Found

    test._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    test._hypothesis_internal_database_key = database_key  # type: ignore[attr-defined]
    try:
        test()
    except _Found:
        return last[0]
    finally:
        if found:
            database.save(database_key, found[0])
    raise NoSuchExample("no disagreement")


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
    database: ExampleDatabase | None = None,
) -> FuzzReport[Trial]:
    """Fuzz ``spec``'s server against the reference; see the module docstring."""
    s = setting or Setting.make()
    own_cache = cache is None
    fixtures = cache or FixtureCache()
    pool = ServerPool(spec, fixtures, s)

    def trial(conv: Conversation) -> Trial:
        ref, ref_exit = run_reference(conv, s, timeout)
        iut = run_iut(conv, pool, ref.answers, timeout)
        found = compare(ref, ref_exit, iut)
        row = None if found is None else explain_server(ref, iut)
        if row is None or found is None:
            return Trial(conv, ref, ref_exit, iut, found)
        return Trial(conv, ref, ref_exit, iut, known=(row, found))

    def verdict(t: Trial) -> str | None:
        return None if t.disagreement is None else t.disagreement.headline()

    try:
        return search(
            conversations(world=s.world(), max_steps=max_steps), trial, verdict, _size,
            examples=examples, seconds=seconds, seed=seed, shrink_seconds=shrink_seconds,
            report=report, explained_by=Trial.explained, database=database,
            database_key=differential_key("server", s.fixture, s.profile, max_steps),
        )  # fmt: skip
    finally:
        pool.close()
        if own_cache:
            fixtures.close()


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
