"""The catalog as pytest items: ``pytest --zrepl-iut FILE`` (entry point ``pytest11``).

Without one of the ``--zrepl-*`` target options this plugin does nothing at all, so a
project's own test run is unaffected by having it installed. With one, every catalog case
becomes an item (node id ``conformance/<family>::<case id>``; ``-k`` also matches the level,
role and section), run by :class:`conformance.runner.Runner` in whichever process pytest (or
pytest-xdist's ``-n``) runs it. Verdicts map to outcomes: PASS / INFO / NON-STRICT pass
(NON-STRICT fails under ``--zrepl-strict``), FAIL fails, XFAIL is xfailed, UNIMPLEMENTED and
EXCLUDED are skipped. Each item's full result travels to the controlling process as a user
property, where the JSON and HTML reports and the per-section summary are produced.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from iut import (
    IUTError,
    IUTSpec,
    SpecError,
    load_spec,
    preflight,
    reference_spec,
    spec_from_server_cmd,
)

from .catalog import all_cases
from .model import Case, CaseResult, Verdict
from .report import console, write_files
from .runner import Runner, RunOptions

RESULT_PROPERTY = "zrepl-conformance-result"
CANNOT_START = 6
"""Exit status when the implementation cannot be started at all (before any case): above
pytest's own 0-5, and the same as every ``zrepl-conformance`` command's for this."""
_RUNNER = pytest.StashKey[Runner]()
_SINK = pytest.StashKey["ResultSink"]()
_TARGET_OPTIONS = ("zrepl_iut", "zrepl_server_cmd", "zrepl_reference", "zrepl_in_process")


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("zrepl-conformance", "ByteStreamRPC v1 conformance catalog")
    g.addoption("--zrepl-iut", metavar="FILE", help="run the catalog against this IUT TOML")
    g.addoption("--zrepl-server-cmd", metavar="CMD", help="shorthand: an IUT with only 'server'")
    g.addoption(
        "--zrepl-reference",
        action="store_true",
        help="run the catalog against our reference as subprocesses",
    )
    g.addoption(
        "--zrepl-in-process",
        action="store_true",
        help="run the catalog against our reference in this process (fast)",
    )
    g.addoption("--zrepl-strict", action="store_true", help="NON-STRICT counts as failure")
    g.addoption("--zrepl-timeout", type=float, metavar="S", help="per-case timeout in seconds")
    g.addoption("--zrepl-json", metavar="FILE", help="write the JSON report here")
    g.addoption("--zrepl-html", metavar="FILE", help="write the HTML report here")
    g.addoption(
        "--zrepl-console",
        action="store_true",
        help="print the suite's own progress and summary (used by zrepl-conformance run)",
    )
    g.addoption(
        "--zrepl-verbose", action="store_true", help="with --zrepl-console: a line per case"
    )


def active(config: pytest.Config) -> bool:
    return any(config.getoption(o, None) for o in _TARGET_OPTIONS)


def spec_from_options(config: pytest.Config) -> IUTSpec | None:
    """The IUT description the options name; ``None`` means in-process reference."""
    chosen = [o for o in _TARGET_OPTIONS if config.getoption(o, None)]
    if len(chosen) > 1:
        raise pytest.UsageError(
            "give only one of --zrepl-iut, --zrepl-server-cmd, "
            "--zrepl-reference, --zrepl-in-process"
        )
    try:
        if config.getoption("zrepl_iut"):
            return load_spec(config.getoption("zrepl_iut"))
        if config.getoption("zrepl_server_cmd"):
            return spec_from_server_cmd(config.getoption("zrepl_server_cmd"))
    except SpecError as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("zrepl_reference"):
        return reference_spec()
    return None


def check_case_ids(spec: IUTSpec | None) -> None:
    """Every id in ``exclude`` / ``expect_fail`` must be a catalog case (no silent typos)."""
    if spec is None:
        return
    known = {c.id for c in all_cases()}
    for table in ("exclude", "expect_fail"):
        for case_id in getattr(spec, table):
            if case_id not in known:
                raise pytest.UsageError(
                    f"{spec.origin}: '{table}' names {case_id!r}, "
                    "which is not a case of the catalog"
                )


def pytest_configure(config: pytest.Config) -> None:
    if not active(config):
        return
    spec = spec_from_options(config)
    check_case_ids(spec)
    if spec is not None and not hasattr(config, "workerinput"):
        try:
            preflight(spec)
        except IUTError as exc:
            pytest.exit(f"zrepl-conformance: the implementation cannot start: {exc}", CANNOT_START)
    config.stash[_SINK] = ResultSink(config, spec)
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(config.stash[_SINK], "zrepl-conformance-sink")


def pytest_unconfigure(config: pytest.Config) -> None:
    runner = config.stash.get(_RUNNER, None)
    if runner is not None:
        runner.close()
        del config.stash[_RUNNER]


def _runner(config: pytest.Config) -> Runner:
    runner = config.stash.get(_RUNNER, None)
    if runner is None:
        spec = config.stash[_SINK].spec
        options = RunOptions(
            timeout=config.getoption("zrepl_timeout"),
            strict=bool(config.getoption("zrepl_strict")),
        )
        runner = Runner.for_spec(spec, options)
        config.stash[_RUNNER] = runner
    return runner


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect: they must see our items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not active(config):
        return
    for case in all_cases():
        items.append(
            CaseItem.from_parent(
                session, name=case.id, nodeid=f"conformance/{case.family}::{case.id}", case=case
            )
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """Tell a case which case runs next in this process (its process can start early)."""
    if isinstance(item, CaseItem):
        item.next_case = nextitem.case if isinstance(nextitem, CaseItem) else None
    yield


class CaseFailed(Exception):
    """Raised by a failing item; carries the result for :meth:`CaseItem.repr_failure`."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.reason)
        self.result = result


class CaseItem(pytest.Item):
    """One catalog case as a pytest item."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.extra_keyword_matches.update(
            {str(case.level), str(case.role), case.section, case.family}
        )

    next_case: Case | None = None

    def runtest(self) -> None:
        result = _runner(self.config).run(self.case, self.next_case)
        self.user_properties.append(("verdict", str(result.verdict)))
        self.user_properties.append(("level", str(self.case.level)))
        self.user_properties.append(("section", self.case.section))
        self.user_properties.append((RESULT_PROPERTY, json.dumps(result.to_dict())))
        strict = bool(self.config.getoption("zrepl_strict"))
        v = result.verdict
        if v is Verdict.FAIL or (strict and v is Verdict.NON_STRICT):
            raise CaseFailed(result)
        if v is Verdict.XFAIL:
            pytest.xfail(result.reason)
        if v in (Verdict.UNIMPLEMENTED, Verdict.EXCLUDED):
            pytest.skip(f"{v}: {result.reason}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return console.render_failure(excinfo.value.result)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.case.id} [{self.case.level}] {self.case.section}"


class ResultSink:
    """Collects results in the controlling process and writes the reports at the end."""

    def __init__(self, config: pytest.Config, spec: IUTSpec | None) -> None:
        self.config = config
        self.spec = spec
        self.results: dict[str, CaseResult] = {}
        self.started = time.monotonic()
        self.total = 0
        self.console = bool(config.getoption("zrepl_console"))
        self.report_errors: list[str] = []
        self.interrupted = False
        """The session was interrupted (SIGINT, or SIGTERM under ``zrepl-conformance run``)."""

    @property
    def implementation(self) -> str:
        if self.spec is None:
            return "reference (in-process)"
        return f"{self.spec.name} ({self.spec.origin})"

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.total = sum(isinstance(i, CaseItem) for i in session.items)
        if self.console:
            console.write_header(sys.stdout, self.implementation, self.total)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.total = max(self.total, len(ids))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = report.user_properties
        for i, (name, value) in enumerate(props):
            if name != RESULT_PROPERTY:
                continue
            del props[i]  # every phase's report carries it: keep the JUnit file lean
            if report.when == "call":
                result = CaseResult.from_dict(json.loads(str(value)))
                self.results[result.case_id] = result
                if self.console:
                    console.write_progress(
                        sys.stdout,
                        result,
                        len(self.results),
                        self.total,
                        verbose=bool(self.config.getoption("zrepl_verbose")),
                    )
            break

    def ordered(self) -> list[CaseResult]:
        order = {c.id: i for i, c in enumerate(all_cases())}
        return sorted(self.results.values(), key=lambda r: order.get(r.case_id, 1 << 30))

    def meta(self) -> dict[str, Any]:
        return {
            "implementation": self.implementation,
            "strict": bool(self.config.getoption("zrepl_strict")),
            "timeout": self.config.getoption("zrepl_timeout"),
            "duration": round(time.monotonic() - self.started, 3),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "selected": self.total,
            "interrupted": self.interrupted,
            "not_run": max(0, self.total - len(self.results)),
        }

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
        results, meta, option = self.ordered(), self.meta(), self.config.getoption
        paths = {"JSON": option("zrepl_json"), "HTML": option("zrepl_html")}
        self.report_errors = write_files(paths, results, meta)
        if self.console:
            console.write_summary(sys.stdout, results, meta)
        for line in self.report_errors:
            print(f"zrepl-conformance: {line}", file=sys.stderr)
        if self.report_errors:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    @pytest.hookimpl(hookwrapper=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None]:
        yield
        if not self.console and self.results:
            terminalreporter.write_sep("=", "zrepl-conformance summary")
            terminalreporter.write(console.section_table(self.ordered()))
