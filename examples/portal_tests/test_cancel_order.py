"""Cancelling orders with seller-agent's bundled flow, checked through the portal's own
records: the order's state, the emails, and the Order Cancellation Rate."""

import pytest


def plain_unshipped(mock_portal, count=1):
    """Unshipped orders nobody asked to cancel, oldest first."""
    orders = [o for o in mock_portal.orders(status="Unshipped") if o["buyer_request_kind"] is None]
    return [o["order_id"] for o in reversed(orders)][:count]


def test_cancel_an_order_and_the_buyer_is_told(run_flow, mock_portal):
    (order_id,) = plain_unshipped(mock_portal)

    result = run_flow("cancel_order", order_id=order_id, reason="NoInventory")

    assert result.ok and result.outcome == "cancelled"
    order = mock_portal.order(order_id)
    assert order["status"] == "Canceled"
    assert order["cancel_reason"] == "NoInventory"
    assert order["cancelled_by"] == "seller"
    assert order["counts_toward_rate"] is True
    to_buyer = mock_portal.mail(to=order["buyer_email"], order_id=order_id)
    assert len(to_buyer) == 1 and order_id in to_buyer[0]["body"]


def test_running_the_flow_again_cancels_nothing_twice(run_flow, mock_portal):
    (order_id,) = plain_unshipped(mock_portal)
    assert run_flow("cancel_order", order_id=order_id).outcome == "cancelled"

    again = run_flow("cancel_order", order_id=order_id)

    assert again.ok and again.outcome == "already_cancelled"
    assert mock_portal.order(order_id)["cancel_events"] == 1


@pytest.mark.portal(orders=40)
def test_an_official_request_cancelled_as_buyer_canceled_does_not_count(run_flow, mock_portal):
    # A portal of this test's own: the rate below is not moved by other tests' cancellations.
    (order_id,) = plain_unshipped(mock_portal)
    mock_portal.buyer_request(order_id, "official", "Ordered the wrong size")
    rate_before = mock_portal.metrics()["rate"]

    result = run_flow("cancel_order", order_id=order_id, reason="BuyerCanceled")

    assert result.outcome == "cancelled"
    assert result.values["buyer_requested"] is True
    assert mock_portal.order(order_id)["counts_toward_rate"] is False
    assert mock_portal.metrics()["rate"] == rate_before


def test_an_order_that_shipped_cannot_be_cancelled(run_flow, mock_portal):
    (order_id,) = plain_unshipped(mock_portal)
    mock_portal.api_post(f"/mock/api/orders/{order_id}/ship")

    result = run_flow("cancel_order", order_id=order_id)

    assert not result.ok and result.outcome == "not_cancellable"
    assert mock_portal.order(order_id)["status"] == "Shipped"


def test_when_the_portal_fails_the_order_is_left_alone(run_flow, mock_portal):
    (order_id,) = plain_unshipped(mock_portal)
    # Every page under Manage Orders answers HTTP 500 (the plugin clears the faults after
    # the test, so later tests meet a healthy portal).
    mock_portal.faults(error_rate=1.0, paths=["/orders-v3/"])

    result = run_flow("cancel_order", order_id=order_id)

    assert not result.ok
    assert result.error_kind == "http_5xx" and result.transient
    assert result.evidence  # a screenshot and a trace, in this test's --output folder
    assert mock_portal.order(order_id)["status"] == "Unshipped"


@pytest.mark.portal(orders=30)
def test_an_order_left_unshipped_is_cancelled_by_the_marketplace(mock_portal):
    ship_soon = mock_portal.orders(status="Unshipped")

    moved = mock_portal.advance_clock("31d")

    assert moved["auto_cancelled"]
    assert set(moved["auto_cancelled"]) <= {o["order_id"] for o in ship_soon}
    order = mock_portal.order(moved["auto_cancelled"][0])
    assert (order["status"], order["cancelled_by"]) == ("Canceled", "marketplace")
