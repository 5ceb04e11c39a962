"""The vocabulary of the conformance suite: cases, levels, findings, verdicts, results.

A :class:`Case` is pure data plus a function: it names the docs/PROTOCOL.md section it
tests, the level of the requirement (MUST / SHOULD / INFO, §conformance-levels), the role of
the implementation it judges, and what it needs (fixture, profile, identity, which command
of the implementation). Running it produces :class:`Finding` objects — each one difference
from the expected behaviour, with its own level — and the verdict is derived from those
findings, capped by the case's level (a SHOULD case can never FAIL, an INFO case only ever
reports INFO).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from bytestreamrpc.connection import Role

if TYPE_CHECKING:
    from .context import CaseContext


class Level(enum.IntEnum):
    """Requirement levels (§conformance-levels); a higher value is a stronger requirement."""

    INFO = 0
    SHOULD = 1
    MUST = 2

    def __str__(self) -> str:
        return self.name


class Verdict(enum.Enum):
    """What a case concluded (§conformance-levels, plus the runner's own outcomes)."""

    PASS = "PASS"
    FAIL = "FAIL"
    NON_STRICT = "NON-STRICT"
    INFO = "INFO"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    EXCLUDED = "EXCLUDED"
    XFAIL = "XFAIL"

    def __str__(self) -> str:
        return self.value


VERDICT_ORDER: Final = (
    Verdict.FAIL,
    Verdict.NON_STRICT,
    Verdict.PASS,
    Verdict.INFO,
    Verdict.XFAIL,
    Verdict.UNIMPLEMENTED,
    Verdict.EXCLUDED,
)
"""Column order of summary tables: problems first."""

FAMILIES: Final = (
    "framing",
    "json",
    "server",
    "transfer",
    "acl",
    "pullme",
    "client",
)
"""Case families (the rows of the mutant matrix and the pytest node prefixes)."""

_ID_RE: Final = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$")
_SECTION_RE: Final = re.compile(r"^§[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)*$")


@dataclass(frozen=True)
class Finding:
    """One way the implementation's behaviour differs from what the case expected.

    ``level`` is how strong the violated requirement is: a MUST finding makes the case
    FAIL, a SHOULD finding NON-STRICT, an INFO finding is an observation only.
    """

    level: Level
    what: str
    expected: str = ""
    actual: str = ""
    deviation: str = ""
    """The §deviations heading whose original behaviour this is (then ``level`` is INFO)."""
    unsafe: bool = False
    """A deviation the table marks unsafe: counts as SHOULD under ``--strict``."""

    def effective_level(self, strict: bool) -> Level:
        """The level the verdict uses: an unsafe deviation is SHOULD only when strict."""
        if self.deviation and self.unsafe and strict:
            return Level.SHOULD
        return self.level

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "level": str(self.level),
            "what": self.what,
            "expected": self.expected,
            "actual": self.actual,
        }
        if self.deviation:
            d["deviation"] = self.deviation
            d["unsafe"] = self.unsafe
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        return cls(
            Level[str(d["level"])],
            str(d["what"]),
            str(d["expected"]),
            str(d["actual"]),
            str(d.get("deviation", "")),
            bool(d.get("unsafe", False)),
        )


@dataclass(frozen=True)
class Setup:
    """What the implementation is started with: fixture, profile and client identity."""

    fixture: str = "demo"
    profile: str = "default"
    identity: str | None = None
    """``None``: the profile's identity."""


CaseFunc = Callable[["CaseContext"], None]


@dataclass(frozen=True)
class Case:
    """One conformance case. ``run`` records findings and notes on the context it gets."""

    id: str
    section: str
    level: Level
    role: Role
    """The side of the connection the case judges (the implementation's side)."""
    title: str
    family: str
    run: CaseFunc = field(compare=False, repr=False)
    setup: Setup = Setup()
    needs: str = "server"
    """The implementation command the case starts: ``server``, ``pull`` or ``push``."""

    def __post_init__(self) -> None:
        if not _ID_RE.match(self.id):
            raise ValueError(f"case id {self.id!r} is not of the form family.name.n")
        if not _SECTION_RE.match(self.section):
            raise ValueError(f"case {self.id}: bad section {self.section!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"case {self.id}: unknown family {self.family!r}")
        if self.needs not in ("server", "pull", "push"):
            raise ValueError(f"case {self.id}: unknown command {self.needs!r}")
        if not self.title or "\n" in self.title:
            raise ValueError(f"case {self.id}: the title must be one line")

    def describe(self) -> dict[str, str]:
        """The catalog entry as ``zrepl-conformance list --json`` prints it."""
        return {
            "id": self.id,
            "level": str(self.level),
            "role": str(self.role),
            "section": self.section,
            "family": self.family,
            "needs": self.needs,
            "title": self.title,
        }


def verdict_from_findings(level: Level, findings: list[Finding], strict: bool = False) -> Verdict:
    """PASS, NON-STRICT or FAIL from the findings, capped by the case level.

    A behaviour of the original (a finding naming a §deviations heading) is never FAIL or
    NON-STRICT: the case is INFO, or, for an unsafe deviation under ``strict``, NON-STRICT.
    """
    if level is Level.INFO:
        return Verdict.INFO
    worst = max((min(f.effective_level(strict), level) for f in findings), default=Level.INFO)
    if worst is Level.MUST:
        return Verdict.FAIL
    if worst is Level.SHOULD:
        return Verdict.NON_STRICT
    return Verdict.INFO if any(f.deviation for f in findings) else Verdict.PASS


@dataclass
class CaseResult:
    """Everything a report shows about one case (JSON-serialisable via :meth:`to_dict`)."""

    case_id: str
    section: str
    level: str
    role: str
    family: str
    title: str
    verdict: Verdict
    reason: str = ""
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wire_log: str = ""
    wire_log_hex: str = ""
    stderr: str = ""
    exit_status: str = ""
    duration: float = 0.0

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.FAIL

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "section": self.section,
            "level": self.level,
            "role": self.role,
            "family": self.family,
            "title": self.title,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
            "wire_log": self.wire_log,
            "wire_log_hex": self.wire_log_hex,
            "stderr": self.stderr,
            "exit_status": self.exit_status,
            "duration": round(self.duration, 4),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CaseResult:
        return cls(
            case_id=str(d["id"]),
            section=str(d["section"]),
            level=str(d["level"]),
            role=str(d["role"]),
            family=str(d["family"]),
            title=str(d["title"]),
            verdict=Verdict(str(d["verdict"])),
            reason=str(d.get("reason", "")),
            findings=[Finding.from_dict(f) for f in d.get("findings", [])],
            notes=[str(n) for n in d.get("notes", [])],
            wire_log=str(d.get("wire_log", "")),
            wire_log_hex=str(d.get("wire_log_hex", "")),
            stderr=str(d.get("stderr", "")),
            exit_status=str(d.get("exit_status", "")),
            duration=float(d.get("duration", 0.0)),
        )
