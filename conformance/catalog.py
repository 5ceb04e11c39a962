"""The case catalog: registration, lookup, and the checks that keep it honest.

Family modules under :mod:`conformance.cases` register their cases with :func:`case` (a
decorator) or :func:`add`; :func:`all_cases` imports them once and returns the catalog in a
stable order (family order, then definition order). Ids are unique and permanent: a case that
changes meaning gets a new id.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

from bytestreamrpc.connection import Role

from .model import FAMILIES, Case, CaseFunc, Level, Setup

_CASES: dict[str, Case] = {}
DEFAULT_SETUP: Final = Setup()
_LOADED = False

CASE_MODULES: Final = (
    "conformance.cases.framing",
    "conformance.cases.lengths",
    "conformance.cases.gojson",
    "conformance.cases.gojson_texts",
    "conformance.cases.server",
    "conformance.cases.endings",
    "conformance.cases.transfer",
    "conformance.cases.acl",
    "conformance.cases.pullme",
    "conformance.cases.client",
)


def add(case: Case) -> Case:
    """Register a case; a duplicate id is a programming error."""
    if case.id in _CASES:
        raise ValueError(f"duplicate case id {case.id}")
    _CASES[case.id] = case
    return case


def case(
    id: str,
    section: str,
    level: Level,
    title: str,
    *,
    family: str,
    role: Role = Role.SERVER,
    setup: Setup = DEFAULT_SETUP,
    needs: str = "server",
) -> Callable[[CaseFunc], CaseFunc]:
    """Decorator registering a case function under ``id``."""

    def register(fn: CaseFunc) -> CaseFunc:
        add(Case(id, section, level, role, title, family, fn, setup, needs))
        return fn

    return register


def all_cases() -> list[Case]:
    """The whole catalog, in family order then definition order."""
    global _LOADED
    if not _LOADED:
        for module in CASE_MODULES:
            importlib.import_module(module)
        _LOADED = True
    order = {f: i for i, f in enumerate(FAMILIES)}
    indexed = list(enumerate(_CASES.values()))
    indexed.sort(key=lambda ic: (order[ic[1].family], _module_rank(ic[1]), ic[0]))
    return [c for _, c in indexed]


def _module_rank(c: Case) -> int:
    """The position of the case's module in :data:`CASE_MODULES`: the order is the catalog's
    even where a process imported one case module before the others (a test importing a
    module's table, say), which would otherwise register its cases first."""
    module = getattr(c.run, "__module__", "") or ""
    for rank, name in enumerate(CASE_MODULES):
        if module == name or module.startswith(name + "."):
            return rank
    return len(CASE_MODULES)


def get(case_id: str) -> Case:
    for c in all_cases():
        if c.id == case_id:
            return c
    raise KeyError(f"no case {case_id!r} in the catalog")


def spec_sections(protocol_md: str | Path) -> set[str]:
    """Every ``§id`` heading of docs/PROTOCOL.md."""
    text = Path(protocol_md).read_text(encoding="utf-8")
    return set(re.findall(r"^#+ (§[a-z0-9.-]+)", text, flags=re.M))
