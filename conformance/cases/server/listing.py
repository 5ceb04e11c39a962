"""Server rows of the listing requests: Filesystem (§server.fs.*) and FilesystemVersions
(§server.fsv.*), answered, refused as undecodable, or failed in the handler."""

from __future__ import annotations

from ...catalog import case
from ...context import CaseContext
from ...model import Setup
from ...setups import HIDDEN, VISIBLE
from ...wire import request
from ..common import (
    FS,
    PROBE,
    PV,
    RID,
    RT,
    after_first,
    error5_or_close,
    fsv_body,
    standard,
)
from .rules import KEEPS_GOING, MUST, SHOULD, F

# ---------------------------------------------------------------- filesystem


@case(
    "server.fs.ok.1",
    "§server.fs.ok",
    MUST,
    "Filesystem is answered OK(0x10) + the ACL's datasets, and the server goes on",
    family=F,
)
def _fs_ok(ctx: CaseContext) -> None:
    standard(ctx, PV + FS + PROBE, KEEPS_GOING)


@case(
    "server.fs.ok.2",
    "§msg.bodies",
    SHOULD,
    'Roots ["pool"] is ignored: the answer is the same as for null',
    family=F,
)
def _fs_roots(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM, b'{"Roots":["pool"]}\n', RID) + PROBE)


@case(
    "server.fs.ok.3",
    "§msg.bodies",
    SHOULD,
    "Roots of 20 000 empty strings (60 kB) is decoded and ignored like null",
    family=F,
)
def _fs_many_roots(ctx: CaseContext) -> None:
    roots = b'{"Roots":[' + b",".join([b'""'] * 20_000) + b"]}\n"
    standard(ctx, request(RT.FILESYSTEM, roots, RID) + PROBE)


@case(
    "server.fs.ok.4",
    "§json.decode.duplicate-keys",
    SHOULD,
    'Roots given twice ({"Roots":["a"],"Roots":["b"]}) is decoded and ignored like null',
    family=F,
)
def _fs_roots_twice(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM, b'{"Roots":["a"],"Roots":["b"]}\n', RID) + PROBE)


@case(
    "server.fs.decode-error.1",
    "§server.fs.decode-error",
    MUST,
    'Filesystem body {"Roots":1} is E(3, "") (empty message), then close',
    family=F,
)
def _fs_bad(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM, b'{"Roots":1}\n', RID) + PROBE)


@case(
    "server.fs.decode-error.2",
    "§server.fs.decode-error",
    MUST,
    'Filesystem body {"Roots":"pool"} is error 3',
    family=F,
)
def _fs_bad2(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM, b'{"Roots":"pool"}\n', RID) + PROBE)


@case(
    "server.fs.handler-error.1",
    "§server.fs.handler-error",
    MUST,
    "Filesystem without a pull ACL: E(5) then close, or close without a response",
    family=F,
    setup=Setup(profile="no-acl"),
)
def _fs_no_acl(ctx: CaseContext) -> None:
    standard(ctx, PV + FS + PROBE, alternative=after_first(error5_or_close("no pull ACL")))


# ---------------------------------------------------------------- filesystem versions


@case(
    "server.fsv.ok.1",
    "§server.fsv.ok",
    MUST,
    "FilesystemVersions is answered OK(0x11) + the versions, and the server goes on",
    family=F,
)
def _fsv_ok(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, fsv_body(), RID) + PROBE, KEEPS_GOING)


@case(
    "server.fsv.decode-error.1",
    "§server.fsv.decode-error",
    MUST,
    "FilesystemVersions with a string path is E(3, decoder text); the loop returns",
    family=F,
)
def _fsv_bad(ctx: CaseContext) -> None:
    body = b'{"Filesystem":"pool/data"}\n'
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, body, RID) + PROBE)


@case(
    "server.fsv.decode-error.2",
    "§server.fsv.decode-error",
    MUST,
    "FilesystemVersions with a path of numbers is error 3",
    family=F,
)
def _fsv_bad2(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":[1]}\n', RID) + PROBE)


@case(
    "server.fsv.decode-error.3",
    "§server.fsv.decode-error",
    SHOULD,
    "After a FilesystemVersions decode error the server serves nothing more",
    family=F,
)
def _fsv_bad_returns(ctx: CaseContext) -> None:
    body = request(RT.FILESYSTEM_VERSIONS, b'{"Filesystem":{}}\n', RID)
    standard(ctx, body + PV + PROBE)


@case(
    "server.fsv.handler-error.1",
    "§server.fsv.handler-error",
    MUST,
    "FilesystemVersions of a dataset outside the ACL: E(5, 'no match found in mapping')",
    family=F,
)
def _fsv_hidden(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, fsv_body(HIDDEN), RID) + PROBE)


@case(
    "server.fsv.handler-error.2",
    "§server.fsv.handler-error",
    MUST,
    "FilesystemVersions of a missing dataset the ACL admits is error 5",
    family=F,
)
def _fsv_missing(ctx: CaseContext) -> None:
    standard(ctx, request(RT.FILESYSTEM_VERSIONS, fsv_body(VISIBLE + "/nope"), RID) + PROBE)
