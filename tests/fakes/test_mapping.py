"""Dataset mappings must map exactly as zrepl 35dcfc2 did (zfs/mapping.go, cmd/config.go)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bytestreamrpc.messages import DatasetPath
from fakes.mapping import (
    ComboMapping,
    DirectMapping,
    ExecMapping,
    GlobMapping,
    MappingConfigError,
    MappingError,
    parse_mapping,
    parse_mapping_json,
)


def p(text: str) -> DatasetPath:
    return DatasetPath.from_string(text)


# --- glob ------------------------------------------------------------------------------------


def test_glob_maps_prefix_to_target_root_plus_whole_source() -> None:
    m = GlobMapping(p("tank/usr/home"), p("backups/share1"))
    assert m.map(p("tank/usr/home")) == p("backups/share1/tank/usr/home")
    assert m.map(p("tank/usr/home/a/b")) == p("backups/share1/tank/usr/home/a/b")


@pytest.mark.parametrize("source", ["zroot", "zroot/notmapped", "tank/usr", "tank/usr/homes"])
def test_glob_rejects_non_prefix_and_shorter_sources(source: str) -> None:
    assert GlobMapping(p("tank/usr/home"), p("backups/share1")).map(p(source)) is None


def test_glob_matches_whole_components_only() -> None:
    m = parse_mapping({"a/b*": "t/r"})
    assert m.map(p("a/b")) == p("t/r/a/b")
    assert m.map(p("a/b/c")) == p("t/r/a/b/c")
    assert m.map(p("a/bc")) is None


def test_star_alone_matches_everything() -> None:
    m = parse_mapping({"*": "backups/share1"})
    assert m.map(p("tank/usr/home")) == p("backups/share1/tank/usr/home")
    assert m.map(p("")) == p("backups/share1")


def test_glob_with_trailing_slash_matches_no_real_dataset() -> None:
    m = parse_mapping({"a/b/*": "t"})
    assert m.map(p("a/b")) is None
    assert m.map(p("a/b/c")) is None


def test_glob_with_empty_target_maps_source_to_itself() -> None:
    assert parse_mapping({"pool*": ""}).map(p("pool/x")) == p("pool/x")


_component = st.text(alphabet="abcxyz", min_size=1, max_size=3)
_components = st.lists(_component, max_size=4).map(tuple)


@given(_components, _components, _components)
def test_glob_matches_iff_prefix_of_components(
    prefix: tuple[str, ...], root: tuple[str, ...], source: tuple[str, ...]
) -> None:
    result = GlobMapping(DatasetPath(prefix), DatasetPath(root)).map(DatasetPath(source))
    if source[: len(prefix)] == prefix:
        assert result == DatasetPath(root + source)
    else:
        assert result is None


# --- direct ----------------------------------------------------------------------------------


def test_direct_maps_exactly_its_source() -> None:
    m = DirectMapping(p("a/b/c"), p("x/y/z"))
    assert m.map(p("a/b/c")) == p("x/y/z")
    assert m.map(p("not/matching")) is None
    assert m.map(p("a/b")) is None
    assert m.map(p("a/b/c/d")) is None


def test_pipe_maps_any_source() -> None:
    m = parse_mapping({"|": "t/r"})
    assert m.map(p("a/b")) == p("t/r")
    assert m.map(p("zroot")) == p("t/r")


# --- combo -----------------------------------------------------------------------------------


def test_combo_first_matching_member_wins() -> None:
    m1 = GlobMapping(p("a/b"), p("c/d"))
    m2 = GlobMapping(p("a/x"), p("c/y"))
    assert m2.map(p("a/b/q")) is None
    assert ComboMapping((m1, m2)).map(p("a/b/q")) == p("c/d/a/b/q")
    assert ComboMapping((m1, m2)).map(p("a/x")) == p("c/y/a/x")
    assert ComboMapping((m1, m2)).map(p("q")) is None


def test_combo_uses_declared_order() -> None:
    assert parse_mapping({"a/b": "first", "a*": "second"}).map(p("a/b")) == p("first")
    assert parse_mapping({"a*": "second", "a/b": "first"}).map(p("a/b")) == p("second/a/b")


def test_empty_combo_matches_nothing() -> None:
    assert parse_mapping({}).map(p("a")) is None


# --- exec ------------------------------------------------------------------------------------


def script(tmp_path: Path, body: str, name: str = "map.sh") -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


# What the original's zfs/test_helpers/exec_mapping_good.sh does, in POSIX sh.
GOOD = """while read -r line; do
  case "$line" in nomap*) echo NOMAP; continue;; esac
  echo "didmap/$line"
  [ "$1" = stop ] && break
done
"""


def test_exec_mapping_maps_and_reports_nomap(tmp_path: Path) -> None:
    m = parse_mapping({"*": "!" + script(tmp_path, GOOD) + " nostop"})
    assert m.mappings == (ExecMapping(script(tmp_path, GOOD), ("nostop",), 5.0),)
    assert m.map(p("nomap/foobar")) is None
    assert m.map(p("willmap/something")) == p("didmap/willmap/something")


def test_exec_answers_have_crlf_stripped_and_may_be_unterminated(tmp_path: Path) -> None:
    assert ExecMapping(script(tmp_path, "printf 'x/y\\r\\n'\n")).map(p("a")) == p("x/y")
    assert ExecMapping(script(tmp_path, "printf 'x/z'\n")).map(p("a")) == p("x/z")
    assert ExecMapping(script(tmp_path, "printf 'NOMAP\\r\\n'\n")).map(p("a")) is None


def test_exec_empty_answer_is_the_empty_path(tmp_path: Path) -> None:
    assert ExecMapping(script(tmp_path, "echo\n")).map(p("a")) == p("")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("exit 3\n", "exited without answering"),
        ("echo 'bad@target'\n", "invalid target"),
        ("head -c 70000 /dev/zero | tr '\\\\0' x\n", "no line within 65536 bytes"),
        ("printf '\\377\\n'\n", "non-UTF-8"),
    ],
)
def test_exec_failures_are_mapping_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        ExecMapping(script(tmp_path, body)).map(p("a"))


def test_exec_program_that_never_answers_times_out(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"did not answer within 0\.3 s"):
        ExecMapping(script(tmp_path, "exec sleep 30\n"), timeout=0.3).map(p("a"))


def test_exec_missing_program_is_a_mapping_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot start"):
        ExecMapping(str(tmp_path / "missing")).map(p("a"))


def test_exec_program_is_reaped_even_if_it_ignores_eof(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    body = f"echo $$ > {pidfile}\necho t\nexec sleep 30\n"
    assert ExecMapping(script(tmp_path, body)).map(p("a")) == p("t")
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)


def test_exec_source_with_newline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="newline"):
        ExecMapping(script(tmp_path, GOOD)).map(DatasetPath(("a\nnomap",)))


def test_exec_gets_one_line_per_lookup(tmp_path: Path) -> None:
    log = tmp_path / "log"
    prog = ExecMapping(
        sys.executable,
        ("-c", f"import sys; open({str(log)!r}, 'a').write(sys.stdin.readline()); print('t')"),
    )
    assert prog.map(p("a/b")) == p("t")
    assert prog.map(p("c")) == p("t")
    assert log.read_text() == "a/b\nc\n"


def test_combo_treats_member_error_as_no_match(tmp_path: Path) -> None:
    broken = ExecMapping(script(tmp_path, "exit 1\n"))
    assert ComboMapping((broken,)).map(p("a")) is None
    assert ComboMapping((broken, DirectMapping(None, p("t")))).map(p("a")) == p("t")


# --- parsing ---------------------------------------------------------------------------------


def test_parse_classifies_entries_like_the_original() -> None:
    m = parse_mapping({"*": "!prog a  b", "a/b*": "t/r", "|": "x", "c/d": "y", "e*": "!z"})
    assert m.mappings == (
        ExecMapping("prog", ("a", "b")),
        GlobMapping(p("a/b"), p("t/r")),
        DirectMapping(None, p("x")),
        DirectMapping(p("c/d"), p("y")),
        GlobMapping(p("e"), DatasetPath(("!z",))),  # only "*" alone makes an exec mapping
    )


def test_parse_double_star_is_a_literal_star_component() -> None:
    assert parse_mapping({"**": "t"}).mappings == (GlobMapping(DatasetPath(("*",)), p("t")),)


def test_parse_splits_exec_fields_on_go_whitespace_only() -> None:
    (m,) = parse_mapping({"*": "!prog\targ\u3000x\x1cy"}).mappings
    assert m == ExecMapping("prog", ("arg", "x\x1cy"))


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"*": "!"}, "ExecMapping without acceptor path"),
        ({"*": "!  \t"}, "ExecMapping without acceptor path"),
        ({"a b": "t"}, "contains forbidden characters"),
        ({"a": "t@x"}, "contains forbidden characters"),
        ({"|*": "t"}, "contains forbidden characters"),
        ({"a*": "t#x"}, "contains forbidden characters"),
        ({"a": 1}, "both sides must be strings"),
    ],
)
def test_parse_errors_name_the_entry(obj: dict[str, object], message: str) -> None:
    with pytest.raises(MappingConfigError, match=message) as info:
        parse_mapping(obj)  # type: ignore[arg-type]
    assert repr(next(iter(obj))) in str(info.value)


def test_parse_json_keeps_written_order() -> None:
    m = parse_mapping_json('{"a*": "one", "|": "two"}')
    assert m.mappings == (GlobMapping(p("a"), p("one")), DirectMapping(None, p("two")))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "must be a JSON object"),
        ("{", "not valid JSON"),
        ('{"a": "x", "a": "y"}', "left side 'a' twice"),
        ('{"a": null}', "both sides must be strings"),
    ],
)
def test_parse_json_errors(text: str, message: str) -> None:
    with pytest.raises(MappingConfigError, match=message):
        parse_mapping_json(text)
