"""``fake-zfs``: a stand-in for the ``zfs`` command, backed by a fake-zfs state file.

Usage: ``FAKE_ZFS_STATE=/path/state.sqlite fake-zfs init [--fixture FILE]`` once, then any
supported ``zfs`` invocation, e.g. ``fake-zfs list -H -p -o name -r -t filesystem,volume`` or
``fake-zfs send pool/data@a | fake-zfs recv -u backup/data``. Installing it as ``zfs`` on
``PATH`` (a symlink or a two-line wrapper) lets unmodified programs drive it.

Behaviour is the real program's: same option parsing (GNU getopt), same output formats, same
error texts on stderr, exit status 1 for operational errors and 2 for usage errors (plus the
real 255 where ``zfs`` returns -1). Each command runs as one SQLite transaction, so concurrent
invocations are safe. Supported subcommands: list, get, set, create, snapshot (snap),
bookmark, destroy, send, receive (recv), plus the fake's own ``init``. Real subcommands the
fake does not implement, and real options it does not implement, fail with a ``fake-zfs:``
message and exit 2 rather than pretend. See docs/FAKE-ZFS.md.

The package is split by command family: :mod:`.dispatch` (the entry point :func:`main`),
:mod:`.plumbing` (what every command shares), :mod:`.init_state` (``init``),
:mod:`.queries` (list, get), :mod:`.changes` (set, create, snapshot, bookmark, destroy) and
:mod:`.streams` (send, receive). ``python -m fakes.zfs_cli`` runs :func:`main`.
"""

from __future__ import annotations

from .dispatch import FAKE_HELP, VERSION_TEXT, main
from .init_state import INIT_HELP, INIT_USAGE
from .plumbing import STATE_ENV

__all__ = ["FAKE_HELP", "INIT_HELP", "INIT_USAGE", "STATE_ENV", "VERSION_TEXT", "main"]
