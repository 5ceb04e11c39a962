"""Mutant implementations: the reference with exactly one realistic defect each (issue 5).

The conformance suite must catch every defective mutant (at least one FAIL for a MUST-level
defect) and must not fail the harmless variations. Each mutant is the reference code run by
``python -m tests.mutants NAME serve|pull|push ...`` with one attribute of the reference
replaced in that process only (:mod:`tests.mutants.registry`); :func:`mutant_spec` writes the
TOML description the suite starts it from. The list with sections and expectations is in
``tests/mutants/README.md`` (``python -m tests.mutants list --markdown``).

Families of defects, one module each: :mod:`~tests.mutants.framing_mutants`,
:mod:`~tests.mutants.json_mutants`, :mod:`~tests.mutants.server_mutants`,
:mod:`~tests.mutants.client_mutants`.
"""

from __future__ import annotations

from . import client_mutants, framing_mutants, json_mutants, server_mutants
from .registry import EXPECT_MEANING, FAMILIES, MUTANTS, Mutant
from .specs import REPO_ROOT, command, mutant_spec, spec_text, write_specs

__all__ = [
    "EXPECT_MEANING",
    "FAMILIES",
    "MUTANTS",
    "REPO_ROOT",
    "Mutant",
    "client_mutants",
    "command",
    "framing_mutants",
    "json_mutants",
    "mutant_spec",
    "server_mutants",
    "spec_text",
    "write_specs",
]
