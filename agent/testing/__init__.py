"""seller-agent as a pytest plugin: the mock portal and a signed-in seller as fixtures for
end-to-end tests of your own flows (docs/testing.md). pytest loads it by itself through the
`pytest11` entry point; nothing goes into a conftest.

Every pytest run in an environment with seller-agent installed imports the plugin, so this
package imports nothing heavy up front (the portal brings Flask): the names below load when
first used."""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "ActiveFaults": "agent.testing.portal",
    "MockPortal": "agent.testing.portal",
    "PortalSettings": "agent.testing.portal",
    "SellerCredentials": "agent.testing.credentials",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agent.testing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
