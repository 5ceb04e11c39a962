"""zrepl-conformance: the command line on top of the toolkit's packages."""

from __future__ import annotations

DISTRIBUTION = "zrepl-conformance"
"""The distribution name (pyproject.toml's ``[project] name``) whose version we report."""

UNKNOWN_VERSION = "0+unknown"
"""``__version__`` when the distribution is not installed (running from a bare checkout):
a valid PEP 440 version that sorts below every release and says what it is."""


def _distribution_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return UNKNOWN_VERSION


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed distribution's metadata on first use.

    pyproject.toml is the one place the version is written. Lazily, because
    ``importlib.metadata`` scans every distribution on ``sys.path``: done at import it
    would cost each ``serve`` process the conformance suite starts (one per connection)
    tens of milliseconds for a number it never prints.
    """
    if name == "__version__":
        value = _distribution_version()
        globals()["__version__"] = value  # later look-ups find it without asking again
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
