"""What the plugin adds to pytest-playwright's browser: the Chromium seller-agent finds, and
room for asyncio next to its sync API."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from agent.play.browser import BrowserNotFound, find_browser, with_chromium_args


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
    return {
        **launch_args,
        "executable_path": executable,
        "args": with_chromium_args(list(launch_args.get("args") or [])),
    }


class LoopGuard:
    """Keeps pytest-playwright's sync Playwright out of the way of code that does not use it.

    Sync Playwright runs its event loop in a greenlet of the main thread, and between two
    calls leaves that loop marked as the thread's running loop (playwright's
    `wait_for_future` does so on purpose), for as long as the session-scoped `playwright`
    fixture lives. Every later `asyncio.run()`, `loop.run_until_complete()` or
    `sync_playwright()` in the main thread then fails with "cannot be called from a running
    event loop" (microsoft/playwright-pytest#167). The mark is lifted while a test that does
    not use Playwright's fixtures is set up and runs, and while a fixture that does not use
    them is torn down, and put back right after.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.dependent_fixtures = {"playwright"}
        self._aside_for: Any = None

    def fixture_set_up(self, fixturedef: Any) -> bool:
        """Note a fixture that was just set up; True when it does not use Playwright. Its
        arguments are set up before it, so what they use is known by now."""
        if fixturedef.argname == "playwright" and self.loop is None:
            self.loop = asyncio._get_running_loop()
        if fixturedef.argname in self.dependent_fixtures or any(
            name in self.dependent_fixtures for name in fixturedef.argnames
        ):
            self.dependent_fixtures.add(fixturedef.argname)
            return False
        return True

    def _marked(self) -> bool:
        loop = self.loop
        return loop is not None and not loop.is_closed() and asyncio._get_running_loop() is loop

    def set_aside_for(self, fixturedef: Any) -> None:
        """Lift the mark while this fixture is torn down (put_back_after ends it)."""
        if self._aside_for is None and self._marked():
            asyncio._set_running_loop(None)
            self._aside_for = fixturedef

    def put_back_after(self, fixturedef: Any) -> None:
        if self._aside_for is fixturedef:
            self._aside_for = None
            asyncio._set_running_loop(self.loop)

    @contextlib.contextmanager
    def aside_for_test(self, item: Any) -> Iterator[None]:
        """Lift the mark while a test that does not use Playwright is set up or runs."""
        if "playwright" in getattr(item, "fixturenames", ()) or not self._marked():
            yield
            return
        asyncio._set_running_loop(None)
        try:
            yield
        finally:
            asyncio._set_running_loop(self.loop)
