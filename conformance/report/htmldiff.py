"""Expected vs actual as HTML, with the parts that differ marked.

A finding quotes what the original would have said and what the implementation said; they
usually differ in one number or word inside a long error text (``E(1, 'cannot decode ...')``
vs ``E(3, 'cannot decode ...')``), which a reader should not have to find by eye. The texts
are compared token by token (words, runs of whitespace, single other characters), so a
changed number is marked whole and a shared word is never split into matching letters.

The comparison is bounded: only the first :data:`DIFF_LIMIT` characters of each side are
compared (a finding may quote a whole wire log); the rest is shown as plain text.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from html import escape
from typing import Final, NamedTuple

from .text import printable

__all__ = ["DIFF_LIMIT", "Marked", "diff_html"]

DIFF_LIMIT: Final = 4096
"""Characters of each side that are compared; enough for any message, cheap to compare."""

MATCH_BUDGET: Final = 160_000
"""Token pairs the matcher may consider (its worst case is their product): 400 x 400."""

_TOKEN: Final = re.compile(r"\w+|\s+|.", re.S)


class Marked(NamedTuple):
    """Both sides as escaped HTML: ``<del>`` marks what only the expected text has, ``<ins>``
    what only the actual text has."""

    expected: str
    actual: str


def _wrap(tag: str, tokens: list[str]) -> str:
    text = escape(printable("".join(tokens)))
    return f"<{tag}>{text}</{tag}>" if tag and text else text


def _rest(text: str, limit: int) -> str:
    if len(text) <= limit:
        return ""
    return (
        escape(printable(text[limit:]))
        + f'<span class="cut"> [not compared after {limit} characters]</span>'
    )


def _common_ends(a: list[str], b: list[str]) -> tuple[int, int]:
    """Lengths of the common prefix and of the common suffix (not overlapping it)."""
    n = min(len(a), len(b))
    head = 0
    while head < n and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def _middle(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    """The differing middles, token-diffed when that is cheap, else marked whole."""
    if len(a) * len(b) > MATCH_BUDGET:
        return [_wrap("del", a)], [_wrap("ins", b)]
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        left.append(_wrap("" if op == "equal" else "del", a[i1:i2]))
        right.append(_wrap("" if op == "equal" else "ins", b[j1:j2]))
    return left, right


def diff_html(expected: str, actual: str, limit: int = DIFF_LIMIT) -> Marked:
    """Both texts escaped, with the differing tokens of their first ``limit`` characters
    marked; when one side is empty there is nothing to compare and nothing is marked.

    The common prefix and suffix are found first (linear; a finding usually differs in one
    place); only what lies between is given to :class:`difflib.SequenceMatcher`, and only
    when its quadratic worst case stays under :data:`MATCH_BUDGET`.
    """
    if not expected or not actual:
        return Marked(escape(printable(expected)), escape(printable(actual)))
    a = _TOKEN.findall(expected[:limit])
    b = _TOKEN.findall(actual[:limit])
    head, tail = _common_ends(a, b)
    mid_a, mid_b = _middle(a[head : len(a) - tail], b[head : len(b) - tail])
    start, end_a, end_b = (
        _wrap("", a[:head]),
        _wrap("", a[len(a) - tail :]),
        _wrap("", b[len(b) - tail :]),
    )
    return Marked(
        start + "".join(mid_a) + end_a + _rest(expected, limit),
        start + "".join(mid_b) + end_b + _rest(actual, limit),
    )
