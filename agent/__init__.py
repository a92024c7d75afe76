"""seller-agent: browser automation for marketplace sellers."""

from importlib import metadata

try:
    # One version number: the distribution's, as pyproject.toml declares it.
    __version__ = metadata.version("seller-agent")
except metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
