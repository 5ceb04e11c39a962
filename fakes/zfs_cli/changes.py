"""The commands that change datasets: ``zfs set``, ``create``, ``snapshot``, ``bookmark`` and
``destroy`` (``send``/``receive`` are :mod:`.streams`)."""

from __future__ import annotations

from fakes.zfs.errors import DatasetOpenError, ZfsError
from fakes.zfs.getopt import gnu_getopt
from fakes.zfs.numbers import NumberError, nicestrtonum

from .plumbing import Plumbing

__all__ = ["ChangeCommands"]


class ChangeCommands(Plumbing):
    """``set``, ``create``, ``snapshot``, ``bookmark``, ``destroy``."""

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
