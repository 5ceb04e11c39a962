"""``zfs list`` and ``zfs get``: the read-only commands, and the option values they share
(property lists, type lists, depths)."""

from __future__ import annotations

from typing import Final

from fakes.zfs.errors import ZfsError
from fakes.zfs.getopt import gnu_getopt
from fakes.zfs.names import ALL_TYPES, BOOKMARK, FILESYSTEM, SNAPSHOT, VOLUME
from fakes.zfs.numbers import strtol_c
from fakes.zfs.properties import is_user_property, lookup_property

from .plumbing import Plumbing

__all__ = ["QueryCommands"]

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
_GET_SOURCES: Final = ("local", "default", "inherited", "received", "temporary", "none")


class QueryCommands(Plumbing):
    """``list`` and ``get``."""

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

    def _parse_get_columns(self, text: str) -> list[str]:
        """``get -o``: the columns, ``all`` for every one."""
        from fakes.zfs.output import GET_COLUMNS

        columns: list[str] = []
        for token in text.split(","):
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
        return columns

    def _parse_get_sources(self, text: str) -> frozenset[str]:
        """``get -s``: the source kinds to show."""
        chosen: set[str] = set()
        for token in text.split(","):
            if token not in _GET_SOURCES:
                self.usage_exit("get", f"invalid source '{token}'")
            chosen.add(token)
        return frozenset(chosen)

    def cmd_get(self, args: list[str]) -> int:
        from fakes.zfs.output import format_get

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
                columns = self._parse_get_columns(opt.argument or "")
            elif c == "s":
                sources = self._parse_get_sources(opt.argument or "")
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
