"""Family ``client``: the implementation's ``pull`` and ``push`` commands against a scripted server.

The suite starts the command with ``{connect}`` leading back to it, serves the connection with
:class:`~fakes.scripted.ScriptedServer` (our reference's answers over the demo fixture,
except where a case scripts one of :mod:`conformance.faults`), then inspects what the client
sent, how it exited and what its fake ZFS state holds afterwards: received snapshots by GUID,
their content verified by re-sending them, and an untouched state wherever a transfer failed.

One module per group of cases, imported here in the catalog's order: :mod:`.pull` (connecting,
whole pulls), :mod:`.errors` (error responses), :mod:`.streams` (broken send streams),
:mod:`.push` (pushes); :mod:`.run` holds what they share.
"""

from __future__ import annotations

# Importing a module registers its cases; the catalog keeps this order within the family.
# isort: off
from . import pull  # noqa: F401
from . import errors  # noqa: F401
from . import streams  # noqa: F401
from . import push  # noqa: F401

# isort: on
from .run import ClientCaseRun, expect_exit, expect_untouched, run_client

__all__ = ["ClientCaseRun", "expect_exit", "expect_untouched", "run_client"]
