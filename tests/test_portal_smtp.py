"""Optional SMTP delivery, against a real aiosmtpd server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from mock_portal import create_app, db, mail, seed
from mock_portal.testing import running_portal

CASES = seed.case_ids(1, 60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Collector:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # the name aiosmtpd calls
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.arrived:
            self.messages.append(
                {"rcpt": list(envelope.rcpt_tos), "from": envelope.mail_from, "message": parsed}
            )
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.messages) < count and time.monotonic() < deadline:
                self.arrived.wait(deadline - time.monotonic())
            return list(self.messages)


@pytest.fixture
def smtp_server():
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield collector, f"127.0.0.1:{controller.port}"
    finally:
        controller.stop()


def test_cancellation_emails_are_delivered(tmp_path, smtp_server):
    collector, address = smtp_server
    app = create_app({"DATABASE": str(tmp_path / "p.db"), "ORDERS": 60, "SMTP": address})
    client = app.test_client()
    oid = CASES["same_sku_1"]
    answer = client.post(f"/mock/api/orders/{oid}/cancel", json={"reason": "NoInventory"})
    assert answer.json["outcome"] == "cancelled"
    buyer = answer.json["order"]["buyer_email"]
    received = collector.wait_for(2)
    assert sorted(r for item in received for r in item["rcpt"]) == sorted(
        ["seller@example.com", buyer]
    )
    seller_copy = next(i["message"] for i in received if i["rcpt"] == ["seller@example.com"])
    assert seller_copy["Subject"] == f"Order {oid} was canceled"
    assert seller_copy["X-Order-Id"] == oid
    body = seller_copy.get_content()
    assert oid in body and "No Inventory" in body and seed.SHARED_SKU in body
    assert "counts toward your Order Cancellation Rate" in body
    conn = db.connect(app.config["DATABASE"])
    assert {m["delivery"] for m in mail.list_mail(conn, order_id=oid)} == {"delivered"}
    conn.close()


def test_buyer_request_email_is_delivered(tmp_path, smtp_server):
    collector, address = smtp_server
    app = create_app({"DATABASE": str(tmp_path / "p.db"), "ORDERS": 60, "SMTP": address})
    oid = CASES["same_buyer_1"]
    answer = app.test_client().post(
        "/mock/api/buyer-requests", json={"order_id": oid, "reason": "Changed my mind"}
    )
    assert answer.json["outcome"] == "requested"
    (item,) = collector.wait_for(1)
    assert item["rcpt"] == ["seller@example.com"]
    assert item["message"]["Subject"].startswith("Order cancellation request from Amazon customer")
    assert "Changed my mind" in item["message"].get_content()


def test_a_dead_mail_server_does_not_stop_the_cancellation(tmp_path):
    dead = f"127.0.0.1:{free_port()}"
    app = create_app({"DATABASE": str(tmp_path / "p.db"), "ORDERS": 60, "SMTP": dead})
    oid = CASES["same_sku_2"]
    answer = app.test_client().post(
        f"/mock/api/orders/{oid}/cancel", json={"reason": "NoInventory"}
    )
    assert answer.json["outcome"] == "cancelled"
    conn = db.connect(app.config["DATABASE"])
    assert {m["delivery"] for m in mail.list_mail(conn, order_id=oid)} == {"failed"}
    conn.close()


def test_without_smtp_mail_is_only_stored(domain_conn):
    assert mail.smtp_target(domain_conn) is None
    assert mail.deliver(domain_conn, [1]) == 0


@pytest.mark.parametrize("value", ["localhost", "host:", ":25", "host:port", "host:70000"])
def test_smtp_setting_must_be_host_and_port(value):
    with pytest.raises(ValueError, match="SMTP server must be host:port"):
        mail.parse_smtp(value)


def test_a_running_portal_delivers_with_smtp_option(smtp_server):
    collector, address = smtp_server
    with running_portal(orders=20, smtp=address) as portal:
        oid = seed.case_ids(1, 20)["multi_item"]
        result = portal.api_post(f"/mock/api/orders/{oid}/cancel", {"reason": "PricingError"})
        assert result["outcome"] == "cancelled"
        received = collector.wait_for(2)
    assert len(received) == 2
    assert all(item["message"]["X-Order-Id"] == oid for item in received)
