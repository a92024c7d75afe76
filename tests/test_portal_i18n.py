"""Every page in English and Simplified Chinese: the switch, the cookie, and the contract's labels."""

from __future__ import annotations

import html
import re
import string

import pytest
from markupsafe import escape

from mock_portal import create_app, seed, totp
from mock_portal.i18n import STRINGS, translate
from mock_portal.reasons import REASONS

EMAIL = "seller@example.com"
FLAGGED = seed.order_id(1, seed.CASES["flagged"])
PENDING = seed.order_id(1, seed.CASES["pending"])


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("i18n") / "portal.db"
    # Two clients sign in with the same code, one per language.
    return create_app(
        {"DATABASE": str(path), "ORDERS": 40, "TESTING": True, "TOTP_ALLOW_REUSE": True}
    )


def csrf_of(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def signed_in_client(app, lang: str):
    client = app.test_client()
    token = csrf_of(client.get(f"/ap/signin?lang={lang}").text)
    client.post(
        "/ap/signin", data={"csrf_token": token, "email": EMAIL, "password": "demo-password"}
    )
    client.post("/ap/mfa", data={"csrf_token": token, "otp": totp.totp("JBSWY3DPEHPK3PXP")})
    return client


@pytest.fixture(scope="module")
def zh(app):
    return signed_in_client(app, "zh-CN")


@pytest.fixture(scope="module")
def en(app):
    return signed_in_client(app, "en")


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_exists_in_both_languages_with_the_same_placeholders():
    for key, entry in STRINGS.items():
        assert entry.get("en") and entry.get("zh-CN"), key
        assert fields(entry["en"]) == fields(entry["zh-CN"]), key


def test_reason_labels_come_from_the_reason_table():
    for code, labels in REASONS.items():
        assert translate(f"reason_{code}", "en") == labels["en"]
        assert translate(f"reason_{code}", "zh-CN") == labels["zh-CN"]


def test_lang_parameter_sets_a_cookie_that_later_pages_follow(app):
    client = app.test_client()
    first = client.get("/ap/signin?lang=zh-CN")
    assert '<html lang="zh-CN">' in first.text
    assert client.get_cookie("lang").value == "zh-CN"
    assert '<html lang="zh-CN">' in client.get("/ap/signin").text
    assert '<html lang="en">' in client.get("/ap/signin?lang=en").text
    assert client.get_cookie("lang").value == "en"
    unknown = client.get("/ap/signin?lang=fr")
    assert '<html lang="en">' in unknown.text and client.get_cookie("lang").value == "en"


def test_default_language_is_a_setting(tmp_path):
    app = create_app(
        {"DATABASE": str(tmp_path / "p.db"), "ORDERS": 5, "DEFAULT_LANG": "zh-CN", "TESTING": True}
    )
    assert '<html lang="zh-CN">' in app.test_client().get("/ap/signin").text


def test_footer_switch_keeps_the_page_and_its_query(en):
    page = en.get(f"/orders-v3/search?q={FLAGGED}&qt=orderid").text
    link = html.unescape(re.search(r'href="([^"]+)"[^>]*data-testid="lang-zh-CN"', page).group(1))
    assert link == f"/orders-v3/search?q={FLAGGED}&qt=orderid&lang=zh-CN"


def test_the_footers_label_ends_with_its_languages_colon(en, zh):
    switch = r'data-testid="lang-switch">\s*([^<]*?)\s*<a'
    assert re.search(switch, en.get("/home").text).group(1) == "Language:"
    assert re.search(switch, zh.get("/home").text).group(1) == "语言："


SIGNIN_LABELS = {
    "en": ["Email", "Continue", "Sign in"],
    "zh-CN": ["电子邮箱", "继续", "登录"],
}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_signin_pages_and_messages(app, lang):
    client = app.test_client()
    page = client.get(f"/ap/signin?lang={lang}").text
    for label in SIGNIN_LABELS[lang]:
        assert label in page
    token = csrf_of(page)
    unknown = client.post("/ap/signin", data={"csrf_token": token, "email": "x@example.com"})
    assert translate("signin_unknown_email", lang) in unknown.text
    step = client.post("/ap/signin", data={"csrf_token": token, "email": EMAIL})
    assert f'<label for="ap_password">{translate("signin_password", lang)}</label>' in step.text
    assert translate("signin_remember", lang) in step.text
    wrong = client.post(
        "/ap/signin", data={"csrf_token": token, "email": EMAIL, "password": "wrong"}
    )
    assert translate("signin_wrong_password", lang) in wrong.text
    client.post(
        "/ap/signin", data={"csrf_token": token, "email": EMAIL, "password": "demo-password"}
    )
    mfa = client.get("/ap/mfa").text
    assert f'<label for="auth-mfa-otpcode">{translate("mfa_code", lang)}</label>' in mfa
    assert str(escape(translate("mfa_remember", lang))) in mfa
    bad = client.post("/ap/mfa", data={"csrf_token": token, "otp": "abcdef"})
    assert translate("signin_wrong_code", lang) in bad.text


# page -> keys whose text must appear on it
PAGES = {
    "/home": ["nav_orders", "nav_performance", "nav_manage_orders", "nav_messages", "nav_mail"],
    "/orders-v3/?tab=unshipped": [
        "tab_pending",
        "tab_unshipped",
        "tab_canceled",
        "tab_shipped",
        "tab_all",
        "search_by",
        "search_submit",
        "confirm_shipment",
        "print_packing_slip",
        "cancel_order",
        "col_action",
    ],
    f"/orders-v3/search?q={FLAGGED}&qt=orderid": ["cancel_requested_badge", "buyer_request_banner"],
    "/orders-v3/search?q=nothing-like-this&qt=sku": ["no_results"],
    f"/orders-v3/order/{FLAGGED}": [
        "history",
        "buyer_email",
        "ship_by",
        "deliver_by",
        "event_ordered",
    ],
    f"/orders-v3/order/{FLAGGED}/cancel": [
        "cancel_title",
        "cancel_qty",
        "cancel_scope_order",
        "cancel_scope_items",
        "cancel_reason_label",
        "cancel_reason_placeholder",
        "cancel_memo",
        "cancel_submit",
        "reason_BuyerCanceled",
    ],
    f"/orders-v3/order/{PENDING}/cancel": ["not_cancellable"],
    "/performance/account/health": ["ocr_title", "ocr_target"],
    "/messaging/inbox": ["messages_title"],
    "/mail": ["mail_title", "mail_subject"],
    f"/orders-v3/order/{FLAGGED}/packing-slip": ["packing_slip_title"],
}


@pytest.mark.parametrize("url", list(PAGES))
def test_every_page_in_both_languages(en, zh, url):
    for client, lang in ((en, "en"), (zh, "zh-CN")):
        response = client.get(url)
        assert response.status_code == 200
        assert f'<html lang="{lang}">' in response.text
        for key in PAGES[url]:
            assert str(escape(translate(key, lang))) in response.text, (lang, key)
    chinese = zh.get(url).text
    for key in ("nav_manage_orders", "nav_account_health", "nav_signout"):
        assert translate(key, "en") not in chinese


def test_refusal_pages_in_chinese(zh, app):
    missing = zh.get("/orders-v3/order/999-9999999-9999999")
    assert missing.status_code == 404 and "未找到订单" in missing.text
    refused = zh.post(f"/orders-v3/order/{FLAGGED}/cancel", data={"csrf_token": "stale"})
    assert refused.status_code == 400 and translate("csrf_title", "zh-CN") in refused.text
    anonymous = app.test_client()
    mailbox = anonymous.get("/mailbox/nobody@example.com?lang=zh-CN")
    assert "nobody@example.com 的邮箱" in mailbox.text


def test_cancel_in_chinese_keeps_the_codes_and_confirms_in_chinese(zh, app):
    oid = seed.order_id(1, seed.CASES["message_request_2"])
    page = zh.get(f"/orders-v3/order/{oid}/cancel").text
    options = re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', page)
    assert options == [(code, labels["zh-CN"]) for code, labels in REASONS.items()]
    form = {
        "csrf_token": csrf_of(page),
        "submit_token": re.search(r'name="submit_token" value="([^"]+)"', page).group(1),
    }
    missing = zh.post(f"/orders-v3/order/{oid}/cancel", data=form)
    assert 'data-testid="form-error">请选择取消原因。<' in missing.text
    done = zh.post(f"/orders-v3/order/{oid}/cancel", data=form | {"reason": "BuyerCanceled"})
    assert done.status_code == 303
    shown = zh.get(done.location).text
    assert f'data-testid="cancel-confirmation">订单 {oid} 已取消。<' in shown
    assert (
        f'data-testid="already-cancelled">订单 {oid} 已被取消。<'
        in zh.get(f"/orders-v3/order/{oid}/cancel").text
    )
