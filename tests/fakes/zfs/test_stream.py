"""Send-stream format, lazy content and the all-or-nothing property of receive."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.zfs import FakeZfs, ZfsError, parse_fixture
from fakes.zfs.content import BLOCK_SIZE, PayloadSpec, block_matches, expected_block
from fakes.zfs.stream import (
    END_MAGIC,
    KIND_FULL,
    KIND_INCREMENTAL,
    SendStream,
    StreamFormatError,
    StreamHeader,
    StreamReader,
)

SMALL_FIXTURE = """
[[pool]]
name = "src"
[[pool]]
name = "dst"
[[dataset]]
name = "src/fs"
[[snapshot]]
name = "src/fs@a"
referenced = 3000
[[snapshot]]
name = "src/fs@b"
referenced = 3500
written = 700
[[bookmark]]
name = "src/fs#a"
source = "src/fs@a"
"""


@cache
def _engine() -> tuple[FakeZfs, bytes, bytes]:
    """One engine shared by Hypothesis examples: failed receives must not change it."""
    zfs = FakeZfs.in_memory(parse_fixture(SMALL_FIXTURE))
    full = zfs.send("src/fs@a").read()
    incremental = zfs.send("src/fs@b", "src/fs#a").read()
    zfs.receive("dst/inc", io.BytesIO(full))  # target for the incremental stream
    return zfs, full, incremental


def _dump(zfs: FakeZfs) -> list[str]:
    """The complete database content (a test-only peek at the engine's connection)."""
    return list(zfs._conn.iterdump())


def _header(**overrides: object) -> StreamHeader:
    fields: dict[str, object] = {
        "kind": KIND_FULL,
        "dataset_type": "filesystem",
        "to_guid": 7,
        "from_guid": 0,
        "creation": 1,
        "referenced": 10,
        "volsize": 0,
        "payload_len": 10,
        "to_name": "p/fs@s",
        "from_name": "",
    }
    fields.update(overrides)
    return StreamHeader(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------- atomic receive
@settings(max_examples=150)
@given(data=st.data())
def test_truncated_stream_is_rejected_and_changes_nothing(data: st.DataObject) -> None:
    zfs, full, incremental = _engine()
    before = _dump(zfs)
    for target, stream in (("dst/new", full), ("dst/inc", incremental)):
        cut = data.draw(st.integers(min_value=0, max_value=len(stream) - 1), label="cut")
        with pytest.raises(ZfsError) as excinfo:
            zfs.receive(target, io.BytesIO(stream[:cut]))
        assert excinfo.value.exit_code == 1
        assert excinfo.value.message.endswith(
            ("failed to read from stream", "incomplete stream")
        ), excinfo.value.message
    assert _dump(zfs) == before


@settings(max_examples=200)
@given(data=st.data())
def test_any_flipped_byte_is_rejected_and_changes_nothing(data: st.DataObject) -> None:
    zfs, full, incremental = _engine()
    before = _dump(zfs)
    for target, stream in (("dst/new", full), ("dst/inc", incremental)):
        offset = data.draw(st.integers(min_value=0, max_value=len(stream) - 1), label="offset")
        xor = data.draw(st.integers(min_value=1, max_value=255), label="xor")
        damaged = bytearray(stream)
        damaged[offset] ^= xor
        with pytest.raises(ZfsError):
            zfs.receive(target, io.BytesIO(bytes(damaged)))
    assert _dump(zfs) == before


def test_intact_streams_are_accepted() -> None:
    zfs = FakeZfs.in_memory(parse_fixture(SMALL_FIXTURE))
    _ignored, full, incremental = _engine()
    zfs.receive("dst/inc", io.BytesIO(full))
    result = zfs.receive("dst/inc", io.BytesIO(incremental))
    assert result.snapshot == "dst/inc@b"


def test_reordered_and_duplicated_blocks_are_detected() -> None:
    fixture = parse_fixture(
        SMALL_FIXTURE.replace("referenced = 3000", f"referenced = {2 * BLOCK_SIZE + 100}")
    )
    zfs = FakeZfs.in_memory(fixture)
    stream = zfs.send("src/fs@a").read()
    head_len = len(zfs.send("src/fs@a").header.encode())
    block0 = stream[head_len : head_len + BLOCK_SIZE]
    block1 = stream[head_len + BLOCK_SIZE : head_len + 2 * BLOCK_SIZE]
    assert block0 != block1
    rest = stream[head_len + 2 * BLOCK_SIZE :]
    before = _dump(zfs)
    for payload in (block1 + block0, block0 + block0):
        body = stream[:head_len] + payload + rest[:-4]
        # Even with a recomputed trailing CRC the content check catches it.
        forged = body + struct.pack("<I", zlib.crc32(body[: len(body) - len(END_MAGIC)]))
        with pytest.raises(ZfsError) as excinfo:
            zfs.receive("dst/x", io.BytesIO(forged))
        assert excinfo.value.message == ("cannot receive new filesystem stream: checksum mismatch")
    assert _dump(zfs) == before
    zfs.receive("dst/x", io.BytesIO(stream))  # the original is fine


def test_stream_for_another_snapshot_content_is_rejected() -> None:
    """A well-formed stream whose payload is not the content of its header's GUIDs."""
    header = _header(payload_len=100)
    wrong = expected_block(PayloadSpec(8, 0, 100), 0)
    body = header.encode() + wrong
    stream = body + END_MAGIC + struct.pack("<I", zlib.crc32(body))
    reader = StreamReader(io.BytesIO(stream))
    reader.read_header()
    with pytest.raises(StreamFormatError) as excinfo:
        reader.verify_payload()
    assert (excinfo.value.reason, excinfo.value.stage) == ("checksum mismatch", "payload")


# ---------------------------------------------------------------- header format
headers = st.builds(
    _header,
    kind=st.just(KIND_INCREMENTAL),
    dataset_type=st.sampled_from(["filesystem", "volume"]),
    to_guid=st.integers(1, 2**64 - 1),
    from_guid=st.integers(1, 2**64 - 1),
    creation=st.integers(0, 2**64 - 1),
    referenced=st.integers(0, 2**64 - 1),
    volsize=st.integers(0, 2**64 - 1),
    payload_len=st.integers(0, 2**64 - 1),
    to_name=st.from_regex(r"[a-z]{1,20}/[a-z0-9_]{1,40}@[a-z0-9_]{1,40}", fullmatch=True),
    from_name=st.from_regex(r"[a-z]{1,20}/[a-z0-9_]{1,40}#[a-z0-9_]{1,40}", fullmatch=True),
)


@given(headers)
def test_header_round_trip(header: StreamHeader) -> None:
    reader = StreamReader(io.BytesIO(header.encode()))
    assert reader.read_header() == header


def test_header_rejections() -> None:
    def reason(raw: bytes) -> str:
        with pytest.raises(StreamFormatError) as excinfo:
            StreamReader(io.BytesIO(raw)).read_header()
        assert excinfo.value.stage == "header"
        return excinfo.value.reason

    good = _header().encode()
    assert reason(b"") == "failed to read from stream"
    assert reason(good[:30]) == "failed to read from stream"
    assert reason(b"NOTMAGIC" + good[8:]) == "invalid stream (bad magic number)"
    assert reason(good[:8] + b"\x02\x00" + good[10:]) == "invalid stream (bad magic number)"
    assert reason(good[:-1] + bytes([good[-1] ^ 1])) == "checksum mismatch"
    assert reason(_header(flags=4).encode()) == (
        "stream has unsupported feature, feature flags = 4 (unknown flags = 4)"
    )
    assert reason(_header(to_name="p/fs").encode()) == "invalid stream (bad snapshot name)"
    assert reason(_header(from_guid=5).encode()) == "invalid record type"
    long_name = bytearray(good)
    struct.pack_into("<H", long_name, 64, 300)  # declares a 300-byte name
    assert reason(bytes(long_name)) == "invalid stream (bad snapshot name)"


def test_declared_huge_payload_is_not_allocated() -> None:
    header = _header(payload_len=2**63)
    reader = StreamReader(io.BytesIO(header.encode() + b"abc"))
    reader.read_header()
    with pytest.raises(StreamFormatError) as excinfo:
        reader.verify_payload()
    assert excinfo.value.reason == "incomplete stream"


# ---------------------------------------------------------------- producing streams
class _Trickle:
    """A readable without readinto that returns at most ``step`` bytes per call."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(self._step, size if size >= 0 else self._step))


@settings(max_examples=50)
@given(sizes=st.lists(st.integers(1, 5000), min_size=1, max_size=50))
def test_read_in_any_sizes_gives_the_same_bytes(sizes: list[int]) -> None:
    zfs, full, _incremental = _engine()
    stream = zfs.send("src/fs@a")
    assert stream.size == len(full)
    parts = []
    index = 0
    while True:
        chunk = stream.read(sizes[index % len(sizes)])
        if not chunk:
            break
        assert len(chunk) == sizes[index % len(sizes)] or stream.read(1) == b""
        parts.append(chunk)
        index += 1
    assert b"".join(parts) == full


def test_receive_from_trickling_reader_and_send_stream_object() -> None:
    zfs = FakeZfs.in_memory(parse_fixture(SMALL_FIXTURE))
    _ignored, full, _incremental = _engine()
    zfs.receive("dst/a", _Trickle(full, 7))
    zfs.receive("dst/b", zfs.send("src/fs@a"))
    assert [v.guid for v in zfs.list_versions("dst/a")] == [
        v.guid for v in zfs.list_versions("dst/b")
    ]


def test_readinto_and_close() -> None:
    zfs, full, _incremental = _engine()
    stream = SendStream(zfs.send("src/fs@a").header)
    buffer = bytearray(100)
    assert stream.readinto(buffer) == 100
    assert bytes(buffer) == full[:100]
    stream.close()
    with pytest.raises(ValueError):
        stream.read(1)


# ---------------------------------------------------------------- content
@given(
    to_guid=st.integers(1, 2**64 - 1),
    from_guid=st.integers(0, 2**64 - 1),
    length=st.integers(0, 3 * BLOCK_SIZE),
    data=st.data(),
)
@settings(max_examples=30)
def test_block_matches_agrees_with_expected_block(
    to_guid: int, from_guid: int, length: int, data: st.DataObject
) -> None:
    spec = PayloadSpec(to_guid, from_guid, length)
    if spec.block_count() == 0:
        assert expected_block(spec, 0) == b""
        return
    index = data.draw(st.integers(0, spec.block_count() - 1))
    block = expected_block(spec, index)
    assert len(block) == min(BLOCK_SIZE, length - index * BLOCK_SIZE)
    assert block_matches(spec, index, memoryview(block))
    assert expected_block(spec, index) == block  # deterministic
    if block:
        damaged = bytearray(block)
        position = data.draw(st.integers(0, len(block) - 1))
        damaged[position] ^= 0x80
        assert not block_matches(spec, index, memoryview(bytes(damaged)))


def test_content_differs_between_snapshots_and_blocks() -> None:
    a = PayloadSpec(1, 0, 2 * BLOCK_SIZE)
    b = PayloadSpec(2, 0, 2 * BLOCK_SIZE)
    inc = PayloadSpec(1, 2, 2 * BLOCK_SIZE)
    assert expected_block(a, 0) != expected_block(b, 0)
    assert expected_block(a, 0) != expected_block(inc, 0)
    assert expected_block(a, 0) != expected_block(a, 1)
    assert expected_block(a, 0)[24:] == expected_block(a, 1)[24:]  # only the counter differs


@pytest.mark.parametrize("length", [1, 24, 25, 4095, 4097, 70_000, BLOCK_SIZE - 1, BLOCK_SIZE + 5])
def test_short_payloads_are_prefixes_of_the_whole_base_block(length: int) -> None:
    """A payload generates only as much of its base block as it uses; the bytes must be
    those of the documented construction (a 1 MiB shake_128 output), or a stream sent by
    an older fake would no longer verify."""
    to_guid, from_guid = 0xDEADBEEF, 7
    seed = b"fake-zfs content v1" + struct.pack("<QQ", to_guid, from_guid)
    whole = hashlib.shake_128(seed).digest(BLOCK_SIZE)
    spec = PayloadSpec(to_guid, from_guid, length)
    for index in range(spec.block_count()):
        size = min(BLOCK_SIZE, length - index * BLOCK_SIZE)
        want = (struct.pack("<QQQ", to_guid, from_guid, index) + whole[24:size])[:size]
        assert expected_block(spec, index) == want
        assert block_matches(spec, index, memoryview(want))
