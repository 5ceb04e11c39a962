"""Several implementations side by side: one table, one JSON and one HTML report.

``zrepl-conformance run --iut a.toml --iut b.toml`` runs the catalog against each
implementation (as Autobahn|Testsuite does for WebSocket peers) and then writes one report
with a column per implementation: the verdict of every case, the rows where the
implementations disagree marked, and each column's totals. The per-implementation results
are the ordinary :class:`~conformance.model.CaseResult` lists; this module only lays them
out.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Final

from ..catalog import all_cases
from ..model import VERDICT_ORDER, CaseResult, Verdict
from .html import COLOURS
from .text import printable

__all__ = ["Column", "console_table", "document", "render_html", "write_html", "write_json"]

FORMAT: Final = 1


@dataclass(frozen=True)
class Column:
    """One implementation's run: its name, its results, and the run's metadata."""

    name: str
    results: Sequence[CaseResult]
    meta: Mapping[str, Any]

    def verdicts(self) -> dict[str, Verdict]:
        return {r.case_id: r.verdict for r in self.results}


def _rows(columns: Sequence[Column]) -> list[tuple[str, str, list[Verdict | None]]]:
    """``(case id, section, verdict per column)`` in catalog order, cases any column ran."""
    per = [c.verdicts() for c in columns]
    ran = set().union(*per) if per else set()
    return [
        (case.id, case.section, [v.get(case.id) for v in per])
        for case in all_cases()
        if case.id in ran
    ]


def _differs(verdicts: Sequence[Verdict | None]) -> bool:
    return len(set(verdicts)) > 1


def console_table(columns: Sequence[Column], *, all_rows: bool = False) -> str:
    """Totals per implementation, then the cases whose verdicts differ (all with ``all_rows``)."""
    names = [printable(c.name) for c in columns]
    width = max([len("case"), *(len(i) for i, _s, _v in _rows(columns))]) + 2
    cell = max([11, *(len(n) + 2 for n in names)])
    lines = ["side by side: " + ", ".join(names), ""]
    for c, name in zip(columns, names, strict=True):
        counts = Counter(r.verdict for r in c.results)
        summary = ", ".join(f"{counts[v]} {v}" for v in VERDICT_ORDER if counts[v])
        lines.append(f"  {name}: {len(c.results)} cases: {summary or 'none'}")
    rows = [r for r in _rows(columns) if all_rows or _differs(r[2])]
    lines.append("")
    if not rows:
        lines.append("every case got the same verdict from every implementation")
        return "\n".join(lines) + "\n"
    lines.append("case".ljust(width) + "".join(n.rjust(cell) for n in names))
    for case_id, _section, verdicts in rows:
        mark = " *" if _differs(verdicts) else ""
        cells = "".join(str(v or "-").rjust(cell) for v in verdicts)
        lines.append(case_id.ljust(width) + cells + mark)
    if not all_rows:
        lines.append(f"({len(rows)} case(s) differ; * marks a difference)")
    return "\n".join(lines) + "\n"


def document(columns: Sequence[Column]) -> dict[str, Any]:
    """The JSON report: each implementation's metadata and counts, and a row per case."""
    return {
        "format": FORMAT,
        "kind": "side-by-side",
        "implementations": [
            {
                "name": c.name,
                **dict(c.meta),
                "counts": {str(v): sum(r.verdict is v for r in c.results) for v in VERDICT_ORDER},
            }
            for c in columns
        ],
        "cases": [
            {
                "id": case_id,
                "section": section,
                "verdicts": {
                    c.name: (str(v) if v is not None else None)
                    for c, v in zip(columns, verdicts, strict=True)
                },
                "differs": _differs(verdicts),
            }
            for case_id, section, verdicts in _rows(columns)
        ],
    }


def write_json(path: str | Path, columns: Sequence[Column]) -> None:
    Path(path).write_text(json.dumps(document(columns), indent=1) + "\n", encoding="utf-8")


_CSS: Final = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse} td,th{border-bottom:1px solid #ddd;padding:3px 8px;
text-align:left;font-size:.9em} th{background:#f3f3f3;position:sticky;top:0}
.v{color:#fff;font-weight:bold;padding:1px 6px;border-radius:3px;white-space:nowrap}
tr.differs{background:#fff8e1} tr.same{display:none} body.all tr.same{display:table-row}
"""


def _badge(v: Verdict | None) -> str:
    if v is None:
        return "—"
    return f'<span class="v" style="background:{COLOURS[v]}">{v}</span>'


def render_html(columns: Sequence[Column]) -> str:
    """One self-contained page: totals, then the cases whose verdicts differ (a checkbox
    shows every case)."""
    names = [escape(printable(c.name)) for c in columns]
    totals = "".join(
        f"<tr><th>{n}</th><td>"
        + " ".join(
            f"{_badge(v)} {sum(r.verdict is v for r in c.results)}"
            for v in VERDICT_ORDER
            if any(r.verdict is v for r in c.results)
        )
        + "</td></tr>"
        for n, c in zip(names, columns, strict=True)
    )
    rows = _rows(columns)
    n_diff = sum(_differs(v) for _i, _s, v in rows)
    body = "".join(
        f'<tr class="{"differs" if _differs(vs) else "same"}"><td><code>{escape(cid)}</code>'
        f"</td><td>{escape(section)}</td>" + "".join(f"<td>{_badge(v)}</td>" for v in vs) + "</tr>"
        for cid, section, vs in rows
    )
    heads = "".join(f"<th>{n}</th>" for n in names)
    toggle = (
        "<label><input type='checkbox' onchange=\"document.body.classList.toggle('all')\"> "
        f"show all {len(rows)} cases</label>"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>zrepl-conformance: side by side</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>ByteStreamRPC v1 conformance: {', '.join(names)}</h1>"
        f"<table>{totals}</table>"
        f"<h2>{n_diff} of {len(rows)} cases differ</h2>{toggle}"
        f"<table><tr><th>case</th><th>section</th>{heads}</tr>{body}</table>"
        "</body></html>\n"
    )


def write_html(path: str | Path, columns: Sequence[Column]) -> None:
    Path(path).write_text(render_html(columns), encoding="utf-8")
