"""Text that every report format can hold: what an implementation sent, made safe to print.

A report quotes what the implementation said: decoded JSON (which may carry lone surrogates
such as ``\\ud800``, valid in Go's escapes), stderr (any bytes, decoded with
``surrogateescape``), its exit status. None of that may stop a report from being written
(a lone surrogate cannot be encoded as UTF-8) or do anything to the reader's terminal (an
ESC starts a control sequence). :func:`printable` is the one place that turns such text into
visible escapes; the console, HTML and JUnit writers all pass free text through it.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["printable"]

# C0 controls but TAB and LF, DEL, C1 controls, lone surrogates (a str never holds a pair),
# and the two line separators a browser or terminal would treat as line breaks.
_UNSAFE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character and lone surrogate as a visible escape.

    TAB and LF stay (reports are multi-line); CR becomes ``\\x0d`` so it cannot overwrite a
    console line. The result encodes as UTF-8 and is valid XML character data once the usual
    ``&<>`` escaping is applied.
    """
    return _UNSAFE.sub(_escape, text)
