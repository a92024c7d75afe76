"""Account Health metrics, computed from the orders table on the portal's clock."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from mock_portal import clock

TARGET = 0.025
WINDOW_DAYS = 7


def cancellation_rate(
    conn: sqlite3.Connection, seller_id: int, now: datetime | None = None
) -> dict:
    """Order Cancellation Rate over the last 7 days (Amazon: target under 2.5%).

    Counted (numerator): orders cancelled in the window whose cancellation counts - seller
    cancellations for any reason except Buyer Canceled on an officially flagged order, and
    auto-cancellations for not shipping. Buyer self-cancellations, officially requested
    cancellations and expired Pending orders are not counted.

    Total (denominator): the seller's orders placed in the window (Pending ones excluded: they
    are not orders yet), plus any counted cancellation of an older order, so the counted
    orders are always part of the total and the rate never exceeds 1."""
    moment = now or clock.now(conn)
    since = clock.iso(moment - timedelta(days=WINDOW_DAYS))
    until = clock.iso(moment)
    counted = conn.execute(
        "SELECT id, cancel_reason, cancelled_by, cancelled_at, purchase_date FROM orders "
        "WHERE seller_id = ? AND counts_toward_rate = 1 AND cancelled_at > ? AND cancelled_at <= ? "
        "ORDER BY cancelled_at DESC, id DESC",
        (seller_id, since, until),
    ).fetchall()
    placed = conn.execute(
        "SELECT COUNT(*) FROM orders WHERE seller_id = ? AND status != 'Pending' "
        "AND purchase_date > ? AND purchase_date <= ?",
        (seller_id, since, until),
    ).fetchone()[0]
    older_counted = sum(1 for row in counted if not since < row["purchase_date"] <= until)
    total = placed + older_counted
    cancelled = len(counted)
    rate = cancelled / total if total else 0.0
    return {
        "rate": rate,
        "cancelled": cancelled,
        "total": total,
        "target": TARGET,
        "window_days": WINDOW_DAYS,
        "status": "good" if rate < TARGET else "at_risk",
        "since": since,
        "until": until,
        "orders": [
            {
                "order_id": row["id"],
                "cancel_reason": row["cancel_reason"],
                "cancelled_by": row["cancelled_by"],
                "cancelled_at": row["cancelled_at"],
            }
            for row in counted
        ],
    }
