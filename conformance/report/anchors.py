"""§ ids as links into docs/PROTOCOL.md, at the anchors GitHub gives its headings.

A report names the section each case tests (``§server.pv.ok``); a reader wants to click it
and read the requirement. GitHub anchors a heading by its whole text
(``### §server.pv.ok — ProtocolVersion accepted`` is ``#serverpvok--protocolversion-accepted``),
so the id alone does not give the anchor: the headings are read from docs/PROTOCOL.md when
the package sits in its repository, and a slug of the bare id is only the fallback.

The report may be opened anywhere, so the document's address is a parameter
(:data:`PROTOCOL_URL`, relative to the report by default; a GitHub blob URL works too).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Final

from .text import printable

__all__ = ["PROTOCOL_MD", "PROTOCOL_URL", "SectionLinks", "github_slug", "heading_anchors"]

PROTOCOL_URL: Final = "docs/PROTOCOL.md"
"""Where the links point by default: the document relative to the report's directory."""

PROTOCOL_MD: Final = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"
"""The specification in the repository this package belongs to (absent when installed)."""

_HEADING: Final = re.compile(r"^#{1,6}[ \t]+(.*?)[ \t]*$")
_FENCE: Final = re.compile(r"^ {0,3}(```|~~~)")
SECTION_ID: Final = re.compile(r"§[a-z0-9]+(?:[.-][a-z0-9]+)*")
"""A § id in free text; a sentence's full stop after it is not part of it."""


def github_slug(text: str) -> str:
    """The anchor GitHub derives from a heading's text.

    Lowercase; every character but letters, marks, digits, connector punctuation, ASCII
    hyphens and spaces dropped (so "§", "." and "—" go); spaces become hyphens. Headings
    around an em dash thus get two hyphens, as GitHub's own anchors have.
    """
    kept = (
        ch
        for ch in text.lower()
        if ch in " -" or unicodedata.category(ch)[0] in "LMN" or unicodedata.category(ch) == "Pc"
    )
    return "".join(kept).replace(" ", "-")


def heading_anchors(markdown: str) -> dict[str, str]:
    """§ id -> anchor of the heading that starts with it, in a Markdown document.

    Anchors are counted as GitHub counts them: a repeated slug gets ``-1``, ``-2``, ...;
    lines inside fenced code blocks are not headings.
    """
    seen: Counter[str] = Counter()
    anchors: dict[str, str] = {}
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        m = None if fenced else _HEADING.match(line)
        if m is None or not m.group(1):
            continue
        slug = github_slug(m.group(1))
        anchor = f"{slug}-{seen[slug]}" if seen[slug] else slug
        seen[slug] += 1
        first = m.group(1).split()[0]
        if SECTION_ID.fullmatch(first):
            anchors.setdefault(first, anchor)
    return anchors


@lru_cache(maxsize=4)
def _anchors_of(path: Path) -> Mapping[str, str]:
    try:
        return heading_anchors(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


class SectionLinks:
    """Turns § ids into ``<a>`` elements pointing at their heading in the specification."""

    def __init__(self, base: str = PROTOCOL_URL, protocol_md: Path | None = PROTOCOL_MD) -> None:
        self.base = base
        self.anchors: Mapping[str, str] = _anchors_of(protocol_md) if protocol_md else {}

    def anchor(self, section: str) -> str:
        """The heading's anchor, or the slug of the bare id when the document is not here."""
        return self.anchors.get(section) or github_slug(section)

    def href(self, section: str) -> str:
        return f"{self.base}#{self.anchor(section)}"

    def link(self, section: str) -> str:
        """An ``<a>`` whose text is ``section`` (made printable, escaped)."""
        href = escape(printable(self.href(section)))
        return f'<a class="sec" href="{href}">{escape(printable(section))}</a>'

    def linkify(self, text_html: str) -> str:
        """Escaped free text with each § id the specification has made a link.

        Ids not in the document stay text (with no document at hand, none is linked): a
        message may quote a § id that is only similar to a heading.
        """
        # An id is made of characters that escaping leaves alone: the match is the id itself.
        return SECTION_ID.sub(
            lambda m: self.link(m.group()) if m.group() in self.anchors else m.group(),
            text_html,
        )
