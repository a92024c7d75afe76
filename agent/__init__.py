"""seller-agent: browser automation for marketplace sellers."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # One version number, the distribution's as pyproject.toml declares it; read on first use
    # because importlib.metadata costs more than the rest of `seller-agent --help`.
    if name != "__version__":
        raise AttributeError(name)
    from importlib import metadata

    try:
        return metadata.version("seller-agent")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
