"""Usage texts of the fake ``zfs`` command, as ``cmd/zfs/zfs_main.c: usage()`` prints them.

The per-command synopses are the real ones (``get_usage``); the global usage lists only the
subcommands the fake implements, grouped as in the real command table. For ``list``,
``get`` and ``set`` the real program appends its property table; the fake prints the same
layout for the properties it models.
"""

from __future__ import annotations

from typing import Final

from .properties import PROPERTIES

__all__ = ["COMMAND_GROUPS", "SYNOPSES", "command_usage", "global_usage"]

SYNOPSES: Final[dict[str, str]] = {
    "create": (
        "\tcreate [-Pnp[p]uv] [-o property=value] ... <filesystem>\n"
        "\tcreate [-Pnp[p]sv] [-b blocksize] [-o property=value] ... -V <size> <volume>\n"
    ),
    "destroy": (
        "\tdestroy [-fnpRrv] <filesystem|volume>\n"
        "\tdestroy [-dnpRrv] <filesystem|volume>@<snap>[%<snap>][,...]\n"
        "\tdestroy <filesystem|volume>#<bookmark>\n"
    ),
    "snapshot": "\tsnapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...\n",
    "bookmark": "\tbookmark [-r] <snapshot|bookmark> <newbookmark>\n",
    "list": (
        "\tlist [-Hp] [-j [--json-int]] [-r|-d max] [-o property[,...]] [-s property]...\n"
        "\t    [-S property]... [-t type[,...]] [filesystem|volume|snapshot] ...\n"
    ),
    "set": "\tset [-u] <property=value> ... <filesystem|volume|snapshot> ...\n",
    "get": (
        '\tget [-rHp] [-j [--json-int]] [-d max] [-o "all" | field[,...]]\n'
        "\t    [-t type[,...]] [-s source[,...]]\n"
        '\t    <"all" | property[,...]> [filesystem|volume|snapshot|bookmark] ...\n'
    ),
    "send": (
        "\tsend [-DLPbcehnpsUVvw] [-i|-I snapshot]\n"
        "\t     [-R [-X dataset[,dataset]...]]     <snapshot>\n"
        "\tsend [-DnVvPLecwU] [-i snapshot|bookmark] <filesystem|volume|snapshot>\n"
        "\tsend [-DnPpVvLec] [-i bookmark|snapshot] --redact <bookmark> <snapshot>\n"
        "\tsend [-nVvPe] -t <receive_resume_token>\n"
        "\tsend [-PnVv] --saved filesystem\n"
    ),
    "receive": (
        "\treceive [-vMnsFhu] [-o <property>=<value>] ... [-x <property>] ...\n"
        "\t    <filesystem|volume|snapshot>\n"
        "\treceive [-vMnsFhu] [-o <property>=<value>] ... [-x <property>] ... \n"
        "\t    [-d | -e] <filesystem>\n"
        "\treceive -A <filesystem|volume>\n"
    ),
}

#: Implemented subcommands in the grouping of the real command table.
COMMAND_GROUPS: Final = (
    ("create", "destroy"),
    ("snapshot", "bookmark"),
    ("list",),
    ("set", "get"),
    ("send", "receive"),
)

_PROPERTY_COMMANDS: Final = frozenset({"set", "get", "inherit", "list"})


def _property_table() -> str:
    lines = [
        "\nThe following properties are supported:\n",
        "\n\t{:<21} {}  {}   {}\n\n".format("PROPERTY", "EDIT", "INHERIT", "VALUES"),
    ]
    visible = [p for p in PROPERTIES if not p.hidden]
    ordered = sorted(visible, key=lambda p: (not p.readonly, p.name))
    for prop in ordered:
        edit = " NO    " if prop.readonly else "YES    "
        inherit = "  YES   " if prop.inherit else "   NO   "
        lines.append(f"\t{prop.name:<22} {edit}{inherit}{prop.values or '-'}\n")
    for name in (
        "userused@...",
        "groupused@...",
        "projectused@...",
        "userobjused@...",
        "groupobjused@...",
        "projectobjused@...",
    ):
        lines.append(f"\t{name:<22}  NO       NO   <size>\n")
    for name in (
        "userquota@...",
        "groupquota@...",
        "projectquota@...",
        "userobjquota@...",
        "groupobjquota@...",
        "projectobjquota@...",
    ):
        lines.append(f"\t{name:<22} YES       NO   <size> | none\n")
    lines.append(f"\t{'written@<snap>':<22}  NO       NO   <size>\n")
    lines.append(f"\t{'written#<bookmark>':<22}  NO       NO   <size>\n")
    lines.append("\nSizes are specified in bytes with standard units such as K, M, G, etc.\n")
    lines.append(
        "\nUser-defined properties can be specified by using a name containing a colon (:).\n"
    )
    lines.append(
        "\nThe {user|group|project}[obj]{used|quota}@ properties must be appended with\n"
        "a user|group|project specifier of one of these forms:\n"
        '    POSIX name      (eg: "matt")\n'
        '    POSIX id        (eg: "126829")\n'
        '    SMB name@domain (eg: "matt@sun")\n'
        '    SMB SID         (eg: "S-1-234-567-89")\n'
    )
    return "".join(lines)


_TRAILER: Final = (
    "\nFor the property list, run: zfs set|get\n"
    "\nFor the delegated permission list, run: zfs allow|unallow\n"
    "\nFor further help on a command or topic, run: zfs help [<topic>]\n"
)


def command_usage(command: str) -> str:
    """``usage(B_FALSE)`` inside a subcommand: its synopsis plus table or trailer."""
    text = "usage:\n" + SYNOPSES[command]
    if command in _PROPERTY_COMMANDS:
        return text + _property_table()
    return text + _TRAILER


def global_usage() -> str:
    """``usage()`` outside any subcommand: every implemented synopsis, grouped."""
    parts = ["usage: zfs command args ...\n", "where 'command' is one of the following:\n\n"]
    for index, group in enumerate(COMMAND_GROUPS):
        if index:
            parts.append("\n")
        parts.extend(SYNOPSES[name] for name in group)
    parts.append("\nEach dataset is of the form: pool/[dataset/]*dataset[@name]\n")
    parts.append(_TRAILER)
    return "".join(parts)
