"""The fixtures and profiles cases start implementations with.

A profile is the JSON object of the IUT contract (docs/CONFORMANCE.md): ``identity``,
``pull_acl``, ``sinks``, ``pull_mapping``, ``push_filter``, mappings in the original's syntax
(PROTOCOL-FACTS §9). The same object configures our in-process reference when a case computes
its expected results, so both sides of the differential always agree on the setup.

Fixtures are fake-ZFS TOML files: ``demo`` is fake-zfs's built-in one; the others live in
``conformance/fixtures/``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Final

FIXTURE_DIR: Final = Path(__file__).resolve().parent / "fixtures"

VISIBLE: Final = "pool/data"
"""A dataset every ACL of the default profile admits (with children home, db)."""
HIDDEN: Final = "pool/vol1"
"""A volume that exists but is outside the default pull ACL."""
SINK_TARGET: Final = "backup/zrepl/data"
"""Where pull and pull-me cases put pool/data."""

_BASE: Final[dict[str, Any]] = {
    "identity": "alice",
    "pull_acl": {"pool/data*": "ok"},
    "sinks": {"alice": {"pool/data": SINK_TARGET}},
    "pull_mapping": {"pool/data": SINK_TARGET},
    "push_filter": {"pool/data*": "ok"},
}


def _with(**changes: Any) -> dict[str, Any]:
    p = copy.deepcopy(_BASE)
    for key, value in changes.items():
        if value is None:
            p.pop(key, None)
        else:
            p[key] = value
    return p


PROFILES: Final[dict[str, dict[str, Any]]] = {
    "default": _with(),
    "no-acl": _with(pull_acl=None),
    "empty-acl": _with(pull_acl={}),
    "exact-acl": _with(pull_acl={"pool/data": "ok"}),
    "prefix-acl": _with(pull_acl={"pool/dat*": "ok"}),
    "all-acl": _with(pull_acl={"*": "ok"}),
    "local-identity": _with(identity="local", sinks={"local": {"pool/data": SINK_TARGET}}),
    "no-sink": _with(sinks={}),
    "wide-sink": _with(sinks={"alice": {"pool/data": SINK_TARGET, "pool/data/home": "backup/h"}}),
    "empty-pull-mapping": _with(pull_mapping={}),
    "empty-push-filter": _with(push_filter={}),
    "wide-pull-mapping": _with(
        pull_mapping={"pool/data": SINK_TARGET, "pool/data/home": "backup/zrepl/home"}
    ),
}
"""Named profiles; cases refer to them by name."""


def profile(name: str) -> dict[str, Any]:
    """A fresh copy of a named profile (KeyError names it)."""
    try:
        return copy.deepcopy(PROFILES[name])
    except KeyError:
        raise KeyError(f"unknown profile {name!r}") from None


def fixture_path(name: str) -> str | None:
    """The TOML file of a named fixture; ``None`` for fake-zfs's built-in ``demo``."""
    if name == "demo":
        return None
    path = FIXTURE_DIR / f"{name}.toml"
    if not path.is_file():
        raise KeyError(f"unknown fixture {name!r} (no {path})")
    return str(path)
