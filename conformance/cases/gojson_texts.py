"""Family ``json``: Go's syntax-error texts for each kind of offending byte
(§json.decode-error-text).

Go names the byte that broke the syntax with ``quoteChar``: the byte taken as a rune and
quoted like ``strconv.Quote`` but between single quotes — ``'\\a'`` for BEL, ``'\\u0080'``
for a byte 0x80 (a C1 control), ``'¡'`` for 0xA1, ``'\\u00ad'`` for the soft hyphen, which
is not printable — and says where it was (``looking for beginning of value``, ``in numeric
literal``, ``in string literal``, ``in \\u hexadecimal character escape``). Every header
here is one request header that fails with error 1 and such a text — or, for a syntactically
valid value of the wrong kind, Go's ``cannot unmarshal`` text; the texts are SHOULD
(§json.decode-error-text), so one table row per rule of that naming. Several rows pad with
300 spaces: an offset above 256 is where a Python implementation comparing positions with
``is`` instead of ``==`` goes wrong (small ints are cached, larger ones are not).
"""

from __future__ import annotations

from typing import Final

from ..catalog import case
from ..context import CaseContext
from ..model import Level
from ..wire import chunked
from .common import PROBE, standard

F = "json"
PV_BODY: Final = b'{"ClientVersion":1}\n'

HEADERS: Final[tuple[tuple[str, bytes, str], ...]] = (
    ("a letter after a minus", b"-x", "'x' in numeric literal"),
    ("a space after a minus", b"- ", "' ' in numeric literal"),
    ("'!' where a value starts", b"!", "'!' looking for beginning of value"),
    ("a single quote where a value starts", b"'", "'\\'' looking for beginning of value"),
    ("BEL (0x07)", b"\x07", "'\\a' looking for beginning of value"),
    ("BS (0x08)", b"\x08", "'\\b' looking for beginning of value"),
    ("VT (0x0B)", b"\x0b", "'\\v' looking for beginning of value"),
    ("FF (0x0C)", b"\x0c", "'\\f' looking for beginning of value"),
    ("SOH (0x01)", b"\x01", "'\\x01' looking for beginning of value"),
    ("DEL (0x7F)", b"\x7f", "'\\x7f' looking for beginning of value"),
    ("the byte 0x80", b"\x80", "'\\u0080' looking for beginning of value"),
    ("the byte 0x81", b"\x81", "'\\u0081' looking for beginning of value"),
    ("the byte 0xA1", b"\xa1", "'¡' looking for beginning of value"),
    ("the byte 0xAD", b"\xad", "'\\u00ad' looking for beginning of value"),
    ("the byte 0xFF", b"\xff", "'ÿ' looking for beginning of value"),
    ("a raw CR in a string", b'{"Type":"\r"}', "'\\r' in string literal"),
    ("a raw LF in a string", b'{"Type":"\n"}', "'\\n' in string literal"),
    ("a quote inside \\u", b'{"Type":"\\u123"}', "'\"' in \\u hexadecimal character escape"),
    ("the end inside \\u", b'{"Type":"\\u12', "unexpected EOF"),
    ("300 spaces, then a minus", b" " * 300 + b"-", "unexpected EOF"),
    ("a bracket after a decimal point", b"[-9.]", "']' after decimal point in numeric literal"),
    ("a slash after a decimal point", b"0./", "'/' after decimal point in numeric literal"),
    ("a bracket in an exponent", b"[0e+]", "']' in exponent of numeric literal"),
    ("a plus after an array element", b"[-0+", "'+' after array element"),
    ("a bad letter in null", b"[nulx", "'x' in literal null (expecting 'l')"),
    ("'/' where a value starts", b"/", "'/' looking for beginning of value"),
    ("'!' where a key starts", b"{!}", "'!' looking for beginning of object key string"),
    ("a number after a key", b'{"Type":{"a" 1}}', "'1' after object key"),
    ("the end after an exponent mark", b"9e", "unexpected EOF"),
    ("the end after [null", b"[null", "unexpected EOF"),
    ("the end after [[]", b"[[]", "unexpected EOF"),
    ("300 spaces, then tru", b" " * 300 + b"tru", "unexpected EOF"),
    ("300 spaces, then 1e+", b" " * 300 + b"1e+", "unexpected EOF"),
    ("[, 300 spaces, then 1", b"[" + b" " * 300 + b"1", "unexpected EOF"),
    ("a member, a comma, 300 spaces", b'{"a":1,' + b" " * 300, "unexpected EOF"),
    (
        "a number 9E0 at top level",
        b"9E0",
        "cannot unmarshal number into Go value of type rpc.RequestHeader",
    ),
    (
        "a number 0.9 at top level",
        b"0.9",
        "cannot unmarshal number into Go value of type rpc.RequestHeader",
    ),
    (
        "a number 9e9 at top level",
        b"9e9",
        "cannot unmarshal number into Go value of type rpc.RequestHeader",
    ),
    (
        "an object Type, then a key of byte 0xFF",
        b'{"Type":{},"\xff":1}',
        "cannot unmarshal object into Go struct field RequestHeader.Type of type rpc.RequestType",
    ),
    ("valid values, then tAue", b'[[],{"":1},false,tAue]', "'A' in literal true (expecting 'r')"),
    ("a space, then t", b" t", "unexpected EOF"),
    ("300 spaces only", b" " * 300, ": EOF"),
    ('{"a", then 300 spaces', b'{"a"' + b" " * 300, "unexpected EOF"),
    ("[, then 300 spaces", b"[" + b" " * 300, "unexpected EOF"),
    ("10 001 nested [", b"[" * 10_001, "'[' exceeded max depth"),
    (
        "two spaces, 0, then more values",
        b"  0 [][][][]",
        "cannot unmarshal number into Go value of type rpc.RequestHeader",
    ),
    ("a slash in an exponent", b"0e/", "'/' in exponent of numeric literal"),
    ("a colon in an exponent", b"0e:", "':' in exponent of numeric literal"),
    ("a letter where a key starts", b"{a}", "'a' looking for beginning of object key string"),
    ("a brace after a key", b'{"a"}', "'}' after object key"),
    ("':' where a value starts", b":", "':' looking for beginning of value"),
    (
        "[] and a byte 0xFF",
        b"[]\xff",
        "cannot unmarshal array into Go value of type rpc.RequestHeader",
    ),
    ("a tilde after a member", b'{"a":1~', "'~' after object key:value pair"),
    ("a brace after an array element", b"[1}", "'}' after array element"),
    ("a raw 0x1F in a string", b'{"Type":"\x1f"}', "'\\x1f' in string literal"),
    ("the byte 0xA0", b"\xa0", "'\\u00a0' looking for beginning of value"),
    ("'#' where a value starts", b"#", "'#' looking for beginning of value"),
    ("a slash after a minus", b"-/", "'/' in numeric literal"),
    ("a colon after a minus", b"-:", "':' in numeric literal"),
    ("a colon after a decimal point", b"1.:", "':' after decimal point in numeric literal"),
    ("300 spaces, then 1.", b" " * 300 + b"1.", "unexpected EOF"),
    ('300 spaces, then "\\', b" " * 300 + b'"\\', "unexpected EOF"),
    ('300 spaces, then "a', b" " * 300 + b'"a', "unexpected EOF"),
    ('300 spaces, then "\\u1', b" " * 300 + b'"\\u1', "unexpected EOF"),
    ("300 spaces, then 1e", b" " * 300 + b"1e", "unexpected EOF"),
    (
        "300 spaces, then 1",
        b" " * 300 + b"1",
        "cannot unmarshal number into Go value of type rpc.RequestHeader",
    ),
    ("10 001 [ and as many ]", b"[" * 10_001 + b"]" * 10_001, "'[' exceeded max depth"),
    (
        "10 000 [ and as many ]",
        b"[" * 10_000 + b"]" * 10_000,
        "cannot unmarshal array into Go value of type rpc.RequestHeader",
    ),
)
"""(what the header holds, the header's bytes, the end of Go's text for it)."""


def _title(what: str, text: str) -> str:
    """The case title: with Go's text where it fits a title (the table has it for all)."""
    full = f"A header of {what}: error 1, Go's text ends {text}"
    return full if len(full) < 110 else f"A header of {what}: error 1 with Go's text"


def _text_case(n: int, what: str, header: bytes, text: str) -> None:
    def run(ctx: CaseContext) -> None:
        standard(ctx, chunked(header) + chunked(PV_BODY) + PROBE)

    case(
        f"json.decode.error-text.{n}",
        "§json.decode-error-text",
        Level.SHOULD,
        _title(what, text),
        family=F,
    )(run)


for _n, (_what, _header, _text) in enumerate(HEADERS, 1):
    _text_case(_n, _what, _header, _text)
