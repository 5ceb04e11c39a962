"""Family ``json``: every Go ``encoding/json`` rule of PROTOCOL-FACTS §4 on headers and bodies.

Decoding rules (§json.decode.*) are applied to request headers (where a failure is error 1)
and to bodies (error 3, or another answer when the decoded value means something else, e.g.
version 0 is error 4). Accepting what a Go peer sends is MUST; deciding "decode error"
versus "accepted" exactly like Go for inputs no Go peer sends is SHOULD. Encoding rules
(§json.encode.*) are checked on the server's answers: same values is MUST, Go's exact bytes
SHOULD.
"""

from __future__ import annotations

from ..catalog import case
from ..context import CaseContext
from ..judge import Rules
from ..model import Level, Setup
from ..setups import VISIBLE
from ..wire import chunked, go_json, request, version_obj
from .common import PROBE, RID, RT, fsv_body, init_body, standard

F = "json"
MUST, SHOULD, INFO = Level.MUST, Level.SHOULD, Level.INFO
IDS = "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]"
PV_BODY = b'{"ClientVersion":1}\n'
ONGOING = Rules(extra=MUST)


def _ids(text: str) -> str:
    """``text`` with ``<IDS>`` replaced by a 16-element id array."""
    return text.replace("<IDS>", IDS)


def _hdr(text: str, body: bytes = PV_BODY) -> bytes:
    """A request whose header is the given JSON text (and a ProtocolVersion body)."""
    return chunked(text.encode("utf-8", "surrogatepass")) + chunked(body) + PROBE


def _pv_body(text: bytes) -> bytes:
    return request(RT.PROTOCOL_VERSION, text, RID) + PROBE


def _close_body(text: bytes) -> bytes:
    return request(RT.CLOSE, text, RID) + PROBE


def _hcase(
    cid: str, section: str, level: Level, title: str, header: str, body: bytes = PV_BODY
) -> None:
    def run(ctx: CaseContext) -> None:
        standard(ctx, _hdr(header, body))

    case(cid, section, level, title, family=F)(run)


def _bcase(cid: str, section: str, level: Level, title: str, script: bytes) -> None:
    def run(ctx: CaseContext) -> None:
        standard(ctx, script)

    case(cid, section, level, title, family=F)(run)


# ---------------------------------------------------------------- key folding
_hcase(
    "json.decode.key-folding.1",
    "§json.decode.key-folding",
    SHOULD,
    'Lower-case header keys {"type":1,"id":[...]} match Type and Id',
    _ids('{"type":1,"id":<IDS>}'),
)
_hcase(
    "json.decode.key-folding.2",
    "§json.decode.key-folding",
    SHOULD,
    'Upper-case header keys {"TYPE":1,"ID":[...]} match',
    _ids('{"TYPE":1,"ID":<IDS>}'),
)
_bcase(
    "json.decode.key-folding.3",
    "§json.decode.key-folding",
    SHOULD,
    'Body key "Clientverſion" (U+017F long s) folds to ClientVersion',
    _pv_body('{"Clientverſion":1}\n'.encode()),
)
_bcase(
    "json.decode.key-folding.4",
    "§json.decode.key-folding",
    SHOULD,
    'Body key "clientversion" matches ClientVersion',
    _pv_body(b'{"clientversion":1}\n'),
)
_hcase(
    "json.decode.key-folding.5",
    "§json.decode.key-folding",
    SHOULD,
    'A key written with escapes ("\\u0054ype") matches Type',
    _ids('{"\\u0054ype":1,"Id":<IDS>}'),
)
_hcase(
    "json.decode.key-folding.6",
    "§json.decode.key-folding",
    SHOULD,
    'Key "Typ" (a prefix) is an unknown key, not Type: type 0, error 2',
    '{"Typ":1}',
)

# ---------------------------------------------------------------- duplicates
_hcase(
    "json.decode.duplicate-keys.1",
    "§json.decode.duplicate-keys",
    SHOULD,
    'Repeated key {"Type":17,"Type":1}: the last one wins',
    _ids('{"Type":17,"Type":1,"Id":<IDS>}'),
)
_hcase(
    "json.decode.duplicate-keys.2",
    "§json.decode.duplicate-keys",
    SHOULD,
    'A later null leaves the earlier value: {"Type":1,"Type":null}',
    _ids('{"Type":1,"Type":null,"Id":<IDS>}'),
)
_hcase(
    "json.decode.duplicate-keys.3",
    "§json.decode.duplicate-keys",
    SHOULD,
    'A type mismatch in any occurrence fails: {"Type":"x","Type":1} is error 1',
    '{"Type":"x","Type":1}',
)
_hcase(
    "json.decode.duplicate-keys.4",
    "§json.decode.duplicate-keys",
    SHOULD,
    'Duplicates in different spellings: {"type":17,"TYPE":1} is Type 1',
    _ids('{"type":17,"TYPE":1,"Id":<IDS>}'),
)

# ---------------------------------------------------------------- unknown keys
_hcase(
    "json.decode.unknown-keys.1",
    "§json.decode.unknown-keys",
    MUST,
    "An unknown header key with a nested value is ignored",
    _ids('{"Type":1,"Extra":{"a":[1,{"b":null}],"c":"d"},"Id":<IDS>}'),
)
_bcase(
    "json.decode.unknown-keys.2",
    "§json.decode.unknown-keys",
    MUST,
    "Unknown body keys are ignored",
    _pv_body(b'{"Zzz":[true,false],"ClientVersion":1,"Q":1.5}'),
)
_bcase(
    "json.decode.unknown-keys.3",
    "§json.decode.unknown-keys",
    SHOULD,
    "An unknown key with a syntax error inside is still a syntax error (error 3)",
    _pv_body(b'{"Zzz":[1,],"ClientVersion":1}'),
)

# ---------------------------------------------------------------- null
_hcase(
    "json.decode.null.1",
    "§json.decode.null",
    SHOULD,
    "A header of null decodes to Type 0: error 2, not 1",
    "null",
)
_hcase(
    "json.decode.null.2",
    "§json.decode.null",
    MUST,
    '"Id":null is all zeros; the request is served',
    '{"Type":1,"Id":null}',
)
_hcase(
    "json.decode.null.3",
    "§json.decode.null",
    SHOULD,
    "A null element of the id array is 0",
    '{"Type":1,"Id":[null,7]}',
)
_bcase(
    "json.decode.null.4",
    "§json.decode.null",
    SHOULD,
    '"ClientVersion":null leaves version 0: error 4',
    _pv_body(b'{"ClientVersion":null}'),
)
_bcase(
    "json.decode.null.5",
    "§json.decode.null",
    SHOULD,
    'FilesystemVersions {"Filesystem":null} is the empty path (not a decode error)',
    request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":null}\n', RID) + PROBE,
)

# ---------------------------------------------------------------- ranges
_hcase("json.decode.range.1", "§json.decode.range", MUST, "Type -1 is error 1", '{"Type":-1}')
_hcase("json.decode.range.2", "§json.decode.range", SHOULD, "Type -0 is error 1", '{"Type":-0}')
_hcase(
    "json.decode.range.3",
    "§json.decode.range",
    MUST,
    "An id element 256 is error 1",
    '{"Type":1,"Id":[256]}',
)
_hcase(
    "json.decode.range.4",
    "§json.decode.range",
    MUST,
    "Type 255 is in range: an unknown type (error 2), not a decode error",
    '{"Type":255}',
)


@case(
    "json.decode.range.5",
    "§json.decode.range",
    MUST,
    "A Guid of 2^64 is a decode error (3), never wrapped into range",
    family=F,
)
def _guid_overflow(ctx: CaseContext) -> None:
    body = init_body(ctx.facts).replace(b'"Guid":', b'"Guid":18446744073709551616,"X":')
    standard(ctx, request(RT.INITIAL_TRANSFER, body, RID) + PROBE)


@case(
    "json.decode.range.6",
    "§json.decode.range",
    MUST,
    "A Guid of 2^64-1 is accepted (the handler only uses Type and Name)",
    family=F,
)
def _guid_max(ctx: CaseContext) -> None:
    v = ctx.facts.snapshot(VISIBLE, 0)
    obj = version_obj(v)
    obj["Guid"] = 18446744073709551615
    body = go_json({"Filesystem": VISIBLE.split("/"), "FilesystemVersion": obj})
    standard(ctx, request(RT.INITIAL_TRANSFER, body, RID) + PROBE, ONGOING)


# ---------------------------------------------------------------- number syntax
_hcase(
    "json.decode.number-syntax.1",
    "§json.decode.number-syntax",
    MUST,
    "Type 1.0 (a fraction) is error 1",
    '{"Type":1.0}',
)
_hcase(
    "json.decode.number-syntax.2",
    "§json.decode.number-syntax",
    MUST,
    "Type 1e0 (an exponent) is error 1",
    '{"Type":1e0}',
)
_hcase(
    "json.decode.number-syntax.3",
    "§json.decode.number-syntax",
    SHOULD,
    "Type 1E0 is error 1",
    '{"Type":1E0}',
)
_hcase(
    "json.decode.number-syntax.4",
    "§json.decode.number-syntax",
    SHOULD,
    "Type 01 (leading zero) is a syntax error (1)",
    '{"Type":01}',
)
_hcase(
    "json.decode.number-syntax.5",
    "§json.decode.number-syntax",
    SHOULD,
    "Type +1 is a syntax error (1)",
    '{"Type":+1}',
)
_bcase(
    "json.decode.number-syntax.6",
    "§json.decode.number-syntax",
    MUST,
    "ClientVersion 1.5 is error 3",
    _pv_body(b'{"ClientVersion":1.5}'),
)

# ---------------------------------------------------------------- kinds
_hcase(
    "json.decode.type-mismatch.1",
    "§json.decode.type-mismatch",
    MUST,
    'Type "1" (a string) is error 1',
    '{"Type":"1"}',
)
_hcase(
    "json.decode.type-mismatch.2",
    "§json.decode.type-mismatch",
    MUST,
    "Type true is error 1",
    '{"Type":true}',
)
_bcase(
    "json.decode.type-mismatch.3",
    "§json.decode.type-mismatch",
    MUST,
    'PullMe {"Finished":1} (number for bool) is error 3',
    request(RT.PULL_ME, b'{"Finished":1}\n', RID) + PROBE,
)
_bcase(
    "json.decode.type-mismatch.4",
    "§json.decode.type-mismatch",
    MUST,
    'PullMe {"InitialReplPolicy":5} is error 3',
    request(RT.PULL_ME, b'{"Finished":true,"InitialReplPolicy":5}\n', RID) + PROBE,
)
_bcase(
    "json.decode.type-mismatch.5",
    "§json.decode.type-mismatch",
    MUST,
    "An InitialTransfer FilesystemVersion of [] is error 3 (array for object)",
    request(RT.INITIAL_TRANSFER, b'{"Filesystem":["pool"],"FilesystemVersion":[]}\n', RID) + PROBE,
)
_bcase(
    "json.decode.type-mismatch.6",
    "§json.decode.type-mismatch",
    MUST,
    'A DatasetPath given as text "pool/data" in InitialTransfer is error 3',
    request(RT.INITIAL_TRANSFER, b'{"Filesystem":"pool/data"}\n', RID) + PROBE,
)
_bcase(
    "json.decode.type-mismatch.7",
    "§json.decode.type-mismatch",
    MUST,
    "A body that is a JSON string is error 3",
    request(RT.CLOSE, b'"bye"\n', RID) + PROBE,
)

# ---------------------------------------------------------------- id arrays
_hcase(
    "json.decode.id-array.1",
    "§json.decode.id-array",
    SHOULD,
    "A 3-element Id is padded with zeros (and echoed so)",
    '{"Type":1,"Id":[9,8,7]}',
)
_hcase(
    "json.decode.id-array.2",
    "§json.decode.id-array",
    SHOULD,
    "A 20-element Id: elements beyond the 16th are ignored",
    '{"Type":1,"Id":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}',
)
_hcase(
    "json.decode.id-array.3",
    "§json.decode.id-array",
    MUST,
    'A base64 string Id ("AAAA") is error 1',
    '{"Type":1,"Id":"AAAA"}',
)
_hcase(
    "json.decode.id-array.4",
    "§json.decode.id-array",
    SHOULD,
    "A header without Id is served with a zero id",
    '{"Type":1}',
)
_hcase(
    "json.decode.id-array.5",
    "§json.decode.id-array",
    SHOULD,
    "A repeated Id key: the second, shorter array replaces the first and is padded with zeros",
    _ids('{"Type":1,"Id":<IDS>,"Id":[9]}'),
)
_hcase(
    "json.decode.id-array.6",
    "§json.decode.id-array",
    MUST,
    "An Id element of 4301 digits (past Python's default int-string limit) is error 1",
    '{"Type":1,"Id":[' + "7" * 4301 + "]}",
)
_hcase(
    "json.decode.id-array.7",
    "§json.decode.id-array",
    SHOULD,
    "Id given three times ([], sixteen 1s, [200,null]): decoded into one array, echoed "
    "[200,1,0,...]",
    '{"Type":1,"Id":[],"Id":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"Id":[200,null]}',
)
_hcase(
    "json.decode.id-array.8",
    "§json.decode.id-array",
    MUST,
    "An Id element 300 (above uint8) is error 1",
    '{"Type":1,"Id":[300]}',
)

# ---------------------------------------------------------------- strings
_bcase(
    "json.decode.escapes.1",
    "§json.decode.escapes",
    MUST,
    "Valid escapes (\\u00e9, a surrogate pair, \\/) in a string are accepted",
    _close_body(b'{"Goodbye":"caf\\u00e9 \\ud83d\\ude00 \\/ \\t"}'),
)
_bcase(
    "json.decode.escapes.2",
    "§json.decode.escapes",
    SHOULD,
    "A lone surrogate escape \\ud800 is accepted (decodes to U+FFFD)",
    _close_body(b'{"Goodbye":"\\ud800"}'),
)
_bcase(
    "json.decode.escapes.3",
    "§json.decode.escapes",
    SHOULD,
    "\\u0000 inside a string is accepted",
    _close_body(b'{"Goodbye":"a\\u0000b"}'),
)
_bcase(
    "json.decode.escapes.4",
    "§json.decode.escapes",
    SHOULD,
    "Raw invalid UTF-8 inside a string is accepted",
    _close_body(b'{"Goodbye":"\xff\xfe"}'),
)
_bcase(
    "json.decode.escapes.5",
    "§json.decode.escapes",
    MUST,
    "A raw control byte inside a string is error 3",
    _close_body(b'{"Goodbye":"a\x01b"}'),
)
_bcase(
    "json.decode.escapes.6",
    "§json.decode.escapes",
    MUST,
    "An unknown escape \\x is error 3",
    _close_body(b'{"Goodbye":"\\x41"}'),
)
_hcase(
    "json.decode.escapes.7",
    "§json.decode.escapes",
    MUST,
    "A byte-order mark before the header is error 1",
    _ids('\ufeff{"Type":1,"Id":<IDS>}'),
)
_bcase(
    "json.decode.escapes.8",
    "§json.decode.escapes",
    SHOULD,
    "Upper-case hex in escapes (\\u00E9) is accepted",
    _close_body(b'{"Goodbye":"\\u00E9"}'),
)

# ---------------------------------------------------------------- after the first value
_hcase(
    "json.decode.trailing.1",
    "§json.decode.trailing",
    MUST,
    'Bytes after the header value (a stray "]") are ignored',
    _ids('{"Type":1,"Id":<IDS>}]'),
)
_hcase(
    "json.decode.trailing.2",
    "§json.decode.trailing",
    MUST,
    "Whitespace, NUL and garbage after the value in the same stream are ignored",
    _ids('{"Type":1,"Id":<IDS>} \x00garbage'),
)
_hcase(
    "json.decode.trailing.3",
    "§json.decode.trailing",
    SHOULD,
    'Header "{}{" decodes as {} (type 0, error 2)',
    "{}{",
)
_hcase(
    "json.decode.trailing.4",
    "§json.decode.trailing",
    MUST,
    'Header {"Type":16} {"Type":1}: only the first value counts (a Filesystem request)',
    _ids('{"Type":16,"Id":<IDS>} {"Type":1}'),
    b'{"Roots":null}\n',
)
_bcase(
    "json.decode.trailing.5",
    "§json.decode.trailing",
    SHOULD,
    'Body "nullx" decodes as null: version 0, error 4',
    _pv_body(b"nullx"),
)

# ---------------------------------------------------------------- whitespace and spacing
_hcase(
    "json.first-value.1",
    "§json.first-value",
    SHOULD,
    "Leading whitespace before the header value is skipped",
    _ids(' \n\t\r{"Type":1,"Id":<IDS>}'),
)
_hcase(
    "json.first-value.2",
    "§json.first-value",
    SHOULD,
    "A pretty-printed header with spaces and newlines is accepted",
    '{\n  "Type" : 1 ,\n  "Id" : [ 1 , 2 ]\n}\n',
)
_bcase(
    "json.first-value.3",
    "§json.first-value",
    SHOULD,
    "A body without the trailing newline is accepted",
    request(RT.PROTOCOL_VERSION, b'{"ClientVersion":1}', RID) + PROBE,
)

# ---------------------------------------------------------------- the server's encoding
_hcase(
    "json.encode.escapes.1",
    "§json.encode.escapes",
    SHOULD,
    "A decode-error text quoting '<' is sent with < escaped as \\u003c",
    "<",
)
_hcase(
    "json.encode.escapes.2",
    "§json.encode.escapes",
    SHOULD,
    "A decode-error text quoting non-ASCII 'ï' (a BOM) is sent as raw UTF-8",
    "\ufeff",
)
_hcase(
    "json.encode.escapes.3",
    "§json.encode.escapes",
    SHOULD,
    "A decode-error text quoting '&' is sent with & escaped as \\u0026",
    "&",
)
_hcase(
    "json.encode.escapes.4",
    "§json.encode.escapes",
    SHOULD,
    "A decode-error text quoting '>' is sent with > escaped as \\u003e",
    ">",
)
_hcase(
    "json.encode.escapes.5",
    "§json.encode.escapes",
    SHOULD,
    'A decode-error text quoting a double quote is sent with it escaped as \\"',
    '{"Type":1 "Id":[]}',
)
_hcase(
    "json.encode.escapes.6",
    "§json.encode.escapes",
    SHOULD,
    "A decode-error text quoting a backslash is sent with it escaped as \\\\",
    "\\",
)


@case(
    "json.encode.integers.1",
    "§json.encode.integers",
    MUST,
    "Every 64-bit GUID in a FilesystemDiff body is exact (no float rounding)",
    family=F,
)
def _guids(ctx: CaseContext) -> None:
    got, _ = standard(ctx, request(RT.FILESYSTEM_VERSIONS, fsv_body(), RID))
    want = ctx.facts.versions(VISIBLE)
    if got.responses and got.responses[0].versions is not None:
        have = list(got.responses[0].versions)
        ctx.check(
            [v.guid for v in have] == [v.guid for v in want],
            MUST,
            "GUIDs differ from the fixture's",
            [v.guid for v in want],
            [v.guid for v in have],
        )


@case(
    "json.encode.nil-slice.1",
    "§json.encode.nil-slice",
    SHOULD,
    "An empty Filesystems result is written [] (null is accepted by readers)",
    family=F,
    setup=Setup(profile="empty-acl"),
)
def _empty_fs(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM, b'{"Roots":null}\n', RID))


@case(
    "json.encode.nil-slice.2",
    "§json.encode.nil-slice",
    SHOULD,
    "A dataset without versions gets a FilesystemDiff body of []",
    family=F,
    setup=Setup(profile="all-acl"),
)
def _empty_fsv(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, fsv_body("backup/zrepl"), RID))


@case(
    "json.encode.newline.1",
    "§json.encode.newline",
    SHOULD,
    "Every JSON message the server writes ends with one newline",
    family=F,
)
def _newlines(ctx: CaseContext) -> None:
    got, _ = standard(ctx, request(RT.FILESYSTEM, b'{"Roots":null}\n', RID) + PROBE)
    for i, r in enumerate(got.responses, 1):
        streams = [("header", r.header_stream)]
        if r.body_stream is not None and not r.is_stream:
            streams.append(("body", r.body_stream))
        for what, s in streams:
            one = s.payload.endswith(b"\n") and not s.payload.endswith(b"\n\n")
            ctx.check(
                one,
                SHOULD,
                f"response #{i}: the {what} does not end with one newline",
                "...\\n",
                repr(s.payload[-8:]),
            )
