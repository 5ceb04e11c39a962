#!/usr/bin/env python3
"""Fuzz target ``gojson``: The decoder follows Go's ``encoding/json`` rules the strategies encode:
every valid text (folded keys, duplicates, escapes, nulls, unknown keys, trailing bytes) decodes
to exactly the intended value; near-valid texts are type errors; invalid texts are syntax errors
(§json.decode.*).

Run standalone under atheris/libFuzzer: ``python fuzz/targets/gojson.py -runs=N [CORPUS]``
(any libFuzzer flag works; a crash file given as the only argument is replayed). As a
Hypothesis test: ``fuzz.targets.load("gojson").build(database)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TITLE = "Go-JSON rules: valid texts decode exactly, near-valid/invalid refused"


def build(database: object, on_example: Callable[[], None] | None = None) -> Any:
    """The Hypothesis test atheris drives (``.hypothesis.fuzz_one_input``); ``on_example``
    is called once per example (campaigns count executions with it)."""
    tick = on_example or _nothing
    from hypothesis import given
    from hypothesis import strategies as st

    from bytestreamrpc import gojson, messages
    from bytestreamrpc.errors import DecodeError
    from fuzz import strategies as zst
    from fuzz.invariants import MESSAGE_CLASSES, InvariantViolation
    from fuzz.libfuzzer import settings_for

    types = [zst.go_type_for(t) for t in MESSAGE_CLASSES]
    types += [messages.FILESYSTEMS_TYPE, messages.VERSIONS_TYPE]

    def decode(t: Any, text: bytes) -> object:
        return gojson.decode_message_bytes(text, t, pointer_name="*T", truncated=False)

    @settings_for(database)
    @given(st.sampled_from(types), st.sampled_from(zst.VALIDITIES), st.data())
    def fuzz_gojson(t: Any, validity: str, data: st.DataObject) -> None:
        tick()
        if validity == "valid":
            value = data.draw(zst.go_values(t), label="value")
            text = data.draw(zst.go_json_encodings(value, go_type=t), label="text")
            got = decode(t, text)
            if got != value:
                raise InvariantViolation(f"{text!r} decoded as {got!r}, Go reads {value!r}")
            return
        text = data.draw(zst.go_json_texts(t, validity=validity), label="text")
        try:
            got = decode(t, text)
        except DecodeError as exc:
            type_error = "json: cannot unmarshal" in str(exc)
            if type_error != (validity == "near-valid"):
                raise InvariantViolation(f"{validity} text {text!r} refused as {exc}") from exc
            return
        raise InvariantViolation(f"{validity} text {text!r} was accepted as {got!r}")

    return fuzz_gojson


def _nothing() -> None:
    pass


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from fuzz.libfuzzer import main

    main("gojson")
