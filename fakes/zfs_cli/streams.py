"""``zfs send`` and ``zfs receive``: the commands that move a send stream through a pipe.

They refuse a terminal as the stream's end, as the real ones do, and ask for a large pipe
buffer (:func:`~.plumbing.grow_pipe`) since a stream is many small writes otherwise.
"""

from __future__ import annotations

import os
from typing import cast

from fakes.zfs.getopt import gnu_getopt
from fakes.zfs.stream import Readable

from .plumbing import Plumbing, fileno, grow_pipe, isatty

__all__ = ["StreamCommands"]


class StreamCommands(Plumbing):
    """``send`` and ``receive``."""

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
        if isatty(self.out):
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
        fd = fileno(self.out)
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
            grow_pipe(fd)
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
        if isatty(self.inp):
            self.error(
                "Error: Backup stream can not be read from a terminal.\n"
                "You must redirect standard input."
            )
            return 1
        binary: object = getattr(self.inp, "buffer", self.inp)
        raw = cast(Readable, getattr(binary, "raw", binary))
        fd = fileno(self.inp)
        if fd is not None:
            grow_pipe(fd)
        self.engine().receive(parsed.operands[0], raw, force=force, nomount=nomount)
        return 0
