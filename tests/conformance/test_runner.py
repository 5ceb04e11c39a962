"""The contract around each case: timeouts, crashes, exit 89, exclusions, expected failures."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import pytest

from conformance.catalog import get
from conformance.model import CaseResult, Verdict
from conformance.runner import Runner, RunOptions
from iut import load_spec, spec_from_server_cmd

PY = shlex.quote(sys.executable)
HUNG_CODE = (
    "import sys,time; print('hung impl started', file=sys.stderr, flush=True); time.sleep(60)"
)
HUNG = f"{PY} -c {shlex.quote(HUNG_CODE)}"
CRASH_ARGV = [
    sys.executable,
    "-c",
    "import sys; sys.stderr.write('Traceback: boom in handler\\n'); sys.exit(3)",
]
CRASH = shlex.join(CRASH_ARGV)
UNIMPLEMENTED = f'{PY} -c "import sys; sys.exit(89)"'
CASES = ["server.pv.ok.1", "server.fs.ok.1", "server.unknown-type.1"]


def _run(cmd: str, ids: list[str], **options: object) -> list[CaseResult]:
    runner = Runner.for_spec(spec_from_server_cmd(cmd), RunOptions(**options))  # type: ignore[arg-type]
    try:
        return [runner.run(get(i)) for i in ids]
    finally:
        runner.close()


def test_a_hung_implementation_costs_each_case_its_timeout_and_the_run_goes_on() -> None:
    start = time.monotonic()
    results = _run(HUNG, CASES, timeout=1.0)
    elapsed = time.monotonic() - start
    assert [r.verdict for r in results] == [Verdict.FAIL] * 3
    for r in results:
        assert 0.9 <= r.duration < 3.0, r.duration
        assert "hung impl started" in r.stderr
        assert "killed after its timeout" in r.exit_status
        assert any("no end of input" in f.what or "missing" in f.what for f in r.findings)
    assert elapsed < 9.0


def test_a_crashing_implementation_fails_quickly_with_its_stderr() -> None:
    (r,) = _run(CRASH, ["server.pv.ok.1"])
    assert r.verdict is Verdict.FAIL
    assert r.duration < 5.0
    assert "boom in handler" in r.stderr
    assert r.exit_status == "exit 3"
    assert "missing" in r.reason


def test_exit_89_is_unimplemented_not_fail() -> None:
    (r,) = _run(UNIMPLEMENTED, ["server.pv.ok.1"])
    assert r.verdict is Verdict.UNIMPLEMENTED
    assert "89" in r.reason


def _toml(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "iut.toml"
    p.write_text(f"server = {json.dumps(CRASH_ARGV)}\n" + body, encoding="utf-8")
    return p


def test_exclude_and_expect_fail_from_the_description(tmp_path: Path) -> None:
    spec = load_spec(
        _toml(
            tmp_path,
            (
                '[exclude]\n"server.fs.ok.1" = "no listing yet"\n'
                '[expect_fail]\n"server.pv.ok.1" = "known crash"\n'
            ),
        )
    )
    runner = Runner.for_spec(spec, RunOptions())
    try:
        excluded = runner.run(get("server.fs.ok.1"))
        xfailed = runner.run(get("server.pv.ok.1"))
        client = runner.run(get("client.connect.1"))
    finally:
        runner.close()
    assert (excluded.verdict, excluded.reason) == (Verdict.EXCLUDED, "no listing yet")
    assert xfailed.verdict is Verdict.XFAIL and "known crash" in xfailed.reason
    assert client.verdict is Verdict.EXCLUDED and "'pull'" in client.reason


def test_an_unexpected_pass_of_expect_fail_is_a_failure(tmp_path: Path) -> None:
    ref = [
        sys.executable,
        "-m",
        "zrepl_conformance",
        "serve",
        "--stdio",
        "--identity",
        "{identity}",
        "--profile",
        "{profile}",
    ]
    p = tmp_path / "ref.toml"
    p.write_text(
        f'server = {json.dumps(ref)}\n[expect_fail]\n"server.pv.ok.1" = "thought broken"\n'
    )
    runner = Runner.for_spec(load_spec(p), RunOptions())
    try:
        r = runner.run(get("server.pv.ok.1"))
    finally:
        runner.close()
    assert r.verdict is Verdict.FAIL
    assert r.reason == "listed in expect_fail but did not fail"


@pytest.mark.parametrize("strict", [False, True])
def test_expect_fail_of_a_non_strict_case_counts_only_in_strict_mode(
    strict: bool, tmp_path: Path
) -> None:
    """A server that echoes the request's Id in *error* responses is NON-STRICT on
    server.pv.mismatch.1 (a SHOULD). Only under --strict is that a failure, which an
    expect_fail entry turns into XFAIL; without --strict the entry is an unexpected pass
    (FAIL)."""
    from tests.mutants import mutant_spec

    spec = load_spec(mutant_spec("error-echoes-request-id", tmp_path))
    options = RunOptions(strict=strict, expect_fail={"server.pv.mismatch.1": "ids echoed"})
    runner = Runner.for_spec(spec, options)
    try:
        r = runner.run(get("server.pv.mismatch.1"))
    finally:
        runner.close()
    assert r.verdict is (Verdict.XFAIL if strict else Verdict.FAIL)
    assert any("RequestId" in f.what for f in r.findings)
