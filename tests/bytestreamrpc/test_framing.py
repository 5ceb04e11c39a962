"""Chunked framing (§frame): byte-exact examples, incremental decoding, bounds, truncation."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytestreamrpc import framing
from bytestreamrpc.constants import MAX_WRITE_PAYLOAD
from bytestreamrpc.errors import LocalProtocolError, TruncatedStream
from bytestreamrpc.streamcopy import TrailingBytes, chunk_fd, unchunk_fd


def decode_all(data: bytes, pieces: list[int] | None = None) -> tuple[list[bytes], str]:
    """Feed ``data`` in the given piece sizes; return streams and how the input ended."""
    dec = framing.ChunkDecoder()
    streams: list[bytes] = []
    current: list[bytes] = []
    offsets = [0]
    for size in pieces or [len(data)]:
        offsets.append(min(len(data), offsets[-1] + size))
    if offsets[-1] < len(data):
        offsets.append(len(data))
    chunks = [data[a:b] for a, b in itertools.pairwise(offsets)] + [b""]
    for chunk in chunks:
        dec.receive_data(chunk)
        while True:
            try:
                ev = dec.next_event()
            except TruncatedStream as exc:
                return streams, f"truncated:{exc.where}"
            if ev is framing.NEED_DATA:
                break
            if isinstance(ev, framing.Payload):
                current.append(ev.data)
            elif isinstance(ev, framing.EndOfStream):
                streams.append(b"".join(current))
                current = []
            else:
                return streams, "closed"
    raise AssertionError("decoder never reported the end of input")


# -- §frame.empty-input: the exact examples of PROTOCOL-FACTS §1 --------------------------


def test_empty_input_is_just_the_zero_chunk() -> None:
    assert framing.encode_stream(b"") == bytes.fromhex("00000000")


def test_cafe_example() -> None:
    assert framing.encode_stream(b"\xca\xfe") == bytes.fromhex("02000000cafe00000000")


def test_lengths_are_little_endian() -> None:
    assert framing.encode_stream(b"x" * 258)[:4] == bytes.fromhex("02010000")


# -- §frame.writer-max ---------------------------------------------------------------------


def test_writer_never_exceeds_32764_payload_bytes() -> None:
    data = os.urandom(3 * MAX_WRITE_PAYLOAD + 5)
    encoded = framing.encode_stream(data)
    dec = framing.ChunkDecoder()
    dec.receive_data(encoded)
    sizes = []
    pos = 0
    while pos < len(encoded):
        n = int.from_bytes(encoded[pos : pos + 4], "little")
        sizes.append(n)
        pos += 4 + n
    assert sizes == [MAX_WRITE_PAYLOAD] * 3 + [5, 0]


def test_writer_rejects_oversized_chunk_setting() -> None:
    with pytest.raises(LocalProtocolError):
        framing.encode_stream(b"abc", max_payload=MAX_WRITE_PAYLOAD + 1)


# -- decoding ------------------------------------------------------------------------------


@given(st.binary(max_size=100_000), st.lists(st.integers(1, 70_000), max_size=40))
@settings(max_examples=150, deadline=None)
def test_round_trip_any_payload_any_rechunking(payload: bytes, pieces: list[int]) -> None:
    encoded = framing.encode_stream(payload)
    streams, end = decode_all(encoded, pieces)
    assert streams == [payload]
    assert end == "closed"


@given(st.binary(max_size=3000))
@settings(max_examples=50, deadline=None)
def test_one_byte_at_a_time(payload: bytes) -> None:
    encoded = framing.encode_stream(payload, max_payload=7)
    streams, end = decode_all(encoded, [1] * len(encoded))
    assert streams == [payload] and end == "closed"


def test_reader_accepts_any_chunk_length_even_over_writer_max() -> None:
    big = b"y" * (MAX_WRITE_PAYLOAD * 3)
    encoded = len(big).to_bytes(4, "little") + big + bytes(4)
    assert decode_all(encoded)[0] == [big]


def test_declared_maximum_length_does_not_allocate() -> None:
    """A header announcing 2**32-1 bytes holds only what was fed (§frame.reader-any-length)."""
    dec = framing.ChunkDecoder()
    dec.receive_data(b"\xff\xff\xff\xff" + b"abc")
    ev = dec.next_event()
    assert ev == framing.Payload(b"abc")
    assert dec.next_event() is framing.NEED_DATA
    assert dec.buffered == 0
    dec.receive_data(b"")
    with pytest.raises(TruncatedStream) as info:
        dec.next_event()
    assert info.value.where == "payload" and info.value.missing == 2**32 - 1 - 3


def test_two_streams_back_to_back() -> None:
    data = framing.encode_stream(b"one") + framing.encode_stream(b"two")
    assert decode_all(data, [5, 5, 5, 5]) == ([b"one", b"two"], "closed")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "closed"),  # clean end before any stream
        (b"\x03\x00", "truncated:header"),  # inside a header
        (b"\x03\x00\x00\x00ab", "truncated:payload"),  # inside a payload
        (b"\x03\x00\x00\x00abc", "truncated:header"),  # missing terminator
        (b"\x03\x00\x00\x00abc\x00\x00", "truncated:header"),  # half a terminator
    ],
)
def test_truncation_is_distinct_from_clean_end(data: bytes, expected: str) -> None:
    assert decode_all(data)[1] == expected


@given(st.binary(max_size=2000))
@settings(max_examples=300, deadline=None)
def test_decoder_on_garbage_ends_cleanly_or_truncated(data: bytes) -> None:
    """Arbitrary bytes either parse or end in TruncatedStream, never another exception."""
    streams, end = decode_all(data, [3] * (len(data) // 3 + 1))
    assert end in {"closed", "truncated:header", "truncated:payload"}
    assert sum(len(s) for s in streams) <= len(data)


def test_data_after_eof_is_a_local_error() -> None:
    dec = framing.ChunkDecoder()
    dec.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        dec.receive_data(b"x")


def test_decode_stream_returns_rest() -> None:
    assert framing.decode_stream(framing.encode_stream(b"hi") + b"tail") == (b"hi", b"tail")


def test_buffer_is_compacted() -> None:
    """Long conversations do not grow the decoder's buffer."""
    dec = framing.ChunkDecoder()
    one = framing.encode_stream(b"z" * 1000)
    for _ in range(2000):
        dec.receive_data(one)
        while dec.next_event() is not framing.NEED_DATA:
            pass
    assert len(dec._buf) < 10 * len(one)


# -- fd adapters (frame encode / decode) ---------------------------------------------------


def _pipe_through(func: object, data: bytes, **kw: object) -> bytes:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    result: list[bytes] = []

    def feed() -> None:
        os.write(in_w, data) if len(data) < 60000 else [
            os.write(in_w, data[i : i + 60000]) for i in range(0, len(data), 60000)
        ]
        os.close(in_w)

    def drain() -> None:
        parts = []
        while chunk := os.read(out_r, 1 << 20):
            parts.append(chunk)
        result.append(b"".join(parts))

    threads = [threading.Thread(target=feed), threading.Thread(target=drain)]
    for t in threads:
        t.start()
    try:
        func(in_r, out_w, **kw)  # type: ignore[operator]
    finally:
        os.close(out_w)
        os.close(in_r)
        for t in threads:
            t.join()
        os.close(out_r)
    return result[0]


@pytest.mark.parametrize("size", [0, 1, MAX_WRITE_PAYLOAD, MAX_WRITE_PAYLOAD + 1, 3_000_001])
def test_chunk_fd_matches_sans_io_decoder(size: int) -> None:
    payload = os.urandom(size)
    encoded = _pipe_through(chunk_fd, payload)
    assert framing.decode_stream(encoded) == (payload, b"")
    assert _pipe_through(unchunk_fd, encoded) == payload


def test_unchunk_fd_errors() -> None:
    with pytest.raises(TruncatedStream):
        _pipe_through(unchunk_fd, b"\x05\x00\x00\x00abc")
    with pytest.raises(TruncatedStream):
        _pipe_through(unchunk_fd, b"\x05\x00")
    with pytest.raises(TrailingBytes):
        _pipe_through(unchunk_fd, framing.encode_stream(b"ok") + b"x")
    two = framing.encode_stream(b"a") + framing.encode_stream(b"b")
    assert _pipe_through(unchunk_fd, two, multi=True) == b"ab"


def _cli(*args: str, data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "frame", *args],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_cli_round_trip() -> None:
    enc = _cli("encode", data=b"\xca\xfe")
    assert enc.returncode == 0 and enc.stdout == bytes.fromhex("02000000cafe00000000")
    dec = _cli("decode", data=enc.stdout)
    assert dec.returncode == 0 and dec.stdout == b"\xca\xfe"


def test_cli_decode_malformed_is_one_clear_line() -> None:
    res = _cli("decode", data=b"\x09\x00\x00\x00abc")
    assert res.returncode == 1
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert "malformed input" in lines[0] and "payload" in lines[0]
    assert "Traceback" not in res.stderr.decode()
