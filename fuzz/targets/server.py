#!/usr/bin/env python3
"""Fuzz target ``server``: The reference server fed any bytes (raw, mutated golden transcripts,
generated conversations), in any pieces, then end of input: ``Server.serve`` returns, in bounded
time, having written well-framed responses, and the fake ZFS is unchanged (§server.*,
§deviations.timeouts).

Run standalone under atheris/libFuzzer: ``python fuzz/targets/server.py -runs=N [CORPUS]``
(any libFuzzer flag works; a crash file given as the only argument is replayed). As a
Hypothesis test: ``fuzz.targets.load("server").build(database)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TITLE = "reference server on any input: no exception, no hang, no state change"


def build(database: object, on_example: Callable[[], None] | None = None) -> Any:
    """The Hypothesis test atheris drives (``.hypothesis.fuzz_one_input``); ``on_example``
    is called once per example (campaigns count executions with it)."""
    tick = on_example or _nothing
    from hypothesis import given
    from hypothesis import strategies as st

    from fuzz import strategies as zst
    from fuzz.invariants import check_server, server_fixture
    from fuzz.libfuzzer import settings_for

    fixture = server_fixture()
    data = st.one_of(
        st.binary(max_size=512),
        st.deferred(zst.transcript_mutations),
        zst.conversations(max_steps=5).map(lambda c: c.wire()),
    )

    @settings_for(database)
    @given(data.flatmap(zst.chunkings))
    def fuzz_server(pieces: tuple[bytes, ...]) -> None:
        tick()
        check_server(fixture, pieces)

    return fuzz_server


def _nothing() -> None:
    pass


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from fuzz.libfuzzer import main

    main("server")
