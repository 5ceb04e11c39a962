"""Make the oracle's input (``cases``) and turn its output into the committed table (``table``).

Hand-picked cases cover every Go ``encoding/json`` behaviour listed in PROTOCOL-FACTS §3/§4
plus each scanner error, EOF situation, key folding, duplicate keys, escapes, invalid UTF-8
and number edge. A Hypothesis-driven part (derandomized, so the list is reproducible) adds
mutated message encodings, token soups and random strings. Run by ``regenerate.sh``.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bytestreamrpc import messages as m

RH = "*rpc.RequestHeader"
RESP = "*rpc.ResponseHeader"
PV = "*rpc.ByteStreamRPCProtocolVersionRequest"
FSR = "*rpc.FilesystemRequest"
FVR = "*rpc.FilesystemVersionsRequest"
ITR = "*rpc.InitialTransferRequest"
INC = "*rpc.IncrementalTransferRequest"
PULL = "*rpc.PullMeRequest"
CLOSE = "*rpc.CloseRequest"
FSL = "*[]zfs.DatasetPath"
VL = "*[]zfs.FilesystemVersion"
ALL_TYPES = [RH, RESP, PV, FSR, FVR, ITR, INC, PULL, CLOSE, FSL, VL]

cases: list[dict[str, str]] = []
seen: set[tuple[str, str, bytes]] = set()


def add(op: str, typ: str, data: bytes | str) -> None:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    key = (op, typ, raw)
    if key in seen:
        return
    seen.add(key)
    case = {"op": op, "input": base64.b64encode(raw).decode("ascii")}
    if typ:
        case["type"] = typ
    cases.append(case)


def dec(typ: str, data: bytes | str) -> None:
    add("decode", typ, data)


def enc_str(data: bytes | str) -> None:
    add("encode_string", "", data)


ZID = "[" + ",".join(["0"] * 16) + "]"
V1 = '{"Type":"snapshot","Name":"s1","Guid":1,"CreateTXG":2}'
V2 = '{"Type":"bookmark","Name":"b1","Guid":18446744073709551615,"CreateTXG":3}'


def hand_picked() -> None:
    # ---- canonical messages of every type
    for typ, body in [
        (RH, f'{{"Type":1,"Id":{ZID}}}'),
        (RH, f'{{"Type":240,"Id":{ZID}}}'),
        (RH, f'{{"Type":255,"Id":{ZID}}}'),
        (RH, f'{{"Type":7,"Id":{ZID}}}'),
        (RESP, f'{{"RequestId":{ZID},"ErrorId":0,"Message":"","ResponseType":1}}'),
        (RESP, f'{{"RequestId":{ZID},"ErrorId":5,"Message":"boom <&>","ResponseType":0}}'),
        (PV, '{"ClientVersion":1}'),
        (PV, '{"ClientVersion":2}'),
        (FSR, '{"Roots":null}'),
        (FSR, '{"Roots":[]}'),
        (FSR, '{"Roots":["a","b/c"]}'),
        (FVR, '{"Filesystem":["pool","a"]}'),
        (FVR, '{"Filesystem":[]}'),
        (FVR, '{"Filesystem":null}'),
        (ITR, f'{{"Filesystem":["pool"],"FilesystemVersion":{V1}}}'),
        (INC, f'{{"Filesystem":["pool","x"],"From":{V1},"To":{V2}}}'),
        (PULL, '{"Finished":false,"InitialReplPolicy":"most_recent"}'),
        (PULL, '{"Finished":true,"InitialReplPolicy":""}'),
        (CLOSE, '{"Goodbye":""}'),
        (CLOSE, '{"Goodbye":"see you"}'),
        (FSL, '[["pool"],["pool","a"],[]]'),
        (FSL, "[]"),
        (FSL, "null"),
        (VL, f"[{V1},{V2}]"),
        (VL, "[]"),
        (VL, "null"),
    ]:
        dec(typ, body)
        dec(typ, body + "\n")
        dec(typ, body + "\ngarbage")
    # ---- generic top-level shapes for every type
    for typ in ALL_TYPES:
        for body in [
            "",
            " ",
            "\n\t\r ",
            "null",
            "null ",
            "{}",
            "[]",
            '"x"',
            "1",
            "1 ",
            "-1",
            "true",
            "false",
            "{",
            "[",
            "nul",
            "x",
            "[1]",
            '{"a":1}',
            "[null]",
            "[{}]",
            "[[]]",
            '["a"]',
        ]:
            dec(typ, body)
    # ---- §4: numbers for uint8 / uint64 fields
    for num in [
        "0",
        "-0",
        "1",
        "255",
        "256",
        "-1",
        "1.0",
        "1e0",
        "1E0",
        "1e+0",
        "0.5",
        "01",
        "1.",
        "1e",
        "1e+",
        "-",
        "--1",
        "+1",
        ".5",
        "0x10",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "1" * 400,
        "1e400",
        '"1"',
        "true",
        "[]",
        "{}",
        "null",
        "Infinity",
        "NaN",
        "-Infinity",
    ]:
        dec(RH, f'{{"Type":{num}}}')
        dec(PV, f'{{"ClientVersion":{num}}}')
        dec(RESP, f'{{"ErrorId":{num}}}')
        dec(VL, f'[{{"Guid":{num}}}]')
        dec(ITR, f'{{"FilesystemVersion":{{"CreateTXG":{num}}}}}')
        dec(INC, f'{{"To":{{"Guid":{num}}}}}')
        dec(PV, num)
    # ---- the 16-byte ids
    for arr in [
        "[]",
        "[1]",
        "[1,2,3]",
        "[" + ",".join(str(i) for i in range(16)) + "]",
        "[" + ",".join(str(i) for i in range(20)) + "]",
        "[" + ",".join(["255"] * 17) + ',"x",{},[1e9]]',
        "[256]",
        "[-1]",
        "[1.5]",
        '["1"]',
        "[null,7]",
        "[true]",
        "[[1]]",
        '"AAAAAAAAAAAAAAAAAAAAAA=="',
        "{}",
        "5",
        "null",
    ]:
        dec(RH, f'{{"Type":1,"Id":{arr}}}')
        dec(RESP, f'{{"RequestId":{arr}}}')
    dec(RH, '{"Id":[9,9,9],"Id":[null]}')
    dec(RESP, '{"RequestId":[1,2,3],"RequestId":[4]}')
    # ---- key matching (§4)
    for key in [
        "Type",
        "type",
        "TYPE",
        "tYpE",
        "Typ",
        "Types",
        " Type",
        "Ty\\u0070e",
        "\\u0054ype",
        "\u212aype",
        "T\u0131pe",
    ]:
        dec(RH, f'{{"{key}":16}}')
    for key in [
        "ClientVersion",
        "clientversion",
        "CLIENTVERSION",
        "Clientver\u017fion",
        "CLIENTVER\u017fION",
        "Clientver\\u017fion",
        "Clientver\u0053ion",
        "ClientVer\u00dfion",
    ]:
        dec(PV, f'{{"{key}":7}}')
    for key in ["Guid", "guid", "GUID", "createtxg", "CreateTxg", "CREATETXG", "name", "NAME"]:
        dec(VL, f'[{{"{key}":5}}]')
        dec(VL, f'[{{"{key}":"s"}}]')
    for key in ["Roots", "roots", "Root\u017f", "ROOT\u017f", "R\u00f6ots"]:
        dec(FSR, f'{{"{key}":["x"]}}')
    for key in ["Finished", "finished", "FINISHED", "Fini\u017fhed", "initialreplpolicy"]:
        dec(PULL, f'{{"{key}":true}}')
        dec(PULL, f'{{"{key}":"all"}}')
    for key in [
        "Message",
        "message",
        "Me\u017f\u017fage",
        "ME\u017fSAGE",
        "responsetype",
        "errorid",
    ]:
        dec(RESP, f'{{"{key}":"m"}}')
        dec(RESP, f'{{"{key}":3}}')
    for key in ["From", "from", "FROM", "to", "TO", "filesystem", "FileSystem"]:
        dec(INC, f'{{"{key}":{V1}}}')
        dec(INC, f'{{"{key}":["a"]}}')
    # ---- duplicate keys: last wins in any spelling; nested structs merge; slices reuse
    dec(RH, '{"Type":1,"type":2}')
    dec(RH, '{"type":1,"Type":2}')
    dec(RH, '{"Type":1,"TYPE":2,"tYpe":3}')
    dec(RH, '{"Type":1,"type":null}')
    dec(RH, '{"Type":300,"Type":2}')
    dec(PV, '{"ClientVersion":1,"clientversion":4}')
    dec(CLOSE, '{"Goodbye":"a","GOODBYE":"b"}')
    dec(ITR, '{"FilesystemVersion":{"Name":"a"},"FilesystemVersion":{"Guid":1}}')
    dec(ITR, '{"FilesystemVersion":{"Name":"a"},"filesystemversion":null}')
    dec(ITR, f'{{"FilesystemVersion":{V1},"FilesystemVersion":{{"Type":"bookmark"}}}}')
    dec(INC, f'{{"From":{V1},"from":{{}},"To":{V2},"to":{{"Name":"z"}}}}')
    dec(FVR, '{"Filesystem":["a","b","c"],"Filesystem":["x"]}')
    dec(FVR, '{"Filesystem":["a","b","c"],"Filesystem":["x"],"Filesystem":["y",null,null]}')
    dec(FVR, '{"Filesystem":["a","b","c","d","e"],"Filesystem":[],"Filesystem":[null,null]}')
    dec(FVR, '{"Filesystem":["a"],"Filesystem":null}')
    dec(FVR, '{"Filesystem":["a","b"],"Filesystem":[null]}')
    dec(FSR, '{"Roots":["a","b","c","d","e"],"Roots":["x"],"Roots":[null,null,null,null,null]}')
    dec(FSR, '{"Roots":["a","b","c","d"],"Roots":["x"],"Roots":[null,null,null,null,null]}')
    dec(FSR, '{"Roots":["a"],"Roots":[null,null,null,null,null,null,null]}')
    dec(FSR, '{"Roots":["a","b","c","d","e","f","g"],"Roots":["x"],"Roots":[1,null,null,null]}')
    # ---- unknown keys are skipped but must be valid JSON
    dec(RH, '{"Foo":[1,{"a":[]}],"Type":3}')
    dec(RH, '{"Foo":[1,{"a":[}],"Type":3}')
    dec(RH, '{"Foo":1.5e-3,"Bar":"\\ud800","Baz":null,"Type":3}')
    dec(RH, '{"":1,"Type":3}')
    dec(PV, '{"ClientVersion":1,"Extra":{"deep":[[[[[]]]]]}}')
    # ---- wrong kinds for every field
    for typ, fieldname in [
        (RH, "Type"),
        (RH, "Id"),
        (RESP, "RequestId"),
        (RESP, "ErrorId"),
        (RESP, "Message"),
        (RESP, "ResponseType"),
        (PV, "ClientVersion"),
        (FSR, "Roots"),
        (FVR, "Filesystem"),
        (ITR, "Filesystem"),
        (ITR, "FilesystemVersion"),
        (INC, "From"),
        (INC, "To"),
        (PULL, "Finished"),
        (PULL, "InitialReplPolicy"),
        (CLOSE, "Goodbye"),
    ]:
        for val in ['"s"', "1", "-1", "1.5", "true", "false", "[]", "[1]", '["s"]', "{}", "null"]:
            dec(typ, f'{{"{fieldname}":{val}}}')
    for val in ['"s"', "1", "true", "[]", "[1]", "{}", "null", "[null]", "[[1]]", '[["a",1]]']:
        dec(FSL, f"[{val}]")
        dec(VL, f"[{val}]")
        dec(FVR, f'{{"Filesystem":{val}}}')
    for fieldname in ["Type", "Name", "Guid", "CreateTXG"]:
        for val in ['"s"', "1", "true", "[]", "{}", "null"]:
            dec(VL, f'[{{"{fieldname}":{val}}}]')
            dec(ITR, f'{{"FilesystemVersion":{{"{fieldname}":{val}}}}}')
            dec(INC, f'{{"From":{{"{fieldname}":{val}}}}}')
    # first error wins, decoding continues
    dec(RH, '{"Type":256,"Id":"x"}')
    dec(RH, '{"Id":"x","Type":256}')
    dec(RH, '{"Type":256,"Id":[1,2')
    dec(RH, '{"Type":256,"Id":[1,2}')
    dec(ITR, '{"FilesystemVersion":{"Guid":-1},"Filesystem":5}')
    dec(VL, '[{"Guid":-1},5]')
    dec(VL, '[5,{"Guid":-1}]')
    # ---- strings: escapes, invalid UTF-8 (§4)
    for s in [
        "plain",
        "",
        "\\u0000",
        "a\\u0000b",
        "\\ud800",
        "\\udc00",
        "\\ud800\\udc00",
        "\\ud83d\\ude00",
        "\\ud800\\ud800\\udc00",
        "\\ud800\\u0041",
        "\\ud800x",
        "\\udbff\\udfff",
        "\\uDFFF\\uD800",
        "\\u00e9\\u00E9",
        '\\"\\\\\\/\\b\\f\\n\\r\\t',
        "\\u2028\\u2029",
        "<&>",
        "\u00e9\u4e2d\U0001f600",
        "\ufffd",
        "\\ufffd",
    ]:
        dec(CLOSE, f'{{"Goodbye":"{s}"}}')
    for raw in [
        b"\xff",
        b"\xfe\xff",
        b"\xc3",
        b"\xc3(",
        b"\xe2\x82",
        b"\xe2\x82A",
        b"\xed\xa0\x80",
        b"\xc0\x80",
        b"\xf4\x90\x80\x80",
        b"\xf0\x9f\x98",
        b"\x80\x80",
        b"a\xffb\xc3\xa9",
        b"\x7f",
    ]:
        dec(CLOSE, b'{"Goodbye":"' + raw + b'"}')
        dec(CLOSE, b'{"Goodbye":"' + raw)
        dec(CLOSE, b'{"' + raw + b'":"x","Goodbye":"y"}')
        dec(FSL, b'[["' + raw + b'"]]')
    # ---- every scanner error
    for body in [
        "{,}",
        "{1:2}",
        '{"a" 1}',
        '{"a":1 "b":2}',
        '{"a":1,}',
        "[1,]",
        "[1 2]",
        "[,1]",
        "]",
        "}",
        ":",
        ",",
        '"abc',
        '"a\x01"',
        '"a\\x"',
        '"\\u12"',
        '"\\u12g4"',
        '"\\',
        "tru",
        "trux",
        "fals",
        "falsy",
        "nulL",
        "nx",
        "tx",
        "fx",
        "-x",
        "-",
        "1.x",
        "1.",
        "1ex",
        "1e+x",
        "1e",
        "0.1.2",
        "01",
        "1a",
        "'a'",
        "\\",
        "\x00",
        "\x7f",
        "\x1b",
        "\u00a0",
        "\u00ad",
        "\u00e9",
        "\ufeff{}",
        "/*c*/{}",
        '{"Type":1}}',
        '{"Type":1}]',
        '{"Type":1} {"Type":2}',
        '{"Type":1}{',
        "[1,2,3]x",
        '"s"x',
        "truex",
        "nullx",
        "1x",
        "-0",
        "-01",
        '{"Goodbye":"\t"}',
    ]:
        dec(RH, body)
        dec(CLOSE, body)
    for b in range(256):
        dec(RH, bytes([b]))
        dec(RH, b"{" + bytes([b]))
        dec(RH, b'{"Type":1' + bytes([b]))
    # ---- nesting depth limit (Go 1.19: 10000)
    for depth in [10000, 10001]:
        dec(RH, '{"x":' + "[" * (depth - 1) + "]" * (depth - 1) + "}")
        dec(FSL, "[" * depth + "]" * depth)
    dec(FSL, "[" * 10001)
    dec(RH, '{"x":' + '{"a":' * 10000 + "1" + "}" * 10000 + "}")
    # ---- whole-body null and the ProtocolVersion null quirk
    dec(PV, "null")
    dec(PV, " null\n")
    # ---- encode_string: Go's string escaping on arbitrary bytes
    for s in [
        "",
        "plain",
        "<a&b>",
        '"\\/',
        "\u2028\u2029",
        "\ufffd",
        "\u00e9\u4e2d\U0001f600",
        "\x7f",
        "\u0085\u00a0",
        "</script>",
    ]:
        enc_str(s)
    enc_str(bytes(range(0x20)))
    for raw in [
        b"\xff",
        b"\xc3",
        b"\xc3(",
        b"\xe2\x82A",
        b"\xed\xa0\x80",
        b"\xed\xb2\x80",
        b"\xc0\x80",
        b"\xf4\x90\x80\x80",
        b"\xf0\x9f\x98",
        b"a\x80b",
        b"\xe2\x80\xa8x\xe2\x80",
    ]:
        enc_str(raw)


# ---- Hypothesis-driven part (derandomized: the same list every run)

_COMPONENT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/@#|\t "), max_size=6
)
_VERSION = st.builds(
    m.FilesystemVersion,
    type=st.sampled_from(["snapshot", "bookmark", "", "x"]),
    name=st.text(max_size=8),
    guid=st.integers(0, 2**64 - 1),
    create_txg=st.integers(0, 2**64 - 1),
)
_PATH = st.builds(m.DatasetPath, st.lists(_COMPONENT, max_size=3).map(tuple))
_ID = st.binary(min_size=16, max_size=16)
_U8 = st.integers(0, 255)
_MESSAGES = st.one_of(
    st.builds(m.RequestHeader, type=_U8, id=_ID),
    st.builds(m.ResponseHeader, _ID, _U8, st.text(max_size=12), _U8),
    st.builds(m.ProtocolVersionRequest, _U8),
    st.builds(
        m.FilesystemRequest, st.none() | st.lists(st.text(max_size=5), max_size=3).map(tuple)
    ),
    st.builds(m.FilesystemVersionsRequest, _PATH),
    st.builds(m.InitialTransferRequest, _PATH, _VERSION),
    st.builds(m.IncrementalTransferRequest, _PATH, _VERSION, _VERSION),
    st.builds(m.PullMeRequest, st.booleans(), st.sampled_from(["most_recent", "all", "", "ſ"])),
    st.builds(m.CloseRequest, st.text(max_size=10)),
)
_FRAGMENTS = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"',
    "\\",
    " ",
    "\n",
    "null",
    "true",
    "false",
    "0",
    "1",
    "-",
    ".",
    "e",
    "255",
    "256",
    "-1",
    '"Type"',
    '"type"',
    '"Id"',
    '"Guid"',
    '"Name"',
    '"Filesystem"',
    '"From"',
    '"Roots"',
    '"Goodbye"',
    '"x"',
    "\\u00",
    "\\ud800",
    "\xff",
    '"ClientVersion"',
    '"ResponseType"',
    '"Message"',
    '"Finished"',
    "[0,0,0]",
    "{}",
    "[]",
]


def _type_name(msg: object) -> str:
    return m.POINTER_NAME_OF[type(msg)]


def hypothesis_part(n_messages: int, n_soup: int, n_strings: int) -> None:
    cfg = settings(
        max_examples=n_messages,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )

    @cfg
    @given(_MESSAGES, st.data())
    def messages(msg: object, data: st.DataObject) -> None:
        raw = bytearray(m.encode_message(msg))
        op = data.draw(st.sampled_from(["keep", "flip", "cut", "insert", "delete"]))
        if op != "keep" and raw:
            pos = data.draw(st.integers(0, len(raw) - 1))
            if op == "flip":
                raw[pos] = data.draw(st.integers(0, 255))
            elif op == "cut":
                del raw[pos:]
            elif op == "insert":
                raw[pos:pos] = data.draw(st.sampled_from(_FRAGMENTS)).encode("utf-8", "replace")
            else:
                del raw[pos]
        dec(_type_name(msg), bytes(raw))

    @settings(cfg, max_examples=n_soup)
    @given(st.lists(st.sampled_from(_FRAGMENTS), max_size=14), st.sampled_from(ALL_TYPES))
    def soup(parts: list[str], typ: str) -> None:
        dec(typ, "".join(parts).encode("utf-8", "surrogateescape"))

    @settings(cfg, max_examples=n_strings)
    @given(st.binary(max_size=12) | st.text(max_size=8).map(lambda s: s.encode()))
    def strings(raw: bytes) -> None:
        enc_str(raw)
        dec(CLOSE, b'{"Goodbye":"' + raw + b'"}')

    messages()
    soup()
    strings()


def make_table(results: list[dict[str, object]], go_version: str) -> dict[str, object]:
    """The committed table: inputs as text where they are valid UTF-8, else base64."""
    out: list[dict[str, object]] = []
    for r in results:
        raw = base64.b64decode(str(r.pop("input")))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            r["input_b64"] = base64.b64encode(raw).decode("ascii")
        else:
            r["input"] = text
        if r.get("error") is not None:
            del r["encoded"]  # the partly decoded value is not part of the contract
        out.append(r)
    return {
        "about": "Go encoding/json oracle for bytestreamrpc.gojson; see tools/go-oracle/README.md",
        "go_version": go_version,
        "cases": out,
    }


def main() -> None:
    if sys.argv[1:2] == ["cases"]:
        hand_picked()
        hypothesis_part(n_messages=300, n_soup=250, n_strings=120)
        json.dump(cases, sys.stdout)
        sys.stdout.write("\n")
    elif sys.argv[1:2] == ["table"]:
        table = make_table(json.load(sys.stdin), sys.argv[2])
        # One case per line keeps diffs of a regenerated table readable.
        head = {k: v for k, v in table.items() if k != "cases"}
        sys.stdout.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n')
        rows = [json.dumps(c, ensure_ascii=False) for c in table["cases"]]  # type: ignore[attr-defined]
        sys.stdout.write(",\n".join(rows) + "\n]}\n")
    else:
        sys.exit("usage: gen_cases.py cases | gen_cases.py table GO_VERSION < results.json")


if __name__ == "__main__":
    main()
