"""Client cases of error responses: refusals, wrong response types, request ids, null and
unsorted bodies (§client.expect, §msg.request-id, §json.decode)."""

from __future__ import annotations

from bytestreamrpc.constants import ErrorId, ResponseType
from bytestreamrpc.messages import FilesystemVersion, InitialTransferRequest
from fakes.scripted import Fault

from ...context import CaseContext
from ...faults import (
    EchoId,
    RawBody,
    Refusal,
    WrongType,
)
from ...setups import SINK_TARGET, VISIBLE
from ...wire import go_json, version_obj
from .run import (
    INFO,
    MUST,
    SHOULD,
    ClientCaseRun,
    ccase,
    compare_with_reference,
    expect_exit,
    expect_received,
    expect_untouched,
    newest_guids,
    run_client,
)

# ---------------------------------------------------------------- error responses


def _refused_case(
    cid: str,
    title: str,
    request_name: str,
    section: str = "§client.expect",
    fault: Fault | None = None,
) -> None:
    def run(ctx: CaseContext) -> None:
        r = run_client(ctx, faults={request_name: fault or Refusal()})
        expect_exit(ctx, r, False, f"the server refused {request_name}")
        expect_untouched(ctx, r, f"the server refused {request_name}")
        names = r.types
        after = names[names.index(request_name) + 1 :] if request_name in names else []
        bad = [n for n in after if n in ("INITIAL_TRANSFER", "INCREMENTAL_TRANSFER")]
        ctx.check(
            not bad,
            MUST,
            f"a transfer was requested after {request_name} failed",
            "no transfer",
            bad,
        )

    ccase(cid, section, MUST, title)(run)


_refused_case(
    "client.expect.1",
    "Filesystem answered E(5): no transfer, non-zero exit, untouched",
    "FILESYSTEM",
)
_refused_case(
    "client.expect.2",
    "Filesystem answered OK(0x01) (wrong type, no body): the call fails, non-zero exit",
    "FILESYSTEM",
    fault=WrongType(ResponseType.OK),
)
_refused_case(
    "client.expect.3",
    "FilesystemVersions answered E(5): no transfer, non-zero exit",
    "FILESYSTEM_VERSIONS",
)
_refused_case(
    "client.expect.4",
    "InitialTransfer answered E(5): non-zero exit, state untouched",
    "INITIAL_TRANSFER",
)
_refused_case(
    "client.expect.5",
    "FilesystemVersions answered FilesystemDiff-typed with a Filesystems body: refused",
    "FILESYSTEM_VERSIONS",
    fault=WrongType(ResponseType.FILESYSTEMS, body=b'[["pool","data"]]\n'),
)


@ccase(
    "client.expect.6",
    "§client.expect",
    INFO,
    "A header with the expected type but ErrorId 5 (the original looked at the type only)",
)
def _error_with_type(ctx: CaseContext) -> None:
    body = b'[["pool","data"]]\n'
    run = run_client(
        ctx,
        faults={"FILESYSTEM": WrongType(ResponseType.FILESYSTEMS, ErrorId.HANDLER, body)},
    )
    went_on = "FILESYSTEM_VERSIONS" in run.types
    ctx.note(
        "went on as if the answer were OK (the original's behaviour)"
        if went_on
        else "treated ErrorId 5 as a failure"
    )


@ccase(
    "client.expect.7",
    "§client.expect",
    MUST,
    "InitialTransfer answered with type 0x21 and no stream: that dataset fails, the next arrives",
    profile="wide-pull-mapping",
)
def _wrong_type_then_continue(ctx: CaseContext) -> None:
    # Requests: ProtocolVersion, Filesystem, FilesystemVersions, then #4 = the first
    # InitialTransfer (pool/data). No stream follows the wrong header, so a client that
    # refuses it is still in step and goes on with pool/data/home.
    # The exit status is judged by client.expect.4 (one dataset): with a second dataset
    # that arrives, the original's job ends with status 0 (§deviations.pull-job).
    run = run_client(ctx, faults={"#4": WrongType(ResponseType.CHUNKED_STREAM + 1)})
    newest = [ctx.facts_for("demo").snapshots("pool/data/home")[-1].guid]
    expect_received(ctx, run, "backup/zrepl/home", newest)


@ccase(
    "client.request-id.1",
    "§msg.request-id",
    MUST,
    "Responses echoing non-zero RequestIds are accepted: the pull still succeeds",
)
def _request_ids(ctx: CaseContext) -> None:
    rid = bytes(range(200, 216))
    faults = {
        n: EchoId(rid)
        for n in ("PROTOCOL_VERSION", "FILESYSTEM", "FILESYSTEM_VERSIONS", "INITIAL_TRANSFER")
    }
    run = run_client(ctx, faults=faults)
    expect_exit(ctx, run, True, "only the RequestIds were unusual")
    expect_received(ctx, run, SINK_TARGET, newest_guids(ctx))


@ccase(
    "client.filesystems-body.1",
    "§msg.filesystems-body",
    MUST,
    "A Filesystems body of null is the empty list: nothing to do, no failure",
)
def _fs_null(ctx: CaseContext) -> None:

    run = run_client(ctx, faults={"FILESYSTEM": RawBody(ResponseType.FILESYSTEMS, b"null\n")})
    expect_exit(ctx, run, True, "an empty list of datasets")
    expect_untouched(ctx, run, "there was nothing to pull")
    ctx.check(
        "FILESYSTEM_VERSIONS" not in run.types,
        MUST,
        "versions requested although no dataset was listed",
        "none",
        run.types,
    )


@ccase(
    "client.diff-body.1",
    "§msg.diff-body",
    MUST,
    "A FilesystemDiff body of null is the empty list: no transfer, no crash",
)
def _fsv_null(ctx: CaseContext) -> None:
    run = run_client(ctx, faults=_listing(b"null\n"))
    ctx.check(
        not run.transfers(),
        MUST,
        "a transfer was requested for an empty version list",
        "none",
        [s.name for s in run.transfers()],
    )
    expect_untouched(ctx, run, "the server listed no versions")
    if run.info.kind in ("signal", "timeout"):
        ctx.must("the client crashed or hung on a null list", "exit", run.info.describe())


@ccase(
    "client.diff-body.2",
    "§msg.diff-body",
    SHOULD,
    "An unsorted FilesystemDiff body is refused as a failure of that dataset, not a crash",
)
def _fsv_unsorted(ctx: CaseContext) -> None:
    vs = list(reversed(ctx.facts_for("demo").versions(VISIBLE)))
    body = go_json([version_obj(v) for v in vs])
    run = run_client(ctx, faults=_listing(body))
    if run.info.kind in ("signal", "timeout"):
        ctx.should("the client crashed or hung on an unsorted list", "exit", run.info.describe())
    if run.transfers():
        ctx.should(
            "a transfer was requested from an unsorted version list",
            "none",
            [s.name for s in run.transfers()],
        )


# A snapshot name holding every character Go's encoder escapes, and the integer bounds of its
# small-number table (255 and 256): the pull client must send it back exactly as received.
_ESCAPED_NAME = 's\x01\x1f\t\n\r"\\<>&\u2028\u2029é'


@ccase(
    "client.encode.escapes.1",
    "§json.encode.escapes",
    SHOULD,
    "A listed snapshot name with control characters, quotes, <>&, U+2028/9 is sent back "
    "in Go's bytes",
)
def _reencode_escapes(ctx: CaseContext) -> None:
    odd = {"Type": "snapshot", "Name": _ESCAPED_NAME, "Guid": 256, "CreateTXG": 255}
    run, sent = _list_versions(ctx, go_json([odd]))
    if sent is None:
        ctx.should("no InitialTransfer of the one listed snapshot", "InitialTransfer", run.types)
    else:
        ctx.check(
            (sent.name, sent.guid, sent.create_txg) == (_ESCAPED_NAME, 256, 255),
            MUST,
            "the InitialTransfer does not carry the listed snapshot unchanged",
            repr((_ESCAPED_NAME, 256, 255)),
            repr((sent.name, sent.guid, sent.create_txg)),
        )
    compare_with_reference(ctx, run, _listing(go_json([odd])))


@ccase(
    "client.diff-body.3",
    "§msg.diff-body",
    MUST,
    "A FilesystemDiff body of 320 snapshots: the InitialTransfer carries the newest (the last)",
)
def _fsv_many(ctx: CaseContext) -> None:
    listed = [
        {"Type": "snapshot", "Name": f"s{n:03d}", "Guid": 1000 + n, "CreateTXG": 10 + n}
        for n in range(320)
    ]
    run, sent = _list_versions(ctx, go_json(listed))
    ctx.check(
        sent is not None and (sent.name, sent.guid) == ("s319", 1319),
        MUST,
        "the InitialTransfer should carry the last of 320 listed snapshots",
        "s319 (GUID 1319)",
        repr((sent.name, sent.guid)) if sent is not None else run.types,
    )
    compare_with_reference(ctx, run, _listing(go_json(listed)))


# Every JSON escape form in one listed name, lone and paired surrogate escapes included, and
# what Go makes of it (each lone surrogate escape becomes U+FFFD).
_ESCAPED_JSON_NAME = (
    rb"a\n\/\"\\\t\u00e9\u0054\ud83d\ude00\ud800\u0041\udc00\ud800x\udbff\udfff"
    rb"\ud800\udc00\ud800\udbffz\ud800\ud800\udc00\ue000\udfffq"
)
_DECODED_NAME = (
    'a\n/"\\\téT\U0001f600\ufffdA\ufffd\ufffdx\U0010ffff\U00010000\ufffd\ufffdz'
    "\ufffd\U00010000\ue000\ufffdq"
)


@ccase(
    "client.decode.escapes.1",
    "§json.decode.escapes",
    SHOULD,
    "A listed name written with every escape form, lone surrogates included, is sent back as "
    "Go decodes it",
)
def _decode_escapes(ctx: CaseContext) -> None:
    _name_sent_back(ctx, _ESCAPED_JSON_NAME, _DECODED_NAME)


@ccase(
    "client.decode.escapes.2",
    "§json.decode.escapes",
    SHOULD,
    "A listed name s\\ud800 (one lone surrogate escape) is sent back as s and U+FFFD",
)
def _decode_lone_surrogate(ctx: CaseContext) -> None:
    _name_sent_back(ctx, rb"s\ud800", "s\ufffd")


@ccase(
    "client.decode.escapes.3",
    "§json.decode.escapes",
    SHOULD,
    "Surrogate escapes, U+D7FF/U+E000, raw bytes 80 FF in a listed name: sent back as Go "
    "decodes it",
)
def _decode_escapes_and_bytes(ctx: CaseContext) -> None:
    written = rb"\u0041\ud7ff\ud800\ue000\udc00\udc01\udc02" + b"\x80\xffz"
    decoded = "A\ud7ff\ufffd\ue000\ufffd\ufffd\ufffd\ufffd\ufffdz"
    numbers = b',"X":[12,-0,-9,-1,1.5,1.0,1.9,1e5,1E+5,1e-5,0.5]'
    _name_sent_back(ctx, written, decoded, numbers)


def _name_sent_back(ctx: CaseContext, written: bytes, decoded: str, extra: bytes = b"") -> None:
    """The pull client lists one snapshot named ``written`` (JSON string content; ``extra``:
    more members of its object) and must request it back as Go decodes it, ``decoded``, in
    Go's bytes."""
    body = b'[{"Type":"snapshot","Name":"' + written + b'","Guid":7,"CreateTXG":9'
    body += extra + b"}]\n"
    run, sent = _list_versions(ctx, body)
    ctx.check(
        sent is not None and sent.name == decoded,
        SHOULD,
        "the InitialTransfer should carry the name as Go decodes it (U+FFFD for each lone "
        "surrogate escape)",
        repr(decoded),
        repr(sent.name) if sent is not None else run.types,
    )
    compare_with_reference(ctx, run, _listing(body))


def _list_versions(ctx: CaseContext, body: bytes) -> tuple[ClientCaseRun, FilesystemVersion | None]:
    """Serve the pull client with FilesystemVersions answered by ``body`` (a FilesystemDiff of
    hand-made JSON); the run and the version its first InitialTransfer asked for, if any."""
    run = run_client(ctx, faults=_listing(body))
    for seen in run.server.requests:
        if isinstance(seen.body, InitialTransferRequest):
            return run, seen.body.filesystem_version
    return run, None


def _listing(body: bytes) -> dict[str, Fault]:
    """The faults of :func:`_list_versions` (also for the reference run it is compared with)."""
    return {"FILESYSTEM_VERSIONS": RawBody(ResponseType.FILESYSTEM_DIFF, body)}
