"""The table of ``conformance.cases.gojson_texts``: each title states Go's text, so each row's
header must really fail with that text in the reference's decoder (which the cases compare
implementations with), and the table must not repeat a header."""

from __future__ import annotations

import pytest

from bytestreamrpc.errors import DecodeError
from bytestreamrpc.messages import RequestHeader, decode_message
from conformance.cases.gojson_texts import HEADERS


@pytest.mark.parametrize(("what", "header", "text"), HEADERS, ids=[h[0] for h in HEADERS])
def test_each_header_fails_with_the_text_its_title_gives(
    what: str, header: bytes, text: str
) -> None:
    with pytest.raises(DecodeError) as err:
        decode_message(RequestHeader, header)
    message = str(err.value)
    assert message.startswith("cannot decode *rpc.RequestHeader: "), what
    assert message.endswith(text), (what, message)


def test_no_header_appears_twice() -> None:
    headers = [h[1] for h in HEADERS]
    assert len(set(headers)) == len(headers)
