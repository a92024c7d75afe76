"""The portal's outbox: emails are stored in the database (the mailbox pages read them) and,
when an SMTP server is configured ("host:port"), also delivered to it after the change that
caused them has been committed.

Emails are written in the portal's language (its DEFAULT_LANG setting, kept in the database so
the auto-cancel sweep, which has no request, knows it too), as a marketplace writes to its
sellers and buyers in the marketplace's language: a zh-CN portal sends Chinese emails."""

from __future__ import annotations

import logging
import smtplib
import sqlite3
from email.message import EmailMessage
from email.utils import format_datetime

from mock_portal import clock, db
from mock_portal.reasons import REASONS

log = logging.getLogger(__name__)

SELLER_NOTIFICATIONS = "seller-notification@marketplace.example"
BUYER_NOTIFICATIONS = "auto-confirm@marketplace.example"
KINDS = ("cancellation", "buyer-request", "auto-cancellation")
SMTP_TIMEOUT_SECONDS = 10


LANGS = ("en", "zh-CN")
LANG_META = "lang"

TEXTS: dict[str, dict[str, str]] = {
    "seller_subject": {
        "en": "Order {order_id} was canceled",
        "zh-CN": "订单 {order_id} 已取消",
    },
    "seller_subject_auto": {
        "en": "Order {order_id} was canceled automatically",
        "zh-CN": "订单 {order_id} 已被自动取消",
    },
    "seller_subject_items": {
        "en": "Items of order {order_id} were canceled",
        "zh-CN": "订单 {order_id} 中的部分商品已取消",
    },
    "buyer_subject": {
        "en": "Your order {order_id} has been canceled",
        "zh-CN": "您的订单 {order_id} 已取消",
    },
    "buyer_subject_items": {
        "en": "Items of your order {order_id} have been canceled",
        "zh-CN": "您的订单 {order_id} 中的部分商品已取消",
    },
    "seller_headline": {
        "en": "Order {order_id} was canceled by {who}.",
        "zh-CN": "订单 {order_id} 已由{who}取消。",
    },
    "seller_headline_items": {
        "en": "Items of order {order_id} were canceled by {who}.",
        "zh-CN": "订单 {order_id} 中的部分商品已由{who}取消。",
    },
    "buyer_headline": {
        "en": "Your order {order_id} was canceled.",
        "zh-CN": "您的订单 {order_id} 已取消。",
    },
    "buyer_headline_items": {
        "en": "Items in your order {order_id} were canceled.",
        "zh-CN": "您的订单 {order_id} 中的部分商品已取消。",
    },
    "who_seller": {"en": "the seller", "zh-CN": "卖家"},
    "who_buyer": {"en": "the buyer", "zh-CN": "买家"},
    "who_marketplace": {"en": "the marketplace", "zh-CN": "平台"},
    "items": {"en": "Items:", "zh-CN": "商品："},
    "reason": {"en": "Reason: {reason}", "zh-CN": "取消原因：{reason}"},
    "buyer": {"en": "Buyer: {name} <{email}>", "zh-CN": "买家：{name} <{email}>"},
    "counts": {
        "en": "This cancellation counts toward your Order Cancellation Rate.",
        "zh-CN": "此次取消会计入您的订单取消率。",
    },
    "does_not_count": {
        "en": "This cancellation does not count toward your Order Cancellation Rate.",
        "zh-CN": "此次取消不会计入您的订单取消率。",
    },
    "hello": {"en": "Hello {name},", "zh-CN": "{name}，您好："},
    "refund": {
        "en": "If you were charged for the canceled items, the amount will be refunded.",
        "zh-CN": "如果您已为取消的商品付款，款项将退还给您。",
    },
    "request_subject": {
        "en": "Order cancellation request from Amazon customer {name} (Order: {order_id})",
        "zh-CN": "亚马逊买家 {name} 的订单取消请求（订单：{order_id}）",
    },
    "request_headline": {
        "en": "The buyer {name} has requested that order {order_id} be canceled.",
        "zh-CN": "买家 {name} 已请求取消订单 {order_id}。",
    },
    "request_reason": {"en": "Buyer's reason: {reason}", "zh-CN": "买家的原因：{reason}"},
    "request_no_reason": {"en": "(none given)", "zh-CN": "（未提供）"},
    "request_rate": {
        "en": "Canceling this order with the reason Buyer Canceled will not affect your "
        "cancellation rate metric.",
        "zh-CN": "以“买家取消”为原因取消此订单不会影响您的取消率指标。",
    },
    # The marketplace's own reasons (the seller's come from reasons.REASONS).
    "reason_auto_cancel": {
        "en": "Not shipped by the auto-cancel deadline",
        "zh-CN": "未在自动取消期限前发货",
    },
    "reason_pending_expired": {
        "en": "Payment pending for too long",
        "zh-CN": "付款待处理时间过长",
    },
}


def portal_lang(conn: sqlite3.Connection) -> str:
    """The language the portal writes its emails in."""
    lang = db.get_meta(conn, LANG_META)
    return lang if lang in LANGS else "en"


def text(key: str, lang: str, **params: object) -> str:
    entry = TEXTS[key]
    return (entry.get(lang) or entry["en"]).format(**params)


def reason_text(code: str | None, lang: str, marketplace: dict[str, str] | None = None) -> str:
    """A reason code as the email names it: the seller's reasons from their table, the
    marketplace's own (auto-cancellation, expiry) from `marketplace` (code -> text key)."""
    if code is None:
        return ""
    if code in REASONS:
        return REASONS[code].get(lang) or REASONS[code]["en"]
    key = (marketplace or {}).get(code)
    return text(key, lang) if key else code


def cancellation_emails(
    lang: str,
    *,
    order_id: str,
    items: str,
    reason: str,
    cancelled_by: str,
    counts: bool,
    whole_order: bool,
    buyer_name: str,
    buyer_email: str,
) -> tuple[tuple[str, str], tuple[str, str]]:
    """(subject, body) of the seller's and of the buyer's email for one cancellation."""
    who = text(f"who_{cancelled_by}", lang)
    if not whole_order:
        seller_subject = text("seller_subject_items", lang, order_id=order_id)
    elif cancelled_by == "marketplace":
        seller_subject = text("seller_subject_auto", lang, order_id=order_id)
    else:
        seller_subject = text("seller_subject", lang, order_id=order_id)
    items_part = f"{text('items', lang)}\n{items}"
    seller_body = (
        text("seller_headline" if whole_order else "seller_headline_items", lang,
             order_id=order_id, who=who)
        + f"\n\n{items_part}\n\n"
        + text("reason", lang, reason=reason) + "\n"
        + text("buyer", lang, name=buyer_name, email=buyer_email) + "\n\n"
        + text("counts" if counts else "does_not_count", lang) + "\n"
    )  # fmt: skip
    buyer_subject = text(
        "buyer_subject" if whole_order else "buyer_subject_items", lang, order_id=order_id
    )
    buyer_body = (
        text("hello", lang, name=buyer_name) + "\n\n"
        + text("buyer_headline" if whole_order else "buyer_headline_items", lang,
               order_id=order_id)
        + f"\n\n{items_part}\n\n"
        + text("reason", lang, reason=reason) + "\n\n"
        + text("refund", lang) + "\n"
    )  # fmt: skip
    return (seller_subject, seller_body), (buyer_subject, buyer_body)


def request_email(
    lang: str, *, order_id: str, items: str, buyer_name: str, reason: str
) -> tuple[str, str]:
    """(subject, body) of the seller's email about a buyer's official cancellation request."""
    subject = text("request_subject", lang, name=buyer_name, order_id=order_id)
    body = (
        text("request_headline", lang, name=buyer_name, order_id=order_id)
        + f"\n\n{text('items', lang)}\n{items}\n\n"
        + text("request_reason", lang, reason=reason or text("request_no_reason", lang))
        + "\n\n" + text("request_rate", lang) + "\n"
    )  # fmt: skip
    return subject, body


def _row(row: sqlite3.Row) -> dict:
    return {
        "id": row["id"],
        "to": row["to_addr"],
        "from": row["from_addr"],
        "subject": row["subject"],
        "body": row["body"],
        "order_id": row["order_id"],
        "kind": row["kind"],
        "sent_at": row["sent_at"],
        "delivery": row["delivery"],
    }


def store(
    conn: sqlite3.Connection,
    *,
    to: str,
    sender: str,
    subject: str,
    body: str,
    kind: str,
    sent_at: str,
    order_id: str | None = None,
    seller_id: int | None = None,
) -> int:
    """Store one email (inside the caller's transaction); returns its id for `deliver`."""
    cursor = conn.execute(
        "INSERT INTO mail(to_addr, from_addr, subject, body, order_id, seller_id, kind, sent_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (to, sender, subject, body, order_id, seller_id, kind, sent_at),
    )
    return int(cursor.lastrowid)


def list_mail(
    conn: sqlite3.Connection,
    *,
    to: str | None = None,
    seller_id: int | None = None,
    order_id: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> list[dict]:
    """Emails, newest first. `to` matches the address case-insensitively; `seller_id` gives
    every email about that seller's orders (its own copies and its buyers')."""
    clauses, params = [], []
    for column, value in (("to_addr", to), ("seller_id", seller_id), ("order_id", order_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if kind is not None:
        clauses.append("kind = ?")
        params.append(kind)
    sql = "SELECT * FROM mail"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY sent_at DESC, id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_row(row) for row in conn.execute(sql, params)]


def get_mail(conn: sqlite3.Connection, mail_id: int) -> dict | None:
    row = conn.execute("SELECT * FROM mail WHERE id = ?", (mail_id,)).fetchone()
    return _row(row) if row else None


def smtp_target(conn: sqlite3.Connection) -> tuple[str, int] | None:
    value = db.get_meta(conn, "smtp")
    if not value or value == "None":
        return None
    return parse_smtp(value)


def parse_smtp(value: str) -> tuple[str, int]:
    """ "host:port" -> (host, port); ValueError with the bad value otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"SMTP server must be host:port, got {value!r}")
    return host, int(port)


def deliver(conn: sqlite3.Connection, mail_ids: list[int]) -> int:
    """Send the stored emails to the configured SMTP server, if any; returns how many went out.

    Called after commit so a slow or dead mail server can never hold the write lock. A
    delivery failure is logged and recorded on the email, never raised: the cancellation
    itself has happened and the portal's mailbox still shows the email."""
    if not mail_ids:
        return 0
    target = smtp_target(conn)
    if target is None:
        return 0
    rows = [get_mail(conn, mail_id) for mail_id in mail_ids]
    sent = 0
    try:
        with smtplib.SMTP(target[0], target[1], timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            for item in rows:
                if item is None:
                    continue
                smtp.send_message(_message(item))
                conn.execute("UPDATE mail SET delivery = 'delivered' WHERE id = ?", (item["id"],))
                sent += 1
    except (OSError, smtplib.SMTPException) as error:
        log.warning("SMTP delivery to %s:%s failed: %s", target[0], target[1], error)
        conn.execute(
            f"UPDATE mail SET delivery = 'failed' WHERE delivery = 'stored' AND id IN "
            f"({','.join('?' * len(mail_ids))})",
            mail_ids,
        )
    return sent


def _message(item: dict) -> EmailMessage:
    message = EmailMessage()
    message["To"] = item["to"]
    message["From"] = item["from"]
    message["Subject"] = item["subject"]
    message["Date"] = format_datetime(clock.parse_iso(item["sent_at"]))
    if item["order_id"]:
        message["X-Order-Id"] = item["order_id"]
    message["X-Mail-Kind"] = item["kind"]
    message.set_content(item["body"])
    return message
