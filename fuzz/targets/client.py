#!/usr/bin/env python3
"""Fuzz target ``client``: A client connection that sent any request reads any answer, delivered in
any pieces, as events or ``ProtocolError``, never anything else and never in a loop
(§client.expect, §msg.*).

Run standalone under atheris/libFuzzer: ``python fuzz/targets/client.py -runs=N [CORPUS]``
(any libFuzzer flag works; a crash file given as the only argument is replayed). As a
Hypothesis test: ``fuzz.targets.load("client").build(database)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TITLE = "client connection reading any answer: events or ProtocolError"


def build(database: object, on_example: Callable[[], None] | None = None) -> Any:
    """The Hypothesis test atheris drives (``.hypothesis.fuzz_one_input``); ``on_example``
    is called once per example (campaigns count executions with it)."""
    tick = on_example or _nothing
    from hypothesis import given
    from hypothesis import strategies as st

    from bytestreamrpc import messages
    from bytestreamrpc.constants import ResponseType
    from bytestreamrpc.framing import encode_stream
    from fuzz import strategies as zst
    from fuzz.invariants import check_client_parse
    from fuzz.libfuzzer import settings_for

    header = zst.response_headers(response_types=[int(t) for t in ResponseType])
    body = st.one_of(
        zst.filesystems_bodies().map(messages.encode_filesystems),
        zst.versions_bodies().map(messages.encode_versions),
        st.binary(max_size=64),
    )
    wellformed = st.tuples(header, body).map(
        lambda hb: encode_stream(messages.encode_message(hb[0])) + encode_stream(hb[1])
    )
    answers = st.one_of(wellformed, wellformed.flatmap(zst.byte_mutations), st.binary(max_size=256))

    @settings_for(database)
    @given(zst.request_bodies(), answers.flatmap(zst.chunkings))
    def fuzz_client(request: Any, pieces: tuple[bytes, ...]) -> None:
        tick()
        check_client_parse(request, pieces)

    return fuzz_client


def _nothing() -> None:
    pass


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from fuzz.libfuzzer import main

    main("client")
