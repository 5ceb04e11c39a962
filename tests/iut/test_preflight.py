"""An implementation that cannot start is one error before any case (:mod:`iut.preflight`),
and a description file can name its own directory (``{here}``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from iut import IUTError, SpecError, load_spec, preflight, spec_from_server_cmd

ROOT = Path(__file__).resolve().parents[2]
ORIGINAL = ROOT / "iut" / "profiles" / "zrepl-original" / "zrepl-original.toml"


def test_here_is_the_description_files_directory(tmp_path: Path) -> None:
    d = tmp_path / "a dir"
    d.mkdir()
    (d / "impl.toml").write_text(
        'server = "{here}/serve --identity {identity}"\n'
        'pull = ["{here}/pull", "--", "{connect}"]\n'
        'check = ["{here}/check"]\n[env]\nHOME_OF_IMPL = "{here}"\n',
        encoding="utf-8",
    )
    spec = load_spec(d / "impl.toml")
    assert spec.server == (f"{d}/serve", "--identity", "{identity}")  # quoted, then split
    assert spec.pull == (f"{d}/pull", "--", "{connect}")
    assert spec.check == (f"{d}/check",)
    assert spec.env["HOME_OF_IMPL"] == str(d)


def test_here_is_unknown_outside_a_file_and_check_takes_no_placeholders(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="unknown placeholder"):
        spec_from_server_cmd("{here}/serve")
    (tmp_path / "x.toml").write_text('server = "s"\ncheck = "c {identity}"\n', encoding="utf-8")
    with pytest.raises(SpecError, match="key 'check': no placeholders"):
        load_spec(tmp_path / "x.toml")


@pytest.mark.parametrize(
    ("program", "fragment"),
    [
        ("no-such-program-zrepl", "no-such-program-zrepl: not found on PATH"),
        ("/nonexistent/zrepl", "/nonexistent/zrepl: no such file"),
        ("{identity}", "is a placeholder, not a program"),
    ],
)
def test_a_program_that_cannot_run_is_one_line(program: str, fragment: str) -> None:
    with pytest.raises(IUTError, match="'server'") as err:
        preflight(spec_from_server_cmd(program if program != "{identity}" else "{identity} x"))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_a_file_that_is_not_executable(tmp_path: Path) -> None:
    f = tmp_path / "impl"
    f.write_text("#!/bin/sh\n", encoding="utf-8")
    with pytest.raises(IUTError, match="not executable"):
        preflight(spec_from_server_cmd(str(f)))


def test_a_failing_check_names_its_last_line(tmp_path: Path) -> None:
    (tmp_path / "impl.toml").write_text(
        f'server = "{sys.executable}"\n'
        f'check = ["{sys.executable}", "-c", "import sys; sys.exit(\'my-port: no binary\')"]\n',
        encoding="utf-8",
    )
    with pytest.raises(IUTError, match="'check' failed: my-port: no binary"):
        preflight(load_spec(tmp_path / "impl.toml"))


def test_the_original_profile_without_its_binary_stops_the_run_before_any_case() -> None:
    env = {**os.environ, "ZREPL_ORIGINAL_BIN": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "run", "--iut", str(ORIGINAL)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 6
    assert "Traceback" not in proc.stderr and "cases in" not in proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "ZREPL_ORIGINAL_BIN is not set" in lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["golden", "check"],
        ["replay", str(ROOT / "recordings" / "golden" / "pv-ok.jsonl")],
        ["fuzz", "--role", "server", "--time", "5"],
    ],
)
def test_a_missing_server_program_is_one_line_and_exit_6_in_every_command(
    command: list[str], tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", *command, "--server-cmd", "no-such-zrepl x"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 6, proc.stdout[-1000:] + proc.stderr[-1000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no-such-zrepl: not found on PATH" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "FAIL" not in proc.stdout
    assert list(tmp_path.iterdir()) == []
