"""GNU ``getopt``/``getopt_long`` as zfs(8) on Linux uses it, with ``opterr = 0``.

The exact parsing decides which error the real command prints: options may follow operands
(GNU permutes unless ``POSIXLY_CORRECT`` is set), ``-Hp`` clusters, ``-oname`` and
``-o name`` both work, ``--`` ends options, and an option missing its argument is reported
as ``':'`` when the option string starts with ``:`` and as ``'?'`` otherwise. Python's
``getopt`` module differs in several of these, hence this small re-implementation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["GetoptResult", "Option", "gnu_getopt"]


@dataclass(frozen=True, slots=True)
class Option:
    """One parsed option: ``char`` is the letter, or ``'?'``/``':'`` for errors.

    On an error ``optopt`` holds the offending letter (``""`` for an unknown long option,
    whose text is then in ``argument``).
    """

    char: str
    argument: str | None = None
    optopt: str = ""


@dataclass(frozen=True, slots=True)
class GetoptResult:
    """Options in order of appearance and the operands left over."""

    options: list[Option]
    operands: list[str]


def gnu_getopt(
    args: Sequence[str], optstring: str, *, long_options: Sequence[str] = ()
) -> GetoptResult:
    """Parse ``args`` (without the subcommand name) like glibc does.

    Parsing does not stop at the first error: every option is reported in order and the
    caller acts on the first error, as the real ``while (getopt...) switch`` loop does.
    ``long_options`` lists the ``--name`` options accepted (all without arguments).
    """
    colon_mode = optstring.startswith(":")
    spec = optstring.lstrip(":+-")
    takes_arg: dict[str, bool] = {}
    for index, ch in enumerate(spec):
        if ch == ":":
            continue
        takes_arg[ch] = index + 1 < len(spec) and spec[index + 1] == ":"
    posix = "POSIXLY_CORRECT" in os.environ
    options: list[Option] = []
    operands: list[str] = []
    i = 0
    n = len(args)
    while i < n:
        arg = args[i]
        if arg == "--":
            operands.extend(args[i + 1 :])
            break
        if not arg.startswith("-") or arg == "-":
            if posix:
                operands.extend(args[i:])
                break
            operands.append(arg)
            i += 1
            continue
        if arg.startswith("--") and long_options is not None and long_options:
            name = arg[2:].split("=", 1)[0]
            if name in long_options:
                options.append(Option("-" + name))
            else:
                options.append(Option("?", argument=arg, optopt=""))
            i += 1
            continue
        j = 1
        while j < len(arg):
            ch = arg[j]
            if ch not in takes_arg or ch == ":":
                options.append(Option("?", optopt=ch))
                j += 1
                continue
            if not takes_arg[ch]:
                options.append(Option(ch))
                j += 1
                continue
            if j + 1 < len(arg):
                options.append(Option(ch, argument=arg[j + 1 :]))
            elif i + 1 < n:
                i += 1
                options.append(Option(ch, argument=args[i]))
            else:
                options.append(Option(":" if colon_mode else "?", optopt=ch))
            break
        i += 1
    return GetoptResult(options, operands)
