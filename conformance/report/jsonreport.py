"""The JSON report: run metadata, verdict counts and every case's full result.

Format (``"format": 1``)::

    {"format": 1, "implementation": "...", "strict": false, "timeout": null,
     "duration": 12.3, "date": "...", "counts": {"PASS": 150, ...},
     "cases": [{"id": ..., "section": ..., "level": ..., "role": ..., "family": ...,
                "title": ..., "verdict": ..., "reason": ..., "findings": [...],
                "notes": [...], "wire_log": ..., "wire_log_hex": ..., "stderr": ...,
                "exit_status": ..., "duration": ...}, ...]}
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..model import VERDICT_ORDER, CaseResult

FORMAT = 1


def counts(results: Sequence[CaseResult]) -> dict[str, int]:
    c = Counter(str(r.verdict) for r in results)
    return {str(v): c.get(str(v), 0) for v in VERDICT_ORDER}


def document(results: Sequence[CaseResult], meta: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        **meta,
        "counts": counts(results),
        "cases": [r.to_dict() for r in results],
    }


def write(path: str | Path, results: Sequence[CaseResult], meta: Mapping[str, Any]) -> None:
    Path(path).write_text(json.dumps(document(results, meta), indent=1) + "\n", encoding="utf-8")


def read(path: str | Path) -> tuple[list[CaseResult], dict[str, Any]]:
    """Results and metadata back from a JSON report."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    results = [CaseResult.from_dict(c) for c in doc.pop("cases")]
    return results, doc
