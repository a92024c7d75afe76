"""The tool facing a portal like the real one: sign-in pages a person must answer, an account
picker, a portal that blocks automated access, the User-Agent's product token, the default pace
for a portal elsewhere, and `portal serve --markup`.

Browser tests run the real `seller-agent` (in-process through CliRunner, or as a subprocess
where the test must act while it runs) against a real portal with markup=real; what the portal
did is checked through its /mock/api/ books.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from agent.bulk import etiquette
from agent.bulk import retry as retry_rules
from agent.bulk.engine import BulkOptions
from agent.bulk.journal import Journal
from agent.cancel.rules import cancel_params
from agent.cli import cli
from agent.cli.options import identity_options
from agent.flow import bind_params, load_flow
from agent.play import browser as browserlib
from agent.play import interstitials
from agent.play.player import RunResult, run_flow
from agent.play.secrets import Secrets, load_secrets
from agent.play.session import sign_in
from mock_portal.testing import running_portal

DEMO_EMAIL = "seller@example.com"
CLI = [sys.executable, "-c", "from agent.cli import cli; cli()"]
SETTINGS = ("SELLER_AGENT_ACCOUNT", "SELLER_AGENT_USER_AGENT_SUFFIX")


def result_of(outcome: str, **values) -> RunResult:
    return RunResult(outcome=outcome, ok=False, values=values)


# --- the default pace ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("portal", "local"),
    [
        ("http://127.0.0.1:8600", True),
        ("http://127.8.9.1", True),
        ("http://[::1]:8600/", True),
        ("http://localhost:8600", True),
        ("http://shop.localhost", True),
        ("https://sellercentral.amazon.com", False),
        ("http://localhost.example.com", False),
        ("http://192.168.1.20:8600", False),
        ("http://10.0.0.1", False),
    ],
)
def test_a_portal_is_local_only_on_a_loopback_address_or_localhost(portal, local):
    assert etiquette.is_local_portal(portal) is local
    assert etiquette.default_rate(portal, None) == (None if local else 1.0)
    # A pace that was given is kept, here or elsewhere.
    assert etiquette.default_rate(portal, 25.0) == 25.0


def test_the_default_pace_is_applied_and_said_once_for_a_portal_elsewhere():
    said: list[str] = []
    options = BulkOptions(workers=4)
    paced = etiquette.paced(options, "https://sellercentral.amazon.com", said.append)
    assert paced.rate == 1.0 and paced.workers == 4 and options.rate is None
    assert said == [
        "pace: at most 1 row per second, as sellercentral.amazon.com is not on this machine "
        "(cancel --rate sets another)"
    ]
    said.clear()
    assert etiquette.paced(BulkOptions(rate=5.0), "https://sellercentral.amazon.com", said.append)
    assert etiquette.paced(options, "http://127.0.0.1:8600", said.append) is options
    assert said == []


def test_the_cancel_command_resolves_its_pace_from_rate_and_portal():
    from agent.cli.options import parse_rate

    remote = "https://sellercentral.amazon.com"
    assert etiquette.default_rate(remote, parse_rate(None)) == 1.0
    assert etiquette.default_rate(remote, parse_rate("120/min")) == 2.0
    assert etiquette.default_rate("http://127.0.0.1:8600", parse_rate(None)) is None


# --- never retried, and what a stop says ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["interstitial", "blocked"])
def test_a_stop_is_never_retried(kind):
    result = RunResult(outcome="failed", ok=False, error="stop", error_kind=kind)
    assert not retry_rules.is_transient(result)
    assert retry_rules.next_delay(result, 1, retry_rules.RetryPolicy(attempts=9)) is None
    assert not result.transient


def test_halting_stops_the_run_and_names_the_resume():
    stop = SimpleNamespace(soft=False, reason=None)
    plain = RunResult(outcome="failed", ok=False, error="HTTP 500", error_kind="http_5xx")
    etiquette.halt_if_told(plain, stop, "r1")
    assert stop.soft is False
    blocked = RunResult(outcome="failed", ok=False, error="HTTP 403 at x: no", error_kind="blocked")
    with pytest.raises(etiquette.RunHalted) as raised:
        etiquette.halt_if_told(blocked, stop, "r1")
    assert (stop.soft, stop.reason, raised.value.exit_code) == (True, "blocked", 2)
    assert str(raised.value) == (
        "HTTP 403 at x: no; run r1 stopped, its rows not done stay for --resume r1"
    )


def test_each_sign_in_stop_says_what_the_portal_asks_for_and_the_way_past_it():
    portal = "https://sellercentral.example"
    by_hand = "sign in by hand with `seller-agent login --headed`, then run again"
    captcha = interstitials.stop_for(result_of("captcha"), portal)
    assert str(captcha) == (
        f"{portal} asks for the characters of a CAPTCHA picture, which seller-agent never "
        f"answers itself: {by_hand}"
    )
    code = interstitials.stop_for(result_of("verification_required"), portal)
    assert "a verification code" in str(code) and str(code).endswith(by_hand)
    several = interstitials.stop_for(
        result_of("account_choice_required", choices=["United States", " Canada\n"]), portal
    )
    assert str(several) == (
        f"{portal} asks for a choice of account or marketplace (United States, Canada): choose "
        "one with --account NAME (or SELLER_AGENT_ACCOUNT, or `account` in the secrets file), "
        f"or {by_hand}"
    )
    unknown = interstitials.stop_for(
        result_of("account_choice_required", choices=["United States"]), portal, account="Mars"
    )
    assert "the configured account 'Mars' is not one of its choices (United States)" in str(unknown)
    blocked = interstitials.stop_for(
        result_of("blocked", message="Automated access blocked\n Stop now."), portal
    )
    assert str(blocked).startswith(f"{portal} blocked automated access (Automated access blocked")
    assert {stop.error_kind for stop in (captcha, code, several, unknown)} == {"interstitial"}
    assert blocked.error_kind == "blocked"
    assert all(s.exit_code == 2 for s in (captcha, code, several, unknown, blocked))
    assert interstitials.stop_for(result_of("rejected", message="wrong"), portal) is None


def test_the_configured_account_comes_from_the_environment_else_the_secrets_file(monkeypatch):
    secrets = Secrets("e@x", "pw-1", "JBSWY3DPEHPK3PXP", extra={"account": "Canada"})
    monkeypatch.delenv("SELLER_AGENT_ACCOUNT", raising=False)
    assert interstitials.configured_account(secrets) == "Canada"
    monkeypatch.setenv("SELLER_AGENT_ACCOUNT", " Mexico ")
    assert interstitials.configured_account(secrets) == "Mexico"
    flow = load_flow("login")
    assert interstitials.login_params(flow, secrets) == {"account_choice": r"/^\s*Mexico\s*$/i"}
    monkeypatch.delenv("SELLER_AGENT_ACCOUNT")
    pattern = re.compile(r"^\s*" + re.escape("Amazon.com (US)") + r"\s*$", re.IGNORECASE)
    assert interstitials.account_pattern("Amazon.com (US)") == f"/{pattern.pattern}/i"
    assert pattern.match(" amazon.com (us) ") and not pattern.match("Amazon.com (US) 2")
    # Nothing configured: empty, which matches every choice, so only a single one is taken.
    assert interstitials.login_params(flow, Secrets("e@x", "pw-1", "K")) == {"account_choice": ""}


# --- identity settings on the command line --------------------------------------------------------


def test_account_and_user_agent_options_set_their_variables_for_the_command_only(monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SELLER_AGENT_USER_AGENT_SUFFIX", "from-env/1")

    @click.command()
    @identity_options
    def show() -> None:
        click.echo(json.dumps({name: os.environ.get(name) for name in SETTINGS}))

    given = CliRunner().invoke(show, ["--account", "Canada", "--user-agent-suffix", ""])
    assert given.exit_code == 0, given.output
    assert json.loads(given.output) == {
        "SELLER_AGENT_ACCOUNT": "Canada",
        "SELLER_AGENT_USER_AGENT_SUFFIX": "",
    }
    assert os.environ.get("SELLER_AGENT_ACCOUNT") is None
    assert os.environ["SELLER_AGENT_USER_AGENT_SUFFIX"] == "from-env/1"
    plain = CliRunner().invoke(show, [])
    assert json.loads(plain.output)["SELLER_AGENT_USER_AGENT_SUFFIX"] == "from-env/1"


def test_the_user_agent_suffix_is_on_by_default_and_empty_turns_it_off(monkeypatch):
    from importlib.metadata import version

    monkeypatch.delenv("SELLER_AGENT_USER_AGENT_SUFFIX", raising=False)
    token = f"seller-agent/{version('seller-agent')} (automated)"
    assert browserlib.user_agent_suffix() == token
    monkeypatch.setenv("SELLER_AGENT_USER_AGENT_SUFFIX", "")
    assert browserlib.user_agent_suffix() == ""
    monkeypatch.setenv("SELLER_AGENT_USER_AGENT_SUFFIX", " acme-ops/2\n(automated) ")
    assert browserlib.user_agent_suffix() == "acme-ops/2 (automated)"


def test_every_browser_command_offers_the_identity_options():
    for command in ("login", "cancel", "run", "record"):
        answer = CliRunner().invoke(cli, [command, "--help"], prog_name="seller-agent")
        assert "--account NAME" in answer.output and "--user-agent-suffix TEXT" in answer.output


# --- portal serve --markup ------------------------------------------------------------------------


def test_portal_serve_markup_real_serves_pages_without_test_ids(tmp_path):
    process = subprocess.Popen(
        [*CLI, "portal", "serve", "--port", "0", "--db", str(tmp_path / "p.db"), "--orders", "5"]
        + ["--markup", "real"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SELLER_AGENT_PORTAL_MARKUP": ""},
    )
    try:
        url = None
        for line in process.stderr:
            if line.startswith("Portal listening on"):
                url = line.split()[-1]
            if line.startswith("Press Ctrl-C"):
                break
        assert url, "the portal did not start"
        with urllib.request.urlopen(f"{url}/ap/signin", timeout=10) as answer:
            page = answer.read().decode()
        assert 'id="ap_email"' in page and "data-testid" not in page
    finally:
        process.terminate()
        process.wait(timeout=30)
    bad = CliRunner().invoke(cli, ["portal", "serve", "--markup", "fancy"])
    assert bad.exit_code == 2 and "'fancy' is not one of 'mock', 'real'" in bad.output


# --- against a real portal --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_portal():
    with running_portal(seed=6, orders=40, markup="real") as started:
        yield started


@pytest.fixture
def portal(real_portal):
    """The module's portal with no faults before and after the test."""
    real_portal.api_delete("/mock/api/faults")
    yield real_portal
    real_portal.api_delete("/mock/api/faults")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home without a saved session, secrets from the demo account, no identity settings."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in (
        "SELLER_AGENT_EMAIL",
        "SELLER_AGENT_PASSWORD",
        "SELLER_AGENT_TOTP_SECRET",
        "SELLER_AGENT_PORTAL",
        *SETTINGS,
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


_taken: set[str] = set()


def unshipped(portal, count: int) -> list[str]:
    """Plain Unshipped orders of the demo seller no other test has used."""
    found = []
    for order in portal.orders(status="Unshipped", seller=DEMO_EMAIL):
        order_id = order["order_id"]
        if order_id in _taken or order["buyer_request_kind"] or order["cancel_events"]:
            continue
        _taken.add(order_id)
        found.append(order_id)
        if len(found) == count:
            return found
    raise AssertionError("not enough unshipped orders left")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="seller-agent", catch_exceptions=False)


def session_files(home: Path) -> list[Path]:
    return sorted((home / "data").glob("seller-agent/sessions/**/*.json"))


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


INTERSTITIAL_CASES = [
    pytest.param({"signin_interstitials": ["captcha"]}, "a CAPTCHA picture", id="captcha"),
    pytest.param({"signin_interstitials": ["cvf"]}, "a verification code", id="cvf"),
    pytest.param(
        {"signin_interstitials": ["account_picker"], "picker_accounts": 3},
        "a choice of account or marketplace (United States, Canada, Mexico)",
        id="picker",
    ),
    pytest.param(
        {"blocked": True}, "blocked automated access (Automated access blocked", id="blocked"
    ),
]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize(("faults", "words"), INTERSTITIAL_CASES)
def test_login_stops_in_one_line_with_exit_2_and_saves_no_session(portal, home, faults, words):
    portal.api_post("/mock/api/faults", faults)
    answer = invoke("login", "--portal", portal.url)
    assert answer.exit_code == 2, answer.output
    (line,) = error_lines(answer.stderr)
    assert words in line
    if "blocked" in faults:
        assert "run nothing against it until a person has signed in by hand" in line
    else:
        assert "`seller-agent login --headed`" in line
    assert answer.stdout == "" and session_files(home) == []


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize(("faults", "words"), INTERSTITIAL_CASES)
def test_cancel_stops_before_touching_any_order(portal, home, faults, words):
    order_ids = unshipped(portal, 2)
    portal.api_post("/mock/api/faults", faults)
    answer = invoke(
        "cancel", *order_ids, "--portal", portal.url, "--max-cancel-rate", "100", "--yes"
    )
    assert answer.exit_code == 2, answer.output
    (line,) = error_lines(answer.stderr)
    assert words in line
    for order_id in order_ids:
        order = portal.order(order_id)
        assert (order["status"], order["cancel_events"]) == ("Unshipped", 0)
    # The run is left for --resume: nothing done, nothing failed.
    with Journal(str(home / "data" / "seller-agent" / "journal.db")) as journal:
        run_id = journal.last_run_id()
        assert journal.run(run_id).status == "interrupted"
        assert {row.state for row in journal.rows(run_id)} == {"pending"}


@pytest.mark.browser
@pytest.mark.slow
def test_login_skips_the_phone_page_and_takes_the_configured_account(portal, home):
    portal.api_post(
        "/mock/api/faults",
        {"signin_interstitials": ["accountfixup", "account_picker"], "picker_accounts": 4},
    )
    answer = invoke("login", "--portal", portal.url, "--account", "canada")
    assert answer.exit_code == 0, answer.output
    assert Path(answer.stdout.strip()) in session_files(home)
    assert os.environ.get("SELLER_AGENT_ACCOUNT") is None

    # The secrets file's `account`, which a name not offered does not match.
    secrets_file = home / "secrets.yaml"
    secrets_file.write_text(
        "email: seller@example.com\npassword: demo-password\ntotp_secret: JBSWY3DPEHPK3PXP\n"
        "account: Brazil\n"
    )
    secrets_file.chmod(0o600)
    for path in session_files(home):
        path.unlink()
    answer = invoke("login", "--portal", portal.url, "--secrets", str(secrets_file))
    assert answer.exit_code == 0, answer.output
    for path in session_files(home):
        path.unlink()
    # The environment's SELLER_AGENT_ACCOUNT, naming a choice the picker does not offer.
    os.environ["SELLER_AGENT_ACCOUNT"] = "Mars"
    try:
        answer = invoke("login", "--portal", portal.url)
    finally:
        del os.environ["SELLER_AGENT_ACCOUNT"]
    assert answer.exit_code == 2, answer.output
    (line,) = error_lines(answer.stderr)
    assert (
        "the configured account 'Mars' is not one of its choices "
        "(United States, Canada, Mexico, Brazil)"
    ) in line
    assert session_files(home) == []


@pytest.mark.browser
@pytest.mark.slow
def test_a_person_answers_the_code_page_in_the_window_and_the_session_is_saved(portal, home):
    """`login --headed` waits for a person; here the test is that person, in the same page."""
    portal.api_post("/mock/api/faults", {"signin_interstitials": ["cvf"]})
    said: list[str] = []

    async def scenario() -> None:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await browserlib.launch(playwright)
            try:
                context = await browserlib.new_context(browser)
                signing_in = asyncio.ensure_future(
                    sign_in(
                        context,
                        portal=portal.url,
                        secrets=load_secrets(),
                        run_dir=home / "run",
                        person_wait=60,
                        say=said.append,
                    )
                )
                page = None
                while page is None:
                    await asyncio.sleep(0.2)
                    assert not signing_in.done(), signing_in
                    pages = [p for p in context.pages if "/ap/cvf" in p.url]
                    if pages and said:
                        page = pages[0]
                mail = portal.api_get(f"/mock/api/mail?to={DEMO_EMAIL}&kind=verification")
                code = re.search(r"\d{6}", mail["mail"][0]["body"]).group()  # newest first
                await page.fill("#cvf-input-code", code)
                await page.click("#cvf-submit-otp-button")
                await asyncio.wait_for(signing_in, 60)
            finally:
                await browser.close()

    asyncio.run(scenario())
    assert said and "answer it in the browser window" in said[0]
    assert len(session_files(home)) == 1


@pytest.mark.browser
@pytest.mark.slow
def test_cancel_identifies_itself_in_the_user_agent(portal, home):
    from importlib.metadata import version

    first, second = unshipped(portal, 2)
    answer = invoke("cancel", first, "--portal", portal.url, "--max-cancel-rate", "100")
    assert answer.exit_code == 0, answer.output
    agent = portal.order(first)["last_user_agent"]
    assert agent.startswith("Mozilla/5.0 ") and "Chrome/" in agent
    assert agent.endswith(f" seller-agent/{version('seller-agent')} (automated)")
    answer = invoke(
        "cancel",
        second,
        "--portal",
        portal.url,
        "--max-cancel-rate",
        "100",
        "--user-agent-suffix",
        "acme-ops/2",
    )
    assert answer.exit_code == 0, answer.output
    assert portal.order(second)["last_user_agent"] == agent.replace(
        f"seller-agent/{version('seller-agent')} (automated)", "acme-ops/2"
    )


@pytest.mark.browser
@pytest.mark.slow
def test_a_block_mid_run_stops_it_at_once_and_resume_finishes_once_cleared(portal, home):
    order_ids = unshipped(portal, 6)
    orders_file = home / "orders.txt"
    orders_file.write_text("\n".join(order_ids) + "\n")
    journal_path = home / "journal.db"
    common = ["--portal", portal.url, "--journal", str(journal_path), "--max-cancel-rate", "100"]
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS}
    process = subprocess.Popen(
        [*CLI, "cancel", "--from", str(orders_file), "--yes", "--workers", "1"]
        + ["--rate", "2/s", *common],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            done = [i for i in order_ids if portal.order(i)["cancel_events"]]
            if len(done) >= 2:
                break
            time.sleep(0.1)
        portal.api_post("/mock/api/faults", {"blocked": True})
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    blocked_pages = portal.api_get("/mock/api/faults")["counters"]["blocked"]
    assert process.returncode == 2, stderr
    (line,) = error_lines(stderr)
    assert "Automated access blocked" in line and "--resume" in line
    # One page met the block and nothing asked again.
    assert blocked_pages == 1
    with Journal(str(journal_path)) as journal:
        run_id = journal.last_run_id()
        assert journal.run(run_id).status == "interrupted"
        states = [row.state for row in journal.rows(run_id)]
    assert 2 <= states.count("done") < len(order_ids)
    assert set(states) <= {"done", "running", "pending"}
    cancelled_before = {i for i in order_ids if portal.order(i)["cancel_events"]}
    assert len(cancelled_before) == states.count("done")

    portal.api_delete("/mock/api/faults")
    answer = invoke("cancel", "--resume", "last", "--journal", str(journal_path))
    assert answer.exit_code == 0, answer.output
    for order_id in order_ids:
        order = portal.order(order_id)
        assert (order["status"], order["cancel_events"]) == ("Canceled", 1)


# --- the order-id search's date range ---------------------------------------------------------------


@pytest.mark.browser
def test_an_order_the_search_misses_is_looked_up_by_its_address(portal, home):
    """Should the real site apply the search's date range to order ids, an older order is not
    listed; the flow asks its details page before calling it not found."""
    (order_id,) = unshipped(portal, 1)
    shipped = portal.orders(status="Shipped", seller=DEMO_EMAIL)[0]["order_id"]

    async def scenario() -> list[RunResult]:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await browserlib.launch(playwright)
            try:
                context = await browserlib.new_context(browser)

                async def miss(route) -> None:
                    # The portal's own answer for an order outside the range: no match.
                    url = re.sub(r"q=[^&]+", "q=999-0000000-0000001", route.request.url)
                    await route.continue_(url=url)

                await context.route(re.compile(r"/orders-v3/search\?"), miss)
                page = await context.new_page()
                flow = load_flow("cancel_order")
                results = []
                for target in (order_id, shipped, "999-0000000-0000002"):
                    results.append(
                        await run_flow(
                            page,
                            flow,
                            bind_params(flow, cancel_params(target, "NoInventory")),
                            portal=portal.url,
                            secrets=load_secrets(),
                            run_dir=home / "run",
                        )
                    )
                return results
            finally:
                await browser.close()

    cancelled, not_cancellable, missing = asyncio.run(scenario())
    assert (cancelled.outcome, cancelled.error) == ("cancelled", None)
    # Its Cancel order button was found on the details page, not in a search result's row.
    assert {(m["candidate"], m["spec"]) for m in cancelled.matches} >= {(2, "role=main")}
    assert (not_cancellable.outcome, not_cancellable.error) == ("not_cancellable", None)
    assert (missing.outcome, missing.error) == ("not_found", None)
    order = portal.order(order_id)
    assert (order["status"], order["cancel_reason"], order["cancel_events"]) == (
        "Canceled",
        "NoInventory",
        1,
    )


@pytest.mark.browser
@pytest.mark.slow
def test_a_code_page_when_signing_in_again_mid_run_stops_the_run_for_resume(portal, home):
    order_ids = unshipped(portal, 3)
    assert invoke("login", "--portal", portal.url).exit_code == 0
    # The saved session expires at the first page; signing in again meets the code page.
    portal.api_post(
        "/mock/api/faults",
        {"signin_interstitials": ["cvf"], "expire_session_every": 1, "paths": ["/orders-v3/"]},
    )
    journal_path = home / "journal.db"
    common = ["--portal", portal.url, "--journal", str(journal_path), "--max-cancel-rate", "100"]
    answer = invoke("cancel", *order_ids, "--workers", "1", *common)
    assert answer.exit_code == 2, answer.output
    (line,) = error_lines(answer.stderr)
    assert "signing in again stopped" in line and "a verification code" in line
    assert "`seller-agent login --headed`" in line and "--resume" in line
    with Journal(str(journal_path)) as journal:
        run_id = journal.last_run_id()
        assert journal.run(run_id).status == "interrupted"
        rows = journal.rows(run_id)
    assert {row.state for row in rows} <= {"running", "pending"}
    assert all(row.attempts <= 1 for row in rows)
    assert all(portal.order(i)["cancel_events"] == 0 for i in order_ids)

    portal.api_delete("/mock/api/faults")
    answer = invoke("cancel", "--resume", run_id, "--journal", str(journal_path))
    assert answer.exit_code == 0, answer.output
    assert all(portal.order(i)["cancel_events"] == 1 for i in order_ids)
