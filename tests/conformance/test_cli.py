"""``zrepl-conformance run`` end to end, its reports, and the pytest plugin.

Each test runs the command (or pytest) as a real subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.catalog import all_cases
from conformance.runner import shm_prefix

ROOT = Path(__file__).resolve().parents[2]
CRASH = [
    sys.executable,
    "-c",
    "import sys; sys.stderr.write('Traceback: boom in handler\\n'); sys.exit(3)",
]


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "run", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_run_against_the_reference_passes_and_writes_every_report(tmp_path: Path) -> None:
    j, h, x = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "r.xml"
    res = _run(
        "-k", "server.pv or transfer.init.1", "--json", str(j), "--html", str(h), "--junit", str(x)
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "per section" not in res.stdout  # the console table has its own header
    assert "§server.pv.ok" in res.stdout and "total" in res.stdout
    doc = json.loads(j.read_text())
    assert doc["counts"]["FAIL"] == 0 and doc["counts"]["PASS"] == len(doc["cases"]) >= 10
    ids = [c["id"] for c in doc["cases"]]
    assert "transfer.init.1" in ids and all(i.startswith(("server.pv", "transfer")) for i in ids)
    page = h.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script src" not in page
    assert page.count('class="case"') == len(ids)
    # the wire log of both directions, in the recordings' transcript format, and in hex
    assert "&quot;dir&quot;:&quot;c2s&quot;" in page and "&quot;dir&quot;:&quot;s2c&quot;" in page
    assert "&quot;kind&quot;:&quot;data&quot;" in page  # the send stream, summarised
    assert "zrepl-conformance-transcript" in page and "iut&gt;suite #1: " in page
    suite = ET.parse(x).getroot()
    cases = suite.findall(".//testcase")
    assert len(cases) == len(ids)
    assert {c.get("classname") for c in cases} == {"conformance.server", "conformance.transfer"}


def test_run_reports_failures_with_expected_and_actual_and_stderr(tmp_path: Path) -> None:
    j, x = tmp_path / "r.json", tmp_path / "r.xml"
    res = _run(
        "--server-cmd",
        " ".join(json.dumps(a) for a in CRASH),
        "-k",
        "server.pv.ok.1 or server.unknown-type.1",
        "--json",
        str(j),
        "--junit",
        str(x),
    )
    assert res.returncode == 1, res.stdout + res.stderr
    out = res.stdout
    assert "FAILURES" in out
    assert "FAIL server.pv.ok.1 [MUST] §server.pv.ok" in out
    assert "expected: OK(0x01)" in out and "actual:" in out
    assert "boom in handler" in out and "exit 3" in out
    doc = json.loads(j.read_text())
    assert doc["counts"]["FAIL"] == 2
    failures = ET.parse(x).getroot().findall(".//failure")
    assert len(failures) == 2 and "boom in handler" in (failures[0].text or "")


def test_strict_makes_non_strict_a_failure(tmp_path: Path) -> None:
    from tests.mutants import mutant_spec

    spec = mutant_spec("error-echoes-request-id", tmp_path)
    lenient = _run("--iut", str(spec), "-k", "server.pv.mismatch.1")
    strict = _run("--iut", str(spec), "-k", "server.pv.mismatch.1", "--strict")
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "NON-STRICT" in lenient.stdout
    assert strict.returncode == 1
    assert "RequestId" in strict.stdout


def test_parallel_workers_give_the_same_results(tmp_path: Path) -> None:
    j = tmp_path / "r.json"
    res = _run("-n", "2", "-k", "server.unknown-type or frame.truncation", "--json", str(j), "-v")
    assert res.returncode == 0, res.stdout + res.stderr
    from conformance.catalog import all_cases

    doc = json.loads(j.read_text())
    want = {
        c.id
        for c in all_cases()
        if any(w in c.id or w in c.section for w in ("server.unknown-type", "frame.truncation"))
    }
    assert {c["id"] for c in doc["cases"]} == want and len(want) >= 20
    assert doc["counts"]["PASS"] == len(want)
    progress = [ln for ln in res.stdout.splitlines() if ln.startswith("[")]
    assert len(progress) == len(want) and all(" PASS " in ln for ln in progress)
    assert "Benchmark" not in res.stderr  # no unrelated plugins in the run


def test_unknown_case_ids_in_a_description_are_a_usage_error(tmp_path: Path) -> None:
    p = tmp_path / "iut.toml"
    p.write_text('server = "true"\n[exclude]\n"server.nope.9" = "typo"\n')
    res = _run("--iut", str(p))
    assert res.returncode == 2
    assert "server.nope.9" in res.stderr + res.stdout


def _pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "conformance.pytest_plugin",
            "-c",
            os.devnull,
            "--rootdir",
            str(cwd),
            *args,
            str(cwd),
        ],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_the_plugin_does_nothing_without_its_options(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    assert 1 + 1 == 2\n")
    res = _pytest(["-q"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 passed" in res.stdout
    assert "zrepl-conformance" not in res.stdout


@pytest.mark.parametrize("option", ["--zrepl-in-process", "--zrepl-reference"])
def test_the_plugin_runs_the_catalog_inside_pytest(tmp_path: Path, option: str) -> None:
    res = _pytest([option, "-q", "-k", "server.pv.mismatch or MUST and server.close"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    expected = sum(
        "server.pv.mismatch" in c.id or (str(c.level) == "MUST" and "server.close" in c.id)
        for c in all_cases()
    )
    assert expected >= 9 and f"{expected} passed" in res.stdout
    assert "zrepl-conformance summary" in res.stdout and "§server.pv.mismatch" in res.stdout


def test_no_case_selected_is_exit_5_not_a_green_run() -> None:
    proc = _run("--in-process", "-k", "zzzz-no-such-case")
    assert proc.returncode == 5
    assert "no case selected by -k 'zzzz-no-such-case'" in proc.stderr
    assert "Traceback" not in proc.stderr


def _own_processes(marker: str) -> list[str]:
    """Command lines of live processes that mention ``marker`` (our private temp dir)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in text:
            found.append(text)
    return found


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_run_says_so_marks_its_reports_and_leaves_nothing(
    tmp_path: Path, sig: int, code: int
) -> None:
    private = tmp_path / "tmp"
    private.mkdir()
    j, x = tmp_path / "r.json", tmp_path / "r.xml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "zrepl_conformance", "run", "--json", str(j), "--junit", str(x)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**_env(), "TMPDIR": str(private)}, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    progress = ""
    while progress.count(".") + progress.count("i") < 5:  # a few cases done
        ch = proc.stdout.read(1)
        assert ch, "the run ended before it could be interrupted"
        progress += ch
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, (out[-2000:], err[-2000:])
    assert "Traceback" not in err
    total = len(all_cases())
    assert re.search(rf"interrupted: \d+ of {total} cases not run", out), out[-500:]
    doc = json.loads(j.read_text(encoding="utf-8"))
    assert doc["interrupted"] is True and doc["not_run"] == total - len(doc["cases"]) > 0
    assert 'name="interrupted" value="true"' in x.read_text(encoding="utf-8")
    assert list(private.iterdir()) == [], "temporary files left behind"
    if os.path.isdir("/dev/shm"):  # shared by every run on the machine: only the run's own
        own = [n for n in os.listdir("/dev/shm") if n.startswith(shm_prefix(proc.pid))]
        assert own == [], "shared-memory files left behind"
    time.sleep(0.5)
    assert _own_processes(str(private)) == [], "processes left behind"


def test_several_implementations_side_by_side(tmp_path: Path) -> None:
    from tests.mutants import mutant_spec

    ref = tmp_path / "ref.toml"
    ref.write_text(
        'name = "our-reference"\nserver = ["zrepl-conformance", "serve", "--stdio", '
        '"--identity", "{identity}", "--profile", "{profile}"]\n',
        encoding="utf-8",
    )
    mutant = mutant_spec("json-no-drain", tmp_path)
    j, h = tmp_path / "sbs.json", tmp_path / "sbs.html"
    env = {**_env(), "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    proc = subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "run", "--iut", str(ref), "--iut",
         str(mutant), "-k", "frame.drain", "--json", str(j), "--html", str(h)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    table = proc.stdout.split("side by side:", 1)[1]
    assert re.search(r"frame\.drain\.1\s+PASS\s+FAIL \*", table), table
    doc = json.loads(j.read_text(encoding="utf-8"))
    names = [i["name"] for i in doc["implementations"]]
    assert names == ["our-reference", "mutant-json-no-drain"]
    row = next(c for c in doc["cases"] if c["id"] == "frame.drain.1")
    assert row["verdicts"] == {"our-reference": "PASS", "mutant-json-no-drain": "FAIL"}
    assert row["differs"] is True
    assert not any(c["differs"] for c in doc["cases"] if c["id"] == "frame.drain.3")
    page = h.read_text(encoding="utf-8")
    assert "our-reference" in page and '<tr class="differs"><td><code>frame.drain.1' in page


def test_side_by_side_refuses_junit(tmp_path: Path) -> None:
    proc = _run("--iut", "a.toml", "--iut", "b.toml", "--junit", str(tmp_path / "x.xml"))
    assert proc.returncode == 2 and "--junit takes one implementation" in proc.stderr
