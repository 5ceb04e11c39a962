"""Running cases against a target and turning what happened into a :class:`CaseResult`.

The runner owns the per-run resources (one fixture cache shared by the target and the
oracle, the fixture facts) and applies the contract around each case: ``exclude`` (EXCLUDED,
with the reason), a missing ``pull``/``push`` command (EXCLUDED), exit code 89 of any process
the case started (UNIMPLEMENTED), ``expect_fail`` (XFAIL, or FAIL on an unexpected pass), the
per-case timeout, and collecting every process's stderr. A case that hangs costs its own
timeout and nothing else; a case that crashes in the suite itself is reported, not raised.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field

from iut import FixtureCache, IUTSpec

from .context import CaseContext, CaseError
from .facts import FixtureFacts
from .model import Case, CaseResult, Finding, Level, Verdict, verdict_from_findings
from .setups import fixture_path
from .targets import InProcessTarget, ProcessTarget, Target

DEFAULT_CASE_TIMEOUT = 10.0
"""Seconds one case may take when neither ``--timeout`` nor the description says."""


@dataclass
class RunOptions:
    timeout: float | None = None
    strict: bool = False
    exclude: Mapping[str, str] = field(default_factory=dict)
    expect_fail: Mapping[str, str] = field(default_factory=dict)


class Runner:
    """Runs cases against one target; reusable for a whole catalog run (thread-safe)."""

    def __init__(self, target: Target, options: RunOptions, cache: FixtureCache) -> None:
        self.target = target
        self.options = options
        self.cache = cache
        self.oracle = InProcessTarget(cache)
        self._facts: dict[str, FixtureFacts] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_spec(cls, spec: IUTSpec | None, options: RunOptions) -> Runner:
        """A runner for a description (``None``: our reference in-process)."""
        cache = FixtureCache()
        target: Target = InProcessTarget(cache) if spec is None else ProcessTarget(spec, cache)
        if spec is not None:
            merged = RunOptions(
                timeout=options.timeout if options.timeout is not None else spec.timeout,
                strict=options.strict,
                exclude={**spec.exclude, **options.exclude},
                expect_fail={**spec.expect_fail, **options.expect_fail},
            )
            options = merged
        return cls(target, options, cache)

    def close(self) -> None:
        self.target.close()
        self.cache.close()

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

    # ------------------------------------------------------------------ one case
    def run(self, case: Case) -> CaseResult:
        start = time.monotonic()
        result = CaseResult(
            case.id, case.section, str(case.level), str(case.role), case.family, case.title,
            Verdict.PASS,
        )
        reason = self.options.exclude.get(case.id)
        if reason is not None:
            result.verdict, result.reason = Verdict.EXCLUDED, reason
            return result
        if not self.target.has(case.needs):  # type: ignore[arg-type]
            result.verdict = Verdict.EXCLUDED
            result.reason = f"the implementation description has no '{case.needs}' command"
            return result
        ctx = CaseContext(case, self.target, self.oracle, self.facts, self.timeout)
        internal = ""
        try:
            case.run(ctx)
        except CaseError as exc:
            ctx.must(str(exc))
        except Exception:
            internal = traceback.format_exc()
        infos = ctx.finish_all()
        try:
            self._finalise(case, ctx, result, infos, internal)
        finally:
            ctx.cleanup()
        result.duration = time.monotonic() - start
        return result

    def _finalise(
        self, case: Case, ctx: CaseContext, result: CaseResult, infos: list, internal: str
    ) -> None:
        result.findings = list(ctx.findings)
        result.notes = list(ctx.notes)
        logs, hexes, errs, statuses = [], [], [], []
        multi = len(ctx.sessions) > 1
        for live, info in zip(ctx.sessions, infos, strict=True):
            head = f"== {live.label} ({live.session.command}) ==\n" if multi else ""
            logs.append(head + live.log.transcript())
            hexes.append(head + live.log.hexdump())
            statuses.append(info.description)
            if info.stderr.strip():
                errs.append(head + info.stderr)
        result.wire_log = "\n".join(logs)
        result.wire_log_hex = "\n".join(hexes)
        result.stderr = "\n".join(errs)
        result.exit_status = ", ".join(statuses)
        if internal:
            result.verdict = Verdict.FAIL
            result.reason = "internal error in the suite while running this case"
            result.notes.append(internal)
            return
        if any(info.unimplemented for info in infos):
            result.verdict = Verdict.UNIMPLEMENTED
            result.reason = "the implementation exited 89 (not implemented)"
            return
        verdict = verdict_from_findings(case.level, result.findings)
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
                    Finding(Level.MUST, f"unexpected pass of an expect_fail case ({why_xfail})",
                            "a failure", str(verdict))
                )
                verdict = Verdict.FAIL
                result.reason = "listed in expect_fail but did not fail"
        result.verdict = verdict
        if not result.reason and verdict in (Verdict.FAIL, Verdict.NON_STRICT):
            worst = max(result.findings, key=lambda f: f.level)
            result.reason = worst.what
