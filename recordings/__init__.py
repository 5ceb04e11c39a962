"""Recorded wire transcripts: record real traffic, replay it, keep a golden corpus.

Modules, each with one job (docs/RECORDINGS.md):

* :mod:`recordings.format` – the versioned JSON-Lines transcript format: records, reader,
  writer, exact rebuilding of the wire bytes.
* :mod:`recordings.classify` – sans-I/O recorder: bytes of both directions in, records out.
* :mod:`recordings.compare` – the ``bytes`` / ``messages`` / ``semantic`` comparison levels.
* :mod:`recordings.replay` – replay one side to an implementation (started through
  :mod:`iut`), compare the other.
* :mod:`recordings.tee` – the recorder's I/O: stdio tee in front of a command, TCP proxy.
* :mod:`recordings.driver`, :mod:`recordings.scenarios`, :mod:`recordings.golden` – the golden
  corpus in ``recordings/golden/`` and how it is made and checked.
"""
