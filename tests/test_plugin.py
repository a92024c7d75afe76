"""seller-agent's pytest plugin (agent/testing) as its users meet it: suites of their own, with
no conftest, run by pytest in a subprocess (pytester) where the plugin loads from its entry
point. The subprocesses see a machine with only a system Chromium: Playwright's own browser
folder is empty, and SELLER_AGENT_BROWSER names the Chromium this suite found."""

from __future__ import annotations

import textwrap
import zipfile

import pytest

from agent.play.browser import CHROMIUM_ARGS, find_browser
from agent.testing import credentials
from agent.testing.browser import with_found_browser
from agent.testing.portal import PortalSettings
from mock_portal import totp
from mock_portal.testing import running_portal

pytest_plugins = ["pytester"]

RUN_TIMEOUT = 600
ORDER_FLOW = """\
name: order_status
summary: Read an order's status from its details page.
params:
  order_id: {type: string, required: true}
session: login
steps:
  - goto: /orders-v3/order/{{ order_id }}
  - wait: {any: [{testid: order-status}, {testid: no-results}]}
outcomes:
  shown: {testid: order-status, extract: {status: {testid: order-status, attribute: data-status}}}
  not_found: {testid: no-results}
success: [shown]
"""


# -- without a subprocess -------------------------------------------------------------------


def test_launch_options_point_at_the_found_chromium_where_playwright_has_none():
    found = with_found_browser(
        {"args": ["--lang=fr"]}, browser_name="chromium", playwright_executable="/no/such/chrome"
    )
    assert found["executable_path"] == find_browser(headless=True)
    assert found["args"] == ["--lang=fr", *CHROMIUM_ARGS]
    for flag in ("--disable-background-networking", "--disable-component-update"):
        assert flag in found["args"]
    # A user's own --disable-features is kept: Chromium honours only the last one, so theirs
    # and ours become one.
    own = with_found_browser(
        {"args": ["--disable-features=Translate"]},
        browser_name="chromium",
        playwright_executable="/no/such/chrome",
    )
    disabled = [arg for arg in own["args"] if arg.startswith("--disable-features=")]
    assert len(disabled) == 1
    assert {"Translate", "RenderDocument"} <= set(disabled[0].split("=", 1)[1].split(","))
    headed = with_found_browser(
        {"headless": False}, browser_name="chromium", playwright_executable=None
    )
    assert headed["executable_path"] == find_browser(headless=False)
    assert headed["headless"] is False


@pytest.mark.parametrize(
    ("given", "engine", "playwright_executable", "connected"),
    [
        ({"channel": "chrome"}, "chromium", None, False),
        ({"executable_path": "/opt/my/chrome"}, "chromium", None, False),
        ({}, "firefox", None, False),
        ({}, "chromium", None, True),
        ({}, "chromium", __file__, False),  # Playwright's own browser is installed
    ],
)
def test_launch_options_a_choice_already_made_is_left_alone(
    given, engine, playwright_executable, connected
):
    assert (
        with_found_browser(
            dict(given),
            browser_name=engine,
            playwright_executable=playwright_executable,
            connected=connected,
        )
        == given
    )


def test_marker_settings_are_checked_and_applied():
    base = PortalSettings(seed=1, orders=200, lang=None)
    own = base.with_marker((), {"seed": 4, "lang": "zh-CN", "SESSION_IDLE_MINUTES": 1})
    assert (own.seed, own.orders, own.lang, own.app) == (
        4,
        200,
        "zh-CN",
        {"SESSION_IDLE_MINUTES": 1},
    )
    assert base.app == {}
    for args, kwargs, message in [
        ((3,), {}, "keyword arguments only"),
        ((), {"lang": "fr"}, "lang must be one of en, zh-CN"),
        ((), {"orders": -1}, "orders must be a whole number"),
        ((), {"auto_cancel": "never"}, "auto_cancel must be one of"),
        ((), {"colour": "blue"}, "unknown setting 'colour'"),
    ]:
        with pytest.raises(ValueError, match=message):
            base.with_marker(args, kwargs)


def test_totp_codes_are_never_handed_out_twice():
    secret = "MFRGGZDFMZTWQ2LK"  # no account's: the demo account's codes stay untouched
    first, second = credentials.fresh_code(secret), credentials.fresh_code(secret)
    assert first != second
    # Both are accepted now: the current step's code and the next one (one step of skew).
    assert totp.verify(secret, first) and totp.verify(secret, second)


def test_credentials_never_show_the_secrets():
    shown = repr(credentials.DEMO)
    assert "seller@example.com" in shown
    assert "demo-password" not in shown and "JBSWY3DPEHPK3PXP" not in shown


# -- users' suites, in a subprocess ------------------------------------------------------------


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch, tmp_path_factory) -> pytest.Pytester:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path_factory.mktemp("no-browsers")))
    monkeypatch.setenv("SELLER_AGENT_BROWSER", find_browser(headless=True))
    return pytester


def run(suite: pytest.Pytester, *args: str) -> pytest.RunResult:
    return suite.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=RUN_TIMEOUT)


@pytest.mark.slow
@pytest.mark.browser
def test_every_fixture_in_a_suite_without_conftest(suite):
    suite.makefile(".yaml", **{"flows/order_status": ORDER_FLOW})
    suite.makepyfile(
        test_shop=textwrap.dedent(
            """
            import urllib.error
            import urllib.request
            from pathlib import Path

            import pytest
            from playwright.sync_api import expect

            from mock_portal import totp


            def plain_unshipped(portal, index):
                plain = [o for o in portal.orders(status="Unshipped")
                         if o["buyer_request_kind"] is None]
                return plain[-1 - index]["order_id"]


            def test_records(mock_portal):
                assert mock_portal.url.startswith("http://127.0.0.1:")
                unshipped = mock_portal.orders(status="Unshipped")
                assert unshipped and {o["status"] for o in unshipped} == {"Unshipped"}
                record = mock_portal.order(unshipped[0]["order_id"])
                assert record["order_id"] == unshipped[0]["order_id"] and record["items"]
                assert mock_portal.api_get("/mock/api/health") == {"ok": True}
                assert mock_portal.api_post("/mock/api/clock", {"sweep": True})["now"]
                assert mock_portal.api_delete("/mock/api/faults")["faults"]["error_rate"] == 0


            def test_buyer_request_and_its_mail(mock_portal, seller_credentials):
                order_id = plain_unshipped(mock_portal, 0)
                answer = mock_portal.buyer_request(order_id, "official", "Ordered twice")
                assert answer["outcome"] == "requested"
                assert answer["order"]["buyer_requested"] is True
                sent = mock_portal.mail(to=seller_credentials.email, order_id=order_id)
                assert [mail["kind"] for mail in sent] == ["buyer-request"]
                assert mock_portal.mail(to="nobody@example.com", order_id=order_id) == []


            def test_faults_set_and_left_behind(mock_portal):
                active = mock_portal.faults(error_rate=1.0, paths=["/ap/"])
                assert active["faults"]["error_rate"] == 1.0
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(mock_portal.url + "/ap/signin", timeout=10)
                assert refused.value.code == 500


            def test_faults_of_an_earlier_test_are_gone(mock_portal):
                assert mock_portal.api_get("/mock/api/faults")["faults"]["error_rate"] == 0
                with mock_portal.faults(latency_ms=5) as active:
                    assert active["faults"]["latency_ms"] == 5
                assert mock_portal.api_get("/mock/api/faults")["faults"]["latency_ms"] == 0
                mock_portal.faults(burst_429=3)
                assert mock_portal.faults()["faults"]["burst_429"] == 0


            @pytest.mark.portal(orders=30)
            def test_clock_and_reset(mock_portal):
                late = mock_portal.advance_clock("31d")
                assert late["auto_cancelled"]
                assert mock_portal.order(late["auto_cancelled"][0])["cancelled_by"] == "marketplace"
                summary = mock_portal.reset(seed=2, orders=10)
                mine = mock_portal.orders(seller="seller@example.com")
                assert len(mine) == 10 and mine[0]["order_id"].startswith("112-0000002-")
                assert summary


            def test_credentials(seller_credentials):
                assert seller_credentials.email == "seller@example.com"
                assert seller_credentials.password == "demo-password"
                code = seller_credentials.totp_code()
                assert totp.verify(seller_credentials.totp_secret, code)


            def test_seller_page(seller_page, mock_portal):
                seller_page.goto("/orders-v3/")
                assert seller_page.url.startswith(mock_portal.url + "/orders-v3/")
                expect(seller_page.get_by_test_id("nav-account")).to_have_text("seller@example.com")
                expect(seller_page.get_by_test_id("order-row").first).to_be_visible()


            def test_run_a_bundled_flow_twice(run_flow, mock_portal):
                order_id = plain_unshipped(mock_portal, 1)
                result = run_flow("cancel_order", order_id=order_id, reason="NoInventory")
                assert (result.outcome, result.ok, result.error) == ("cancelled", True, None)
                record = mock_portal.order(order_id)
                assert (record["status"], record["cancel_reason"]) == ("Canceled", "NoInventory")
                again = run_flow("cancel_order", order_id=order_id)
                assert (again.outcome, again.ok) == ("already_cancelled", True)
                assert again.values["cancelled_by"] == "Seller"  # as the page shows it
                assert mock_portal.order(order_id)["cancel_events"] == 1


            def test_run_a_flow_file_beside_the_test(run_flow, mock_portal):
                result = run_flow("flows/order_status.yaml", order_id=plain_unshipped(mock_portal, 2))
                assert (result.outcome, result.values["status"]) == ("shown", "Unshipped")


            def test_a_failing_flow_leaves_evidence(run_flow, mock_portal):
                order_id = plain_unshipped(mock_portal, 3)
                mock_portal.faults(error_rate=1.0, paths=["/orders-v3/"])
                result = run_flow("cancel_order", order_id=order_id)
                assert (result.ok, result.outcome, result.error_kind) == (False, "failed", "http_5xx")
                assert result.evidence and all(Path(path).is_file() for path in result.evidence)
                assert mock_portal.order(order_id)["status"] == "Unshipped"


            def test_bad_params_fail_in_one_line(run_flow):
                run_flow("cancel_order", order_id="not-an-order")
            """
        )
    )
    result = run(suite)
    result.assert_outcomes(passed=10, failed=1)
    result.stdout.fnmatch_lines(["*run_flow: param order_id: 'not-an-order' does not match*"])
    assert "another exception occurred" not in result.stdout.str()


@pytest.mark.slow
@pytest.mark.browser
def test_the_marker_gives_a_test_a_portal_of_its_own(suite):
    suite.makepyfile(
        test_marked=textwrap.dedent(
            """
            import urllib.request

            import pytest
            from playwright.sync_api import expect

            SEEN = {}


            def test_shared(mock_portal):
                SEEN["shared"] = mock_portal.url
                assert len(mock_portal.orders(seller="seller@example.com")) == 200


            @pytest.mark.portal(seed=4, orders=12, lang="zh-CN", auto_cancel="amazon-7bd")
            def test_own(mock_portal, seller_page):
                SEEN["own"] = mock_portal.url
                assert mock_portal.url != SEEN["shared"]
                mine = mock_portal.orders(seller="seller@example.com")
                assert len(mine) == 12
                assert all(o["order_id"].startswith("112-0000004-") for o in mine)
                assert mock_portal.api_get("/mock/api/clock")["auto_cancel"] == "amazon-7bd"
                seller_page.goto("/orders-v3/")
                assert seller_page.url.startswith(mock_portal.url)
                expect(seller_page.locator("html")).to_have_attribute("lang", "zh-CN")


            def test_own_portal_was_stopped(mock_portal):
                assert mock_portal.url == SEEN["shared"]
                with pytest.raises(OSError):
                    urllib.request.urlopen(SEEN["own"] + "/mock/api/health", timeout=5)


            @pytest.mark.portal(orders=5, TOTP_ALLOW_REUSE=False)
            def test_codes_used_once(seller_page, page, mock_portal, seller_credentials):
                # seller_page signed in with a code first; signing in by hand now needs
                # another one, on a portal that takes each code once.
                page.goto(mock_portal.url + "/ap/signin")
                page.get_by_test_id("signin-email").fill(seller_credentials.email)
                page.get_by_test_id("signin-continue").click()
                page.get_by_test_id("signin-password").fill(seller_credentials.password)
                page.get_by_test_id("signin-submit").click()
                page.get_by_test_id("mfa-code").fill(seller_credentials.totp_code())
                page.get_by_test_id("mfa-submit").click()
                expect(page.get_by_test_id("nav-account")).to_be_visible()
                seller_page.goto("/home")
                expect(seller_page.get_by_test_id("nav-account")).to_be_visible()


            @pytest.mark.portal(colour="blue")
            def test_unknown_setting(mock_portal):
                pass
            """
        )
    )
    result = run(suite)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.portal: unknown setting 'colour'*"])


@pytest.mark.slow
@pytest.mark.browser
def test_options_choose_the_started_portals_data_and_language(suite):
    suite.makepyfile(
        test_options=textwrap.dedent(
            """
            from playwright.sync_api import expect


            def test_settings(mock_portal, seller_page):
                mine = mock_portal.orders(seller="seller@example.com")
                assert len(mine) == 30
                assert all(o["order_id"].startswith("112-0000005-") for o in mine)
                seller_page.goto("/home")
                expect(seller_page.locator("html")).to_have_attribute("lang", "zh-CN")
            """
        )
    )
    result = run(suite, "--portal-seed", "5", "--portal-orders", "30", "--portal-lang", "zh-CN")
    result.assert_outcomes(passed=1)


@pytest.mark.slow
@pytest.mark.browser
def test_portal_url_uses_a_running_portal(suite):
    with running_portal(seed=6, orders=15) as outside:
        order_id = outside.orders(status="Unshipped")[-1]["order_id"]
        suite.makepyfile(
            test_outside=textwrap.dedent(
                f"""
                from playwright.sync_api import expect


                def test_outside_portal(mock_portal, seller_page, run_flow):
                    assert mock_portal.url == {outside.url!r}
                    assert len(mock_portal.orders(seller="seller@example.com")) == 15
                    seller_page.goto("/orders-v3/")
                    expect(seller_page.get_by_test_id("nav-account")).to_be_visible()
                    assert run_flow("cancel_order", order_id={order_id!r}).outcome == "cancelled"
                """
            )
        )
        run(suite, "--portal-url", outside.url).assert_outcomes(passed=1)
        assert outside.order(order_id)["status"] == "Canceled"


@pytest.mark.slow
def test_portal_url_mistakes_end_in_one_line(suite):
    suite.makepyfile(test_nothing="def test_portal(mock_portal):\n    mock_portal.orders()\n")
    not_a_url = run(suite, "--portal-url", "localhost:8600")
    assert not_a_url.ret == pytest.ExitCode.USAGE_ERROR
    not_a_url.stderr.fnmatch_lines(
        ["*--portal-url localhost:8600: give an http:// or https:// URL*"]
    )
    with running_portal(orders=1) as stopped:
        url = stopped.url
    unreachable = run(suite, "--portal-url", url)
    unreachable.assert_outcomes(errors=1)
    unreachable.stdout.fnmatch_lines([f"*--portal-url {url}: the portal does not answer*"])


@pytest.mark.slow
@pytest.mark.browser
def test_a_failing_test_keeps_its_trace_and_screenshot(suite, tmp_path):
    suite.makepyfile(
        test_evidence=textwrap.dedent(
            """
            def test_passes(seller_page):
                seller_page.goto("/home")


            def test_fails(seller_page, run_flow, mock_portal):
                seller_page.goto("/orders-v3/")
                order_id = mock_portal.orders(status="Unshipped")[-1]["order_id"]
                run_flow("cancel_order", order_id=order_id)
                assert seller_page.title() == "a page this portal does not have"
            """
        )
    )
    output = tmp_path / "results"
    result = run(
        suite,
        "--tracing",
        "retain-on-failure",
        "--screenshot",
        "only-on-failure",
        "--output",
        str(output),
    )
    result.assert_outcomes(passed=1, failed=1)
    folders = [path.name for path in output.iterdir()]
    assert len(folders) == 1 and "test-fails" in folders[0], folders
    kept = output / folders[0]
    assert {"trace.zip", "trace-cancel_order.zip", "test-failed-1.png"} <= {
        path.name for path in kept.iterdir()
    }
    for trace in kept.glob("*.zip"):
        with zipfile.ZipFile(trace) as archive:
            assert any(name.endswith(".trace") for name in archive.namelist())
            for name in archive.namelist():
                assert b"demo-password" not in archive.read(name), (trace.name, name)


@pytest.mark.slow
@pytest.mark.browser
def test_two_xdist_workers_get_a_portal_each(suite, tmp_path):
    seen = tmp_path / "seen"
    seen.mkdir()
    suite.makepyfile(
        test_parallel=textwrap.dedent(
            f"""
            import os
            from pathlib import Path

            import pytest
            from playwright.sync_api import expect


            @pytest.mark.parametrize("n", range(4))
            def test_signed_in(n, mock_portal, seller_page):
                seller_page.goto("/orders-v3/")
                expect(seller_page.get_by_test_id("nav-account")).to_be_visible()
                worker = os.environ["PYTEST_XDIST_WORKER"]
                Path({str(seen)!r}, f"{{n}}").write_text(worker + " " + mock_portal.url)
            """
        )
    )
    result = run(suite, "-n", "2")
    result.assert_outcomes(passed=4)
    pairs = {tuple(path.read_text().split()) for path in seen.iterdir()}
    workers = {worker for worker, _ in pairs}
    urls = {url for _, url in pairs}
    assert workers == {"gw0", "gw1"}
    assert len(urls) == 2, pairs  # one portal per worker, each on its own port


@pytest.mark.slow
@pytest.mark.browser
def test_a_conftest_override_of_the_launch_options_wins(suite):
    suite.makeconftest(
        textwrap.dedent(
            """
            import pytest

            from agent.play.browser import find_browser


            @pytest.fixture(scope="session")
            def browser_type_launch_args():
                return {"executable_path": find_browser(headless=True), "args": ["--lang=fr"]}
            """
        )
    )
    suite.makepyfile(
        test_launch=textwrap.dedent(
            """
            from agent.play.browser import find_browser


            def test_theirs(browser_type_launch_args, page):
                assert browser_type_launch_args == {
                    "executable_path": find_browser(headless=True), "args": ["--lang=fr"]}
                page.set_content("<p>hello</p>")
                assert page.inner_text("p") == "hello"
            """
        )
    )
    run(suite).assert_outcomes(passed=1)


@pytest.mark.slow
def test_playwright_options_shape_the_launch_options(suite):
    suite.makepyfile(
        test_options=textwrap.dedent(
            """
            from agent.play.browser import CHROMIUM_ARGS, find_browser


            def test_launch_options(browser_type_launch_args, pytestconfig):
                if pytestconfig.getoption("--browser-channel"):
                    assert browser_type_launch_args == {"channel": "chrome"}
                else:
                    assert browser_type_launch_args == {
                        "headless": False,
                        "executable_path": find_browser(headless=False),
                        "args": CHROMIUM_ARGS,
                    }
            """
        )
    )
    run(suite, "--browser-channel", "chrome").assert_outcomes(passed=1)
    run(suite, "--headed").assert_outcomes(passed=1)


@pytest.mark.slow
@pytest.mark.browser
def test_asyncio_still_works_after_a_page_test(suite):
    suite.makepyfile(
        test_mixed=textwrap.dedent(
            """
            import asyncio

            import pytest

            from agent.play.browser import CHROMIUM_ARGS, find_browser


            @pytest.fixture(scope="module")
            def loop():
                own = asyncio.new_event_loop()
                own.run_until_complete(asyncio.sleep(0))
                yield own
                own.run_until_complete(asyncio.sleep(0))
                own.close()


            def test_1_page(page):
                page.set_content("<p>one</p>")


            def test_2_asyncio_run():
                async def answer():
                    return 42

                assert asyncio.run(answer()) == 42


            def test_3_a_loop_of_its_own(loop):
                assert loop.run_until_complete(asyncio.sleep(0, result=7)) == 7


            def test_4_page_again(page):
                page.set_content("<p>four</p>")
                assert page.inner_text("p") == "four"


            def test_5_sync_playwright_of_its_own():
                from playwright.sync_api import sync_playwright

                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=find_browser(headless=True), args=CHROMIUM_ARGS
                    )
                    browser.close()
            """
        )
    )
    run(suite).assert_outcomes(passed=5)
