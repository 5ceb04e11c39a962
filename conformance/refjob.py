"""Our reference as a contract-conformant IUT, including its ``pull`` and ``push`` commands.

The reference server command is :data:`iut.spec.REFERENCE_SERVER`
(``zrepl-conformance serve --stdio --identity {identity} --profile {profile}``). The
reference jobs (``zrepl-conformance pull|push``) take their mapping as a JSON argument, not
a profile file, so this module is a small adapter: ``python -m conformance.refjob pull --
CONNECT...`` reads the profile named by ``ZREPL_CONFORMANCE_PROFILE`` (``pull_mapping`` or
``push_filter``) and runs ``zrepl-conformance pull --mapping JSON -- CONNECT...`` (resp.
``push --filter``) in this process. Its exit status is the job's.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iut import IUTSpec

PROFILE_ENV = "ZREPL_CONFORMANCE_PROFILE"


def conformance_reference_spec() -> IUTSpec:
    """The reference server plus the reference jobs through this adapter."""
    from iut import IUTSpec, reference_spec

    base = reference_spec()
    job = (sys.executable, "-m", "conformance.refjob")
    return IUTSpec(
        server=base.server,
        pull=(*job, "pull", "--", "{connect}"),
        push=(*job, "push", "--", "{connect}"),
        name="reference",
        origin="reference",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] not in ("pull", "push") or args[1] != "--":
        print("usage: python -m conformance.refjob pull|push -- CONNECT-CMD...", file=sys.stderr)
        return 2
    job, connect = args[0], args[2:]
    path = os.environ.get(PROFILE_ENV)
    if not path:
        print(f"conformance.refjob: {PROFILE_ENV} is not set", file=sys.stderr)
        return 2
    try:
        with open(path, encoding="utf-8") as f:
            profile = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"conformance.refjob: cannot read the profile {path}: {exc}", file=sys.stderr)
        return 2
    key, flag = ("pull_mapping", "--mapping") if job == "pull" else ("push_filter", "--filter")
    mapping = profile.get(key) or {}
    from zrepl_conformance.cli import main as cli_main

    return cli_main([job, flag, json.dumps(mapping), "--", *connect])


if __name__ == "__main__":
    sys.exit(main())
