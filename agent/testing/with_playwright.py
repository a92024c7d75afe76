"""The plugin's part that needs pytest-playwright, registered only where it is loaded: its
browser's launch options, and its event loop set aside for tests that do not use it."""

from __future__ import annotations

from typing import Any

import pytest

from agent.testing.browser import LoopGuard, with_found_browser

_GUARD = pytest.StashKey[LoopGuard]()


def _guard(config: pytest.Config) -> LoopGuard:
    if _GUARD not in config.stash:
        config.stash[_GUARD] = LoopGuard()
    return config.stash[_GUARD]


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict, browser_type: Any, connect_options: Any
) -> dict:
    """pytest-playwright's launch options; where Playwright's own Chromium is not installed,
    pointed at the one seller-agent finds (a system Chromium), with its flags."""
    return with_found_browser(
        browser_type_launch_args,
        browser_name=browser_type.name,
        playwright_executable=browser_type.executable_path,
        connected=bool(connect_options),
    )


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Any:
    result = yield
    if fixturedef.argname == "playwright":
        _guard(request.config).saw_playwright_start()
    return result


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _guard(config).collected(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    guard = _guard(item.config)
    with guard.aside(guard.may_set_aside(item)):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    guard = _guard(item.config)
    with guard.aside(guard.may_set_aside(item)):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    guard = _guard(item.config)
    with guard.aside(guard.may_set_aside(item, nextitem, teardown=True)):
        return (yield)
