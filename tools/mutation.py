"""Mutation testing of the conformance catalog with Cosmic Ray (``tox -e mutation``).

    python tools/mutation.py prepare [--force]            # snapshot HEAD, init every session
    python tools/mutation.py run --module M [--minutes N]  # run (part of) one module's mutants
    python tools/mutation.py recheck --module M            # survivors vs the newest cases
    python tools/mutation.py report [--markdown]           # score per module, survivors
    python tools/mutation.py export                        # results into tools/mutation_results

Cosmic Ray writes one mutant at a time into a file of a *copy* of the repository
(``WORK/trees/<module>``, one per module so that two modules can run at once, one per
core; exported from ``git HEAD`` by ``prepare``; never this checkout, where others work)
and runs the killing test there: ``tools/mutation_test.py`` of a second, untouched export
(``WORK/pristine``), i.e. the conformance catalog against the reference of that copy.
``WORK`` is ``$ZREPL_MUTATION_DIR`` or ``.tox/mutation-work``.

Only the cases that reach the mutant: ``prepare`` records, from runs of the whole catalog
against the unmutated export, which cases execute each line of the mutated modules
(``WORK/coverage.json``, :data:`MAP_RUNS` runs merged, see ``tools/mutation_trace.py``); the
killing test runs only those cases, every case for a line run at import, and none for a
mutant that changes only annotations (never evaluated). A case that does not execute the
mutated statement runs as on the unmutated reference, so the verdict is the whole catalog's.

Resumable: each module's session is Cosmic Ray's own SQLite database
(``WORK/<module>.sqlite``); ``run`` executes only the mutants without a result, so a run
stopped by ``--minutes``, Ctrl-C or a lost session continues where it stopped. Every part
appends its wall time and the number of results it added to ``WORK/timing.jsonl``, from
which ``report`` computes mutants per minute.

Across machines: ``WORK`` lives on the machine, which a later session may not have. ``export``
writes every result and the timing of each module to ``tools/mutation_results/<module>.json``
(committed), keyed by the module's fingerprint (:func:`_sha256`); ``prepare`` fills a new
session with the recorded results of every module whose fingerprint is unchanged, so the
next session runs only what is left.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
MODULES: Final = {
    "framing": "bytestreamrpc/framing.py",
    "connection": "bytestreamrpc/connection.py",
    "gojson.descriptors": "bytestreamrpc/gojson/descriptors.py",
    "gojson.encoder": "bytestreamrpc/gojson/encoder.py",
    "gojson.scanner": "bytestreamrpc/gojson/scanner.py",
    "gojson.decoder": "bytestreamrpc/gojson/decoder.py",
    "serving": "bytestreamrpc/serving.py",
    "server": "bytestreamrpc/server.py",
    "reference": "fakes/reference.py",
}
"""The reference's protocol core and server path (issue 12), by short name."""
TEST_TIMEOUT: Final = 240.0
"""Seconds one run of the killing test may take (a survivor needs about 40 s); a mutant
that makes it hang longer is killed by timeout, as Cosmic Ray counts it."""


MAP_RUNS: Final = 3
"""Runs of the catalog merged into the coverage map: a case whose path depends on timing
(which side sees a close first) may execute a line in one run and not in another."""


def _cosmic_ray() -> str:
    """The ``cosmic-ray`` next to this interpreter (the tox env's), else the one on PATH."""
    here = Path(sys.executable).with_name("cosmic-ray")
    return str(here) if here.exists() else "cosmic-ray"


def work_dir() -> Path:
    return Path(os.environ.get("ZREPL_MUTATION_DIR") or ROOT / ".tox" / "mutation-work")


def _config(work: Path, module: str) -> str:
    script = str(work / "pristine" / "tools" / "mutation_test.py")
    test = shlex.join([sys.executable, script, "--tree", ".", "--map", str(work / COVERAGE)])
    return "\n".join(
        [
            "[cosmic-ray]",
            f'module-path = "{MODULES[module]}"',
            f"timeout = {TEST_TIMEOUT}",
            "excluded-modules = []",
            f"test-command = {json.dumps(test)}",
            "",
            "[cosmic-ray.distributor]",
            'name = "local"',
            "",
        ]
    )


def _export(dest: Path) -> None:
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def prepare(force: bool) -> int:
    work = work_dir()
    if work.exists():
        if not force:
            print(f"{work} exists (sessions would be lost): use --force to start over")
            return 2
        shutil.rmtree(work)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    _export(work / "pristine")
    (work / "commit.txt").write_text(commit + "\n", encoding="utf-8")
    coverage_map(work)
    for module in MODULES:
        cfg = work / f"{module}.toml"
        cfg.write_text(_config(work, module), encoding="utf-8")
        _export(tree_of(work, module))
        subprocess.run(
            [_cosmic_ray(), "init", str(cfg), str(work / f"{module}.sqlite")],
            cwd=tree_of(work, module),
            check=True,
        )
        imported = _import_recorded(work, module)
        if imported:
            print(f"{module}: {imported} results imported from {RESULTS.name}/")
    print(f"prepared {work} at {commit[:12]}")
    return 0


COVERAGE: Final = "coverage.json"


def coverage_map(work: Path, suite: Path | None = None) -> None:
    """``SUITE/coverage.json`` (default ``WORK/coverage.json``, the session's suite): the union
    of :data:`MAP_RUNS` traced runs of that suite's catalog against the unmutated reference."""
    merged: dict[str, dict[str, set[str]]] = {}
    home = suite or work
    script = (suite or work / "pristine") / "tools" / "mutation_test.py"
    for n in range(MAP_RUNS):
        out = home / f"coverage-{n}.json"
        subprocess.run(
            [
                sys.executable,
                str(script),
                "--tree",
                str(suite or work / "pristine"),
                "--trace",
                str(out),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # both parts map a key to a list: {"import": {path: [line]}, path: {line: [case]}}
        for rel, lines in json.loads(out.read_text(encoding="utf-8")).items():
            for key, values in lines.items():
                merged.setdefault(rel, {}).setdefault(key, set()).update(values)
        out.unlink()
    doc = {rel: {ln: sorted(ids) for ln, ids in lines.items()} for rel, lines in merged.items()}
    (home / COVERAGE).write_text(json.dumps(doc), encoding="utf-8")
    print(f"coverage map of {MAP_RUNS} runs: {home / COVERAGE}")


def tree_of(work: Path, module: str) -> Path:
    """The copy Cosmic Ray mutates for ``module``: one per module, so that runs of two
    modules (one per core) never see each other's mutant."""
    return work / "trees" / module


def _restore(work: Path, module: str) -> None:
    """Undo a mutant a stopped run may have left in the tree."""
    rel = MODULES[module]
    shutil.copyfile(work / "pristine" / rel, tree_of(work, module) / rel)


def run(module: str, minutes: float | None) -> int:
    work = work_dir()
    db = work / f"{module}.sqlite"
    if not db.exists():
        print(f"no session {db}: run 'prepare' first")
        return 2
    _restore(work, module)
    before = summarize(db).done
    start = time.monotonic()
    proc = subprocess.Popen(
        [_cosmic_ray(), "exec", str(work / f"{module}.toml"), str(db)],
        cwd=tree_of(work, module),
        start_new_session=True,
    )
    stopped = False
    try:
        proc.wait(None if minutes is None else minutes * 60)
    except subprocess.TimeoutExpired:
        stopped = True
    except KeyboardInterrupt:
        stopped = True
    if stopped:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _restore(work, module)
    wall = time.monotonic() - start
    after = summarize(db)
    with (work / "timing.jsonl").open("a", encoding="utf-8") as f:
        record = {"module": module, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "wall": wall}
        f.write(json.dumps({**record, "results": after.done - before}) + "\n")
    print(f"{module}: {after.done - before} mutants in {wall:.0f} s; {after.line()}")
    return 0


@dataclass
class Summary:
    total: int = 0
    done: int = 0
    killed: int = 0
    timeouts: int = 0
    survived: int = 0
    incompetent: int = 0

    def line(self) -> str:
        return (
            f"{self.done}/{self.total} done, {self.killed} killed ({self.timeouts} by timeout), "
            f"{self.survived} survived, {self.incompetent} incompetent"
        )


def _db(path: Path) -> Any:
    """Cosmic Ray's session database (the tool is installed in the ``mutation`` env only)."""
    work_db = importlib.import_module("cosmic_ray.work_db")
    return work_db.use_db(str(path), work_db.WorkDB.Mode.open)


def _outcome(result: Any) -> str:
    """``killed``, ``survived`` or ``incompetent`` (Cosmic Ray's TestOutcome value)."""
    return str(getattr(result.test_outcome, "value", result.test_outcome))


def summarize(path: Path) -> Summary:
    out = Summary()
    with _db(path) as db:
        out.total = db.num_work_items
        for _item, result in db.completed_work_items:
            out.done += 1
            outcome = _outcome(result)
            if outcome == "survived":
                out.survived += 1
            elif outcome == "incompetent":
                out.incompetent += 1
            else:
                out.killed += 1
                out.timeouts += (result.output or "") == "timeout"
    return out


def survivors(path: Path) -> list[tuple[str, str, int, str]]:
    """(operator, line:col, occurrence, diff) of every surviving mutant."""
    return [row[:4] for row in _survivors(path)]


def _survivors(path: Path) -> list[tuple[str, str, int, str, str]]:
    """(operator, line:col, occurrence, diff, the killing test's output) of every survivor."""
    rows: list[tuple[str, str, int, str, str]] = []
    with _db(path) as db:
        for item, result in db.completed_work_items:
            if _outcome(result) == "survived":
                m = item.mutations[0]
                where = f"{m.start_pos[0]}:{m.start_pos[1]}"
                rows.append(
                    (m.operator_name, where, m.occurrence, result.diff or "", result.output or "")
                )
    rows.sort(key=lambda r: (int(r[1].split(":")[0]), r[0], r[2]))
    return rows


ANNOTATIONS_ONLY: Final = "the mutant changes only annotations"
"""What ``mutation_test.py`` prints for a mutant it need not run (see :func:`_reason`)."""


def _rechecked(work: Path) -> dict[str, str]:
    """What ``recheck`` found per survivor (``WORK/recheck.json``): ``"REL:LINE:COL OP #N"``
    → ``"killed by `CASE` (suite C)"`` or ``"survives (suite C)"``."""
    path = work / "recheck.json"
    if not path.exists():
        return {}
    found: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return found


def _save_rechecked(work: Path, found: dict[str, str]) -> None:
    text = json.dumps(found, indent=1, sort_keys=True)
    (work / "recheck.json").write_text(text, encoding="utf-8")


def _timing(work: Path) -> Counter[str]:
    wall: Counter[str] = Counter()
    path = work / "timing.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            wall[rec["module"]] += rec["wall"]
            wall[rec["module"] + "#n"] += rec["results"]
    return wall


REASONS: Final = ROOT / "tools" / "mutation_survivors.toml"
"""Why each surviving mutant survives: per module, ``"LINE:COL OPERATOR #N"`` or a whole
``"LINE"`` → ``"equivalent: ..."`` or ``"killed by CASE-ID since ..."`` or ``"open: ..."``."""


def reasons() -> dict[str, dict[str, str]]:
    import tomllib

    if not REASONS.exists():
        return {}
    data = tomllib.loads(REASONS.read_text(encoding="utf-8"))
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items()}


def _reason(
    known: dict[str, str], killed: str, where: str, op: str, occ: int, output: str = ""
) -> str:
    key = f"{where} {op} #{occ}"
    given = killed or known.get(key) or known.get(where.split(":")[0])
    if not given and ANNOTATIONS_ONLY in output:
        return (
            "equivalent: only an annotation changes, and the module never evaluates its "
            "annotations (`from __future__ import annotations`; nothing calls get_type_hints)"
        )
    return given or "NOT YET ANALYSED"


@dataclass
class Row:
    """One module's figures for the report."""

    rel: str
    summary: Summary
    wall: float
    results: int
    later: int = 0
    """Survivors killed by cases added after the session was prepared (``recheck``)."""
    equivalent: int = 0
    out_of_scope: int = 0
    """Survivors in code outside what issue 12 names (the reason says why), not scored."""
    like_original: int = 0
    """Survivors that show exactly the original's behaviour where the reference deviates at
    INFO (a §deviations row that is not unsafe): no case may fail them, so not scored."""

    def unscored(self) -> int:
        return self.equivalent + self.out_of_scope + self.like_original

    def score(self) -> str:
        s = self.summary
        base = s.done - s.incompetent - self.unscored()
        return f"{100 * (s.killed + self.later) / base:.1f}%" if base else "-"

    def markdown(self) -> str:
        s = self.summary
        rate = f"{self.results / (self.wall / 60):.1f}" if self.wall else "-"
        still = s.survived - self.later - self.unscored()
        return (
            f"| `{self.rel}` | {s.total} | {s.done} | {s.killed} + {self.later} | "
            f"{self.equivalent} | {self.out_of_scope} | {self.like_original} | {still} | "
            f"{s.incompetent} | {self.score()} | {self.wall / 60:.0f} min | {rate} |"
        )


HEAD_ROW: Final = (
    "| module | mutants | run | killed (+ by later cases) | equivalent | out of scope "
    "| like the original | open survivors | incompetent | score | wall | mutants/min |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


SURVIVORS_DOC: Final = ROOT / "docs" / "MUTATION-SURVIVORS.md"


def report(markdown: bool, diffs: bool, out: Path | None = None) -> int:
    """Print the score per module and every survivor with its reason; with ``out``, write
    the same (markdown) to that file under a heading that says where it comes from."""
    if out is not None:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            report(True, False)
        head = (
            "# Surviving mutants of the mutation run\n\n"
            "Written by `tox -e mutation -- report --markdown --out "
            f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}` on "
            f"{time.strftime('%Y-%m-%d')}; how the run works and what the kinds of reason "
            "mean: [CONFORMANCE.md](CONFORMANCE.md#mutation-testing).\n\n"
        )
        out.write_text(head + buffer.getvalue(), encoding="utf-8")
        print(f"wrote {out}")
        return 0
    work = work_dir()
    timing = _timing(work)
    why = reasons()
    rechecked = _rechecked(work)
    commit = (work / "commit.txt").read_text(encoding="utf-8").strip()[:12]
    rows: list[Row] = []
    listing: list[str] = []
    for module, rel in MODULES.items():
        db = work / f"{module}.sqlite"
        if not db.exists():
            continue
        row = Row(rel, summarize(db), timing[module], timing[module + "#n"])
        rows.append(row)
        for op, where, occ, diff, output in _survivors(db):
            killed = rechecked.get(f"{rel}:{where} {op} #{occ}", "")
            killed = killed if killed.startswith("killed") else ""
            text = _reason(why.get(rel, {}), killed, where, op, occ, output)
            row.later += bool(killed)
            row.equivalent += not killed and text.startswith("equivalent")
            row.out_of_scope += not killed and text.startswith("out of scope")
            row.like_original += not killed and text.startswith("like the original")
            listing.append(f"| `{rel}:{where}` | `{op} #{occ}` | {text} |")
            if diffs:
                listing.append("    " + "\n    ".join(diff.splitlines()[2:]))
    shown = work.relative_to(ROOT) if work.is_relative_to(ROOT) else work
    print(f"Cosmic Ray sessions of commit {commit} ({shown})\n")
    if markdown:
        print(HEAD_ROW)
        print("\n".join(r.markdown() for r in rows))
    else:
        for r in rows:
            print(f"{r.rel}: {r.summary.line()}; score {r.score()}; {r.results} in {r.wall:.0f} s")
    if listing:
        print("\n| survivor | mutation | why |\n|---|---|---|")
        print("\n".join(listing))
    return 0


KILL_LINES: Final = (["FAIL"], ["NON-STRICT"], ["UNIMPLEMENTED"])
"""How mutation_test.py starts the line of a killing case."""


def _head() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def recheck(module: str, lines: frozenset[int]) -> int:
    """Run every survivor of ``module`` again with the suite of the current HEAD (cases
    added since the session was prepared may kill it); results go to ``WORK/recheck.json``
    and into the report."""
    work = work_dir()
    rel = MODULES[module]
    commit = _head()
    suite = work / f"suite-{commit[:12]}"
    if not suite.exists():
        _export(suite)
    done = _rechecked(work)
    trial = work / "recheck-tree"
    # the newest cases are not in the session's map: trace this suite's own, unless the
    # mutated modules changed since the session was prepared (then run every case)
    same = all(
        (suite / r).read_bytes() == (work / "pristine" / r).read_bytes() for r in MODULES.values()
    )
    if same and not (suite / COVERAGE).exists():
        coverage_map(work, suite)
    selection = ["--map", str(suite / COVERAGE)] if same else []
    for op, where, occ, diff in survivors(work / f"{module}.sqlite"):
        key = f"{rel}:{where} {op} #{occ}"
        previous = done.get(key, "")
        if previous.startswith("killed") or commit[:12] in previous:
            continue
        if lines and int(where.split(":")[0]) not in lines:
            continue
        if trial.exists():
            shutil.rmtree(trial)
        shutil.copytree(work / "pristine", trial)
        # Cosmic Ray's diff lacks the final newline; patch applies it either way but warns
        whole = diff if diff.endswith("\n") else diff + "\n"
        subprocess.run(["patch", "-s", "-p1"], cwd=trial, input=whole.encode(), check=True)
        script = str(suite / "tools" / "mutation_test.py")
        test = [sys.executable, script, "--tree", str(trial), *selection]
        out = subprocess.run(test, capture_output=True, text=True, timeout=TEST_TIMEOUT)
        printed = out.stdout.strip().splitlines()
        if out.returncode:
            kills = [ln.split() for ln in printed if ln.split()[:1] in KILL_LINES]
            case = kills[0][1] if kills and len(kills[0]) > 1 else "a timeout or crash"
            done[key] = f"killed by `{case}` (suite {commit[:12]})"
        else:
            done[key] = f"survives (suite {commit[:12]})"
        print(f"{key}: {done[key]}", flush=True)
        _save_rechecked(work, done)
    shutil.rmtree(trial, ignore_errors=True)
    return 0


RESULTS: Final = ROOT / "tools" / "mutation_results"
"""Committed results per module (``export``), imported by ``prepare`` where still valid."""


def _sha256(path: Path) -> str:
    """The module's fingerprint for recorded results: its text with every docstring blanked
    line for line. Cosmic Ray never mutates a docstring and results are placed by line, so
    rewording a docstring (on as many lines) leaves the recorded results valid."""
    import ast

    lines = path.read_text(encoding="utf-8").splitlines()
    for node in ast.walk(ast.parse("\n".join(lines))):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            for n in range(first.lineno - 1, (first.end_lineno or first.lineno)):
                lines[n] = ""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _key(item: Any) -> str:
    m = item.mutations[0]
    return f"{m.operator_name} #{m.occurrence}"


def export() -> int:
    """Write every session's results and timing to :data:`RESULTS` (one file per module)."""
    work = work_dir()
    timing = _timing(work)
    commit = (work / "commit.txt").read_text(encoding="utf-8").strip()
    RESULTS.mkdir(exist_ok=True)
    rechecked = _rechecked(work)
    for module, rel in MODULES.items():
        db = work / f"{module}.sqlite"
        if not db.exists():
            continue
        with _db(db) as session:
            results = {
                _key(item): {
                    "start": list(item.mutations[0].start_pos),
                    "worker": str(result.worker_outcome.value),
                    "test": _outcome(result),
                    "output": (result.output or "")[-500:],
                    "diff": result.diff or "",
                }
                for item, result in session.completed_work_items
            }
        if not results:
            continue
        doc = {
            "module": rel,
            "sha256": _sha256(work / "pristine" / rel),
            "commit": commit,
            "wall": round(timing[module], 1),
            "results_timed": timing[module + "#n"],
            "results": dict(sorted(results.items())),
            "rechecked": {k: v for k, v in sorted(rechecked.items()) if k.startswith(rel + ":")},
        }
        out = RESULTS / f"{module}.json"
        out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(f"{out.relative_to(ROOT)}: {len(results)} results")
    return 0


def _import_recorded(work: Path, module: str) -> int:
    """Fill ``module``'s new session with the recorded results, if its file is unchanged."""
    path = RESULTS / f"{module}.json"
    if not path.exists():
        return 0
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc["sha256"] != _sha256(work / "pristine" / MODULES[module]):
        print(f"{path.relative_to(ROOT)}: {MODULES[module]} has changed; not imported")
        return 0
    item_mod = importlib.import_module("cosmic_ray.work_item")
    recorded: dict[str, dict[str, Any]] = doc["results"]
    count = 0
    with _db(work / f"{module}.sqlite") as session:
        for item in list(session.pending_work_items):
            got = recorded.get(_key(item))
            if got is None:
                continue
            result = item_mod.WorkResult(
                worker_outcome=item_mod.WorkerOutcome(got["worker"]),
                output=got["output"],
                test_outcome=item_mod.TestOutcome(got["test"]),
                diff=got["diff"],
            )
            session.set_result(item.job_id, result)
            count += 1
    # what recheck found with later cases (their commit is in each entry) stays valid too
    _save_rechecked(work, {**_rechecked(work), **doc.get("rechecked", {})})
    with (work / "timing.jsonl").open("a", encoding="utf-8") as f:
        record = {"module": module, "date": f"recorded at {doc['commit'][:12]}"}
        f.write(json.dumps({**record, "wall": doc["wall"], "results": doc["results_timed"]}))
        f.write("\n")
    return count


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare").add_argument("--force", action="store_true")
    r = sub.add_parser("run")
    r.add_argument("--module", choices=sorted(MODULES), required=True)
    r.add_argument("--minutes", type=float, help="stop after this long (resume later)")
    chk = sub.add_parser("recheck")
    chk.add_argument("--module", choices=sorted(MODULES), required=True)
    chk.add_argument("--lines", default="", help="only survivors on these lines: 138,140")
    rep = sub.add_parser("report")
    rep.add_argument("--markdown", action="store_true")
    rep.add_argument("--diffs", action="store_true", help="show each survivor's diff")
    rep.add_argument(
        "--out", type=Path, help=f"write the markdown report to this file ({SURVIVORS_DOC.name})"
    )
    sub.add_parser("export", help=f"write the results to {RESULTS.relative_to(ROOT)}/")
    args = p.parse_args(argv)
    if args.cmd == "prepare":
        return prepare(args.force)
    if args.cmd == "run":
        return run(args.module, args.minutes)
    if args.cmd == "recheck":
        lines = frozenset(int(n) for n in args.lines.split(",") if n.strip())
        return recheck(args.module, lines)
    if args.cmd == "export":
        return export()
    return report(args.markdown, args.diffs, args.out)


if __name__ == "__main__":
    sys.exit(main())
