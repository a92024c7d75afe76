"""Fixtures shared by the whole suite. Names are stable; other test modules rely on them.

Running portals (real subprocess, real port, real SQLite; see mock_portal/testing.py):
- `portal` (session scope): one portal for the whole run, seed 1, 200 orders, default
  settings. Tests that change state must use orders no other test uses: take them by the
  fixed demo cases (`portal_cases`) only when you merely read them, and for changes pick
  orders through `unshipped_orders` (every call hands out orders never handed out before).
  Never advance its clock, inject faults or reset it: use `fresh_portal` for that.
- `fresh_portal` (function scope): a portal of its own (seed 1, 60 orders), stopped after
  the test. Move its clock, inject faults, reset it freely.
- `unshipped_orders(n, seller=DEMO_EMAIL)`: n order ids of Unshipped, unflagged, single-
  or multi-item orders of the session `portal` that no other test has received.
- `portal_cases`: name -> order id of the fixed demo cases (seed.CASES) for seed 1.

Flask test client on a temporary database (no server, fast):
- `portal_app` (function scope): create_app on a fresh database (seed 1, 60 orders,
  TESTING on).
- `client`: `portal_app.test_client()`.
- `portal_db`: a sqlite3 connection to `portal_app`'s database (for plain domain calls).

Plain database, no Flask (domain unit tests):
- `domain_conn`: a sqlite3 connection (mock_portal.db.connect) to a private copy of a
  seeded database (seed 1, 60 orders, preset seed-30d), seeded once per run and copied per
  test, so every test starts from the same state.

Demo accounts: DEMO_EMAIL / DEMO_PASSWORD / DEMO_TOTP_SECRET and SECOND_* below.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.play.otp import REUSABLE_ENV
from mock_portal import create_app, db, seed
from mock_portal.testing import PortalProcess, running_portal

# The suite's portals take a one-time code more than once (mock_portal.testing switches
# TOTP_ALLOW_REUSE on), and the tool is told so: otherwise every second sign-in within half a
# minute waits for the next code. The tests of single use (test_otp.py) take it away.
os.environ.setdefault(REUSABLE_ENV, "1")

DEMO_EMAIL = "seller@example.com"
DEMO_PASSWORD = "demo-password"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"
SECOND_EMAIL = seed.SECOND_SELLER["email"]
SECOND_PASSWORD = seed.SECOND_SELLER["password"]
SECOND_TOTP_SECRET = seed.SECOND_SELLER["totp_secret"]

SESSION_SEED = 1
SESSION_ORDERS = 200
FRESH_ORDERS = 60


@pytest.fixture(scope="session")
def portal() -> Iterator[PortalProcess]:
    with running_portal(seed=SESSION_SEED, orders=SESSION_ORDERS) as started:
        yield started


@pytest.fixture
def fresh_portal() -> Iterator[PortalProcess]:
    with running_portal(seed=SESSION_SEED, orders=FRESH_ORDERS) as started:
        yield started


@pytest.fixture(scope="session")
def portal_cases() -> dict[str, str]:
    return seed.case_ids(SESSION_SEED, SESSION_ORDERS)


class _OrderPool:
    """Hands out each Unshipped order of the session portal at most once per test run."""

    def __init__(self, portal: PortalProcess) -> None:
        self.portal = portal
        self.lock = threading.Lock()
        self.given: set[str] = set()
        # The fixed cases stay untouched so read-only tests can rely on them.
        self.reserved = set(seed.case_ids(SESSION_SEED, SESSION_ORDERS).values())

    def take(self, count: int, seller: str = DEMO_EMAIL) -> list[str]:
        with self.lock:
            candidates = [
                order["order_id"]
                for order in self.portal.orders(status="Unshipped", seller=seller)
                if order["order_id"] not in self.given
                and order["order_id"] not in self.reserved
                and order["buyer_request_kind"] is None
            ]
            if len(candidates) < count:
                raise RuntimeError(
                    f"the session portal has only {len(candidates)} unused Unshipped orders "
                    f"left for {seller}; use fresh_portal for this test"
                )
            # Oldest first, so tests taking few orders do not reshuffle the newest page.
            chosen = candidates[::-1][:count]
            self.given.update(chosen)
            return chosen


@pytest.fixture(scope="session")
def _order_pool(portal: PortalProcess) -> _OrderPool:
    return _OrderPool(portal)


@pytest.fixture
def unshipped_orders(_order_pool: _OrderPool) -> Callable[..., list[str]]:
    return _order_pool.take


@pytest.fixture
def portal_app(tmp_path):
    return create_app(
        {"DATABASE": str(tmp_path / "portal.db"), "ORDERS": FRESH_ORDERS, "TESTING": True}
    )


@pytest.fixture
def client(portal_app):
    return portal_app.test_client()


@pytest.fixture
def portal_db(portal_app):
    conn = db.connect(portal_app.config["DATABASE"])
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "portal.db"
    seed.init_db({"DATABASE": str(path), "SEED": SESSION_SEED, "ORDERS": FRESH_ORDERS})
    # Fold the WAL into the main file so a plain file copy carries everything.
    conn = db.connect(str(path))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return str(path)


@pytest.fixture
def domain_conn(_seeded_template: str, tmp_path):
    path = tmp_path / "domain.db"
    shutil.copyfile(_seeded_template, path)
    conn = db.connect(str(path))
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def isolated_home(tmp_path_factory) -> Iterator[Path]:
    """A home of the module's own for commands run in-process: saved sessions, journals and
    config go there, and no sign-in details come from the environment."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("home")
        patch.setenv("XDG_DATA_HOME", str(folder / "data"))
        patch.setenv("XDG_CONFIG_HOME", str(folder / "config"))
        for name in ("SELLER_AGENT_EMAIL", "SELLER_AGENT_PASSWORD", "SELLER_AGENT_TOTP_SECRET"):
            patch.delenv(name, raising=False)
        yield folder


# The async browser of the modules that drive the player or the recorder directly: one event
# loop and one Chromium per module (contexts are made per test), the module's own data home
# so saved sessions and ledgers never reach the user's.


@pytest.fixture(scope="module")
def data_home(tmp_path_factory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("data")
        patch.setenv("XDG_DATA_HOME", str(folder))
        for name in ("SELLER_AGENT_EMAIL", "SELLER_AGENT_PASSWORD", "SELLER_AGENT_TOTP_SECRET"):
            patch.delenv(name, raising=False)
        patch.setenv("XDG_CONFIG_HOME", str(folder / "no-config"))
        yield folder


@pytest.fixture
def round_trips(monkeypatch) -> list[str]:
    """The Playwright driver calls made while the test runs, by method (queryCount, click...),
    in order; clear it to count from a later point."""
    from playwright._impl import connection

    sent: list[str] = []
    original = connection.Connection.send_message_to_server

    def counted(self, obj, method, params, options):
        if method != "__waitInfo__":
            sent.append(method)
        return original(self, obj, method, params, options)

    monkeypatch.setattr(connection.Connection, "send_message_to_server", counted)
    return sent


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


@pytest.fixture(scope="module")
def chromium(loop: asyncio.AbstractEventLoop, data_home: Path) -> Iterator[object]:
    from playwright.async_api import async_playwright

    from agent.play import browser as browserlib

    playwright = loop.run_until_complete(async_playwright().start())
    browser = loop.run_until_complete(browserlib.launch(playwright))
    try:
        yield browser
    finally:
        loop.run_until_complete(browser.close())
        loop.run_until_complete(playwright.stop())


async def heap_collected(context, page) -> tuple[int, int, bool]:
    """Tens of MB kept by the page long enough to reach the old generation, then dropped
    (garbage only a full collection gives back), and agent.play.browser.collect_garbage
    asked: the renderer's heap before and after, and whether the collection answered."""
    from agent.play import browser as browserlib

    await page.goto("data:text/html,<p>garbage</p>")
    await page.evaluate(
        "() => { window.kept = []; for (let i = 0; i < 100; i++)"
        " window.kept.push(new Array(25000).fill(i).map(String)); }"
    )
    await page.evaluate("() => { window.kept = null; }")
    cdp = await context.new_cdp_session(page)
    before = (await cdp.send("Runtime.getHeapUsage"))["usedSize"]
    asked = await browserlib.collect_garbage(page)
    after = (await cdp.send("Runtime.getHeapUsage"))["usedSize"]
    return before, after, asked
