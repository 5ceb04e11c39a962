"""Which lines of the mutated modules each process of the reference executes (the coverage map).

Imported first by the fork server of ``tools/mutation_test.py --trace DIR`` (the fork server
preloads it), this module makes every process of the reference write, the first time it
executes a line of one of the mutated modules, ``PATH:LINE`` to ``DIR/<pid>.lines``:

* in the fork server itself, from this import until its first fork: the lines run while the
  reference's modules are imported (module and class bodies, decorators, defaults, and any
  function an import calls), written to ``DIR/import.lines``. A mutant on such a line can
  change every case, so it is always run against the whole catalog;
* in each forked child (one per process a case starts): the lines that case's processes ran.

Each line is written with one ``os.write`` when first seen, so a child that a case kills
(SIGKILL, no chance to flush) still leaves what it executed. The tracer follows only frames
of the listed files (a local trace function returned for those alone), and new threads too
(``threading.settrace``): the reference serves send streams from threads.

Why this exists: a mutant can only change what a case observes if the case executes the
mutated line (or an import-time line, run for every case). Running only the cases that reach
the line gives the same verdict as the whole catalog, in a fraction of the time.
"""

from __future__ import annotations

import os
import sys
import threading
from types import FrameType
from typing import Any, Final

ENV: Final = "ZREPL_MUTATION_TRACE_DIR"
"""Where the ``.lines`` files go; without it, importing this module does nothing."""
TRACED: Final = (
    "bytestreamrpc/framing.py",
    "bytestreamrpc/connection.py",
    "bytestreamrpc/gojson/descriptors.py",
    "bytestreamrpc/gojson/encoder.py",
    "bytestreamrpc/gojson/scanner.py",
    "bytestreamrpc/gojson/decoder.py",
    "bytestreamrpc/serving.py",
    "bytestreamrpc/server.py",
    "fakes/reference.py",
)
"""The mutated modules, relative to the tree (``tools/mutation.py`` MODULES)."""


class _Tracer:
    """Writes each newly executed line of a traced file to one file descriptor."""

    def __init__(self, root: str, path: str) -> None:
        self.root = root.rstrip("/") + "/"
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.seen: set[tuple[str, int]] = set()
        self.files: dict[str, str | None] = {}

    def _relative(self, filename: str) -> str | None:
        rel = self.files.get(filename, "")
        if rel == "":
            name = os.path.realpath(filename)
            rel = name[len(self.root) :] if name.startswith(self.root) else None
            rel = rel if rel in TRACED else None
            self.files[filename] = rel
        return rel

    def global_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        rel = self._relative(frame.f_code.co_filename)
        if rel is None:
            return None
        self._note(rel, frame.f_lineno)
        return self.local_trace

    def local_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            rel = self._relative(frame.f_code.co_filename)
            if rel is not None:
                self._note(rel, frame.f_lineno)
        return self.local_trace

    def _note(self, rel: str, line: int) -> None:
        key = (rel, line)
        if key not in self.seen:
            self.seen.add(key)
            os.write(self.fd, f"{rel}:{line}\n".encode())

    def install(self) -> None:
        threading.settrace(self.global_trace)
        sys.settrace(self.global_trace)

    def uninstall(self) -> None:
        sys.settrace(None)
        threading.settrace(None)
        os.close(self.fd)


def _start(directory: str) -> None:
    root = os.getcwd()
    server = os.getpid()
    importing = _Tracer(root, os.path.join(directory, "import.lines"))
    importing.install()

    def in_child() -> None:
        _Tracer(root, os.path.join(directory, f"{os.getpid()}.lines")).install()

    def in_parent() -> None:  # the fork server after its first fork: the imports are done
        if os.getpid() == server and sys.gettrace() is not None:
            importing.uninstall()

    os.register_at_fork(before=in_parent, after_in_child=in_child)


if os.environ.get(ENV):
    _start(os.environ[ENV])
