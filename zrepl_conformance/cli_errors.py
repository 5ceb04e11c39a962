"""Exceptions the command line maps to exit codes (kept apart to avoid import cycles)."""


class UsageError(Exception):
    """Bad command-line use: exit 2 like argparse."""
