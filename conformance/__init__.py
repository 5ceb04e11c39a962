"""The ByteStreamRPC v1 conformance suite: a catalog of cases that judges any implementation.

Layers: :mod:`.model` (cases, levels, verdicts), :mod:`.wire` and :mod:`.wirelog` (bytes
taken apart and logged), :mod:`.targets` (the implementation under test, as processes via
:mod:`iut` or our reference in-process), :mod:`.context` / :mod:`.exchange` / :mod:`.judge`
(running a case and comparing with the reference), :mod:`.runner` (the contract around each
case), :mod:`.catalog` and :mod:`.cases` (the cases), :mod:`.pytest_plugin` (running the
catalog under pytest, ``pytest --zrepl-iut FILE``), :mod:`.report` (console, JSON, HTML).
"""
