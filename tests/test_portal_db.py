"""Schema, connections, transactions, the stored secret key, init and reset."""

from __future__ import annotations

import os
import sqlite3

import pytest

from mock_portal import clock, create_app, db, orders, seed


def test_connect_sets_the_pragmas(tmp_path):
    path = str(tmp_path / "p.db")
    seed.init_db({"DATABASE": path, "ORDERS": 2})
    conn = db.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
    assert isinstance(conn.execute("SELECT 1 AS one").fetchone(), sqlite3.Row)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "sellers",
        "auth_sessions",
        "trusted_devices",
        "orders",
        "order_items",
        "mail",
    } <= tables


def test_transaction_rolls_back_on_error(domain_conn):
    with pytest.raises(RuntimeError), db.transaction(domain_conn):
        domain_conn.execute("DELETE FROM orders")
        raise RuntimeError("boom")
    assert domain_conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] > 0
    assert not domain_conn.in_transaction


def test_transaction_commits(domain_conn):
    with db.transaction(domain_conn):
        db.set_meta(domain_conn, "probe", 42)
    assert db.get_meta(domain_conn, "probe") == "42"


def test_init_is_idempotent_and_never_reseeds(tmp_path):
    path = str(tmp_path / "p.db")
    config = {"DATABASE": path, "ORDERS": 10}
    seed.init_db(config)
    conn = db.connect(path)
    oid = conn.execute("SELECT id FROM orders WHERE status = 'Unshipped' LIMIT 1").fetchone()[0]
    orders.confirm_shipment(conn, seller_id=None, order_id=oid)
    seed.init_db(config)
    assert orders.get_order(conn, None, oid)["status"] == "Shipped"
    assert conn.execute("SELECT COUNT(*) FROM sellers").fetchone()[0] == 2


def test_secret_key_is_stored_once(tmp_path):
    app = create_app({"DATABASE": str(tmp_path / "p.db"), "ORDERS": 2})
    again = create_app({"DATABASE": str(tmp_path / "p.db")})
    assert app.config["SECRET_KEY"] == again.config["SECRET_KEY"] == db.stored_secret_key(app)
    assert len(app.config["SECRET_KEY"]) == 64
    other = create_app({"DATABASE": str(tmp_path / "other.db"), "ORDERS": 2})
    assert other.config["SECRET_KEY"] != app.config["SECRET_KEY"]


def test_settings_from_config_win_at_every_start(tmp_path):
    path = str(tmp_path / "p.db")
    seed.init_db({"DATABASE": path, "ORDERS": 2, "AUTO_CANCEL": "amazon-7bd"})
    conn = db.connect(path)
    assert clock.preset(conn) == "amazon-7bd"
    seed.init_db({"DATABASE": path, "AUTO_CANCEL": "seed-30d"})
    assert clock.preset(conn) == "seed-30d"


def test_reset_wipes_reseeds_and_rewinds_the_clock(domain_conn):
    oid = domain_conn.execute("SELECT id FROM orders LIMIT 1").fetchone()[0]
    orders.advance_clock(domain_conn, "3d")
    domain_conn.execute(
        "INSERT INTO mail(to_addr, from_addr, subject, body, kind, sent_at) "
        "VALUES ('x@y', 'a@b', 's', 'b', 'cancellation', '2026-01-01T00:00:00Z')"
    )
    key = db.get_meta(domain_conn, "secret_key")
    summary = seed.reset(domain_conn, {"SEED": 2, "ORDERS": 7})
    assert summary["seed"] == 2 and summary["orders"] == 7
    assert clock.offset_seconds(domain_conn) == 0
    assert orders.get_order(domain_conn, None, oid) is None
    assert domain_conn.execute("SELECT COUNT(*) FROM mail WHERE to_addr = 'x@y'").fetchone()[0] == 0
    assert db.get_meta(domain_conn, "secret_key") == key
    assert db.get_meta(domain_conn, "seed") == "2"


def test_request_connections_are_reused_and_cleaned_between_requests(tmp_path):
    path = tmp_path / "p.db"
    app = create_app({"DATABASE": str(path), "ORDERS": 2})
    with app.app_context():
        first = db.get_db()
        # A request that fails halfway must not leave its transaction (and the lock) behind.
        first.execute("BEGIN IMMEDIATE")
        first.execute("DELETE FROM orders")
    with app.app_context():
        again = db.get_db()
        assert again is first
        assert not again.in_transaction
        assert again.execute("SELECT COUNT(*) FROM orders").fetchone()[0] > 0
    other = db.connect(str(path))
    with db.transaction(other):
        db.set_meta(other, "probe", 1)
    other.close()


def test_a_database_made_again_at_the_same_path_gets_a_new_connection(tmp_path):
    path = tmp_path / "p.db"
    app = create_app({"DATABASE": str(path), "ORDERS": 2})
    with app.app_context():
        first = db.get_db()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"p.db{suffix}").unlink(missing_ok=True)
    app = create_app({"DATABASE": str(path), "ORDERS": 3})
    with app.app_context():
        conn = db.get_db()
        assert conn is not first
        demo = orders.seller_id_for(conn, "seller@example.com")
        assert orders.tab_counts(conn, demo)["all"] == 3


def test_a_database_from_before_single_use_codes_gains_the_column(tmp_path):
    path = str(tmp_path / "old.db")
    seed.init_db({"DATABASE": path, "ORDERS": 2})
    conn = db.connect(path)
    conn.execute("ALTER TABLE sellers DROP COLUMN totp_last_step")
    conn.close()
    seed.init_db({"DATABASE": path, "ORDERS": 2})
    conn = db.connect(path)
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(sellers)")}
        assert "totp_last_step" in columns
        assert conn.execute("SELECT COUNT(*) FROM sellers").fetchone()[0] == 2
    finally:
        conn.close()


def test_a_new_database_file_is_private_to_its_owner(tmp_path):
    # It holds password hashes and the TOTP secrets in plain text.
    path = tmp_path / "p.db"
    create_app({"DATABASE": str(path), "ORDERS": 2})
    assert os.stat(path).st_mode & 0o777 == 0o600
