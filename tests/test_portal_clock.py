"""The portal clock, durations, auto-cancel deadlines in both presets, and the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mock_portal import clock, db, mail, metrics, orders, seed

CASES = seed.case_ids(1, 60)


def at(text: str) -> datetime:
    return clock.parse_iso(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31d", timedelta(days=31)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        ("1d12h", timedelta(days=1, hours=12)),
        (" 2H ", timedelta(hours=2)),
        ("7bd", clock.BusinessDays(7)),
    ],
)
def test_parse_duration(text, expected):
    assert clock.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "31", "d", "-1d", "1w", "1.5d", "2bd3h", "abc"])
def test_parse_duration_refuses_nonsense(text):
    with pytest.raises(ValueError, match="not a duration"):
        clock.parse_duration(text)


@pytest.mark.parametrize(
    ("start", "days", "end"),
    [
        ("2026-11-27T08:00:00Z", 1, "2026-11-30T08:00:00Z"),  # Friday + 1 -> Monday
        ("2026-11-25T08:00:00Z", 7, "2026-12-04T08:00:00Z"),  # Wednesday + 7 -> next Friday
        ("2026-11-28T10:30:00Z", 1, "2026-11-30T10:30:00Z"),  # Saturday + 1 -> Monday
        ("2026-11-30T08:00:00Z", 5, "2026-12-07T08:00:00Z"),  # Monday + 5 -> Monday
        ("2026-11-30T08:00:00Z", 0, "2026-11-30T08:00:00Z"),
    ],
)
def test_business_days_skip_weekends(start, days, end):
    assert clock.add_business_days(at(start), days) == at(end)
    assert at(start) + clock.BusinessDays(days) == at(end)


def test_auto_cancel_deadline_presets():
    ship_by = at("2026-11-27T08:00:00Z")  # a Friday
    assert clock.auto_cancel_deadline(ship_by, "seed-30d") == at("2026-12-27T08:00:00Z")
    assert clock.auto_cancel_deadline(ship_by, "amazon-7bd") == at("2026-12-08T08:00:00Z")
    with pytest.raises(ValueError, match="unknown auto-cancel preset"):
        clock.auto_cancel_deadline(ship_by, "weekly")


def set_ship_by(conn, oid, when: datetime):
    conn.execute("UPDATE orders SET ship_by = ? WHERE id = ?", (clock.iso(when), oid))


@pytest.mark.parametrize(
    ("preset", "deadline"),
    [("seed-30d", "2026-12-27T08:00:00Z"), ("amazon-7bd", "2026-12-08T08:00:00Z")],
)
def test_sweep_cancels_exactly_at_the_deadline(domain_conn, preset, deadline):
    db.set_meta(domain_conn, "auto_cancel", preset)
    oid = CASES["same_sku_1"]
    set_ship_by(domain_conn, oid, at("2026-11-27T08:00:00Z"))
    before = at(deadline) - timedelta(seconds=1)
    assert oid not in orders.sweep(domain_conn, now=before)["auto_cancelled"]
    assert orders.get_order(domain_conn, None, oid)["status"] == "Unshipped"
    result = orders.sweep(domain_conn, now=at(deadline))
    assert oid in result["auto_cancelled"]
    order = orders.get_order(domain_conn, None, oid)
    assert order["status"] == "Canceled"
    assert order["cancelled_by"] == "marketplace"
    assert order["cancel_reason"] == orders.AUTO_CANCEL_REASON
    assert order["counts_toward_rate"] is True
    assert order["cancel_events"] == 1
    sent = mail.list_mail(domain_conn, order_id=oid, kind="auto-cancellation")
    assert sorted(m["to"] for m in sent) == sorted(["seller@example.com", order["buyer_email"]])
    assert any("counts toward your Order Cancellation Rate" in m["body"] for m in sent)
    # A second sweep finds nothing more to do for it.
    assert oid not in orders.sweep(domain_conn, now=at(deadline))["auto_cancelled"]
    assert orders.get_order(domain_conn, None, oid)["cancel_events"] == 1


def test_near_deadline_order_goes_an_hour_after_seeding(domain_conn):
    oid = CASES["near_auto_cancel"]
    ship_by = at(orders.get_order(domain_conn, None, oid)["ship_by"])
    deadline = clock.auto_cancel_deadline(ship_by, "seed-30d")
    assert orders.sweep(domain_conn, now=deadline - timedelta(minutes=1))["auto_cancelled"] == []
    assert orders.sweep(domain_conn, now=deadline)["auto_cancelled"] == [oid]


def test_pending_orders_expire_after_21_days_without_counting(domain_conn):
    oid = CASES["pending"]
    purchased = at(orders.get_order(domain_conn, None, oid)["purchase_date"])
    expiry = purchased + timedelta(days=21)
    assert oid not in orders.sweep(domain_conn, now=expiry - timedelta(seconds=1))["expired"]
    assert oid in orders.sweep(domain_conn, now=expiry)["expired"]
    order = orders.get_order(domain_conn, None, oid)
    assert order["status"] == "Canceled"
    assert order["cancelled_by"] == "marketplace"
    assert order["cancel_reason"] == orders.PENDING_EXPIRED_REASON
    assert order["counts_toward_rate"] is False
    assert len(mail.list_mail(domain_conn, order_id=oid)) == 2


def test_shipped_and_cancelled_orders_are_never_swept(domain_conn):
    far = clock.now(domain_conn) + timedelta(days=400)
    result = orders.sweep(domain_conn, now=far)
    swept = set(result["auto_cancelled"]) | set(result["expired"])
    assert CASES["shipped"] not in swept
    assert CASES["cancelled_counted"] not in swept
    assert orders.get_order(domain_conn, None, CASES["shipped"])["status"] == "Shipped"
    # Everything still open went; nothing was cancelled twice.
    left = domain_conn.execute(
        "SELECT COUNT(*) FROM orders WHERE status IN ('Pending', 'Unshipped')"
    ).fetchone()[0]
    assert left == 0
    assert domain_conn.execute("SELECT MAX(cancel_events) FROM orders").fetchone()[0] == 1


def test_advance_moves_the_clock_and_sweeps(domain_conn):
    start = clock.now(domain_conn)
    result = orders.advance_clock(domain_conn, "2h")
    moved = clock.now(domain_conn) - start
    assert timedelta(hours=2) <= moved < timedelta(hours=2, seconds=30)
    assert result["auto_cancelled"] == [CASES["near_auto_cancel"]]
    assert CASES["pending_near_expiry"] in result["expired"]
    assert at(result["now"]) >= start + timedelta(hours=2)
    sid = orders.seller_id_for(domain_conn, "seller@example.com")
    counted = {o["order_id"] for o in metrics.cancellation_rate(domain_conn, sid)["orders"]}
    assert CASES["near_auto_cancel"] in counted


def test_advance_by_business_days(domain_conn):
    start = clock.now(domain_conn)
    orders.advance_clock(domain_conn, "5bd")
    moved = clock.now(domain_conn) - start
    assert timedelta(days=7) <= moved < timedelta(days=7, seconds=30)


def test_now_is_aware_utc_whole_seconds(domain_conn):
    moment = clock.now(domain_conn)
    assert moment.tzinfo == UTC and moment.microsecond == 0
    assert clock.iso(moment).endswith("Z")
