"""The portal's pages in a signed-in browser (pytest-playwright's page, signed in)."""

import re

import pytest
from playwright.sync_api import expect


def test_manage_orders_lists_the_demo_orders(seller_page, seller_credentials):
    seller_page.goto("/orders-v3/")

    expect(seller_page.get_by_test_id("nav-account")).to_have_text(seller_credentials.email)
    expect(seller_page.get_by_test_id("order-row").first).to_be_visible()


def test_a_flagged_order_shows_the_buyers_request(seller_page, mock_portal):
    order = next(o for o in mock_portal.orders(status="Unshipped") if o["buyer_requested"])

    seller_page.goto(f"/orders-v3/order/{order['order_id']}")

    expect(seller_page.get_by_test_id("buyer-request-banner")).to_contain_text(
        "will not affect your cancellation rate"
    )


@pytest.mark.portal(lang="zh-CN")
def test_cancelling_by_hand_in_chinese(seller_page, mock_portal):
    order_id = next(
        o["order_id"]
        for o in mock_portal.orders(status="Unshipped")
        if o["buyer_request_kind"] is None
    )

    seller_page.goto(f"/orders-v3/order/{order_id}/cancel")
    seller_page.get_by_label("取消原因").select_option("PricingError")
    seller_page.get_by_role("button", name=re.compile("^提交$")).click()

    expect(seller_page.get_by_test_id("cancel-confirmation")).to_contain_text(order_id)
    assert mock_portal.order(order_id)["cancel_reason"] == "PricingError"


def test_signing_in_by_hand(page, mock_portal, seller_credentials):
    # pytest-playwright's own page is not signed in; this is how a person does it.
    page.goto(f"{mock_portal.url}/ap/signin")
    page.get_by_label("Email", exact=True).fill(seller_credentials.email)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password", exact=True).fill(seller_credentials.password)
    page.get_by_role("button", name=re.compile("^Sign in$")).click()
    page.get_by_label("Enter OTP", exact=True).fill(seller_credentials.totp_code())
    page.get_by_role("button", name=re.compile("^Sign in$")).click()

    expect(page.get_by_test_id("nav-account")).to_have_text(seller_credentials.email)
