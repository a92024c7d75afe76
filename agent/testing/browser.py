"""What the plugin adds to pytest-playwright's browser: the Chromium seller-agent finds, and
room for asyncio next to its sync API."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from agent.play.browser import CHROMIUM_ARGS, BrowserNotFound, find_browser


def with_found_browser(
    launch_args: dict[str, Any],
    *,
    browser_name: str,
    playwright_executable: str | None,
    connected: bool = False,
) -> dict[str, Any]:
    """pytest-playwright's launch options, pointed at the Chromium seller-agent finds when
    Playwright's own is not installed. A choice already made - a channel, an executable, a
    remote browser, another engine - is left alone, and so is a machine with no Chromium at
    all (Playwright's own error then says how to install one)."""
    if (
        browser_name != "chromium"
        or connected
        or "channel" in launch_args
        or "executable_path" in launch_args
        or (playwright_executable and os.path.exists(playwright_executable))
    ):
        return launch_args
    headless = launch_args.get("headless", True)
    try:
        executable = find_browser(headless=headless)
    except (BrowserNotFound, FileNotFoundError):
        return launch_args
    given = list(launch_args.get("args") or [])
    return {
        **launch_args,
        "executable_path": executable,
        "args": given + [arg for arg in CHROMIUM_ARGS if arg not in given],
    }


class LoopGuard:
    """Keeps pytest-playwright's sync Playwright out of the way of tests that do not use it.

    Sync Playwright runs its event loop in a greenlet of the main thread, and between two
    calls leaves that loop marked as the thread's running loop (playwright's
    `wait_for_future` sets it on purpose), for as long as the session-scoped `playwright`
    fixture lives. Every later `asyncio.run()`, `loop.run_until_complete()` or
    `sync_playwright()` in the main thread then fails with "cannot be called from a running
    event loop" (microsoft/playwright-pytest#167). While a test that does not use Playwright's
    fixtures is set up, runs and is torn down, the mark is lifted, and put back afterwards.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.nodes_with_playwright: set[str] = set()

    def saw_playwright_start(self) -> None:
        if self.loop is None:
            self.loop = asyncio._get_running_loop()

    def collected(self, items: list[Any]) -> None:
        for item in items:
            if uses_playwright(item):
                for node in item.listchain()[:-1]:
                    self.nodes_with_playwright.add(node.nodeid)

    def may_set_aside(self, item: Any, nextitem: Any = None, *, teardown: bool = False) -> bool:
        if uses_playwright(item):
            return False
        if not teardown:
            return True
        # A teardown also finalizes the fixtures of every scope the next test leaves; one
        # of them may use Playwright, which needs its loop.
        staying = {node.nodeid for node in nextitem.listchain()} if nextitem else set()
        return not any(
            node.nodeid in self.nodes_with_playwright and node.nodeid not in staying
            for node in item.listchain()[:-1]
        )

    @contextlib.contextmanager
    def aside(self, active: bool) -> Iterator[None]:
        loop = self.loop
        if (
            not active
            or loop is None
            or loop.is_closed()
            or asyncio._get_running_loop() is not loop
        ):
            yield
            return
        asyncio._set_running_loop(None)
        try:
            yield
        finally:
            asyncio._set_running_loop(loop)


def uses_playwright(item: Any) -> bool:
    return "playwright" in getattr(item, "fixturenames", ())
