"""Name rules, number formats and option parsing — the text-level behaviour of zfs(8)."""

# ruff: noqa: E501 -- tables of exact zfs messages read best one case per line

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.zfs.getopt import Option, gnu_getopt
from fakes.zfs.names import (
    BOOKMARK,
    DATASET_TYPES,
    FILESYSTEM,
    SNAPSHOT,
    invalid_name_reason,
    split_version,
)
from fakes.zfs.numbers import NumberError, nicebytes, nicenum, nicestrtonum, strtol_c
from fakes.zfs.usage import command_usage, global_usage

FS = frozenset({FILESYSTEM})


@pytest.mark.parametrize(
    ("name", "types", "reason"),
    [
        ("pool/a", FS, None),
        ("pool/a b:c-d_e.f", FS, None),
        ("pool/a@s", FS, "snapshot delimiter '@' is not expected here"),
        ("pool/a", frozenset({SNAPSHOT}), "missing '@' delimiter in snapshot name"),
        ("pool/a#b", DATASET_TYPES, "bookmark delimiter '#' is not expected here"),
        ("pool/a", frozenset({BOOKMARK}), "missing '#' delimiter in bookmark name"),
        ("/pool", FS, "leading slash in name"),
        ("", FS, "empty component or misplaced '@' or '#' delimiter in name"),
        ("pool/", FS, "trailing slash in name"),
        ("pool/a@", frozenset({SNAPSHOT}), "empty component or misplaced '@' or '#' delimiter in name"),
        ("pool/a@b@c", frozenset({SNAPSHOT}), "multiple '@' and/or '#' delimiters in name"),
        ("pool/a@b/c", frozenset({SNAPSHOT}), "trailing slash in name"),
        ("pool/./a", FS, "self reference, '.' is found in name"),
        ("pool/é", FS, "invalid character 'é' in name"),
        ("p/" + "a" * 254, FS, "name is too long"),
    ],
)  # fmt: skip
def test_name_reasons(name: str, types: frozenset[str], reason: str | None) -> None:
    assert invalid_name_reason(name, types) == reason


def test_percent_only_rejected_when_modifying() -> None:
    assert invalid_name_reason("pool/a%b", FS) is None
    assert invalid_name_reason("pool/a%b", FS, modifying=True) == "invalid character % in name"


def test_split_version() -> None:
    assert split_version("p/a@s") == ("p/a", "@", "s")
    assert split_version("p/a#m") == ("p/a", "#", "m")
    assert split_version("p/a") == ("p/a", "", "")


@pytest.mark.parametrize(
    ("num", "bytes_text", "plain"),
    [
        (0, "0B", "0"),
        (1023, "1023B", "1023"),
        (1024, "1K", "1K"),
        (98304, "96K", "96K"),
        (1572864, "1.50M", "1.50M"),
        (10239, "10.0K", "10.0K"),
        (10733879296, "10.0G", "10.0G"),
        (3 << 60, "3E", "3E"),
    ],
)
def test_nicenum(num: int, bytes_text: str, plain: str) -> None:
    assert nicebytes(num) == bytes_text
    assert nicenum(num) == plain


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_nicenum_fits_five_columns_or_is_exact(num: int) -> None:
    text = nicebytes(num)
    assert len(text) <= 5 or text[:-1].isdigit()


@pytest.mark.parametrize(
    ("text", "value"),
    [("4096", 4096), ("1K", 1024), ("10G", 10 << 30), ("1.5M", 1572864), ("2gib", 2 << 30),
     ("3kb", 3072), (".5K", 512)],
)  # fmt: skip
def test_nicestrtonum(text: str, value: int) -> None:
    assert nicestrtonum(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [("abc", "bad numeric value 'abc'"), ("", "bad numeric value ''"),
     ("10Q", "invalid numeric suffix 'Q'"), ("1BB", "invalid numeric suffix 'BB'"),
     ("99999999999999999999", "numeric value is too large"),
     ("17E", "numeric value is too large")],
)  # fmt: skip
def test_nicestrtonum_errors(text: str, reason: str) -> None:
    with pytest.raises(NumberError) as excinfo:
        nicestrtonum(text)
    assert str(excinfo.value) == reason


@pytest.mark.parametrize(
    ("text", "result"),
    [("1", (1, True)), ("0x10", (16, True)), ("010", (8, True)), ("08", (0, False)),
     (" -3", (-3, True)), ("", (0, True)), ("x", (0, False)), ("2a", (2, False))],
)  # fmt: skip
def test_strtol_like_c(text: str, result: tuple[int, bool]) -> None:
    assert strtol_c(text) == result


def test_getopt_gnu_permutation_clusters_and_arguments() -> None:
    parsed = gnu_getopt(["pool", "-Hp", "-oname,guid", "-d", "1", "x"], "jHS:d:o:prs:t:")
    assert parsed.options == [
        Option("H"),
        Option("p"),
        Option("o", "name,guid"),
        Option("d", "1"),
    ]
    assert parsed.operands == ["pool", "x"]
    assert gnu_getopt(["--", "-H"], "H").operands == ["-H"]
    assert gnu_getopt(["-"], "H").operands == ["-"]


def test_getopt_errors() -> None:
    assert gnu_getopt(["-q"], "H").options == [Option("?", optopt="q")]
    assert gnu_getopt(["-o"], "o:").options == [Option("?", optopt="o")]
    assert gnu_getopt(["-o"], ":o:").options == [Option(":", optopt="o")]
    assert gnu_getopt(["--bogus"], "H", long_options=("json",)).options == [
        Option("?", argument="--bogus", optopt="")
    ]
    assert gnu_getopt(["--json"], "H", long_options=("json",)).options == [Option("-json")]
    assert gnu_getopt(["--x"], "H").options[0] == Option("?", optopt="-")


def test_getopt_posixly_correct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSIXLY_CORRECT", "1")
    parsed = gnu_getopt(["pool", "-H"], "H")
    assert (parsed.options, parsed.operands) == ([], ["pool", "-H"])


def test_usage_texts() -> None:
    text = command_usage("send")
    assert text.startswith("usage:\n\tsend [-DLPbcehnpsUVvw] [-i|-I snapshot]\n")
    assert text.endswith("For further help on a command or topic, run: zfs help [<topic>]\n")
    table = command_usage("list")
    assert "\n\tPROPERTY              EDIT  INHERIT   VALUES\n\n" in table
    assert "\treadonly               YES      YES   on | off\n" in table
    assert "\tguid                    NO       NO   <uint64>\n" in table
    full = global_usage()
    assert full.startswith("usage: zfs command args ...\nwhere 'command' is one of the following:")
    assert "\treceive -A <filesystem|volume>\n" in full
