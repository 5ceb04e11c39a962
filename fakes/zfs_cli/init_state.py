"""``fake-zfs init``: the fake's own command, creating the state file every other command uses.

Its arguments are parsed here by hand (it is no ``zfs`` subcommand, so no getopt emulation),
and :func:`_replace_refusal` keeps it from overwriting a file that is not a fake-zfs state.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fakes.zfs.engine import FakeZfs

from .plumbing import STATE_ENV, Plumbing

__all__ = ["INIT_HELP", "INIT_USAGE", "InitCommand"]

INIT_USAGE: Final = "usage: fake-zfs init [--fixture FILE] [--force]\n"
INIT_HELP: Final = f"""
Create the state file named by {STATE_ENV} (an SQLite file every other fake-zfs
command then reads and changes), holding the built-in demo fixture or the fixture FILE
(TOML, see docs/FAKE-ZFS.md). The file is built aside and then renamed into place, so a
reader never sees half a state.

An existing fake-zfs state (of any version) or an empty file is replaced. Any other
existing file is refused (exit 1) unless --force is given; a symbolic link is replaced
itself (not followed), and something that is not a file (a directory, a device) never.

options:
  --fixture FILE   the fixture to install instead of the demo fixture
  --force          replace the file even if it is not a fake-zfs state
  -h, --help       show this help and exit
"""

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"


class InitCommand(Plumbing):
    """``init [--fixture FILE] [--force]``."""

    def cmd_init(self, args: list[str]) -> int:
        from fakes.zfs.fixtures import FixtureError, load_fixture

        parsed = _parse_init(args)
        if isinstance(parsed, _InitHelp):
            self.out.write(INIT_USAGE + INIT_HELP)
            return 0
        if isinstance(parsed, _InitBadArgument):
            self.error(f"fake-zfs init: {parsed.why}")
            self.err.write(INIT_USAGE)
            return 2
        path = os.environ.get(STATE_ENV)
        if not path:
            self.error(f"fake-zfs init: {STATE_ENV} is not set; name the state file to create")
            return 1
        refusal = _replace_refusal(path, force=parsed.force)
        if refusal is not None:
            self.error(f"fake-zfs init: {refusal}")
            return 1
        try:
            fixture = load_fixture(parsed.fixture) if parsed.fixture else None
            FakeZfs.init_state(path, fixture)
        except FixtureError as exc:
            self.error(f"fake-zfs init: {exc}")
            return 1
        except OSError as exc:
            self.error(f"fake-zfs init: cannot create '{path}': {exc.strerror or exc}")
            return 1
        return 0


@dataclass(frozen=True)
class _InitOptions:
    fixture: str | None = None
    force: bool = False


@dataclass(frozen=True)
class _InitHelp:
    """``init --help``."""


@dataclass(frozen=True)
class _InitBadArgument:
    why: str


def _parse_init(args: Sequence[str]) -> _InitOptions | _InitHelp | _InitBadArgument:
    """``init [--fixture FILE] [--force]`` (``--fixture=FILE`` too)."""
    fixture: str | None = None
    force = False
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-h", "--help", "-?"):
            return _InitHelp()
        if arg == "--force":
            force = True
        elif arg == "--fixture":
            if not rest:
                return _InitBadArgument("option '--fixture' needs a FILE")
            fixture = rest.pop(0)
        elif arg.startswith("--fixture="):
            fixture = arg.split("=", 1)[1]
        else:
            return _InitBadArgument(f"unexpected argument '{arg}'")
    return _InitOptions(fixture, force)


def _replace_refusal(path: str, *, force: bool) -> str | None:
    """Why ``init`` must not replace ``path``; ``None`` when it may.

    Nothing there, an empty file or a fake-zfs state (any version) may be replaced; any
    other regular file (or a symbolic link, which is replaced, not followed) only with
    ``force``; anything else (a directory, a device, a FIFO) never.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot check '{path}': {exc.strerror or exc}"
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        return f"'{path}' is not a regular file; it is never replaced"
    if force:
        return None
    try:
        if os.path.getsize(path) == 0 or _is_fake_zfs_state(path):
            return None
    except FileNotFoundError:
        return None  # a dangling symbolic link
    except OSError as exc:
        return f"cannot read '{path}': {exc.strerror or exc}; use --force to replace it"
    return f"'{path}' exists and is not a fake-zfs state; use --force to replace it"


def _is_fake_zfs_state(path: str) -> bool:
    """Whether ``path`` is an SQLite file whose ``meta`` table says fake-zfs (read only)."""
    import sqlite3

    from fakes.zfs.store import FORMAT_NAME

    with open(path, "rb") as fh:
        if fh.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
            return False
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return False
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return row is not None and row[0] == FORMAT_NAME
