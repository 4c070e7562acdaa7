"""The malformed-SIP corpus kept in the repository is what its generator makes."""

from __future__ import annotations

import gzip

from tests.fuzz.gen_corpus import CORPUS, COUNT, dump, generate, load


def test_corpus_file_matches_the_generator() -> None:
    assert gzip.decompress(CORPUS.read_bytes()) == gzip.decompress(dump(generate()))


def test_corpus_size_and_shape() -> None:
    entries = load()
    assert len(entries) == sum(COUNT.values()) >= 1000
    assert {e["base"] for e in entries} == {"INVITE", "REGISTER", "OPTIONS"}
    assert all(e["ops"] for e in entries)
    assert len({e["data"] for e in entries}) > 990  # mutations differ
