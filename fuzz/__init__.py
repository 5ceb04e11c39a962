"""Fuzzers for ByteStreamRPC v1: strategies, property targets, campaigns, differential runs.

Layout (docs/FUZZING.md has the how-to):

* :mod:`fuzz.strategies` — public Hypothesis strategies for every protocol value: dataset
  paths, versions, fixtures, mappings, request and response bodies, Go-JSON texts (valid,
  near-valid, invalid), chunkings, whole conversations, mutated transcripts.
* :mod:`fuzz.invariants` — the checks every target applies ("parse, or raise our protocol
  error, never anything else", after h11).
* :mod:`fuzz.targets` — one module per fuzz target; each is a Hypothesis test and also a
  standalone atheris script (``python fuzz/targets/NAME.py -runs=N``).
* :mod:`fuzz.campaign` — coverage-guided campaigns (atheris/libFuzzer; several workers as
  independent processes sharing a corpus, or libFuzzer's fork mode) with a pure-Hypothesis
  fallback, progress and reproducers.
* :mod:`fuzz.differential` — generated conversations against an implementation and our
  reference on the same fixture; disagreements shrunk and saved as transcripts.

Everything here needs Hypothesis (the ``fuzz`` extra); atheris and redis are optional and
imported only when a campaign asks for them. HypoFuzz is never used (its licence forbids
commercial CI use).
"""
