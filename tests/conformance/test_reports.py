"""Every report writer takes whatever an implementation said, and a run never loses its reports.

Unit and property tests feed arbitrary text (lone surrogates, control characters, bytes that
are not UTF-8) through the console, HTML and JSON writers; a failing writer must not stop the
others; and the whole catalog is run through the CLI, as a user runs it, writing every format
against the reference and against a failing mutant.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.catalog import all_cases
from conformance.model import CaseResult, Finding, Verdict
from conformance.report import console, html, jsonreport, write_files
from conformance.report.text import printable
from tests.mutants import mutant_spec

ROOT = Path(__file__).resolve().parents[2]

# Text as an implementation can make us hold it: any code point, lone surrogates included,
# and any bytes decoded the way stderr is (surrogateescape).
wild_text = st.one_of(
    st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())),
    st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")),
)


def _result(text: str, verdict: Verdict = Verdict.FAIL) -> CaseResult:
    return CaseResult(
        case_id="json.decode.escapes.2",
        section="§json.decode.escapes",
        level="MUST",
        role="server",
        family="json",
        title=text,
        verdict=verdict,
        reason=text,
        findings=[Finding(level="MUST", what=text, expected=text, actual=text)],
        notes=[text],
        wire_log=text,
        wire_log_hex=text,
        stderr=text,
        exit_status=text,
    )


def test_printable_escapes_lone_surrogates_and_controls_but_keeps_lines() -> None:
    assert printable("a\ud800b") == "a\\ud800b"
    assert printable("\x1b[2J\r\x00") == "\\x1b[2J\\x0d\\x00"
    assert printable("line 1\n\tline 2 ſ €") == "line 1\n\tline 2 ſ €"
    assert printable("\x85\u2028") == "\\x85\\u2028"


@settings(max_examples=60, deadline=None)
@given(text=wild_text, verdict=st.sampled_from(list(Verdict)))
def test_every_writer_takes_any_text(text: str, verdict: Verdict) -> None:
    results = [_result(text, verdict)]
    meta = {"implementation": text, "strict": True, "duration": 1.0}
    out = io.StringIO()
    console.write_progress(out, results[0], 1, 1, verbose=True)
    console.write_summary(out, results, meta)
    failure = console.render_failure(results[0])
    for shown in (out.getvalue(), failure):
        shown.encode("utf-8")  # a terminal in UTF-8 can print it
        assert "\x1b" not in shown and "\r" not in shown
    page = html.render(results, meta)
    page.encode("utf-8")
    assert "\x00" not in page and "\x1b" not in page
    doc = json.dumps(jsonreport.document(results, meta))
    doc.encode("utf-8")
    assert json.loads(doc)["cases"][0]["stderr"] == text  # JSON keeps the text exactly


def test_written_files_round_trip(tmp_path: Path) -> None:
    results = [_result("bad \ud800 \x00 \udcff")]
    errors = write_files(
        {"JSON": tmp_path / "r.json", "HTML": tmp_path / "r.html"}, results, {"strict": False}
    )
    assert errors == []
    back, _meta = jsonreport.read(tmp_path / "r.json")
    assert back[0].stderr == results[0].stderr
    assert "bad \\ud800 \\x00 \\udcff" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_a_failing_writer_does_not_stop_the_others(tmp_path: Path) -> None:
    results = [_result("x", Verdict.PASS)]
    missing_dir = tmp_path / "no-such-dir" / "r.html"
    errors = write_files({"HTML": missing_dir, "JSON": tmp_path / "r.json"}, results, {})
    assert len(errors) == 1 and errors[0].startswith(f"cannot write the HTML report {missing_dir}")
    assert "\n" not in errors[0]
    assert (tmp_path / "r.json").exists()


def _cli_run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "run", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _assert_whole_catalog_reports(directory: Path, proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-2000:]
    ids = [c.id for c in all_cases()]
    doc = json.loads((directory / "r.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in doc["cases"]] == ids
    suite = ET.parse(directory / "r.xml").getroot()
    assert len(suite.findall(".//testcase")) == len(ids)
    page = (directory / "r.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>")
    assert all(f'id="{i}"' in page for i in ids)
    assert f"{len(ids)} cases in" in proc.stdout


def _report_args(directory: Path) -> list[str]:
    return [
        "--html",
        str(directory / "r.html"),
        "--json",
        str(directory / "r.json"),
        "--junit",
        str(directory / "r.xml"),
    ]


def test_the_whole_catalog_writes_every_report_against_the_reference(tmp_path: Path) -> None:
    proc = _cli_run("--in-process", *_report_args(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    _assert_whole_catalog_reports(tmp_path, proc)


def test_the_whole_catalog_writes_every_report_against_a_failing_mutant(tmp_path: Path) -> None:
    spec = mutant_spec("header-error-id-3", tmp_path)
    proc = _cli_run("--iut", str(spec), "-n", "2", *_report_args(tmp_path))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    _assert_whole_catalog_reports(tmp_path, proc)
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["counts"]["FAIL"] > 0


def test_an_unwritable_report_is_one_line_after_the_summary_and_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "missing" / "r.html"
    proc = _cli_run(
        "--in-process",
        "-k",
        "server.pv.ok",
        "--html",
        str(bad),
        "--json",
        str(tmp_path / "r.json"),
        "--junit",
        str(tmp_path / "missing" / "r.xml"),
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "cases in" in proc.stdout  # the summary is still printed
    lines = proc.stderr.strip().splitlines()
    assert any(
        ln.startswith(f"zrepl-conformance: cannot write the HTML report {bad}") for ln in lines
    )
    assert any("cannot write the JUnit report" in ln for ln in lines)
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["cases"]
