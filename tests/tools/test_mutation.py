"""The mutation run's report (tools/mutation.py): how survivors' reasons count in the score,
and that every recorded reason is of a kind the report knows."""

from __future__ import annotations

import pytest

from tools import mutation as mu

KINDS = ("equivalent:", "open:", "out of scope:", "like the original:")


def test_unscored_kinds_leave_the_score_and_open_ones_stay_in_it() -> None:
    row = mu.Row("m.py", mu.Summary(total=20, done=20, killed=8, survived=12), 60.0, 20)
    row.equivalent, row.out_of_scope, row.like_original = 5, 2, 3
    # 8 killed of 20 - 5 - 2 - 3 = 10 scored: the 2 open survivors count against it
    assert row.score() == "80.0%"
    assert "| 5 | 2 | 3 | 2 |" in row.markdown()
    row.later = 2
    assert row.score() == "100.0%"


def test_a_module_with_only_unscored_survivors_has_no_score() -> None:
    row = mu.Row("m.py", mu.Summary(total=3, done=3, survived=3), 0.0, 0)
    row.equivalent, row.like_original = 2, 1
    assert row.score() == "-"


@pytest.mark.parametrize("rel", sorted(mu.reasons()))
def test_every_recorded_reason_is_of_a_known_kind(rel: str) -> None:
    assert rel in mu.MODULES.values()
    for key, text in mu.reasons()[rel].items():
        assert text.startswith(KINDS), (rel, key, text[:60])
        assert text.split(":", 1)[1].strip(), (rel, key)


def test_a_line_reason_applies_to_every_survivor_of_the_line_unless_one_has_its_own() -> None:
    known = {"12": "equivalent: a", "12:4 core/AddNot #3": "open: b"}
    assert mu._reason(known, "", "12:4", "core/AddNot", 3) == "open: b"
    assert mu._reason(known, "", "12:8", "core/AddNot", 4) == "equivalent: a"
    assert mu._reason(known, "killed by `x`", "12:4", "core/AddNot", 3) == "killed by `x`"
    assert mu._reason(known, "", "13:0", "core/AddNot", 5) == "NOT YET ANALYSED"
