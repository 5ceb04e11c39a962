"""Family ``acl``: what a client may see and pull (§handler.*, §msg.dataset-path, §mapping.*).

A leak — a dataset outside the pull ACL listed, its versions returned, or its data streamed
— is a MUST failure whatever else happens. Refusals are compared with the reference; for a
connection without any pull ACL the original crashed (a close without a response) where the
reference answers error 5, and both are accepted (§deviations.handler-crashes).
"""

from __future__ import annotations

from collections.abc import Callable

from bytestreamrpc.messages import FilesystemVersion

from ..catalog import case
from ..context import CaseContext
from ..exchange import Exchange
from ..model import Level, Setup
from ..setups import HIDDEN, VISIBLE
from ..wire import go_json, request, version_obj
from .common import (
    PROBE,
    PV,
    RID,
    RT,
    after_first,
    error5_or_close,
    fsv_body,
    init_body,
    standard,
)

F = "acl"
ScriptOf = Callable[[CaseContext], bytes]
"""Request bytes built from the case's fixture facts."""
MUST, SHOULD, INFO = Level.MUST, Level.SHOULD, Level.INFO
FS_REQ = request(RT.FILESYSTEM, b'{"Roots":null}\n', RID)


def no_leak(ctx: CaseContext, got: Exchange, hidden: set[str]) -> None:
    """No response names a hidden dataset, lists its versions, or carries a send stream."""
    for i, r in enumerate(got.responses, 1):
        for p in r.paths or ():
            if p.to_string() in hidden:
                ctx.must(
                    f"response #{i} lists {p.to_string()}, which the ACL hides",
                    "not listed",
                    p.to_string(),
                )
        if r.versions:
            ctx.must(f"response #{i} returns versions of a refused dataset", "E(5)", r.summary())
        if r.is_stream and r.stream_data:
            ctx.must(f"response #{i} streams data of a refused dataset", "E(5)", r.summary())


def _listing(cid: str, title: str, profile: str, section: str = "§handler.fs") -> None:
    def run(ctx: CaseContext) -> None:
        got, _ = standard(ctx, FS_REQ)
        from bytestreamrpc.messages import DatasetPath
        from fakes.mapping import parse_mapping

        from ..setups import profile as load

        acl = parse_mapping(load(profile)["pull_acl"])
        hidden = {d for d in ctx.facts.datasets if acl.map(DatasetPath.from_string(d)) is None}
        no_leak(ctx, got, hidden)

    case(cid, section, MUST, title, family=F, setup=Setup(profile=profile))(run)


_listing("acl.fs.1", "Filesystem lists exactly the datasets the glob ACL admits", "default")
_listing(
    "acl.fs.2",
    "A direct ACL entry admits that dataset only, not its children",
    "exact-acl",
    "§mapping.direct",
)
_listing(
    "acl.fs.3",
    "Glob 'pool/dat*' admits no 'pool/data' (component-wise prefix)",
    "prefix-acl",
    "§mapping.glob",
)
_listing(
    "acl.fs.4",
    "An empty ACL mapping admits nothing (an empty list, not 'no ACL')",
    "empty-acl",
    "§handler.identity",
)
_listing(
    "acl.fs.5",
    "Glob '*' admits every dataset, volumes and other pools included",
    "all-acl",
    "§mapping.glob",
)


def _refused(
    cid: str,
    title: str,
    script_of: ScriptOf,
    *,
    profile: str = "default",
    section: str = "§handler.fsv",
) -> None:
    def run(ctx: CaseContext) -> None:
        got, _ = standard(ctx, script_of(ctx) + PROBE)
        no_leak(ctx, got, {HIDDEN})

    case(cid, section, MUST, title, family=F, setup=Setup(profile=profile))(run)


def _fsv(dataset_json: bytes) -> ScriptOf:
    return lambda ctx: request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":%s}\n' % dataset_json, RID)


def _hidden_version(ctx: CaseContext) -> FilesystemVersion:
    return ctx.facts.snapshot(HIDDEN, 0)


def _init_raw(path: list[str], v: FilesystemVersion) -> bytes:
    return request(
        RT.INITIAL_TRANSFER, go_json({"Filesystem": path, "FilesystemVersion": version_obj(v)}), RID
    )


_refused(
    "acl.fsv.1",
    "FilesystemVersions of a dataset outside the ACL is refused (E5)",
    lambda ctx: request(RT.FILESYSTEM_VERSIONS, fsv_body(HIDDEN), RID),
)
_refused(
    "acl.fsv.2",
    "A child of a directly admitted dataset is refused",
    lambda ctx: request(RT.FILESYSTEM_VERSIONS, fsv_body("pool/data/home"), RID),
    profile="exact-acl",
)
_refused(
    "acl.init.1",
    "InitialTransfer of a hidden dataset streams nothing",
    lambda ctx: _init_raw(HIDDEN.split("/"), _hidden_version(ctx)),
    section="§handler.transfer",
)
_refused(
    "acl.incr.1",
    "IncrementalTransfer of a hidden dataset streams nothing",
    lambda ctx: request(
        RT.INCREMENTAL_TRANSFER,
        go_json(
            {
                "Filesystem": HIDDEN.split("/"),
                "From": version_obj(_hidden_version(ctx)),
                "To": version_obj(_hidden_version(ctx)),
            }
        ),
        RID,
    ),
    section="§handler.transfer",
)
_refused(
    "acl.path.1",
    'A path component "../vol1" under an admitted prefix leaks nothing',
    lambda ctx: request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":["pool","data","../vol1"]}\n', RID),
    section="§msg.dataset-path",
)
_refused(
    "acl.path.2",
    'A component holding a slash ("data/x") is refused',
    lambda ctx: request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":["pool","data/x"]}\n', RID),
    section="§msg.dataset-path",
    profile="all-acl",
)
_refused(
    "acl.path.3",
    "A transfer naming '../vol1' under an admitted prefix streams nothing",
    lambda ctx: _init_raw(["pool", "data", "..", "vol1"], _hidden_version(ctx)),
    section="§msg.dataset-path",
)
_refused(
    "acl.path.4",
    'A component with "@" ("data@x") is refused, not passed to zfs',
    lambda ctx: request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":["pool","data@x"]}\n', RID),
    section="§msg.dataset-path",
    profile="all-acl",
)
_refused(
    "acl.path.5",
    'An empty component (["pool","","data"]) is refused',
    lambda ctx: request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":["pool","","data"]}\n', RID),
    section="§msg.dataset-path",
    profile="all-acl",
)
_refused(
    "acl.path.6",
    "The empty path [] is refused",
    _fsv(b"[]"),
    section="§msg.dataset-path",
    profile="all-acl",
)
_refused(
    "acl.transfer.1",
    "A hidden dataset with a visible dataset's snapshot name streams nothing",
    lambda ctx: _init_raw(HIDDEN.split("/"), ctx.facts.snapshot(VISIBLE, 0)),
    section="§handler.transfer",
)


def _no_acl(cid: str, title: str, script_of: ScriptOf) -> None:
    def run(ctx: CaseContext) -> None:
        script = PV + script_of(ctx) + PROBE
        got, _ = standard(ctx, script, alternative=after_first(error5_or_close("no pull ACL")))
        no_leak(ctx, got, set(ctx.facts.datasets))

    case(cid, "§handler.no-acl", MUST, title, family=F, setup=Setup(profile="no-acl"))(run)


_no_acl(
    "acl.no-acl.1",
    "Without a pull ACL, FilesystemVersions is refused (E5 or close)",
    lambda ctx: request(RT.FILESYSTEM_VERSIONS, fsv_body(VISIBLE), RID),
)
_no_acl(
    "acl.no-acl.2",
    "Without a pull ACL, InitialTransfer streams nothing (E5 or close)",
    lambda ctx: request(RT.INITIAL_TRANSFER, init_body(ctx.facts), RID),
)
_no_acl(
    "acl.no-acl.3",
    "Without a pull ACL, IncrementalTransfer streams nothing",
    lambda ctx: request(
        RT.INCREMENTAL_TRANSFER,
        go_json(
            {
                "Filesystem": VISIBLE.split("/"),
                "From": version_obj(ctx.facts.snapshot(VISIBLE, 0)),
                "To": version_obj(ctx.facts.snapshot(VISIBLE, 1)),
            }
        ),
        RID,
    ),
)
