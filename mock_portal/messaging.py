"""Buyer-seller messages (the inbox). Buyers write through orders.request_cancellation."""

from __future__ import annotations

import sqlite3


def list_messages(conn: sqlite3.Connection, seller_id: int) -> list[dict]:
    """The seller's messages, newest first."""
    return [
        {
            "id": row["id"],
            "order_id": row["order_id"],
            "buyer_name": row["buyer_name"],
            "body": row["body"],
            "sent_at": row["sent_at"],
        }
        for row in conn.execute(
            "SELECT id, order_id, buyer_name, body, sent_at FROM messages WHERE seller_id = ? "
            "ORDER BY sent_at DESC, id DESC",
            (seller_id,),
        )
    ]
