"""Running one fuzz target under atheris (libFuzzer), as its standalone script does.

``python fuzz/targets/NAME.py [libFuzzer flags] [CORPUS_DIR ...]`` ends up in
:func:`main`: it hooks atheris's coverage instrumentation into the importer, imports the
target (and with it the code under test), builds the target's Hypothesis test with the
campaign's example database, and hands ``test.hypothesis.fuzz_one_input`` to libFuzzer.
A crash file libFuzzer writes is reproduced by passing it as the only argument.

libFuzzer's fork mode (``-fork=N``) re-executes ``argv[0]``; a ``.py`` file is only
executable with its executable bit, so the campaign runner passes a small wrapper script
in :data:`ARGV0_ENV` that libFuzzer can run directly.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import time
from collections.abc import Sequence
from typing import Final

from hypothesis import settings

__all__ = [
    "ARGV0_ENV",
    "STATS_ENV",
    "AtherisMissing",
    "ExecutionCounter",
    "atheris_available",
    "is_merge_process",
    "main",
    "read_counts",
    "settings_for",
]

ARGV0_ENV: Final = "ZREPL_FUZZ_ARGV0"
STATS_ENV: Final = "ZREPL_FUZZ_STATS"


class AtherisMissing(Exception):
    """atheris is not installed (or not importable on this platform)."""


def atheris_available() -> str | None:
    """``None`` when atheris imports, else the reason it does not."""
    try:
        importlib.import_module("atheris")
    except ImportError as exc:
        return f"atheris is not installed ({exc}); pip install atheris, or zrepl-conformance[fuzz]"
    except Exception as exc:  # a broken native extension
        return f"atheris cannot be imported: {exc!r}"
    return None


def settings_for(database: object) -> settings:
    """Hypothesis settings every target's test uses (no deadline, no health checks)."""
    from hypothesis import HealthCheck

    return settings(
        database=database,  # type: ignore[arg-type]
        deadline=None,
        suppress_health_check=list(HealthCheck),
        max_examples=200,
        print_blob=True,
    )


def main(name: str, argv: Sequence[str] | None = None) -> None:
    """Run target ``name`` under libFuzzer with ``argv`` (default ``sys.argv``)."""
    args = list(sys.argv if argv is None else argv)
    why = atheris_available()
    if why is not None:
        print(f"fuzz target {name}: {why}", file=sys.stderr)
        raise SystemExit(2)
    atheris = importlib.import_module("atheris")

    from .targets import TARGETS, load

    target = TARGETS[name]
    counter = None if is_merge_process(args) else ExecutionCounter.from_environment()
    with atheris.instrument_imports(include=list(target.instrument)):
        for module_name in target.instrument:
            importlib.import_module(module_name)
        module = load(target.name)
        test = module.build(_database(), counter.tick if counter else None)
    argv0 = os.environ.get(ARGV0_ENV) or args[0]
    atheris.Setup([argv0, *args[1:]], test.hypothesis.fuzz_one_input)
    atheris.Fuzz()


def is_merge_process(args: Sequence[str]) -> bool:
    """Is this process one of libFuzzer's merge subprocesses (``-merge_inner=1``)?

    Fork mode runs one after every job to re-run the job's new inputs; those are not new
    executions, so they must not count towards the campaign's (they did, inflating fork
    mode's figures).
    """
    return any(a.startswith("-merge_inner=") and a != "-merge_inner=0" for a in args)


class ExecutionCounter:
    """Counts executed inputs and publishes the count in a file every half second.

    libFuzzer's fork mode runs many short-lived processes and prints totals only when a job
    ends; each process writing its own count into :data:`STATS_ENV`'s directory lets the
    campaign report exact totals live, whatever the mode.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        self._next = 0.0

    @classmethod
    def from_environment(cls) -> ExecutionCounter | None:
        directory = os.environ.get(STATS_ENV)
        return cls(os.path.join(directory, f"{os.getpid()}.count")) if directory else None

    def tick(self) -> None:
        self.count += 1
        if self.count & 63 == 0:
            now = time.monotonic()
            if now >= self._next:
                self._next = now + 0.5
                self.flush()

    def flush(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(str(self.count))
        os.replace(tmp, self.path)


def read_counts(directory: str) -> int:
    """The sum of every process's published count."""
    total = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if entry.name.endswith(".count"):
                with (
                    contextlib.suppress(OSError, ValueError),
                    open(entry.path, encoding="ascii") as f,
                ):
                    total += int(f.read() or 0)
    return total


def _database() -> object:
    from .database import DatabaseError, open_database

    try:
        return open_database()
    except DatabaseError as exc:
        print(f"fuzz target: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
