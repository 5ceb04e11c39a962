"""``zrepl-conformance fuzz`` in the client role: planted bugs are found and replay confirms them.

Mirrors tests/fuzz/test_differential.py (the server role). Against our reference client the
client-role search must find nothing within its whole default budget (60 server scripts);
against client-side mutants (tests/mutants: the reference with one defect in its pull/push
job) it must report a disagreement within the same default budget, save a reproducer, and
``replay`` of that reproducer must fail against the mutant and pass against the reference.
The mutants are chosen to need each part of the comparison: the requests of a pull and of a
push, the exit status, the datasets left behind, and generated server faults (an error
answer, a damaged send stream, a refused push).

CI time: shrinking gets 3 s instead of the default 20 s (what is checked is that a finding is
found, saved and confirmed); the search budget is the default. About 45 s of CPU in all.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from iut import FixtureCache, load_spec, reference_spec
from recordings.compare import ComparisonLevel
from recordings.format import read_transcript
from recordings.replay import recorded_job, replay_client
from tests.mutants import write_specs

REPO = Path(__file__).resolve().parents[2]
MUTANTS = {
    "client-ignores-error-header": "pull",  # a generated error answer; the requests differ
    "client-no-ok-to-finished": "push",  # the pusher's answers differ
    "client-force-receive": "pull",  # only the exit status and the datasets differ
    "client-skip-readonly": "pull",  # only a dataset property differs
}


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mutants' IUT descriptions (their env puts this checkout on PYTHONPATH)."""
    directory = tmp_path_factory.mktemp("mutant-specs")
    write_specs(directory)
    return directory


def _fuzz(*args: str, findings: Path, confirm: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # --client-cmd mutants import tests.mutants
    extra = [] if confirm else ["--no-confirm"]
    return subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "fuzz", "--findings", str(findings),
         *extra, *args],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False, env=env,
    )  # fmt: skip


def _reproducer(directory: Path) -> Path:
    saved = sorted(directory.glob("finding-*.jsonl"))
    return next(p for p in saved if not p.name.endswith(".actual.jsonl"))


def test_client_role_finds_nothing_against_the_reference_within_the_default_budget(
    tmp_path: Path,
) -> None:
    res = _fuzz("--role", "client", "--seed", "11", findings=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no disagreement in" in res.stdout and "server scripts" in res.stdout
    assert not list(tmp_path.glob("*.jsonl"))


@pytest.mark.parametrize(
    ("mutant", "section"),
    [
        # leaves a refused stream unread and fails the job out of step
        ("client-no-drain", "§deviations.pull-job"),
        # reports a push as a success although the puller refused or hung up
        ("client-push-ignores-failure", "§deviations.pullme-result"),
    ],
)
def test_the_originals_unsafe_quirks_are_known_deviations_not_findings(
    specs: Path, tmp_path: Path, mutant: str, section: str
) -> None:
    # What the original did (unsafe rows of §deviations): listed and counted, exit 0,
    # nothing saved.
    res = _fuzz("--iut", str(specs / f"{mutant}.toml"), "--role", "client", "--seed", "7",
                findings=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no unexplained disagreement in" in res.stdout
    listed = res.stdout.split("known deviations met: ", 1)[1]
    assert f"{section}:" in listed and "unsafe (a SHOULD under --strict)" in listed
    assert not list(tmp_path.glob("*.jsonl"))


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_client_role_finds_the_planted_bug_and_replay_confirms_it(
    mutant: str, specs: Path, tmp_path: Path
) -> None:
    spec_file = specs / f"{mutant}.toml"
    res = _fuzz("--iut", str(spec_file), "--role", "client", "--seed", "7", "--shrink-time", "3",
                findings=tmp_path)  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    job = MUTANTS[mutant]
    assert f"FINDING ({job} job):" in res.stdout, res.stdout
    assert "[implementation" not in res.stdout, "the mutant died instead of misbehaving"
    assert f"--role {job} --level semantic" in res.stdout
    reproducer = _reproducer(tmp_path)
    transcript = read_transcript(reproducer)
    assert transcript.header.what == "fuzz-client" and recorded_job(transcript) == job
    assert transcript.events()[-1].event == "outcome"

    with FixtureCache() as cache:
        against_mutant = replay_client(
            transcript,
            load_spec(spec_file),
            cache,
            role=job,
            level=ComparisonLevel.SEMANTIC,
            timeout=5,
        )
        against_reference = replay_client(
            transcript, reference_spec(), cache, role=job, level=ComparisonLevel.SEMANTIC, timeout=5
        )
    assert against_mutant.outcome == "mismatch", against_mutant.summary()
    assert against_reference.ok, against_reference.summary()


def test_client_cmd_finding_is_confirmed_by_the_printed_replay_command(tmp_path: Path) -> None:
    # --client-cmd, like replay's: one job command reaching the server through {connect}.
    cmd = (
        f"{shlex.quote(sys.executable)} -m tests.mutants client-no-close pull "
        "--profile {profile} -- {connect}"
    )
    res = _fuzz("--client-cmd", cmd, "--seed", "3", "--shrink-time", "1", findings=tmp_path,
                confirm=True)  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FINDING (pull job)" in res.stdout and "replay: confirmed" in res.stdout, res.stdout
    line = next(ln for ln in res.stdout.splitlines() if ln.strip().startswith("reproduce:"))
    argv = shlex.split(line.split("reproduce:", 1)[1])
    assert argv[:2] == ["zrepl-conformance", "replay"] and "--client-cmd" in argv
    replayed = subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", *argv[1:]], cwd=REPO, capture_output=True,
        text=True, timeout=60, check=False, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "mismatch at record" in replayed.stdout


_STALLING_CLIENT = (
    "import struct, sys, time\n"
    "frame = lambda p: struct.pack('<I', len(p)) + p + bytes(4)\n"
    'header = b\'{"Type":1,"Id":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}\\n\'\n'
    "sys.stdout.buffer.write(frame(header) + frame(b'{\"ClientVersion\":1}\\n'))\n"
    "sys.stdout.flush()\n"
    "time.sleep(60)\n"
)


def test_a_client_that_stalls_is_a_hang_and_is_killed(tmp_path: Path) -> None:
    # Its own stdio is the connection (no {connect}): ProtocolVersion, then nothing.
    cmd = shlex.join([sys.executable, "-c", _STALLING_CLIENT])
    res = _fuzz("--client-cmd", cmd, "--timeout", "0.5", "--seed", "1", "--shrink-time", "0",
                findings=tmp_path, confirm=True)  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FINDING (pull job): hang at client record 3" in res.stdout, res.stdout
    assert "replay: confirmed" in res.stdout, res.stdout
    assert "Traceback" not in res.stderr


def test_a_client_that_never_connects_is_reported(tmp_path: Path) -> None:
    res = _fuzz("--client-cmd", "true {connect}", "--seed", "1", "--shrink-time", "0",
                findings=tmp_path, confirm=True)  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert "the client never connected" in res.stdout
    assert "exit 0" in res.stdout  # what it did instead
    assert "replay: confirmed" in res.stdout, res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--client-cmd", "x {connect}", "--role", "server"], "--client-cmd has no server role"),
        (["--server-cmd", "x", "--role", "client"], "has no pull or push command to fuzz"),
        (["--server-cmd", "x", "--role", "push"], "has no push command to fuzz as a client"),
        (["--client-cmd", ""], "--client-cmd: empty command"),
        (["--client-cmd", "x {bogus}"], "unknown placeholder {bogus}"),
        (["--fixture", "/nonexistent.toml"], "--fixture /nonexistent.toml: no such file"),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], message: str, tmp_path: Path) -> None:
    res = _fuzz(*args, "--examples", "1", findings=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr
    assert res.stderr.strip().count("\n") == 0, res.stderr


def test_a_client_that_cannot_start_is_exit_6(tmp_path: Path) -> None:
    res = _fuzz("--client-cmd", "/nonexistent/client {connect}", "--examples", "1",
                findings=tmp_path)  # fmt: skip
    assert res.returncode == 6, res.stdout + res.stderr
    assert "the implementation cannot start" in res.stderr
    assert res.stderr.strip().count("\n") == 0, res.stderr
