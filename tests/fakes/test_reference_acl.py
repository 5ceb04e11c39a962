"""ACL safety (§handler.*): nothing outside the pull ACL is ever listed, versioned or sent.

Hypothesis builds random dataset trees and ACL mappings, then asks the
reference handler for everything it can think of: every dataset, near-miss
paths (renamed components, embedded ``/`` and ``@``, empty components), and
every version of every dataset. Whatever it asks, a dataset the ACL does not
map never appears in an answer and never yields a send stream.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bytestreamrpc.errors import HandlerError
from bytestreamrpc.messages import (
    DatasetPath,
    FilesystemRequest,
    FilesystemVersion,
    FilesystemVersionsRequest,
    IncrementalTransferRequest,
    InitialTransferRequest,
)
from fakes.mapping import parse_mapping
from fakes.reference import ReferenceHandler
from fakes.zfs import FakeZfs
from fakes.zfs.fixtures import DatasetSpec, Fixture, PoolSpec, SnapshotSpec

NAMES = st.sampled_from(["a", "b", "ab", "c"])


@st.composite
def trees(draw: st.DrawFn) -> tuple[Fixture, list[str]]:
    datasets: list[str] = []
    for _ in range(draw(st.integers(1, 7))):
        parent = draw(st.sampled_from(["pool", *datasets]))
        name = f"{parent}/{draw(NAMES)}"
        if name not in datasets:
            datasets.append(name)
    snaps = []
    for ds in datasets:
        for i in range(draw(st.integers(0, 2))):
            snaps.append(SnapshotSpec(name=f"{ds}@s{i}"))
    fx = Fixture(
        pools=(PoolSpec("pool"),),
        datasets=tuple(DatasetSpec(d) for d in datasets),
        snapshots=tuple(snaps),
        seed=draw(st.integers(0, 1000)),
    )
    return fx, ["pool", *datasets]


@st.composite
def acls(draw: st.DrawFn, names: list[str]) -> dict[str, str]:
    entries: dict[str, str] = {}
    for _ in range(draw(st.integers(0, 3))):
        base = draw(st.sampled_from(names))
        lhs = draw(st.sampled_from([base, base + "*"]))
        entries[lhs] = "target/x"
    return entries


def near_misses(name: str) -> list[DatasetPath]:
    comps = tuple(name.split("/"))
    out = [DatasetPath(comps)]
    out.append(DatasetPath((*comps[:-1], comps[-1] + "x")))
    out.append(DatasetPath(("/".join(comps),)))
    out.append(DatasetPath((*comps, "")))
    out.append(DatasetPath((*comps[:-1], comps[-1] + "@s0")))
    out.append(DatasetPath((*comps[:1], "..", *comps[1:])))
    return out


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_nothing_outside_the_acl_leaks(data: st.DataObject) -> None:
    fx, names = data.draw(trees())
    acl_raw = data.draw(acls(names))
    zfs = FakeZfs.in_memory(fx)
    acl = parse_mapping(acl_raw)
    allowed = {n for n in names if acl.map(DatasetPath(tuple(n.split("/")))) is not None}
    h = ReferenceHandler(zfs, identity="eve", pull_acl=acl, sink_for=lambda _w: None)

    listed = {p.to_string() for p in h.handle_filesystem_request(FilesystemRequest()) or ()}
    assert listed == allowed

    for name in names:
        versions = zfs.list_versions(name)
        for path in near_misses(name):
            text = path.to_string()
            well_formed = all(c and not set(c) & set("/@#| \t") for c in path.components)
            ok = text in allowed and well_formed
            try:
                got = h.handle_filesystem_versions_request(FilesystemVersionsRequest(path))
                assert ok, f"versions of {path} leaked"
                assert [v.guid for v in got or ()] == [v.guid for v in versions]
            except HandlerError:
                assert not ok, f"versions of allowed dataset {path} refused"
            for v in versions:
                fv = FilesystemVersion(v.type, v.name, v.guid, v.createtxg)
                try:
                    stream = h.handle_initial_transfer_request(InitialTransferRequest(path, fv))
                except HandlerError:
                    continue
                assert ok, f"send stream of {path}@{v.name} leaked"
                assert stream.read(1)
            for a, b in itertools.pairwise(versions):
                fa = FilesystemVersion(a.type, a.name, a.guid, a.createtxg)
                fb = FilesystemVersion(b.type, b.name, b.guid, b.createtxg)
                try:
                    h.handle_incremental_transfer_request(IncrementalTransferRequest(path, fa, fb))
                except HandlerError:
                    continue
                assert ok, f"incremental stream of {path} leaked"


def test_no_acl_refuses_everything() -> None:
    zfs = FakeZfs.in_memory()
    h = ReferenceHandler(zfs, identity="eve", pull_acl=None, sink_for=lambda _w: None)
    with pytest.raises(HandlerError, match="no pull ACL for client identity 'eve'"):
        h.handle_filesystem_request(FilesystemRequest())
    with pytest.raises(HandlerError, match="no pull ACL"):
        h.handle_filesystem_versions_request(
            FilesystemVersionsRequest(DatasetPath(("pool", "data")))
        )
