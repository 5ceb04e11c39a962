"""Differential fuzzing of any implementation against the reference (``zrepl-conformance fuzz``).

:func:`~fuzz.differential.search.differential_fuzz` generates conversations
(:func:`fuzz.strategies.conversations`), runs each against the implementation (started
through :mod:`iut`) and against our reference on the same fixture, compares what the two
servers said at the recordings' ``semantic`` level, shrinks the first disagreement with
Hypothesis and :func:`~fuzz.differential.search.save_finding` writes it as a transcript that
``zrepl-conformance replay`` replays.
"""

from .runner import DEFAULT_FIXTURE, DEFAULT_PROFILE, Disagreement, Setting, Trial
from .search import DEFAULT_EXAMPLES, FuzzReport, differential_fuzz, save_finding

__all__ = [
    "DEFAULT_EXAMPLES",
    "DEFAULT_FIXTURE",
    "DEFAULT_PROFILE",
    "Disagreement",
    "FuzzReport",
    "Setting",
    "Trial",
    "differential_fuzz",
    "save_finding",
]
