"""What the family ``server`` shares: its name, levels, and the rules for rows whose ending
is itself the requirement."""

from __future__ import annotations

from ...judge import Rules
from ...model import Level

F = "server"
MUST, SHOULD, INFO = Level.MUST, Level.SHOULD, Level.INFO
KEEPS_GOING = Rules(extra=MUST, missing=MUST)
"""For rows whose 'then' is itself the requirement (continue after OK, close after Close)."""
CLOSES = Rules(extra=MUST)
"""Closing after an undecodable header is MUST (§server.header.decode-error)."""
