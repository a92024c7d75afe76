"""Order Cancellation Rate: the formula, the 7-day window, and what counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mock_portal import clock, db, metrics, orders, seed

NOW = clock.parse_iso("2026-11-26T12:00:00Z")


@pytest.fixture
def empty_conn(tmp_path):
    """A portal whose demo seller has no orders: every order in a test is placed by it."""
    path = str(tmp_path / "metrics.db")
    seed.init_db({"DATABASE": path, "ORDERS": 0})
    conn = db.connect(path)
    yield conn
    conn.close()


def place(conn, number, *, age, status="Unshipped", kind=None, seller="seller@example.com"):
    oid = f"200-0000000-{number:07d}"
    purchased = NOW - age
    conn.execute(
        "INSERT INTO orders(id, seller_id, status, purchase_date, ship_by, deliver_by, "
        "buyer_name, buyer_email, buyer_request_kind) VALUES (?, ?, ?, ?, ?, ?, 'B', ?, ?)",
        (
            oid,
            orders.seller_id_for(conn, seller),
            status,
            clock.iso(purchased),
            clock.iso(purchased + timedelta(days=2)),
            clock.iso(purchased + timedelta(days=7)),
            f"b{number}@marketplace.example",
            kind,
        ),
    )
    conn.execute(
        "INSERT INTO order_items(order_id, asin, sku, title, quantity, price) "
        "VALUES (?, 'B000000001', 'SKU-1', 'Thing', 1, '1.00')",
        (oid,),
    )
    return oid


def demo(conn):
    return orders.seller_id_for(conn, "seller@example.com")


def cancel(conn, oid, reason, when=NOW):
    result = orders.cancel_order(conn, seller_id=demo(conn), order_id=oid, reason=reason, now=when)
    assert result.outcome == "cancelled"


def test_no_orders_is_a_zero_rate(empty_conn):
    result = metrics.cancellation_rate(empty_conn, demo(empty_conn), now=NOW)
    assert result["rate"] == 0.0 and result["total"] == 0 and result["cancelled"] == 0
    assert result["target"] == 0.025 and result["window_days"] == 7


def test_rate_is_counted_over_orders_of_the_last_seven_days(empty_conn):
    ids = [place(empty_conn, n, age=timedelta(days=n % 6, hours=1)) for n in range(1, 41)]
    place(empty_conn, 100, age=timedelta(days=8))  # outside the window
    place(empty_conn, 101, age=timedelta(hours=1), status="Pending")  # not an order yet
    place(empty_conn, 102, age=timedelta(hours=1), seller="seller2@example.com")
    cancel(empty_conn, ids[0], "NoInventory")
    result = metrics.cancellation_rate(empty_conn, demo(empty_conn), now=NOW)
    assert (result["cancelled"], result["total"]) == (1, 40)
    assert result["rate"] == pytest.approx(1 / 40)
    # Exactly 2.5% is not under the target.
    assert result["status"] == "at_risk"
    assert result["orders"] == [
        {
            "order_id": ids[0],
            "cancel_reason": "NoInventory",
            "cancelled_by": "seller",
            "cancelled_at": clock.iso(NOW),
        }
    ]


def test_what_counts(empty_conn):
    flagged = place(empty_conn, 1, age=timedelta(hours=5), kind="official")
    flagged_other_reason = place(empty_conn, 2, age=timedelta(hours=5), kind="official")
    message_only = place(empty_conn, 3, age=timedelta(hours=5), kind="message")
    plain = place(empty_conn, 4, age=timedelta(hours=5))
    pending = place(empty_conn, 5, age=timedelta(minutes=5), status="Pending")
    for n in range(6, 20):
        place(empty_conn, n, age=timedelta(hours=n))
    cancel(empty_conn, flagged, "BuyerCanceled")
    cancel(empty_conn, flagged_other_reason, "GeneralAdjustment")
    cancel(empty_conn, message_only, "BuyerCanceled")
    cancel(empty_conn, plain, "PricingError")
    assert (
        orders.request_cancellation(empty_conn, order_id=pending, kind="cancel", now=NOW)
        == "buyer_cancelled"
    )
    result = metrics.cancellation_rate(empty_conn, demo(empty_conn), now=NOW)
    counted = {row["order_id"] for row in result["orders"]}
    assert counted == {flagged_other_reason, message_only, plain}
    # The buyer-cancelled Pending order is now an order placed in the window: 19 in all.
    assert result["total"] == 19
    assert result["rate"] == pytest.approx(3 / 19)


def test_auto_cancellation_counts_and_old_orders_join_the_total(empty_conn):
    for n in range(1, 10):
        place(empty_conn, n, age=timedelta(hours=n))
    old = place(empty_conn, 50, age=timedelta(days=40))
    swept = orders.sweep(empty_conn, now=NOW)
    assert swept["auto_cancelled"] == [old]
    result = metrics.cancellation_rate(empty_conn, demo(empty_conn), now=NOW)
    assert (result["cancelled"], result["total"]) == (1, 10)
    assert result["orders"][0]["cancelled_by"] == "marketplace"


def test_cancellations_leave_the_window_after_seven_days(empty_conn):
    ids = [place(empty_conn, n, age=timedelta(hours=n)) for n in range(1, 11)]
    cancel(empty_conn, ids[0], "NoInventory")
    later = NOW + timedelta(days=7)
    result = metrics.cancellation_rate(empty_conn, demo(empty_conn), now=later)
    assert result["cancelled"] == 0
    still = metrics.cancellation_rate(
        empty_conn, demo(empty_conn), now=later - timedelta(seconds=1)
    )
    assert still["cancelled"] == 1


def test_seeded_demo_starts_under_target(domain_conn):
    result = metrics.cancellation_rate(domain_conn, demo(domain_conn))
    assert result["cancelled"] == 1
    assert 0 < result["rate"] < result["target"]
    assert result["status"] == "good"
