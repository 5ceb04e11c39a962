"""Go type descriptors: what a Go type is and how its values map to Python values.

The encoder and the decoder of :mod:`bytestreamrpc.gojson` both walk these; they are the
package's vocabulary, kept apart so that neither codec half owns them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "GoBool",
    "GoByteArray",
    "GoField",
    "GoSlice",
    "GoString",
    "GoStruct",
    "GoType",
    "GoUint",
]

# ``eq=False`` keeps hashing by identity: descriptors are module-level singletons used as
# memo keys, and structural hashing of nested field tuples would cost on every lookup.


@dataclass(frozen=True, eq=False)
class GoUint:
    """An unsigned Go integer type (``uint8``, ``uint64`` or a named type over them)."""

    bits: int
    go_name: str


@dataclass(frozen=True, eq=False)
class GoBool:
    """Go ``bool`` (or a named bool type)."""

    go_name: str = "bool"


@dataclass(frozen=True, eq=False)
class GoString:
    """Go ``string`` (or a named string type such as ``zfs.VersionType``)."""

    go_name: str = "string"


@dataclass(frozen=True, eq=False)
class GoByteArray:
    """Go ``[N]byte``: Python ``bytes`` of length N, JSON array of numbers (not base64)."""

    length: int
    go_name: str


@dataclass(frozen=True, eq=False)
class GoSlice:
    """Go slice ``[]E``: Python ``tuple`` or ``None`` (nil, JSON ``null``).

    ``build``/``read`` optionally convert between that tuple-or-None and a richer Python
    value (e.g. ``zfs.DatasetPath`` is a ``[]string`` shown as a ``DatasetPath`` object).
    """

    elem: GoType
    go_name: str
    build: Callable[[tuple[object, ...] | None], object] | None = None
    read: Callable[[object], tuple[object, ...] | None] | None = None


@dataclass(frozen=True, eq=False)
class GoField:
    """One exported struct field: Go/JSON ``name``, its type, and the Python attribute."""

    name: str
    type: GoType
    attr: str


@dataclass(frozen=True, eq=False)
class GoStruct:
    """A Go struct; ``build`` makes the Python value from ``{attr: value}``, ``read`` inverts."""

    go_name: str
    fields: tuple[GoField, ...]
    build: Callable[[dict[str, object]], object]
    read: Callable[[object], dict[str, object]]
    short_name: str = field(init=False)
    _exact: dict[str, GoField] = field(init=False, repr=False)
    _folded: dict[str, GoField] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for f in self.fields:
            if not (f.name.isascii() and f.name.isalpha()):
                # The folding shortcut in ``lookup`` relies on ASCII-letter field names.
                raise ValueError(f"unsupported Go field name {f.name!r}")
        object.__setattr__(self, "short_name", self.go_name.rpartition(".")[2])
        object.__setattr__(self, "_exact", {f.name: f for f in self.fields})
        folded: dict[str, GoField] = {}
        for f in self.fields:
            folded.setdefault(f.name.lower(), f)
        object.__setattr__(self, "_folded", folded)

    def lookup(self, key: str) -> GoField | None:
        """Go's field matching: exact name first, else Unicode simple case folding.

        Field names are ASCII letters, and the only non-ASCII runes that fold onto ASCII
        letters are U+017F (ſ, folds to s) and U+212A (Kelvin sign, folds to k).
        """
        f = self._exact.get(key)
        if f is not None:
            return f
        if not key.isascii():
            key = key.replace("\u017f", "s").replace("\u212a", "k")
            if not key.isascii():
                return None
        return self._folded.get(key.lower())


GoType = GoUint | GoBool | GoString | GoByteArray | GoSlice | GoStruct
