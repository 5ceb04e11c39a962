"""Dataset mappings as zrepl 35dcfc2 configured them (zfs/mapping.go, cmd/config.go).

A mapping turns a source dataset path into a target path.  The pull ACL uses one to decide
which datasets a client may see and pull, a pull job or sink uses one to decide where a remote
dataset lands locally.

Outcome of ``DatasetMapping.map(source)``: a ``DatasetPath`` when the mapping matches, ``None``
for "no match" (the original's ``NoMatchError``: the dataset is hidden / the request refused), and
a raised ``MappingError`` for anything else that went wrong (only an exec mapping can fail so).
A ``ComboMapping`` -- which is what a config always produces -- treats a member's
``MappingError`` like no match and goes on to the next member, exactly as the original did.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping as StrMapping
from dataclasses import dataclass
from typing import Protocol

from bytestreamrpc.messages import DatasetPath

__all__ = [
    "NO_MATCH_MESSAGE",
    "ComboMapping",
    "DatasetMapping",
    "DirectMapping",
    "ExecMapping",
    "GlobMapping",
    "MappingConfigError",
    "MappingError",
    "parse_mapping",
    "parse_mapping_json",
]

NO_MATCH_MESSAGE = "no match found in mapping"
"""The original's ``NoMatchError`` text, which the handler sent back to a refused client."""

_NOMAP = "NOMAP"
_MAX_ANSWER_BYTES = 64 * 1024  # Go's bufio.MaxScanTokenSize, the original's implicit bound
_DEFAULT_EXEC_TIMEOUT = 5.0  # seconds; the original waited forever
_EXIT_GRACE = 1.0  # seconds a mapping program gets to exit once its stdin is closed

# Go's strings.Fields splits on unicode.IsSpace, which is Python's str.isspace minus U+001C-1F.
_GO_SPACE = re.compile("[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


class MappingError(Exception):
    """A mapping could not give an answer (not the same as "no match")."""


class MappingConfigError(ValueError):
    """A mapping configuration entry is malformed; the message names the entry."""


class DatasetMapping(Protocol):
    """Anything that maps a source dataset path to a target, ``None`` meaning "no match"."""

    def map(self, source: DatasetPath) -> DatasetPath | None:
        """Map ``source``; raise ``MappingError`` when no answer can be given."""
        ...


@dataclass(frozen=True)
class GlobMapping:
    """``"a/b*": "t/r"``: sources whose leading *components* equal ``prefix`` map to
    ``target_root`` followed by the whole source.  Matching is per component, so ``a/b*``
    matches ``a/b`` and ``a/b/c`` but not ``a/bc``; ``*`` (empty prefix) matches everything."""

    prefix: DatasetPath
    target_root: DatasetPath

    def map(self, source: DatasetPath) -> DatasetPath | None:
        """The target for ``source``, or ``None`` when the prefix does not match."""
        prefix = self.prefix.components
        if source.components[: len(prefix)] != prefix:  # also catches a too-short source
            return None
        return DatasetPath(self.target_root.components + source.components)


@dataclass(frozen=True)
class DirectMapping:
    """``"a/b": "t/r"`` maps exactly ``a/b``; ``"|": "t/r"`` (``source=None``) maps any path."""

    source: DatasetPath | None
    target: DatasetPath

    def map(self, source: DatasetPath) -> DatasetPath | None:
        """``target`` if ``source`` is the configured one (or any source is accepted)."""
        if self.source is None or self.source == source:
            return self.target
        return None


@dataclass(frozen=True)
class ExecMapping:
    """``"*": "!prog args"``: ask an external program, one source path per line on its stdin;
    it answers the target path or ``NOMAP`` on one line of its stdout.

    Like the original, every lookup starts the program afresh (the original never reused it,
    and leaked it with its stdin left open).  Unlike the original, the answer is bounded in size
    and time, the program is reaped, and a dead program or a garbage answer raises
    ``MappingError`` instead of crashing the daemon.  An empty answer line is the empty path,
    as in the original.
    """

    program: str
    args: tuple[str, ...] = ()
    timeout: float = _DEFAULT_EXEC_TIMEOUT

    def map(self, source: DatasetPath) -> DatasetPath | None:
        """Run the program once for ``source``; ``None`` if it answered ``NOMAP``."""
        text = source.to_string()
        if "\n" in text:
            raise MappingError(f"source path {text!r} contains a newline; cannot ask {self._who}")
        answer = self._ask((text + "\n").encode())
        if answer == _NOMAP:
            return None
        try:
            return DatasetPath.from_string(answer)
        except ValueError as err:
            raise MappingError(f"{self._who} answered an invalid target: {err}") from None

    @property
    def _who(self) -> str:
        return f"mapping program {self.program!r}"

    def _ask(self, request: bytes) -> str:
        try:
            proc = subprocess.Popen(
                [self.program, *self.args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # so that _reap can kill what it spawned, too
            )
        except (OSError, ValueError) as err:
            raise MappingError(f"cannot start {self._who}: {err}") from None
        assert proc.stdin is not None and proc.stdout is not None
        try:
            line = self._exchange(proc.stdin.fileno(), proc.stdout.fileno(), request)
        except BaseException:
            _reap(proc, grace=0.0)  # it misbehaved: no time to exit in peace
            raise
        _reap(proc, grace=_EXIT_GRACE)
        try:
            return line.decode()
        except UnicodeDecodeError:
            raise MappingError(f"{self._who} answered non-UTF-8 bytes: {line[:80]!r}") from None

    def _exchange(self, stdin_fd: int, stdout_fd: int, request: bytes) -> bytes:
        """Write ``request``, read one answer line, both under one deadline."""
        deadline = time.monotonic() + self.timeout
        os.set_blocking(stdin_fd, False)
        os.set_blocking(stdout_fd, False)
        answer = bytearray()
        with selectors.DefaultSelector() as sel:
            sel.register(stdin_fd, selectors.EVENT_WRITE)
            sel.register(stdout_fd, selectors.EVENT_READ)
            pending = memoryview(request)
            while True:
                remaining = deadline - time.monotonic()
                ready = sel.select(remaining) if remaining > 0 else []
                if not ready:
                    raise MappingError(f"{self._who} did not answer within {self.timeout} s")
                for key, _ in ready:
                    if key.fd == stdin_fd:
                        try:
                            pending = pending[os.write(stdin_fd, pending) :]
                        except BrokenPipeError:  # it stopped reading; its answer may yet come
                            pending = pending[:0]
                        if not pending:
                            sel.unregister(stdin_fd)
                        continue
                    chunk = os.read(stdout_fd, _MAX_ANSWER_BYTES)
                    answer += chunk
                    end = answer.find(b"\n", 0, _MAX_ANSWER_BYTES)
                    if end >= 0:
                        return _drop_cr(bytes(answer[:end]))
                    if len(answer) >= _MAX_ANSWER_BYTES:
                        raise MappingError(
                            f"{self._who} answered no line within {_MAX_ANSWER_BYTES} bytes"
                        )
                    if not chunk:  # EOF: Go's scanner still returns a final unterminated line
                        if answer:
                            return _drop_cr(bytes(answer))
                        raise MappingError(f"{self._who} exited without answering")


def _drop_cr(line: bytes) -> bytes:
    """Go's bufio.ScanLines drops one trailing carriage return."""
    return line[:-1] if line.endswith(b"\r") else line


def _reap(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Close the pipes, give the program a moment to exit on EOF, then kill its process group."""
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass(frozen=True)
class ComboMapping:
    """Several mappings; the first member that matches wins, in **declared** order.

    The original kept the members in a Go map, so its order was unspecified; a config whose
    entries overlap therefore had no defined meaning there.  A member raising ``MappingError``
    counts as not matching (the original's ``if err == nil`` test in ``ComboMapping.Map``).
    """

    mappings: tuple[DatasetMapping, ...]

    def map(self, source: DatasetPath) -> DatasetPath | None:
        """The first member's target for ``source``, or ``None`` if none matches."""
        for member in self.mappings:
            try:
                target = member.map(source)
            except MappingError:
                continue
            if target is not None:
                return target
        return None


def _go_fields(text: str) -> list[str]:
    return [field for field in _GO_SPACE.split(text) if field]


def _path(text: str, entry: str) -> DatasetPath:
    try:
        return DatasetPath.from_string(text)
    except ValueError as err:
        raise MappingConfigError(f"mapping entry {entry}: {err}") from None


def _parse_entry(lhs: str, rhs: str, exec_timeout: float) -> DatasetMapping:
    """One config entry, classified by the original's rules in parseComboMapping."""
    entry = f"{lhs!r}: {rhs!r}"
    if lhs == "*" and rhs.startswith("!"):
        fields = _go_fields(rhs[1:])
        if not fields:
            raise MappingConfigError(f"mapping entry {entry}: ExecMapping without acceptor path")
        return ExecMapping(fields[0], tuple(fields[1:]), exec_timeout)
    if lhs.endswith("*"):
        return GlobMapping(_path(lhs[:-1], entry), _path(rhs, entry))
    source = None if lhs == "|" else _path(lhs, entry)
    return DirectMapping(source, _path(rhs, entry))


def parse_mapping(
    obj: StrMapping[str, str], *, exec_timeout: float = _DEFAULT_EXEC_TIMEOUT
) -> ComboMapping:
    """Build the mapping a config object such as ``{"pool/data*": "backup/host1"}`` describes.

    Left sides: exactly ``*`` with a right side starting with ``!`` is an exec mapping; any other
    left side ending in ``*`` is a glob (one trailing ``*`` removed, the rest a dataset path, so
    ``"a/b/*"`` has the prefix ``a/b/`` -- components ``a``, ``b``, ``""`` -- and matches no real
    dataset); ``|`` is "any source"; anything else is a direct mapping of exactly that path.
    Raises ``MappingConfigError`` naming the offending entry.
    """
    if not isinstance(obj, StrMapping):
        raise MappingConfigError(f"mapping must be an object, got {type(obj).__name__}")
    members: list[DatasetMapping] = []
    for lhs, rhs in obj.items():
        if not isinstance(lhs, str) or not isinstance(rhs, str):
            raise MappingConfigError(f"mapping entry {lhs!r}: {rhs!r}: both sides must be strings")
        members.append(_parse_entry(lhs, rhs, exec_timeout))
    return ComboMapping(tuple(members))


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise MappingConfigError(f"mapping has the left side {key!r} twice")
        result[key] = value
    return result


def parse_mapping_json(text: str, *, exec_timeout: float = _DEFAULT_EXEC_TIMEOUT) -> ComboMapping:
    """``parse_mapping`` of a JSON object text; entries keep the order they are written in."""
    try:
        obj = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as err:
        raise MappingConfigError(f"mapping is not valid JSON: {err}") from None
    if not isinstance(obj, dict):
        raise MappingConfigError(f"mapping must be a JSON object, got {type(obj).__name__}")
    return parse_mapping(obj, exec_timeout=exec_timeout)
