"""A flow of our own (flows/order_status.yaml, recorded with `seller-agent record`), played
against the portal in English and in Chinese."""

import pytest

FLOW = "flows/order_status.yaml"  # found beside this file, whatever folder pytest runs from


def test_reads_an_orders_status(run_flow, mock_portal):
    order = mock_portal.orders(status="Shipped")[0]

    result = run_flow(FLOW, order_id=order["order_id"])

    assert result.ok and result.outcome == "shown"
    assert result.values["status"] == "Shipped"


def test_an_unknown_order_is_not_found(run_flow):
    result = run_flow(FLOW, order_id="112-9999999-9999999")

    assert result.outcome == "not_found" and not result.ok


@pytest.mark.portal(lang="zh-CN")
def test_the_flow_works_on_the_chinese_portal(run_flow, mock_portal, seller_page):
    order = mock_portal.orders(status="Unshipped")[0]

    result = run_flow(FLOW, order_id=order["order_id"])

    assert result.values["status"] == "Unshipped"
    seller_page.goto(f"/orders-v3/order/{order['order_id']}")
    assert seller_page.locator("html").get_attribute("lang") == "zh-CN"
