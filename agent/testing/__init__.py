"""seller-agent as a pytest plugin: the mock portal and a signed-in seller as fixtures for
end-to-end tests of your own flows (docs/testing.md). pytest loads it by itself through the
`pytest11` entry point; nothing goes into a conftest."""

from agent.testing.credentials import SellerCredentials
from agent.testing.portal import ActiveFaults, MockPortal, PortalSettings

__all__ = ["ActiveFaults", "MockPortal", "PortalSettings", "SellerCredentials"]
