"""Our reference passes every case of the catalog: in-process and as real subprocesses.

PASS everywhere, INFO only where the case itself is INFO-level; never FAIL or NON-STRICT.
The subprocess run starts ``zrepl-conformance serve --stdio`` (and the reference pull/push
jobs) exactly as any implementation is started; it is split by family so ``-n 2`` spreads it.
"""

from __future__ import annotations

import pytest

from conformance.catalog import all_cases
from conformance.model import FAMILIES, CaseResult, Level, Verdict
from conformance.report.console import render_failure
from conformance.runner import Runner, RunOptions
from iut import reference_spec


def _run(runner: Runner, family: str | None = None) -> list[CaseResult]:
    cases = [c for c in all_cases() if family is None or c.family == family]
    nexts = [*cases[1:], None]
    try:
        return [runner.run(c, n) for c, n in zip(cases, nexts, strict=True)]
    finally:
        runner.close()


def _assert_all_pass(results: list[CaseResult]) -> None:
    assert results
    bad = [r for r in results if r.verdict not in (Verdict.PASS, Verdict.INFO)]
    assert not bad, "\n\n".join(render_failure(r) for r in bad)
    for r in results:
        assert (r.verdict is Verdict.INFO) == (r.level == str(Level.INFO)), r.case_id
        assert r.exit_status, f"{r.case_id}: no implementation status recorded"


def test_reference_in_process_passes_every_case() -> None:
    results = _run(Runner.for_spec(None, RunOptions()))
    _assert_all_pass(results)
    assert len(results) == len(all_cases())


@pytest.mark.parametrize("family", FAMILIES)
def test_reference_subprocess_passes_every_case(family: str) -> None:
    results = _run(Runner.for_spec(reference_spec(), RunOptions()), family)
    _assert_all_pass(results)
    # every case talked to a real process: its transcript is in the result
    assert all(r.wire_log for r in results), [r.case_id for r in results if not r.wire_log]
