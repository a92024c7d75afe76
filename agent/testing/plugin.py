"""The pytest plugin (entry point `seller_agent` in the `pytest11` group): the mock portal and
a signed-in seller as fixtures, on top of pytest-playwright. docs/testing.md is its manual.

Fixtures: `mock_portal`, `seller_credentials`, `seller_page`, `run_flow`. Marker:
`@pytest.mark.portal(...)`. Options: `--portal-url`, `--portal-lang`, `--portal-seed`,
`--portal-orders`. Heavy imports (Playwright, the player) wait until a fixture needs them, so
every pytest run in an environment with seller-agent installed stays as fast as before.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.testing.credentials import DEMO, SellerCredentials
from agent.testing.portal import LANGS, MockPortal, PortalSettings

_FAILED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("seller-agent", "seller-agent mock portal")
    group.addoption(
        "--portal-url",
        metavar="URL",
        default=None,
        help="Use this running mock portal for mock_portal instead of starting one "
        "(e.g. http://127.0.0.1:8600 from `seller-agent portal serve`).",
    )
    group.addoption(
        "--portal-lang",
        choices=LANGS,
        default=None,
        help="Default page language of the started portal (default: en).",
    )
    group.addoption(
        "--portal-seed",
        type=int,
        metavar="N",
        default=1,
        help="Seed of the started portal's demo data (default: 1).",
    )
    group.addoption(
        "--portal-orders",
        type=int,
        metavar="N",
        default=200,
        help="Orders of the demo seller in the started portal (default: 200).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "portal(seed=1, orders=200, lang='en', auto_cancel='seed-30d', **APP_SETTINGS): "
        "the test gets a mock portal of its own with these settings, started for it and "
        "stopped after it (mock_portal, seller_page and run_flow use it)",
    )
    url = config.getoption("portal_url")
    if url is not None and not url.startswith(("http://", "https://")):
        raise pytest.UsageError(f"--portal-url {url}: give an http:// or https:// URL")
    for name in ("portal_seed", "portal_orders"):
        if config.getoption(name) < 0:
            raise pytest.UsageError(f"--{name.replace('_', '-')} must be 0 or more")
    if config.pluginmanager.hasplugin("playwright"):
        # Registered now, after every plugin loaded from entry points, so its override of
        # pytest-playwright's fixture comes after (and builds on) pytest-playwright's own,
        # while a conftest's override still comes after it.
        from agent.testing import with_playwright

        config.pluginmanager.register(with_playwright, "seller_agent.playwright")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call" or (report.when == "setup" and report.failed):
        item.stash[_FAILED] = report.failed
    return report


# -- the portal -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seller_credentials() -> SellerCredentials:
    """The portal's demo seller: `email`, `password`, `totp_secret`, and `totp_code()`."""
    return DEMO


@pytest.fixture(scope="session")
def mock_portal(pytestconfig: pytest.Config) -> Iterator[MockPortal]:
    """A running mock seller portal with demo data, on a free loopback port (or the one
    --portal-url names). In a test marked @pytest.mark.portal(...), that test's own portal."""
    portal = MockPortal(
        PortalSettings(
            seed=pytestconfig.getoption("portal_seed"),
            orders=pytestconfig.getoption("portal_orders"),
            lang=pytestconfig.getoption("portal_lang"),
        ),
        url=pytestconfig.getoption("portal_url"),
    )
    try:
        yield portal
    finally:
        portal.close()


@pytest.fixture(autouse=True)
def _seller_agent_portal(request: pytest.FixtureRequest) -> Iterator[None]:
    """Starts a marked test's own portal, or the shared one (so that a portal that cannot
    start is an error at set-up), and clears the faults a test left on the shared one."""
    if "mock_portal" not in request.fixturenames:
        yield
        return
    from mock_portal.testing import PortalStartError

    portal: MockPortal = request.getfixturevalue("mock_portal")
    marker = request.node.get_closest_marker("portal")
    problem = None
    try:
        if marker is not None:
            portal.use_own(portal.settings.with_marker(marker.args, marker.kwargs))
        else:
            portal.shared()
    except (PortalStartError, ValueError, TypeError) as error:
        problem = str(error)
    if problem:
        pytest.fail(problem, pytrace=False)
    try:
        yield
    finally:
        if marker is not None:
            portal.drop_own()
        elif portal.faults_set:
            portal.clear_faults()


# -- signed in --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _seller_agent_flows(browser_name: str, browser_type_launch_args: dict) -> Iterator[Any]:
    from agent.testing.runner import FlowRunner

    runner = FlowRunner(browser_name, browser_type_launch_args)
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture(scope="session")
def _seller_agent_sessions(
    _seller_agent_flows: Any,
    seller_credentials: SellerCredentials,
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    from agent.testing.runner import SignedInStates

    base = tmp_path_factory.getbasetemp()
    # xdist workers of one run share the parent of their base folders: a portal they share
    # (--portal-url) is then signed in to once, not once per worker.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return SignedInStates(_seller_agent_flows, seller_credentials, shared / "seller-agent-sessions")


@pytest.fixture
def seller_page(
    new_context: Callable[..., Any],
    browser_context_args: dict,
    request: pytest.FixtureRequest,
    mock_portal: MockPortal,
    _seller_agent_sessions: Any,
) -> Any:
    """pytest-playwright's page in a context of its own, signed in to the portal as the demo
    seller, with the portal as base URL: `seller_page.goto("/orders-v3/")`."""
    state = _signed_in_state(_seller_agent_sessions, mock_portal)
    cookies = json.loads(state.read_text(encoding="utf-8"))["cookies"]
    marker = request.node.get_closest_marker("browser_context_args")
    chosen = {**browser_context_args, **(marker.kwargs if marker else {})}
    # A base URL the user chose stays theirs (pytest-playwright passes both to new_context,
    # which refuses a keyword given twice).
    context = new_context(**({} if "base_url" in chosen else {"base_url": mock_portal.url}))
    context.add_cookies(cookies)
    return context.new_page()


@pytest.fixture
def run_flow(
    request: pytest.FixtureRequest,
    pytestconfig: pytest.Config,
    mock_portal: MockPortal,
    seller_credentials: SellerCredentials,
    output_path: str,
    tmp_path_factory: pytest.TempPathFactory,
    _seller_agent_flows: Any,
    _seller_agent_sessions: Any,
) -> Iterator[Callable[..., Any]]:
    """run_flow(flow, **params): play a flow (a bundled flow's name, or a file path relative
    to the test file's folder) on the portal, signed in; the player's RunResult."""
    from agent.flow import Flow, FlowError, bind_params, load_flow
    from agent.testing.runner import KeptTraces

    tracing = pytestconfig.getoption("--tracing", default="off")
    traces = KeptTraces(tmp_path_factory.mktemp("flow-traces")) if tracing != "off" else None
    test_folder = Path(str(request.path)).parent

    def run(flow: str | os.PathLike | Flow, /, **params: Any) -> Any:
        try:
            if isinstance(flow, Flow):
                loaded = flow
            else:
                nearby = test_folder / flow
                loaded = load_flow(nearby if nearby.is_file() else flow)
            bound = bind_params(loaded, params)
        except FlowError as error:
            problem = f"run_flow: {error}"
        else:
            problem = None
        if problem:
            pytest.fail(problem, pytrace=False)
        cookies_file = _signed_in_state(_seller_agent_sessions, mock_portal)
        return _seller_agent_flows.play(
            loaded,
            bound,
            portal=mock_portal.url,
            account=seller_credentials,
            storage_state=cookies_file,
            run_dir=Path(output_path),
            trace_to=traces.new(loaded.name) if traces is not None else None,
        )

    yield run
    if traces is not None:
        failed = request.node.stash.get(_FAILED, True)
        traces.finish(
            keep=tracing == "on" or (failed and tracing == "retain-on-failure"),
            output=Path(output_path),
        )


def _signed_in_state(sessions: Any, portal: MockPortal) -> Path:
    from agent.testing.runner import SignInFailed

    try:
        return sessions.state_for(portal.url)
    except SignInFailed as error:
        problem = str(error)
    pytest.fail(problem, pytrace=False)
