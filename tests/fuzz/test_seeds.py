"""Seed corpora and dictionaries (fuzz/seeds.py, ``zrepl-conformance fuzz seeds``).

Every seed is accepted by its target under the real ``fuzz_one_input`` and, for the byte
targets, delivers exactly the golden or catalog bytes it was made from to the target's
check; every dictionary token is protocol text; the files name nothing of this machine.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis.database import InMemoryExampleDatabase

from bytestreamrpc.constants import MAX_DECLARED_CHUNK
from fuzz import seeds
from fuzz.targets import TARGETS, load

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpora() -> dict[str, list[seeds.Seed]]:
    return {name: seeds.seeds_for(name) for name in TARGETS}


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_seed_is_accepted_by_its_target(
    name: str, corpora: dict[str, list[seeds.Seed]]
) -> None:
    test = load(name).build(InMemoryExampleDatabase())
    assert corpora[name], f"no seeds for {name}"
    for seed in corpora[name]:
        # None: too short or filtered out; an exception: the target found a bug
        assert test.hypothesis.fuzz_one_input(seed.data) is not None, seed.name


@pytest.mark.parametrize("name", seeds.DICTIONARY_TARGETS)
def test_byte_seeds_deliver_the_protocol_bytes_they_were_made_from(
    name: str, corpora: dict[str, list[seeds.Seed]]
) -> None:
    with seeds.probing(name) as seen:
        test = load(name).build(InMemoryExampleDatabase())
        for seed in corpora[name]:
            seen.clear()
            test.hypothesis.fuzz_one_input(seed.data)
            assert seen == [seed.carries], seed.name
    sources = {s.name.split("-", 1)[0] for s in corpora[name]}
    assert sources == {"golden", "catalog"}


def test_seeds_come_from_every_golden_transcript(corpora: dict[str, list[seeds.Seed]]) -> None:
    golden = sorted(p.stem for p in (REPO / "recordings" / "golden").glob("*.jsonl"))
    samples = seeds.golden_samples()
    assert sorted(s.name.removeprefix("golden-") for s in samples) == golden
    carried = {s.carries for s in corpora["framing"]}  # each side, cut to the draw's 512 bytes
    for sample in samples:
        for side in (sample.c2s, sample.s2c):
            assert not side or side[:512] in carried, sample.name


def _protocol_bytes() -> bytes:
    return b"\n".join(s.c2s + s.s2c for s in seeds.protocol_samples())


def test_dictionary_tokens_are_protocol_tokens() -> None:
    entries = seeds.parse_dictionary(seeds.dictionary_text())
    assert entries == seeds.dictionary_entries()
    wire = _protocol_bytes()
    chunk_lengths = []
    for entry in entries:
        token = seeds.decode_dictionary_token(entry)
        if token.startswith(b'"'):
            assert token in wire, f"{token!r} never occurs in the golden corpus or the catalog"
        else:
            (length,) = struct.unpack("<I", token)
            chunk_lengths.append(length)
    for key in (b'"Type"', b'"RequestId"', b'"ErrorId"', b'"Filesystem"', b'"Guid"'):
        assert any(seeds.decode_dictionary_token(e) == key for e in entries), key
    assert 0 in chunk_lengths and MAX_DECLARED_CHUNK in chunk_lengths
    with pytest.raises(ValueError):
        seeds.decode_dictionary_token(b"Type")


def test_fuzz_seeds_writes_zips_and_dictionaries_naming_nothing_of_this_machine(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    res = subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "fuzz", "seeds", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    for name in TARGETS:
        with zipfile.ZipFile(out / f"{name}_seed_corpus.zip") as z:
            infos = z.infolist()
            assert infos and all("/" not in i.filename for i in infos)
            blob = b"".join(z.read(i) for i in infos) + "".join(z.namelist()).encode()
        for where in (str(REPO), str(tmp_path)):
            assert where.encode() not in blob
        assert (out / f"{name}.dict").is_file() == (name in seeds.DICTIONARY_TARGETS)
    again = tmp_path / "again"
    seeds.write_seed_files(again, ["codec"])
    codec = "codec_seed_corpus.zip"
    assert (again / codec).read_bytes() == (out / codec).read_bytes()  # reproducible
    bad = subprocess.run(
        [sys.executable, "-m", "zrepl_conformance", "fuzz", "seeds", str(out), "--target", "x"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "unknown target" in bad.stderr
    assert "Traceback" not in bad.stderr
