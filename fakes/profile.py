"""Server/client profiles: who the client is and which mappings apply (docs/CONFORMANCE.md).

A profile is a JSON object with the keys ``identity`` (string), ``pull_acl``
(mapping), ``sinks`` (object from client identity to mapping),
``pull_mapping`` (mapping) and ``push_filter`` (mapping); every mapping is a
JSON object in the original's config syntax (PROTOCOL-FACTS §9), e.g.
``{"pool/data*": "backup/host1"}``. A missing key or ``null`` means "not
configured": a server without a pull ACL refuses listing (§handler.no-acl),
one without a sink for the identity refuses pull-me (§handler.pullme).
The conformance suite hands implementations the same file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping as StrMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .mapping import ComboMapping, MappingConfigError, parse_mapping

KEYS = ("identity", "pull_acl", "sinks", "pull_mapping", "push_filter")


class ProfileError(ValueError):
    """A profile file is missing, not JSON, or has a malformed entry; the message says which."""


@dataclass(frozen=True)
class Profile:
    """A parsed profile; the raw mapping objects are kept for re-serialisation."""

    identity: str = ""
    pull_acl: dict[str, str] | None = None
    sinks: dict[str, dict[str, str]] = field(default_factory=dict)
    pull_mapping: dict[str, str] | None = None
    push_filter: dict[str, str] | None = None

    def pull_acl_mapping(self) -> ComboMapping | None:
        return None if self.pull_acl is None else parse_mapping(self.pull_acl)

    def sink_for(self, identity: str) -> ComboMapping | None:
        raw = self.sinks.get(identity)
        return None if raw is None else parse_mapping(raw)

    def job_mapping(self, job: str) -> ComboMapping:
        """What a reference job of this profile maps: ``pull_mapping`` for ``pull``,
        ``push_filter`` for ``push`` (not configured: an empty mapping, nothing matches)."""
        raw = self.pull_mapping if job == "pull" else self.push_filter
        return parse_mapping(raw or {})

    def to_json(self) -> str:
        return json.dumps(
            {
                "identity": self.identity,
                "pull_acl": self.pull_acl,
                "sinks": self.sinks,
                "pull_mapping": self.pull_mapping,
                "push_filter": self.push_filter,
            },
            indent=2,
            sort_keys=True,
        )


DEMO_TARGETS: dict[str, str] = {
    "pool/data": "backup/zrepl/data",
    "pool/data/home": "backup/zrepl/data/home",
    "pool/data/db": "backup/zrepl/data/db",
}
"""Direct mappings that land the demo fixture's ``pool/data`` tree under its
existing ``backup/zrepl`` (a glob would need a ``backup/zrepl/pool`` fill-in)."""

DEFAULT_PROFILE = Profile(
    identity="conformance",
    pull_acl={"pool*": "pool"},
    sinks={"conformance": dict(DEMO_TARGETS)},
    pull_mapping=dict(DEMO_TARGETS),
    push_filter={"pool/data*": "pool"},
)
"""What ``serve`` uses without ``--profile``: everything under ``pool`` may be
pulled, and the client ``conformance`` may push ``pool/data`` and its children
into ``backup/zrepl/data`` of the demo fixture."""


def _mapping(obj: Any, where: str) -> dict[str, str] | None:
    if obj is None:
        return None
    if not isinstance(obj, StrMapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in obj.items()
    ):
        raise ProfileError(f"{where} must be an object of strings to strings")
    raw = dict(obj)
    try:
        parse_mapping(raw)
    except MappingConfigError as exc:
        raise ProfileError(f"{where}: {exc}") from None
    return raw


def profile_from_obj(obj: Any, *, source: str = "profile") -> Profile:
    """Validate a decoded JSON object as a profile."""
    if not isinstance(obj, StrMapping):
        raise ProfileError(f"{source}: a profile must be a JSON object")
    unknown = sorted(set(obj) - set(KEYS))
    if unknown:
        raise ProfileError(f"{source}: unknown key(s) {', '.join(unknown)}")
    identity = obj.get("identity") or ""
    if not isinstance(identity, str):
        raise ProfileError(f"{source}: identity must be a string")
    sinks_obj = obj.get("sinks") or {}
    if not isinstance(sinks_obj, StrMapping):
        raise ProfileError(f"{source}: sinks must be an object from identity to mapping")
    sinks: dict[str, dict[str, str]] = {}
    for who, mapping in sinks_obj.items():
        parsed = _mapping(mapping, f"{source}: sinks[{who!r}]")
        if parsed is not None:
            sinks[str(who)] = parsed
    return Profile(
        identity=identity,
        pull_acl=_mapping(obj.get("pull_acl"), f"{source}: pull_acl"),
        sinks=sinks,
        pull_mapping=_mapping(obj.get("pull_mapping"), f"{source}: pull_mapping"),
        push_filter=_mapping(obj.get("push_filter"), f"{source}: push_filter"),
    )


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file; :class:`ProfileError` names the file on failure."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(
            f"profile {path} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    return profile_from_obj(obj, source=f"profile {path}")
