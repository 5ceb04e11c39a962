"""The transcript format: exact round trips, and one-line errors for bad files."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from bytestreamrpc.constants import ResponseType
from bytestreamrpc.framing import encode_stream
from bytestreamrpc.messages import ResponseHeader, encode_message
from recordings.classify import Recorder
from recordings.digest import Digest
from recordings.format import (
    C2S,
    FORMAT_VERSION,
    S2C,
    Cut,
    EventRecord,
    Header,
    StreamRecord,
    Transcript,
    TranscriptError,
    dumps_record,
    format_chunks,
    loads_record,
    parse_chunks,
    read_transcript,
    wire_bytes,
    write_transcript,
)

sizes = st.lists(st.integers(1, 2**32 - 1), max_size=30)


@given(sizes)
def test_chunk_sizes_round_trip(xs: list[int]) -> None:
    assert parse_chunks(format_chunks(xs)) == tuple(xs)


def test_chunk_sizes_are_run_length_encoded() -> None:
    assert format_chunks([32764] * 32 + [17]) == "32764*32,17"
    assert format_chunks([]) == ""
    for bad in ("0", "1*0", "-1", "x", "1,,2", "4294967296", "1*"):
        with pytest.raises(ValueError):
            parse_chunks(bad)


def _stream(
    d: str, seq: int, kind: str, payload: bytes, chunks: list[int], cut: Cut | None, full: bool
) -> StreamRecord:
    digest = xxhash.xxh3_128(payload).hexdigest()
    if kind == "json":
        return StreamRecord(d, seq, "json", tuple(chunks), len(payload), payload, go="x.Y", cut=cut)  # type: ignore[arg-type]
    return StreamRecord(
        d,  # type: ignore[arg-type]
        seq,
        "data",
        tuple(chunks),
        len(payload),
        payload if full else None,
        digest,
        payload[:32],
        cut=cut,
    )


@st.composite
def streams(draw: st.DrawFn) -> StreamRecord:
    payload = draw(st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode)))
    if draw(st.booleans()):
        payload = (
            json.dumps(
                draw(
                    st.recursive(
                        st.none() | st.integers() | st.text(),
                        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
                        max_leaves=8,
                    )
                )
            ).encode()
            + b"\n"
        )
    cuts = sorted(draw(st.sets(st.integers(0, len(payload)), max_size=5)) | {0, len(payload)})
    chunks = [b - a for a, b in itertools.pairwise(cuts) if b > a]
    cut: Cut | None = None
    mode = draw(st.sampled_from(["none", "header", "payload"]))
    if mode == "header":
        cut = Cut(header=draw(st.binary(max_size=3)))
    elif mode == "payload" and chunks:
        last = chunks.pop()
        cut = Cut(declared=last + draw(st.integers(1, 1000)))
    kind = draw(st.sampled_from(["json", "data"]))
    return _stream(C2S, 0, kind, payload, chunks, cut, draw(st.booleans()))


@given(streams())
def test_records_round_trip_exactly(rec: StreamRecord) -> None:
    back = loads_record(dumps_record(rec))
    assert back == rec
    if rec.payload is not None:
        assert wire_bytes(back) == wire_bytes(rec)


@given(st.binary(max_size=2000), st.lists(st.integers(1, 200), max_size=20))
def test_wire_bytes_rebuild_what_was_fed(data: bytes, splits: list[int]) -> None:
    """Whatever bytes (garbage included) go through the recorder, in whatever pieces, the
    stored records rebuild them exactly."""
    rec = Recorder(full=(C2S, S2C))
    pos = 0
    for n in [*splits, len(data)]:
        piece = data[pos : pos + n]
        pos += len(piece)
        if piece:
            rec.feed(S2C, piece)
    rec.eof(S2C)
    rebuilt = b"".join(wire_bytes(r) for r in rec.records if isinstance(r, StreamRecord))
    assert rebuilt == data
    # and through a file
    for r in rec.records:
        assert loads_record(dumps_record(r)) == r


def test_json_records_are_readable() -> None:
    rec = StreamRecord(S2C, 0, "json", (3,), 3, b"{}\n", go="rpc.ResponseHeader")
    d = json.loads(dumps_record(rec))
    assert d["msg"] == {} and "text" not in d  # re-encodes exactly: no verbatim copy
    odd = StreamRecord(S2C, 1, "json", (7,), 7, b'{ "a":1}', go="rpc.ResponseHeader")
    d = json.loads(dumps_record(odd))
    assert d["msg"] == {"a": 1} and d["text"] == '{ "a":1}'
    binary = StreamRecord(C2S, 0, "json", (2,), 2, b"\xff\x00", go="rpc.RequestHeader")
    d = json.loads(dumps_record(binary))
    assert "msg" not in d and d["b64"] == "/wA="


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


HEADER = json.dumps(
    {
        "format": "zrepl-conformance-transcript",
        "version": 2,
        "toolkit": "t",
        "what": "test",
        "digest": "xxh3-128",
    }
)
HEADER_V1 = json.dumps(
    {"format": "zrepl-conformance-transcript", "version": 1, "toolkit": "t", "what": "test"}
)
"""A header as written before transcripts named their digest (read as sha256)."""
GOOD = dumps_record(StreamRecord(C2S, 0, "json", (3,), 3, b"{}\n", go="rpc.RequestHeader"))
DATA = dumps_record(StreamRecord(S2C, 0, "data", (3,), 3, None, "ab" * 16, b"abc"))
"""A digest-only send stream (xxh3-128: 32 hex digits)."""


def test_good_file_reads(tmp_path: Path) -> None:
    eof = json.dumps({"event": "eof", "dir": "c2s"})
    p = _write(tmp_path / "t.jsonl", [HEADER, GOOD, eof, '{"end":2}'])
    t = read_transcript(p)
    assert t.header.what == "test"
    assert [type(r) for r in t.records] == [StreamRecord, EventRecord]
    assert t.records[0].line == 2


@pytest.mark.parametrize(
    ("lines", "line", "fragment"),
    [
        ([], 1, "empty transcript"),
        (['{"format":"other"}'], 1, "not a transcript"),
        ([HEADER.replace('"version": 2', '"version": 3')], 1, "newer than this toolkit"),
        ([HEADER, GOOD, "{not json"], 3, "not valid JSON"),
        ([HEADER, GOOD.replace('"seq":0', '"seq":1')], 2, "numbered 1, expected 0"),
        ([HEADER, GOOD.replace('"chunks":"3"', '"chunks":"4"')], 2, "chunk sizes add up to 4"),
        ([HEADER, GOOD.replace('"kind":"json"', '"kind":"jsn"')], 2, "'kind'"),
        ([HEADER, GOOD.replace("{}", '{"x":1}')], 2, "chunk sizes add up"),
        ([HEADER, GOOD[:-1] + ',"bogus":1}'], 2, "unknown key 'bogus'"),
        ([HEADER, GOOD, '{"event":"eof","dir":"up"}'], 3, "'dir' must be"),
        ([HEADER, '{"event":"boom"}'], 2, "unknown event"),
        ([HEADER, "[1, 2]"], 2, "must be a JSON object"),
        # corrupted digest fields
        ([HEADER.replace("xxh3-128", "md5")], 1, "header: unknown digest 'md5'"),
        ([HEADER.replace('"xxh3-128"', "7")], 1, "key 'digest' must be a string"),
        ([HEADER.replace(', "digest": "xxh3-128"', "")], 1, "key 'digest' must be a string"),
        ([HEADER_V1[:-1] + ', "digest": "sha256"}'], 1, "'digest' needs format version 2"),
        ([HEADER, DATA.replace("ab" * 16, "ab" * 15)], 2, "'xxh3-128' must be 32 lower-case hex"),
        ([HEADER, DATA.replace("ab" * 16, "AB" * 16)], 2, "'xxh3-128' must be 32 lower-case hex"),
        ([HEADER, DATA.replace("ab" * 16, "zz" * 16)], 2, "'xxh3-128' must be 32 lower-case hex"),
        ([HEADER, DATA.replace('"xxh3-128"', '"sha256"')], 2, "stores a 'sha256' digest, the h"),
        ([HEADER_V1, DATA], 2, "stores a 'xxh3-128' digest, the header names 'sha256'"),
        (
            [HEADER, DATA.replace('"xxh3-128":', '"sha256":"' + "0" * 64 + '","xxh3-128":')],
            2,
            "give one digest",
        ),
        ([HEADER, DATA.replace('"xxh3-128":"' + "ab" * 16 + '",', "")], 2, "needs 'xxh3-128'"),
        (
            [HEADER, GOOD[:-1] + ',"text":"{\\"a\\":2}\\n"}'],
            2,
            "'msg' does not match the stored bytes",
        ),
    ],
)
def test_bad_files_give_one_line_with_file_and_line(
    tmp_path: Path, lines: list[str], line: int, fragment: str
) -> None:
    p = _write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(TranscriptError) as err:
        read_transcript(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}:{line}: "), msg
    assert fragment in msg
    assert "\n" not in msg


def test_truncated_last_line(tmp_path: Path) -> None:
    p = tmp_path / "cut.jsonl"
    p.write_text(HEADER + "\n" + GOOD[:25])
    with pytest.raises(TranscriptError, match=r"cut\.jsonl:2: truncated last line"):
        read_transcript(p)


def test_digest_mismatch_is_detected(tmp_path: Path) -> None:
    rec = _stream(S2C, 0, "data", b"abc", [3], None, True)
    line = dumps_record(rec).replace(xxhash.xxh3_128(b"abc").hexdigest(), "0" * 32)
    p = _write(tmp_path / "d.jsonl", [HEADER, line, '{"end":1}'])
    with pytest.raises(TranscriptError, match="'xxh3-128' does not match"):
        read_transcript(p)


def test_each_digest_round_trips_and_is_checked_against_the_payload(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 5
    for digest in Digest:
        rec = Recorder(full=(S2C,), digest=digest)
        rec.feed(S2C, b"".join(framing_stream(payload)))
        [_response, data] = rec.records
        assert isinstance(data, StreamRecord) and data.kind == "data"
        assert data.digest_alg is digest
        assert (
            data.digest
            == {
                Digest.SHA256: hashlib.sha256(payload).hexdigest(),
                Digest.XXH3_128: xxhash.xxh3_128(payload).hexdigest(),
            }[digest]
        )
        path = tmp_path / f"{digest.value}.jsonl"
        write_transcript(path, Transcript(Header(what="t", digest=digest), rec.records))
        assert json.loads(path.read_text().splitlines()[0])["digest"] == digest.value
        back = read_transcript(path)
        assert back.header.digest is digest and back.records == rec.records
        # the stored payload is checked against the digest the header names
        text = path.read_text().replace(data.digest or "", "0" * digest.hex_length)
        path.write_text(text)
        with pytest.raises(TranscriptError, match=f"'{digest.value}' does not match the payload"):
            read_transcript(path)


def framing_stream(payload: bytes) -> list[bytes]:
    """What a server sends for a send stream: a ChunkedStream response header, the stream."""
    header = ResponseHeader(response_type=int(ResponseType.CHUNKED_STREAM))
    return [encode_stream(encode_message(header)), encode_stream(payload)]


def test_a_record_under_the_wrong_header_is_refused_when_written(tmp_path: Path) -> None:
    rec = Recorder(digest=Digest.SHA256)
    rec.feed(S2C, b"".join(framing_stream(b"x" * 100)))
    with pytest.raises(ValueError, match="stores a sha256 digest, the transcript header names"):
        write_transcript(tmp_path / "w.jsonl", Transcript(Header(what="t"), rec.records))


def test_version_1_transcripts_are_read_as_sha256() -> None:
    old = read_transcript(
        Path(__file__).parent.parent / "data" / "transcripts-v1" / "pullme-ok.jsonl"
    )
    assert old.header.version == 1 and old.header.digest is Digest.SHA256
    data = [r for r in old.streams() if r.kind == "data"]
    assert data and all(r.digest_alg is Digest.SHA256 for r in data)
    whole = [r for r in data if r.payload is not None]
    assert whole and all(hashlib.sha256(r.payload or b"").hexdigest() == r.digest for r in whole)


def test_a_file_cut_at_a_line_boundary_is_noticed(tmp_path: Path) -> None:
    p = _write(tmp_path / "k.jsonl", [HEADER, GOOD])
    with pytest.raises(TranscriptError, match=r"k\.jsonl:3: transcript ends without its end line"):
        read_transcript(p)
    assert len(read_transcript(p, allow_incomplete=True).records) == 1
    p = _write(tmp_path / "c.jsonl", [HEADER, GOOD, '{"end":2}'])
    with pytest.raises(TranscriptError, match=r"c\.jsonl:3: end line says 2 records, found 1"):
        read_transcript(p)
    p = _write(tmp_path / "a.jsonl", [HEADER, '{"end":0}', GOOD])
    with pytest.raises(TranscriptError, match=r"a\.jsonl:3: data after the end line"):
        read_transcript(p)


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "bin.jsonl"
    p.write_bytes(HEADER.encode() + b"\n\xff\xfe\n")
    with pytest.raises(TranscriptError, match=r"bin\.jsonl:2: not UTF-8"):
        read_transcript(p)


def test_write_then_read(tmp_path: Path) -> None:
    recs: list[StreamRecord | EventRecord] = [
        _stream(C2S, 0, "json", b'{"Type":1}\n', [11], None, False),
        _stream(S2C, 0, "data", bytes(range(256)) * 3, [500, 268], None, False),
        EventRecord("eof", dir=S2C, reason="write failed"),
        EventRecord("exit", status=3),
    ]
    header = Header(what="t", fixture="demo", profile={"identity": "a"}, identity="a")
    path = tmp_path / "w.jsonl"
    write_transcript(path, Transcript(header, list(recs)))
    t = read_transcript(path)
    assert t.records == recs
    assert t.header.profile == {"identity": "a"} and t.header.version == FORMAT_VERSION


@pytest.mark.parametrize(
    "content",
    [
        HEADER.replace('"version": 2', '"version": 9') + "\n",
        HEADER + "\n" + GOOD[:20],
        HEADER + "\n" + GOOD + "\n" + "garbage\n",
        HEADER + "\n" + GOOD + "\n",
        HEADER.replace("xxh3-128", "crc32") + "\n",
        HEADER + "\n" + DATA.replace("ab" * 16, "ab" * 15) + '\n{"end":1}\n',
    ],
)
def test_replay_cli_reports_bad_transcripts_in_one_line(tmp_path: Path, content: str) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text(content)
    res = subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "replay", str(p)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert f"{p}:" in lines[0]
