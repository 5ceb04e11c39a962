"""Console output: progress while running, a table per spec section, then every failure.

A failure shows the case (id, level, section, title), each finding with what was expected
and what the implementation did (the frames, decoded), the implementation's exit status and
the tail of its stderr, so a reader can act on it without opening the HTML report.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Final, TextIO

from ..model import VERDICT_ORDER, CaseResult, Verdict
from .text import printable

MARK: Final = {
    Verdict.PASS: ".",
    Verdict.FAIL: "F",
    Verdict.NON_STRICT: "n",
    Verdict.INFO: "i",
    Verdict.UNIMPLEMENTED: "u",
    Verdict.EXCLUDED: "e",
    Verdict.XFAIL: "x",
}
SHORT: Final = {
    Verdict.NON_STRICT: "NON-STR",
    Verdict.UNIMPLEMENTED: "UNIMPL",
    Verdict.EXCLUDED: "EXCL",
}
STDERR_LINES: Final = 20


def write_header(out: TextIO, implementation: str, total: int) -> None:
    out.write(f"zrepl-conformance: {total} cases against {implementation}\n")
    out.flush()


def write_progress(
    out: TextIO, result: CaseResult, done: int, total: int, *, verbose: bool = False
) -> None:
    if verbose:
        width = len(str(total))
        extra = (
            f"  ({result.reason})" if result.reason and result.verdict is not Verdict.PASS else ""
        )
        line = f"[{done:>{width}}/{total}] {result.verdict!s:<13} {result.case_id}{extra}"
        out.write(printable(line) + "\n")
    else:
        out.write(MARK[result.verdict])
        if done % 64 == 0 or done == total:
            out.write(f" {done}/{total}\n")
    out.flush()


def section_table(results: Sequence[CaseResult]) -> str:
    """Verdict counts per spec section, in catalog order, with a total row."""
    rows: OrderedDict[str, Counter[Verdict]] = OrderedDict()
    for r in results:
        rows.setdefault(r.section, Counter())[r.verdict] += 1
    total: Counter[Verdict] = Counter(r.verdict for r in results)
    heads = [SHORT.get(v, str(v)) for v in VERDICT_ORDER]
    width = max([len("section"), *(len(s) for s in rows)]) + 2
    lines = ["section".ljust(width) + " ".join(h.rjust(7) for h in heads)]

    def line(name: str, c: Counter[Verdict]) -> str:
        cells = [(str(c[v]) if c[v] else "-").rjust(7) for v in VERDICT_ORDER]
        return name.ljust(width) + " ".join(cells)

    lines += [line(s, c) for s, c in rows.items()]
    lines.append(line("total", total))
    return "\n".join(lines) + "\n"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + ln for ln in text.splitlines()) if text else prefix + "(empty)"


def render_failure(r: CaseResult) -> str:
    """A failure (or NON-STRICT result) with expected vs actual frames."""
    out = [f"{r.verdict} {r.case_id} [{r.level}] {r.section} - {r.title}"]
    if r.reason:
        out.append(f"  reason: {r.reason}")
    for f in r.findings:
        out.append(f"  [{f.level}] {f.what}")
        if f.expected or f.actual:
            out.append(_indent(f.expected, "      expected: "))
            out.append(_indent(f.actual, "      actual:   "))
    for n in r.notes:
        out.append(_indent(n, "  note: "))
    if r.exit_status:
        out.append(f"  implementation: {r.exit_status}")
    if r.stderr.strip():
        lines = r.stderr.strip().splitlines()
        cut = lines[-STDERR_LINES:]
        more = f" (last {len(cut)} of {len(lines)} lines)" if len(lines) > len(cut) else ""
        out.append(f"  stderr{more}:")
        out.append(_indent("\n".join(cut), "    | "))
    return printable("\n".join(out))


def write_summary(out: TextIO, results: Sequence[CaseResult], meta: Mapping[str, Any]) -> None:
    out.write("\n" + section_table(results))
    counts = Counter(r.verdict for r in results)
    strict = bool(meta.get("strict"))
    bad = [r for r in results if r.verdict is Verdict.FAIL]
    soft = [r for r in results if r.verdict is Verdict.NON_STRICT]
    if bad or (strict and soft):
        out.write("\nFAILURES\n")
        for r in bad + (soft if strict else []):
            out.write(render_failure(r) + "\n\n")
    if soft and not strict:
        out.write("\nNON-STRICT (interoperates, differs from the original)\n")
        for r in soft:
            out.write(printable(f"  {r.case_id}: {r.reason}") + "\n")
    summary = ", ".join(f"{counts[v]} {v}" for v in VERDICT_ORDER if counts[v])
    out.write(f"\n{len(results)} cases in {meta.get('duration', 0):.1f} s: {summary}\n")
    if meta.get("interrupted"):
        out.write(
            f"interrupted: {meta.get('not_run', 0)} of {meta.get('selected', 0)} cases not run\n"
        )
    out.flush()
