"""The mutants are real: each defect shows on the wire, each harmless variation interoperates.

Server mutants are started as subprocesses (``python -m tests.mutants NAME serve``) and fed a
short raw-bytes conversation chosen to expose their defect; the same bytes go to the
reference (``python -m tests.mutants reference serve``), and the test asserts the specific
difference the mutant's description names. Harmless variations must instead let our
``Client`` complete a full pull (``fakes.jobs.run_pull``) with the reference's result.
Client mutants run their ``pull``/``push`` command against our reference server (the
``Server`` loop and ``ReferenceHandler`` that ``serve --stdio`` runs, here in this process so
the test can see every request and inject a server-side failure where the scenario needs
one), compared with the reference client in the same scenario.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bytestreamrpc import framing, messages
from bytestreamrpc.client import Client
from bytestreamrpc.connection import Connection, Outcome, Role
from bytestreamrpc.constants import RequestType, ResponseType
from bytestreamrpc.errors import (
    ConnectionClosed,
    DecodeError,
    PeerTimeout,
    ProtocolError,
    RequestFailed,
)
from bytestreamrpc.interfaces import ByteSource
from bytestreamrpc.messages import (
    FilesystemVersion,
    InitialTransferRequest,
    PullMeRequest,
    ResponseHeader,
)
from bytestreamrpc.server import Server
from bytestreamrpc.serving import ServeOutcome, serve_loop
from bytestreamrpc.transport import SubprocessTransport, Transport, memory_pair
from fakes.jobs import run_pull
from fakes.mapping import parse_mapping
from fakes.profile import profile_from_obj
from fakes.reference import Reference, ReferenceHandler
from fakes.zfs import FakeZfs
from fakes.zfs.stream import StreamReader
from iut.connect import ConnectListener
from iut.spec import load_spec, render_command
from tests.mutants import MUTANTS, REPO_ROOT, mutant_spec
from tests.mutants.cli import markdown_table, summary_line
from tests.support.harness import version_json
from tests.support.wire import chunked, parse_replies, raw_request, read_until_quiet

PY = sys.executable
IDENTITY = "alice"
RID = bytes(range(1, 17))
SERVER_PROFILES: dict[str, dict[str, object]] = {
    "default": {
        "identity": IDENTITY,
        "pull_acl": {"pool/data*": "x"},
        "sinks": {IDENTITY: {"pool/data": "backup/zrepl/data"}},
    },
    "no-acl": {"identity": IDENTITY},
    "no-sink": {"identity": IDENTITY, "pull_acl": {"pool/data*": "x"}},
}
VISIBLE = ["pool", "data"]
HIDDEN = ["pool", "vol1"]  # exists, outside the pull ACL
SNAP_LABELS = ("s1", "s2", "s3")


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    """A directory with a template fake-ZFS state, the server profiles, fixture facts."""

    dir: Path
    template: Path
    snaps: dict[str, FilesystemVersion]

    def profile_path(self, name: str) -> Path:
        return self.dir / f"server-{name}.json"

    def fresh_state(self, where: Path) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        state = where / "state.sqlite"
        shutil.copyfile(self.template, state)
        return state

    def snap_json(self, label: str) -> bytes:
        v = self.snaps[label]
        return version_json(v.name, v.guid, v.create_txg)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    d = tmp_path_factory.mktemp("mutants")
    template = d / "template.sqlite"
    FakeZfs.init_state(template)
    with FakeZfs.open(template) as zfs:
        found = [v for v in zfs.list_versions("pool/data") if v.type == "snapshot"]
    snaps = {
        label: FilesystemVersion(v.type, v.name, v.guid, v.createtxg)
        for label, v in zip(SNAP_LABELS, found, strict=True)
    }
    for name, obj in SERVER_PROFILES.items():
        (d / f"server-{name}.json").write_text(profile_from_obj(obj).to_json())
    return World(d, template, snaps)


def mutant_env(state: Path) -> dict[str, str]:
    return dict(os.environ, FAKE_ZFS_STATE=str(state), PYTHONPATH=str(REPO_ROOT))


def serve_argv(name: str, world: World, profile: str) -> list[str]:
    profile_file = str(world.profile_path(profile))
    argv = [PY, "-m", "tests.mutants", name, "serve", "--identity", IDENTITY]
    return [*argv, "--profile", profile_file, "--timeout", "5"]


# --------------------------------------------------------------------------- raw conversations


@dataclass
class Reply:
    header: ResponseHeader
    raw: bytes  # the header's JSON bytes
    body: bytes | None = None


@dataclass
class Wire:
    """What a server sent back for one conversation, and how it ended."""

    raw: bytes
    closed: bool
    exit_code: int
    replies: list[Reply] = field(default_factory=list)
    garbage: str | None = None  # why the rest of ``raw`` did not parse as responses

    @property
    def error_ids(self) -> list[int]:
        return [r.header.error_id for r in self.replies]

    @property
    def types(self) -> list[int]:
        return [r.header.response_type for r in self.replies]


def parse_wire(raw: bytes, closed: bool, exit_code: int) -> Wire:
    parsed = parse_replies(raw)
    replies = [Reply(r.header, r.raw_header, r.body) for r in parsed.replies]
    return Wire(raw, closed, exit_code, replies, parsed.garbage)


def converse_reference(data: bytes, profile: str) -> Wire:
    """The reference's answer to ``data``: the ``Server`` that ``serve --stdio`` runs, in a
    thread over an in-memory pair (cheaper than a process; the bytes are the same)."""
    zfs = FakeZfs.in_memory()
    ref = Reference(zfs, profile_from_obj(SERVER_PROFILES[profile]), IDENTITY)
    ours, theirs = memory_pair()
    outcomes: list[ServeOutcome] = []
    server = Server(ref.handler(), identity=IDENTITY, timeout=5)
    thread = threading.Thread(target=lambda: outcomes.append(server.serve(theirs)))
    thread.start()
    try:
        ours.write(data, 5)
        ours.close_write()
        raw, closed = read_until_quiet(ours, quiet=3.0, limit=10.0)
    finally:
        ours.close()
        thread.join(10)
        zfs.close()
    code = 1 if outcomes and outcomes[0].returned_error else 0  # as cmd_serve exits
    return parse_wire(raw, closed, code)


def converse(world: World, name: str, data: bytes, profile: str, scratch: Path) -> Wire:
    """Send ``data`` to mutant ``name``'s server, close our side, collect everything."""
    if name == "reference":
        return converse_reference(data, profile)
    state = world.fresh_state(scratch)
    t = SubprocessTransport(serve_argv(name, world, profile), env=mutant_env(state))
    try:
        t.write(data, 5)
        t.close_write()
        raw, closed = read_until_quiet(t, quiet=3.0, limit=10.0)
    finally:
        code = t.wait(10)
    return parse_wire(raw, closed, code)


def header(rtype: int, rid: bytes = bytes(16), *, extra: str = "") -> bytes:
    ids = ",".join(str(b) for b in rid)
    return chunked(f'{{"Type":{rtype},"Id":[{ids}]{extra}}}\n'.encode())


def fsv(path: list[str], rid: bytes = bytes(16)) -> bytes:
    return raw_request(17, json.dumps({"Filesystem": path}).encode(), rid)


PV = raw_request(1, b'{"ClientVersion":1}\n')
CLOSE = raw_request(240, b'{"Goodbye":""}\n')
FS = raw_request(16, b'{"Roots":null}\n')
PV_BODY = chunked(b'{"ClientVersion":1}\n')


def initial(w: World, label: str) -> bytes:
    body = b'{"Filesystem":["pool","data"],"FilesystemVersion":' + w.snap_json(label) + b"}"
    return raw_request(18, body)


def incremental(w: World, frm: str, to: str) -> bytes:
    body = b'{"Filesystem":["pool","data"],"From":' + w.snap_json(frm)
    return raw_request(19, body + b',"To":' + w.snap_json(to) + b"}")


def stream_of(reply: Reply) -> bytes:
    assert reply.header.response_type == ResponseType.CHUNKED_STREAM
    assert reply.body is not None
    return reply.body


def verify_stream(data: bytes) -> bool:
    reader = StreamReader(io.BytesIO(data))
    try:
        reader.read_header()
        reader.verify_payload()
    except Exception:
        return False
    return True


def chunk_sizes(raw: bytes) -> list[int]:
    """The declared length of every chunk in ``raw`` (zero chunks included)."""
    sizes, pos = [], 0
    while pos + 4 <= len(raw):
        n = int.from_bytes(raw[pos : pos + 4], "little")
        sizes.append(n)
        pos += 4 + n
    return sizes


def versions_of(reply: Reply) -> tuple[FilesystemVersion, ...]:
    assert reply.header.response_type == ResponseType.FILESYSTEM_DIFF and reply.body is not None
    return messages.decode_versions(reply.body) or ()


def same_replies(ref: Wire, mut: Wire) -> None:
    assert [(r.header, r.body) for r in mut.replies] == [(r.header, r.body) for r in ref.replies]


Check = Callable[[Wire, Wire, World], None]


@dataclass(frozen=True)
class Probe:
    build: Callable[[World], bytes]
    check: Check
    profile: str = "default"


# ---- framing


def check_big_endian(ref: Wire, mut: Wire, w: World) -> None:
    first = ref.replies[0].raw
    assert ref.raw.startswith(len(first).to_bytes(4, "little") + first)
    assert mut.raw.startswith(len(first).to_bytes(4, "big") + first)


def check_no_terminator(ref: Wire, mut: Wire, w: World) -> None:
    unterminated = b"".join(len(r.raw).to_bytes(4, "little") + r.raw for r in ref.replies)
    assert len(ref.replies) == 2 and ref.raw != unterminated
    assert mut.raw == unterminated


def check_empty_chunk_midway(ref: Wire, mut: Wire, w: World) -> None:
    full = stream_of(ref.replies[1])
    assert verify_stream(full)
    cut = stream_of(mut.replies[1])
    assert 0 < len(cut) < len(full) and full.startswith(cut)
    assert mut.garbage is not None  # the rest of the stream arrives where a response belongs


def check_no_drain(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids[:1] == [0] and ref.types[:1] == [ResponseType.OK]
    assert mut.error_ids[:1] == [3]
    assert "invalid character 'g'" in mut.replies[0].header.message


def check_reader_max(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids[:1] == [0]
    assert mut.error_ids == [1]


def check_max_chunk(ref: Wire, mut: Wire, w: World) -> None:
    same_replies(ref, mut)
    assert max(chunk_sizes(ref.raw)) <= 32764
    assert max(chunk_sizes(mut.raw)) == 65536


def check_chunks_odd(ref: Wire, mut: Wire, w: World) -> None:
    same_replies(ref, mut)
    first = ref.replies[0].raw
    assert chunk_sizes(mut.raw)[:2] == [7, 7] and chunk_sizes(ref.raw)[0] == len(first)
    stream_chunks = [n for n in chunk_sizes(mut.raw) if n > 7]
    assert stream_chunks and max(stream_chunks) == 4093


def check_byte_chunks(ref: Wire, mut: Wire, w: World) -> None:
    same_replies(ref, mut)
    assert set(chunk_sizes(mut.raw)) == {0, 1}


# ---- json


def check_rejects_unknown(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids[:1] == [0]
    assert mut.error_ids == [1] and 'unknown field "Extra"' in mut.replies[0].header.message


def check_null_rejected(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.types[:2] == [ResponseType.OK, ResponseType.FILESYSTEMS]
    assert mut.error_ids[:2] == [0, 3]


def check_uint_wraps(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids == [1] and "number 272" in ref.replies[0].header.message
    assert mut.types[:1] == [ResponseType.FILESYSTEMS]


def check_case_sensitive(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.types[:1] == [ResponseType.OK] and ref.error_ids[:1] == [0]
    assert mut.error_ids == [2]


def check_first_duplicate(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.types[:1] == [ResponseType.FILESYSTEMS]  # the last Type (16) won
    assert mut.error_ids[:1] == [4]  # the first (1): a ProtocolVersion without a version


def check_guid_float(ref: Wire, mut: Wire, w: World) -> None:
    exact = [v.guid for v in versions_of(ref.replies[1])]
    lossy = [v.guid for v in versions_of(mut.replies[1])]
    assert lossy == [int(float(g)) for g in exact] and lossy != exact


def check_path_as_string(ref: Wire, mut: Wire, w: World) -> None:
    ref_body, mut_body = ref.replies[1].body, mut.replies[1].body
    assert ref_body is not None and mut_body is not None
    paths = messages.decode_filesystems(ref_body) or ()
    assert json.loads(mut_body) == [p.to_string() for p in paths]
    with pytest.raises(DecodeError):
        messages.decode_filesystems(mut_body)


def check_no_html_escape(ref: Wire, mut: Wire, w: World) -> None:
    assert [r.header for r in mut.replies] == [r.header for r in ref.replies]
    assert b"'\\u003c'" in ref.raw and b"'<'" in mut.raw


def check_spaces(ref: Wire, mut: Wire, w: World) -> None:
    same_replies(ref, mut)
    assert b'"ErrorId": 0, "Message": ""' in mut.raw and b'"ErrorId":0,' in ref.raw


def check_lowercase(ref: Wire, mut: Wire, w: World) -> None:
    same_replies(ref, mut)
    assert b'"responsetype":1' in mut.raw and b'"ResponseType":1' in ref.raw


def check_no_newline(ref: Wire, mut: Wire, w: World) -> None:
    same_replies(ref, mut)
    assert all(r.raw.endswith(b"}\n") for r in ref.replies)
    assert all(r.raw.endswith(b"}") for r in mut.replies)


# ---- server rows


def check_header_id_3(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids == [1] and mut.error_ids == [3]
    assert mut.replies[0].header.message == ref.replies[0].header.message


def check_unknown_silent(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids == [2]
    assert 2 not in mut.error_ids and mut.types == [ResponseType.OK, ResponseType.OK]


def check_version_unchecked(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids == [4]
    assert mut.error_ids[:1] == [0] and mut.types[:1] == [ResponseType.OK]


def check_incr_closes(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids == [0, 5, 0, 0]
    assert mut.error_ids == [0, 5] and mut.closed


def check_close_without_ok(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.types == [ResponseType.OK, ResponseType.OK]
    assert mut.types == [ResponseType.OK] and mut.closed and mut.garbage is None


def check_stays_open(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids == [1]
    assert mut.error_ids == [1, 0, 0]


def check_fsv_continues(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids == [0, 5] and ref.exit_code == 1
    assert mut.error_ids == [0, 5, 0, 0] and mut.exit_code == 0


def check_exit_ignores_error(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.raw == mut.raw and ref.error_ids == [0, 5] and ref.closed and mut.closed
    assert ref.exit_code == 1 and mut.exit_code == 0


def check_zero_success_id(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.replies[0].header.request_id == RID
    assert mut.replies[0].header.request_id == bytes(16)


def check_error_echoes_id(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids == [0, 5] and mut.error_ids == [0, 5]
    assert ref.replies[1].header.request_id == bytes(16)
    assert mut.replies[1].header.request_id == RID


def check_error_text_empty(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids == [3] and ref.replies[0].header.message.startswith(
        "cannot decode *rpc.ByteStreamRPCProtocolVersionRequest: "
    )
    assert mut.error_ids == [3] and mut.replies[0].header.message == ""


def check_newest_first(ref: Wire, mut: Wire, w: World) -> None:
    ascending = versions_of(ref.replies[1])
    assert [v.create_txg for v in ascending] == sorted(v.create_txg for v in ascending)
    assert versions_of(mut.replies[1]) == ascending[::-1]


def check_acl_leak(ref: Wire, mut: Wire, w: World) -> None:
    def listed(wire: Wire) -> list[str]:
        body = wire.replies[1].body
        assert body is not None
        return [p.to_string() for p in messages.decode_filesystems(body) or ()]

    assert "pool/vol1" not in listed(ref) and "pool/vol1" in listed(mut)


def check_acl_unchecked(ref: Wire, mut: Wire, w: World) -> None:
    assert ref.error_ids[:2] == [0, 5]
    assert [v.name for v in versions_of(mut.replies[1])] == ["zrepl_20170501_000000_000"]


def check_incr_full(ref: Wire, mut: Wire, w: World) -> None:
    def kind(reply: Reply) -> bool:
        head = StreamReader(io.BytesIO(stream_of(reply))).read_header()
        return bool(head.is_incremental)

    assert kind(ref.replies[1]) is True and kind(mut.replies[1]) is False


PROBES: dict[str, Probe] = {
    "frame-big-endian": Probe(lambda w: PV + CLOSE, check_big_endian),
    "frame-no-terminator": Probe(lambda w: PV + CLOSE, check_no_terminator),
    "stream-empty-chunk-midway": Probe(
        lambda w: PV + initial(w, "s3") + CLOSE, check_empty_chunk_midway
    ),
    "json-no-drain": Probe(
        lambda w: chunked(b'{"Type":1,"Id":[0]} garbage\n') + PV_BODY + CLOSE, check_no_drain
    ),
    "frame-reader-max-32764": Probe(
        lambda w: (
            (40_023).to_bytes(4, "little")
            + b'{"Type":1,"Id":[0]}'
            + b" " * 40_003
            + b"\n"
            + framing.TERMINATOR
            + PV_BODY
            + CLOSE
        ),
        check_reader_max,
    ),
    "frame-max-chunk-65536": Probe(lambda w: PV + initial(w, "s3") + CLOSE, check_max_chunk),
    "chunks-odd": Probe(lambda w: PV + initial(w, "s3") + CLOSE, check_chunks_odd),
    "json-byte-chunks": Probe(lambda w: PV + CLOSE, check_byte_chunks),
    "json-rejects-unknown-keys": Probe(
        lambda w: header(1, extra=',"Extra":1') + PV_BODY + CLOSE, check_rejects_unknown
    ),
    "json-null-rejected": Probe(lambda w: PV + FS + CLOSE, check_null_rejected),
    "json-uint8-wraps": Probe(
        lambda w: header(272) + chunked(b'{"Roots":null}\n') + CLOSE, check_uint_wraps
    ),
    "json-keys-case-sensitive": Probe(
        lambda w: chunked(b'{"type":1,"id":[0]}\n') + PV_BODY + CLOSE, check_case_sensitive
    ),
    "json-first-duplicate-wins": Probe(
        lambda w: (
            chunked(b'{"Type":1,"Type":16,"Id":[0]}\n') + chunked(b'{"Roots":null}\n') + CLOSE
        ),
        check_first_duplicate,
    ),
    "guid-float": Probe(lambda w: PV + fsv(VISIBLE) + CLOSE, check_guid_float),
    "dataset-path-as-string": Probe(lambda w: PV + FS + CLOSE, check_path_as_string),
    "json-no-html-escape": Probe(lambda w: chunked(b"<\n"), check_no_html_escape),
    "json-spaces": Probe(lambda w: PV + CLOSE, check_spaces),
    "json-lowercase-keys": Probe(lambda w: PV + CLOSE, check_lowercase),
    "json-no-newline": Probe(lambda w: PV + CLOSE, check_no_newline),
    "header-error-id-3": Probe(lambda w: chunked(b"x") + PV, check_header_id_3),
    "unknown-type-silent": Probe(
        lambda w: header(99) + chunked(b"{}") + PV + CLOSE, check_unknown_silent
    ),
    "pv-version-unchecked": Probe(
        lambda w: raw_request(1, b'{"ClientVersion":2}\n') + CLOSE, check_version_unchecked
    ),
    "incr-handler-error-closes": Probe(
        lambda w: PV + incremental(w, "s3", "s1") + PV + CLOSE, check_incr_closes
    ),
    "close-without-ok": Probe(lambda w: PV + CLOSE, check_close_without_ok),
    "header-error-stays-open": Probe(lambda w: chunked(b"x") + PV + CLOSE, check_stays_open),
    "fsv-error-continues": Probe(lambda w: PV + fsv(HIDDEN) + PV + CLOSE, check_fsv_continues),
    "exit-status-ignores-error": Probe(lambda w: PV + fsv(HIDDEN), check_exit_ignores_error),
    "success-zero-request-id": Probe(
        lambda w: raw_request(1, b'{"ClientVersion":1}\n', RID) + CLOSE, check_zero_success_id
    ),
    "error-echoes-request-id": Probe(
        lambda w: raw_request(1, b'{"ClientVersion":1}\n', RID) + fsv(HIDDEN, RID),
        check_error_echoes_id,
    ),
    "error-text-empty": Probe(
        lambda w: raw_request(1, b'{"ClientVersion":"x"}\n'), check_error_text_empty
    ),
    "versions-newest-first": Probe(lambda w: PV + fsv(VISIBLE) + CLOSE, check_newest_first),
    "acl-leak-filesystems": Probe(lambda w: PV + FS + CLOSE, check_acl_leak),
    "acl-unchecked-access": Probe(lambda w: PV + fsv(HIDDEN) + CLOSE, check_acl_unchecked),
    "incr-sends-full": Probe(lambda w: PV + incremental(w, "s1", "s2") + CLOSE, check_incr_full),
}
"""A conversation that exposes each server mutant's defect, and the difference to assert."""

PULLME_MUTANTS = ("pullme-no-finished", "pullme-finished-after-failure")


@pytest.fixture(scope="module")
def wires(world: World) -> dict[tuple[str, bytes, str], Wire]:
    """Every probe's conversation with its mutant and with the reference, run in parallel."""
    jobs: set[tuple[str, bytes, str]] = set()
    for name, probe in PROBES.items():
        data = probe.build(world)
        jobs.add((name, data, probe.profile))
        jobs.add(("reference", data, probe.profile))
    ordered = sorted(jobs, key=lambda j: (j[0], j[2], j[1]))

    def run(job: tuple[str, bytes, str], index: int) -> Wire:
        return converse(world, job[0], job[1], job[2], world.dir / f"conv-{index}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, ordered, range(len(ordered))))
    return dict(zip(ordered, results, strict=True))


@pytest.mark.parametrize("name", sorted(PROBES))
def test_server_mutant_differs_as_described(
    name: str, world: World, wires: dict[tuple[str, bytes, str], Wire]
) -> None:
    probe = PROBES[name]
    data = probe.build(world)
    ref = wires[("reference", data, probe.profile)]
    mut = wires[(name, data, probe.profile)]
    assert ref.garbage is None, f"reference output did not parse: {ref.garbage}"
    probe.check(ref, mut, world)


# --------------------------------------------------------------------------- pull-me (server)


def push_to(world: World, name: str, profile: str, scratch: Path) -> str | None:
    """Play a reference pusher against mutant ``name``'s server; the failure text or None."""
    state = world.fresh_state(scratch)
    t = SubprocessTransport(serve_argv(name, world, profile), env=mutant_env(state))
    pusher = FakeZfs.in_memory()
    handler = ReferenceHandler(
        pusher, identity="", pull_acl=parse_mapping({"pool/data*": "x"}), sink_for=lambda _: None
    )
    try:
        client = Client.connect(t, timeout=5)
        client.pull_me_request(PullMeRequest(initial_repl_policy="most_recent"), handler)
    except (RequestFailed, ProtocolError) as exc:
        return str(exc) or type(exc).__name__
    finally:
        t.wait(10)
        pusher.close()
    assert handler.sent == [("pool/data", "full @zrepl_20170501_020000_000")]
    return None


def test_pullme_no_finished(world: World, tmp_path: Path) -> None:
    assert push_to(world, "reference", "default", tmp_path / "ref") is None
    failure = push_to(world, "pullme-no-finished", "default", tmp_path / "mut")
    assert failure is not None and "pull-me did not finish" in failure


def test_pullme_finished_after_failure(world: World, tmp_path: Path) -> None:
    failure = push_to(world, "reference", "no-sink", tmp_path / "ref")
    assert failure is not None and "pull-me did not finish" in failure
    pusher = FakeZfs.in_memory()
    state = world.fresh_state(tmp_path / "mut")
    argv = serve_argv("pullme-finished-after-failure", world, "no-sink")
    t = SubprocessTransport(argv, env=mutant_env(state))
    handler = ReferenceHandler(pusher, identity="", pull_acl=None, sink_for=lambda _: None)
    try:
        client = Client.connect(t, timeout=5)
        # no sink, nothing pulled, and still Finished=true: our pusher reports success
        client.pull_me_request(PullMeRequest(initial_repl_policy="most_recent"), handler)
    finally:
        t.wait(10)
        pusher.close()
    assert handler.sent == []


# --------------------------------------------------------------------------- harmless interop

PULL_MAPPING = {"pool/data": "backup/zrepl/data", "pool/data/home": "backup/zrepl/home"}
HARMLESS = sorted(name for name, m in MUTANTS.items() if m.harmless)


def seed_oldest(zfs: FakeZfs, world: World) -> None:
    """Give ``zfs`` the oldest pool/data snapshot at backup/zrepl/data (so a pull increments)."""
    with FakeZfs.in_memory() as source:
        stream = source.send("pool/data@" + world.snaps["s1"].name)
        zfs.receive("backup/zrepl/data", stream, nomount=True)


Versions = dict[str, list[tuple[str, int]]]


def full_pull(world: World, name: str, scratch: Path) -> Versions | str:
    """Pull initial + incrementals from mutant ``name`` with our Client.

    Returns the local versions (name, GUID) of each target, or the job's failure report.
    """
    state = world.fresh_state(scratch)
    t = SubprocessTransport(serve_argv(name, world, "default"), env=mutant_env(state))
    local = FakeZfs.in_memory()
    try:
        seed_oldest(local, world)
        client = Client.connect(t, timeout=5)
        report = run_pull(client, local, parse_mapping(PULL_MAPPING))
        client.close_request()
        if not report.ok:
            return "\n".join(report.lines())
        return {
            ds: [(v.name, v.guid) for v in local.list_versions(ds)] for ds in PULL_MAPPING.values()
        }
    except (ProtocolError, RequestFailed, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        t.wait(10)
        local.close()


@pytest.fixture(scope="module")
def pulls(world: World) -> dict[str, Versions | str]:
    """A full pull from each harmless variation and from the reference, in parallel."""
    names = ["reference", *HARMLESS]

    def run(name: str) -> Versions | str:
        return full_pull(world, name, world.dir / f"pull-{name}")

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(names, pool.map(run, names), strict=True))


def test_reference_pull_gets_everything(world: World, pulls: dict[str, Versions | str]) -> None:
    result = pulls["reference"]
    assert not isinstance(result, str), result
    assert result["backup/zrepl/data"] == [
        (world.snaps[s].name, world.snaps[s].guid) for s in SNAP_LABELS
    ]
    assert len(result["backup/zrepl/home"]) == 1


@pytest.mark.parametrize("name", HARMLESS)
def test_harmless_variation_interoperates(name: str, pulls: dict[str, Versions | str]) -> None:
    result = pulls[name]
    assert not isinstance(result, str), result
    assert result == pulls["reference"]


# --------------------------------------------------------------------------- client mutants


@dataclass
class JobRun:
    """One pull/push job against the in-process reference server, and what it left."""

    exit_code: int
    stdout: str
    stderr: str
    outcomes: list[tuple[RequestType | None, Outcome]]
    versions: dict[str, list[str]]  # local dataset -> snapshot names
    readonly: dict[str, str]
    client_closed: bool  # the client ended the connection itself (``held`` scenarios)


class CutStream:
    """A send stream whose source fails right after its last byte (zfs send exiting 1)."""

    def __init__(self, inner: ByteSource) -> None:
        self.inner = inner

    def read(self, n: int = -1, /) -> bytes:
        data = self.inner.read(n)
        if not data:
            raise OSError("zfs send exited with status 1 (cut by the test)")
        return data


class CuttingHandler(ReferenceHandler):
    def handle_initial_transfer_request(self, r: InitialTransferRequest) -> ByteSource:
        return CutStream(super().handle_initial_transfer_request(r))


@dataclass(frozen=True)
class Scenario:
    job: str
    mapping: dict[str, str]
    server_profile: str = "default"
    seed: bool = False  # local already holds the oldest pool/data snapshot
    cut_streams: bool = False
    hold: bool = False  # after the serving loop, keep the connection until the client ends it


SCENARIOS: dict[str, Scenario] = {
    "plain": Scenario("pull", {"pool/data": "backup/zrepl/data"}),
    "no-acl": Scenario("pull", {"pool/data": "backup/zrepl/data"}, "no-acl"),
    "existing": Scenario("pull", {"pool/data": "backup/zrepl", "pool/data/home": "backup/zz"}),
    "behind": Scenario("pull", {"pool/data": "backup/zrepl/data"}, seed=True),
    "cut-stream": Scenario("pull", {"pool/data": "backup/zrepl/data"}, cut_streams=True),
    "push": Scenario("push", {"pool/data*": "x"}),
    "push-no-sink": Scenario("push", {"pool/data*": "x"}, "no-sink"),
    "held": Scenario("pull", {"pool/data": "backup/zrepl/data"}, hold=True),
}
HOLD_SECONDS = 2.0
"""How long a ``held`` scenario waits for the client to close before closing itself."""


def run_job(world: World, name: str, scenario: Scenario, scratch: Path) -> JobRun:
    client_state = world.fresh_state(scratch / "client")
    if scenario.seed:
        with FakeZfs.open(client_state) as zfs:
            seed_oldest(zfs, world)
    server_state = world.fresh_state(scratch / "server")
    key = "pull_mapping" if scenario.job == "pull" else "push_filter"
    profile = scratch / "client.json"
    profile.write_text(json.dumps({key: scenario.mapping}))
    listener = ConnectListener(scratch)
    argv = [PY, "-m", "tests.mutants", name, scenario.job, "--profile", str(profile)]
    argv += ["--timeout", "5", "--", *listener.command()]
    proc = subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env=mutant_env(client_state),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        transport = listener.accept(15)
        with FakeZfs.open(server_state) as zfs:
            ref = Reference(
                zfs, profile_from_obj(SERVER_PROFILES[scenario.server_profile]), IDENTITY
            )
            cls = CuttingHandler if scenario.cut_streams else ReferenceHandler
            handler = cls(
                zfs,
                identity=IDENTITY,
                pull_acl=ref.profile.pull_acl_mapping(),
                sink_for=ref.profile.sink_for,
            )
            conn = Connection(Role.SERVER, identity=IDENTITY)
            serve_loop(conn, transport, handler, lambda c, t: Client(c, t, timeout=5), timeout=5)
            client_closed = not scenario.hold or _client_closes(transport, HOLD_SECONDS)
            transport.close()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        listener.close()
    with FakeZfs.open(client_state) as zfs:
        local = [n for n in zfs.list_filesystems() if n.startswith("backup/")]
        versions = {n: [v.name for v in zfs.list_versions(n)] for n in local}
        readonly = {n: getattr(zfs.get(n, "readonly"), "text", "?") for n in local}
    return JobRun(proc.returncode, out, err, list(conn.outcomes), versions, readonly, client_closed)


def _client_closes(transport: Transport, seconds: float) -> bool:
    """Whether the client ends the connection within ``seconds`` while we keep it open."""
    try:
        while transport.read(1 << 16, seconds):
            pass
    except PeerTimeout:
        return False
    except (ConnectionClosed, OSError):
        pass
    return True


ClientCheck = Callable[[JobRun, JobRun, World], None]
PV_OK = (RequestType.PROTOCOL_VERSION, Outcome.OK)
CLOSE_OK = (RequestType.CLOSE, Outcome.OK)


def names(w: World, *labels: str) -> list[str]:
    return [w.snaps[label].name for label in labels]


def check_no_version_first(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.outcomes[0] == PV_OK and ref.exit_code == 0
    assert mut.outcomes[0] == (RequestType.FILESYSTEM, Outcome.OK)
    assert PV_OK not in mut.outcomes


def check_ignores_error_header(ref: JobRun, mut: JobRun, w: World) -> None:
    assert "unexpected response type" in ref.stdout
    assert "cannot decode *[]zfs.DatasetPath" in mut.stdout  # it read a body after E(5)


def check_client_no_drain(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.versions["backup/zz"] == ["zrepl_20170501_010000_000"]  # newest of pool/data/home
    assert "backup/zz" not in mut.versions or not mut.versions["backup/zz"]
    assert "connection lost" in mut.stdout


def check_truncation_as_eof(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.exit_code != 0 and "FAILED" in ref.stdout
    assert mut.exit_code == 0 and "ok (initial)" in mut.stdout


def check_force_receive(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.versions["backup/zrepl"] == []
    assert mut.versions["backup/zrepl"] == names(w, "s3")


def check_incremental_skip(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.versions["backup/zrepl/data"] == names(w, "s1", "s2", "s3")
    assert mut.versions["backup/zrepl/data"] == names(w, "s1", "s3")


def check_client_guid_float(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.exit_code == 0 and ref.versions["backup/zrepl/data"] == names(w, "s1", "s2", "s3")
    assert mut.exit_code != 0 and mut.versions["backup/zrepl/data"] == names(w, "s1")


def check_client_path_as_string(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.exit_code == 0
    assert mut.exit_code != 0
    assert (RequestType.FILESYSTEM_VERSIONS, Outcome.BODY_ERROR) in mut.outcomes


def check_no_ok_to_finished(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.outcomes[-1] == CLOSE_OK and ref.exit_code == 0
    # the puller read the pusher's Close header as the answer, then its body as a header
    assert mut.outcomes[-1] == (None, Outcome.UNKNOWN_TYPE)
    assert "close failed" in mut.stderr


def check_push_ignores_failure(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.exit_code != 0 and mut.exit_code == 0


def check_no_close(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.outcomes[-1] == CLOSE_OK
    assert CLOSE_OK not in mut.outcomes and mut.outcomes[-1] == (None, Outcome.HEADER_ERROR)


def check_waits_for_close(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.client_closed and ref.outcomes[-1] == CLOSE_OK
    assert not mut.client_closed and mut.outcomes[-1] == CLOSE_OK and mut.exit_code == 0


def check_skip_readonly(ref: JobRun, mut: JobRun, w: World) -> None:
    assert ref.readonly["backup/zrepl/data"] == "on"
    assert mut.readonly["backup/zrepl/data"] == "off"


CLIENT_CASES: dict[str, tuple[str, ClientCheck]] = {
    "client-no-version-first": ("plain", check_no_version_first),
    "client-ignores-error-header": ("no-acl", check_ignores_error_header),
    "client-no-drain": ("existing", check_client_no_drain),
    "client-truncation-as-eof": ("cut-stream", check_truncation_as_eof),
    "client-force-receive": ("existing", check_force_receive),
    "client-incremental-skip": ("behind", check_incremental_skip),
    "client-guid-float": ("behind", check_client_guid_float),
    "client-path-as-string": ("plain", check_client_path_as_string),
    "client-no-ok-to-finished": ("push", check_no_ok_to_finished),
    "client-push-ignores-failure": ("push-no-sink", check_push_ignores_failure),
    "client-no-close": ("plain", check_no_close),
    "client-skip-readonly": ("plain", check_skip_readonly),
    "client-waits-for-close": ("held", check_waits_for_close),
}
"""The scenario that exposes each client mutant's defect, and the difference to assert."""


@pytest.fixture(scope="module")
def job_runs(world: World) -> dict[tuple[str, str], JobRun]:
    """Every client mutant in its scenario, and the reference client in each, in parallel."""
    jobs = sorted(
        {(n, s) for n, (s, _) in CLIENT_CASES.items()}
        | {("reference", s) for s, _ in CLIENT_CASES.values()}
    )

    def run(job: tuple[str, str]) -> JobRun:
        name, scenario = job
        return run_job(world, name, SCENARIOS[scenario], world.dir / f"job-{name}-{scenario}")

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(jobs, pool.map(run, jobs), strict=True))


@pytest.mark.parametrize("name", sorted(CLIENT_CASES))
def test_client_mutant_differs_as_described(
    name: str, world: World, job_runs: dict[tuple[str, str], JobRun]
) -> None:
    scenario, check = CLIENT_CASES[name]
    check(job_runs[("reference", scenario)], job_runs[(name, scenario)], world)


def test_checks_reject_the_reference(
    world: World,
    wires: dict[tuple[str, bytes, str], Wire],
    job_runs: dict[tuple[str, str], JobRun],
) -> None:
    """Every check fails when the 'mutant' is the reference itself: none is vacuous."""
    for probe in PROBES.values():
        ref = wires[("reference", probe.build(world), probe.profile)]
        with pytest.raises(AssertionError):
            probe.check(ref, ref, world)
    for scenario, check in CLIENT_CASES.values():
        ref_run = job_runs[("reference", scenario)]
        with pytest.raises(AssertionError):
            check(ref_run, ref_run, world)


# --------------------------------------------------------------------------- the registry


HELD_OPEN = frozenset({"never-closes"})
"""Mutants that differ only while the client's side stays open (the probes above close it)."""


@pytest.mark.parametrize("name", ["reference", "never-closes"])
def test_never_closes_differs_only_while_the_client_is_open(
    name: str, world: World, tmp_path: Path
) -> None:
    state = world.fresh_state(tmp_path)
    t = SubprocessTransport(serve_argv(name, world, "default"), env=mutant_env(state))
    try:
        t.write(PV + chunked(b"x"), 5)  # OK, then E(1): the reference closes here
        raw, closed = read_until_quiet(t, quiet=1.5, limit=10.0)
        wire = parse_wire(raw, closed, 0)
        assert wire.error_ids == [0, 1]
        assert closed == (name == "reference"), "closed" if closed else "still open"
        t.close_write()
        rest, closed = read_until_quiet(t, quiet=3.0, limit=10.0)
        assert closed and rest == b""
    finally:
        assert t.wait(10) == 0


def test_every_mutant_is_smoke_tested() -> None:
    server = {n for n, m in MUTANTS.items() if m.role == "server"}
    client = {n for n, m in MUTANTS.items() if m.role == "client"}
    assert server == set(PROBES) | set(PULLME_MUTANTS) | HELD_OPEN
    assert client == set(CLIENT_CASES)


def test_registry_meets_the_issue() -> None:
    defects = [m for m in MUTANTS.values() if m.expect == "FAIL"]
    assert len(defects) >= 25
    assert len([m for m in defects if m.role == "client"]) >= 6
    assert len([m for m in MUTANTS.values() if m.harmless]) >= 3
    assert len({m.description for m in MUTANTS.values()}) == len(MUTANTS)


def test_cited_sections_exist() -> None:
    spec = (REPO_ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    ids = {line.split()[1] for line in spec.splitlines() if line.startswith("#") and " §" in line}
    for m in MUTANTS.values():
        missing = [s for s in m.sections if s not in ids]
        assert not missing, f"{m.name} cites unknown sections {missing}"


def test_readme_table_is_current() -> None:
    readme = (REPO_ROOT / "tests" / "mutants" / "README.md").read_text(encoding="utf-8")
    hint = "regenerate with: python -m tests.mutants list --markdown"
    assert markdown_table() in readme, hint
    assert summary_line() in readme, hint


def test_specs_load_as_iut_descriptions(tmp_path: Path) -> None:
    for name in MUTANTS:
        path = mutant_spec(name, tmp_path, timeout=7)
        spec = load_spec(path)
        assert spec.timeout == 7 and spec.env["PYTHONPATH"] == str(REPO_ROOT)
        values = {"identity": "x", "profile": "/p.json", "state": "/s", "connect": ["c", "d"]}
        server = render_command(spec.server, values)
        assert server[2:5] == ["tests.mutants", name, "serve"] and "/p.json" in server
        assert spec.pull is not None and render_command(spec.pull, values)[-3:] == ["--", "c", "d"]
        assert tomllib.loads(path.read_text())["name"] == f"mutant-{name}"


def test_unknown_mutant_and_missing_mapping_are_clear_errors(tmp_path: Path) -> None:
    env = mutant_env(tmp_path / "none.sqlite")
    bad = subprocess.run(
        [PY, "-m", "tests.mutants", "no-such", "serve"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert bad.returncode == 2 and "unknown mutant 'no-such'" in bad.stderr
    profile = tmp_path / "p.json"
    profile.write_text("{}")
    nomap = subprocess.run(
        [PY, "-m", "tests.mutants", "reference", "pull", "--profile", str(profile), "--", "true"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert nomap.returncode == 2 and "has no pull_mapping" in nomap.stderr


@pytest.mark.parametrize(
    ("name", "readonly"), [("frame-big-endian", "on"), ("client-skip-readonly", "off")]
)
def test_spec_pull_command_against_serve_stdio(
    name: str, readonly: str, world: World, tmp_path: Path
) -> None:
    """A description's ``pull`` runs against ``serve --stdio``; only client mutants inject.

    ``frame-big-endian`` is a server mutant, so its ``pull`` is the reference client (which
    sets readonly=on); ``client-skip-readonly``'s ``pull`` carries its defect.
    """
    spec = load_spec(mutant_spec(name, tmp_path))
    server_state = world.fresh_state(tmp_path / "server")
    client_state = world.fresh_state(tmp_path / "client")
    profile = tmp_path / "profile.json"
    profile.write_text(
        json.dumps(
            {**SERVER_PROFILES["default"], "pull_mapping": {"pool/data": "backup/zrepl/data"}}
        )
    )
    connect = ["env", f"FAKE_ZFS_STATE={server_state}", PY, "-m", "zrepl_conformance"]
    connect += ["serve", "--stdio", "--identity", IDENTITY, "--profile", str(profile)]
    assert spec.pull is not None
    argv = render_command(spec.pull, {"profile": str(profile), "connect": connect})
    env = dict(os.environ, FAKE_ZFS_STATE=str(client_state), **spec.env)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok (initial)" in done.stdout
    with FakeZfs.open(client_state) as zfs:
        assert [v.name for v in zfs.list_versions("backup/zrepl/data")] == names(world, "s3")
        prop = zfs.get("backup/zrepl/data", "readonly")
        assert prop is not None and prop.text == readonly
