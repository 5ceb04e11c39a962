"""Reports of a catalog run: console (progress, per-section table, failures), JSON, HTML.

:func:`write_files` is the one place that writes the file reports: each writer runs on its
own, so one that fails (an unwritable path, a full disk) neither stops the others nor the
console summary; the caller gets a one-line error per failed report and turns it into the
"the run itself broke" exit status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ..model import CaseResult
from . import html, jsonreport

__all__ = ["WRITERS", "write_files"]

Writer = Callable[[str | Path, Sequence[CaseResult], Mapping[str, Any]], None]

#: Report kind -> writer; the kind is how errors name the report.
WRITERS: Final[Mapping[str, Writer]] = {"JSON": jsonreport.write, "HTML": html.write}


def write_files(
    paths: Mapping[str, str | Path | None],
    results: Sequence[CaseResult],
    meta: Mapping[str, Any],
) -> list[str]:
    """Write each report kind in ``paths`` that has a path; one error line per failure."""
    errors: list[str] = []
    for kind, path in paths.items():
        if not path:
            continue
        try:
            WRITERS[kind](path, results, meta)
        except (OSError, ValueError) as exc:
            errors.append(f"cannot write the {kind} report {path}: {exc}")
    return errors
