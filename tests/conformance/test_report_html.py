"""The HTML report reads top down: summary, failures, the folded section table, all cases.

What a reader relies on is checked on rendered pages: failures (FAIL, then NON-STRICT) come
before everything else, the per-section table is folded away, every § link lands on a real
heading of docs/PROTOCOL.md (anchors as GitHub computes them), expected vs actual mark
exactly the differing part at a bounded cost, metadata is in human units, and a documented
behaviour of the original is badged as such. Arbitrary text is covered by the property test
in tests/conformance/test_reports.py.
"""

from __future__ import annotations

import html as htmllib
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.catalog import all_cases
from conformance.model import VERDICT_ORDER, CaseResult, Finding, Level, Verdict
from conformance.report import html
from conformance.report.anchors import (
    PROTOCOL_URL,
    SectionLinks,
    github_slug,
    heading_anchors,
)
from conformance.report.htmldiff import DIFF_LIMIT, MATCH_BUDGET, diff_html
from conformance.report.text import printable

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_MD = ROOT / "docs" / "PROTOCOL.md"
VOID = {"br", "input", "meta", "hr", "img", "link"}


def _heading_slugs() -> set[str]:
    """Every heading's slug in docs/PROTOCOL.md, straight from the heading lines."""
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    return {github_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def _result(
    case_id: str,
    verdict: Verdict,
    findings: list[Finding] | None = None,
    section: str = "§server.pv.ok",
    duration: float = 0.3,
) -> CaseResult:
    return CaseResult(
        case_id=case_id,
        section=section,
        level="MUST",
        role="server",
        family=case_id.split(".")[0],
        title=f"title of {case_id}",
        verdict=verdict,
        reason=f"reason of {case_id}",
        findings=findings or [],
        wire_log="> header\n< answer",
        duration=duration,
    )


META = {
    "implementation": "impl",
    "strict": False,
    "timeout": None,
    "duration": 21.602,
    "date": "2026-01-02 03:04:05 UTC",
    "selected": 4,
    "interrupted": False,
    "not_run": 0,
}


class _Tree(HTMLParser):
    """Each start tag with its attributes and the (tag, attributes) of its ancestors."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.elements: list[
            tuple[str, dict[str, str | None], list[tuple[str, dict[str, str | None]]]]
        ] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs), list(self.stack)))
        if tag not in VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


def _tree(page: str) -> _Tree:
    tree = _Tree()
    tree.feed(page)
    return tree


# ---------------------------------------------------------------- order


def test_failures_come_first_fail_before_non_strict_before_passes() -> None:
    results = [
        _result("server.pass.1", Verdict.PASS),
        _result("server.soft.1", Verdict.NON_STRICT, [Finding(Level.SHOULD, "soft")]),
        _result("server.info.1", Verdict.INFO),
        _result("server.bad.1", Verdict.FAIL, [Finding(Level.MUST, "bad", "a", "b")]),
    ]
    page = html.render(results, META)
    at = {
        name: page.index(marker)
        for name, marker in [
            ("summary", 'class="summary"'),
            ("failures", "id='failures'"),
            ("fail", 'id="fail-server.bad.1"'),
            ("soft", 'id="fail-server.soft.1"'),
            ("sections", "id='sections'"),
            ("pass", 'id="server.pass.1"'),
            ("info", 'id="server.info.1"'),
        ]
    }
    assert at["summary"] < at["failures"] < at["fail"] < at["soft"] < at["sections"]
    assert at["sections"] < at["pass"] < at["info"]
    assert "reason of server.pass.1" not in page[: at["sections"]]
    # the rows of failures stay in the filterable table, linking to their details
    assert 'id="server.bad.1"' in page and 'href="#fail-server.bad.1"' in page


def test_a_run_without_failures_says_so_and_keeps_the_verdict_filters() -> None:
    page = html.render([_result("server.pass.1", Verdict.PASS)], META)
    assert "None: no FAIL and no NON-STRICT case." in page
    tree = _tree(page)
    boxes = [a["value"] for tag, a, _ in tree.elements if tag == "input"]
    assert boxes == [str(v) for v in VERDICT_ORDER]


def test_failures_beyond_the_first_ones_are_folded() -> None:
    results = [
        _result(f"server.bad.{i}", Verdict.FAIL, [Finding(Level.MUST, "x")])
        for i in range(1, html.OPEN_FAILURES + 3)
    ]
    tree = _tree(html.render(results, META))
    cards = [
        "open" in a
        for tag, a, anc in tree.elements
        if tag == "details" and anc and anc[-1][1].get("class") == "card"
    ]
    assert cards == [True] * html.OPEN_FAILURES + [False] * 2


# ---------------------------------------------------------------- section table


def test_the_section_table_is_inside_a_closed_details_element() -> None:
    results = [
        _result("server.a.1", Verdict.PASS, section="§server.pv.ok"),
        _result("server.b.1", Verdict.FAIL, section="§frame.chunk"),
    ]
    tree = _tree(html.render(results, META))
    tables = [anc for tag, _a, anc in tree.elements if tag == "table"]
    folded = [anc for anc in tables if any(t == "details" for t, _ in anc)]
    assert len(folded) == 1  # the section table; the case table is not folded
    (details,) = [a for t, a in folded[0] if t == "details"]
    assert details.get("id") == "sections" and "open" not in details
    page = html.render(results, META)
    body = page[page.index("id='sections'") : page.index("</details>", page.index("id='sections'"))]
    assert "§server.pv.ok</a>" in body and "§frame.chunk</a>" in body


# ---------------------------------------------------------------- § links


def test_github_slugs_of_headings() -> None:
    assert github_slug("§server.pv.ok — ProtocolVersion accepted") == (
        "serverpvok--protocolversion-accepted"
    )
    assert github_slug("ByteStreamRPC v1 — specification") == "bytestreamrpc-v1--specification"
    assert github_slug("§json.decode.id-array — The 16-byte ids") == (
        "jsondecodeid-array--the-16-byte-ids"
    )


def test_heading_anchors_count_repeats_and_skip_code() -> None:
    md = "# §a.b — X\n```\n# §c.d — not a heading\n```\n## §a.b — X\n### §e.f — Y\n"
    assert heading_anchors(md) == {"§a.b": "ab--x", "§e.f": "ef--y"}
    assert heading_anchors("# X\n# X\n# §g.h — X\n") == {"§g.h": "gh--x"}
    assert heading_anchors("# §a.b — X\n# §a.b — X\n## §z.z\n") == {"§a.b": "ab--x", "§z.z": "zz"}


def test_every_catalog_section_maps_to_an_existing_heading_anchor() -> None:
    links = SectionLinks()
    slugs = _heading_slugs()
    sections = {c.section for c in all_cases()}
    assert sections
    wrong = {s: links.anchor(s) for s in sections if links.anchor(s) not in slugs}
    assert not wrong
    assert links.anchor("§server.pv.ok") == "serverpvok--protocolversion-accepted"


def test_every_section_link_in_a_whole_catalog_page_lands_on_a_heading() -> None:
    results = [_result(c.id, Verdict.PASS, section=c.section) for c in all_cases()]
    results[0].findings = [Finding(Level.INFO, "x", deviation="clean-eof")]
    page = html.render(results, META)
    hrefs = [a["href"] for tag, a, _ in _tree(page).elements if tag == "a" and a.get("href")]
    spec = [h for h in hrefs if h and h.startswith(PROTOCOL_URL + "#")]
    assert len(spec) >= len(results) + 1
    missing = {h for h in spec if h and h.split("#", 1)[1] not in _heading_slugs()}
    assert not missing
    assert f'href="{PROTOCOL_URL}#deviationsclean-eof--error-1-after-a-clean-close"' in page


def test_the_link_base_is_configurable_and_ids_in_free_text_are_linked() -> None:
    note = "explained by §deviations.clean-eof. §no.such-heading stays text"
    r = _result("server.info.1", Verdict.INFO)
    r.notes = [note]
    page = html.render([r], META, protocol_url="https://example.org/P.md")
    assert 'href="https://example.org/P.md#serverpvok--protocolversion-accepted"' in page
    assert (
        '<a class="sec" href="https://example.org/P.md#deviationsclean-eof--error-1-after-a-clean-close">'
        "§deviations.clean-eof</a>. §no.such-heading stays text"
    ) in page


def test_without_the_document_links_fall_back_to_the_id_slug(tmp_path: Path) -> None:
    links = SectionLinks("P.md", tmp_path / "missing.md")
    assert links.href("§server.pv.ok") == "P.md#serverpvok"
    assert links.linkify("see §server.pv.ok") == "see §server.pv.ok"


# ---------------------------------------------------------------- expected vs actual


def _marked(fragment: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", fragment, flags=re.S)


def _plain(fragment: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]*>", "", fragment))


def test_the_diff_marks_exactly_the_differing_part() -> None:
    m = diff_html("E(1, 'cannot decode: EOF')", "E(3, 'cannot decode: EOF')")
    assert _marked(m.expected, "del") == ["1"] and _marked(m.expected, "ins") == []
    assert _marked(m.actual, "ins") == ["3"] and _marked(m.actual, "del") == []
    assert m.expected == "E(<del>1</del>, &#x27;cannot decode: EOF&#x27;)"
    m = diff_html("list a b", "list a x b y")
    assert _marked(m.expected, "del") == [] and _marked(m.actual, "ins") == ["x ", " y"]
    same = diff_html("same", "same")
    assert "<del>" not in same.expected + same.actual


def test_the_page_shows_the_marked_diff_escaped() -> None:
    f = Finding(Level.MUST, "answer", "<E(1)>\x00", "<E(3)>\x00")
    page = html.render([_result("server.bad.1", Verdict.FAIL, [f])], META)
    assert "&lt;E(<del>1</del>)&gt;\\x00" in page
    assert "&lt;E(<ins>3</ins>)&gt;\\x00" in page


@settings(max_examples=200, deadline=None)
@given(st.text("ab <&\x00\n\ud800é", max_size=60), st.text("ab <&\x00\n\ud800é", max_size=60))
def test_the_diff_keeps_both_texts_and_marks_only_differences(exp: str, act: str) -> None:
    m = diff_html(exp, act)
    assert _plain(m.expected) == printable(exp) and _plain(m.actual) == printable(act)
    assert "<ins>" not in m.expected and "<del>" not in m.actual
    if exp == act:
        assert "<del>" not in m.expected and "<ins>" not in m.actual
    # what is left unmarked on both sides is the same text
    unmarked = [re.sub(r"<(del|ins)>.*?</\1>", "", s, flags=re.S) for s in m]
    assert unmarked[0] == unmarked[1] or not exp or not act


def test_the_diff_cost_is_bounded() -> None:
    big_a = "".join("ab "[(i * 7) % 3] for i in range(1_000_000))
    big_b = "".join("ba "[(i * 5) % 3] for i in range(1_000_000))
    started = time.monotonic()
    m = diff_html("x" + big_a, "y" + big_b)
    assert time.monotonic() - started < 2.0
    assert "not compared after 4096 characters" in m.expected
    tail = m.expected[m.expected.rindex("</del>") :]
    assert len(tail) > 1_000_000 - DIFF_LIMIT  # the rest is plain text
    # a difference too wide to match token by token is marked whole, once per side
    wide = int(MATCH_BUDGET**0.5) + 1
    m = diff_html(
        "p " + "a" * 0 + " ".join("a" * (i % 5 + 1) for i in range(wide)) + " q",
        "p " + " ".join("b" * (i % 5 + 1) for i in range(wide)) + " q",
    )
    assert len(_marked(m.expected, "del")) == 1 and len(_marked(m.actual, "ins")) == 1
    assert m.expected.startswith("p <del>") and m.expected.endswith("</del> q")


# ---------------------------------------------------------------- metadata


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.42, "0.42 s"),
        (0.004, "< 0.01 s"),
        (0.0, "0 s"),
        (21.602, "21.6 s"),
        (10.0, "10 s"),
        (59.97, "1 min 0 s"),
        (63.2, "1 min 3 s"),
        (3725, "1 h 2 min"),
    ],
)
def test_durations_in_human_units(seconds: float, text: str) -> None:
    assert html.human_duration(seconds) == text


def test_metadata_in_human_units() -> None:
    results = [_result("server.pass.1", Verdict.PASS, duration=0.331)]
    page = html.render(results, {**META, "extra_flag": True, "nothing": None})
    summary = page[page.index('class="summary"') : page.index("id='failures'")]
    text = _plain(summary)
    for shown in (
        "1 cases",
        "1 PASS",
        "in 21.6 s",
        "2026-01-02 03:04:05 UTC",
        "strict: no",
        "per-case timeout: default (10 s",
        "extra flag: yes",
        "nothing: —",
    ):
        assert shown in text
    for python in ("None", "False", "True", "21.602", "not_run", "interrupted"):
        assert python not in text
    assert '<td class="n">0.33 s</td>' in page
    page = html.render(results, {**META, "timeout": 2.5, "strict": True})
    assert "per-case timeout: 2.50 s" in page and "strict: yes" in page


def test_an_interrupted_run_says_how_many_cases_did_not_run() -> None:
    meta = {**META, "interrupted": True, "selected": 5, "not_run": 2}
    page = html.render([_result("server.pass.1", Verdict.PASS)], meta)
    assert "interrupted: 2 of 5 selected cases not run" in page


# ---------------------------------------------------------------- the original's behaviour


def test_a_deviation_is_badged_as_the_original_s_behaviour() -> None:
    f = Finding(
        Level.INFO, "the original's way", "E(1)", "E(3)", deviation="clean-eof", unsafe=True
    )
    info = _result("server.info.1", Verdict.INFO, [f])
    page = html.render([info], META)
    row = page[page.index('id="server.info.1"') :]
    assert 'original\'s behaviour <a class="sec"' in row
    assert "#deviationsclean-eof--error-1-after-a-clean-close" in row
    assert "unsafe: a SHOULD finding under --strict" in row
    assert "<b>[INFO]</b>" in row
    strict = html.render(
        [_result("server.soft.1", Verdict.NON_STRICT, [f])], {**META, "strict": True}
    )
    card = strict[strict.index('id="fail-server.soft.1"') : strict.index("id='sections'")]
    assert "<b>[SHOULD]</b>" in card and "unsafe: counts as SHOULD" in card
    plain = html.render([_result("server.info.2", Verdict.INFO, [Finding(Level.INFO, "x")])], META)
    assert 'class="dev"' not in plain and 'class="unsafe"' not in plain
