"""Running cases against a target and turning what happened into a :class:`CaseResult`.

The runner owns the per-run resources (one fixture cache shared by the target and the
oracle, the fixture facts) and applies the contract around each case: ``exclude`` (EXCLUDED,
with the reason), a missing ``pull``/``push`` command (EXCLUDED), exit code 89 of any process
the case started (UNIMPLEMENTED), ``expect_fail`` (XFAIL, or FAIL on an unexpected pass), the
per-case timeout, and collecting every process's stderr. A case that hangs costs its own
timeout and nothing else; a case that crashes in the suite itself is reported, not raised.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from bytestreamrpc.deviations import Observed
from iut import FixtureCache, IUTSpec
from iut.process import ExitStatus

from .context import CaseContext, CaseError
from .facts import FixtureFacts
from .model import Case, CaseResult, Finding, Level, Verdict, verdict_from_findings
from .setups import fixture_path
from .targets import (
    THREAD_LOGS,
    Command,
    ConformanceTarget,
    InProcessTarget,
    ProcessTarget,
    StartSpec,
)

DEFAULT_CASE_TIMEOUT = 10.0
"""Seconds one case may take when neither ``--timeout`` nor the description says."""


@dataclass
class RunOptions:
    timeout: float | None = None
    strict: bool = False
    exclude: Mapping[str, str] = field(default_factory=dict)
    expect_fail: Mapping[str, str] = field(default_factory=dict)
    prefetch: bool = True
    """Start the next case's process while the current one runs (serial runs)."""
    wire_logs: bool = True
    """Render wire logs into results (reports need them; bulk runs may skip them)."""


def new_fixture_cache() -> FixtureCache:
    """A fixture cache on a memory file system when there is one (sandboxes are created and
    removed for every case; on a disk-backed /tmp that dominates a fast implementation's
    run)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return _ShmCache()
    return FixtureCache()


def shm_prefix(pid: int) -> str:
    """The name every /dev/shm directory of process ``pid`` starts with: /dev/shm is shared
    by every run on the machine, so what a run left behind is told apart by its process."""
    return f"zrepl-conformance-{pid}-"


class _ShmCache(FixtureCache):
    def __init__(self) -> None:
        self._shm = tempfile.TemporaryDirectory(prefix=shm_prefix(os.getpid()), dir="/dev/shm")
        super().__init__(self._shm.name)

    def close(self) -> None:
        super().close()
        self._shm.cleanup()


class Runner:
    """Runs cases against one target; reusable for a whole catalog run (thread-safe)."""

    def __init__(
        self,
        target: ConformanceTarget,
        options: RunOptions,
        cache: FixtureCache,
        *,
        oracle_cache: dict[object, object] | None = None,
        own_cache: bool = False,
    ) -> None:
        self.target = target
        self._own_cache = own_cache
        self.options = options
        self.cache = cache
        self.oracle = InProcessTarget(cache)
        self.oracle_cache = oracle_cache
        """Expected exchanges by case and script, shared by runs over several
        implementations (the expected answer does not depend on the implementation)."""
        self._facts: dict[str, FixtureFacts] = {}
        self._lock = threading.Lock()
        THREAD_LOGS.install()
        self._closed = False

    @classmethod
    def for_spec(cls, spec: IUTSpec | None, options: RunOptions) -> Runner:
        """A runner for a description (``None``: our reference in-process)."""
        cache = new_fixture_cache()
        target: ConformanceTarget = (
            InProcessTarget(cache) if spec is None else ProcessTarget(spec, cache)
        )
        if spec is not None:
            merged = RunOptions(
                timeout=options.timeout if options.timeout is not None else spec.timeout,
                strict=options.strict,
                exclude={**spec.exclude, **options.exclude},
                expect_fail={**spec.expect_fail, **options.expect_fail},
                prefetch=options.prefetch,
            )
            options = merged
        return cls(target, options, cache, own_cache=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.target.close()
        if self._own_cache:
            self.cache.close()
        THREAD_LOGS.uninstall()

    @property
    def timeout(self) -> float:
        t = self.options.timeout
        return DEFAULT_CASE_TIMEOUT if t is None else t

    def facts(self, fixture: str) -> FixtureFacts:
        with self._lock:
            facts = self._facts.get(fixture)
            if facts is None:
                facts = FixtureFacts(self.cache.master_state(fixture_path(fixture)))
                self._facts[fixture] = facts
            return facts

    def _start_spec(self, case: Case) -> StartSpec:
        from .setups import profile

        prof = profile(case.setup.profile)
        ident = case.setup.identity
        return StartSpec(
            case.setup.fixture,
            prof,
            ident if ident is not None else str(prof.get("identity") or ""),
        )

    # ------------------------------------------------------------------ one case
    def run(self, case: Case, next_case: Case | None = None) -> CaseResult:
        """Run ``case``; ``next_case`` (if known) lets the target start its process early."""
        start = time.monotonic()
        self.target.current_case = case.id
        if (
            self.options.prefetch
            and next_case is not None
            and next_case.id not in self.options.exclude
        ):
            with contextlib.suppress(Exception):  # only a hint; the case reports real failures
                self.target.prefetch(
                    cast(Command, next_case.needs), self._start_spec(next_case), next_case.id
                )
        result = CaseResult(
            case.id,
            case.section,
            str(case.level),
            str(case.role),
            case.family,
            case.title,
            Verdict.PASS,
        )
        reason = self.options.exclude.get(case.id)
        if reason is not None:
            result.verdict, result.reason = Verdict.EXCLUDED, reason
            return result
        if not self.target.has(cast(Command, case.needs)):
            result.verdict = Verdict.EXCLUDED
            result.reason = f"the implementation description has no '{case.needs}' command"
            return result
        ctx = CaseContext(
            case, self.target, self.oracle, self.facts, self.timeout, oracle_cache=self.oracle_cache
        )
        internal = ""
        try:
            case.run(ctx)
        except CaseError as exc:
            ctx.must(str(exc))
        except Exception:
            internal = traceback.format_exc()
        except BaseException:  # interrupted: leave no process and no sandbox behind
            ctx.finish_all()
            ctx.cleanup()
            raise
        infos = ctx.finish_all()
        if ctx.client_observed is not None and not internal:
            ctx.consult_deviations(0, Observed(), ctx.client_observed, "client")
        try:
            self._finalise(case, ctx, result, infos, internal)
        finally:
            ctx.cleanup()
        result.duration = time.monotonic() - start
        return result

    def _finalise(
        self,
        case: Case,
        ctx: CaseContext,
        result: CaseResult,
        infos: list[ExitStatus],
        internal: str,
    ) -> None:
        result.findings = list(ctx.findings)
        result.notes = list(ctx.notes)
        logs, hexes, errs, statuses = [], [], [], []
        multi = len(ctx.sessions) > 1
        for live, info in zip(ctx.sessions, infos, strict=True):
            head = f"== {live.label} ({live.session.command}) ==\n" if multi else ""
            if self.options.wire_logs:
                spec = live.spec
                lines = live.log.transcript_lines(
                    suite_is_client=live.session.command == "server",
                    scenario=case.id,
                    title=f"{case.section}: {case.title}",
                    fixture=spec.fixture if spec else None,
                    profile=dict(spec.profile) if spec else None,
                    identity=spec.identity if spec else None,
                )
                logs.append(head + "\n".join(lines))
                hexes.append(head + live.log.hexdump())
            statuses.append(info.describe())
            if live.session.stderr.strip():
                errs.append(head + live.session.stderr)
        result.wire_log = "\n".join(logs)
        result.wire_log_hex = "\n".join(hexes)
        result.stderr = "\n".join(errs)
        result.exit_status = ", ".join(statuses)
        if internal:
            result.verdict = Verdict.FAIL
            result.reason = "internal error in the suite while running this case"
            result.notes.append(internal)
            return
        if any(info.kind == "unimplemented" for info in infos):
            result.verdict = Verdict.UNIMPLEMENTED
            result.reason = "the implementation exited 89 (not implemented)"
            return
        verdict = verdict_from_findings(case.level, result.findings, self.options.strict)
        why_xfail = self.options.expect_fail.get(case.id)
        if why_xfail is not None:
            failed = verdict is Verdict.FAIL or (
                self.options.strict and verdict is Verdict.NON_STRICT
            )
            if failed:
                verdict = Verdict.XFAIL
                result.reason = f"expected to fail: {why_xfail}"
            else:
                result.findings.append(
                    Finding(
                        Level.MUST,
                        f"unexpected pass of an expect_fail case ({why_xfail})",
                        "a failure",
                        str(verdict),
                    )
                )
                verdict = Verdict.FAIL
                result.reason = "listed in expect_fail but did not fail"
        result.verdict = verdict
        if not result.reason and verdict in (Verdict.FAIL, Verdict.NON_STRICT):
            worst = max(result.findings, key=lambda f: f.level)
            result.reason = worst.what
