"""Fixtures: TOML parsing, derived defaults, validation messages, demo and synthetic trees."""

# ruff: noqa: E501 -- tables of exact zfs messages read best one case per line

from __future__ import annotations

import pytest

from fakes.zfs import (
    DatasetSpec,
    FakeZfs,
    Fixture,
    FixtureError,
    PoolSpec,
    SnapshotSpec,
    demo_fixture,
    parse_fixture,
    synthetic_fixture,
)
from fakes.zfs.store import derive_guid


def test_defaults_are_derived_in_declaration_order() -> None:
    fixture = parse_fixture(
        """
        seed = 9
        base_time = 1000
        [[pool]]
        name = "p"
        [[dataset]]
        name = "p/a"
        [[dataset]]
        name = "p/b"
        createtxg = 10
        [[snapshot]]
        name = "p/a@s1"
        [[snapshot]]
        name = "p/b@s1"
        referenced = "2K"
        """
    )
    zfs = FakeZfs.in_memory(fixture)
    rows = {
        i.object.name: i.object
        for i in zfs.list(
            types=("filesystem", "snapshot"), recursive=True, snapshots_when_named=False
        )
    }
    assert [rows[n].createtxg for n in ("p", "p/a", "p/b", "p/a@s1", "p/b@s1")] == [
        1,
        2,
        10,
        11,
        12,
    ]
    assert rows["p/a@s1"].guid == derive_guid(9, "p/a@s1")
    assert rows["p/a@s1"].creation == 1000 + 60 * 11
    assert rows["p/b@s1"].referenced == 2048
    assert rows["p/b@s1"].written == 2048  # first snapshot: all of it was written
    assert rows["p/a@s1"].referenced == 98304  # an empty filesystem


def test_same_seed_same_guids_other_seed_other_guids() -> None:
    text = '[[pool]]\nname = "p"\n[[dataset]]\nname = "p/a"\n[[snapshot]]\nname = "p/a@s"\n'
    one = FakeZfs.in_memory(parse_fixture("seed = 1\n" + text)).list_versions("p/a")
    again = FakeZfs.in_memory(parse_fixture("seed = 1\n" + text)).list_versions("p/a")
    other = FakeZfs.in_memory(parse_fixture("seed = 2\n" + text)).list_versions("p/a")
    assert one == again
    assert one[0].guid != other[0].guid


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[[dataset]]\nname = "p/a"', "fixture: dataset 'p/a': pool 'p' is not declared"),
        ('[[pool]]\nname = "p"\n[[dataset]]\nname = "p/a/b"', "fixture: dataset 'p/a/b': parent 'p/a' is not declared before it"),
        ('[[pool]]\nname = "p"\n[[dataset]]\nname = "p/v"\ntype = "volume"', "fixture: dataset 'p/v': a volume needs a non-zero volsize"),
        ('[[pool]]\nname = "p"\n[[snapshot]]\nname = "p/x@s"', "fixture: snapshot 'p/x@s': dataset 'p/x' is not declared"),
        ('[[pool]]\nname = "p"\n[[snapshot]]\nname = "p@s"\n[[snapshot]]\nname = "p@s"', "fixture: snapshot 'p@s': declared twice"),
        ('[[pool]]\nname = "p"\n[[snapshot]]\nname = "p@s"\ncreatetxg = 5\n[[snapshot]]\nname = "p@t"\ncreatetxg = 4', "fixture: snapshot 'p@t': createtxg 4 is not after the previous snapshot of 'p' (5)"),
        ('[[pool]]\nname = "p"\n[[snapshot]]\nname = "p@bad!"', "fixture: snapshot 'p@bad!': invalid name 'p@bad!': invalid character '!' in name"),
        ('[[pool]]\nname = "p"\n[[bookmark]]\nname = "p#b"\nsource = "p@nope"', "fixture: bookmark 'p#b': source must be a declared snapshot of 'p'"),
        ('[[pool]]\nname = "p"\nproperties = { readonly = "yes" }', "fixture: dataset 'p': 'readonly' must be one of 'on | off'"),
        ('[[pool]]\nname = "p"\nproperties = { guid = "1" }', "fixture: dataset 'p': property 'guid' cannot be set here"),
        ('[[pool]]\nname = "p"\nsize = "12Q"', "fixture: pool 'p': size: invalid numeric suffix 'Q'"),
        ('[[pool]]\nname = "p"\nguid = 0', "fixture: pool 'p': guid: must be between 1 and 2^64-1"),
        ('[[pool]]\nname = "p"\ncolour = "red"', "fixture: pool 'p': unknown key(s) colour"),
        ('[[pool]]\nname = "1p"', "fixture: pool '1p': pool doesn't begin with a letter"),
        ("pool = 3", "fixture: 'pool' must be an array of tables ([[pool]])"),
        ("[[pool]\n", "fixture: invalid TOML"),
    ],
)  # fmt: skip
def test_fixture_errors_name_the_problem(body: str, expected: str) -> None:
    with pytest.raises(FixtureError) as excinfo:
        FakeZfs.in_memory(parse_fixture(body))
    assert str(excinfo.value).startswith(expected), str(excinfo.value)


def test_bookmark_with_explicit_guid_and_txg() -> None:
    zfs = FakeZfs.in_memory(
        parse_fixture(
            '[[pool]]\nname = "p"\n[[bookmark]]\nname = "p#old"\nguid = "0xff"\ncreatetxg = 1\n'
        )
    )
    (mark,) = zfs.list_versions("p")
    assert (mark.type, mark.guid, mark.createtxg) == ("bookmark", 255, 1)


def test_demo_fixture_contents() -> None:
    zfs = FakeZfs.in_memory(demo_fixture())
    assert zfs.list_filesystems() == [
        "backup",
        "backup/zrepl",
        "pool",
        "pool/data",
        "pool/data/db",
        "pool/data/home",
        "pool/vol1",
    ]
    kinds = [(v.type, v.name) for v in zfs.list_versions("pool/data")]
    assert kinds == [
        ("snapshot", "zrepl_20170501_000000_000"),
        ("bookmark", "zrepl_20170501_000000_000"),
        ("snapshot", "zrepl_20170501_010000_000"),
        ("snapshot", "zrepl_20170501_020000_000"),
    ]
    vol = zfs.get("pool/vol1", "type")
    assert vol is not None and vol.text == "volume"
    assert FakeZfs.in_memory().list_filesystems() == zfs.list_filesystems()  # the default


def test_python_fixture_objects() -> None:
    fixture = Fixture(
        pools=(PoolSpec("p", size=1 << 30),),
        datasets=(DatasetSpec("p/v", type="volume", volsize=1 << 20),),
        snapshots=(SnapshotSpec("p/v@s", guid=42, createtxg=7),),
    )
    zfs = FakeZfs.in_memory(fixture)
    assert [(v.name, v.guid, v.createtxg) for v in zfs.list_versions("p/v")] == [("s", 42, 7)]


def test_synthetic_fixture_shape() -> None:
    fixture = synthetic_fixture(datasets=10, snapshots=25, bookmark_every=5, seed=3)
    zfs = FakeZfs.in_memory(fixture)
    filesystems = zfs.list_filesystems()
    assert len(filesystems) == 11  # the pool root plus ten datasets
    snaps = zfs.list(types=("snapshot",), recursive=True)
    marks = zfs.list(types=("bookmark",), recursive=True)
    assert (len(snaps), len(marks)) == (25, 5)
    assert all(i.object.name.split("@")[1].startswith("zrepl_20170501_") for i in snaps)
    # Re-iterable: the same lazy fixture loads twice identically.
    again = FakeZfs.in_memory(fixture)
    assert again.list_versions(filesystems[1]) == zfs.list_versions(filesystems[1])
