"""Seed corpora and dictionaries of the fuzz targets, generated (never hand-kept).

OSS-Fuzz and ClusterFuzzLite pick up ``NAME_seed_corpus.zip`` and ``NAME.dict`` beside each
fuzzer. Our fuzzers are Hypothesis tests driven through ``fuzz_one_input``, so their input is
not protocol bytes but Hypothesis's **choice bytes** (``BytestringProvider``: an integer is
its offset from the minimum in big-endian bytes, a boolean one byte, a byte string a
``0xff <byte>`` pair per element and ``0x00`` at its end). A seed is therefore made by
running the target's own test once with a *planning* provider that emits the choice bytes of
the choices it wants and decodes them exactly as ``BytestringProvider`` does, so the seed
replays the same path under the real ``fuzz_one_input``:

* ``framing``, ``server``, ``client``, ``codec``: the protocol bytes of the golden transcripts
  (``recordings/golden``: the client's side, the server's side) and of the conformance
  catalog (what the suite sends in every server-role case, and our reference's answers),
  placed in the target's byte-string draw (the plan — which ``one_of`` branch, which decoder
  — is searched for and checked: the target's check must receive exactly those bytes);
* ``gojson``: every message type × validity (valid, near-valid, invalid), simplest value;
* ``stateful``: the simplest run and small variations of its first choices.

A dictionary entry is a protocol token (every Go-JSON key of every message; each request
type, response type and error id as ``"Key":value``; chunk headers of the edge lengths) in
the byte-string encoding above, so libFuzzer's insertions land inside byte-string draws.
Everything depends on the Hypothesis version (as its example database does): generate the
files where they are used (``zrepl-conformance fuzz seeds DIR``; ``.clusterfuzzlite/build.sh``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DICTIONARY_TARGETS",
    "Sample",
    "Seed",
    "decode_dictionary_token",
    "dictionary_entries",
    "encode_bytes_choice",
    "protocol_samples",
    "protocol_tokens",
    "seeds_for",
    "write_seed_files",
]

_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)
"""Every zip entry's timestamp: the same inputs make the same file, on any machine."""


@dataclass(frozen=True)
class Sample:
    """Protocol bytes from a transcript: what the client sent, what the server answered."""

    name: str
    c2s: bytes
    s2c: bytes
    messages: tuple[tuple[str, bytes], ...] = ()
    """Every JSON stream's Go type and payload, both directions."""


@dataclass(frozen=True)
class Seed:
    """One corpus entry: a name (no path of this machine), the choice bytes, what it holds."""

    name: str
    data: bytes
    carries: bytes = b""
    """The protocol bytes the target's check receives from it (empty: a structure seed)."""


# --------------------------------------------------------------------------- protocol bytes


def _side(records: Sequence[object], direction: str) -> bytes:
    """The exact bytes one direction carried; stops at a stream stored only as a digest."""
    from recordings.format import StreamRecord, wire_bytes

    out = bytearray()
    for rec in records:
        if isinstance(rec, StreamRecord) and rec.dir == direction:
            try:
                out += wire_bytes(rec)
            except ValueError:
                break
    return bytes(out)


def _sample(name: str, records: Sequence[object]) -> Sample:
    from recordings.format import C2S, S2C, StreamRecord

    messages = tuple(
        (r.go, r.payload)
        for r in records
        if isinstance(r, StreamRecord) and r.is_json and r.go and r.payload is not None
    )
    return Sample(name, _side(records, C2S), _side(records, S2C), messages)


def golden_samples() -> list[Sample]:
    """Both sides of every transcript of the golden corpus."""
    import recordings
    from recordings.format import read_transcript

    golden = Path(next(iter(recordings.__path__))).resolve() / "golden"
    return [
        _sample(f"golden-{p.stem}", read_transcript(p).records)
        for p in sorted(golden.glob("*.jsonl"))
    ]


def catalog_samples() -> list[Sample]:
    """What the conformance suite sends in every server-role case, and the reference's
    answers: the catalog run in-process against our reference, from its wire logs."""
    from conformance.catalog import all_cases
    from conformance.runner import Runner, RunOptions
    from recordings.format import loads_record

    runner = Runner.for_spec(None, RunOptions())
    out: list[Sample] = []
    try:
        for case in (c for c in all_cases() if c.needs == "server"):
            result = runner.run(case)
            sessions = result.wire_log.split("\n== ")
            for i, text in enumerate(sessions):
                lines = [x for x in text.splitlines() if x.startswith('{"dir":')]
                records = [loads_record(x) for x in lines]
                out.append(_sample(f"catalog-{case.id}-{i}", records))
    finally:
        runner.close()
    return out


@functools.cache
def protocol_samples() -> tuple[Sample, ...]:
    """The golden corpus, then the catalog (computed once per process: ~10 s)."""
    return tuple(s for s in (*golden_samples(), *catalog_samples()) if s.c2s or s.s2c)


# --------------------------------------------------------------------------- planning


@dataclass
class _Plan:
    ints: dict[int, int] = field(default_factory=dict)
    """The n-th integer draw (outside byte strings) -> its offset from the simplest value."""
    payload: bytes = b""
    slot: int = 0
    """Which byte-string draw gets ``payload`` (the others are empty)."""


_PLAN: list[_Plan] = []
_PLANNED: list[Any] = []
"""The planner of the current run (its ``bytestring`` is the seed)."""


def _bounds(min_value: int | None, max_value: int | None) -> tuple[int, int]:
    """An integer draw's range as ``BytestringProvider`` resolves open ends."""
    if min_value is None and max_value is None:
        return -(2**127), 2**127 - 1
    if min_value is None:
        assert max_value is not None
        return max_value - 2**64, max_value
    return min_value, min_value + 2**64 if max_value is None else max_value


def _planner_class() -> type:
    from hypothesis.internal.conjecture.providers import BytestringProvider

    class Planner(BytestringProvider):
        """Emits the choice bytes of the plan, then decodes them as its base class does."""

        def __init__(self, cd: Any, /, *, bytestring: bytes) -> None:
            super().__init__(cd, bytestring=b"")  # grows as the plan is emitted
            self.plan = _PLAN[-1]
            self.ints = 0
            self.slots = 0
            self.collection: list[int] | None = None
            _PLANNED.append(self)

        def draw_boolean(self, p: float = 0.5) -> bool:
            if 0 < p < 1:
                more = self.collection is not None and bool(self.collection)
                self.bytestring += b"\xff" if more else b"\0"
            return bool(super().draw_boolean(p))

        def draw_integer(self, min_value: int | None = None, max_value: int | None = None,
                         **kw: Any) -> int:  # fmt: skip
            lo, hi = _bounds(min_value, max_value)
            if self.collection is not None:
                value = self.collection.pop(0) if self.collection else 0
            else:
                simplest = min(max(kw.get("shrink_towards", 0), lo), hi)
                value = min(simplest + self.plan.ints.get(self.ints, 0), hi)
                self.ints += 1
            if lo != hi:
                width = ((hi - lo).bit_length() + 7) // 8
                self.bytestring += (value - lo).to_bytes(width, "big")
            return int(super().draw_integer(min_value, max_value, **kw))

        def draw_float(self, **kw: Any) -> float:
            self.bytestring += bytes(9)
            return float(super().draw_float(**kw))

        def draw_bytes(self, min_size: int = 0, max_size: int = 2**63) -> bytes:
            mine = self.slots == self.plan.slot
            self.slots += 1
            value = self.plan.payload[:max_size] if mine else b""
            self.collection = list(value.ljust(min_size, b"\0"))
            try:
                return bytes(super().draw_bytes(min_size, max_size))
            finally:
                self.collection = None

        def draw_string(self, intervals: Any, *, min_size: int = 0, max_size: int = 2**63) -> str:
            self.collection = [0] * min_size
            try:
                return str(super().draw_string(intervals, min_size=min_size, max_size=max_size))
            finally:
                self.collection = None

    return Planner


@contextlib.contextmanager
def _planning() -> Iterator[None]:
    """``fuzz_one_input`` builds its data with the planner instead of the fuzzer's bytes."""
    import hypothesis.core as core

    original = core.__dict__["BytestringProvider"]
    setattr(core, "BytestringProvider", _planner_class())  # noqa: B010
    try:
        yield
    finally:
        setattr(core, "BytestringProvider", original)  # noqa: B010


def _planned(test: Any, plan: _Plan) -> bytes | None:
    """The choice bytes of ``plan`` for ``test``, or ``None`` if the run was invalid."""
    _PLAN.append(plan)
    _PLANNED.clear()
    try:
        with _planning():
            ok = test.hypothesis.fuzz_one_input(b"")
    finally:
        _PLAN.pop()
    return bytes(_PLANNED[-1].bytestring) if ok is not None and _PLANNED else None


# --------------------------------------------------------------------------- per target

Probe = tuple[str, Callable[..., bytes]]
"""The ``fuzz.invariants`` check a byte target calls, and the protocol bytes it receives."""

_PROBES: Final[dict[str, Probe]] = {
    "framing": ("check_framing", lambda data, *_a, **_k: data),
    "server": ("check_server", lambda _fixture, pieces, *_a, **_k: b"".join(pieces)),
    "client": ("check_client_parse", lambda _request, pieces, *_a, **_k: b"".join(pieces)),
    "codec": ("check_codec", lambda data, *_a, **_k: data),
}
STRUCTURE_TARGETS: Final = ("gojson", "stateful")
DICTIONARY_TARGETS: Final = tuple(_PROBES)
"""Targets whose fuzzer bytes reach the code under test through byte-string draws."""


@contextlib.contextmanager
def probing(target: str) -> Iterator[list[bytes]]:
    """While open, the target's check (built after entering) records what it receives
    instead of checking it; for the other targets nothing changes."""
    from fuzz import invariants

    seen: list[bytes] = []
    if target not in _PROBES:
        yield seen
        return
    name, extract = _PROBES[target]
    original = getattr(invariants, name)

    def record(*args: Any, **kwargs: Any) -> None:
        seen.append(extract(*args, **kwargs))

    setattr(invariants, name, record)
    try:
        yield seen
    finally:
        setattr(invariants, name, original)


def _payloads(target: str, sample: Sample) -> list[tuple[str, bytes, dict[int, int]]]:
    """The protocol bytes a target's seeds should carry, with the integer choices fixed for
    each (the codec's decoder)."""
    if target == "server":
        return [("c2s", sample.c2s, {})]
    if target == "client":
        return [("s2c", sample.s2c, {})]
    if target == "framing":
        return [("c2s", sample.c2s, {}), ("s2c", sample.s2c, {})]
    decoders = _decoder_index()
    return [
        (f"msg{i}", payload, {0: decoders[go]})
        for i, (go, payload) in enumerate(sample.messages)
        if go in decoders
    ]


@functools.cache
def _decoder_index() -> dict[str, int]:
    """Go type name -> index of its decoder in ``fuzz.invariants.DECODER_NAMES``."""
    from bytestreamrpc import messages
    from fuzz.invariants import DECODER_NAMES, MESSAGE_CLASSES

    names = {messages.go_type_of(c).go_name: c.__name__ for c in MESSAGE_CLASSES}
    names[messages.FILESYSTEMS_TYPE.go_name] = "filesystems"
    names[messages.VERSIONS_TYPE.go_name] = "versions"
    return {go: DECODER_NAMES.index(name) for go, name in names.items() if name in DECODER_NAMES}


def _candidates(fixed: dict[int, int], first: _Plan | None) -> Iterator[_Plan]:
    """Plans to try: the one that worked last, the simplest, then one more integer choice
    changed (which ``one_of`` branch, ...) or the payload in a later byte-string draw."""
    if first is not None:
        yield _Plan({**first.ints, **fixed}, slot=first.slot)
    for slot in range(3):
        yield _Plan(dict(fixed), slot=slot)
        for i in range(8):
            if i not in fixed:
                for v in range(1, 4):
                    yield _Plan({**fixed, i: v}, slot=slot)


def _byte_seeds(target: str, test: Any, seen: list[bytes]) -> list[Seed]:
    """Seeds carrying the protocol samples; ``test`` was built inside :func:`probing`,
    which fills ``seen``."""
    out: list[Seed] = []
    worked: _Plan | None = None
    for sample in protocol_samples():
        for side, payload, fixed in _payloads(target, sample):
            if not payload:
                continue
            for plan in _candidates(fixed, worked):
                plan.payload = payload
                seen.clear()
                data = _planned(test, plan)
                got = seen[-1] if seen else b""
                if data is not None and got and payload.startswith(got):
                    out.append(Seed(f"{sample.name}-{side}", data, got))
                    worked = plan
                    break
    return out


def _structure_seeds(target: str, test: Any) -> list[Seed]:
    if target == "gojson":
        from fuzz.invariants import MESSAGE_CLASSES
        from fuzz.strategies import VALIDITIES

        plans = [
            _Plan({0: t, 1: v})
            for t in range(len(MESSAGE_CLASSES) + 2)
            for v in range(len(VALIDITIES))
        ]
    else:
        plans = [_Plan(), *(_Plan({i: v}) for i in range(8) for v in range(1, 4))]
    out: list[Seed] = []
    for i, plan in enumerate(plans):
        data = _planned(test, plan)
        if data is not None and all(s.data != data for s in out):
            out.append(Seed(f"{target}-structure-{i}", data))
    return out


def seeds_for(target: str) -> list[Seed]:
    """The seed corpus of ``target`` (see the module docstring), without duplicates."""
    from hypothesis.database import InMemoryExampleDatabase

    from fuzz.targets import load

    module = load(target)
    if target in STRUCTURE_TARGETS:
        return _structure_seeds(target, module.build(InMemoryExampleDatabase()))
    unique: dict[bytes, Seed] = {}
    with probing(target) as seen:
        test = module.build(InMemoryExampleDatabase())
        for seed in _byte_seeds(target, test, seen):
            unique.setdefault(seed.data, seed)
    return list(unique.values())


# --------------------------------------------------------------------------- dictionaries

CHUNK_EDGE_LENGTHS: Final = (0, 1, 32763, 32764, 32765, 65535, 65536, 2**31, 2**32 - 1)
"""Chunk lengths at the edges §frame names: the terminator, one byte, the original writer's
maximum payload and around it, 64 KiB, the sign bit, the largest declarable length."""


def _keys(go_type: object, out: list[str]) -> None:
    from bytestreamrpc.gojson import GoSlice, GoStruct

    if isinstance(go_type, GoStruct):
        for f in go_type.fields:
            if f.name not in out:
                out.append(f.name)
            _keys(f.type, out)
    elif isinstance(go_type, GoSlice):
        _keys(go_type.elem, out)


def protocol_tokens() -> list[bytes]:
    """Every Go-JSON key of every message (quoted), each request type, response type and
    error id as the ``"Key":value`` our encoder writes, the chunk headers of
    :data:`CHUNK_EDGE_LENGTHS`."""
    from bytestreamrpc import messages
    from bytestreamrpc.constants import ErrorId, RequestType, ResponseType
    from bytestreamrpc.framing import chunk_header
    from fuzz.invariants import MESSAGE_CLASSES

    keys: list[str] = []
    for cls in MESSAGE_CLASSES:
        _keys(messages.go_type_of(cls), keys)
    tokens = [json.dumps(k).encode() for k in keys]
    for key, values in (("Type", RequestType), ("ResponseType", ResponseType),
                        ("ErrorId", ErrorId)):  # fmt: skip
        tokens += [f'"{key}":{int(v)}'.encode() for v in values]
    tokens += [chunk_header(n) for n in CHUNK_EDGE_LENGTHS]
    return tokens


def encode_bytes_choice(token: bytes) -> bytes:
    """``token`` as the elements of a Hypothesis byte-string draw (``0xff`` before each)."""
    return b"".join(b"\xff" + bytes([b]) for b in token)


def decode_dictionary_token(entry: bytes) -> bytes:
    """The protocol token of a dictionary entry (inverse of :func:`encode_bytes_choice`)."""
    if len(entry) % 2 or any(b != 0xFF for b in entry[::2]):
        raise ValueError(f"not a byte-string choice encoding: {entry!r}")
    return bytes(entry[1::2])


def _dict_literal(data: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\x{b:02x}" for b in data)


def dictionary_entries() -> list[bytes]:
    return [encode_bytes_choice(t) for t in protocol_tokens()]


def dictionary_text() -> str:
    """The libFuzzer dictionary (``-dict=``) every byte target gets."""
    lines = [
        "# zrepl ByteStreamRPC v1 tokens, each as the elements of a Hypothesis byte-string",
        "# draw (0xff before every byte); generated by zrepl-conformance fuzz seeds",
    ]
    lines += [f'kw{i}="{_dict_literal(e)}"' for i, e in enumerate(dictionary_entries(), 1)]
    return "\n".join(lines) + "\n"


def parse_dictionary(text: str) -> list[bytes]:
    """The entries of a libFuzzer dictionary (``name="..."`` lines with ``\\xNN`` escapes)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        quoted = line[line.index('"') + 1 : line.rindex('"')]
        out.append(quoted.encode("latin-1").decode("unicode_escape").encode("latin-1"))
    return out


# --------------------------------------------------------------------------- files


def write_seed_files(directory: Path, targets: Sequence[str]) -> list[Path]:
    """``NAME_seed_corpus.zip`` for every target and ``NAME.dict`` for the byte targets,
    in ``directory``; entries are named by source and content, never by a path here."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for target in targets:
        path = directory / f"{target}_seed_corpus.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for seed in seeds_for(target):
                digest = hashlib.sha1(seed.data).hexdigest()[:12]
                info = zipfile.ZipInfo(f"{seed.name}-{digest}", date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, seed.data)
        written.append(path)
        if target in DICTIONARY_TARGETS:
            d = directory / f"{target}.dict"
            d.write_text(dictionary_text(), encoding="ascii")
            written.append(d)
    return written
