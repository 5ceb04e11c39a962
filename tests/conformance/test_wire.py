"""The suite's own building blocks: splitting wire bytes, verdicts, wire logs."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bytestreamrpc import framing, messages
from bytestreamrpc.messages import ResponseHeader
from conformance.model import CaseResult, Finding, Level, Verdict, verdict_from_findings
from conformance.wire import chunked, parse_responses, show_json, split_streams
from conformance.wirelog import IN, OUT, WireLog, describe_stream


def _le(n: int) -> bytes:
    return struct.pack("<I", n)


@given(st.lists(st.binary(max_size=40), max_size=5), st.lists(st.integers(1, 9), max_size=6))
def test_split_streams_recovers_any_chunking(payloads: list[bytes], sizes: list[int]) -> None:
    raw = b"".join(chunked(p, sizes or None) for p in payloads)
    streams = split_streams(raw)
    assert [s.payload for s in streams] == payloads
    assert all(s.complete for s in streams)


@pytest.mark.parametrize(
    ("raw", "end"),
    [
        (b"\x05\x00", "header"),  # (b) inside a chunk length
        (_le(3) + b"abc", "boundary"),  # (c) after a complete data chunk
        (_le(9) + b"abc", "payload"),  # (d) inside a payload
    ],
)
def test_split_streams_names_where_input_ran_out(raw: bytes, end: str) -> None:
    (s,) = split_streams(raw)
    assert s.end == end and not s.complete


def test_parse_responses_takes_bodies_by_response_type() -> None:
    ok = messages.encode_message(ResponseHeader(bytes(16), 0, "", 0x10))
    body = b'[["pool","data"]]\n'
    stream_hdr = messages.encode_message(ResponseHeader(bytes(16), 0, "", 0x20))
    raw = chunked(ok) + chunked(body) + chunked(stream_hdr) + _le(4) + b"FZFS"
    frames, incomplete = parse_responses(raw)
    assert incomplete is None
    assert frames[0].paths == (messages.DatasetPath(("pool", "data")),)
    assert frames[1].is_stream and frames[1].stream_data == b"FZFS"
    assert not frames[1].complete


def test_undecodable_header_is_kept_with_its_error() -> None:
    frames, _ = parse_responses(chunked(b"{nope"))
    assert frames[0].header is None
    assert frames[0].header_error is not None and "invalid character" in frames[0].header_error


def test_show_json_escapes_what_is_not_printable() -> None:
    assert show_json(b'{"a":"\x01"}\n') == '{"a":"\\x01"}\\n'


def test_verdicts_follow_the_worst_finding_capped_by_the_case_level() -> None:
    must, should = Finding(Level.MUST, "m"), Finding(Level.SHOULD, "s")
    assert verdict_from_findings(Level.MUST, []) is Verdict.PASS
    assert verdict_from_findings(Level.MUST, [should]) is Verdict.NON_STRICT
    assert verdict_from_findings(Level.MUST, [should, must]) is Verdict.FAIL
    assert verdict_from_findings(Level.SHOULD, [must]) is Verdict.NON_STRICT
    assert verdict_from_findings(Level.INFO, [must]) is Verdict.INFO


def test_results_round_trip_through_json_dicts() -> None:
    r = CaseResult(
        "a.b.1",
        "§a.b",
        "MUST",
        "server",
        "server",
        "t",
        Verdict.XFAIL,
        "why",
        [Finding(Level.SHOULD, "w", "e", "a")],
        ["n"],
        "log",
        "hex",
        "err",
        "exit 1",
        1.5,
    )
    assert CaseResult.from_dict(r.to_dict()) == r


def test_wire_log_interleaves_directions_and_summarises_streams() -> None:
    log = WireLog()
    log.record(OUT, chunked(b'{"Type":1}\n'))
    log.record(IN, chunked(b"FZFSSEND" + bytes(100)))
    log.record_eof(IN)
    text = log.transcript().splitlines()
    assert "suite>iut #1" in text[0] and 'json {"Type":1}\\n' in text[0]
    assert "iut>suite #1" in text[1] and "bytes len=108 sha256=" in text[1]
    assert text[2].endswith("iut>suite EOF")
    assert "0b000000" in log.hexdump()


def test_describe_stream_marks_a_cut_stream() -> None:
    (s,) = split_streams(_le(10) + b"abc")
    assert "EOF inside payload" in describe_stream(s)


def test_framing_helpers_agree_with_the_reference() -> None:
    assert chunked(b"") == framing.TERMINATOR
    assert chunked(b"abcde", [2, 2]) == _le(2) + b"ab" + _le(2) + b"cd" + _le(1) + b"e" + bytes(4)


def test_wire_log_transcript_is_a_valid_recording(tmp_path: os.PathLike[str]) -> None:
    """The report's decoded wire log is the recordings' format: readable by its reader, and
    the records rebuild exactly the bytes each direction carried."""
    from pathlib import Path

    from recordings.format import C2S, S2C, read_transcript, wire_bytes

    request = chunked(b'{"Type":1,"Id":[]}\n') + chunked(b'{"ClientVersion":1}\n')
    answer = chunked(messages.encode_message(ResponseHeader(bytes(16), 0, "", 1)))
    log = WireLog()
    log.record(OUT, request[:7])
    log.record(OUT, request[7:])
    log.record_eof(OUT)
    log.record(IN, answer + _le(40) + b"cut")
    log.record_eof(IN)
    lines = log.transcript_lines(suite_is_client=True, scenario="x.y.1", title="t")
    path = Path(tmp_path) / "t.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    t = read_transcript(path)
    assert b"".join(wire_bytes(r) for r in t.streams(C2S)) == request
    assert b"".join(wire_bytes(r) for r in t.streams(S2C)) == answer + _le(40) + b"cut"
    assert all(r.crafted for r in t.streams(C2S))
    assert t.streams(S2C)[-1].cut is not None
