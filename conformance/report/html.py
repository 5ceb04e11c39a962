"""The HTML report: one self-contained file (no external assets), a row per case.

Each row expands (``<details>``) to the findings with expected vs actual, notes, the decoded
wire log of both directions (transcript lines: direction, chunk boundaries, JSON text or
length/SHA-256/prefix of send streams), the same streams in hex, and the implementation's
exit status and stderr. A small inline script filters rows by verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any, Final

from ..model import VERDICT_ORDER, CaseResult, Verdict
from .console import section_table
from .text import printable

COLOURS: Final = {
    Verdict.PASS: "#2e7d32",
    Verdict.FAIL: "#c62828",
    Verdict.NON_STRICT: "#ef6c00",
    Verdict.INFO: "#1565c0",
    Verdict.UNIMPLEMENTED: "#6a1b9a",
    Verdict.EXCLUDED: "#616161",
    Verdict.XFAIL: "#795548",
}

_CSS: Final = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em} table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top;
font-size:.9em} th{background:#f3f3f3}
.v{color:#fff;font-weight:bold;padding:1px 6px;border-radius:3px;white-space:nowrap}
pre{background:#f7f7f7;padding:6px;overflow-x:auto;font-size:.85em;white-space:pre-wrap;
word-break:break-all;margin:4px 0} details summary{cursor:pointer}
.f-MUST{color:#c62828}.f-SHOULD{color:#ef6c00}.f-INFO{color:#1565c0}
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


def _case_row(r: CaseResult) -> str:
    colour = COLOURS[r.verdict]
    parts = []
    for f in r.findings:
        parts.append(
            f'<div class="f-{f.level}"><b>[{f.level}]</b> {_esc(f.what)}</div>'
            + (
                f"expected:{_pre(f.expected)}actual:{_pre(f.actual)}"
                if f.expected or f.actual
                else ""
            )
        )
    for n in r.notes:
        parts.append(f"<div>note:</div>{_pre(n)}")
    parts.append(f"<div><b>wire log</b> (decoded)</div>{_pre(r.wire_log)}")
    parts.append(f"<div><b>wire log</b> (hex)</div>{_pre(r.wire_log_hex)}")
    parts.append(f"<div><b>implementation</b>: {_esc(r.exit_status or '-')}</div>")
    parts.append(f"<div><b>stderr</b></div>{_pre(r.stderr)}")
    reason = f"<br><small>{_esc(r.reason)}</small>" if r.reason else ""
    return (
        f'<tr class="case" data-verdict="{r.verdict}" id="{_esc(r.case_id)}">'
        f'<td><span class="v" style="background:{colour}">{r.verdict}</span></td>'
        f"<td><details><summary><code>{_esc(r.case_id)}</code> {_esc(r.title)}{reason}"
        f"</summary>{''.join(parts)}</details></td>"
        f"<td>{_esc(r.level)}</td><td>{_esc(r.role)}</td><td>{_esc(r.section)}</td>"
        f"<td>{r.duration:.2f}s</td></tr>"
    )


def render(results: Sequence[CaseResult], meta: Mapping[str, Any]) -> str:
    counts = Counter(r.verdict for r in results)
    filters = "".join(
        f'<label><input type="checkbox" value="{v}" checked onchange="filt()"> '
        f'<span class="v" style="background:{COLOURS[v]}">{v}</span> {counts[v]}</label>'
        for v in VERDICT_ORDER
    )
    meta_rows = "".join(
        f"<tr><th>{_esc(str(k))}</th><td>{_esc(str(v))}</td></tr>" for k, v in meta.items()
    )
    rows = "".join(_case_row(r) for r in results)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>zrepl-conformance report</title>"
        f"<style>{_CSS}</style><script>{_JS}</script></head><body>"
        f"<h1>ByteStreamRPC v1 conformance: {_esc(str(meta.get('implementation', '')))}</h1>"
        f"<table style='width:auto'>{meta_rows}</table>"
        f"<h2>Per section</h2>{_pre(section_table(results))}"
        f"<h2>Cases</h2><div id='filters'>{filters}</div>"
        "<table><tr><th>verdict</th><th>case</th><th>level</th><th>role</th><th>section</th>"
        f"<th>time</th></tr>{rows}</table></body></html>\n"
    )


def write(path: str | Path, results: Sequence[CaseResult], meta: Mapping[str, Any]) -> None:
    Path(path).write_text(render(results, meta), encoding="utf-8")
