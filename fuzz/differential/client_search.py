"""Client-role differential fuzzing: search, shrink, save a reproducer ``replay`` confirms.

:func:`client_fuzz` hands :func:`~.search.search` the server-script strategy
(:mod:`.script_gen`) and a trial that plays each script against our reference client and the
implementation's (:mod:`.client_runner`); the first disagreement is shrunk by Hypothesis
(fewer and simpler deviations, a pull rather than a push) within the shrink budget.

:func:`save_client_finding` writes the *reference client's* transcript of the minimal script:
its header names the fixture, profile and identity the client starts from, its server side
is stored whole (what ``replay`` plays to a client), and it ends with an ``outcome`` event
(the reference job's exit status and datasets). ``zrepl-conformance replay FILE --client-cmd
CMD --level semantic`` therefore gives the implementation exactly the server bytes of the
trial and checks its requests and then its outcome, so it fails where the trial failed and
passes against the reference. Next to it: ``.actual.jsonl`` (what the implementation did,
with its own outcome) and ``.txt`` (the script, the disagreement, stderr).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from pathlib import Path

from hypothesis.database import ExampleDatabase

from bytestreamrpc.messages import FilesystemRequest
from fakes.zfs import FakeZfs
from iut import FixtureCache, IUTSpec
from iut.process import ExitStatus
from recordings.format import S2C, Header, Record, Transcript, write_transcript
from recordings.outcome import ClientOutcome, State, state_of

from ..database import differential_key
from .client_runner import (
    ClientPool,
    ClientTrial,
    client_setting,
    compare_clients,
    explain_client,
    run_iut_client,
    run_reference_client,
)
from .runner import Disagreement, Setting
from .script import JOBS, Job, ServerScript
from .script_gen import server_scripts
from .search import DEFAULT_SHRINK_SECONDS, FuzzReport, Reporter, search

__all__ = ["client_fuzz", "client_jobs", "save_client_finding"]


def client_jobs(spec: IUTSpec) -> tuple[Job, ...]:
    """The jobs ``spec`` has a command for (``--client-cmd`` descriptions: the caller says)."""
    return tuple(job for job in JOBS if getattr(spec, job) is not None)


def _note_exit(d: Disagreement, status: ExitStatus | None, stderr: str) -> Disagreement:
    """Add an abnormal exit and the last stderr line to a wire finding (as the server role)."""
    if d.what.startswith("client outcome") or status is None or status.kind in ("ok", "failed"):
        return d
    last = next((ln for ln in reversed(stderr.strip().splitlines()) if ln.strip()), "")
    note = f" [implementation {status.describe()}" + (f": {last.strip()[:160]}" if last else "")
    return Disagreement(d.kind, d.what, d.detail + note + "]", d.index, d.side)


def client_fuzz(
    spec: IUTSpec,
    *,
    jobs: tuple[Job, ...] | None = None,
    setting: Setting | None = None,
    examples: int | None = None,
    seconds: float | None = None,
    seed: int | None = None,
    timeout: float = 5.0,
    max_rules: int = 6,
    shrink_seconds: float = DEFAULT_SHRINK_SECONDS,
    cache: FixtureCache | None = None,
    report: Reporter | None = None,
    database: ExampleDatabase | None = None,
) -> FuzzReport[ClientTrial]:
    """Fuzz ``spec``'s ``jobs`` (default: every client command it has) against ours."""
    chosen = jobs if jobs is not None else client_jobs(spec)
    if not chosen:
        raise ValueError(f"{spec.origin}: no pull or push command to fuzz")
    s = setting or client_setting()
    own_cache = cache is None
    fixtures = cache or FixtureCache()
    pool = ClientPool(spec, fixtures, s, chosen)
    world = s.world()
    offered = _offered(s)
    before = _fixture_state(s)

    def trial(script: ServerScript) -> ClientTrial:
        ref = run_reference_client(script, s, timeout)
        if ref.stalemate or ref.error is not None:
            return ClientTrial(script, ref, None)  # a script that tests nothing
        iut = run_iut_client(script, pool, s, timeout)
        found = compare_clients(ref, iut, timeout)
        if found is None:
            return ClientTrial(script, ref, iut)
        row = explain_client(ref, iut, before)
        if row is not None:
            return ClientTrial(script, ref, iut, known=(row, found))
        return ClientTrial(script, ref, iut, _note_exit(found, iut.status, iut.stderr))

    def verdict(t: ClientTrial) -> str | None:
        return None if t.disagreement is None else t.disagreement.headline()

    strategy = server_scripts(world=world, offered=offered, jobs=chosen, max_rules=max_rules)
    try:
        out = search(
            strategy, trial, verdict, ServerScript.size, examples=examples, seconds=seconds,
            seed=seed, shrink_seconds=shrink_seconds, report=report, noun="server scripts",
            explained_by=ClientTrial.explained, database=database,
            database_key=differential_key(f"client-{'+'.join(chosen)}", s.fixture, s.profile,
                                          max_rules),
        )  # fmt: skip
        if out.finding is not None:
            out.finding = _without_idle_rules(out.finding, trial)
        return out
    finally:
        pool.close()
        if own_cache:
            fixtures.close()


def _without_idle_rules(
    found: ClientTrial, trial: Callable[[ServerScript], ClientTrial]
) -> ClientTrial:
    """The finding's script without the rules neither run applied, if it still disagrees.

    Hypothesis removes rules one trial at a time within the shrink budget; rules whose
    request never came (or that an earlier rule for the same request shadows) are known
    to be idle from the trial itself, so one more trial checks them all at once.
    """
    applied = set(found.reference.applied) | set(found.iut.applied if found.iut else ())
    leaner = found.script.keeping(applied)
    if leaner == found.script:
        return found
    again = trial(leaner)
    return again if again.disagreement is not None else found


def _fixture_state(setting: Setting) -> State:
    """The client's datasets before its job (to tell whether the job changed them)."""
    zfs = FakeZfs.in_memory(setting.load_fixture())
    try:
        return state_of(zfs)
    finally:
        zfs.close()


def _offered(setting: Setting) -> tuple[str, ...]:
    """What the honest Filesystem answer lists: the datasets the profile's ACL shows."""
    from fakes.profile import profile_from_obj
    from fakes.reference import Reference
    from fakes.zfs import FakeZfs

    zfs = FakeZfs.in_memory(setting.load_fixture())
    try:
        handler = Reference(zfs, profile_from_obj(dict(setting.profile)), setting.identity)
        try:
            paths = handler.handler().handle_filesystem_request(FilesystemRequest()) or []
        except Exception:  # no ACL (a handler error): the honest answer is an error
            return ()
        return tuple(p.to_string() for p in paths)
    finally:
        zfs.close()


def save_client_finding(
    trial: ClientTrial,
    directory: Path,
    spec: IUTSpec,
    setting: Setting,
    *,
    name: str | None = None,
) -> list[Path]:
    """Write the reproducer transcript, the implementation's transcript and a summary."""
    assert trial.disagreement is not None and trial.iut is not None
    directory.mkdir(parents=True, exist_ok=True)
    stem = name or time.strftime("finding-%Y%m%d-%H%M%S")
    title = f"fuzz finding (client, {trial.script.job}): {trial.disagreement.headline()}"
    job = trial.script.job
    command = getattr(spec, job)

    def header(what: str, title: str) -> Header:
        return Header(
            what=what, fixture=setting.fixture, profile=dict(setting.profile),
            identity=setting.identity, title=title[:300], full=(S2C,),
            command=tuple(command) if command is not None else tuple(spec.server),
        )  # fmt: skip

    def with_outcome(records: list[Record], outcome: ClientOutcome | None) -> list[Record]:
        return [*records, outcome.record()] if outcome is not None else list(records)

    ref, iut = trial.reference, trial.iut
    ref_path = directory / f"{stem}.jsonl"
    reproducer = Transcript(header("fuzz-client", title), with_outcome(ref.records, ref.outcome))
    write_transcript(ref_path, reproducer)
    act_path = directory / f"{stem}.actual.jsonl"
    act_title = f"what {spec.name or 'the implementation'} did"
    actual = Transcript(header("fuzz-client-actual", act_title),
                        with_outcome(iut.records, iut.outcome))  # fmt: skip
    write_transcript(act_path, actual)
    txt = directory / f"{stem}.txt"
    cmd = shlex.join(command) if command is not None else shlex.join(spec.server)
    status = iut.status.describe() if iut.status is not None else "unknown"
    ref_outcome = ref.outcome.describe() if ref.outcome is not None else "unknown"
    txt.write_text(
        f"{title}\n\nimplementation ({job}): {cmd}\n"
        f"fixture: {setting.fixture}\nidentity: {setting.identity}\n\n"
        "server script:\n" + "\n".join(f"  {ln}" for ln in trial.script.describe()) + "\n\n"
        f"server side: {ref.ending} (reference run), {iut.ending} (implementation run)\n"
        f"reference client: {ref_outcome}\n"
        f"implementation exit: {status}\n"
        f"implementation stderr (tail):\n{iut.stderr[-4000:]}\n",
        encoding="utf-8",
    )
    return [ref_path, act_path, txt]
