"""The ByteStreamRPC v1 conformance suite: a catalog of cases that judges any implementation.

Layers, bottom up:

* :mod:`.model` — cases, levels, findings, verdicts, results;
* :mod:`.wire`, :mod:`.wirelog` — wire bytes taken apart without trusting them, and the
  per-case wire log (rendered in the recordings' transcript format);
* :mod:`.setups`, :mod:`.facts` — the profiles and fixtures cases use, and what a fixture
  holds (names, GUIDs, the exact ``zfs send`` streams);
* :mod:`.targets` — the implementation under test: processes started through :mod:`iut`
  (exec'd, or forked from :mod:`iut.forkserver`), or our reference in-process (client cases
  reach the suite through :mod:`iut.relay`);
* :mod:`.context`, :mod:`.exchange`, :mod:`.judge`, :mod:`.scripted` — running a case:
  scripts against a server, the differential comparison with the reference, the suite as a
  scripted server for client cases;
* :mod:`.runner` — the contract around each case (timeouts, exit 89, exclude, expect_fail);
* :mod:`.catalog`, :mod:`.cases` — the cases;
* :mod:`.pytest_plugin`, :mod:`.report` — the catalog under pytest and its reports;
* :mod:`.matrix` — the mutant × case-family matrix of docs/CONFORMANCE.md.
"""
