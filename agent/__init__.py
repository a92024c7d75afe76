"""seller-agent: browser automation for marketplace sellers."""

__version__ = "0.1.0"
