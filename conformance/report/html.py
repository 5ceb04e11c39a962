"""The HTML report: one self-contained file (no external assets), read from the top down.

A person opening it wants, in this order: how the run went (one summary line: the
implementation, the counts per verdict, duration, date, strictness, timeout, in human
units), what went wrong (a "Failures" section: FAIL cases, then NON-STRICT ones, each with
its findings, expected vs actual with the differing parts marked), then everything else (all
cases, filterable by verdict; the per-section table folded away). Every § id links to its
heading in docs/PROTOCOL.md (:mod:`.anchors`). A finding that is a documented behaviour of
the original (its ``deviation`` is set) carries a badge naming the §deviations entry, and
says whether the entry is unsafe, so it is not read as a defect.

A case's details hold the findings, notes, the decoded wire log of both directions, the same
streams in hex, and the implementation's exit status and stderr; a failure's details are
shown once, in the Failures section, and its row in the table links there. All text that
came from a run goes through :func:`.text.printable`, then HTML escaping.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Final

from ..model import VERDICT_ORDER, CaseResult, Finding, Verdict
from ..runner import DEFAULT_CASE_TIMEOUT
from .anchors import PROTOCOL_MD, PROTOCOL_URL, SectionLinks
from .htmldiff import diff_html
from .text import printable

__all__ = ["COLOURS", "PROTOCOL_URL", "human_duration", "human_value", "render", "write"]

COLOURS: Final = {
    Verdict.PASS: "#2e7d32",
    Verdict.FAIL: "#c62828",
    Verdict.NON_STRICT: "#ef6c00",
    Verdict.INFO: "#1565c0",
    Verdict.UNIMPLEMENTED: "#6a1b9a",
    Verdict.EXCLUDED: "#616161",
    Verdict.XFAIL: "#795548",
}

OPEN_FAILURES: Final = 30
"""Failures shown expanded; beyond these (a badly broken implementation) one click each."""

_CSS: Final = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.3em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.4em}
h3{font-size:1em} table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top;
font-size:.9em} th{background:#f3f3f3} .n{text-align:right;white-space:nowrap}
.summary{font-size:1.05em;margin:.3em 0} .summary .sep{color:#999;margin:0 .4em}
.warn{color:#c62828;font-weight:bold} .meta{color:#555;font-size:.85em}
.v{color:#fff;font-weight:bold;padding:1px 6px;border-radius:3px;white-space:nowrap}
pre{background:#f7f7f7;padding:6px;overflow-x:auto;font-size:.85em;white-space:pre-wrap;
word-break:break-all;margin:4px 0} details summary{cursor:pointer}
.card{border-left:5px solid #999;padding:2px 10px;margin:8px 0;background:#fcfcfc}
.card>details>summary{font-size:.95em;padding:3px 0}
.finding{margin:6px 0 2px} .lbl{color:#555;font-size:.85em;margin-top:4px}
.f-MUST{color:#c62828}.f-SHOULD{color:#ef6c00}.f-INFO{color:#1565c0}
del{background:#ffcdd2;text-decoration:none;outline:1px solid #e57373}
ins{background:#c8e6c9;text-decoration:none;outline:1px solid #81c784}
.cut{color:#888;font-style:italic}
.ea{display:grid;grid-template-columns:1fr 1fr;gap:8px} .ea pre{margin-top:0}
.ea>div{min-width:0} details.ev{margin:4px 0 6px;font-size:.9em}
.dev{background:#e3f2fd;color:#0d47a1;border:1px solid #90caf9;border-radius:3px;
padding:0 5px;font-size:.85em;white-space:nowrap}
.unsafe{background:#fff3e0;color:#e65100;border:1px solid #ffb74d;border-radius:3px;
padding:0 5px;font-size:.85em;margin-left:3px}
a.sec{color:inherit;text-decoration:underline dotted}
#filters label{margin-right:1em}
"""

_JS: Final = """
function filt(){var on={};document.querySelectorAll('#filters input').forEach(function(c){
on[c.value]=c.checked});document.querySelectorAll('tr.case').forEach(function(r){
r.style.display=on[r.dataset.verdict]?'':'none'})}
"""


def _esc(text: str) -> str:
    """HTML-escaped, with control characters and lone surrogates as visible escapes."""
    return escape(printable(text))


def _pre(text: str) -> str:
    return f"<pre>{_esc(text)}</pre>" if text else "<pre>(none)</pre>"


def _badge(v: Verdict, text: str = "") -> str:
    return f'<span class="v" style="background:{COLOURS[v]}">{_esc(text or str(v))}</span>'


def human_duration(seconds: float) -> str:
    """``0.42 s``, ``21.6 s``, ``1 min 3 s``, ``2 h 5 min``: as precise as a reader cares."""
    if not math.isfinite(seconds):
        return "—"
    if seconds == int(seconds) and 0 <= seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 0.005:
        return "< 0.01 s"
    if seconds < 9.995:
        return f"{seconds:.2f} s"
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def _number(value: object) -> float | None:
    """``value`` as a finite number, or ``None`` (booleans and text are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def human_value(value: object) -> str:
    """A metadata value as a reader says it: ``yes``/``no``, ``—`` for nothing, ``1.5``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "—"
    number = _number(value)
    if number is not None:
        return f"{number:g}"
    return str(value)


@dataclass(frozen=True)
class _Page:
    """What every part of the page needs: § links and whether the run was strict."""

    links: SectionLinks
    strict: bool

    def text(self, text: str) -> str:
        """Free text from a run: printable, escaped, its § ids linked."""
        return self.links.linkify(_esc(text))


def _timeout_text(value: object) -> str:
    seconds = _number(value)
    if seconds is None:
        default = human_duration(DEFAULT_CASE_TIMEOUT)
        return f"per-case timeout: default ({default} unless the description sets one)"
    return f"per-case timeout: {human_duration(seconds)}"


def _summary(results: Sequence[CaseResult], meta: Mapping[str, Any]) -> str:
    """The title and the one summary line, an interruption warning, other metadata."""
    counts = Counter(r.verdict for r in results)
    verdicts = " ".join(
        _badge(v, f"{counts[v]} {v}")
        if v in (Verdict.FAIL, Verdict.NON_STRICT)
        else f"{counts[v]} {v}"
        for v in VERDICT_ORDER
        if counts[v]
    )
    duration = _number(meta.get("duration"))
    parts = [
        f"<b>{len(results)} cases</b>: {verdicts or 'none run'}",
        "in " + (human_duration(duration) if duration is not None else "—"),
        _esc(human_value(meta.get("date"))),
        f"strict: {human_value(bool(meta.get('strict')))}",
        _esc(_timeout_text(meta.get("timeout"))),
    ]
    sep = '<span class="sep">·</span>'
    html = (
        f"<h1>ByteStreamRPC v1 conformance: {_esc(human_value(meta.get('implementation')))}</h1>"
        f'<p class="summary">{sep.join(parts)}</p>'
    )
    if meta.get("interrupted"):
        html += (
            f'<p class="warn">interrupted: {_esc(human_value(meta.get("not_run")))} of '
            f"{_esc(human_value(meta.get('selected')))} selected cases not run</p>"
        )
    shown = {"implementation", "duration", "date", "strict", "timeout"}
    shown |= {"interrupted", "not_run", "selected"}
    shown |= {"format", "counts"}  # a JSON report's own: its version, counts restated
    rest = [
        f"{_esc(str(k).replace('_', ' '))}: {_esc(human_value(v))}"
        for k, v in meta.items()
        if k not in shown
    ]
    return html + (f'<p class="meta">{sep.join(rest)}</p>' if rest else "")


def _section_table(results: Sequence[CaseResult], page: _Page) -> str:
    """Verdict counts per § section, in catalog order, folded away in a closed details."""
    rows: dict[str, Counter[Verdict]] = {}
    for r in results:
        rows.setdefault(r.section, Counter())[r.verdict] += 1
    rows_html = [
        f"<tr><td>{page.links.link(s)}</td>"
        + "".join(f'<td class="n">{c[v] or "-"}</td>' for v in VERDICT_ORDER)
        + "</tr>"
        for s, c in rows.items()
    ]
    total = Counter(r.verdict for r in results)
    rows_html.append(
        "<tr><th>total</th>"
        + "".join(f'<th class="n">{total[v] or "-"}</th>' for v in VERDICT_ORDER)
        + "</tr>"
    )
    head = "".join(f"<th>{_badge(v)}</th>" for v in VERDICT_ORDER)
    return (
        f"<details id='sections'><summary><b>Per section</b>: {len(rows)} sections of "
        "docs/PROTOCOL.md</summary>"
        f"<table style='width:auto'><tr><th>section</th>{head}</tr>{''.join(rows_html)}"
        "</table></details>"
    )


def _deviation_badge(f: Finding, page: _Page, *, entry: bool = True) -> str:
    """For a finding that is the original's own documented behaviour: which §deviations
    entry (unless ``entry`` is false) and whether the entry is unsafe."""
    if not f.deviation:
        return ""
    badge = ""
    if entry:
        link = page.links.link("§deviations." + f.deviation)
        badge = f'<span class="dev">original\'s behaviour {link}</span>'
    if f.unsafe:
        counts = "counts as SHOULD" if page.strict else "a SHOULD finding under --strict"
        badge += f'<span class="unsafe">unsafe: {counts}</span>'
    return badge + " " if badge else ""


def _finding(f: Finding, page: _Page) -> str:
    """A finding: its level, what differs, and expected vs actual with the difference marked."""
    level = f.effective_level(page.strict)
    named = f"§deviations.{f.deviation}" in f.what  # the text names (and links) the entry
    badge = _deviation_badge(f, page, entry=not named)
    html = f'<div class="finding f-{level}"><b>[{level}]</b> {badge}{page.text(f.what)}</div>'

    if f.expected or f.actual:
        marked = diff_html(f.expected, f.actual)
        html += (
            f'<div class="ea"><div><div class="lbl">expected</div>'
            f"<pre>{marked.expected or '(none)'}</pre></div>"
            f'<div><div class="lbl">actual</div><pre>{marked.actual or "(none)"}</pre></div></div>'
        )
    return html


def _lines(text: str) -> str:
    return f"{text.count(chr(10)) + 1} lines" if text.strip() else "none"


def _evidence(r: CaseResult) -> str:
    """Exit status in one line that unfolds to the wire logs (decoded, hex) and stderr."""
    return (
        f"<details class='ev'><summary><b>implementation</b>: {_esc(r.exit_status or '—')}"
        f" · wire log {_lines(r.wire_log)} · stderr {_lines(r.stderr)}</summary>"
        f'<div class="lbl">wire log (decoded)</div>{_pre(r.wire_log)}'
        f'<div class="lbl">wire log (hex)</div>{_pre(r.wire_log_hex)}'
        f'<div class="lbl">stderr</div>{_pre(r.stderr)}</details>'
    )


def _case_body(r: CaseResult, page: _Page) -> str:
    """Findings and notes open; the wire logs and stderr one click away."""
    parts = [_finding(f, page) for f in r.findings]
    parts += [f'<div class="lbl">note</div><pre>{page.text(n)}</pre>' for n in r.notes]
    parts.append(_evidence(r))
    return "".join(parts)


def _reason(r: CaseResult, page: _Page) -> str:
    """The reason under the headline, unless it only repeats the first finding."""
    if not r.reason or (r.findings and r.findings[0].what == r.reason):
        return ""
    return f"<br><small>{page.text(r.reason)}</small>"


def _headline(r: CaseResult, page: _Page) -> str:
    """The case in one line: id, the deviation badges of its findings (once each), title."""
    badges = dict.fromkeys(_deviation_badge(f, page) for f in r.findings if f.deviation)
    return f"<code>{_esc(r.case_id)}</code> {''.join(badges)}{page.text(r.title)}"


def _failure_card(r: CaseResult, page: _Page, expanded: bool) -> str:
    reason = _reason(r, page)
    return (
        f'<div class="card" id="fail-{_esc(r.case_id)}" style="border-color:{COLOURS[r.verdict]}">'
        f"<details{' open' if expanded else ''}><summary>{_badge(r.verdict)} "
        f"{_headline(r, page)} <small>[{_esc(r.level)}] {_esc(r.role)} · "
        f"{page.links.link(r.section)} · {human_duration(r.duration)}</small>{reason}</summary>"
        f"{_case_body(r, page)}</details></div>"
    )


def _failures(results: Sequence[CaseResult], page: _Page) -> str:
    """FAIL cases, then NON-STRICT ones, the first :data:`OPEN_FAILURES` expanded."""
    fail = [r for r in results if r.verdict is Verdict.FAIL]
    soft = [r for r in results if r.verdict is Verdict.NON_STRICT]
    if not fail and not soft:
        return "<h2 id='failures'>Failures</h2><p>None: no FAIL and no NON-STRICT case.</p>"
    html = [f"<h2 id='failures'>Failures: {len(fail)} FAIL, {len(soft)} NON-STRICT</h2>"]
    shown = 0
    for group, title in (
        (fail, "a MUST requirement is violated"),
        (
            soft,
            "a SHOULD requirement differs from the original"
            + (" (a failure under --strict)" if page.strict else "; interoperates"),
        ),
    ):
        if group:
            cases = f"{len(group)} case{'s' if len(group) > 1 else ''}"
            html.append(f"<h3>{_badge(group[0].verdict)} {cases}: {title}</h3>")
        for r in group:
            html.append(_failure_card(r, page, shown < OPEN_FAILURES))
            shown += 1
    return "".join(html)


def _case_row(r: CaseResult, page: _Page) -> str:
    """A table row; a failure links to its card instead of repeating its details."""
    reason = f"<br><small>{page.text(r.reason)}</small>" if r.reason else ""  # the only line
    if r.verdict in (Verdict.FAIL, Verdict.NON_STRICT):
        case = (
            f"{_headline(r, page)}{reason} "
            f'<a href="#fail-{_esc(r.case_id)}"><small>details in Failures ↑</small></a>'
        )
    else:
        case = (
            f"<details><summary>{_headline(r, page)}{reason}</summary>"
            f"{_case_body(r, page)}</details>"
        )
    return (
        f'<tr class="case" data-verdict="{r.verdict}" id="{_esc(r.case_id)}">'
        f"<td>{_badge(r.verdict)}</td><td>{case}</td>"
        f"<td>{_esc(r.level)}</td><td>{_esc(r.role)}</td><td>{page.links.link(r.section)}</td>"
        f'<td class="n">{human_duration(r.duration)}</td></tr>'
    )


def _all_cases(results: Sequence[CaseResult], page: _Page) -> str:
    counts = Counter(r.verdict for r in results)
    filters = "".join(
        f'<label><input type="checkbox" value="{v}" checked onchange="filt()"> '
        f"{_badge(v)} {counts[v]}</label>"
        for v in VERDICT_ORDER
    )
    rows = "".join(_case_row(r, page) for r in results)
    return (
        f"<h2 id='cases'>All cases</h2><div id='filters'>{filters}</div>"
        "<table><tr><th>verdict</th><th>case</th><th>level</th><th>role</th><th>section</th>"
        f"<th>time</th></tr>{rows}</table>"
    )


def render(
    results: Sequence[CaseResult],
    meta: Mapping[str, Any],
    *,
    protocol_url: str = PROTOCOL_URL,
    protocol_md: Path | None = PROTOCOL_MD,
) -> str:
    """The whole page. § links go to ``protocol_url``, at the anchors of the headings in
    ``protocol_md`` (when readable)."""
    page = _Page(SectionLinks(protocol_url, protocol_md), bool(meta.get("strict")))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>zrepl-conformance report</title>"
        f"<style>{_CSS}</style><script>{_JS}</script></head><body>"
        f"{_summary(results, meta)}{_failures(results, page)}"
        f"{_section_table(results, page)}{_all_cases(results, page)}</body></html>\n"
    )


def write(
    path: str | Path,
    results: Sequence[CaseResult],
    meta: Mapping[str, Any],
    *,
    protocol_url: str = PROTOCOL_URL,
) -> None:
    Path(path).write_text(render(results, meta, protocol_url=protocol_url), encoding="utf-8")
