"""ZFS object names: validation with the real OpenZFS rules and messages, and splitting.

Real ``zfs`` rejects a bad name before it touches the pool, with a precise reason
(``lib/libzfs/libzfs_dataset.c: zfs_validate_name`` wrapping
``module/zcommon/zfs_namecheck.c: entity_namecheck``). The fake must give the same reason
for the same name, so this module re-implements those rules (independently written) and
returns the reason text; callers prefix it with their own ``cannot open '...'`` etc.

Names: ``pool/fs`` (filesystem or volume), ``pool/fs@snap`` (snapshot),
``pool/fs#mark`` (bookmark). A name is at most 255 bytes.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALL_TYPES",
    "BOOKMARK",
    "DATASET_TYPES",
    "FILESYSTEM",
    "MAX_NAME_LEN",
    "SNAPSHOT",
    "VOLUME",
    "invalid_name_reason",
    "parent_name",
    "pool_of",
    "split_version",
]

FILESYSTEM: Final = "filesystem"
VOLUME: Final = "volume"
SNAPSHOT: Final = "snapshot"
BOOKMARK: Final = "bookmark"
#: What ``ZFS_TYPE_DATASET`` means in OpenZFS: filesystems, volumes and snapshots.
DATASET_TYPES: Final = frozenset({FILESYSTEM, VOLUME, SNAPSHOT})
ALL_TYPES: Final = frozenset({FILESYSTEM, VOLUME, SNAPSHOT, BOOKMARK})

#: ``ZFS_MAX_DATASET_NAME_LEN`` is 256 including the terminating NUL.
MAX_NAME_LEN: Final = 255

_VALID_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.: "
)
_EMPTY_COMPONENT: Final = "empty component or misplaced '@' or '#' delimiter in name"


def invalid_name_reason(name: str, types: frozenset[str], *, modifying: bool = False) -> str | None:
    """Why ``name`` is not a valid name of one of ``types``; ``None`` when it is valid.

    ``types`` is the set of object types the caller accepts; the delimiter checks depend on
    it exactly as in ``zfs_validate_name``. ``modifying`` forbids ``%`` (used when creating).
    """
    if SNAPSHOT not in types and "@" in name:
        return "snapshot delimiter '@' is not expected here"
    if types == {SNAPSHOT} and "@" not in name:
        return "missing '@' delimiter in snapshot name"
    if BOOKMARK not in types and "#" in name:
        return "bookmark delimiter '#' is not expected here"
    if types == {BOOKMARK} and "#" not in name:
        return "missing '#' delimiter in bookmark name"
    if modifying and "%" in name:
        return "invalid character % in name"
    return _entity_reason(name)


def _entity_reason(path: str) -> str | None:
    """The checks of ``entity_namecheck``, in its order."""
    if len(path.encode("utf-8", "surrogateescape")) > MAX_NAME_LEN:
        return "name is too long"
    if path.startswith("/"):
        return "leading slash in name"
    if not path:
        return _EMPTY_COMPONENT
    start = 0
    found_delim = False
    length = len(path)
    while True:
        end = start
        while end < length and path[end] not in "/@#":
            end += 1
        if end == length and path[end - 1] == "/":
            return "trailing slash in name"
        for ch in path[start:end]:
            if ch not in _VALID_CHARS and ch != "%":
                return f"invalid character '{ch}' in name"
        terminator = path[end] if end < length else ""
        if terminator in ("", "/"):
            component = path[start:end]
            if component == ".":
                return "self reference, '.' is found in name"
            if component == "..":
                return "parent reference, '..' is found in name"
        if terminator in ("@", "#"):
            if found_delim:
                return "multiple '@' and/or '#' delimiters in name"
            found_delim = True
        if start == end:
            return _EMPTY_COMPONENT
        if terminator == "":
            return None
        if terminator == "/" and found_delim:
            return "trailing slash in name"
        start = end + 1


def split_version(name: str) -> tuple[str, str, str]:
    """Split ``fs@snap`` / ``fs#mark`` / ``fs`` into ``(fs, delimiter, short name)``.

    The delimiter is ``"@"``, ``"#"`` or ``""``; the first delimiter wins.
    """
    for index, ch in enumerate(name):
        if ch in "@#":
            return name[:index], ch, name[index + 1 :]
    return name, "", ""


def parent_name(name: str) -> str | None:
    """The parent dataset of a dataset name, ``None`` for a pool's root dataset."""
    cut = name.rfind("/")
    return None if cut < 0 else name[:cut]


def pool_of(name: str) -> str:
    """The pool part of any object name."""
    end = len(name)
    for index, ch in enumerate(name):
        if ch in "/@#":
            end = index
            break
    return name[:end]
