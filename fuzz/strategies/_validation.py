"""Eager argument checks in Hypothesis's style: bad arguments raise ``InvalidArgument`` at once.

Hypothesis's own strategies defer validation to the first draw; ours check when called, so a
typo in a campaign's configuration fails before any process is started or any time is spent.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from hypothesis.errors import InvalidArgument


def check_int(value: object, name: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` must be an ``int`` (not ``bool``) within ``[minimum, maximum]``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be an integer")
    if value < minimum:
        raise InvalidArgument(f"{name}={value!r} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise InvalidArgument(f"{name}={value!r} must be at most {maximum}")
    return value


def check_sizes(
    min_size: object,
    max_size: object,
    *,
    floor: int = 0,
    ceiling: int | None = None,
    min_name: str = "min_size",
    max_name: str = "max_size",
) -> tuple[int, int]:
    """``floor <= min_size <= max_size <= ceiling``, both integers."""
    lo = check_int(min_size, min_name, minimum=floor, maximum=ceiling)
    hi = check_int(max_size, max_name, minimum=floor, maximum=ceiling)
    if lo > hi:
        raise InvalidArgument(f"{min_name}={lo} must not exceed {max_name}={hi}")
    return lo, hi


def check_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be True or False")
    return value


def check_choice(value: object, name: str, allowed: Collection[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise InvalidArgument(f"{name}={value!r} must be one of {options}")
    return value


def check_subset(values: object, name: str, allowed: Collection[object]) -> tuple[object, ...]:
    """A non-empty collection whose every item is in ``allowed`` (order kept, deduplicated)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidArgument(f"{name}={values!r} must be a collection")
    items = tuple(dict.fromkeys(values))
    if not items:
        raise InvalidArgument(f"{name} must not be empty")
    bad = [v for v in items if v not in allowed]
    if bad:
        raise InvalidArgument(f"{name}: {bad[0]!r} is not one of {sorted(map(str, allowed))}")
    return items


def check_strings(values: object, name: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    """A collection of strings (order kept, deduplicated)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidArgument(f"{name}={values!r} must be a collection of strings")
    items = tuple(dict.fromkeys(values))
    if not items and not allow_empty:
        raise InvalidArgument(f"{name} must not be empty")
    strings: list[str] = []
    for v in items:
        if not isinstance(v, str):
            raise InvalidArgument(f"{name}: {v!r} is not a string")
        strings.append(v)
    return tuple(strings)
