"""zrepl-conformance: the command line on top of the toolkit's packages."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed distribution's metadata on first use.

    pyproject.toml is the one place the version is written. Lazily, because
    ``importlib.metadata`` scans every distribution on ``sys.path``: done at import it
    would cost each ``serve`` process the conformance suite starts (one per connection)
    tens of milliseconds for a number it never prints.
    """
    if name == "__version__":
        from recordings.format_records import toolkit_version  # one home for the look-up

        value = toolkit_version()
        globals()["__version__"] = value  # later look-ups find it without asking again
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
