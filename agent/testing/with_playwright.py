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
    guard = _guard(request.config)
    if guard.fixture_set_up(fixturedef):
        # Finalizers run last-added first: this one runs just before the fixture's own
        # teardown, and pytest_fixture_post_finalizer right after it.
        fixturedef.addfinalizer(lambda: guard.set_aside_for(fixturedef))
    return result


def pytest_fixture_post_finalizer(fixturedef: Any, request: pytest.FixtureRequest) -> None:
    _guard(request.config).put_back_after(fixturedef)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    with _guard(item.config).aside_for_test(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    with _guard(item.config).aside_for_test(item):
        return (yield)
