"""Implementation-under-test descriptions (TOML) for the mutants.

Every mutant is started like any other implementation: through a TOML description with a
``server``, a ``pull`` and a ``push`` command (docs/CONFORMANCE.md, the IUT contract). The
commands run ``python -m tests.mutants NAME ROLE ...`` with this checkout on
``PYTHONPATH`` (the ``tests`` package is not installed), so the files are generated into a
directory of the caller's choice rather than committed with machine-specific paths.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Final

from .registry import MUTANTS

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
"""The checkout holding ``tests/`` (put on the mutant processes' ``PYTHONPATH``)."""


def command(name: str, role: str) -> list[str]:
    """The command template (with IUT placeholders) that runs mutant ``name`` as ``role``."""
    base = [sys.executable, "-m", "tests.mutants", name, role]
    if role == "serve":
        return [*base, "--identity", "{identity}", "--profile", "{profile}"]
    if role in ("pull", "push"):
        return [*base, "--profile", "{profile}", "--", "{connect}"]
    raise ValueError(f"unknown role {role!r}: use serve, pull or push")


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid TOML basic string here


def _toml_array(items: list[str]) -> str:
    return "[" + ", ".join(_toml_string(i) for i in items) + "]"


def spec_text(name: str, *, timeout: float | None = None) -> str:
    """The TOML description of mutant ``name`` (``KeyError`` if there is no such mutant)."""
    m = MUTANTS[name]
    lines = [
        f"# Mutant {name} ({m.role} role, expect {m.expect}): {m.description}",
        f"# Violates: {', '.join(m.sections)}",
        f"name = {_toml_string('mutant-' + name)}",
        f"server = {_toml_array(command(name, 'serve'))}",
        f"pull = {_toml_array(command(name, 'pull'))}",
        f"push = {_toml_array(command(name, 'push'))}",
    ]
    if timeout is not None:
        lines.append(f"timeout = {timeout}")
    lines += ["", "[env]", f"PYTHONPATH = {_toml_string(str(REPO_ROOT))}", ""]
    return "\n".join(lines)


def mutant_spec(name: str, directory: str | Path, *, timeout: float | None = None) -> Path:
    """Write ``DIRECTORY/NAME.toml`` describing mutant ``name``; return its path."""
    if name not in MUTANTS:
        raise KeyError(f"unknown mutant {name!r}")
    path = Path(directory) / f"{name}.toml"
    path.write_text(spec_text(name, timeout=timeout), encoding="utf-8")
    return path


def write_specs(directory: str | Path, *, timeout: float | None = None) -> dict[str, Path]:
    """One description per registered mutant in ``directory``, by mutant name."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    return {name: mutant_spec(name, directory, timeout=timeout) for name in MUTANTS}
