"""The transcript format: one JSON object per line, versioned (docs/RECORDINGS.md).

Line 1 is the :class:`Header`; it names the digest stored for streams not kept whole
(:mod:`recordings.digest`; version 1 files, which do not name one, used SHA-256). Every
following line is a record, in the order the recorder
saw it complete:

* a :class:`StreamRecord` per chunked stream one direction sent (``c2s`` client to server,
  ``s2c`` server to client): its exact chunk boundaries, and either the message it carries
  (``kind: "json"``) or, for a send stream (``kind: "data"``), its length, digest and first
  bytes (the whole payload as base64 when recorded with ``--full``);
* an :class:`EventRecord`: a direction reaching end of file (``eof``), the recorded
  process's exit status (``exit``), or what a recorded client job ended with (``outcome``:
  its exit status and its fake ZFS datasets afterwards; :mod:`recordings.outcome`).

The last line, ``{"end": N}`` with N the number of records, says the transcript is complete:
a file cut at a line boundary (a recorder that was killed) is reported, not misread.

Exactness: a JSON record's bytes are the ``msg`` value re-encoded compactly when that gives
back exactly the bytes that were sent (the normal case, so files stay readable); otherwise
the bytes are stored verbatim as ``text`` (valid UTF-8) or ``b64``, and ``msg``, if present,
is only a reading aid that must agree with them. Chunk boundaries are run-length encoded
(``"32764*32,17"``). A stream cut short by end of file says where (``cut``), so every byte
seen on the wire can be rebuilt (:func:`wire_bytes`).

Reading is strict: any malformed line, inconsistent record or a newer format version is a
:class:`TranscriptError` naming the file and line, never a traceback, because a transcript
that is silently misread compares against the wrong thing.

The format is implemented in three modules, re-exported here so ``recordings.format`` stays
the one name to import from: :mod:`recordings.format_records` (the records, and the
encodings writer and reader share), :mod:`recordings.format_write` (rendering and writing)
and :mod:`recordings.format_read` (parsing and validation).
"""

from __future__ import annotations

from .format_read import loads_record, read_transcript
from .format_records import (
    C2S,
    DIRECTIONS,
    FORMAT_NAME,
    FORMAT_VERSION,
    PREFIX_LEN,
    S2C,
    Cut,
    Direction,
    EventRecord,
    Header,
    Record,
    StreamRecord,
    Transcript,
    TranscriptError,
    format_chunks,
    other,
    parse_chunks,
    toolkit_version,
    wire_bytes,
)
from .format_records import compact_json as compact_json
from .format_records import first_json_value as first_json_value
from .format_write import (
    TranscriptWriter,
    check_digest,
    dumps_end,
    dumps_header,
    dumps_record,
    write_transcript,
)
from .format_write import record_dict as record_dict

__all__ = [
    "C2S",
    "DIRECTIONS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "PREFIX_LEN",
    "S2C",
    "Cut",
    "Direction",
    "EventRecord",
    "Header",
    "Record",
    "StreamRecord",
    "Transcript",
    "TranscriptError",
    "TranscriptWriter",
    "check_digest",
    "dumps_end",
    "dumps_header",
    "dumps_record",
    "format_chunks",
    "loads_record",
    "other",
    "parse_chunks",
    "read_transcript",
    "toolkit_version",
    "wire_bytes",
    "write_transcript",
]
