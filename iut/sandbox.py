"""A private world for each process the suite starts: fake ZFS state, ``zfs`` on PATH, profile.

Per the contract every process gets

* a fresh fake ZFS state built from the case's fixture, named by ``FAKE_ZFS_STATE``;
* a ``bin/`` directory first on ``PATH`` holding ``zfs`` (a link to a ``fake-zfs`` wrapper),
  so an implementation that shells out to ``zfs`` like the original needs no changes;
* the profile JSON file, named by ``ZREPL_CONFORMANCE_PROFILE`` and by ``{profile}``.

Building a state means running ``fake-zfs init``, a Python process start plus a SQLite
schema and fixture load; a catalog starts hundreds of processes on a handful of fixtures, so
:class:`FixtureCache` initialises each fixture once and every sandbox gets a byte copy of
that file (the fake uses a rollback journal, so the state is one self-contained file).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from fakes.closing import Closing

from .spec import SpecError, render_text

__all__ = [
    "BUILTIN_FIXTURE",
    "DEFAULT_IDENTITY",
    "PROFILE_ENV",
    "STATE_ENV",
    "FixtureCache",
    "IUTError",
    "Sandbox",
    "fake_zfs_argv",
]

STATE_ENV: Final = "FAKE_ZFS_STATE"
PROFILE_ENV: Final = "ZREPL_CONFORMANCE_PROFILE"
BUILTIN_FIXTURE: Final = "demo"
"""The fixture name meaning ``fake-zfs init`` without ``--fixture`` (its built-in demo)."""
DEFAULT_IDENTITY: Final = "conformance"
"""Client identity used when neither the caller nor the profile names one."""
INIT_TIMEOUT: Final = 60.0


class IUTError(Exception):
    """Setting up or starting an implementation failed (not a verdict about it)."""


def _package_root(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent.parent


def fake_zfs_argv() -> list[str]:
    """How to run ``fake-zfs``: this interpreter and the installed ``fakes`` package."""
    return [sys.executable, "-m", "fakes.zfs_cli"]


def _wrapper_script(argv: Sequence[str]) -> str:
    """A ``/bin/sh`` script running ``argv`` with its arguments, ``fakes`` importable."""
    root = _package_root("fakes")
    prefix = ""
    if root is not None:
        prefix = f"PYTHONPATH={shlex.quote(str(root))}${{PYTHONPATH:+:$PYTHONPATH}} "
    return f'#!/bin/sh\n{prefix}exec {shlex.join(argv)} "$@"\n'


def _fixture_key(fixture: str | None) -> tuple[str, str | None]:
    """``(cache key, absolute fixture path or None for the built-in one)``."""
    if fixture is None or fixture == BUILTIN_FIXTURE:
        return BUILTIN_FIXTURE, None
    path = Path(fixture).resolve()
    try:
        st = path.stat()
    except OSError as exc:
        raise IUTError(f"fixture {fixture}: {exc.strerror or exc}") from None
    return f"{path}\0{st.st_mtime_ns}\0{st.st_size}", str(path)


class FixtureCache(Closing):
    """Initialise each fixture once, hand every sandbox its own copy of the state file.

    Thread-safe (parallel workers share one cache). ``fake_zfs`` overrides the command used
    for ``init`` and behind ``bin/zfs`` (tests use it to substitute a stand-in).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        fake_zfs: Sequence[str] | None = None,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="zrepl-iut-")
            root = self._tmp.name
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fake_zfs = list(fake_zfs) if fake_zfs is not None else fake_zfs_argv()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._states: dict[str, Path] = {}
        self.wrapper = self.root / "fake-zfs-wrapper"
        self.wrapper.write_text(_wrapper_script(self.fake_zfs))
        self.wrapper.chmod(self.wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP)
        self._counter = 0

    def master_state(self, fixture: str | None) -> Path:
        """The initialised state file for ``fixture`` (built on first use)."""
        key, path = _fixture_key(fixture)
        with self._lock:
            done = self._states.get(key)
            if done is not None:
                return done
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            done = self._states.get(key)
            if done is not None:
                return done
            name = hashlib.sha256(key.encode()).hexdigest()[:16]
            master = self.root / f"fixture-{name}.sqlite"
            argv = [*self.fake_zfs, "init"] + (["--fixture", path] if path else [])
            env = {**os.environ, STATE_ENV: str(master)}
            try:
                res = subprocess.run(
                    argv, env=env, capture_output=True, timeout=INIT_TIMEOUT, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise IUTError(f"cannot run {shlex.join(argv)}: {exc}") from None
            if res.returncode != 0 or not master.exists():
                err = res.stderr.decode("utf-8", "replace").strip().splitlines()
                why = err[-1] if err else f"exit status {res.returncode}"
                raise IUTError(f"fake-zfs init for fixture {fixture or BUILTIN_FIXTURE}: {why}")
            with self._lock:
                self._states[key] = master
            return master

    def new_dir(self, prefix: str = "proc") -> Path:
        with self._lock:
            self._counter += 1
            n = self._counter
        d = self.root / f"{prefix}-{n:05d}"
        d.mkdir()
        return d

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class Sandbox(Closing):
    """One process's directory: ``state.sqlite``, ``bin/zfs``, ``profile.json``, logs.

    Use as a context manager (the directory is removed on exit unless ``keep``).
    """

    def __init__(
        self,
        cache: FixtureCache,
        *,
        fixture: str | None = None,
        profile: Mapping[str, object] | None = None,
        identity: str | None = None,
        keep: bool = False,
    ) -> None:
        self.cache = cache
        self.fixture = fixture or BUILTIN_FIXTURE
        self.keep = keep
        self.dir = cache.new_dir()
        self.state = self.dir / "state.sqlite"
        shutil.copyfile(cache.master_state(fixture), self.state)
        self.bin = self.dir / "bin"
        self.bin.mkdir()
        (self.bin / "zfs").symlink_to(cache.wrapper)
        (self.bin / "fake-zfs").symlink_to(cache.wrapper)
        self.profile_data: dict[str, object] = dict(profile or {})
        self.profile = self.dir / "profile.json"
        self.profile.write_text(json.dumps(self.profile_data, indent=2) + "\n")
        prof_identity = self.profile_data.get("identity")
        self.identity = (
            identity
            or (prof_identity if isinstance(prof_identity, str) and prof_identity else None)
            or DEFAULT_IDENTITY
        )

    def placeholders(self, connect: Sequence[str] | None = None) -> dict[str, str | Sequence[str]]:
        """Values for ``{identity}``, ``{profile}``, ``{state}`` and (if given) ``{connect}``."""
        values: dict[str, str | Sequence[str]] = {
            "identity": self.identity,
            "profile": str(self.profile),
            "state": str(self.state),
        }
        if connect is not None:
            values["connect"] = list(connect)
        return values

    def environment(
        self,
        extra: Mapping[str, str] | None = None,
        *,
        connect: Sequence[str] | None = None,
        base: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The process environment: ``base`` (default ``os.environ``) + contract vars + extra.

        ``extra`` (the description's ``env``) is applied last and may use placeholders.
        """
        env = dict(os.environ if base is None else base)
        env["PATH"] = str(self.bin) + (os.pathsep + env["PATH"] if env.get("PATH") else "")
        env[STATE_ENV] = str(self.state)
        env[PROFILE_ENV] = str(self.profile)
        values = self.placeholders(connect)
        for key, value in (extra or {}).items():
            try:
                env[key] = render_text(value, values, what=f"env.{key}")
            except SpecError as exc:
                raise IUTError(str(exc)) from None
        return env

    def close(self) -> None:
        if not self.keep:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.dir)
