#!/usr/bin/env python3
"""Fuzz target ``stateful``: Client conversations against the reference server, every answer
checked against an independent model of the fake ZFS: exact answers, ACL safety, documented
refusals, failed operations change nothing, pushes only land below the sink (fuzz.stateful).

Run standalone under atheris/libFuzzer: ``python fuzz/targets/stateful.py -runs=N [CORPUS]``
(any libFuzzer flag works; a crash file given as the only argument is replayed). As a
Hypothesis test: ``fuzz.targets.load("stateful").build(database)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TITLE = "client conversations checked against a model of the fake ZFS"


def build(database: object, on_example: Callable[[], None] | None = None) -> Any:
    """The Hypothesis test atheris drives (``.hypothesis.fuzz_one_input``); ``on_example``
    is called once per example (campaigns count executions with it)."""
    tick = on_example or _nothing
    from hypothesis import given
    from hypothesis import strategies as st

    from fuzz.libfuzzer import settings_for
    from fuzz.stateful import run_drawn_actions

    @settings_for(database)
    @given(st.data())
    def fuzz_stateful(data: st.DataObject) -> None:
        tick()
        run_drawn_actions(data, max_actions=20)

    return fuzz_stateful


def _nothing() -> None:
    pass


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from fuzz.libfuzzer import main

    main("stateful")
