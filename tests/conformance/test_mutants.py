"""The suite catches real bugs: every mutant of ``tests/mutants`` against the catalog.

A defective mutant (expect FAIL) must get at least one FAIL: the cases of its role run, its
own family first, until the first FAIL. A mutant whose defect violates only a SHOULD
(expect NON-STRICT) runs until its first NON-STRICT or FAIL, which must be a NON-STRICT. A
harmless variation (NO-FAIL) runs every case of its role and must get no FAIL. The committed
mutant × case-family matrix of docs/CONFORMANCE.md (every mutant against every case, made by
``python -m conformance.matrix --update``, whose ``--check`` also verifies that no NON-STRICT
mutant gets a FAIL anywhere) must be current: it lists exactly these mutants, its rows for
the harmless mutants equal what this run saw, and the family that caught each defect here
shows it there. Mutant processes are forked from one fork server
per worker (:mod:`iut.forkserver`), so a case costs milliseconds, not an interpreter
start.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.catalog import get
from conformance.matrix import MutantLab, cell_fails, committed, parse
from conformance.model import FAMILIES, Verdict
from tests.mutants import MUTANTS
from tests.mutants.registry import ordered

NAMES = [m.name for m in ordered()]


@pytest.fixture(scope="module")
def lab() -> Iterator[MutantLab]:
    with MutantLab() as lab:
        yield lab


@pytest.fixture(scope="module")
def matrix() -> dict[str, dict[str, str]]:
    return parse(committed())


def test_there_are_at_least_25_defective_mutants_and_some_harmless_ones() -> None:
    expects = [m.expect for m in MUTANTS.values()]
    assert expects.count("FAIL") >= 25
    assert expects.count("NO-FAIL") >= 3


def test_the_committed_matrix_lists_every_mutant_and_family(
    matrix: dict[str, dict[str, str]],
) -> None:
    assert list(matrix) == NAMES
    for name, row in matrix.items():
        m = MUTANTS[name]
        assert (row["role"], row["expect"]) == (m.role, m.expect), name
        for family in FAMILIES:
            other_role = (family == "client") != (m.role == "client")
            assert (row[family] == "—") == other_role, (name, family, row[family])


@pytest.mark.parametrize("name", NAMES)
def test_mutant_gets_the_verdicts_it_deserves(
    name: str, lab: MutantLab, matrix: dict[str, dict[str, str]]
) -> None:
    m = MUTANTS[name]
    row = matrix[name]
    stale = "the committed matrix is outdated (python -m conformance.matrix --update)"
    if m.expect == "FAIL":
        run = lab.run(name, stop_at=frozenset({Verdict.FAIL}))
        assert run.first_fail, f"{name}: no FAIL in {run.cases_run} cases ({m.description})"
        family = get(run.first_fail).family
        assert cell_fails(row[family]) >= 1, f"{name}: {run.first_fail} failed; {stale}"
        return
    if m.expect == "NON-STRICT":
        run = lab.run(name, stop_at=frozenset({Verdict.FAIL, Verdict.NON_STRICT}))
        assert not run.fails, f"{name} (a SHOULD defect) failed {run.first_fail}"
        assert run.first_soft, f"{name}: its SHOULD violation went unnoticed ({m.description})"
        family = get(run.first_soft).family
        assert "n" in row[family], f"{name}: {run.first_soft} was NON-STRICT; {stale}"
        return
    if m.expect == "STRICT":
        default = lab.run(name, stop_at=frozenset({Verdict.FAIL, Verdict.NON_STRICT}))
        assert not (default.fails or default.soft), (
            f"{name} behaves like the original, yet {default.first_fail or default.first_soft} "
            "was FAIL or NON-STRICT without --strict"
        )
        run = lab.run(name, strict=True, stop_at=frozenset({Verdict.FAIL, Verdict.NON_STRICT}))
        assert not run.fails, f"{name} failed {run.first_fail} (an original behaviour)"
        assert run.first_soft, f"{name}: --strict did not report the unsafe deviation"
        assert "n" in row[get(run.first_soft).family], stale
        return
    run = lab.run(name)
    assert not run.fails, f"{name} (harmless) got FAILs: {dict(run.fails)}"
    seen = {f: run.cell(f) for f in FAMILIES}
    assert seen == {f: row[f] for f in FAMILIES}, (
        f"{name}: the committed matrix row is outdated (python -m conformance.matrix --update)"
    )


def test_a_defect_is_reported_under_the_section_it_breaks(lab: MutantLab) -> None:
    # Framing cases judge a re-chunked request by the implementation's own answer to the
    # plain request, so a listing that leaks hidden datasets fails the ACL cases only.
    run = lab.run("acl-leak-filesystems")
    assert run.fails["acl"] > 0
    assert run.fails["framing"] == 0 and run.soft["framing"] == 0, run.first_fail
