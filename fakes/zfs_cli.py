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
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn, TextIO, cast

from fakes.zfs.engine import FakeZfs
from fakes.zfs.errors import DatasetOpenError, StateError, ZfsError, ZfsUsageError
from fakes.zfs.getopt import Option, gnu_getopt
from fakes.zfs.names import ALL_TYPES, BOOKMARK, FILESYSTEM, SNAPSHOT, VOLUME
from fakes.zfs.numbers import NumberError, nicestrtonum, strtol_c
from fakes.zfs.properties import is_user_property, lookup_property
from fakes.zfs.stream import Readable
from fakes.zfs.usage import command_usage, global_usage

__all__ = ["main"]

STATE_ENV: Final = "FAKE_ZFS_STATE"
VERSION_TEXT: Final = "zfs-fake-1\nzfs-kmod-fake-1\n"

FAKE_HELP: Final = f"""\
fake-zfs: the zfs command over a fake ZFS kept in one SQLite file (no real pools).

environment:
\t{STATE_ENV}  the state file every command reads and changes (required)

the fake's own command:
\tinit [--fixture FILE] [--force]
\t    create that state file: the demo fixture, or the fixture FILE (TOML);
\t    run 'fake-zfs init --help' for more

See docs/FAKE-ZFS.md. What follows is the usage real zfs prints, for the subcommands
the fake implements.

"""
"""Printed before the real usage by ``fake-zfs --help`` (and ``-?``, ``help``)."""

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

#: Real subcommands the fake does not implement (they exist, so no "unrecognized command").
_UNSUPPORTED_COMMANDS: Final = frozenset(
    {
        "rollback",
        "clone",
        "promote",
        "rename",
        "diff",
        "inherit",
        "upgrade",
        "userspace",
        "groupspace",
        "projectspace",
        "project",
        "mount",
        "unmount",
        "share",
        "unshare",
        "redact",
        "allow",
        "unallow",
        "hold",
        "holds",
        "release",
        "load-key",
        "unload-key",
        "change-key",
        "program",
        "rewrite",
        "wait",
        "version",
        "zone",
        "unzone",
    }
)

_TYPE_WORDS: Final = {
    "filesystem": frozenset({FILESYSTEM}),
    "fs": frozenset({FILESYSTEM}),
    "volume": frozenset({VOLUME}),
    "vol": frozenset({VOLUME}),
    "snapshot": frozenset({SNAPSHOT}),
    "snap": frozenset({SNAPSHOT}),
    "bookmark": frozenset({BOOKMARK}),
    "all": ALL_TYPES,
}


class _Exit(Exception):
    """Leave the command with ``code`` after everything was printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Cli:
    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> None:
        self.inp = stdin
        self.out = stdout
        self.err = stderr
        self._engine: FakeZfs | None = None

    # -- plumbing -----------------------------------------------------------------------
    def error(self, text: str) -> None:
        _write(self.err, text + "\n")

    def usage_exit(self, command: str | None, message: str | None = None) -> NoReturn:
        if message is not None:
            _write(self.err, message + "\n")
        self.err.write(command_usage(command) if command else global_usage())
        raise _Exit(2)

    def bad_option(self, command: str, opt: Option) -> NoReturn:
        if opt.char == ":":
            self.usage_exit(command, f"missing argument for '{opt.optopt}' option")
        if opt.optopt == "" and opt.argument is not None:
            self.usage_exit(command, f"invalid option '{opt.argument}'")
        self.usage_exit(command, f"invalid option '{opt.optopt}'")

    def unsupported_option(self, command: str, letter: str) -> NoReturn:
        self.error(f"fake-zfs: option '-{letter}' of 'zfs {command}' is not supported by the fake")
        raise _Exit(2)

    def engine(self) -> FakeZfs:
        if self._engine is None:
            path = os.environ.get(STATE_ENV)
            if not path:
                raise StateError(
                    f"fake-zfs: {STATE_ENV} is not set; point it at a state file and run "
                    "'fake-zfs init'"
                )
            self._engine = FakeZfs.open(path)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()

    # -- dispatch -------------------------------------------------------------------------
    def run(self, argv: Sequence[str]) -> int:
        if not argv:
            self.usage_exit(None, "missing command")
        cmd = argv[0]
        cmd = {"umount": "unmount", "recv": "receive", "snap": "snapshot"}.get(cmd, cmd)
        if cmd in ("-?", "--help", "help"):
            self.out.write(FAKE_HELP + global_usage())
            return 0
        if cmd in ("-V", "--version"):
            self.out.write(VERSION_TEXT)
            return 0
        if cmd == "init":
            return self.cmd_init(list(argv[1:]))
        handlers: dict[str, Callable[[list[str]], int]] = {
            "list": self.cmd_list,
            "get": self.cmd_get,
            "set": self.cmd_set,
            "create": self.cmd_create,
            "snapshot": self.cmd_snapshot,
            "bookmark": self.cmd_bookmark,
            "destroy": self.cmd_destroy,
            "send": self.cmd_send,
            "receive": self.cmd_receive,
        }
        if cmd in handlers and len(argv) >= 2 and argv[1] in ("--help", "-?"):
            self.usage_exit(cmd)
        self.engine()  # like libzfs_init: the state must be usable before anything else
        if cmd in handlers:
            return handlers[cmd](list(argv[1:]))
        if "=" in cmd:
            return self.cmd_set(list(argv))
        if cmd in _UNSUPPORTED_COMMANDS:
            self.error(f"fake-zfs: 'zfs {cmd}' is not supported by the fake")
            return 2
        self.usage_exit(None, f"unrecognized command '{cmd}'")

    # -- init -----------------------------------------------------------------------------
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

    # -- list -----------------------------------------------------------------------------
    def _parse_fields(self, command: str, fields: str) -> list[str] | None:
        """``zprop_get_list``: ``None`` means ``all``."""
        if fields == "all":
            return None
        if fields == "":
            self.usage_exit(command, "bad property list: no properties specified")
        out: list[str] = []
        for token in fields.split(","):
            names = (
                [
                    "name",
                    "avail",
                    "used",
                    "usedbysnapshots",
                    "usedbydataset",
                    "usedbyrefreservation",
                    "usedbychildren",
                ]
                if token == "space"
                else [token]
            )
            for name in names:
                if lookup_property(name) is None and not is_user_property(name):
                    self.usage_exit(command, f"bad property list: invalid property '{name}'")
                out.append(name)
        return out

    def _parse_types(self, command: str, text: str) -> frozenset[str]:
        types: set[str] = set()
        for token in text.split(","):
            if token not in _TYPE_WORDS:
                self.usage_exit(command, f"invalid type '{token}'")
            types |= _TYPE_WORDS[token]
        return frozenset(types)

    def _parse_depth(self, command: str, text: str) -> int:
        value, whole = strtol_c(text)
        if not whole:
            self.usage_exit(command, f"{text} is not an integer")
        if value < 0:
            self.usage_exit(command, "Depth can not be negative.")
        return value

    def cmd_list(self, args: list[str]) -> int:
        parsed = gnu_getopt(args, "jHS:d:o:prs:t:", long_options=("json", "json-int"))
        fields = "name,used,available,referenced,mountpoint"
        literal = scripted = recursive = False
        depth: int | None = None
        types: frozenset[str] | None = None
        sort: list[tuple[str, bool]] = []
        for opt in parsed.options:
            c = opt.char
            if c == "o":
                fields = opt.argument or ""
            elif c == "p":
                literal = True
            elif c == "d":
                depth = self._parse_depth("list", opt.argument or "")
            elif c == "r":
                recursive = True
            elif c == "H":
                scripted = True
            elif c in ("s", "S"):
                prop = opt.argument or ""
                if lookup_property(prop) is None and not is_user_property(prop):
                    self.usage_exit("list", f"invalid property '{prop}'")
                sort.append((prop, c == "S"))
            elif c == "t":
                types = self._parse_types("list", opt.argument or "")
            elif c in ("j", "-json", "-json-int"):
                self.unsupported_option("list", "j")
            else:
                self.bad_option("list", opt)
        columns = self._parse_fields("list", fields)
        if columns is None:
            from fakes.zfs.properties import PROPERTIES

            columns = ["name"] + [p.name for p in PROPERTIES if not p.hidden]
        if fields == "space" and types is None:
            types = frozenset({FILESYSTEM, VOLUME})
        errors: list[ZfsError] = []
        rows = self.engine().list_text(
            parsed.operands,
            types=types,
            recursive=recursive,
            depth=depth,
            sort=sort,
            properties=columns,
            literal=literal,
            errors=errors,
        )
        for exc in errors:
            self.error(exc.message)
        from fakes.zfs.output import format_list

        self.out.write(format_list(rows, columns, scripted=scripted, literal=literal))
        if not errors and not rows and not scripted:
            self.error("no datasets available")
        return 1 if errors else 0

    # -- get ------------------------------------------------------------------------------
    def cmd_get(self, args: list[str]) -> int:
        from fakes.zfs.output import GET_COLUMNS, format_get

        parsed = gnu_getopt(args, ":d:o:s:jrt:Hp", long_options=("json", "json-int"))
        literal = scripted = recursive = False
        depth: int | None = None
        types: frozenset[str] | None = None
        columns: list[str] = ["name", "property", "value", "source"]
        sources: frozenset[str] | None = None
        for opt in parsed.options:
            c = opt.char
            if c == "p":
                literal = True
            elif c == "d":
                depth = self._parse_depth("get", opt.argument or "")
            elif c == "r":
                recursive = True
            elif c == "H":
                scripted = True
            elif c == "o":
                columns = []
                for token in (opt.argument or "").split(","):
                    if len(columns) == len(GET_COLUMNS):
                        self.usage_exit("get", "too many fields given to -o option")
                    if token == "all":
                        if columns:
                            self.usage_exit(
                                "get", '"all" conflicts with specific fields given to -o option'
                            )
                        columns = list(GET_COLUMNS)
                        continue
                    if token not in GET_COLUMNS:
                        self.usage_exit("get", f"invalid column name '{token}'")
                    columns.append(token)
            elif c == "s":
                chosen: set[str] = set()
                for token in (opt.argument or "").split(","):
                    if token not in (
                        "local",
                        "default",
                        "inherited",
                        "received",
                        "temporary",
                        "none",
                    ):
                        self.usage_exit("get", f"invalid source '{token}'")
                    chosen.add(token)
                sources = frozenset(chosen)
            elif c == "t":
                types = self._parse_types("get", opt.argument or "")
            elif c in ("j", "-json", "-json-int"):
                self.unsupported_option("get", "j")
            else:
                self.bad_option("get", opt)
        if not parsed.operands:
            self.usage_exit("get", "missing property argument")
        props = self._parse_fields("get", parsed.operands[0])
        roots = parsed.operands[1:]
        errors: list[ZfsError] = []
        rows = self.engine().list(
            roots,
            types=types if types is not None else ALL_TYPES,
            snapshots_when_named=types is None,
            recursive=recursive,
            depth=depth,
            properties=props,
            literal=literal,
            errors=errors,
        )
        for exc in errors:
            self.error(exc.message)
        self.out.write(
            format_get(
                rows,
                columns,
                scripted=scripted,
                literal=literal,
                sources=sources,
                expanded=props is None,
            )
        )
        return 1 if errors else 0

    # -- set ------------------------------------------------------------------------------
    def cmd_set(self, args: list[str]) -> int:
        parsed = gnu_getopt(args, "u")
        for opt in parsed.options:
            if opt.char != "u":
                self.usage_exit("set", f"invalid option '{opt.optopt}'")
        operands = parsed.operands
        if not operands:
            self.usage_exit("set", "missing arguments")
        if len(operands) < 2:
            if "=" not in operands[0]:
                self.usage_exit("set", "missing property=value argument(s)")
            self.usage_exit("set", "missing dataset name(s)")
        ds_start = -1
        for index, arg in enumerate(operands):
            if "=" in arg:
                if ds_start > 0:
                    self.usage_exit("set", "invalid argument order")
            elif ds_start < 0:
                ds_start = index
        if ds_start < 0:
            self.usage_exit("set", "missing dataset name(s)")
        props: dict[str, str] = {}
        for arg in operands[:ds_start]:
            key, _eq, value = arg.partition("=")
            if key in props:
                self.error(f"property '{key}' specified multiple times")
                return 255
            props[key] = value
        status = 0
        engine = self.engine()
        for name in operands[ds_start:]:
            try:
                engine.set(name, props)
            except ZfsError as exc:
                self.error(exc.message)
                status = 1
        return status

    # -- create ---------------------------------------------------------------------------
    def cmd_create(self, args: list[str]) -> int:
        parsed = gnu_getopt(args, ":PV:b:nso:puv")
        volsize: int | None = None
        parents = nomount = False
        props: dict[str, str] = {}
        for opt in parsed.options:
            c = opt.char
            if c == "V":
                try:
                    volsize = nicestrtonum(opt.argument or "")
                except NumberError as exc:
                    self.error(f"bad volume size '{opt.argument}': {exc}")
                    return 1
            elif c == "p":
                parents = True
            elif c == "o":
                if not self._parseprop(props, opt.argument or ""):
                    return 1
            elif c == "u":
                nomount = True
            elif c in ("P", "b", "n", "s", "v"):
                self.unsupported_option("create", c)
            elif c == ":":
                self.usage_exit("create", "missing size argument")
            else:
                self.usage_exit("create", f"invalid option '{opt.optopt}'")
        if nomount and volsize is not None:
            self.usage_exit("create", "'-u' can only be used when creating a filesystem")
        operands = parsed.operands
        if not operands:
            kind = "volume" if volsize is not None else "filesystem"
            self.usage_exit("create", f"missing {kind} argument")
        if len(operands) > 1:
            self.usage_exit("create", "too many arguments")
        self.engine().create(
            operands[0], parents=parents, volsize=volsize, properties=props, mount=not nomount
        )
        return 0

    def _parseprop(self, props: dict[str, str], text: str) -> bool:
        if "=" not in text:
            self.error("missing '=' for property=value argument")
            return False
        key, _eq, value = text.partition("=")
        if key in props:
            self.error(f"property '{key}' specified multiple times")
            return False
        props[key] = value
        return True

    # -- snapshot -------------------------------------------------------------------------
    def cmd_snapshot(self, args: list[str]) -> int:
        parsed = gnu_getopt(args, "ro:")
        recursive = False
        props: dict[str, str] = {}
        for opt in parsed.options:
            if opt.char == "o":
                if not self._parseprop(props, opt.argument or ""):
                    return 1
            elif opt.char == "r":
                recursive = True
            else:
                self.usage_exit("snapshot", f"invalid option '{opt.optopt}'")
        if not parsed.operands:
            self.usage_exit("snapshot", "missing snapshot argument")
        try:
            self.engine().snapshot(parsed.operands, recursive=recursive, properties=props)
        except DatasetOpenError as exc:
            self.usage_exit("snapshot", exc.message)
        return 0

    # -- bookmark -------------------------------------------------------------------------
    def cmd_bookmark(self, args: list[str]) -> int:
        parsed = gnu_getopt(args, "r")
        for opt in parsed.options:
            if opt.char == "r":
                self.unsupported_option("bookmark", "r")
            self.usage_exit("bookmark", f"invalid option '{opt.optopt}'")
        if not parsed.operands:
            self.usage_exit("bookmark", "missing source argument")
        if len(parsed.operands) < 2:
            self.usage_exit("bookmark", "missing bookmark argument")
        try:
            self.engine().bookmark(parsed.operands[0], parsed.operands[1])
        except DatasetOpenError as exc:
            self.usage_exit("bookmark", exc.message)
        return 0

    # -- destroy --------------------------------------------------------------------------
    def cmd_destroy(self, args: list[str]) -> int:
        parsed = gnu_getopt(args, "vpndfrR")
        recursive = False
        for opt in parsed.options:
            c = opt.char
            if c in ("r", "R"):
                recursive = True
            elif c == "f":
                pass  # force-unmount: nothing to unmount in the fake
            elif c in ("v", "p", "n", "d"):
                self.unsupported_option("destroy", c)
            else:
                self.usage_exit("destroy", f"invalid option '{opt.optopt}'")
        if not parsed.operands:
            self.usage_exit("destroy", "missing dataset argument")
        if len(parsed.operands) > 1:
            self.usage_exit("destroy", "too many arguments")
        self.engine().destroy(parsed.operands[0], recursive=recursive)
        return 0

    # -- send -----------------------------------------------------------------------------
    def cmd_send(self, args: list[str]) -> int:
        parsed = gnu_getopt(
            args,
            ":i:I:RsDpVvnPLeht:cwbd:SX:U",
            long_options=("replicate", "props", "verbose", "dryrun", "raw", "compressed"),
        )
        fromname: str | None = None
        for opt in parsed.options:
            c = opt.char
            if c == "i":
                if fromname is not None:
                    self.usage_exit("send")
                fromname = opt.argument or ""
            elif c in ("L", "e", "c"):
                pass  # stream-format flags; the fake's stream has one format
            elif c == ":":
                self.usage_exit("send", f"missing argument for '{opt.optopt}' option")
            elif c == "?":
                if opt.optopt:
                    self.usage_exit("send", f"invalid option '{opt.optopt}'")
                self.usage_exit("send", f"invalid option '{opt.argument}'")
            else:
                self.unsupported_option("send", c.lstrip("-"))
        if not parsed.operands:
            self.usage_exit("send", "missing snapshot argument")
        if len(parsed.operands) > 1:
            self.usage_exit("send", "too many arguments")
        target = parsed.operands[0]
        if _isatty(self.out):
            self.error(
                "Error: Stream can not be written to a terminal.\n"
                "You must redirect standard output."
            )
            return 1
        if fromname is not None and "@" not in fromname and "#" not in fromname:
            self.err.write(
                "Warning: incremental source didn't specify type, assuming snapshot. "
                "Use '@' or '#' prefix to avoid ambiguity.\n"
            )
            fromname = "@" + fromname
        if fromname is not None and fromname[:1] in ("@", "#"):
            fromname = target.split("@", 1)[0] + fromname
        stream = self.engine().send(target, fromname)
        self.out.flush()
        fd = _fileno(self.out)
        try:
            if fd is None:
                # Not a real file (in-process use): write through its binary buffer.
                binary = getattr(self.out, "buffer", None)
                if binary is None:
                    self.error("fake-zfs: standard output cannot take binary data")
                    return 1
                for chunk in stream:
                    binary.write(chunk)
                binary.flush()
                return 0
            _grow_pipe(fd)
            for chunk in stream:
                view = memoryview(chunk)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
        except BrokenPipeError:
            self.error(f"warning: cannot send '{target}': Broken pipe")
            return 1
        except OSError as exc:
            self.error(f"warning: cannot send '{target}': {exc.strerror or exc}")
            return 1
        return 0

    # -- receive --------------------------------------------------------------------------
    def cmd_receive(self, args: list[str]) -> int:
        parsed = gnu_getopt(args, ":o:x:dehMnuvFsAc")
        force = nomount = False
        for opt in parsed.options:
            c = opt.char
            if c == "F":
                force = True
            elif c == "u":
                nomount = True
            elif c == ":":
                self.usage_exit("receive", f"missing argument for '{opt.optopt}' option")
            elif c == "?":
                self.usage_exit("receive", f"invalid option '{opt.optopt}'")
            else:
                self.unsupported_option("receive", c)
        if not parsed.operands:
            self.usage_exit("receive", "missing snapshot argument")
        if len(parsed.operands) > 1:
            self.usage_exit("receive", "too many arguments")
        if _isatty(self.inp):
            self.error(
                "Error: Backup stream can not be read from a terminal.\n"
                "You must redirect standard input."
            )
            return 1
        binary: object = getattr(self.inp, "buffer", self.inp)
        raw = cast(Readable, getattr(binary, "raw", binary))
        fd = _fileno(self.inp)
        if fd is not None:
            _grow_pipe(fd)
        self.engine().receive(parsed.operands[0], raw, force=force, nomount=nomount)
        return 0


# -- init's arguments and its refusal ---------------------------------------------------
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


def _write(stream: TextIO, text: str) -> None:
    """Write ``text``; arguments that were not valid UTF-8 go out as their original bytes
    (like C's printf of argv), never as an encoding error."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        binary = getattr(stream, "buffer", None)
        if binary is not None:
            stream.flush()
            binary.write(text.encode("utf-8", "surrogateescape"))
            binary.flush()
        else:
            stream.write(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _fileno(stream: object) -> int | None:
    """The OS file descriptor behind ``stream``, if it has one."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None
    return fd if isinstance(fd, int) else None


def _isatty(stream: object) -> bool:
    fd = _fileno(stream)
    if fd is None:
        return False
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _grow_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe buffer (fewer context switches when streaming); best effort."""
    try:
        import fcntl

        setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
        if setpipe is not None:
            fcntl.fcntl(fd, setpipe, 1 << 20)
    except (OSError, ValueError, ImportError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fake-zfs`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None:
        # Process entry point only (tests call main(argv) in-process and keep their setup).
        # A short-lived process creating ~10^5 small objects: the cyclic GC only costs time.
        gc.disable()
        if hasattr(signal, "SIGPIPE") and not (args and args[0] == "send"):
            # Like a C program: a closed output pipe ends us quietly (no traceback);
            # send keeps SIGPIPE ignored to report "Broken pipe" as the real zfs does.
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    cli = _Cli(sys.stdin, sys.stdout, sys.stderr)
    import sqlite3

    try:
        return cli.run(args)
    except _Exit as exc:
        return exc.code
    except ZfsUsageError as exc:
        if exc.message:
            _write(sys.stderr, exc.message + ("\n" if exc.newline else ""))
        sys.stderr.write(command_usage(exc.command) if exc.command else global_usage())
        return 2
    except ZfsError as exc:
        _write(sys.stderr, exc.message + "\n")
        return exc.exit_code
    except sqlite3.OperationalError as exc:
        state = os.environ.get(STATE_ENV, "")
        _write(sys.stderr, f"fake-zfs: state file '{state}' is not usable: {exc}\n")
        return 1
    except sqlite3.DatabaseError as exc:
        state = os.environ.get(STATE_ENV, "")
        _write(sys.stderr, f"fake-zfs: state file '{state}' is corrupt: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # pragma: no cover - a bug; still no traceback for users
        _write(sys.stderr, f"fake-zfs: internal error: {type(exc).__name__}: {exc}\n")
        return 1
    finally:
        with contextlib.suppress(Exception):
            cli.close()


if __name__ == "__main__":
    sys.exit(main())
