"""A mock seller portal shaped like Seller Central: the default target and test bed of seller-agent."""

from mock_portal.app import create_app

__all__ = ["create_app"]
