"""Writing transcripts: one JSON line per record, then the end line (:mod:`recordings.format`
has the format's description).

Apart from the reader (:mod:`recordings.format_read`) because the two share only the
records and encodings of :mod:`recordings.format_records`: the writer renders what it is
given, the reader trusts nothing it reads.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

from .format_records import (
    FORMAT_NAME,
    FORMAT_VERSION,
    EventRecord,
    Header,
    Record,
    StreamRecord,
    Transcript,
    compact_json,
    first_json_value,
    format_chunks,
)

__all__ = [
    "TranscriptWriter",
    "check_digest",
    "dumps_end",
    "dumps_header",
    "dumps_record",
    "record_dict",
    "write_transcript",
]


def _header_dict(h: Header) -> dict[str, object]:
    d: dict[str, object] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "toolkit": h.toolkit,
        "what": h.what,
        "digest": h.digest.value,
    }
    for key in ("scenario", "title", "fixture", "identity"):
        value = getattr(h, key)
        if value is not None:
            d[key] = value
    if h.profile is not None:
        d["profile"] = dict(h.profile)
    if h.command is not None:
        d["command"] = list(h.command)
    if h.full:
        d["full"] = list(h.full)
    if h.started is not None:
        d["started"] = h.started
    return d


def _dumps(d: Mapping[str, object]) -> str:
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def dumps_header(h: Header) -> str:
    return _dumps(_header_dict(h))


def _store_bytes(d: dict[str, object], payload: bytes) -> None:
    try:
        d["text"] = payload.decode("utf-8")
    except UnicodeDecodeError:
        d["b64"] = base64.b64encode(payload).decode("ascii")


def record_dict(rec: Record) -> dict[str, object]:
    """The JSON object of one record line (see the module docstring)."""
    if isinstance(rec, EventRecord):
        d: dict[str, object] = {"event": rec.event}
        if rec.dir is not None:
            d["dir"] = rec.dir
        if rec.status is not None:
            d["status"] = rec.status
        if rec.reason is not None:
            d["reason"] = rec.reason
        if rec.state is not None:
            d["state"] = {name: dict(ds) for name, ds in sorted(rec.state.items())}
        if rec.t is not None:
            d["t"] = round(rec.t, 6)
        return d
    d = {"dir": rec.dir, "seq": rec.seq, "kind": rec.kind}
    if rec.go is not None:
        d["go"] = rec.go
    d["chunks"] = format_chunks(rec.chunks)
    if rec.cut is not None:
        if rec.cut.declared is not None:
            d["cut"] = {"declared": rec.cut.declared}
        else:
            d["cut"] = {"header": (rec.cut.header or b"").hex()}
    if rec.crafted:
        d["crafted"] = True
    if rec.kind == "json" and rec.payload is not None:
        ok, value = first_json_value(rec.payload)
        if ok:
            d["msg"] = value
        if not ok or compact_json(value) != rec.payload:
            _store_bytes(d, rec.payload)
    else:
        d["len"] = rec.length
        if rec.digest is not None:
            d[rec.digest_alg.value] = rec.digest
        if rec.kind == "data":
            d["prefix"] = rec.prefix.hex()
        if rec.payload is not None:
            d["b64"] = base64.b64encode(rec.payload).decode("ascii")
    if rec.t is not None:
        d["t"] = round(rec.t, 6)
    return d


def dumps_record(rec: Record) -> str:
    return _dumps(record_dict(rec))


def check_digest(header: Header, rec: Record) -> None:
    """:class:`ValueError` when ``rec`` stores a digest other than the one ``header`` names
    (such a file could not be read back)."""
    if isinstance(rec, StreamRecord) and rec.digest is not None and rec.digest_alg != header.digest:
        raise ValueError(
            f"{rec.describe()}: stores a {rec.digest_alg.value} digest, "
            f"the transcript header names {header.digest.value}"
        )


def dumps_end(count: int) -> str:
    """The last line of a complete transcript: ``{"end": <number of records>}``."""
    return _dumps({"end": count})


class TranscriptWriter:
    """Writes a transcript line by line (flushed per record, so a crash loses little)."""

    def __init__(self, target: str | Path | IO[str], header: Header) -> None:
        if isinstance(target, str | Path):
            self.path = str(target)
            self._file: IO[str] = open(target, "w", encoding="utf-8")  # noqa: SIM115
            self._owns = True
        else:
            self.path = getattr(target, "name", "<stream>")
            self._file = target
            self._owns = False
        self.header = header
        self._file.write(dumps_header(header) + "\n")
        self._file.flush()
        self.count = 0
        self._ended = False

    def write(self, rec: Record) -> None:
        self.write_all([rec])

    def write_all(self, recs: Iterable[Record]) -> None:
        for rec in recs:
            check_digest(self.header, rec)
            self._file.write(dumps_record(rec) + "\n")
            self.count += 1
        self._file.flush()

    def close(self) -> None:
        """Write the end line (the transcript is complete) and close the file."""
        if not self._ended and not self._file.closed:
            self._ended = True
            self._file.write(dumps_end(self.count) + "\n")
            self._file.flush()
        if self._owns and not self._file.closed:
            self._file.close()


def write_transcript(path: str | Path, t: Transcript) -> None:
    """Write ``t`` atomically (temp file + rename, so readers never see half a file)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    buf = io.StringIO()
    buf.write(dumps_header(t.header) + "\n")
    for rec in t.records:
        check_digest(t.header, rec)
        buf.write(dumps_record(rec) + "\n")
    buf.write(dumps_end(len(t.records)) + "\n")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, p)
    t.path = str(p)
