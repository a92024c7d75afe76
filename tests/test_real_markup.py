"""The portal with MARKUP = "real" (no data-testid anywhere, as on Seller Central), the bundled
flows passing on it in both languages, the sign-in interstitial and blocking faults, and the
User-Agent recorded in order history.

Browser tests: a real portal subprocess with markup=real, one Chromium for the module, a fresh
context per run; results are checked through the portal's /mock/api/ books.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cancel.rules import cancel_params, reconcile
from agent.flow import bind_params, load_flow
from agent.play import browser as browserlib
from agent.play.player import run_flow
from agent.play.secrets import load_secrets
from mock_portal import create_app, faults, seed, server, totp
from mock_portal.testing import PortalClient, hidden_fields, running_portal

DEMO_EMAIL = "seller@example.com"
DEMO_PASSWORD = "demo-password"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"
REAL_SEED = 4
REAL_ORDERS = 60
LANGS = ["en", "zh-CN"]


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


# --- pages without test ids -------------------------------------------------------------------


def pages_of(portal, order_ids: dict[str, str]) -> dict[str, str]:
    client = PortalClient(portal.url)
    try:
        pages = {"/ap/signin": client.get("/ap/signin")[2]}
        form = {**hidden_fields(pages["/ap/signin"]), "email": DEMO_EMAIL}
        pages["/ap/signin (password)"] = client.post("/ap/signin", form)[2]
        client.post("/ap/signin", {**form, "password": DEMO_PASSWORD})
        pages["/ap/mfa"] = client.get("/ap/mfa")[2]
        client.sign_in(DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOTP_SECRET)
        flagged, cancelled = order_ids["flagged"], order_ids["cancelled_counted"]
        for path in (
            "/home",
            "/orders-v3/mfn/unshipped",
            "/orders-v3/mfn/pending",
            "/orders-v3/mfn/canceled",
            "/orders-v3/shipped",
            f"/orders-v3/search?page=1&q={flagged}&qt=orderid&date-range=last-30",
            "/orders-v3/search?q=nothing-like-this&qt=sku",
            f"/orders-v3/order/{flagged}",
            f"/orders-v3/order/{cancelled}",
            f"/orders-v3/order/{flagged}/cancel",
            f"/orders-v3/order/{flagged}/packing-slip",
            "/performance/account/health",
            "/messaging/inbox",
            "/mail",
            f"/mailbox/{DEMO_EMAIL}",
            "/orders-v3/order/999-0000000-0000000",
        ):
            for lang in LANGS:
                pages[f"{path} [{lang}]"] = client.get(
                    f"{path}{'&' if '?' in path else '?'}lang={lang}"
                )[2]
        return pages
    finally:
        client.close()


@pytest.fixture(scope="module")
def real_portal():
    with running_portal(seed=REAL_SEED, orders=REAL_ORDERS, markup="real") as started:
        yield started


@pytest.fixture(scope="module")
def real_cases() -> dict[str, str]:
    return seed.case_ids(REAL_SEED, REAL_ORDERS)


def test_real_markup_pages_carry_no_test_ids_and_the_default_ones_do(real_portal, real_cases):
    real = pages_of(real_portal, real_cases)
    assert len(real) > 20
    assert [path for path, page in real.items() if "data-testid" in page] == []
    with running_portal(seed=REAL_SEED, orders=REAL_ORDERS) as mock_portal:
        default = pages_of(mock_portal, real_cases)
    assert [path for path, page in default.items() if "data-testid" not in page] == []


def test_real_markup_keeps_the_real_sites_ids_names_and_texts(real_portal, real_cases):
    pages = pages_of(real_portal, real_cases)
    search = pages[
        f"/orders-v3/search?page=1&q={real_cases['flagged']}&qt=orderid&date-range=last-30 [en]"
    ]
    assert 'id="myo-search-input"' in search and 'id="myo-search-button"' in search
    assert (
        "The buyer has requested that this order be canceled. Canceling this order will not "
        "affect your cancellation rate metric."
    ) in search
    for tab, path in (
        ("Pending", "/orders-v3/mfn/pending"),
        ("Unshipped", "/orders-v3/mfn/unshipped"),
        ("Canceled", "/orders-v3/mfn/canceled"),
        ("Shipped", "/orders-v3/shipped"),
    ):
        assert re.search(rf'<a href="{path}"[^>]*>{tab} ', search), tab
    signin = pages["/ap/signin"]
    assert 'id="ap_email" name="email"' in signin and 'id="continue"' in signin


def test_the_sign_in_forms_use_the_real_ids_and_accept_the_real_field_names(client):
    page = client.get("/ap/signin").text
    assert 'id="ap_email" name="email"' in page and 'id="continue"' in page
    step = client.post("/ap/signin", data={"csrf_token": csrf_of(page), "email": DEMO_EMAIL})
    for piece in ('id="ap_password" name="password"', 'name="rememberMe"', 'id="signInSubmit"'):
        assert piece in step.text
    wrong = client.post(
        "/ap/signin",
        data={"csrf_token": csrf_of(page), "email": DEMO_EMAIL, "password": "nope"},
    )
    assert re.search(r'id="auth-error-message-box"[\s\S]*Your password is incorrect', wrong.text)
    answer = client.post(
        "/ap/signin",
        data={
            "csrf_token": csrf_of(page),
            "email": DEMO_EMAIL,
            "password": DEMO_PASSWORD,
            "rememberMe": "true",
        },
    )
    assert answer.headers["Location"].endswith("/ap/mfa")
    mfa = client.get("/ap/mfa").text
    for piece in (
        'id="auth-mfa-otpcode"',
        'id="auth-mfa-remember-device"',
        'id="auth-signin-button"',
    ):
        assert piece in mfa
    done = client.post(
        "/ap/mfa",
        data={
            "csrf_token": csrf_of(mfa),
            "otpCode": totp.totp(DEMO_TOTP_SECRET),
            "rememberDevice": "true",
        },
    )
    assert done.status_code == 302 and "/ap/" not in done.headers["Location"]
    cookies = done.headers.getlist("Set-Cookie")
    # rememberMe made the session cookie persistent; rememberDevice trusted the browser.
    assert any(c.startswith("session=") and "Expires=" in c for c in cookies)
    assert any(c.startswith("ap_device=") for c in cookies)


def test_an_unknown_markup_is_refused_in_one_line(tmp_path, monkeypatch):
    with pytest.raises(server.PortalError, match="--markup: must be one of mock, real"):
        server.build_config(db_path=tmp_path / "p.db", markup="fancy")
    monkeypatch.setenv(server.MARKUP_ENV, "real")
    assert server.build_config(db_path=tmp_path / "p.db")["MARKUP"] == "real"
    with pytest.raises(ValueError, match="MARKUP"):
        create_app({"DATABASE": str(tmp_path / "q.db"), "MARKUP": "fancy"})
    answer = subprocess.run(
        [sys.executable, "-m", "mock_portal", "--db", str(tmp_path / "r.db"), "--markup", "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 2 and "--markup" in answer.stderr


# --- the bundled flows on the real markup -----------------------------------------------------


class Browser:
    def __init__(self, loop, chromium, run_dir: Path):
        self.loop, self.chromium, self.run_dir = loop, chromium, run_dir
        self.secrets = load_secrets()
        self.contexts = []

    def page(self, portal_url: str, lang: str = "en", storage: Path | None = None):
        async def make():
            context = await browserlib.new_context(self.chromium, storage_state=storage)
            await context.add_cookies([{"name": "lang", "value": lang, "url": portal_url}])
            self.contexts.append(context)
            return await context.new_page()

        return self.loop.run_until_complete(make())

    def run(self, page, flow_name, params, portal_url):
        flow = load_flow(flow_name)
        return self.loop.run_until_complete(
            run_flow(
                page,
                flow,
                bind_params(flow, params),
                portal=portal_url,
                secrets=self.secrets,
                run_dir=self.run_dir,
            )
        )

    def user_agent(self, page) -> str:
        return self.loop.run_until_complete(page.evaluate("navigator.userAgent"))

    def close(self):
        for context in self.contexts:
            self.loop.run_until_complete(context.close())


@pytest.fixture
def tool(loop, chromium, tmp_path):
    created = Browser(loop, chromium, tmp_path / "run")
    yield created
    created.close()


def only_first_choices(result) -> bool:
    """Every target resolved by its first candidate, and none by a test id."""
    return all(m["candidate"] == 0 and "testid" not in m["spec"] for m in result.matches)


def fresh_unshipped(portal, cases: dict[str, str], taken: set[str]) -> str:
    for order in portal.orders(status="Unshipped"):
        order_id = order["order_id"]
        if order_id in taken or order_id in cases.values() or order["buyer_request_kind"]:
            continue
        if order["seller"] == DEMO_EMAIL and len(portal.order(order_id)["items"]) == 1:
            taken.add(order_id)
            return order_id
    raise AssertionError("no unshipped order left")


@pytest.fixture(scope="module")
def taken() -> set[str]:
    return set()


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)
def test_login_signs_in_on_the_real_markup(tool, real_portal, lang):
    page = tool.page(real_portal.url, lang)
    result = tool.run(page, "login", {}, real_portal.url)
    assert (result.outcome, result.ok, result.error) == ("signed_in", True, None)
    assert only_first_choices(result), result.matches


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)
def test_cancel_order_on_the_real_markup_and_again_is_already_cancelled(
    tool, real_portal, real_cases, taken, lang
):
    order_id = fresh_unshipped(real_portal, real_cases, taken)
    page = tool.page(real_portal.url, lang)
    params = cancel_params(order_id, "NoInventory", "out of stock")
    result = tool.run(page, "cancel_order", params, real_portal.url)
    assert (result.outcome, result.ok, result.error) == ("cancelled", True, None)
    assert result.values["buyer_requested"] is False
    assert only_first_choices(result), result.matches
    order = real_portal.order(order_id)
    assert (order["status"], order["cancel_reason"], order["cancelled_by"]) == (
        "Canceled",
        "NoInventory",
        "seller",
    )
    assert order["cancel_events"] == 1
    # The cancellation was this browser's request.
    assert order["history"][-1]["event"] == "cancelled"
    assert order["history"][-1]["user_agent"] == tool.user_agent(page)
    assert order["last_user_agent"] == tool.user_agent(page)

    again = tool.run(page, "cancel_order", params, real_portal.url)
    assert (again.outcome, again.ok) == ("already_cancelled", True)
    shown = {"en": ("Seller", "No Inventory"), "zh-CN": ("卖家", "无库存")}[lang]
    assert (again.values["cancelled_by"], again.values["cancel_reason"]) == shown
    # A crashed run finding its own earlier cancellation counts it as done.
    assert (
        reconcile(load_flow("cancel_order"), bind_params(load_flow("cancel_order"), params), again)
        == "cancelled"
    )
    other = cancel_params(order_id, "PricingError")
    assert (
        reconcile(load_flow("cancel_order"), bind_params(load_flow("cancel_order"), other), again)
        is None
    )
    assert real_portal.order(order_id)["cancel_events"] == 1


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)
def test_cancel_order_outcomes_without_cancelling_on_the_real_markup(
    tool, real_portal, real_cases, lang
):
    page = tool.page(real_portal.url, lang)
    for case, outcome in (
        ("pending", "not_cancellable"),
        ("shipped", "not_cancellable"),
        ("cancelled_by_buyer", "already_cancelled"),
    ):
        order_id = real_cases[case]
        before = real_portal.order(order_id)
        result = tool.run(page, "cancel_order", cancel_params(order_id), real_portal.url)
        assert (case, result.outcome, result.error) == (case, outcome, None)
        assert real_portal.order(order_id)["status"] == before["status"]
        assert real_portal.order(order_id)["cancel_events"] == before["cancel_events"]
    by_buyer = tool.run(
        page, "cancel_order", cancel_params(real_cases["cancelled_by_buyer"]), real_portal.url
    )
    assert by_buyer.values["cancelled_by"] == {"en": "Buyer", "zh-CN": "买家"}[lang]
    missing = tool.run(page, "cancel_order", cancel_params("999-0000000-0000000"), real_portal.url)
    assert (missing.outcome, missing.ok) == ("not_found", False)


@pytest.mark.browser
def test_a_flagged_order_is_seen_as_requested_on_the_real_markup(tool, real_portal, real_cases):
    order_id = real_cases["flagged_2"]
    page = tool.page(real_portal.url, "zh-CN")
    result = tool.run(
        page, "cancel_order", cancel_params(order_id, "BuyerCanceled"), real_portal.url
    )
    assert (result.outcome, result.values["buyer_requested"]) == ("cancelled", True)
    order = real_portal.order(order_id)
    assert order["status"] == "Canceled" and order["counts_toward_rate"] is False


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)
def test_collect_cancel_requests_and_account_health_on_the_real_markup(tool, real_portal, lang):
    page = tool.page(real_portal.url, lang)
    requests = tool.run(page, "collect_cancel_requests", {}, real_portal.url)
    assert requests.ok, requests.error
    expected = {
        mail["order_id"]
        for mail in real_portal.api_get(f"/mock/api/mail?to={DEMO_EMAIL}&kind=buyer-request")[
            "mail"
        ]
    }
    assert expected and sorted(requests.values["order_ids"]) == sorted(expected)
    health = tool.run(page, "account_health", {}, real_portal.url)
    assert health.ok, health.error
    metrics = real_portal.api_get(f"/mock/api/metrics?seller={DEMO_EMAIL}")
    assert (int(health.values["cancelled"]), int(health.values["total"])) == (
        metrics["cancelled"],
        metrics["total"],
    )
    assert only_first_choices(health), health.matches


# --- sign-in interstitials and blocking, through the login flow --------------------------------


@pytest.fixture(scope="module")
def fault_portal():
    with running_portal(seed=5, orders=20, markup="real") as started:
        yield started


@pytest.fixture
def faulty(fault_portal):
    yield fault_portal
    fault_portal.api_delete("/mock/api/faults")


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)
def test_login_skips_add_a_phone_and_answers_a_one_choice_account_picker(tool, faulty, lang):
    faulty.api_post(
        "/mock/api/faults", {"signin_interstitials": ["accountfixup", "account_picker"]}
    )
    page = tool.page(faulty.url, lang)
    result = tool.run(page, "login", {}, faulty.url)
    assert (result.outcome, result.ok, result.error) == ("signed_in", True, None)
    steps = {m["step"] for m in result.matches}
    assert {"skip adding a phone number", "choose the account"} <= steps


@pytest.mark.browser
@pytest.mark.parametrize(
    ("faults_set", "outcome"),
    [
        ({"signin_interstitials": ["captcha"]}, "captcha"),
        ({"signin_interstitials": ["cvf"]}, "verification_required"),
        (
            {"signin_interstitials": ["account_picker"], "picker_accounts": 3},
            "account_choice_required",
        ),
        ({"blocked": True, "paths": ["/ap/"]}, "blocked"),
    ],
)
def test_login_stops_where_a_person_must_answer_or_access_is_blocked(
    tool, faulty, faults_set, outcome
):
    faulty.api_post("/mock/api/faults", faults_set)
    page = tool.page(faulty.url)
    result = tool.run(page, "login", {}, faulty.url)
    assert (result.outcome, result.ok) == (outcome, False)
    # Nothing was submitted past the page: still not signed in anywhere.
    assert "/home" not in tool.loop.run_until_complete(page.evaluate("location.pathname"))


# --- the interstitials over HTTP ---------------------------------------------------------------


def set_faults(client, settings):
    answer = client.post("/mock/api/faults", json=settings)
    assert answer.status_code == 200, answer.get_json()


def password_step(client, form_extra=None):
    page = client.get("/ap/signin").text
    data = {"csrf_token": csrf_of(page), "email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    return client.post("/ap/signin", data={**data, **(form_extra or {})})


def finish_mfa(client):
    mfa = client.get("/ap/mfa").text
    return client.post(
        "/ap/mfa", data={"csrf_token": csrf_of(mfa), "otp": totp.totp(DEMO_TOTP_SECRET)}
    )


def test_the_captcha_stands_before_the_password_check(client):
    set_faults(client, {"signin_interstitials": ["captcha"], "captcha_text": "ab12cd"})
    first = password_step(client)
    assert first.status_code == 200 and 'id="auth-captcha-image"' in first.text
    assert "Enter the characters you see below" in first.text and "AB12CD" not in first.text
    wrong = password_step(client, {"guess": "zzzz"})
    assert 'id="auth-captcha-image"' in wrong.text and 'id="auth-error-message-box"' in wrong.text
    right = password_step(client, {"guess": "AB12CD"})
    assert right.status_code == 302 and right.headers["Location"].endswith("/ap/mfa")
    image = client.get("/ap/captcha-image")
    assert image.mimetype == "image/svg+xml" and b">A<" in image.data


def test_cvf_holds_the_new_session_until_the_emailed_code_is_given(client, portal_app):
    set_faults(client, {"signin_interstitials": ["cvf"]})
    password_step(client)
    done = finish_mfa(client)
    assert done.headers["Location"].endswith("/ap/cvf")
    page = client.get("/ap/cvf").text
    assert 'id="cvf-input-code"' in page and "data-testid" in page
    held = client.get("/orders-v3/mfn/unshipped")
    assert held.status_code == 302 and held.headers["Location"].endswith("/ap/cvf")
    mail = client.get(f"/mock/api/mail?to={DEMO_EMAIL}&kind=verification").get_json()["mail"]
    assert len(mail) == 1
    code = re.search(r"\d{6}", mail[0]["body"]).group()
    wrong = client.post(
        "/ap/cvf",
        data={"csrf_token": csrf_of(page), "code": "000000" if code != "000000" else "111111"},
    )
    assert 'id="auth-error-message-box"' in wrong.text
    right = client.post("/ap/cvf", data={"csrf_token": csrf_of(page), "code": code})
    assert right.status_code == 302 and "/ap/" not in right.headers["Location"]
    assert client.get("/orders-v3/mfn/unshipped").status_code == 200


def test_a_cleared_interstitial_fault_releases_a_held_session(client):
    set_faults(client, {"signin_interstitials": ["accountfixup"]})
    password_step(client)
    assert finish_mfa(client).headers["Location"].endswith("/ap/accountfixup")
    assert client.get("/home").headers["Location"].endswith("/ap/accountfixup")
    assert client.delete("/mock/api/faults").status_code == 200
    assert client.get("/home").status_code == 200


def test_not_now_needs_the_sessions_token_and_then_goes_on(client):
    set_faults(client, {"signin_interstitials": ["accountfixup", "account_picker"]})
    password_step(client)
    finish_mfa(client)
    page = client.get("/ap/accountfixup").text
    skip = re.search(r'id="ap-account-fixup-phone-skip-link" href="([^"]+)"', page).group(1)
    forged = client.get("/ap/accountfixup?skip=1&token=forged")
    assert forged.status_code == 200 and "ap-account-fixup-phone-skip-link" in forged.text
    went = client.get(skip.replace("&amp;", "&"))
    assert went.headers["Location"].endswith("/account-switcher/default/merchantMarketplace")
    picker = client.get("/account-switcher/default/merchantMarketplace").text
    none_chosen = client.post(
        "/account-switcher/default/merchantMarketplace", data={"csrf_token": csrf_of(picker)}
    )
    assert 'id="auth-error-message-box"' in none_chosen.text
    chosen = client.post(
        "/account-switcher/default/merchantMarketplace",
        data={"csrf_token": csrf_of(picker), "marketplace": "US"},
    )
    assert chosen.status_code == 302
    assert client.get("/home").status_code == 200


def test_the_blocked_fault_answers_403_with_a_stable_id_in_both_languages(client):
    set_faults(client, {"blocked": True})
    for lang, words in (("en", "Automated access blocked"), ("zh-CN", "已阻止自动访问")):
        answer = client.get(f"/ap/signin?lang={lang}")
        assert answer.status_code == 403
        assert 'id="automated-access-blocked"' in answer.text and words in answer.text
    # The inspection API stays open, so a test can see and undo it.
    assert client.get("/mock/api/faults").get_json()["counters"]["blocked"] == 2


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"signin_interstitials": ["sms"]}, "signin_interstitials must be a list of"),
        ({"signin_interstitials": "cvf"}, "signin_interstitials must be a list of"),
        ({"captcha_text": "a b"}, "captcha_text must be"),
        ({"picker_accounts": 9}, "picker_accounts must be between 1 and 5"),
        ({"blocked": "yes"}, "blocked must be true or false"),
    ],
)
def test_bad_interstitial_settings_are_refused_by_name(settings, words):
    with pytest.raises(faults.FaultError, match=words):
        faults.FaultSettings.parse(settings)


# --- the User-Agent of state changes -----------------------------------------------------------


def test_history_records_the_user_agent_of_each_state_change(client, portal_db):
    order_id = portal_db.execute(
        "SELECT id FROM orders WHERE status = 'Unshipped' AND buyer_request_kind IS NULL LIMIT 1"
    ).fetchone()["id"]
    client.post(
        "/mock/api/buyer-requests",
        json={"order_id": order_id, "kind": "official", "reason": "changed my mind"},
        headers={"User-Agent": "buyer-script/1.0"},
    )
    password_step(client)
    finish_mfa(client)
    form = client.get(f"/orders-v3/order/{order_id}/cancel").text
    fields = hidden_fields(form)
    answer = client.post(
        f"/orders-v3/order/{order_id}/cancel",
        data={**fields, "reason": "BuyerCanceled", "scope": "order"},
        headers={"User-Agent": "seller-browser/2.0"},
    )
    assert answer.status_code in (302, 303)
    record = client.get(f"/mock/api/orders/{order_id}").get_json()
    events = [(entry["event"], entry["user_agent"]) for entry in record["history"]]
    assert ("buyer_requested_cancellation", "buyer-script/1.0") in events
    assert events[-1] == ("cancelled", "seller-browser/2.0")
    assert record["last_user_agent"] == "seller-browser/2.0"
    # Seeded history was written by no client.
    seeded = client.get("/mock/api/orders?status=Shipped").get_json()["orders"][0]["order_id"]
    assert client.get(f"/mock/api/orders/{seeded}").get_json()["last_user_agent"] is None
