"""The portal's SQLite database: schema, connections, transactions and settings kept in it."""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS sellers (
    id INTEGER PRIMARY KEY,
    email TEXT UNIQUE COLLATE NOCASE NOT NULL,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- Plain text: a verifier needs the TOTP secret itself (RFC 6238), so it cannot be hashed
    -- like the password, and encrypting it with a key kept next to it (in this file or the
    -- config) hides nothing from whoever can read the file. So the file is private instead
    -- (mode 0600, see init_db); the demo secrets are published in the README anyway.
    totp_secret TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    totp_last_step INTEGER
);
CREATE TABLE IF NOT EXISTS auth_sessions (
    sid TEXT PRIMARY KEY,
    seller_id INTEGER NOT NULL REFERENCES sellers(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    keep INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS trusted_devices (
    token TEXT PRIMARY KEY,
    seller_id INTEGER NOT NULL REFERENCES sellers(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    seller_id INTEGER NOT NULL REFERENCES sellers(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    purchase_date TEXT NOT NULL,
    ship_by TEXT NOT NULL,
    deliver_by TEXT NOT NULL,
    buyer_name TEXT NOT NULL,
    buyer_email TEXT NOT NULL,
    buyer_request_kind TEXT,
    buyer_request_reason TEXT,
    buyer_requested_at TEXT,
    cancel_reason TEXT,
    cancelled_by TEXT,
    cancelled_at TEXT,
    counts_toward_rate INTEGER NOT NULL DEFAULT 0,
    cancel_events INTEGER NOT NULL DEFAULT 0,
    seller_memo TEXT,
    shipped_at TEXT
);
CREATE INDEX IF NOT EXISTS orders_by_seller_date ON orders(seller_id, purchase_date DESC);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders(status, ship_by);
CREATE INDEX IF NOT EXISTS orders_by_buyer ON orders(buyer_email);
CREATE TABLE IF NOT EXISTS order_items (
    id INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    asin TEXT NOT NULL,
    sku TEXT NOT NULL,
    title TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    quantity_cancelled INTEGER NOT NULL DEFAULT 0,
    price TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_by_order ON order_items(order_id);
CREATE TABLE IF NOT EXISTS order_history (
    id INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    user_agent TEXT
);
CREATE INDEX IF NOT EXISTS history_by_order ON order_history(order_id);
CREATE TABLE IF NOT EXISTS submit_tokens (
    token TEXT NOT NULL,
    order_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (token, order_id)
);
CREATE TABLE IF NOT EXISTS mail (
    id INTEGER PRIMARY KEY,
    to_addr TEXT NOT NULL COLLATE NOCASE,
    from_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    order_id TEXT,
    seller_id INTEGER,
    kind TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    delivery TEXT NOT NULL DEFAULT 'stored'
);
CREATE INDEX IF NOT EXISTS mail_by_to ON mail(to_addr);
CREATE INDEX IF NOT EXISTS mail_by_order ON mail(order_id);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    seller_id INTEGER NOT NULL REFERENCES sellers(id) ON DELETE CASCADE,
    order_id TEXT REFERENCES orders(id) ON DELETE CASCADE,
    buyer_name TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_seller ON messages(seller_id);
"""

# Tables holding demo data; a reset empties them (meta keeps the secret key and settings).
DATA_TABLES = (
    "messages",
    "mail",
    "submit_tokens",
    "order_history",
    "order_items",
    "orders",
    "trusted_devices",
    "auth_sessions",
    "sellers",
)

# Settings copied from the app's config into meta so plain modules (clock, mail) can read them
# without Flask; the app's config wins at every start.
STORED_SETTINGS = {
    "AUTO_CANCEL": "auto_cancel",
    "DEFAULT_LANG": "lang",  # the language of the emails (mail.portal_lang)
    "SMTP": "smtp",
    "PENDING_EXPIRY_DAYS": "pending_expiry_days",
    "BUYER_CANCEL_MINUTES": "buyer_cancel_minutes",
}


class PortalConnection(sqlite3.Connection):
    """A sqlite3 connection that remembers the path it was opened with."""

    path: str = ""


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are explicit (see `transaction`)."""
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, factory=PortalConnection)
    conn.path = str(path)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    # In WAL mode NORMAL loses at most the last commits on power loss, never consistency;
    # FULL would fsync on every cancellation and cap throughput at the disk's sync rate.
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


# Columns added after a table was first created: CREATE TABLE IF NOT EXISTS leaves a database
# made by an older portal without them.
# Columns added since the first schema; an older database gains them at start-up.
ADDED_COLUMNS = {
    "sellers": {"totp_last_step": "INTEGER"},
    # History records the client's User-Agent of each state-changing request.
    "order_history": {"user_agent": "TEXT"},
}


class NotPortalDatabase(sqlite3.DatabaseError):
    """The file is another program's database (a seller-agent journal, say): the portal's
    tables are never added to it."""


def ensure_schema(conn: sqlite3.Connection) -> None:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    if tables and "sellers" not in tables:
        shown = ", ".join(tables[:6]) + (", ..." if len(tables) > 6 else "")
        raise NotPortalDatabase(f"not a portal database (its tables: {shown}); left as it was")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SCHEMA)
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns.items():
            if name not in present:
                try:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError as error:
                    # Another portal process on the same file added it first.
                    if "duplicate column" not in str(error):
                        raise


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE takes the write lock up front, so a read-check-write sequence inside
    cannot be interleaved with another writer (the basis of exactly-once cancellation)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_meta(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return default if row is None or row["value"] is None else row["value"]


def set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, None if value is None else str(value)),
    )


def store_settings(conn: sqlite3.Connection, config: dict[str, Any]) -> None:
    for config_key, meta_key in STORED_SETTINGS.items():
        if config_key in config:
            set_meta(conn, meta_key, config[config_key])


def is_seeded(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sellers LIMIT 1").fetchone() is not None


def wipe(conn: sqlite3.Connection) -> None:
    """Empty every data table and reset the clock; the caller holds the transaction."""
    for table in DATA_TABLES:
        conn.execute(f"DELETE FROM {table}")  # table names come from DATA_TABLES, never from input
    set_meta(conn, "clock_offset_seconds", 0)


def create_private(path: str) -> None:
    """Create the database file readable by its owner only, unless it exists: it holds
    password hashes and TOTP secrets. SQLite gives its -wal and -shm files the same mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def init_db(config: dict[str, Any]) -> None:
    """Create the schema and store settings. Safe to call on every start. (seed.init_db also
    seeds a new database; the portal's factory calls both.)"""
    create_private(config["DATABASE"])
    conn = connect(config["DATABASE"])
    try:
        ensure_schema(conn)
        with transaction(conn):
            store_settings(conn, config)
            if get_meta(conn, "secret_key") is None:
                set_meta(conn, "secret_key", secrets.token_hex(32))
    finally:
        conn.close()


def init_app(app: Any) -> None:
    """Per-request connections; the database itself is made by seed.init_db first."""
    app.teardown_appcontext(_close_db)


def get_db() -> sqlite3.Connection:
    """The current request's connection, taken from this thread's pool on first use and
    given back at teardown."""
    from flask import current_app, g

    if "db" not in g:
        g.db = _checkout(current_app.config["DATABASE"])
    return g.db


def _close_db(_error: BaseException | None = None) -> None:
    from flask import g

    conn = g.pop("db", None)
    if conn is not None:
        _checkin(conn)


# Each server thread keeps its connections between requests. Opening one per request costs
# the connect and its pragmas, and closing the last connection of a WAL database makes
# SQLite checkpoint and delete the WAL file: together that was most of a request's time.
# A few paths per thread at most, so a test run creating hundreds of databases stays small.
_POOL_PATHS_PER_THREAD = 4
_pool = threading.local()


def _thread_pool() -> OrderedDict[str, tuple[sqlite3.Connection, int]]:
    pool = getattr(_pool, "connections", None)
    if pool is None:
        pool = _pool.connections = OrderedDict()
    return pool


def _inode(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return -1


def _checkout(path: str) -> sqlite3.Connection:
    kept = _thread_pool().pop(path, None)
    if kept is not None:
        conn, inode = kept
        # A database deleted and created again at the same path is a different database.
        if inode == _inode(path):
            return conn
        conn.close()
    return connect(path)


def _checkin(conn: sqlite3.Connection) -> None:
    path = getattr(conn, "path", None) or None
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        path = None
    pool = _thread_pool()
    if path is None or path in pool:
        conn.close()
        return
    pool[path] = (conn, _inode(path))
    while len(pool) > _POOL_PATHS_PER_THREAD:
        _, (oldest, _) = pool.popitem(last=False)
        oldest.close()


def stored_secret_key(app: Any) -> str:
    conn = connect(app.config["DATABASE"])
    try:
        key = get_meta(conn, "secret_key")
        if key is None:
            with transaction(conn):
                key = get_meta(conn, "secret_key")
                if key is None:
                    key = secrets.token_hex(32)
                    set_meta(conn, "secret_key", key)
        return key
    finally:
        conn.close()
