"""A person's walk through the portal in a real Chromium, once in English and once in Chinese:
sign-in with a TOTP code, Manage Orders, search, Action > Cancel order, reason, submit, the
confirmation, both mailboxes and Account Health.

Pages come from pytest-playwright (`page`) and from seller-agent's own plugin (`seller_page`,
already signed in to the plugin's `mock_portal`), which also points pytest-playwright at the
Chromium seller-agent finds."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mock_portal.i18n import translate
from mock_portal.reasons import REASONS

pytestmark = pytest.mark.browser

EMAIL = "seller@example.com"


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: PORTAL_SCREENSHOTS to keep them for a look, else a temp dir."""
    folder = Path(os.environ.get("PORTAL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def t(key: str, lang: str, **params: str) -> str:
    return translate(key, lang, **params)


def exact(text: str) -> re.Pattern[str]:
    return re.compile(f"^{re.escape(text)}$")


def sign_in(page: Page, base: str, lang: str, account) -> None:
    page.goto(f"{base}/ap/signin?lang={lang}")
    page.get_by_label(t("signin_email", lang), exact=True).fill(account.email)
    page.get_by_role("button", name=exact(t("signin_continue", lang))).click()
    page.get_by_label(t("signin_password", lang), exact=True).fill(account.password)
    page.get_by_role("checkbox", name=t("signin_remember", lang)).check()
    page.get_by_role("button", name=exact(t("signin_submit", lang))).click()
    # A code is good for one sign-in only: the plugin hands out one not used before.
    page.get_by_label(t("mfa_code", lang), exact=True).fill(account.totp_code())
    page.get_by_role("button", name=exact(t("mfa_submit", lang))).click()
    expect(page.get_by_test_id("nav-account")).to_have_text(account.email)


def open_menu(page: Page, menu: str, link: str, lang: str) -> None:
    page.get_by_role("button", name=exact(t(menu, lang))).click()
    page.get_by_role("link", name=exact(t(link, lang))).click()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_seller_cancels_an_order_and_checks_mail_and_health(
    page: Page, portal, unshipped_orders, seller_credentials, shots, lang
):
    order_id = unshipped_orders(1)[0]
    buyer_email = portal.order(order_id)["buyer_email"]
    base = portal.url

    sign_in(page, base, lang, seller_credentials)
    expect(page.locator("html")).to_have_attribute("lang", lang)

    open_menu(page, "nav_orders", "nav_manage_orders", lang)
    expect(page.get_by_role("heading", name=t("orders_title", lang))).to_be_visible()
    expect(page.get_by_test_id("order-row").first).to_be_visible()
    page.screenshot(path=str(shots / f"manage-orders-{lang}.png"), full_page=False)

    page.get_by_label(t("search_by", lang)).select_option("orderid")
    page.get_by_label(t("search_orders", lang)).fill(order_id)
    page.get_by_role("button", name=exact(t("search_submit", lang))).click()
    row = page.locator(f'tr[data-testid=order-row][data-order-id="{order_id}"]')
    expect(row).to_have_count(1)
    expect(page.get_by_test_id("order-row")).to_have_count(1)

    row.get_by_role("button", name=exact(t("cancel_order", lang))).click()
    expect(page.get_by_role("heading", name=t("cancel_title", lang))).to_be_visible()
    expect(page.get_by_test_id("order-id")).to_have_text(order_id)
    reason = page.get_by_label(t("cancel_reason_label", lang))
    reason.select_option(label=REASONS["NoInventory"][lang])
    page.get_by_label(t("cancel_memo", lang)).fill("browser walk")
    page.screenshot(path=str(shots / f"cancel-order-{lang}.png"), full_page=True)
    page.get_by_role("button", name=exact(t("cancel_submit", lang))).click()

    confirmation = page.get_by_test_id("cancel-confirmation")
    expect(confirmation).to_have_text(t("cancel_confirmation", lang, order_id=order_id))
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "Canceled")
    record = portal.order(order_id)
    assert (record["status"], record["cancel_reason"], record["cancel_events"]) == (
        "Canceled",
        "NoInventory",
        1,
    )

    page.get_by_role("link", name=exact(t("nav_mail", lang))).click()
    seller_mail = page.locator(
        f'[data-testid=mail-row][data-order-id="{order_id}"][data-kind=cancellation]'
    )
    expect(seller_mail).to_have_count(1)
    seller_mail.get_by_test_id("mail-open").click()
    expect(page.get_by_test_id("mail-body")).to_contain_text(order_id)

    page.goto(f"{base}/mailbox/{buyer_email}")
    buyer_mail = page.locator(f'[data-testid=mail-row][data-order-id="{order_id}"]')
    expect(buyer_mail).to_have_count(1)
    buyer_mail.get_by_test_id("mail-open").click()
    expect(page.get_by_test_id("mail-to")).to_have_text(buyer_email)
    expect(page.get_by_test_id("mail-body")).to_contain_text(order_id)

    page.goto(f"{base}/home")
    open_menu(page, "nav_performance", "nav_account_health", lang)
    expect(page.get_by_test_id("ocr-target")).to_have_text("2.5%")
    rate = portal.api_get(f"/mock/api/metrics?seller={EMAIL}")["rate"]
    value = float(page.get_by_test_id("ocr-value").get_attribute("data-rate"))
    assert value == pytest.approx(rate)
    counted = page.locator(f'[data-testid=ocr-order-row][data-order-id="{order_id}"]')
    expect(counted).to_have_count(1)
    expect(page.get_by_test_id("ocr-status")).to_have_text(
        t("ocr_at_risk" if value >= 0.025 else "ocr_good", lang)
    )


def test_double_clicking_submit_cancels_once(seller_page: Page, mock_portal):
    # The plugin's portal serves no other test of this suite: any plain Unshipped order will do.
    order_id = next(
        order["order_id"]
        for order in mock_portal.orders(status="Unshipped")
        if order["buyer_request_kind"] is None
    )
    seller_page.goto(f"/orders-v3/order/{order_id}/cancel")
    seller_page.get_by_label("Reason for cancellation").select_option("PricingError")
    seller_page.get_by_test_id("cancel-submit").dblclick()
    expect(seller_page.get_by_test_id("cancel-confirmation")).to_be_visible()
    assert mock_portal.order(order_id)["cancel_events"] == 1
    assert len(mock_portal.mail(order_id=order_id)) == 2  # one to the seller, one to the buyer


def test_menus_open_on_click_and_close_on_escape(seller_page: Page):
    page = seller_page
    page.goto("/home")
    link = page.get_by_test_id("nav-manage-orders")
    expect(link).to_be_hidden()
    page.get_by_test_id("nav-orders").click()
    expect(link).to_be_visible()
    expect(page.get_by_test_id("nav-orders")).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(link).to_be_hidden()
    page.get_by_test_id("nav-performance").click()
    page.locator("h1").click()
    expect(page.get_by_test_id("nav-account-health")).to_be_hidden()
