"""The order state machine and cancellation rules, as plain functions on a seeded database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mock_portal import clock, mail, messaging, orders, seed

CASES = seed.case_ids(1, 60)
DEMO = "seller@example.com"


def seller(conn, email=DEMO) -> int:
    return orders.seller_id_for(conn, email)


def plain_unshipped(conn, count=1) -> list[str]:
    """Unshipped orders without a buyer request and with one item."""
    rows = conn.execute(
        "SELECT o.id FROM orders o WHERE o.status = 'Unshipped' AND o.buyer_request_kind IS NULL "
        "AND o.seller_id = ? AND (SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id) = 1 "
        "ORDER BY o.id DESC LIMIT ?",
        (seller(conn), count),
    ).fetchall()
    assert len(rows) == count
    return [row["id"] for row in rows]


def events(conn, order_id, event="cancelled") -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM order_history WHERE order_id = ? AND event = ?", (order_id, event)
    ).fetchone()[0]


def test_seller_cancels_an_unshipped_order(domain_conn):
    oid = plain_unshipped(domain_conn)[0]
    result = orders.cancel_order(
        domain_conn, seller_id=seller(domain_conn), order_id=oid, reason="NoInventory", memo="out"
    )
    assert result.outcome == "cancelled"
    order = orders.get_order(domain_conn, seller(domain_conn), oid)
    assert order["status"] == "Canceled"
    assert order["cancel_reason"] == "NoInventory"
    assert order["cancelled_by"] == "seller"
    assert order["counts_toward_rate"] is True
    assert order["cancel_events"] == 1
    assert order["seller_memo"] == "out"
    assert order["cancellable"] is False
    assert order["items"][0]["quantity_cancelled"] == order["items"][0]["quantity"]
    assert order["history"][-1]["event"] == "cancelled"
    sent = mail.list_mail(domain_conn, order_id=oid)
    assert sorted(m["to"] for m in sent) == sorted([DEMO, order["buyer_email"]])
    assert {m["kind"] for m in sent} == {"cancellation"}
    seller_copy = next(m for m in sent if m["to"] == DEMO)
    assert oid in seller_copy["body"]
    assert order["items"][0]["sku"] in seller_copy["body"]
    assert "No Inventory" in seller_copy["body"]
    assert "counts toward your Order Cancellation Rate" in seller_copy["body"]
    assert "does not count" not in seller_copy["body"]
    buyer_copy = next(m for m in sent if m["to"] == order["buyer_email"])
    assert oid in buyer_copy["subject"] and "No Inventory" in buyer_copy["body"]


@pytest.mark.parametrize(
    ("case", "reason", "counts"),
    [
        ("flagged", "BuyerCanceled", False),
        ("flagged_2", "NoInventory", True),
        ("message_request", "BuyerCanceled", True),
    ],
)
def test_what_counts_toward_the_rate(domain_conn, case, reason, counts):
    oid = CASES[case]
    result = orders.cancel_order(
        domain_conn, seller_id=seller(domain_conn), order_id=oid, reason=reason
    )
    assert result.outcome == "cancelled"
    assert result.order["counts_toward_rate"] is counts
    seller_copy = mail.list_mail(domain_conn, to=DEMO, order_id=oid, kind="cancellation")[0]
    expected = "does not count toward" if not counts else "This cancellation counts toward"
    assert expected in seller_copy["body"]


@pytest.mark.parametrize(
    ("case", "outcome"),
    [
        ("pending", "not_cancellable"),
        ("shipped", "not_cancellable"),
        ("cancelled_counted", "already_cancelled"),
    ],
)
def test_only_unshipped_orders_can_be_cancelled(domain_conn, case, outcome):
    oid = CASES[case]
    before = orders.get_order(domain_conn, seller(domain_conn), oid)
    mails_before = len(mail.list_mail(domain_conn))
    result = orders.cancel_order(
        domain_conn, seller_id=seller(domain_conn), order_id=oid, reason="NoInventory"
    )
    assert result.outcome == outcome
    assert orders.get_order(domain_conn, seller(domain_conn), oid) == before
    assert len(mail.list_mail(domain_conn)) == mails_before


def test_another_sellers_order_is_not_found_and_untouched(domain_conn):
    other = seed.order_id(1, 1, prefix="114")
    result = orders.cancel_order(
        domain_conn, seller_id=seller(domain_conn), order_id=other, reason="NoInventory"
    )
    assert result.outcome == "not_found" and result.order is None
    assert orders.get_order(domain_conn, None, other)["status"] == "Unshipped"
    assert orders.get_order(domain_conn, seller(domain_conn), other) is None
    missing = orders.cancel_order(
        domain_conn, seller_id=seller(domain_conn), order_id="999-9999999-9999999", reason="X"
    )
    assert missing.outcome == "not_found"


@pytest.mark.parametrize("reason", ["", "Whatever", "buyer canceled"])
def test_invalid_reason_changes_nothing(domain_conn, reason):
    oid = plain_unshipped(domain_conn)[0]
    result = orders.cancel_order(
        domain_conn, seller_id=seller(domain_conn), order_id=oid, reason=reason
    )
    assert result.outcome == "invalid_reason"
    assert result.order["status"] == "Unshipped"
    assert mail.list_mail(domain_conn, order_id=oid) == []


def test_cancel_some_items_then_the_rest(domain_conn):
    oid = CASES["multi_item"]
    sid = seller(domain_conn)
    order = orders.get_order(domain_conn, sid, oid)
    first, second, third = order["items"]
    assert second["quantity"] == 2
    result = orders.cancel_order(
        domain_conn,
        seller_id=sid,
        order_id=oid,
        reason="NoInventory",
        items={second["id"]: 1},
    )
    assert result.outcome == "items_cancelled"
    assert result.order["status"] == "Unshipped"
    assert result.order["cancel_events"] == 0
    assert [i["quantity_cancelled"] for i in result.order["items"]] == [0, 1, 0]
    assert result.order["counts_toward_rate"] is True
    assert events(domain_conn, oid, "items_cancelled") == 1
    assert len(mail.list_mail(domain_conn, order_id=oid)) == 2
    rest = {first["id"]: 1, second["id"]: 1, third["id"]: third["quantity"]}
    final = orders.cancel_order(
        domain_conn, seller_id=sid, order_id=oid, reason="NoInventory", items=rest
    )
    assert final.outcome == "cancelled"
    assert final.order["status"] == "Canceled"
    assert final.order["cancel_events"] == 1
    assert len(mail.list_mail(domain_conn, order_id=oid)) == 4


@pytest.mark.parametrize(
    "items",
    [
        {},
        "zero",
        "too_many",
        "unknown",
        "negative",
        {"x": 1},
    ],
)
def test_invalid_items_change_nothing(domain_conn, items):
    oid = CASES["multi_item"]
    sid = seller(domain_conn)
    first = orders.get_order(domain_conn, sid, oid)["items"][0]
    chosen = (
        {
            "zero": {first["id"]: 0},
            "too_many": {first["id"]: first["quantity"] + 1},
            "unknown": {987654: 1},
            "negative": {first["id"]: -1},
        }.get(items, items)
        if isinstance(items, str)
        else items
    )
    result = orders.cancel_order(
        domain_conn, seller_id=sid, order_id=oid, reason="NoInventory", items=chosen
    )
    assert result.outcome == "invalid_items"
    assert all(i["quantity_cancelled"] == 0 for i in result.order["items"])
    assert mail.list_mail(domain_conn, order_id=oid) == []


def test_repeated_submit_token_cancels_once_and_mails_once(domain_conn):
    oid = plain_unshipped(domain_conn)[0]
    sid = seller(domain_conn)
    outcomes = [
        orders.cancel_order(
            domain_conn, seller_id=sid, order_id=oid, reason="PricingError", submit_token="tok-1"
        ).outcome
        for _ in range(3)
    ]
    assert outcomes == ["cancelled"] * 3
    assert events(domain_conn, oid) == 1
    assert orders.get_order(domain_conn, sid, oid)["cancel_events"] == 1
    assert len(mail.list_mail(domain_conn, order_id=oid)) == 2
    another_form = orders.cancel_order(
        domain_conn, seller_id=sid, order_id=oid, reason="PricingError", submit_token="tok-2"
    )
    assert another_form.outcome == "already_cancelled"


def test_submit_rechecks_an_order_shipped_meanwhile(domain_conn):
    oid = plain_unshipped(domain_conn)[0]
    sid = seller(domain_conn)
    assert orders.confirm_shipment(domain_conn, seller_id=sid, order_id=oid) == "shipped"
    result = orders.cancel_order(domain_conn, seller_id=sid, order_id=oid, reason="NoInventory")
    assert result.outcome == "not_cancellable"
    assert result.order["status"] == "Shipped"


def test_confirm_shipment_outcomes(domain_conn):
    sid = seller(domain_conn)
    oid = plain_unshipped(domain_conn)[0]
    assert orders.confirm_shipment(domain_conn, seller_id=sid, order_id=oid) == "shipped"
    assert orders.get_order(domain_conn, sid, oid)["history"][-1]["event"] == "shipped"
    assert orders.confirm_shipment(domain_conn, seller_id=sid, order_id=oid) == "not_shippable"
    assert (
        orders.confirm_shipment(domain_conn, seller_id=sid, order_id=CASES["pending"])
        == "not_shippable"
    )
    other = seed.order_id(1, 1, prefix="114")
    assert orders.confirm_shipment(domain_conn, seller_id=sid, order_id=other) == "not_found"


def test_official_buyer_request_flags_and_emails_the_seller(domain_conn):
    oid = plain_unshipped(domain_conn)[0]
    assert (
        orders.request_cancellation(domain_conn, order_id=oid, kind="official", reason="Too late")
        == "requested"
    )
    order = orders.get_order(domain_conn, None, oid)
    assert order["buyer_requested"] is True
    assert order["buyer_request_kind"] == "official"
    assert order["buyer_request_reason"] == "Too late"
    request_mail = mail.list_mail(domain_conn, order_id=oid, kind="buyer-request")
    assert [m["to"] for m in request_mail] == [DEMO]
    assert request_mail[0]["subject"] == (
        f"Order cancellation request from Amazon customer {order['buyer_name']} (Order: {oid})"
    )
    assert "Too late" in request_mail[0]["body"]
    assert orders.request_cancellation(domain_conn, order_id=oid) == "already_requested"
    assert len(mail.list_mail(domain_conn, order_id=oid)) == 1


def test_message_only_request_does_not_flag(domain_conn):
    oid = plain_unshipped(domain_conn)[0]
    sid = seller(domain_conn)
    outcome = orders.request_cancellation(
        domain_conn, order_id=oid, kind="message", reason="please cancel"
    )
    assert outcome == "message_sent"
    order = orders.get_order(domain_conn, sid, oid)
    assert order["buyer_requested"] is False
    assert order["buyer_request_kind"] == "message"
    assert messaging.list_messages(domain_conn, sid)[0]["order_id"] == oid
    assert mail.list_mail(domain_conn, order_id=oid) == []
    # An official request afterwards still flags the order.
    assert orders.request_cancellation(domain_conn, order_id=oid) == "requested"
    assert orders.get_order(domain_conn, sid, oid)["buyer_request_kind"] == "official"


def test_buyer_cancels_a_new_pending_order_itself(domain_conn):
    oid = CASES["pending_new"]
    assert orders.request_cancellation(domain_conn, order_id=oid, kind="cancel") == (
        "buyer_cancelled"
    )
    order = orders.get_order(domain_conn, None, oid)
    assert order["status"] == "Canceled"
    assert order["cancelled_by"] == "buyer"
    assert order["counts_toward_rate"] is False
    assert order["cancel_events"] == 1
    assert len(mail.list_mail(domain_conn, order_id=oid, kind="cancellation")) == 2


def test_buyer_window_closes_after_30_minutes(domain_conn):
    oid = CASES["pending_new"]  # placed 10 minutes before seeding
    purchased = clock.parse_iso(orders.get_order(domain_conn, None, oid)["purchase_date"])
    late = purchased + timedelta(minutes=30, seconds=1)
    assert (
        orders.request_cancellation(domain_conn, order_id=oid, kind="cancel", now=late)
        == "not_cancellable"
    )
    # An official request after the window flags the order instead of cancelling it.
    assert orders.request_cancellation(domain_conn, order_id=oid, now=late) == "requested"
    assert orders.get_order(domain_conn, None, oid)["status"] == "Pending"


def test_buyer_requests_on_closed_orders(domain_conn):
    assert orders.request_cancellation(domain_conn, order_id=CASES["shipped"]) == "not_cancellable"
    assert orders.request_cancellation(domain_conn, order_id="000-0000000-0000000") == "not_found"
    assert orders.request_cancellation(domain_conn, order_id=CASES["pending"], kind="x") == (
        "invalid_kind"
    )


def test_tabs_list_only_their_statuses_newest_first(domain_conn):
    sid = seller(domain_conn)
    counts = orders.tab_counts(domain_conn, sid)
    assert counts["all"] == 60
    assert sum(counts[tab] for tab in ("pending", "unshipped", "canceled", "shipped")) == 60
    for tab, statuses in orders.TAB_STATUSES.items():
        rows, total = orders.list_orders(domain_conn, sid, tab=tab, page_size=100)
        assert total == counts[tab] == len(rows)
        assert {row["status"] for row in rows} <= set(statuses)
        dates = [row["purchase_date"] for row in rows]
        assert dates == sorted(dates, reverse=True)


def test_pagination(domain_conn):
    sid = seller(domain_conn)
    page1, total = orders.list_orders(domain_conn, sid, page=1)
    page3, _ = orders.list_orders(domain_conn, sid, page=3)
    everything, _ = orders.list_orders(domain_conn, sid, page_size=1000)
    assert total == 60 and len(page1) == 25 and len(page3) == 10
    assert [r["order_id"] for r in page1 + page3] == [
        r["order_id"] for r in everything[:25] + everything[50:]
    ]


def test_search_kinds(domain_conn):
    sid = seller(domain_conn)
    oid = CASES["same_sku_1"]
    found, total = orders.list_orders(domain_conn, sid, q=f" {oid} ", qt="orderid")
    assert total == 1 and found[0]["order_id"] == oid
    assert orders.list_orders(domain_conn, sid, q=oid[:-1], qt="orderid")[1] == 0
    by_sku, _ = orders.list_orders(domain_conn, sid, q="twin-mug", qt="sku")
    assert {r["order_id"] for r in by_sku} == {CASES["same_sku_1"], CASES["same_sku_2"]}
    by_asin, _ = orders.list_orders(domain_conn, sid, q="b0twinmug", qt="asin")
    assert len(by_asin) == 2
    buyer = orders.get_order(domain_conn, sid, CASES["same_buyer_1"])["buyer_email"]
    by_buyer, _ = orders.list_orders(domain_conn, sid, q=buyer[:6].upper(), qt="buyer-email")
    assert {CASES["same_buyer_1"], CASES["same_buyer_2"]} <= {r["order_id"] for r in by_buyer}
    # Search ignores the tab; LIKE wildcards in the query are literal.
    assert orders.list_orders(domain_conn, sid, q=CASES["shipped"], tab="pending")[1] == 1
    assert orders.list_orders(domain_conn, sid, q="%", qt="sku")[1] == 0


def test_sellers_never_see_each_others_orders(domain_conn):
    second = seller(domain_conn, "seller2@example.com")
    rows, total = orders.list_orders(domain_conn, second, page_size=100)
    assert total == len(rows) == seed.SECOND_SELLER_ORDERS
    assert all(row["seller"] == "seller2@example.com" for row in rows)
    assert orders.list_orders(domain_conn, second, q=CASES["flagged"])[1] == 0


def test_record_has_the_fixed_api_fields(domain_conn):
    record = orders.get_order(domain_conn, None, CASES["flagged"])
    for name in (
        "order_id",
        "seller",
        "status",
        "buyer_email",
        "buyer_requested",
        "buyer_request_kind",
        "cancel_reason",
        "cancelled_by",
        "counts_toward_rate",
        "cancel_events",
        "ship_by",
    ):
        assert name in record
    assert record["seller"] == DEMO
    assert record["buyer_email"].endswith("@marketplace.example")
