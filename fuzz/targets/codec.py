#!/usr/bin/env python3
"""Fuzz target ``codec``: Every message decoder of the Go-exact codec returns a value that re-
encodes and round-trips, or raises ``DecodeError`` with the original's ``cannot decode ...``
text (§json.decode- error-text).

Run standalone under atheris/libFuzzer: ``python fuzz/targets/codec.py -runs=N [CORPUS]``
(any libFuzzer flag works; a crash file given as the only argument is replayed). As a
Hypothesis test: ``fuzz.targets.load("codec").build(database)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TITLE = "every message decoder: value that round-trips, or DecodeError"


def build(database: object, on_example: Callable[[], None] | None = None) -> Any:
    """The Hypothesis test atheris drives (``.hypothesis.fuzz_one_input``); ``on_example``
    is called once per example (campaigns count executions with it)."""
    tick = on_example or _nothing
    from hypothesis import given
    from hypothesis import strategies as st

    from fuzz import strategies as zst
    from fuzz.invariants import DECODER_NAMES, check_codec
    from fuzz.libfuzzer import settings_for

    texts = st.sampled_from(zst.VALIDITIES).flatmap(
        lambda v: st.sampled_from([zst.go_type_for(t) for t in _MESSAGE_TYPES()]).flatmap(
            lambda t: zst.go_json_texts(t, validity=v)
        )
    )

    @settings_for(database)
    @given(st.sampled_from(DECODER_NAMES), st.one_of(st.binary(max_size=256), texts), st.booleans())
    def fuzz_codec(decoder: str, data: bytes, truncated: bool) -> None:
        tick()
        check_codec(data, truncated=truncated, only=(decoder,))

    return fuzz_codec


def _MESSAGE_TYPES() -> list[Any]:
    from bytestreamrpc import messages
    from fuzz.invariants import MESSAGE_CLASSES

    return [*MESSAGE_CLASSES, messages.FILESYSTEMS_TYPE, messages.VERSIONS_TYPE]


def _nothing() -> None:
    pass


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from fuzz.libfuzzer import main

    main("codec")
