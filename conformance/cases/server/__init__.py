"""Family ``server``: every row of the server loop's table (§server.summary, PROTOCOL-FACTS §5).

Each case sends one request (raw bytes, so broken requests are possible), a probe
ProtocolVersion request, and then closes its side; the reference's answers to the same bytes
on the same fixture and profile are the expected ones. Whether the server *closed*, *returned*
or *went on* shows in whether the probe was answered; whether an error id is right is a MUST,
texts, ids and closing after an error are SHOULD unless the row says otherwise.

One module per group of rows, imported here in the catalog's order: :mod:`.header` (header
errors, unknown types), :mod:`.session` (ProtocolVersion, the loop, Close), :mod:`.listing`
(Filesystem, FilesystemVersions), :mod:`.transfers` (transfer and pull-me rows),
:mod:`.failures` (failures during a request); :mod:`.rules` holds what they share.
"""

from __future__ import annotations

# Importing a module registers its cases; the catalog keeps this order within the family.
# isort: off
from . import header  # noqa: F401
from . import session  # noqa: F401
from . import listing  # noqa: F401
from . import transfers  # noqa: F401
from . import failures  # noqa: F401

# isort: on
from .failures import missing_snapshot
from .transfers import refused_pullme

__all__ = ["missing_snapshot", "refused_pullme"]
