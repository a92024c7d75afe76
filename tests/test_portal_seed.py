"""Demo data: deterministic from the seed and order count, with every case PORTAL.md lists."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from werkzeug.security import check_password_hash

from mock_portal import clock, db, orders, seed, totp

ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")
RELAY = re.compile(r"^[a-z0-9]{15}@marketplace\.example$")


def make(tmp_path, name, **config):
    path = str(tmp_path / f"{name}.db")
    seed.init_db({"DATABASE": path, **config})
    return db.connect(path)


def content(conn):
    """Everything about the orders except times (which follow the clock at seeding)."""
    rows = conn.execute(
        "SELECT o.id, o.seller_id, o.status, o.buyer_name, o.buyer_email, o.buyer_request_kind, "
        "o.cancel_reason, o.cancelled_by, o.counts_toward_rate, "
        "group_concat(i.sku || 'x' || i.quantity, ',') AS items "
        "FROM orders o JOIN order_items i ON i.order_id = o.id GROUP BY o.id ORDER BY o.id"
    )
    return [tuple(row) for row in rows]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    conn = make(tmp_path_factory.mktemp("seed"), "default")
    yield conn
    conn.close()


def test_same_seed_same_data_and_another_seed_differs(tmp_path):
    first, again, other = (
        make(tmp_path, "a", SEED=5, ORDERS=80),
        make(tmp_path, "b", SEED=5, ORDERS=80),
        make(tmp_path, "c", SEED=6, ORDERS=80),
    )
    assert content(first) == content(again)
    assert content(first) != content(other)
    ids = [row[0] for row in content(first)]
    assert seed.order_id(5, 1) in ids and seed.order_id(5, 80) in ids
    assert seed.order_id(6, 1) in [row[0] for row in content(other)]


def test_default_is_200_orders_plus_the_second_sellers(seeded):
    demo = orders.seller_id_for(seeded, "seller@example.com")
    second = orders.seller_id_for(seeded, "seller2@example.com")
    assert orders.tab_counts(seeded, demo)["all"] == 200
    assert orders.tab_counts(seeded, second)["all"] == seed.SECOND_SELLER_ORDERS
    ids = [row["id"] for row in seeded.execute("SELECT id FROM orders")]
    assert all(ORDER_ID.match(oid) for oid in ids)
    emails = [row["buyer_email"] for row in seeded.execute("SELECT buyer_email FROM orders")]
    assert all(RELAY.match(email) for email in emails)


def test_every_status_occurs(seeded):
    statuses = {row[0] for row in seeded.execute("SELECT DISTINCT status FROM orders")}
    assert {"Pending", "Unshipped", "Shipped", "Canceled"} <= statuses


def test_accounts_with_hashed_passwords_and_their_own_totp(seeded):
    rows = {
        row["email"]: row
        for row in seeded.execute("SELECT email, password_hash, totp_secret FROM sellers")
    }
    assert check_password_hash(rows["seller@example.com"]["password_hash"], "demo-password")
    assert check_password_hash(rows["seller2@example.com"]["password_hash"], "demo-password-2")
    assert "demo-password" not in rows["seller@example.com"]["password_hash"]
    assert rows["seller@example.com"]["totp_secret"] == "JBSWY3DPEHPK3PXP"
    second_secret = rows["seller2@example.com"]["totp_secret"]
    assert second_secret != "JBSWY3DPEHPK3PXP"
    assert len(totp.totp(second_secret)) == 6


def test_demo_credentials_are_overridable(tmp_path):
    conn = make(
        tmp_path,
        "custom",
        ORDERS=3,
        DEMO_EMAIL="ops@shop.example",
        DEMO_PASSWORD="s3cret-pass",
        DEMO_TOTP_SECRET="KRUGKIDROVUWG2ZA",
    )
    row = conn.execute("SELECT * FROM sellers WHERE email = 'ops@shop.example'").fetchone()
    assert check_password_hash(row["password_hash"], "s3cret-pass")
    assert row["totp_secret"] == "KRUGKIDROVUWG2ZA"


def test_the_listed_cases(seeded):
    cases = seed.case_ids(1, 200)
    get = {name: orders.get_order(seeded, None, oid) for name, oid in cases.items()}
    assert get["flagged"]["buyer_request_kind"] == "official"
    assert get["flagged"]["buyer_requested"] is True
    assert get["flagged"]["status"] == "Unshipped"
    assert get["message_request"]["buyer_request_kind"] == "message"
    assert get["message_request"]["buyer_requested"] is False
    assert get["same_buyer_1"]["buyer_email"] == get["same_buyer_2"]["buyer_email"]
    same_buyer = seeded.execute(
        "SELECT COUNT(*) FROM orders WHERE buyer_email = ?", (get["same_buyer_1"]["buyer_email"],)
    ).fetchone()[0]
    assert same_buyer == 2
    sku_orders = seeded.execute(
        "SELECT COUNT(DISTINCT order_id) FROM order_items WHERE sku = ?", (seed.SHARED_SKU,)
    ).fetchone()[0]
    assert sku_orders == 2
    assert len(get["multi_item"]["items"]) == 3
    assert max(item["quantity"] for item in get["multi_item"]["items"]) == 2
    assert get["pending_new"]["status"] == "Pending"
    assert get["shipped"]["status"] == "Shipped"
    assert get["cancelled_counted"]["counts_toward_rate"] is True
    assert get["cancelled_by_buyer"]["cancelled_by"] == "buyer"
    assert get["cancelled_requested"]["counts_toward_rate"] is False
    assert get["cancelled_requested"]["buyer_request_kind"] == "official"
    multi = seeded.execute(
        "SELECT COUNT(*) FROM (SELECT order_id FROM order_items GROUP BY order_id "
        "HAVING COUNT(*) > 1)"
    ).fetchone()[0]
    assert multi > 3


def test_flagged_orders_already_mailed_the_seller(seeded):
    oid = seed.case_ids(1, 200)["flagged"]
    subjects = [
        row["subject"]
        for row in seeded.execute("SELECT subject FROM mail WHERE order_id = ?", (oid,))
    ]
    assert len(subjects) == 1 and subjects[0].startswith("Order cancellation request from")


def test_message_requests_are_in_the_inbox(seeded):
    oid = seed.case_ids(1, 200)["message_request"]
    assert seeded.execute("SELECT COUNT(*) FROM messages WHERE order_id = ?", (oid,)).fetchone()[0]


@pytest.mark.parametrize("preset", ["seed-30d", "amazon-7bd"])
def test_one_order_is_an_hour_before_its_deadline(tmp_path, preset):
    conn = make(tmp_path, preset, ORDERS=20, AUTO_CANCEL=preset)
    oid = seed.case_ids(1, 20)["near_auto_cancel"]
    order = orders.get_order(conn, None, oid)
    deadline = clock.auto_cancel_deadline(clock.parse_iso(order["ship_by"]), preset)
    left = deadline - clock.now(conn)
    if deadline.weekday() == 0 and preset == "amazon-7bd" and left > timedelta(hours=2):
        # The business-day rule cannot end on a weekend: the deadline moves to Monday.
        assert left < timedelta(days=3)
    else:
        assert timedelta(minutes=55) < left <= timedelta(hours=1)
    # Nothing else is due before it.
    due = orders.sweep(conn, now=deadline - timedelta(seconds=1))
    assert due["auto_cancelled"] == []


def test_small_order_counts_keep_the_first_cases(tmp_path):
    conn = make(tmp_path, "small", ORDERS=5)
    assert seed.case_ids(1, 5) == {
        name: seed.order_id(1, n) for name, n in seed.CASES.items() if n <= 5
    }
    demo = orders.seller_id_for(conn, "seller@example.com")
    assert orders.tab_counts(conn, demo)["all"] == 5
    assert orders.get_order(conn, None, seed.order_id(1, 1))["buyer_requested"] is True
