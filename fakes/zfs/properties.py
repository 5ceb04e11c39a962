"""The native properties the fake models, described the way OpenZFS describes them.

Each :class:`PropDef` mirrors one ``zprop_register_*`` call in
``module/zcommon/zfs_prop.c``: its name, ``zfs list`` column header, value kind, which object
types it applies to, whether it is read-only or inherited, its alignment and whether its column
width is fixed (``pl_fixed``). ``zfs list``, ``zfs get``, ``zfs set`` and the usage text all
read this one table, so a property behaves the same everywhere.

Only properties that replication and its tests touch are modelled (see ``PROPERTIES``); any
other native name is rejected as ``invalid property``, and any name with a ``:`` is a user
property (``zfs_prop_user``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .names import BOOKMARK, FILESYSTEM, SNAPSHOT, VOLUME

__all__ = [
    "PROPERTIES",
    "PropDef",
    "is_user_property",
    "lookup_property",
]


@dataclass(frozen=True, slots=True)
class PropDef:
    """One native property; field meanings follow ``zprop_desc_t``."""

    name: str
    column: str
    kind: str  # "number", "string" or "index"
    types: frozenset[str]
    readonly: bool
    inherit: bool
    values: str
    right_align: bool = False
    fixed_width: bool = False
    index_values: tuple[str, ...] = ()
    hidden: bool = False

    def width(self) -> int:
        """``zprop_width``: the starting column width before any value is seen."""
        width = len(self.column)
        if self.kind == "number":
            width = max(width, 5)
        elif self.kind == "index":
            width = max([width, *(len(v) for v in self.index_values)])
        return width


_ALL: Final = frozenset({FILESYSTEM, VOLUME, SNAPSHOT, BOOKMARK})
_DATASETS: Final = frozenset({FILESYSTEM, VOLUME, SNAPSHOT})
_FS_VOL: Final = frozenset({FILESYSTEM, VOLUME})

#: The modelled properties in OpenZFS enum order (the order ``zfs get all`` prints them).
PROPERTIES: Final[tuple[PropDef, ...]] = (
    PropDef(
        "type", "TYPE", "string", _ALL, True, False, "filesystem | volume | snapshot | bookmark"
    ),
    PropDef("creation", "CREATION", "number", _ALL, True, False, "<date>"),
    PropDef(
        "used",
        "USED",
        "number",
        _DATASETS,
        True,
        False,
        "<size>",
        right_align=True,
        fixed_width=True,
    ),
    PropDef(
        "available",
        "AVAIL",
        "number",
        _FS_VOL,
        True,
        False,
        "<size>",
        right_align=True,
        fixed_width=True,
    ),
    PropDef(
        "referenced",
        "REFER",
        "number",
        _ALL,
        True,
        False,
        "<size>",
        right_align=True,
        fixed_width=True,
    ),
    PropDef(
        "mounted",
        "MOUNTED",
        "index",
        frozenset({FILESYSTEM}),
        True,
        False,
        "yes | no",
        index_values=("no", "yes"),
    ),
    PropDef(
        "volsize",
        "VOLSIZE",
        "number",
        frozenset({SNAPSHOT, VOLUME}),
        False,
        False,
        "<size>",
        right_align=True,
        fixed_width=True,
    ),
    PropDef(
        "mountpoint",
        "MOUNTPOINT",
        "string",
        frozenset({FILESYSTEM}),
        False,
        True,
        "<path> | legacy | none",
    ),
    PropDef(
        "readonly",
        "RDONLY",
        "index",
        _FS_VOL,
        False,
        True,
        "on | off",
        index_values=("off", "on"),
    ),
    PropDef("createtxg", "CREATETXG", "number", _ALL, True, False, "<uint64>", right_align=True),
    PropDef("name", "NAME", "string", _ALL, True, False, "", hidden=True),
    PropDef("guid", "GUID", "number", _ALL, True, False, "<uint64>", right_align=True),
    PropDef(
        "written",
        "WRITTEN",
        "number",
        _DATASETS,
        True,
        False,
        "<size>",
        right_align=True,
        fixed_width=True,
    ),
)

_BY_NAME: Final = {p.name: p for p in PROPERTIES}
_BY_COLUMN: Final = {p.column.lower(): p for p in PROPERTIES}

_USER_PROP_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.:")


def lookup_property(name: str) -> PropDef | None:
    """The native property called ``name`` (or its column alias, e.g. ``avail``, ``rdonly``).

    Like ``zprop_name_to_prop`` (``propname_match``) the full name must match exactly and the
    alias must be the lower-cased column header.
    """
    prop = _BY_NAME.get(name)
    if prop is None:
        prop = _BY_COLUMN.get(name)
    return prop


def is_user_property(name: str) -> bool:
    """``zfs_prop_user``: only ``[a-z0-9-_.:]`` and at least one ``:``."""
    return ":" in name and all(ch in _USER_PROP_CHARS for ch in name)
