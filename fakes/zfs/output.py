"""Text output of ``zfs list`` and ``zfs get``, column for column like the real program.

``zfs list`` (``cmd/zfs/zfs_main.c: print_header/collect_dataset``): with ``-H`` fields are
tab-separated with no header; otherwise columns are separated by two spaces, each as wide as
its header or widest value (numeric columns of fixed width are only widened with ``-p``),
numbers right-aligned, and the last left-aligned column not padded.

``zfs get`` (``lib/libzfs/libzfs_util.c: zprop_print_headers/zprop_print_one_property``):
columns NAME PROPERTY VALUE SOURCE by default, widths from all objects visited, ``-H`` tabs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .engine import Listed
from .properties import PROPERTIES, PropDef, lookup_property
from .query import PropValue

__all__ = ["GET_COLUMNS", "format_get", "format_list"]

GET_COLUMNS: Final = ("name", "property", "value", "received", "source")


class _Column:
    __slots__ = ("definition", "fixed", "header", "right", "width")

    def __init__(self, prop: str) -> None:
        definition = lookup_property(prop)
        self.definition: PropDef | None = definition
        if definition is not None:
            self.header = definition.column
            self.right = definition.right_align
            self.width = definition.width()
            self.fixed = definition.fixed_width
        else:
            self.header = prop.upper()
            self.right = False
            self.width = len(prop)
            self.fixed = False


def format_list(
    rows: Sequence[Sequence[str]], columns: Sequence[str], *, scripted: bool, literal: bool
) -> str:
    """The complete stdout of ``zfs list`` for ``rows`` of cell texts (``""`` if no rows)."""
    if not rows:
        return ""
    if scripted:
        if len(columns) == 1:
            return "\n".join([row[0] for row in rows]) + "\n"
        return "\n".join(["\t".join(row) for row in rows]) + "\n"
    cols = [_Column(c) for c in columns]
    for index, col in enumerate(cols):
        if col.fixed and not literal:
            continue
        widest = max(len(row[index]) for row in rows)
        # A value that does not apply ("-") never widens a column (zfs_prop_get failed).
        if widest > col.width:
            col.width = widest
    last = len(cols) - 1

    def render(cells: Sequence[str]) -> str:
        parts = []
        for index, col in enumerate(cols):
            text = cells[index]
            if index == last and not col.right:
                parts.append(text)
            elif col.right:
                parts.append(text.rjust(col.width))
            else:
                parts.append(text.ljust(col.width))
        return "  ".join(parts)

    lines = [render([col.header for col in cols])]
    lines.extend(render(row) for row in rows)
    lines.append("")
    return "\n".join(lines)


_SOURCE_FLAGS: Final = {
    "-": "none",
    "default": "default",
    "local": "local",
    "received": "received",
    "temporary": "temporary",
}


def _source_kind(source: str) -> str:
    if source.startswith("inherited from "):
        return "inherited"
    return _SOURCE_FLAGS.get(source, "none")


_GetLine = tuple[str, str, str, str, str]
"""One line of ``zfs get``: name, property, value, received, source."""


def format_get(
    rows: Sequence[Listed],
    columns: Sequence[str],
    *,
    scripted: bool,
    literal: bool,
    sources: frozenset[str] | None,
    expanded: bool,
) -> str:
    """The complete stdout of ``zfs get``.

    ``columns`` are among :data:`GET_COLUMNS`; ``sources`` filters by source kind
    (``None`` = all); ``expanded`` is true for ``all``, where properties that do not apply
    are skipped instead of shown as ``-``.
    """
    lines, value_widths = _get_lines(rows, literal=literal, sources=sources, expanded=expanded)
    if not lines:
        return ""
    widths = _get_widths(rows, value_widths, expanded=expanded)
    return _render_get(lines, columns, widths, scripted=scripted)


def _get_lines(
    rows: Sequence[Listed], *, literal: bool, sources: frozenset[str] | None, expanded: bool
) -> tuple[list[_GetLine], dict[str, int]]:
    """The lines ``zfs get`` prints, and the VALUE width of every property in the list
    (shown or not: zprop_print_headers measures them all), by canonical name."""
    lines: list[_GetLine] = []
    seen_props: dict[str, int] = {}
    for row in rows:
        for prop, value in row.values:
            definition = lookup_property(prop)
            canonical = definition.name if definition is not None else prop
            width = seen_props.get(canonical)
            if width is None:
                width = definition.width() if definition is not None else len(prop)
            if value is not None and (definition is None or not definition.fixed_width or literal):
                width = max(width, len(value.text))
            seen_props[canonical] = width
            if value is None and expanded:
                continue
            shown: PropValue = value if value is not None else PropValue("-", None, "-")
            if sources is not None and _source_kind(shown.source) not in sources:
                continue
            lines.append((row.object.name, canonical, shown.text, "-", shown.source))
    return lines, seen_props


def _get_widths(
    rows: Sequence[Listed], seen_props: dict[str, int], *, expanded: bool
) -> dict[str, int]:
    """Column widths as zprop_print_headers has them: PROPERTY from every property in the
    list, VALUE from every property's expanded width, NAME from every object visited."""
    name_width = 4
    for row in rows:
        name_width = max(name_width, len(row.object.name))
    if expanded:
        for definition in PROPERTIES:
            if not definition.hidden:
                seen_props.setdefault(definition.name, definition.width())
    prop_width = len("PROPERTY")
    value_width = len("VALUE")
    for canonical, width in seen_props.items():
        prop_width = max(prop_width, len(canonical))
        value_width = max(value_width, width)
    return {
        "name": name_width,
        "property": prop_width,
        "value": value_width,
        "received": len("RECEIVED"),
        # zprop_print_headers only widens SOURCE when a name is wider than "NAME".
        "source": name_width + len("inherited from") if name_width > 4 else len("SOURCE"),
    }


def _render_get(
    lines: Sequence[_GetLine], columns: Sequence[str], widths: dict[str, int], *, scripted: bool
) -> str:
    """The header (unless ``-H``) and the lines, in ``columns``: two spaces between padded
    columns, or tabs with ``-H``; the last column never padded."""
    out: list[str] = []
    last = len(columns) - 1
    if not scripted:
        head = []
        for index, col in enumerate(columns):
            title = col.upper()
            head.append(title if index == last else f"{title:<{widths[col]}}  ")
        out.append("".join(head))
    for name, prop, text, received, source in lines:
        fields = {
            "name": name,
            "property": prop,
            "value": text,
            "received": received,
            "source": source,
        }
        parts = []
        for index, col in enumerate(columns):
            field = fields[col]
            if index == last:
                parts.append(field)
            elif scripted:
                parts.append(field + "\t")
            else:
                parts.append(f"{field:<{widths[col]}}  ")
        out.append("".join(parts))
    out.append("")
    return "\n".join(out)
