"""The portal's outbox: emails are stored in the database (the mailbox pages read them) and,
when an SMTP server is configured ("host:port"), also delivered to it after the change that
caused them has been committed."""

from __future__ import annotations

import logging
import smtplib
import sqlite3
from email.message import EmailMessage
from email.utils import format_datetime

from mock_portal import clock, db

log = logging.getLogger(__name__)

SELLER_NOTIFICATIONS = "seller-notification@marketplace.example"
BUYER_NOTIFICATIONS = "auto-confirm@marketplace.example"
KINDS = ("cancellation", "buyer-request", "auto-cancellation")
SMTP_TIMEOUT_SECONDS = 10


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
