"""What a client job left behind: its exit status and its fake ZFS datasets.

A client's conversation is only half of what it did: a pull that receives a stream it should
have refused, or a push that reports success after the server hung up, says exactly the same
bytes as a correct one. So a recording of a client job may end with an ``outcome`` event
(:class:`~recordings.format.EventRecord`): the job's exit status and, per dataset of its
fake ZFS afterwards, the type, the ``readonly`` property (§job.pull.initial) and every
snapshot and bookmark by name and GUID.

Both the differential fuzzer (which writes the event) and ``replay`` against a client
(which checks it after the wire matched) read and compare outcomes with this module, so a
finding the fuzzer reports is judged exactly the same way when it is replayed. Exit statuses
are compared by class only (0 is success, anything else failure; a kill by a signal or a
timeout is neither), as the contract defines a job's result by nothing more.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .format import EventRecord

if TYPE_CHECKING:
    from fakes.zfs import FakeZfs
    from iut.process import ExitStatus

__all__ = [
    "ClientOutcome",
    "compare_outcomes",
    "exit_class",
    "outcome_of_record",
    "read_state",
    "state_of",
]

State = dict[str, dict[str, Any]]
"""``{dataset: {"type": str, "readonly": str, "versions": [[type, name, guid], ...]}}``."""


def exit_class(status: ExitStatus | int) -> str:
    """``ok``, ``failed``, ``signal``, ``timeout`` or ``unimplemented``."""
    if isinstance(status, int):
        return "ok" if status == 0 else "failed"
    return status.kind


def _describe_exit(status: ExitStatus | int) -> str:
    return f"exit {status}" if isinstance(status, int) else status.describe()


@dataclass(frozen=True)
class ClientOutcome:
    """A client job's exit status (a code, or how its process ended) and its datasets."""

    status: ExitStatus | int
    state: Mapping[str, Mapping[str, Any]]

    @property
    def exit(self) -> str:
        return exit_class(self.status)

    def record(self) -> EventRecord:
        """The transcript's ``outcome`` event (the exit code: 0 or 1 for a class)."""
        code = self.status if isinstance(self.status, int) else self.status.returncode
        return EventRecord("outcome", status=code, state=dict(self.state))

    def describe(self) -> str:
        return f"{self.exit} ({_describe_exit(self.status)})"


def outcome_of_record(rec: EventRecord) -> ClientOutcome:
    """The expected outcome an ``outcome`` event records."""
    if rec.event != "outcome" or rec.status is None or rec.state is None:
        raise ValueError(f"not an outcome event: {rec.describe()}")
    return ClientOutcome(rec.status, rec.state)


def state_of(zfs: FakeZfs) -> State:
    """Every dataset of an open fake ZFS with its type, ``readonly`` and versions."""
    out: State = {}
    for name in zfs.list_filesystems():
        kind = zfs.get(name, "type")
        readonly = zfs.get(name, "readonly")
        out[name] = {
            "type": kind.text if kind is not None else "",
            "readonly": readonly.text if readonly is not None else "",
            "versions": [[v.type, v.name, v.guid] for v in zfs.list_versions(name)],
        }
    return out


def read_state(path: str | Path) -> State:
    """:func:`state_of` a fake ZFS state file (what an implementation process left)."""
    from fakes.zfs import FakeZfs

    zfs = FakeZfs.open(path)
    try:
        return state_of(zfs)
    finally:
        zfs.close()


def _lines(state: Mapping[str, Mapping[str, Any]]) -> list[str]:
    out: list[str] = []
    for name in sorted(state):
        ds = state[name]
        out.append(f"{name} ({ds.get('type')}, readonly={ds.get('readonly')})")
        out += [f"  {json.dumps(v)}" for v in ds.get("versions", [])]
    return out


def _state_difference(
    expected: Mapping[str, Mapping[str, Any]], actual: Mapping[str, Mapping[str, Any]]
) -> str | None:
    for name in sorted(set(expected) | set(actual)):
        exp, act = expected.get(name), actual.get(name)
        if exp is None:
            return f"dataset {name} exists, the reference client does not create it"
        if act is None:
            return f"dataset {name} is missing"
        for key in ("type", "readonly"):
            if exp.get(key) != act.get(key):
                return f"{name}: {key} {act.get(key)!r}, expected {exp.get(key)!r}"
        want = [tuple(v) for v in exp.get("versions", [])]
        got = [tuple(v) for v in act.get("versions", [])]
        if want != got:
            missing = [f"{v[1]} ({v[0]} {v[2]})" for v in want if v not in got]
            extra = [f"{v[1]} ({v[0]} {v[2]})" for v in got if v not in want]
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unexpected {', '.join(extra)}"] if extra else []
            )
            return f"{name}: versions differ: " + ("; ".join(parts) or "other order")
    return None


def compare_outcomes(expected: ClientOutcome, actual: ClientOutcome) -> tuple[str, str, str] | None:
    """``(what, detail, diff)`` of the first difference (exit class, then state), or None."""
    if expected.exit != actual.exit:
        return (
            "exit status",
            f"expected {expected.describe()}, got {actual.describe()}",
            "",
        )
    detail = _state_difference(expected.state, actual.state)
    if detail is None:
        return None
    diff = "\n".join(
        difflib.unified_diff(
            _lines(expected.state), _lines(actual.state), "expected (recorded)", "actual",
            lineterm="", n=2,
        )
    )  # fmt: skip
    return "fake ZFS state", detail, diff
