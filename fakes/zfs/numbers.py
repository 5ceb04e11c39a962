"""Number and date text exactly as zfs(8) writes and reads it.

Human-readable sizes follow ``lib/libzutil/zutil_nicenum.c: zfs_nicenum_format`` (at most
five characters, ``1.50M``, ``96K``, ``0B``); size arguments such as ``-V 10G`` follow
``lib/libzfs/libzfs_util.c: zfs_nicestrtonum``; ``-d`` depths follow C ``strtol(s, _, 0)``;
``creation`` is shown with ``strftime("%a %b %e %k:%M %Y")`` in local time. Re-implemented
here so that ``zfs list`` output of the fake is byte-identical to the real program's.
"""

from __future__ import annotations

import time

__all__ = [
    "NumberError",
    "format_creation",
    "nicebytes",
    "nicenum",
    "nicestrtonum",
    "strtol_c",
]

_UINT64_MAX = (1 << 64) - 1


class NumberError(ValueError):
    """A size argument did not parse; ``str(error)`` is the real zfs reason text."""


def _nice(num: int, units: tuple[str, ...]) -> str:
    index = 0
    n = num
    while n >= 1024 and index < 6:
        n //= 1024
        index += 1
    unit = units[index]
    if index == 0 or num % (1024**index) == 0:
        return f"{n}{unit}"
    value = num / (1024**index)
    text = ""
    for precision in (2, 1, 0):
        text = f"{value:.{precision}f}{unit}"
        if len(text) <= 5:
            break
    return text


def nicenum(num: int) -> str:
    """``zfs_nicenum``: 1024-based with suffixes K M G T P E and no ``B`` (e.g. ``1.50M``)."""
    return _nice(num, ("", "K", "M", "G", "T", "P", "E"))


def nicebytes(num: int) -> str:
    """``zfs_nicebytes``: like :func:`nicenum` but bytes below 1 KiB get a ``B`` (``0B``)."""
    return _nice(num, ("B", "K", "M", "G", "T", "P", "E"))


def _shift_for_suffix(suffix: str) -> int:
    """``str2shift``: ``''``, ``K``, ``KB``, ``KiB`` ... (case-insensitive)."""
    if suffix == "":
        return 0
    letters = "BKMGTPEZ"
    first = suffix[0].upper()
    index = letters.find(first)
    if index < 0:
        raise NumberError(f"invalid numeric suffix '{suffix}'")
    rest = suffix[1:].upper()
    if rest == "" or (first != "B" and rest in ("B", "IB")):
        return 10 * index
    raise NumberError(f"invalid numeric suffix '{suffix}'")


def nicestrtonum(value: str) -> int:
    """Parse a size like ``10G``, ``1.5M`` or ``4096``; raise :class:`NumberError` if bad."""
    if not value or (not value[0].isdigit() and value[0] != "."):
        raise NumberError(f"bad numeric value '{value}'")
    if not value[0].isascii():
        raise NumberError(f"bad numeric value '{value}'")
    end = 0
    while end < len(value) and value[end] in "0123456789":
        end += 1
    if end < len(value) and value[end] == ".":
        frac_end = end + 1
        while frac_end < len(value) and value[frac_end] in "0123456789":
            frac_end += 1
        number_text = value[:frac_end]
        shift = _shift_for_suffix(value[frac_end:])
        try:
            fval = float(number_text) * float(2**shift)
        except ValueError as exc:
            raise NumberError(f"bad numeric value '{value}'") from exc
        if fval >= float(_UINT64_MAX):
            raise NumberError("numeric value is too large")
        return int(fval)
    number = int(value[:end]) if end else 0
    if number > _UINT64_MAX:
        raise NumberError("numeric value is too large")
    shift = _shift_for_suffix(value[end:])
    if shift >= 64 or (number << shift) > _UINT64_MAX:
        raise NumberError("numeric value is too large")
    return number << shift


def strtol_c(text: str) -> tuple[int, bool]:
    """C ``strtol(text, &end, 0)``: ``(value, whole_string_consumed)``.

    Leading white space and a sign are accepted, ``0x`` means hex, a leading ``0`` octal.
    An empty string gives ``(0, True)`` exactly like C (``*end`` is the terminating NUL).
    """
    i = 0
    n = len(text)
    while i < n and text[i] in " \t\n\v\f\r":
        i += 1
    negative = False
    if i < n and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    base = 10
    if text[i : i + 2].lower() == "0x" and i + 2 < n and text[i + 2] in "0123456789abcdefABCDEF":
        base = 16
        i += 2
    elif text[i : i + 1] == "0":
        base = 8
    digits = "0123456789abcdef"[:base]
    start = i
    value = 0
    while i < n and text[i].lower() in digits:
        value = value * base + digits.index(text[i].lower())
        i += 1
    if i == start:
        # No digits at all: strtol leaves end at the very beginning of the string.
        return 0, n == 0
    value = -value if negative else value
    value = max(min(value, (1 << 63) - 1), -(1 << 63))
    return value, i == n


def format_creation(epoch_seconds: int) -> str:
    """``creation`` as ``zfs get`` shows it without ``-p``: ``Mon May  1  0:00 2017``."""
    try:
        return time.strftime("%a %b %e %k:%M %Y", time.localtime(epoch_seconds))
    except (OverflowError, OSError, ValueError):
        return str(epoch_seconds)
