"""zrepl-conformance: the command line on top of the toolkit's packages."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("zrepl-conformance")
except PackageNotFoundError:  # running from a checkout without installation
    __version__ = "0.0.0+checkout"
