"""zrepl-conformance: the command line on top of the toolkit's packages."""

__version__ = "0.1.0"
"""Kept equal to pyproject.toml's version by tests/cli/test_cli.py (importing
``importlib.metadata`` at every start would cost each ``serve`` process ~12 ms)."""
