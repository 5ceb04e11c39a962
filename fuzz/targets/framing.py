#!/usr/bin/env python3
"""Fuzz target ``framing``: The chunk decoder parses any bytes or raises ``TruncatedStream``, and
gives the same streams however the bytes are delivered (docs/PROTOCOL.md §frame.boundaries,
§frame.truncation).

Run standalone under atheris/libFuzzer: ``python fuzz/targets/framing.py -runs=N [CORPUS]``
(any libFuzzer flag works; a crash file given as the only argument is replayed). As a
Hypothesis test: ``fuzz.targets.load("framing").build(database)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TITLE = "chunk decoder: parse or TruncatedStream; delivery never matters"


def build(database: object, on_example: Callable[[], None] | None = None) -> Any:
    """The Hypothesis test atheris drives (``.hypothesis.fuzz_one_input``); ``on_example``
    is called once per example (campaigns count executions with it)."""
    tick = on_example or _nothing
    from hypothesis import given
    from hypothesis import strategies as st

    from fuzz import strategies as zst
    from fuzz.invariants import check_framing
    from fuzz.libfuzzer import settings_for

    data = st.one_of(
        st.binary(max_size=512),
        st.binary(max_size=128).flatmap(zst.chunked_streams),
        st.deferred(zst.transcript_mutations),
    )

    @settings_for(database)
    @given(data.flatmap(lambda d: st.tuples(st.just(d), zst.chunkings(d))))
    def fuzz_framing(case: tuple[bytes, tuple[bytes, ...]]) -> None:
        tick()
        check_framing(case[0], case[1])

    return fuzz_framing


def _nothing() -> None:
    pass


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from fuzz.libfuzzer import main

    main("framing")
