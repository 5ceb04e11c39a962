"""``zrepl-conformance pull|push``: one replication job over a connect command (§job.*).

``CONNECT-CMD``'s stdin/stdout is the connection, as the original used
``ssh host zrepl stdinserver --identity X`` (or ``zrepl-conformance connect ADDRESS`` for
``serve --listen ADDRESS``). Both act on the fake ZFS named by ``FAKE_ZFS_STATE``. Each
dataset gets one line on stdout; the exit status is non-zero when any dataset (or the job)
failed. What ``--help`` says is :data:`DESCRIPTIONS`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

from bytestreamrpc.client import Client
from bytestreamrpc.constants import INITIAL_REPL_POLICY_MOST_RECENT
from bytestreamrpc.errors import ProtocolError, RequestFailed
from bytestreamrpc.messages import CloseRequest
from bytestreamrpc.serving import DEFAULT_TIMEOUT
from bytestreamrpc.transport import SubprocessTransport

from .cli_errors import UsageError

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
    for name, flag, what in (
        ("pull", "--mapping", "which remote datasets land where locally"),
        ("push", "--filter", "which local datasets the server may pull"),
    ):
        p = sub.add_parser(
            name, help=f"run one {name} job against CONNECT-CMD", description=DESCRIPTIONS[name]
        )
        p.add_argument(flag, required=True, metavar="JSON", help=f"mapping object: {what}")
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


def run(args: argparse.Namespace) -> int:
    from fakes.jobs import JobReport, run_pull, run_push
    from fakes.mapping import MappingConfigError, parse_mapping_json
    from fakes.zfs import FakeZfs

    connect = args.connect[1:] if args.connect[:1] == ["--"] else args.connect
    if not connect:
        raise UsageError("missing CONNECT-CMD after --")
    state = os.environ.get("FAKE_ZFS_STATE")
    if not state:
        raise UsageError("FAKE_ZFS_STATE must name the fake ZFS state file")
    text = args.mapping if args.job == "pull" else args.filter
    try:
        mapping = parse_mapping_json(text)
    except (MappingConfigError, json.JSONDecodeError) as exc:
        raise UsageError(f"bad mapping {text!r}: {exc}") from None
    zfs = FakeZfs.open(state)
    transport = SubprocessTransport(connect)
    report = JobReport()
    try:
        try:
            client = Client.connect(transport, timeout=args.timeout)
        except (RequestFailed, ProtocolError, OSError) as exc:
            report.error = f"cannot connect: {exc}"
        else:
            if args.job == "pull":
                report = run_pull(client, zfs, mapping, policy=args.policy)
            else:
                report = run_push(client, zfs, mapping, policy=args.policy)
            try:
                client.close_request(CloseRequest())
            except (RequestFailed, ProtocolError, OSError) as exc:
                print(f"zrepl-conformance {args.job}: close failed: {exc}", file=sys.stderr)
    finally:
        with contextlib.suppress(OSError):
            transport.close()
        transport.wait(timeout=10)
        zfs.close()
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1
