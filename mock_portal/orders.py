"""Orders and their state machine: who may cancel what, and what every change records and
sends. Plain functions over a sqlite3 connection; no Flask in here.

Statuses: Pending -> Unshipped -> Shipped, and Pending/Unshipped -> Canceled.
- The seller cancels Unshipped (or PartiallyShipped) orders only, whole or chosen items.
- The buyer cancels a Pending order within its first minutes, or asks the seller to cancel
  (officially, which flags the order; or just in a message).
- The marketplace cancels Unshipped orders left past their auto-cancel deadline, and Pending
  orders that stayed Pending too long (see clock.py for the timing rules).
Every cancellation writes a history entry and emails the seller and the buyer.

Cancelling some items leaves the order Unshipped but records the reason, who and when, and
counts toward the rate like a whole cancellation; `cancel_events` counts only cancellations
that ended the order (so never more than one). The order becomes Canceled once nothing is
left of it.
"""

from __future__ import annotations

import sqlite3
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mock_portal import clock, db, mail
from mock_portal.reasons import REASONS

TABS = ("pending", "unshipped", "canceled", "shipped", "all")
STATUSES = ("Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled")
TAB_STATUSES = {
    "pending": ("Pending",),
    "unshipped": ("Unshipped", "PartiallyShipped"),
    "canceled": ("Canceled",),
    "shipped": ("Shipped",),
}
CANCELLABLE_STATUSES = ("Unshipped", "PartiallyShipped")
SEARCH_TYPES = ("orderid", "buyer-email", "sku", "asin")
MEMO_MAX_LENGTH = 1000
USER_AGENT_MAX_LENGTH = 500
# The User-Agent of the client whose request is changing orders (set per request by the app;
# None for the sweep and the seed). Every history entry records it, so a test can tell which
# client cancelled or shipped an order without each function passing it along.
ACTING_USER_AGENT: ContextVar[str | None] = ContextVar("acting_user_agent", default=None)

# Reasons recorded for cancellations nobody chose from the seller's list.
AUTO_CANCEL_REASON = "NotShippedInTime"
PENDING_EXPIRED_REASON = "PendingExpired"
# The marketplace's own reasons, as its emails name them (mail.TEXTS keys).
MARKETPLACE_REASONS = {
    AUTO_CANCEL_REASON: "reason_auto_cancel",
    PENDING_EXPIRED_REASON: "reason_pending_expired",
}
BUYER_SELF_CANCEL_REASON = "BuyerCanceled"

CANCEL_OUTCOMES = (
    "cancelled",
    "items_cancelled",
    "already_cancelled",
    "not_cancellable",
    "not_found",
    "invalid_reason",
    "invalid_items",
)


@dataclass
class CancelResult:
    outcome: str
    order: dict | None = None
    mail_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome in ("cancelled", "items_cancelled")


_ORDER_SELECT = (
    "SELECT o.*, s.email AS seller_email FROM orders o JOIN sellers s ON s.id = o.seller_id"
)


def reason_label(code: str | None) -> str:
    if code is None:
        return ""
    if code in REASONS:
        return REASONS[code]["en"]
    return {
        AUTO_CANCEL_REASON: "Not shipped by the auto-cancel deadline",
        PENDING_EXPIRED_REASON: "Payment pending for too long",
    }.get(code, code)


def _items_by_order(conn: sqlite3.Connection, order_ids: list[str]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {order_id: [] for order_id in order_ids}
    if not order_ids:
        return found
    marks = ",".join("?" * len(order_ids))
    rows = conn.execute(
        f"SELECT * FROM order_items WHERE order_id IN ({marks}) ORDER BY id", order_ids
    )
    for row in rows:
        found[row["order_id"]].append(
            {
                "id": row["id"],
                "asin": row["asin"],
                "sku": row["sku"],
                "title": row["title"],
                "quantity": row["quantity"],
                "quantity_cancelled": row["quantity_cancelled"],
                "price": row["price"],
            }
        )
    return found


def record(row: sqlite3.Row, items: list[dict]) -> dict:
    """The order as the inspection API shows it (field names are fixed; see PORTAL.md)."""
    return {
        "order_id": row["id"],
        "seller": row["seller_email"],
        "status": row["status"],
        "buyer_email": row["buyer_email"],
        "buyer_requested": row["buyer_request_kind"] == "official",
        "buyer_request_kind": row["buyer_request_kind"],
        "cancel_reason": row["cancel_reason"],
        "cancelled_by": row["cancelled_by"],
        "counts_toward_rate": bool(row["counts_toward_rate"]),
        "cancel_events": row["cancel_events"],
        "ship_by": row["ship_by"],
        "purchase_date": row["purchase_date"],
        "deliver_by": row["deliver_by"],
        "buyer_name": row["buyer_name"],
        "buyer_request_reason": row["buyer_request_reason"],
        "buyer_requested_at": row["buyer_requested_at"],
        "cancelled_at": row["cancelled_at"],
        "shipped_at": row["shipped_at"],
        "seller_memo": row["seller_memo"],
        "items": items,
        "cancellable": row["status"] in CANCELLABLE_STATUSES,
    }


def _records(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict]:
    items = _items_by_order(conn, [row["id"] for row in rows])
    return [record(row, items[row["id"]]) for row in rows]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_clause(q: str, qt: str) -> tuple[str, list[Any]]:
    q = q.strip()
    if qt == "buyer-email":
        return "o.buyer_email LIKE ? ESCAPE '\\'", [f"%{_escape_like(q)}%"]
    if qt in ("sku", "asin"):
        return (
            f"EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id "
            f"AND i.{qt} LIKE ? ESCAPE '\\')",
            [f"%{_escape_like(q)}%"],
        )
    return "o.id = ?", [q]


def list_orders(
    conn: sqlite3.Connection,
    seller_id: int,
    *,
    tab: str = "all",
    q: str | None = None,
    qt: str = "orderid",
    page: int = 1,
    page_size: int = 25,
) -> tuple[list[dict], int]:
    """One page of the seller's orders, newest purchase first, and the total number matching.

    With `q`, searches all tabs: `qt` "orderid" is exact; "buyer-email", "sku" and "asin" are
    partial and case-insensitive. An unknown `qt` searches by order id."""
    clauses = ["o.seller_id = ?"]
    params: list[Any] = [seller_id]
    if q is not None and q.strip():
        clause, extra = _search_clause(q, qt)
        clauses.append(clause)
        params.extend(extra)
    elif tab in TAB_STATUSES:
        statuses = TAB_STATUSES[tab]
        clauses.append(f"o.status IN ({','.join('?' * len(statuses))})")
        params.extend(statuses)
    where = " AND ".join(clauses)
    total = conn.execute(f"SELECT COUNT(*) FROM orders o WHERE {where}", params).fetchone()[0]
    page = max(1, int(page))
    page_size = max(1, int(page_size))
    rows = conn.execute(
        f"{_ORDER_SELECT} WHERE {where} ORDER BY o.purchase_date DESC, o.id DESC LIMIT ? OFFSET ?",
        [*params, page_size, (page - 1) * page_size],
    ).fetchall()
    return _records(conn, rows), total


def tab_counts(conn: sqlite3.Connection, seller_id: int) -> dict[str, int]:
    by_status = dict(
        conn.execute(
            "SELECT status, COUNT(*) FROM orders WHERE seller_id = ? GROUP BY status", (seller_id,)
        ).fetchall()
    )
    counts = {
        tab: sum(by_status.get(status, 0) for status in statuses)
        for tab, statuses in TAB_STATUSES.items()
    }
    counts["all"] = sum(by_status.values())
    return counts


def _fetch(conn: sqlite3.Connection, order_id: str, seller_id: int | None = None) -> sqlite3.Row:
    sql = f"{_ORDER_SELECT} WHERE o.id = ?"
    params: list[Any] = [order_id]
    if seller_id is not None:
        sql += " AND o.seller_id = ?"
        params.append(seller_id)
    return conn.execute(sql, params).fetchone()


def history(conn: sqlite3.Connection, order_id: str) -> list[dict]:
    return [
        {
            "at": row["at"],
            "event": row["event"],
            "detail": row["detail"],
            "user_agent": row["user_agent"],
        }
        for row in conn.execute(
            "SELECT at, event, detail, user_agent FROM order_history "
            "WHERE order_id = ? ORDER BY at, id",
            (order_id,),
        )
    ]


def get_order(conn: sqlite3.Connection, seller_id: int | None, order_id: str) -> dict | None:
    """The order with its items and history; None when absent or another seller's.
    `seller_id` None means any seller (the inspection API)."""
    row = _fetch(conn, (order_id or "").strip(), seller_id)
    if row is None:
        return None
    order = _records(conn, [row])[0]
    order["history"] = history(conn, row["id"])
    agents = [entry["user_agent"] for entry in order["history"] if entry["user_agent"]]
    order["last_user_agent"] = agents[-1] if agents else None
    return order


def find_orders(
    conn: sqlite3.Connection,
    *,
    status: str | None = None,
    seller: str | None = None,
    buyer_request_kind: str | None = None,
    limit: int | None = None,
) -> list[dict]:
    """Orders of every seller for the inspection API, newest purchase first."""
    clauses, params = [], []
    if status:
        clauses.append("o.status = ?")
        params.append(status)
    if seller:
        clauses.append("s.email = ?")
        params.append(seller)
    if buyer_request_kind:
        clauses.append("o.buyer_request_kind = ?")
        params.append(buyer_request_kind)
    sql = _ORDER_SELECT
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY o.purchase_date DESC, o.id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return _records(conn, conn.execute(sql, params).fetchall())


def add_history(conn: sqlite3.Connection, order_id: str, at: str, event: str, detail: str) -> None:
    conn.execute(
        "INSERT INTO order_history(order_id, at, event, detail, user_agent) VALUES (?, ?, ?, ?, ?)",
        (order_id, at, event, detail, ACTING_USER_AGENT.get()),
    )


def _item_lines(items: list[dict], quantities: dict[int, int] | None = None) -> str:
    lines = []
    for item in items:
        quantity = item["quantity"] if quantities is None else quantities.get(item["id"], 0)
        if quantity:
            lines.append(
                f"  - {item['title']} (SKU {item['sku']}, ASIN {item['asin']}) x {quantity}"
            )
    return "\n".join(lines)


def _send_cancellation_mail(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    items: list[dict],
    quantities: dict[int, int],
    *,
    reason: str,
    cancelled_by: str,
    counts: bool,
    at: str,
    whole_order: bool,
) -> list[int]:
    """The seller's and the buyer's emails for one cancellation (inside the transaction), in
    the portal's language."""
    order_id = row["id"]
    kind = "auto-cancellation" if cancelled_by == "marketplace" else "cancellation"
    lang = mail.portal_lang(conn)
    (subject_seller, seller_body), (subject_buyer, buyer_body) = mail.cancellation_emails(
        lang,
        order_id=order_id,
        items=_item_lines(items, quantities),
        reason=mail.reason_text(reason, lang, MARKETPLACE_REASONS),
        cancelled_by=cancelled_by,
        counts=counts,
        whole_order=whole_order,
        buyer_name=row["buyer_name"],
        buyer_email=row["buyer_email"],
    )
    return [
        mail.store(
            conn,
            to=row["seller_email"],
            sender=mail.SELLER_NOTIFICATIONS,
            subject=subject_seller,
            body=seller_body,
            kind=kind,
            sent_at=at,
            order_id=order_id,
            seller_id=row["seller_id"],
        ),
        mail.store(
            conn,
            to=row["buyer_email"],
            sender=mail.BUYER_NOTIFICATIONS,
            subject=subject_buyer,
            body=buyer_body,
            kind=kind,
            sent_at=at,
            order_id=order_id,
            seller_id=row["seller_id"],
        ),
    ]


def counts_toward_rate(reason: str, buyer_request_kind: str | None) -> bool:
    """Amazon: a seller cancellation counts unless it is Buyer Canceled on an order the buyer
    officially asked to cancel. A message-only request does not exempt it."""
    return not (reason == "BuyerCanceled" and buyer_request_kind == "official")


def _apply_cancellation(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    items: list[dict],
    quantities: dict[int, int],
    *,
    reason: str,
    cancelled_by: str,
    counts: bool,
    at: str,
    memo: str | None = None,
) -> tuple[bool, list[int]]:
    """Cancel the given quantities; the order becomes Canceled when nothing is left.
    Returns (whole order cancelled, mail ids)."""
    for item in items:
        quantity = quantities.get(item["id"], 0)
        if quantity:
            conn.execute(
                "UPDATE order_items SET quantity_cancelled = quantity_cancelled + ? WHERE id = ?",
                (quantity, item["id"]),
            )
    remaining = sum(
        item["quantity"] - item["quantity_cancelled"] - quantities.get(item["id"], 0)
        for item in items
    )
    whole = remaining <= 0
    conn.execute(
        "UPDATE orders SET status = CASE WHEN ? THEN 'Canceled' ELSE status END, "
        "cancel_events = cancel_events + ?, cancel_reason = ?, cancelled_by = ?, "
        "cancelled_at = ?, counts_toward_rate = (counts_toward_rate OR ?), "
        "seller_memo = COALESCE(?, seller_memo) WHERE id = ?",
        (whole, 1 if whole else 0, reason, cancelled_by, at, counts, memo or None, row["id"]),
    )
    detail = f"by {cancelled_by}; reason {reason}"
    if not whole or cancelled_by == "seller":
        detail += "; items: " + ", ".join(
            f"{item['sku']} x {quantities[item['id']]}"
            for item in items
            if quantities.get(item["id"])
        )
    detail += "; counts toward rate" if counts else "; does not count toward rate"
    if memo:
        detail += f"; memo: {memo}"
    add_history(conn, row["id"], at, "cancelled" if whole else "items_cancelled", detail)
    mail_ids = _send_cancellation_mail(
        conn,
        row,
        items,
        quantities,
        reason=reason,
        cancelled_by=cancelled_by,
        counts=counts,
        at=at,
        whole_order=whole,
    )
    return whole, mail_ids


def cancel_order(
    conn: sqlite3.Connection,
    *,
    seller_id: int,
    order_id: str,
    reason: str,
    memo: str = "",
    items: dict[int, int] | None = None,
    submit_token: str | None = None,
    now: datetime | None = None,
) -> CancelResult:
    """The seller cancels an order (items None) or some items' quantities ({item_id: qty}).

    Everything is re-checked inside one IMMEDIATE transaction, so concurrent submits of the
    same order cancel it once; a repeated `submit_token` for the same order returns the first
    submit's outcome without changing anything or sending mail again."""
    order_id = (order_id or "").strip()
    memo = (memo or "").strip()[:MEMO_MAX_LENGTH]
    with db.transaction(conn):
        row = _fetch(conn, order_id, seller_id)
        if row is None:
            return CancelResult("not_found")
        if submit_token:
            seen = conn.execute(
                "SELECT outcome FROM submit_tokens WHERE token = ? AND order_id = ?",
                (submit_token, order_id),
            ).fetchone()
            if seen is not None:
                return CancelResult(seen["outcome"], get_order(conn, seller_id, order_id))
        if reason not in REASONS:
            return CancelResult("invalid_reason", get_order(conn, seller_id, order_id))
        if row["status"] == "Canceled":
            return CancelResult("already_cancelled", get_order(conn, seller_id, order_id))
        if row["status"] not in CANCELLABLE_STATUSES:
            return CancelResult("not_cancellable", get_order(conn, seller_id, order_id))
        order_items = _items_by_order(conn, [order_id])[order_id]
        remaining = {
            item["id"]: item["quantity"] - item["quantity_cancelled"] for item in order_items
        }
        if items is None:
            quantities = {item_id: left for item_id, left in remaining.items() if left > 0}
        else:
            try:
                quantities = {int(item_id): int(qty) for item_id, qty in items.items() if int(qty)}
            except (TypeError, ValueError):
                return CancelResult("invalid_items", get_order(conn, seller_id, order_id))
            if not quantities or any(
                item_id not in remaining or qty < 0 or qty > remaining[item_id]
                for item_id, qty in quantities.items()
            ):
                return CancelResult("invalid_items", get_order(conn, seller_id, order_id))
        at = clock.iso(now or clock.now(conn))
        counts = counts_toward_rate(reason, row["buyer_request_kind"])
        whole, mail_ids = _apply_cancellation(
            conn,
            row,
            order_items,
            quantities,
            reason=reason,
            cancelled_by="seller",
            counts=counts,
            at=at,
            memo=memo,
        )
        outcome = "cancelled" if whole else "items_cancelled"
        if submit_token:
            conn.execute(
                "INSERT INTO submit_tokens(token, order_id, outcome, created_at) VALUES (?, ?, ?, ?)",
                (submit_token, order_id, outcome, at),
            )
        order = get_order(conn, seller_id, order_id)
    mail.deliver(conn, mail_ids)
    return CancelResult(outcome, order, mail_ids)


def confirm_shipment(
    conn: sqlite3.Connection, *, seller_id: int | None, order_id: str, now: datetime | None = None
) -> str:
    """Mark an Unshipped order Shipped: "shipped", "not_found" or "not_shippable"."""
    with db.transaction(conn):
        row = _fetch(conn, (order_id or "").strip(), seller_id)
        if row is None:
            return "not_found"
        if row["status"] not in CANCELLABLE_STATUSES:
            return "not_shippable"
        at = clock.iso(now or clock.now(conn))
        conn.execute(
            "UPDATE orders SET status = 'Shipped', shipped_at = ? WHERE id = ?", (at, row["id"])
        )
        add_history(conn, row["id"], at, "shipped", "shipment confirmed by the seller")
    return "shipped"


def request_cancellation(
    conn: sqlite3.Connection,
    *,
    order_id: str,
    kind: str = "official",
    reason: str = "",
    now: datetime | None = None,
) -> str:
    """The buyer's side.

    kind "official": a Pending order still inside the buyer's window is cancelled by the
    buyer at once ("buyer_cancelled"); otherwise the order is flagged and the seller emailed
    ("requested", or "already_requested"). kind "message": only a buyer message, no flag
    ("message_sent"). kind "cancel": the buyer's own cancellation of a Pending order, allowed
    only inside the window. Other outcomes: "not_found", "not_cancellable", "invalid_kind"."""
    if kind not in ("official", "message", "cancel"):
        return "invalid_kind"
    reason = (reason or "").strip()
    mail_ids: list[int] = []
    with db.transaction(conn):
        row = _fetch(conn, (order_id or "").strip())
        if row is None:
            return "not_found"
        moment = now or clock.now(conn)
        at = clock.iso(moment)
        in_window = row["status"] == "Pending" and moment <= clock.parse_iso(
            row["purchase_date"]
        ) + timedelta(minutes=clock.buyer_cancel_minutes(conn))
        if kind in ("official", "cancel") and in_window:
            order_items = _items_by_order(conn, [row["id"]])[row["id"]]
            quantities = {
                item["id"]: item["quantity"] - item["quantity_cancelled"] for item in order_items
            }
            _, mail_ids = _apply_cancellation(
                conn,
                row,
                order_items,
                quantities,
                reason=BUYER_SELF_CANCEL_REASON,
                cancelled_by="buyer",
                counts=False,
                at=at,
            )
            outcome = "buyer_cancelled"
        elif kind == "cancel" or row["status"] in ("Canceled", "Shipped"):
            return "not_cancellable"
        elif kind == "official":
            if row["buyer_request_kind"] == "official":
                return "already_requested"
            conn.execute(
                "UPDATE orders SET buyer_request_kind = 'official', buyer_request_reason = ?, "
                "buyer_requested_at = ? WHERE id = ?",
                (reason, at, row["id"]),
            )
            add_history(conn, row["id"], at, "buyer_requested_cancellation", reason)
            mail_ids = [send_request_mail(conn, row, reason, at)]
            outcome = "requested"
        else:
            body = reason or "Hello, please cancel my order. Thank you."
            conn.execute(
                "INSERT INTO messages(seller_id, order_id, buyer_name, body, sent_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (row["seller_id"], row["id"], row["buyer_name"], body, at),
            )
            if row["buyer_request_kind"] is None:
                conn.execute(
                    "UPDATE orders SET buyer_request_kind = 'message', buyer_request_reason = ?, "
                    "buyer_requested_at = ? WHERE id = ?",
                    (body, at, row["id"]),
                )
            add_history(conn, row["id"], at, "buyer_message", body)
            outcome = "message_sent"
    mail.deliver(conn, mail_ids)
    return outcome


def send_request_mail(conn: sqlite3.Connection, row: sqlite3.Row, reason: str, at: str) -> int:
    items = _items_by_order(conn, [row["id"]])[row["id"]]
    subject, body = mail.request_email(
        mail.portal_lang(conn),
        order_id=row["id"],
        items=_item_lines(items),
        buyer_name=row["buyer_name"],
        reason=reason,
    )
    return mail.store(
        conn,
        to=row["seller_email"],
        sender=mail.SELLER_NOTIFICATIONS,
        subject=subject,
        body=body,
        kind="buyer-request",
        sent_at=at,
        order_id=row["id"],
        seller_id=row["seller_id"],
    )


def run_sweep(conn: sqlite3.Connection, now: datetime | None = None) -> dict:
    """Cancel Unshipped orders past their auto-cancel deadline (counts toward the rate) and
    Pending orders older than the expiry (does not count). Returns the order ids per rule."""
    auto_cancelled: list[str] = []
    expired: list[str] = []
    mail_ids: list[int] = []
    with db.transaction(conn):
        moment = now or clock.now(conn)
        at = clock.iso(moment)
        preset = clock.preset(conn)
        # No preset's window is shorter than 7 calendar days; the index on (status, ship_by)
        # narrows the rows before the exact, possibly business-day, deadline is computed.
        horizon = clock.iso(moment - timedelta(days=7))
        candidates = conn.execute(
            f"{_ORDER_SELECT} WHERE o.status IN ('Unshipped', 'PartiallyShipped') "
            "AND o.ship_by <= ? ORDER BY o.ship_by",
            (horizon,),
        ).fetchall()
        for row in candidates:
            if clock.auto_cancel_deadline(clock.parse_iso(row["ship_by"]), preset) > moment:
                continue
            mail_ids += _cancel_remaining(conn, row, AUTO_CANCEL_REASON, counts=True, at=at)
            auto_cancelled.append(row["id"])
        expiry = clock.iso(moment - timedelta(days=clock.pending_expiry_days(conn)))
        for row in conn.execute(
            f"{_ORDER_SELECT} WHERE o.status = 'Pending' AND o.purchase_date <= ?", (expiry,)
        ).fetchall():
            mail_ids += _cancel_remaining(conn, row, PENDING_EXPIRED_REASON, counts=False, at=at)
            expired.append(row["id"])
    mail.deliver(conn, mail_ids)
    return {"auto_cancelled": auto_cancelled, "expired": expired}


def _cancel_remaining(
    conn: sqlite3.Connection, row: sqlite3.Row, reason: str, *, counts: bool, at: str
) -> list[int]:
    order_items = _items_by_order(conn, [row["id"]])[row["id"]]
    quantities = {item["id"]: item["quantity"] - item["quantity_cancelled"] for item in order_items}
    _, mail_ids = _apply_cancellation(
        conn,
        row,
        order_items,
        quantities,
        reason=reason,
        cancelled_by="marketplace",
        counts=counts,
        at=at,
    )
    return mail_ids


def seller_id_for(conn: sqlite3.Connection, email: str) -> int | None:
    row = conn.execute("SELECT id FROM sellers WHERE email = ?", (email,)).fetchone()
    return None if row is None else int(row["id"])


def sweep(conn: sqlite3.Connection, now: datetime | None = None) -> dict:
    """Auto-cancel Unshipped orders past their deadline and expire old Pending orders."""
    return run_sweep(conn, now=now)


def advance_clock(conn: sqlite3.Connection, delta: timedelta | clock.BusinessDays | str) -> dict:
    """Move the portal clock forward and run the sweep at the new time; returns the new time
    and what the sweep did."""
    target = clock.move(conn, delta)
    return {"now": clock.iso(target), **sweep(conn, now=target)}
