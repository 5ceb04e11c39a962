"""The fuzz targets: one module per target, each a Hypothesis test and an atheris script.

Every ``fuzz/targets/NAME.py`` defines ``TITLE`` and ``build(database) -> test``, a
Hypothesis ``@given`` test whose ``.hypothesis.fuzz_one_input`` atheris drives; the registry
below names, per target, the code whose coverage guides atheris (:attr:`Target.instrument`).
Run as a script (``python fuzz/targets/NAME.py -runs=N``, or any libFuzzer flags) it is a
standalone libFuzzer binary in the OSS-Fuzz / ClusterFuzzLite style.

This module stays import-light on purpose: the script instruments the code under test and
must import it *after* atheris has hooked the importer.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

_PROTOCOL: Final = ("bytestreamrpc",)
_PROTOCOL_AND_FAKES: Final = ("bytestreamrpc", "fakes", "fakes.jobs")

__all__ = ["TARGETS", "TARGET_DIR", "Target", "load", "names"]

TARGET_DIR: Final = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Target:
    """A fuzz target: its name (``fuzz/targets/NAME.py``) and what it checks."""

    name: str
    title: str
    instrument: tuple[str, ...] = _PROTOCOL
    """Modules imported under atheris's instrumentation before the test is built; every
    module of their top-level packages imported then is instrumented (atheris selects by
    top-level package). Only the code under test: instrumenting costs start-up time (about
    0.35 s for ``bytestreamrpc``, 0.5 s more for ``fakes``) in every worker and every fork-mode
    job. Modules the code under test imports lazily must be named, or they are imported
    after instrumentation ends and give no coverage (``fakes.jobs``, which serves pull-me)."""

    @property
    def script(self) -> Path:
        return TARGET_DIR / f"{self.name}.py"

    @property
    def module(self) -> str:
        return f"fuzz.targets.{self.name}"


TARGETS: Final = {
    t.name: t
    for t in (
        Target("framing", "chunk decoder: parse or TruncatedStream; delivery never matters"),
        Target("codec", "every message decoder: value that round-trips, or DecodeError"),
        Target("gojson", "Go-JSON rules: valid texts decode exactly, near-valid/invalid refused"),
        Target("client", "client connection reading any answer: events or ProtocolError"),
        Target(
            "server",
            "reference server on any input: no exception, no hang, no state change",
            _PROTOCOL_AND_FAKES,
        ),
        Target(
            "stateful",
            "client conversations checked against a model of the fake ZFS",
            _PROTOCOL_AND_FAKES,
        ),
    )
}
"""Every target, by name (``zrepl-conformance fuzz list``)."""


def names() -> list[str]:
    return list(TARGETS)


def load(name: str) -> Any:
    """Import the target module ``name`` (``KeyError`` names the known targets)."""
    if name not in TARGETS:
        raise KeyError(f"unknown fuzz target {name!r} (known: {', '.join(TARGETS)})")
    return importlib.import_module(TARGETS[name].module)
