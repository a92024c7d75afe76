"""The object behind the `mock_portal` fixture: the session's portal, or a test's own.

One `MockPortal` lives for the whole session. It starts the shared portal the first time it
is needed (or attaches to the one `--portal-url` names) and, while a test marked
`@pytest.mark.portal(...)` runs, speaks for that test's own portal instead. So fixtures built
on `mock_portal` - `seller_page`, `run_flow`, a user's own - all reach the same portal as the
test body, whichever one that is.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported where used: the mock_portal package brings Flask, and this module is imported
    # by every pytest run (through the plugin).
    from mock_portal.testing import PortalProcess

LANGS = ("en", "zh-CN")
AUTO_CANCEL_PRESETS = ("seed-30d", "amazon-7bd")
MARKER_SETTINGS = ("seed", "orders", "lang", "auto_cancel")
API_TOKEN_ENV = "SELLER_AGENT_PORTAL_API_TOKEN"


@dataclass(frozen=True)
class PortalSettings:
    """How a portal is started: `portal serve`'s defaults unless options or a marker say."""

    seed: int = 1
    orders: int = 200
    lang: str | None = None
    auto_cancel: str | None = None
    app: dict[str, Any] = field(default_factory=dict)

    def with_marker(self, args: tuple, kwargs: dict[str, Any]) -> PortalSettings:
        """These settings changed by `@pytest.mark.portal(...)`'s keywords; ValueError names
        the first keyword that makes no sense."""
        if args:
            raise ValueError("@pytest.mark.portal takes keyword arguments only")
        changes: dict[str, Any] = {}
        app = dict(self.app)
        for name, value in kwargs.items():
            if name in ("seed", "orders"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"@pytest.mark.portal: {name} must be a whole number >= 0")
                changes[name] = value
            elif name == "lang":
                if value not in LANGS:
                    raise ValueError(f"@pytest.mark.portal: lang must be one of {', '.join(LANGS)}")
                changes[name] = value
            elif name == "auto_cancel":
                if value not in AUTO_CANCEL_PRESETS:
                    raise ValueError(
                        "@pytest.mark.portal: auto_cancel must be one of "
                        + ", ".join(AUTO_CANCEL_PRESETS)
                    )
                changes[name] = value
            elif name.isupper():
                app[name] = value
            else:
                raise ValueError(
                    f"@pytest.mark.portal: unknown setting {name!r} (use {', '.join(MARKER_SETTINGS)}"
                    " or an app setting in upper case, e.g. SESSION_IDLE_MINUTES=1)"
                )
        return replace(self, app=app, **changes)

    def process(self) -> PortalProcess:
        """A portal with these settings on a free loopback port (not started yet)."""
        from mock_portal.testing import PortalProcess

        return PortalProcess(
            seed=self.seed,
            orders=self.orders,
            lang=self.lang,
            auto_cancel=self.auto_cancel,
            **self.app,
        )


class ActiveFaults(dict):
    """The faults now active (as the portal describes them). As a context manager, clears
    them when the block ends."""

    def __init__(self, portal: MockPortal, described: dict[str, Any]) -> None:
        super().__init__(described)
        self._portal = portal

    def __enter__(self) -> ActiveFaults:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._portal.clear_faults()


class MockPortal:
    """A running mock seller portal (see docs/testing.md for every method)."""

    def __init__(self, settings: PortalSettings, *, url: str | None = None) -> None:
        self.settings = settings
        self._external_url = url
        self._shared: PortalProcess | None = None
        self._own: PortalProcess | None = None
        self._lock = threading.Lock()
        self.faults_set = False

    # -- which portal ------------------------------------------------------------------
    def shared(self) -> PortalProcess:
        """The session's portal, started (or attached to) on first use."""
        with self._lock:
            if self._shared is None:
                if self._external_url:
                    self._shared = _attach(self._external_url)
                else:
                    self._shared = self.settings.process().start()
            return self._shared

    @property
    def process(self) -> PortalProcess:
        """The portal the running test talks to (a marked test's own, else the shared one)."""
        return self._own if self._own is not None else self.shared()

    @property
    def own(self) -> bool:
        """True while a marked test's own portal is in use."""
        return self._own is not None

    def use_own(self, settings: PortalSettings) -> PortalProcess:
        self._own = settings.process().start()
        return self._own

    def drop_own(self) -> None:
        own, self._own = self._own, None
        if own is not None:
            own.stop()

    def close(self) -> None:
        self.drop_own()
        if self._shared is not None:
            self._shared.stop()
            self._shared = None

    # -- what tests use ----------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123 (no trailing slash)."""
        return self.process.url

    def api_get(self, path: str) -> dict[str, Any]:
        return self.process.api_get(path)

    def api_post(self, path: str, json_body: Any = None) -> dict[str, Any]:
        return self.process.api_post(path, json_body)

    def api_delete(self, path: str) -> dict[str, Any]:
        return self.process.api_delete(path)

    def orders(self, status: str | None = None, seller: str | None = None) -> list[dict]:
        return self.process.orders(status=status, seller=seller)

    def order(self, order_id: str) -> dict[str, Any]:
        return self.process.order(order_id)

    def mail(self, to: str | None = None, order_id: str | None = None) -> list[dict]:
        return self.process.mail(to=to, order_id=order_id)

    def metrics(self, seller: str | None = None) -> dict[str, Any]:
        return self.process.metrics(seller=seller)

    def reset(self, seed: int | None = None, orders: int | None = None) -> dict[str, Any]:
        self.faults_set = False
        return self.process.reset(seed=seed, orders=orders)

    def faults(self, **settings: Any) -> ActiveFaults:
        self.faults_set = bool(settings)
        return ActiveFaults(self, self.process.set_faults(**settings))

    def clear_faults(self) -> dict[str, Any]:
        self.faults_set = False
        return self.process.clear_faults()

    def advance_clock(self, by: str) -> dict[str, Any]:
        return self.process.advance_clock(by)

    def buyer_request(
        self, order_id: str, kind: str = "official", reason: str = ""
    ) -> dict[str, Any]:
        return self.process.buyer_request(order_id, kind=kind, reason=reason)

    def __repr__(self) -> str:
        where = self._own or self._shared
        return f"<MockPortal {where.url if where else '(not started)'}>"


def _attach(url: str) -> PortalProcess:
    from mock_portal.testing import PortalStartError, attach_portal

    portal = attach_portal(url, api_token=os.environ.get(API_TOKEN_ENV) or None)
    try:
        answer = portal.api_get("/mock/api/health", timeout=10)
    except OSError as error:
        raise PortalStartError(
            f"--portal-url {url}: the portal does not answer ({error})"
        ) from None
    except ValueError:
        raise PortalStartError(f"--portal-url {url}: not a seller-agent mock portal") from None
    if answer.get("ok") is not True:
        status = answer.get("http_status")
        hint = f" (set {API_TOKEN_ENV})" if status in (401, 403) else ""
        raise PortalStartError(
            f"--portal-url {url}: /mock/api/health answered {answer.get('error') or status}{hint}"
        )
    return portal
