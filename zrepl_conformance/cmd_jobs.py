"""``zrepl-conformance pull|push``: one replication job over a connect command (§job.*).

``CONNECT-CMD``'s stdin/stdout is the connection, as the original used
``ssh host zrepl stdinserver --identity X`` (or ``zrepl-conformance connect ADDRESS`` for
``serve --listen ADDRESS``). Both act on the fake ZFS named by ``FAKE_ZFS_STATE``. Each
dataset gets one line on stdout; the exit status is non-zero when any dataset (or the job)
failed. What ``--help`` says is :data:`DESCRIPTIONS`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from bytestreamrpc.constants import INITIAL_REPL_POLICY_MOST_RECENT
from bytestreamrpc.serving import DEFAULT_TIMEOUT
from bytestreamrpc.transport import SubprocessTransport

from .cli_errors import UsageError

if TYPE_CHECKING:
    from fakes.mapping import DatasetMapping

DESCRIPTIONS = {
    "pull": (
        "Run one pull job (§job.pull) against the server reached through CONNECT-CMD, whose "
        "stdin/stdout is the connection: 'ssh host zrepl stdinserver --identity X' as the "
        "original used, 'zrepl-conformance serve --stdio', or 'zrepl-conformance connect "
        "ADDRESS' for a server started with 'serve --listen ADDRESS'. The datasets land in the "
        "fake ZFS named by FAKE_ZFS_STATE (see fake-zfs init), each below a local dataset that "
        "must exist: with the demo fixture, map into backup/zrepl, e.g. "
        '{"pool/data": "backup/zrepl/data"}; a glob "pool/data*": "backup/zrepl" needs '
        "backup/zrepl/pool first. One line per dataset on stdout; exit 1 if any failed."
    ),
    "push": (
        "Run one push job (§job.push) against the server reached through CONNECT-CMD (as for "
        "pull: ssh, 'zrepl-conformance serve --stdio' or 'zrepl-conformance connect "
        "ADDRESS'): ask it to pull, and serve the local datasets the filter lets through from "
        "the fake ZFS named by FAKE_ZFS_STATE. One line per dataset on stdout; exit 1 if any "
        "failed."
    ),
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, flag, key, what in (
        ("pull", "--mapping", "pull_mapping", "which remote datasets land where locally"),
        ("push", "--filter", "push_filter", "which local datasets the server may pull"),
    ):
        p = sub.add_parser(
            name, help=f"run one {name} job against CONNECT-CMD", description=DESCRIPTIONS[name]
        )
        source = p.add_mutually_exclusive_group(required=True)
        source.add_argument(flag, metavar="JSON", help=f"mapping object: {what}")
        source.add_argument(
            "--profile",
            metavar="FILE",
            help=f"take the mapping from a profile JSON (its {key}), as the contract's {{profile}}",
        )
        p.add_argument(
            "--policy",
            default=INITIAL_REPL_POLICY_MOST_RECENT,
            help="initial replication policy (default most_recent)",
        )
        p.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            metavar="S",
            help=f"seconds the server may stall (default {DEFAULT_TIMEOUT:g})",
        )
        p.add_argument(
            "connect",
            nargs=argparse.REMAINDER,
            metavar="-- CONNECT-CMD...",
            help="the command whose stdin/stdout reaches the server",
        )
        p.set_defaults(run=run, job=name)


def _mapping(args: argparse.Namespace) -> DatasetMapping:
    """The job's mapping: ``--mapping``/``--filter`` JSON, or the profile's own."""
    from fakes.mapping import MappingConfigError, parse_mapping_json
    from fakes.profile import ProfileError, load_profile

    if args.profile:
        try:
            return load_profile(args.profile).job_mapping(args.job)
        except ProfileError as exc:
            raise UsageError(str(exc)) from None
    text = args.mapping if args.job == "pull" else args.filter
    try:
        return parse_mapping_json(text)
    except (MappingConfigError, json.JSONDecodeError) as exc:
        raise UsageError(f"bad mapping {text!r}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from fakes.runjob import run_job
    from fakes.zfs import FakeZfs

    connect = args.connect[1:] if args.connect[:1] == ["--"] else args.connect
    if not connect:
        raise UsageError("missing CONNECT-CMD after --")
    state = os.environ.get("FAKE_ZFS_STATE")
    if not state:
        raise UsageError("FAKE_ZFS_STATE must name the fake ZFS state file")
    mapping = _mapping(args)
    zfs = FakeZfs.open(state)
    transport = SubprocessTransport(connect)
    try:
        report = run_job(
            args.job, transport, zfs, mapping, policy=args.policy, timeout=args.timeout
        )
    finally:
        transport.wait(timeout=10)
        zfs.close()
    if report.close_error:
        print(f"zrepl-conformance {args.job}: close failed: {report.close_error}", file=sys.stderr)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1
