"""The one entry point of the reference jobs: connect, pull or push, Close, close.

``zrepl-conformance pull|push`` (:mod:`zrepl_conformance.cmd_jobs`), the conformance suite's
in-process reference client (:mod:`conformance.targets`) and the client-role fuzzer's
reference client all run :func:`run_job`, so the three cannot drift apart. The push job lives
here too: it serves the puller with a :class:`~fakes.reference.ReferenceHandler`, and the
reference handler's pull-me uses the pull job, so keeping the push out of :mod:`fakes.jobs`
leaves no import cycle between the two.
"""

from __future__ import annotations

import contextlib
from typing import Literal

from bytestreamrpc.client import Client
from bytestreamrpc.constants import INITIAL_REPL_POLICY_MOST_RECENT
from bytestreamrpc.errors import ProtocolError, RequestFailed
from bytestreamrpc.interfaces import RPCRequester
from bytestreamrpc.messages import CloseRequest, PullMeRequest
from bytestreamrpc.transport import Transport

from .jobs import DatasetResult, JobReport, run_pull
from .mapping import DatasetMapping
from .reference import ReferenceHandler
from .zfs import FakeZfs

__all__ = ["Job", "run_job", "run_push"]

Job = Literal["pull", "push"]


def run_push(
    remote: RPCRequester,
    zfs: FakeZfs,
    push_filter: DatasetMapping,
    *,
    policy: str = INITIAL_REPL_POLICY_MOST_RECENT,
) -> JobReport:
    """Ask the server to pull from us (§job.push) and serve it with ``push_filter`` as ACL."""
    handler = ReferenceHandler(zfs, identity="", pull_acl=push_filter, sink_for=lambda _who: None)
    report = JobReport()
    try:
        remote.pull_me_request(PullMeRequest(initial_repl_policy=policy), handler)
    except (RequestFailed, ProtocolError) as exc:
        report.error = f"pull-me failed: {exc}"
    for dataset, what in handler.sent:
        ok = report.error is None
        report.results.append(DatasetResult(dataset, "(server)", ok, "sent", what))
    return report


def run_job(
    job: Job,
    transport: Transport,
    zfs: FakeZfs,
    mapping: DatasetMapping,
    *,
    policy: str = INITIAL_REPL_POLICY_MOST_RECENT,
    timeout: float,
) -> JobReport:
    """One pull or push job over ``transport``, which it closes at the end.

    ProtocolVersion first (a refusal is the job's error), then the job, then Close (a failed
    Close is ``close_error``, not a failed job), as the original's ``pull``/``push`` did.
    """
    report = JobReport()
    try:
        try:
            client = Client.connect(transport, timeout=timeout)
        except (RequestFailed, ProtocolError, OSError) as exc:
            report.error = f"cannot connect: {exc}"
            return report
        if job == "pull":
            report = run_pull(client, zfs, mapping, policy=policy)
        else:
            report = run_push(client, zfs, mapping, policy=policy)
        try:
            client.close_request(CloseRequest())
        except (RequestFailed, ProtocolError, OSError) as exc:
            report.close_error = str(exc)
        return report
    finally:
        with contextlib.suppress(OSError, ProtocolError):
            transport.close()
