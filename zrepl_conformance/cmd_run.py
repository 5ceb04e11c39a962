"""``zrepl-conformance run``: the conformance catalog against an implementation.

Without ``--iut`` / ``--server-cmd`` it runs against our own reference, started as
subprocesses exactly like any other implementation (``serve --stdio``). The run is a pytest
session driven by :mod:`conformance.pytest_plugin` in an empty temporary root (so no
project configuration or test files are picked up); ``-n`` uses pytest-xdist, ``--junit``
pytest's JUnit XML. Exit status: 0 when no case FAILs (with ``--strict``: and none is
NON-STRICT), 1 otherwise, 2 on a usage error (bad description, unknown case id), 3 when the
run itself broke, 5 when no case was selected, 6 when the implementation cannot be started at
all (checked once, before any case: a missing program, a failing ``check`` command), 130
(SIGINT) or 143 (SIGTERM) when interrupted: the cases already run are reported, the summary
says how many were not, the JSON and JUnit reports are marked ``interrupted``, and no process
or temporary file is left behind.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from .cli_errors import CANNOT_START_EXIT, UsageError

AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
JUNIT_NAME = "junit.xml"
NO_CASE = 5
"""Exit status when no case was selected (as pytest's 5): an empty run is not a green run."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the conformance catalog against an implementation")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--iut",
        metavar="FILE",
        action="append",
        help="implementation description (TOML); give several to compare them side by side",
    )
    which.add_argument("--server-cmd", metavar="CMD", help="shorthand: an IUT with only 'server'")
    which.add_argument(
        "--in-process",
        action="store_true",
        help="our reference in this process (tests the suite itself; fast)",
    )
    p.add_argument("--strict", action="store_true", help="NON-STRICT counts as failure")
    p.add_argument("-k", metavar="EXPR", help="pytest -k expression over ids, levels, sections")
    p.add_argument("--timeout", type=float, metavar="S", help="per-case timeout (default 10)")
    p.add_argument("-n", metavar="WORKERS", help="parallel workers (pytest-xdist; 'auto')")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    p.add_argument("--json", metavar="FILE", help="write the JSON report")
    p.add_argument("--html", metavar="FILE", help="write the self-contained HTML report")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    p.set_defaults(run=run)


def pytest_args(args: argparse.Namespace, root: Path, json_path: Path) -> list[str]:
    """The pytest command line for ``args`` (exposed for tests)."""
    ini = root / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    out = [
        "-c",
        str(ini),
        "--rootdir",
        str(root),
        "-p",
        "conformance.pytest_plugin",
        "-p",
        "no:terminal",
        "-p",
        "no:cacheprovider",
        "--zrepl-console",
        "--zrepl-json",
        str(json_path),
    ]
    if args.iut:
        out += ["--zrepl-iut", args.iut]
    elif args.server_cmd:
        out += ["--zrepl-server-cmd", args.server_cmd]
    elif args.in_process:
        out += ["--zrepl-in-process"]
    else:
        out += ["--zrepl-reference"]
    if args.strict:
        out.append("--zrepl-strict")
    if args.timeout is not None:
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        out += ["--zrepl-timeout", str(args.timeout)]
    if args.k:
        out += ["-k", args.k]
    if args.n and args.n not in ("0", "1"):
        if importlib.util.find_spec("xdist") is None:
            raise UsageError("-n needs pytest-xdist (pip install pytest-xdist)")
        out += ["-p", "xdist.plugin", "-n", args.n]
    if args.junit:  # written in ``root`` first: see :func:`_deliver`
        out += ["--junitxml", str(root / JUNIT_NAME), "-o", "junit_suite_name=zrepl-conformance"]
    if args.html:
        out += ["--zrepl-html", args.html]
    if args.verbose:
        out.append("--zrepl-verbose")
    out.append(str(root))
    return out


def _mark_interrupted(junit: Path, meta: dict[str, object]) -> None:
    """Say in the JUnit file that the run was interrupted and how many cases never ran."""
    import xml.etree.ElementTree as ET

    try:
        tree = ET.parse(junit)
    except (OSError, ET.ParseError):
        return
    suite = (
        tree.getroot() if tree.getroot().tag == "testsuite" else tree.getroot().find("testsuite")
    )
    if suite is None:
        return
    props = suite.find("properties")
    if props is None:
        props = ET.Element("properties")
        suite.insert(0, props)
    for name in ("interrupted", "not_run", "selected"):
        ET.SubElement(props, "property", name=name, value=str(meta.get(name)).lower())
    tree.write(junit, encoding="utf-8", xml_declaration=True)


def _deliver(reports: dict[str, tuple[Path, str | None]]) -> bool:
    """Copy the reports pytest wrote into the run's own directory to where the user asked.

    pytest's JUnit writer raises on an unwritable path, which would abort the session's other
    writers; writing into our own directory first cannot fail that way, and a copy that
    fails here is one line, after the summary. False when any report could not be delivered.
    """
    ok = True
    for kind, (written, wanted) in reports.items():
        if not wanted:
            continue
        try:
            shutil.copyfile(written, wanted)
        except OSError as exc:
            print(
                f"zrepl-conformance: cannot write the {kind} report {wanted}: {exc}",
                file=sys.stderr,
            )
            ok = False
    return ok


def run(args: argparse.Namespace) -> int:
    """One implementation (or our reference), or several side by side."""
    iuts: list[str] = args.iut or []
    if len(iuts) > 1:
        return _side_by_side(args, iuts)
    code, _results = _run_single(
        argparse.Namespace(**{**vars(args), "iut": iuts[0] if iuts else None})
    )
    return code


def _side_by_side(args: argparse.Namespace, iuts: list[str]) -> int:
    """The catalog against each implementation in turn, then one report for all of them."""
    from conformance.report import sidebyside

    if args.junit:
        raise UsageError("--junit takes one implementation; with several --iut use --json/--html")
    columns: list[sidebyside.Column] = []
    codes: list[int] = []
    for path in iuts:
        with tempfile.TemporaryDirectory(prefix="zrepl-conformance-sbs-") as tmp:
            single = argparse.Namespace(
                **{**vars(args), "iut": path, "json": str(Path(tmp) / "r.json"), "html": None}
            )
            code, results = _run_single(single)
            codes.append(code)
            if results is not None:
                columns.append(
                    sidebyside.Column(_column_name(path, columns), results, {"exit": code})
                )
        if code >= 128:  # interrupted: report what ran
            break
    print("\n" + sidebyside.console_table(columns))
    broke = False
    for kind, path, writer in (
        ("JSON", args.json, sidebyside.write_json),
        ("HTML", args.html, sidebyside.write_html),
    ):
        if not path:
            continue
        try:
            writer(path, columns)
        except (OSError, ValueError) as exc:
            print(
                f"zrepl-conformance: cannot write the {kind} report {path}: {exc}", file=sys.stderr
            )
            broke = True
    unusual = [c for c in codes if c not in (0, 1)]
    if unusual:
        return unusual[0]
    return 3 if broke else max(codes)


def _profile_hint(args: argparse.Namespace) -> str | None:
    """:meth:`iut.IUTSpec.profile_hint` for the implementation of this run, if any."""
    from iut import SpecError, load_spec, spec_from_server_cmd

    try:
        if args.iut:
            return load_spec(args.iut).profile_hint()
        if args.server_cmd:
            return spec_from_server_cmd(args.server_cmd).profile_hint()
    except SpecError:
        return None
    return None


def _column_name(path: str, columns: list[Any]) -> str:
    """The description's ``name`` (its path when that name is already taken or unreadable)."""
    from iut import SpecError, load_spec

    try:
        name = load_spec(path).name
    except SpecError:
        return path
    return path if any(c.name == name for c in columns) else name


def _run_single(args: argparse.Namespace) -> tuple[int, list[Any] | None]:
    """Exit status and results (``None`` when the run produced none) of one catalog run."""
    import pytest

    from conformance.model import Verdict
    from conformance.pytest_plugin import CANNOT_START
    from conformance.report import jsonreport

    root = Path(tempfile.mkdtemp(prefix="zrepl-conformance-run-"))
    # Only our plugin (and xdist for -n): whatever else is installed stays out of the run,
    # also in xdist's workers, which inherit the environment.
    saved = os.environ.get(AUTOLOAD)
    os.environ[AUTOLOAD] = "1"
    terminated: list[int] = []

    def on_sigterm(signum: int, _frame: object) -> None:
        # What CI time-outs send: stop like Ctrl-C, so every case's processes and sandboxes,
        # the fixture cache and this run's directory are removed and the reports say so.
        terminated.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        json_path = root / "report.json"
        code = pytest.main(pytest_args(args, root, json_path))
        if code == pytest.ExitCode.USAGE_ERROR:
            return 2, None
        if code == CANNOT_START:
            return CANNOT_START_EXIT, None
        if code == pytest.ExitCode.NO_TESTS_COLLECTED:
            what = f" by -k {args.k!r}" if args.k else ""
            print(f"zrepl-conformance run: no case selected{what}", file=sys.stderr)
            return NO_CASE, None
        if not json_path.exists():
            return 3, None
        results, meta = jsonreport.read(json_path)
        if meta.get("interrupted"):
            _mark_interrupted(root / JUNIT_NAME, meta)
        delivered = _deliver(
            {"JSON": (json_path, args.json), "JUnit": (root / JUNIT_NAME, args.junit)}
        )
        if not delivered:
            code = pytest.ExitCode.INTERNAL_ERROR
    finally:
        signal.signal(signal.SIGTERM, previous)
        if saved is None:
            del os.environ[AUTOLOAD]
        else:
            os.environ[AUTOLOAD] = saved
        shutil.rmtree(root, ignore_errors=True)
    if code == pytest.ExitCode.INTERRUPTED:
        return (128 + terminated[-1] if terminated else 128 + signal.SIGINT), results
    if code == pytest.ExitCode.INTERNAL_ERROR:
        return 3, results
    bad = {Verdict.FAIL, Verdict.NON_STRICT} if args.strict else {Verdict.FAIL}
    failed = any(r.verdict in bad for r in results)
    hint = _profile_hint(args) if failed else None
    if hint:
        print(hint, file=sys.stderr)
    return (1 if failed else 0), results
