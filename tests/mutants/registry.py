"""The mutant registry: one record per defect, and the helper that injects it.

A *mutant* is our reference implementation with exactly one realistic defect. The defect is
injected by replacing one attribute (a function, a method, a table entry) of the reference
code *in the mutant's own process* before the reference command runs, so the reference
sources never change and every mutant is the reference plus one diff. Each record says
what the defect is, which docs/PROTOCOL.md sections it violates, which case family of the
conformance suite is expected to catch it, and what the suite must report for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from bytestreamrpc.connection import Role

Family = Literal["framing", "json", "server-rows", "transfers", "acl", "pullme", "client"]
Expect = Literal["FAIL", "NON-STRICT", "STRICT", "NO-FAIL"]

FAMILIES: Final[tuple[Family, ...]] = (
    "framing",
    "json",
    "server-rows",
    "transfers",
    "acl",
    "pullme",
    "client",
)

EXPECT_MEANING: Final[dict[Expect, str]] = {
    "FAIL": "a MUST is violated: the suite must report at least one FAIL",
    "NON-STRICT": "only a SHOULD is violated: the suite must report it (at least one "
    "NON-STRICT), and a FAIL would mean a case grades a SHOULD as a MUST",
    "STRICT": "an unsafe behaviour the original itself shows (§deviations): never FAIL or "
    "NON-STRICT by default (INFO), at least one NON-STRICT under --strict",
    "NO-FAIL": "a harmless variation: the suite must report no FAIL (NON-STRICT is allowed)",
}


@dataclass(frozen=True)
class Mutant:
    """One defective (or harmlessly different) variant of the reference.

    ``role`` is the side the defect lives in (the toolkit's one :class:`Role`, which compares
    equal to ``"server"`` / ``"client"``): a server mutant's ``pull``/``push`` commands and a
    client mutant's ``server`` command run the unmodified reference.
    """

    name: str
    role: Role
    description: str
    sections: tuple[str, ...]
    family: Family
    expect: Expect
    inject: Callable[[], None]

    @property
    def harmless(self) -> bool:
        return self.expect == "NO-FAIL"


MUTANTS: dict[str, Mutant] = {}
"""Every registered mutant by name, in registration order."""


def ordered() -> list[Mutant]:
    """Defects first, by family (``FAMILIES`` order), then the harmless variations."""
    return sorted(MUTANTS.values(), key=lambda m: (m.harmless, FAMILIES.index(m.family)))


def mutant(
    name: str,
    *,
    role: Role,
    description: str,
    sections: tuple[str, ...],
    family: Family,
    expect: Expect = "FAIL",
) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register the decorated injection function as the mutant ``name``."""

    def register(inject: Callable[[], None]) -> Callable[[], None]:
        if name in MUTANTS:
            raise ValueError(f"mutant {name!r} registered twice")
        if not sections or not all(s.startswith("§") for s in sections):
            raise ValueError(f"mutant {name!r}: sections must be § ids")
        MUTANTS[name] = Mutant(name, role, description, sections, family, expect, inject)
        return inject

    return register


def replace(owner: object, attribute: str, new: object) -> Any:
    """Set ``owner.attribute`` to ``new`` and return the previous value.

    The previous value is returned as ``Any`` so a replacement can call through to it.
    Raises ``AttributeError`` if the attribute does not exist: a typo must not turn a
    mutant silently into the reference.
    """
    old = getattr(owner, attribute)
    setattr(owner, attribute, new)
    return old
