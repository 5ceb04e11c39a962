"""Differential fuzzing of any implementation against the reference (``zrepl-conformance fuzz``).

Server role: :func:`~fuzz.differential.search.differential_fuzz` generates conversations
(:func:`fuzz.strategies.conversations`), runs each against the implementation's server
(started through :mod:`iut`) and against our reference on the same fixture, and compares
what the two servers said at the recordings' ``semantic`` level.

Client role: :func:`~fuzz.differential.client_search.client_fuzz` generates server
behaviours (:class:`~fuzz.differential.script.ServerScript`, played by
:class:`~fuzz.differential.scripted.ScriptedServer`), runs each against the implementation's
pull/push job and ours on the same fixture, and compares what the two clients sent, how
they exited and the datasets they left.

Both shrink the first disagreement with Hypothesis (:func:`~fuzz.differential.search.search`)
and save it as a transcript that ``zrepl-conformance replay`` replays
(:func:`~fuzz.differential.search.save_finding`,
:func:`~fuzz.differential.client_search.save_client_finding`).
"""

from .client_runner import DEFAULT_CLIENT_FIXTURE, DEFAULT_CLIENT_PROFILE, ClientTrial
from .client_search import client_fuzz, save_client_finding
from .runner import DEFAULT_FIXTURE, DEFAULT_PROFILE, Disagreement, Setting, Trial
from .script import ServerScript
from .script_gen import server_scripts
from .search import DEFAULT_EXAMPLES, FuzzReport, differential_fuzz, save_finding

__all__ = [
    "DEFAULT_CLIENT_FIXTURE",
    "DEFAULT_CLIENT_PROFILE",
    "DEFAULT_EXAMPLES",
    "DEFAULT_FIXTURE",
    "DEFAULT_PROFILE",
    "ClientTrial",
    "Disagreement",
    "FuzzReport",
    "ServerScript",
    "Setting",
    "Trial",
    "client_fuzz",
    "differential_fuzz",
    "save_client_finding",
    "save_finding",
    "server_scripts",
]
