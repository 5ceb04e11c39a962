"""The §deviations table (:mod:`bytestreamrpc.deviations`): complete, narrow, each row needed.

* Every ``### §deviations.X`` heading of docs/PROTOCOL.md has a row and every row names such
  a heading (a typo on either side fails here).
* Every row explains an example of the original's behaviour that no other row explains, so
  the example is judged a failure without that row.
* Near misses (a real defect next to the original's behaviour) are explained by no row.
* The conformance verdict: INFO by default, NON-STRICT under --strict for unsafe rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bytestreamrpc.constants import ErrorId, ResponseType
from bytestreamrpc.deviations import (
    TABLE,
    Answer,
    Deviation,
    Observed,
    Situation,
    explain,
    headings,
)
from conformance.model import Finding, Level, Verdict, verdict_from_findings

ROOT = Path(__file__).resolve().parents[2]
OK = Answer(0, ResponseType.OK)
E = ErrorId
S = Situation


def _documented_headings() -> list[str]:
    text = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    return re.findall(r"^### §deviations\.([a-z0-9-]+) ", text, flags=re.M)


def _server(*answers: Answer, closed: bool = True, situations: set[S] | None = None) -> Observed:
    return Observed(answers=answers, closed=closed, situations=frozenset(situations or ()))


def _client(*situations: S, succeeded: bool, changed: bool = False, closed: bool = True,
            requests: tuple[str, ...] = ()) -> Observed:  # fmt: skip
    return Observed(situations=frozenset(situations), succeeded=succeeded, closed=closed,
                    state_changed=changed, requests=requests)  # fmt: skip


EOF_HEADER = "cannot decode *rpc.RequestHeader: EOF"
CUT_MSG = {S.MESSAGE_WITHOUT_TERMINATOR}
PM = ("PULL_ME",)
CUT = Answer(0, ResponseType.CHUNKED_STREAM, stream="cut")

# (heading, role, reference, the original) — each the original's documented behaviour.
EXAMPLES: list[tuple[str, str, Observed, Observed]] = [
    ("truncated-payload", "server",
     _server(OK, Answer(E.DECODE_HEADER, 0, "unexpected EOF"), situations=CUT_MSG),
     _server(OK, Answer(E.DECODE_REQUEST_BODY, 0, "decode X: EOF"), situations=CUT_MSG)),
    ("truncated-payload", "server",
     _server(Answer(E.DECODE_REQUEST_BODY, 0, "unexpected EOF"), situations=CUT_MSG),
     _server(OK, Answer(E.DECODE_HEADER, 0, EOF_HEADER), situations=CUT_MSG)),
    ("truncated-payload", "server",
     _server(OK, Answer(E.DECODE_REQUEST_BODY, 0, "decode X: unexpected EOF"), situations=CUT_MSG),
     _server(OK, Answer(E.DECODE_REQUEST_BODY, 0, "decode X: EOF"), situations=CUT_MSG)),
    ("truncated-payload", "server",
     _server(OK, Answer(E.DECODE_REQUEST_BODY, 0, "unexpected EOF"), situations=CUT_MSG),
     _server(OK, OK, situations=CUT_MSG)),
    ("truncated-payload", "client", Observed(),
     _client(S.STREAM_WITHOUT_TERMINATOR, succeeded=True, changed=True)),
    ("message-bound", "server",
     _server(OK, Answer(E.DECODE_REQUEST_BODY, 0, "message exceeds the 16-byte limit")),
     _server(OK, Answer(0, ResponseType.FILESYSTEMS))),
    ("timeouts", "server",
     _server(OK, situations={S.PEER_STALLS}),
     _server(OK, closed=False, situations={S.PEER_STALLS})),
    ("timeouts", "client", Observed(), _client(S.PEER_STALLS, succeeded=False, closed=False)),
    ("handler-crashes", "server",
     _server(OK, Answer(E.HANDLER, 0, "no pull ACL for client identity 'alice'")),
     _server(OK)),
    ("handler-crashes", "server",
     _server(OK, Answer(E.HANDLER, 0, "zfs exited with error: exit status 1")),
     _server(OK, CUT)),
    ("mapping-order", "server",
     _server(OK, Answer(0, ResponseType.FILESYSTEMS), situations={S.OVERLAPPING_COMBO}),
     _server(OK, Answer(0, ResponseType.FILESYSTEMS), situations={S.OVERLAPPING_COMBO})),
    ("clean-eof", "server",
     _server(OK, Answer(E.DECODE_HEADER, 0, EOF_HEADER)),
     _server(OK)),
    ("pullme-result", "client", Observed(), _client(S.PULLME_REFUSED, succeeded=True)),
    ("pullme-result", "client", Observed(), _client(S.PULLER_GONE, succeeded=False, closed=False)),
    ("exec-mapping", "server",
     _server(OK, Answer(E.HANDLER, 0, "no match"), situations={S.EXEC_MAPPING_FAILS}),
     _server(OK, situations={S.EXEC_MAPPING_FAILS})),
    ("pull-job", "client", Observed(),
     _client(S.DIVERGED, succeeded=False, requests=("PROTOCOL_VERSION", "INITIAL_TRANSFER"))),
    ("pull-job", "client", Observed(), _client(S.STREAM_REFUSED_BY_RECV, succeeded=False)),
    ("pull-job", "client",
     _client(succeeded=False, requests=("PROTOCOL_VERSION", "FILESYSTEM")),
     _client(succeeded=False, requests=("PROTOCOL_VERSION", "FILESYSTEM", "CLOSE"))),
    ("transport-close", "client",
     Observed(answers=(OK, Answer(E.UNKNOWN_REQUEST_TYPE, 0)), succeeded=False, requests=PM),
     Observed(answers=(OK,), succeeded=False, requests=PM)),
    ("path-validation", "server",
     _server(OK, Answer(E.HANDLER, 0, "invalid dataset path ['pool', 'data@x']"), OK),
     _server(OK, Answer(E.HANDLER, 0, "zfs exited with error: exit status 1"), OK)),
]  # fmt: skip

# A real defect next to each kind of behaviour: no row may excuse these.
NEAR_MISSES: list[tuple[str, str, Observed, Observed]] = [
    ("answers correctly, never closes", "server", _server(OK, OK), _server(OK, OK, closed=False)),
    ("crashes where the original answers", "server", _server(OK, OK, OK), _server(OK)),
    ("closes instead of an ACL refusal", "server",
     _server(OK, Answer(E.HANDLER, 0, "no match found in mapping")), _server(OK)),
    ("error 3 for a cut header, no truncation in the input", "server",
     _server(OK, Answer(E.DECODE_HEADER, 0, "unexpected EOF")),
     _server(OK, Answer(E.DECODE_REQUEST_BODY, 0, "cannot decode X: EOF"))),
    ("wrong error id", "server",
     _server(OK, Answer(E.DECODE_HEADER, 0, "x")), _server(OK, Answer(E.HANDLER, 0, "x"))),
    ("a cut stream where the reference streams", "server",
     _server(OK, Answer(0, ResponseType.CHUNKED_STREAM, stream="complete")), _server(OK, CUT)),
    ("push reported success without any refusal", "client", Observed(), _client(succeeded=True)),
    ("truncated stream refused but state changed anyway", "client", Observed(),
     _client(S.PULLME_REFUSED, succeeded=False, changed=True)),
    ("Close after a job that succeeded where the reference failed", "client",
     _client(succeeded=False, requests=("PROTOCOL_VERSION",)),
     _client(succeeded=True, requests=("PROTOCOL_VERSION", "CLOSE"))),
    ("a pusher that never answers the unknown request, and succeeds", "client",
     Observed(answers=(OK, Answer(E.UNKNOWN_REQUEST_TYPE, 0)), succeeded=False),
     Observed(answers=(OK,), succeeded=True)),
    ("diverged dataset overwritten", "client", Observed(),
     _client(S.DIVERGED, succeeded=True, changed=True, requests=("INITIAL_TRANSFER",))),
]  # fmt: skip


def test_every_documented_deviation_has_a_row_and_every_row_a_heading() -> None:
    documented = _documented_headings()
    assert documented, "no §deviations headings found in docs/PROTOCOL.md"
    assert sorted(headings()) == sorted(documented)


def test_a_row_naming_no_heading_is_caught() -> None:
    typo = Deviation("truncated-payloads", "server", "x", False, lambda r, g: False)
    assert set(headings((*TABLE, typo))) != set(_documented_headings())


@pytest.mark.parametrize(("heading", "role", "ref", "got"), EXAMPLES,
                         ids=[f"{h}-{i}" for i, (h, *_r) in enumerate(EXAMPLES)])  # fmt: skip
def test_each_example_is_explained_by_its_row_and_by_nothing_else(
    heading: str, role: str, ref: Observed, got: Observed
) -> None:
    row = explain(ref, got, role=role)  # type: ignore[arg-type]
    assert row is not None and row.heading == heading
    others = [r for r in TABLE if r is not row]
    assert explain(ref, got, role=role, table=others) is None  # type: ignore[arg-type]


def test_every_row_has_an_example() -> None:
    used = set()
    for _h, role, ref, got in EXAMPLES:
        used.add(id(explain(ref, got, role=role)))  # type: ignore[arg-type]
    missing = [r.original for r in TABLE if id(r) not in used]
    assert not missing


@pytest.mark.parametrize(("what", "role", "ref", "got"), NEAR_MISSES,
                         ids=[w for w, *_r in NEAR_MISSES])  # fmt: skip
def test_real_defects_are_not_excused(what: str, role: str, ref: Observed, got: Observed) -> None:
    assert explain(ref, got, role=role) is None, what  # type: ignore[arg-type]


@pytest.mark.parametrize("unsafe", [False, True])
def test_deviation_findings_are_info_and_unsafe_ones_strict_only(unsafe: bool) -> None:
    f = Finding(Level.INFO, "the original's behaviour", deviation="pullme-result", unsafe=unsafe)
    assert verdict_from_findings(Level.MUST, [f]) is Verdict.INFO
    strict = verdict_from_findings(Level.MUST, [f], strict=True)
    assert strict is (Verdict.NON_STRICT if unsafe else Verdict.INFO)
    must = Finding(Level.MUST, "a real defect as well")
    assert verdict_from_findings(Level.MUST, [f, must]) is Verdict.FAIL
    assert Finding.from_dict(f.to_dict()) == f
