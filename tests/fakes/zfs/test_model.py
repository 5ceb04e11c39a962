"""Unit tests of the fake ZFS model: operations, constraints and the real error texts."""

# ruff: noqa: E501 -- tables of exact zfs messages read best one case per line

from __future__ import annotations

import io

import pytest

from fakes.zfs import (
    DatasetOpenError,
    FakeZfs,
    Version,
    ZfsError,
    ZfsUsageError,
    parse_fixture,
)

#: A small fixture with explicit GUIDs, so expected outputs can be written down literally.
#: txgs: pool 1, pool/data 2, pool/data/home 3, pool/vol1 4, snapshots 5, 6, 7; backup 1,
#: backup/zrepl 2.
FIXTURE_TOML = """
seed = 1
base_time = 1493596800

[[pool]]
name = "pool"
size = "10G"
guid = 1001

[[pool]]
name = "backup"
size = "10G"
guid = 2001

[[dataset]]
name = "pool/data"
guid = 1002

[[dataset]]
name = "pool/data/home"
guid = 1003
properties = { "zrepl:owner" = "alice" }

[[dataset]]
name = "pool/vol1"
type = "volume"
volsize = "1G"
guid = 1004

[[dataset]]
name = "backup/zrepl"
guid = 2002

[[snapshot]]
name = "pool/data@zrepl_20170501_000000_000"
guid = "11111111111111111111"
referenced = "1M"

[[snapshot]]
name = "pool/data/home@zrepl_20170501_000000_000"
guid = 2222

[[snapshot]]
name = "pool/data@zrepl_20170501_010000_000"
guid = "18446744073709551615"
referenced = "1536K"
written = "512K"

[[bookmark]]
name = "pool/data#zrepl_20170501_000000_000"
source = "pool/data@zrepl_20170501_000000_000"
"""

S0 = "pool/data@zrepl_20170501_000000_000"
S1 = "pool/data@zrepl_20170501_010000_000"
B0 = "pool/data#zrepl_20170501_000000_000"


@pytest.fixture
def zfs() -> FakeZfs:
    return FakeZfs.in_memory(parse_fixture(FIXTURE_TOML), clock=lambda: 1700000000)


def message(excinfo: pytest.ExceptionInfo[ZfsError]) -> str:
    return excinfo.value.message


# ---------------------------------------------------------------- listing basics
def test_list_filesystems_in_name_order(zfs: FakeZfs) -> None:
    assert zfs.list_filesystems() == [
        "backup",
        "backup/zrepl",
        "pool",
        "pool/data",
        "pool/data/home",
        "pool/vol1",
    ]


def test_list_versions_by_createtxg_snapshot_before_bookmark(zfs: FakeZfs) -> None:
    assert zfs.list_versions("pool/data") == [
        Version("snapshot", "zrepl_20170501_000000_000", 11111111111111111111, 5),
        Version("bookmark", "zrepl_20170501_000000_000", 11111111111111111111, 5),
        Version("snapshot", "zrepl_20170501_010000_000", 18446744073709551615, 7),
    ]


def test_list_versions_of_missing_dataset(zfs: FakeZfs) -> None:
    with pytest.raises(DatasetOpenError) as excinfo:
        zfs.list_versions("pool/nope")
    assert message(excinfo) == "cannot open 'pool/nope': dataset does not exist"
    assert excinfo.value.exit_code == 1


def test_list_depth_limits_recursion(zfs: FakeZfs) -> None:
    names = [
        item.object.name for item in zfs.list(["pool"], types=("filesystem", "snapshot"), depth=1)
    ]
    assert names == ["pool", "pool/data"]
    deeper = [
        item.object.name for item in zfs.list(["pool"], types=("filesystem", "snapshot"), depth=2)
    ]
    assert deeper == ["pool", "pool/data", S0, S1, "pool/data/home"]


def test_list_sort_descending_and_by_user_property(zfs: FakeZfs) -> None:
    names = [
        i.object.name
        for i in zfs.list(["pool/data"], types=("snapshot",), sort=(("createtxg", True),))
    ]
    assert names == [S1, S0]
    by_owner = [
        i.object.name
        for i in zfs.list(
            ["pool"], types=("filesystem",), recursive=True, sort=(("zrepl:owner", False),)
        )
    ]
    # Objects without the property sort last, in zfs_compare order.
    assert by_owner == ["pool/data/home", "pool", "pool/data"]


def test_named_snapshot_is_listed_without_type_option(zfs: FakeZfs) -> None:
    assert [i.object.name for i in zfs.list([S0])] == [S0]


def test_list_wrong_type_root(zfs: FakeZfs) -> None:
    with pytest.raises(DatasetOpenError) as excinfo:
        zfs.list([S0], types=("filesystem",))
    assert message(excinfo) == (f"cannot open '{S0}': snapshot delimiter '@' is not expected here")
    with pytest.raises(DatasetOpenError) as excinfo:
        zfs.list(["pool/vol1"], types=("filesystem",))
    assert message(excinfo) == (
        "cannot open 'pool/vol1': operation not applicable to datasets of this type"
    )


def test_list_collects_errors_and_continues(zfs: FakeZfs) -> None:
    errors: list[ZfsError] = []
    rows = zfs.list(["nope", "pool/data"], errors=errors)
    assert [r.object.name for r in rows] == ["pool/data"]
    assert [e.message for e in errors] == ["cannot open 'nope': dataset does not exist"]


# ---------------------------------------------------------------- properties
def test_property_values_and_sources(zfs: FakeZfs) -> None:
    home = zfs.get("pool/data/home", "zrepl:owner")
    assert home is not None and (home.text, home.source) == ("alice", "local")
    zfs.set("pool", {"zrepl:owner": "root", "readonly": "on", "mountpoint": "/srv"})
    data_owner = zfs.get("pool/data", "zrepl:owner")
    assert data_owner is not None
    assert (data_owner.text, data_owner.source) == ("root", "inherited from pool")
    ro = zfs.get("pool/data/home", "readonly")
    assert ro is not None and (ro.text, ro.source) == ("on", "inherited from pool")
    mp = zfs.get("pool/data/home", "mountpoint")
    assert mp is not None and (mp.text, mp.source) == ("/srv/data/home", "inherited from pool")
    snap_owner = zfs.get(S0, "zrepl:owner")
    assert snap_owner is not None and snap_owner.source == "inherited from pool"
    assert zfs.get(S0, "readonly") is None  # does not apply to snapshots
    assert zfs.get("pool/vol1", "mountpoint") is None


def test_numbers_literal_and_human(zfs: FakeZfs) -> None:
    refer = zfs.get(S1, "referenced", literal=False)
    assert refer is not None and refer.text == "1.50M"
    raw = zfs.get(S1, "referenced", literal=True)
    assert raw is not None and raw.text == "1572864"
    vol = zfs.get("pool/vol1", "volsize", literal=False)
    assert vol is not None and (vol.text, vol.source) == ("1G", "local")
    guid = zfs.get(S1, "guid", literal=False)
    assert guid is not None and guid.text == "18446744073709551615"


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"readonly": "maybe"}, "cannot set property for 'pool/data': 'readonly' must be one of 'on | off'"),
        ({"guid": "1"}, "cannot set property for 'pool/data': 'guid' is readonly"),
        ({"compression": "on"}, "cannot set property for 'pool/data': invalid property 'compression'"),
        ({"volsize": "1G"}, "cannot set property for 'pool/data': 'volsize' does not apply to datasets of this type"),
        ({"mountpoint": "rel"}, "cannot set property for 'pool/data': 'mountpoint' must be an absolute path, 'none', or 'legacy'"),
    ],
)  # fmt: skip
def test_set_errors(zfs: FakeZfs, props: dict[str, str], expected: str) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.set("pool/data", props)
    assert message(excinfo) == expected
    assert excinfo.value.exit_code == 1


def test_set_is_all_or_nothing(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsError):
        zfs.set("pool/data", {"zrepl:a": "1", "readonly": "bogus"})
    assert zfs.get("pool/data", "zrepl:a") is None


def test_snapshot_only_user_properties(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.set(S0, {"readonly": "on"})
    assert message(excinfo) == (
        f"cannot set property for '{S0}': this property can not be modified for snapshots"
    )
    zfs.set(S0, {"zrepl:keep": "yes"})
    value = zfs.get(S0, "zrepl:keep")
    assert value is not None and (value.text, value.source) == ("yes", "local")


def test_readonly_blocks_writes_only(zfs: FakeZfs) -> None:
    zfs.set("pool/data", {"readonly": "on"})
    with pytest.raises(ZfsError) as excinfo:
        zfs.write("pool/data/home", 4096)
    assert message(excinfo) == "cannot write to 'pool/data/home': Read-only file system"
    zfs.snapshot("pool/data@after")  # snapshots are still allowed, as in ZFS
    zfs.write("pool/vol1", 4096)


# ---------------------------------------------------------------- create
def test_create_and_parents(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.create("pool/a/b")
    assert message(excinfo) == "cannot create 'pool/a/b': parent does not exist"
    zfs.create("pool/a/b", parents=True)
    assert zfs.exists("pool/a") and zfs.exists("pool/a/b")
    zfs.create("pool/a/b", parents=True)  # -p on an existing dataset is not an error
    with pytest.raises(ZfsError) as excinfo:
        zfs.create("pool/a/b")
    assert message(excinfo) == "cannot create 'pool/a/b': dataset already exists"
    created = zfs.list(["pool/a/b"], properties=("createtxg", "mounted"))[0]
    assert [v.text for _p, v in created.values if v is not None] == ["9", "yes"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nopool/x", "cannot create 'nopool/x': no such pool 'nopool'"),
        ("pool", "cannot create 'pool': missing dataset name"),
        ("pool/vol1/x", "cannot create 'pool/vol1/x': parent is not a filesystem"),
        ("pool/a@b", "cannot create 'pool/a@b': snapshot delimiter '@' is not expected here"),
        ("pool/a b!", "cannot create 'pool/a b!': invalid character '!' in name"),
        ("pool//a", "cannot create 'pool//a': empty component or misplaced '@' or '#' delimiter in name"),
        ("pool/a/", "cannot create 'pool/a/': trailing slash in name"),
        ("pool/..", "cannot create 'pool/..': parent reference, '..' is found in name"),
        ("pool/" + "x" * 260, "cannot create 'pool/" + "x" * 260 + "': name is too long"),
    ],
)  # fmt: skip
def test_create_errors(zfs: FakeZfs, name: str, expected: str) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.create(name)
    assert message(excinfo) == expected


def test_create_volume(zfs: FakeZfs) -> None:
    zfs.create("pool/v2", volsize=1000)
    vol = zfs.get("pool/v2", "volsize")
    assert vol is not None and vol.text == "16384"  # rounded up to the volblocksize
    with pytest.raises(ZfsError) as excinfo:
        zfs.create("nopool/v", volsize=4096)
    assert message(excinfo) == "cannot open 'nopool': no such pool"
    with pytest.raises(ZfsError) as excinfo:
        zfs.create("pool/v3", volsize=0)
    assert message(excinfo) == "cannot create 'pool/v3': volume size cannot be zero"


# ---------------------------------------------------------------- snapshot / bookmark
def test_snapshot_takes_next_txg_and_head_state(zfs: FakeZfs) -> None:
    zfs.write("pool/data", 1000)
    assert zfs.snapshot("pool/data@s") == ["pool/data@s"]
    snap = zfs.list(["pool/data@s"], properties=("createtxg", "written", "referenced"))[0]
    assert [v.text for _p, v in snap.values if v is not None] == ["8", "1000", "1573864"]
    head = zfs.get("pool/data", "written")
    assert head is not None and head.text == "0"


def test_recursive_snapshot_is_one_txg(zfs: FakeZfs) -> None:
    made = zfs.snapshot("pool@r", recursive=True)
    assert made == ["pool@r", "pool/data@r", "pool/data/home@r", "pool/vol1@r"]
    txgs = {
        i.object.createtxg
        for i in zfs.list(["pool"], types=("snapshot",), recursive=True)
        if i.object.name.endswith("@r")
    }
    assert txgs == {8}


def test_snapshot_errors(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.snapshot(S0)
    assert message(excinfo) == f"cannot create snapshot '{S0}': dataset already exists"
    with pytest.raises(ZfsError) as excinfo:
        zfs.snapshot(["pool/data/home@new", S0])
    assert message(excinfo) == (
        f"cannot create snapshot '{S0}': dataset already exists\nno snapshots were created"
    )
    assert not zfs.exists("pool/data/home@new")  # atomic
    with pytest.raises(ZfsError) as excinfo:
        zfs.snapshot(["pool/data@x", "pool/data@y"])
    assert message(excinfo) == (
        "cannot create snapshots : multiple snapshots of same fs not allowed\n"
        "no snapshots were created"
    )
    with pytest.raises(DatasetOpenError) as excinfo:
        zfs.snapshot("pool/nope@x")
    assert message(excinfo) == "cannot open 'pool/nope': dataset does not exist"
    with pytest.raises(ZfsUsageError):
        zfs.snapshot("pool/data")
    with pytest.raises(ZfsError) as excinfo:
        zfs.snapshot("pool/data@a@b")
    assert message(excinfo) == (
        "cannot create snapshot 'pool/data@a@b': multiple '@' and/or '#' delimiters in name"
    )


def test_bookmark_carries_guid_and_txg(zfs: FakeZfs) -> None:
    assert zfs.bookmark(S1, "#m1") == "pool/data#m1"
    versions = {v.full_name("pool/data"): v for v in zfs.list_versions("pool/data")}
    assert versions["pool/data#m1"].guid == 18446744073709551615
    assert versions["pool/data#m1"].createtxg == 7
    zfs.bookmark("pool/data#m1", "pool/data#m2")  # copy of a bookmark
    assert zfs.list_versions("pool/data")[-1].name in ("m1", "m2")


@pytest.mark.parametrize(
    ("source", "bookmark", "expected"),
    [
        (S0, B0, f"cannot create bookmark '{B0}': bookmark exists"),
        (S0, "pool/data/home#x", "cannot create bookmark 'pool/data/home#x': source is not an ancestor of the new bookmark's dataset"),
        (S0, "backup/zrepl#x", "cannot create bookmark 'backup/zrepl#x': bookmark is in a different pool"),
        (S0, "pool/nope#x", "cannot create bookmark 'pool/nope#x': dataset does not exist"),
    ],
)  # fmt: skip
def test_bookmark_errors(zfs: FakeZfs, source: str, bookmark: str, expected: str) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.bookmark(source, bookmark)
    assert message(excinfo) == expected


def test_bookmark_usage_errors(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsUsageError) as excinfo:
        zfs.bookmark("pool/data", "pool/data#x")
    assert message(excinfo) == "invalid source name 'pool/data': must contain a '@' or '#'"
    with pytest.raises(DatasetOpenError) as open_error:
        zfs.bookmark("pool/data@nope", "#x")
    assert open_error.value.message == "cannot open 'pool/data@nope': dataset does not exist"


# ---------------------------------------------------------------- destroy
def test_destroy_needs_r_for_children_and_snapshots(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.destroy("pool/data")
    assert message(excinfo) == (
        "cannot destroy 'pool/data': filesystem has children\n"
        "use '-r' to destroy the following datasets:\n"
        "pool/data/home@zrepl_20170501_000000_000\n"
        "pool/data/home\n"
        f"{S0}\n{S1}"
    )
    with pytest.raises(ZfsError) as excinfo:
        zfs.destroy("pool/vol1@x")
    assert message(excinfo) == "could not find any snapshots to destroy; check snapshot names."
    zfs.create("pool/vol2", volsize=4096)
    zfs.snapshot("pool/vol2@s")
    with pytest.raises(ZfsError) as excinfo:
        zfs.destroy("pool/vol2")
    assert message(excinfo).startswith("cannot destroy 'pool/vol2': volume has children\n")
    assert zfs.destroy("pool/data", recursive=True)[-1] == "pool/data"
    assert zfs.list_filesystems() == ["backup", "backup/zrepl", "pool", "pool/vol1", "pool/vol2"]


def test_destroy_pool_root(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.destroy("pool")
    assert message(excinfo) == (
        "cannot destroy 'pool': operation does not apply to pools\n"
        "use 'zfs destroy -r pool' to destroy all datasets in the pool\n"
        "use 'zpool destroy pool' to destroy the pool itself"
    )
    zfs.destroy("pool", recursive=True)
    assert zfs.list_filesystems() == ["backup", "backup/zrepl", "pool"]


def test_destroy_snapshot_keeps_increment_sizes(zfs: FakeZfs) -> None:
    zfs.destroy(S0)
    written = zfs.get(S1, "written")
    assert written is not None and written.text == str(1048576 + 524288)
    # The bookmark survives its snapshot and still allows incremental sends.
    stream = zfs.send(S1, B0)
    assert stream.header.payload_len == 524288


def test_destroy_snapshot_ranges(zfs: FakeZfs) -> None:
    zfs.snapshot("pool/data@a")
    zfs.snapshot("pool/data@b")
    zfs.snapshot("pool/data@c")
    assert zfs.destroy("pool/data@a%b,zzz") == ["pool/data@a", "pool/data@b"]
    assert zfs.exists("pool/data@c")


def test_destroy_bookmark(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.destroy(B0, recursive=True)
    assert (message(excinfo), excinfo.value.exit_code) == (
        "recursive is not supported with bookmark",
        255,
    )
    with pytest.raises(ZfsError) as excinfo:
        zfs.destroy("pool/data#nope")
    assert message(excinfo) == "bookmark 'pool/data#nope' does not exist."
    assert zfs.destroy(B0) == [B0]
    assert not zfs.exists(B0)


# ---------------------------------------------------------------- send / receive
def test_full_then_incremental_replication(zfs: FakeZfs) -> None:
    first = zfs.receive("backup/zrepl/data", zfs.send(S0), nomount=True)
    assert (first.snapshot, first.guid, first.createtxg, first.created_dataset) == (
        "backup/zrepl/data@zrepl_20170501_000000_000",
        11111111111111111111,
        4,
        True,
    )
    mounted = zfs.get("backup/zrepl/data", "mounted")
    assert mounted is not None and mounted.text == "no"
    zfs.set("backup/zrepl/data", {"readonly": "on"})
    second = zfs.receive("backup/zrepl/data", zfs.send(S1, B0))
    assert (second.guid, second.createtxg) == (18446744073709551615, 5)
    assert [v.guid for v in zfs.list_versions("backup/zrepl/data")] == [
        11111111111111111111,
        18446744073709551615,
    ]
    # The received content can be sent on again, byte for byte what the origin sends.
    again = zfs.send("backup/zrepl/data@zrepl_20170501_010000_000", "@zrepl_20170501_000000_000")
    original = zfs.send(S1, S0)
    assert again.header.payload_len == original.header.payload_len == 524288
    assert again.read()[-12:] != b"" and b"".join(original.chunks())[64:] != b""
    assert list(again.header.payload_spec().__slots__)  # sanity: spec is derivable
    zfs.receive("backup/zrepl/other", zfs.send("backup/zrepl/data@zrepl_20170501_000000_000"))


def test_receive_full_into_existing(zfs: FakeZfs) -> None:
    zfs.receive("backup/zrepl/data", zfs.send(S0))
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("backup/zrepl/data", zfs.send(S0))
    assert message(excinfo) == (
        "cannot receive new filesystem stream: destination 'backup/zrepl/data' exists\n"
        "must specify -F to overwrite it"
    )
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("backup/zrepl/data", zfs.send(S0), force=True)
    assert message(excinfo) == (
        "cannot receive new filesystem stream: destination has snapshots "
        "(eg. backup/zrepl/data@zrepl_20170501_000000_000)\n"
        "must destroy them to overwrite it"
    )
    zfs.receive("backup/zrepl", zfs.send(S0), force=True)  # -F, no snapshots: overwritten
    assert [v.name for v in zfs.list_versions("backup/zrepl")] == ["zrepl_20170501_000000_000"]


def test_receive_full_parent_must_exist(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("backup/nope/data", zfs.send(S0))
    assert message(excinfo) == (
        "cannot open 'backup/nope': dataset does not exist\n"
        "cannot receive new filesystem stream: unable to restore to destination"
    )
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("nopool", zfs.send(S0))
    assert message(excinfo) == (
        "cannot receive new filesystem stream: destination 'nopool' does not exist"
    )
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("pool/vol1/x", zfs.send(S0))
    assert message(excinfo) == (
        "cannot receive new filesystem stream: parent 'pool/vol1' is not a filesystem"
    )


def test_receive_incremental_mismatch(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("backup/zrepl/data", zfs.send(S1, S0))
    assert message(excinfo) == (
        "cannot receive incremental stream: destination 'backup/zrepl/data' does not exist"
    )
    zfs.receive("backup/zrepl/data", zfs.send(S0))
    zfs.snapshot("backup/zrepl/data@local")  # newest snapshot is no longer the source
    zfs.write("backup/zrepl/data", 1)
    zfs.snapshot("backup/zrepl/data@local2")
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("backup/zrepl/data", zfs.send(S1, S0))
    assert message(excinfo) == (
        "cannot receive incremental stream: destination backup/zrepl/data has been modified\n"
        "since most recent snapshot"
    )
    other = zfs.send("pool/data/home@zrepl_20170501_000000_000")
    zfs.receive("backup/zrepl/home", other)
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("backup/zrepl/home", zfs.send(S1, S0))
    assert message(excinfo) == (
        "cannot receive incremental stream: most recent snapshot of backup/zrepl/home does not\n"
        "match incremental source"
    )


def test_receive_force_rolls_back_newer_snapshots(zfs: FakeZfs) -> None:
    zfs.receive("backup/zrepl/data", zfs.send(S0))
    zfs.write("backup/zrepl/data", 10)
    zfs.snapshot("backup/zrepl/data@local")
    result = zfs.receive("backup/zrepl/data", zfs.send(S1, S0), force=True)
    assert result.rolled_back == ("backup/zrepl/data@local",)
    assert [v.name for v in zfs.list_versions("backup/zrepl/data")] == [
        "zrepl_20170501_000000_000",
        "zrepl_20170501_010000_000",
    ]


def test_receive_unmodified_newer_snapshot_is_kept(zfs: FakeZfs) -> None:
    zfs.receive("backup/zrepl/data", zfs.send(S0))
    zfs.snapshot("backup/zrepl/data@empty")  # no data written: not "modified"
    zfs.receive("backup/zrepl/data", zfs.send(S1, S0))
    assert [v.name for v in zfs.list_versions("backup/zrepl/data")][-2:] == [
        "empty",
        "zrepl_20170501_010000_000",
    ]


def test_receive_existing_snapshot(zfs: FakeZfs) -> None:
    zfs.receive("backup/zrepl/data", zfs.send(S0))
    zfs.receive("backup/zrepl/data", zfs.send(S1, S0))
    skipped = zfs.receive("backup/zrepl/data", zfs.send(S1, S0))
    assert skipped.skipped
    zfs.destroy("backup/zrepl/data@zrepl_20170501_010000_000")
    zfs.snapshot("backup/zrepl/data@zrepl_20170501_010000_000")  # same name, other GUID
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("backup/zrepl/data", zfs.send(S1, S0))
    assert message(excinfo) == (
        "cannot restore to backup/zrepl/data@zrepl_20170501_010000_000: destination already exists"
    )


def test_receive_into_explicit_snapshot_name(zfs: FakeZfs) -> None:
    result = zfs.receive("backup/zrepl/x@renamed", zfs.send(S0))
    assert result.snapshot == "backup/zrepl/x@renamed"


def test_send_errors(zfs: FakeZfs) -> None:
    with pytest.raises(ZfsError) as excinfo:
        zfs.send(S0, S1)
    assert (
        message(excinfo) == f"warning: cannot send '{S0}': not an earlier snapshot from the same fs"
    )
    with pytest.raises(ZfsError) as excinfo:
        zfs.send(S1, "pool/data#nope")
    assert message(excinfo) == (
        f"warning: cannot send '{S1}': incremental source (pool/data#nope) does not exist"
    )
    with pytest.raises(ZfsError) as excinfo:
        zfs.send(S1, "pool/data/home@zrepl_20170501_000000_000")
    assert message(excinfo).endswith("not an earlier snapshot from the same fs")
    with pytest.raises(DatasetOpenError) as excinfo:
        zfs.send("pool/data@nope")
    assert message(excinfo) == "cannot open 'pool/data@nope': dataset does not exist"
    with pytest.raises(DatasetOpenError) as excinfo:
        zfs.send(B0)
    assert message(excinfo) == f"cannot open '{B0}': bookmark delimiter '#' is not expected here"


def test_receive_rejects_garbage(zfs: FakeZfs) -> None:
    before = zfs.list(types=("filesystem", "volume", "snapshot", "bookmark"), recursive=True)
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("backup/zrepl/x", io.BytesIO(b""))
    assert message(excinfo) == "cannot receive: failed to read from stream"
    with pytest.raises(ZfsError) as excinfo:
        zfs.receive("backup/zrepl/x", io.BytesIO(b"x" * 200))
    assert message(excinfo) == "cannot receive: invalid stream (bad magic number)"
    after = zfs.list(types=("filesystem", "volume", "snapshot", "bookmark"), recursive=True)
    assert [i.object.name for i in before] == [i.object.name for i in after]


def test_file_state_is_shared(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "state.sqlite"
    FakeZfs.init_state(path, parse_fixture(FIXTURE_TOML))
    with FakeZfs.open(path) as one:
        one.snapshot("pool/data@shared")
    with FakeZfs.open(path) as two:
        assert two.exists("pool/data@shared")


@pytest.mark.parametrize("sort", [(), (("createtxg", False),)])
@pytest.mark.parametrize("types", [("bookmark", "snapshot"), ("snapshot",), ("bookmark",)])
def test_fast_version_listing_matches_general_listing(
    zfs: FakeZfs, sort: tuple[tuple[str, bool], ...], types: tuple[str, ...]
) -> None:
    for index in range(6):
        zfs.snapshot(f"pool/data@x{index}")
        zfs.bookmark(f"pool/data@x{index}", f"pool/data#{'zb'[index % 2]}{index}")
    zfs.bookmark(S1, "pool/data#a-late")
    props = ("name", "guid", "createtxg", "type")
    fast = zfs.list_text(["pool/data"], properties=props, types=types, depth=1, sort=sort)
    general = [
        tuple(v.text for _p, v in item.values if v is not None)
        for item in zfs.list(["pool/data"], types=types, depth=1, sort=sort, properties=props)
    ]
    # The general path through list() must agree with the SQL fast path in list_text().
    assert fast == general
    assert len(fast) == sum(1 for t in types for _ in range({"snapshot": 8, "bookmark": 8}[t]))


def test_change_count_moves_with_every_write_and_no_read() -> None:
    """The stateful fuzzer trusts an unchanged count to mean an unchanged state."""
    zfs = FakeZfs.in_memory(parse_fixture(FIXTURE_TOML))
    count = zfs.change_count()
    zfs.list_filesystems()
    zfs.list_versions("pool/data")
    zfs.list(types=("filesystem", "snapshot", "bookmark"), recursive=True, properties=())
    zfs.send(S0).read()
    assert zfs.change_count() == count
    zfs.snapshot("pool/data@new")
    assert zfs.change_count() > count
    count = zfs.change_count()
    zfs.destroy("pool/data@new")
    assert zfs.change_count() > count
    with pytest.raises(ZfsError):
        zfs.snapshot("pool/missing@x")  # refused: may count rows rolled back, never fewer
    assert zfs.change_count() >= count
