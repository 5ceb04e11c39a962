"""Our reference pull/push jobs as contract-shaped commands (``{profile}`` → mapping).

The contract gives a ``pull``/``push`` command only ``{identity}``, ``{profile}``, ``{state}``
and ``{connect}``; ``zrepl-conformance pull`` takes its mapping as JSON on the command line.
``python .../iut/refclient.py pull|push PROFILE -- CONNECT...`` reads the profile's
``pull_mapping`` (pull) or ``push_filter`` (push) and runs the reference job with it, so the
reference implementation is described by a TOML file like any other.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

_KEY = {"pull": ("pull_mapping", "--mapping"), "push": ("push_filter", "--filter")}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 4 or args[0] not in _KEY or args[2] != "--":
        print("usage: refclient.py pull|push PROFILE -- CONNECT...", file=sys.stderr)
        return 2
    job, profile_path, connect = args[0], args[1], args[3:]
    key, flag = _KEY[job]
    try:
        with open(profile_path, encoding="utf-8") as f:
            profile = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"iut.refclient: cannot read profile {profile_path}: {exc}", file=sys.stderr)
        return 2
    mapping = profile.get(key) if isinstance(profile, dict) else None
    if not isinstance(mapping, dict):
        print(f"iut.refclient: profile {profile_path} has no '{key}' mapping", file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "zrepl_conformance", job, flag, json.dumps(mapping), "--"]
    os.execv(sys.executable, cmd + connect)
    return 1  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main())
