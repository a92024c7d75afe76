"""/mock/api/ through Flask's test client: shapes, filters, control calls, access rules."""

from __future__ import annotations

import pytest

from mock_portal import create_app, seed

CASES = seed.case_ids(1, 60)
RECORD_FIELDS = {
    "order_id",
    "seller",
    "status",
    "buyer_email",
    "buyer_requested",
    "buyer_request_kind",
    "cancel_reason",
    "cancelled_by",
    "counts_toward_rate",
    "cancel_events",
    "ship_by",
}


def test_health(client):
    answer = client.get("/mock/api/health")
    assert answer.status_code == 200 and answer.json == {"ok": True}


def test_orders_list_and_filters(client):
    everything = client.get("/mock/api/orders").json["orders"]
    assert len(everything) == 60 + seed.SECOND_SELLER_ORDERS
    assert all(RECORD_FIELDS <= set(order) for order in everything)
    unshipped = client.get("/mock/api/orders?status=Unshipped").json["orders"]
    assert unshipped and {o["status"] for o in unshipped} == {"Unshipped"}
    second = client.get("/mock/api/orders?seller=seller2@example.com").json["orders"]
    assert len(second) == seed.SECOND_SELLER_ORDERS
    assert {o["seller"] for o in second} == {"seller2@example.com"}
    flagged = client.get("/mock/api/orders?buyer_request_kind=official").json["orders"]
    assert CASES["flagged"] in {o["order_id"] for o in flagged}
    bad = client.get("/mock/api/orders?status=Lost")
    assert bad.status_code == 400 and "unknown status 'Lost'" in bad.json["error"]


def test_one_order(client):
    order = client.get(f"/mock/api/orders/{CASES['flagged']}").json
    assert order["order_id"] == CASES["flagged"]
    assert order["buyer_requested"] is True and order["buyer_request_kind"] == "official"
    assert order["cancel_events"] == 0 and order["history"]
    missing = client.get("/mock/api/orders/000-0000000-0000000")
    assert missing.status_code == 404 and missing.json == {"error": "no order 000-0000000-0000000"}


def test_cancel_through_the_api_and_read_mail_and_metrics(client):
    oid = CASES["same_sku_1"]
    before = client.get("/mock/api/metrics").json
    answer = client.post(f"/mock/api/orders/{oid}/cancel", json={"reason": "NoInventory"})
    assert answer.json["outcome"] == "cancelled"
    again = client.post(f"/mock/api/orders/{oid}/cancel", json={"reason": "NoInventory"})
    assert again.json["outcome"] == "already_cancelled"
    order = client.get(f"/mock/api/orders/{oid}").json
    assert (order["status"], order["cancelled_by"], order["cancel_events"]) == (
        "Canceled",
        "seller",
        1,
    )
    seller_mail = client.get("/mock/api/mail?to=seller@example.com").json["mail"]
    assert seller_mail[0]["order_id"] == oid
    assert set(seller_mail[0]) >= {"to", "from", "subject", "body", "order_id", "kind", "sent_at"}
    buyer_mail = client.get(f"/mock/api/mail?to={order['buyer_email']}").json["mail"]
    assert [m["kind"] for m in buyer_mail] == ["cancellation"]
    after = client.get("/mock/api/metrics").json
    assert after["cancelled"] == before["cancelled"] + 1
    assert oid in {o["order_id"] for o in after["orders"]}
    second = client.get("/mock/api/metrics?seller=seller2@example.com").json
    assert second["cancelled"] == 1
    assert client.get("/mock/api/metrics?seller=nobody@x").status_code == 404


def test_ship_through_the_api(client):
    oid = CASES["same_sku_2"]
    assert client.post(f"/mock/api/orders/{oid}/ship").json == {"outcome": "shipped"}
    assert client.post(f"/mock/api/orders/{oid}/ship").json == {"outcome": "not_shippable"}
    assert client.post("/mock/api/orders/000-0000000-0000000/ship").status_code == 404


def test_clock(client):
    start = client.get("/mock/api/clock").json
    assert start["offset_seconds"] == 0 and start["auto_cancel"] == "seed-30d"
    moved = client.post("/mock/api/clock", json={"advance": "2h"}).json
    assert moved["auto_cancelled"] == [CASES["near_auto_cancel"]]
    assert client.get("/mock/api/clock").json["offset_seconds"] >= 7200
    assert client.get(f"/mock/api/orders/{CASES['near_auto_cancel']}").json["cancelled_by"] == (
        "marketplace"
    )
    bad = client.post("/mock/api/clock", json={"advance": "soon"})
    assert bad.status_code == 400 and "not a duration: 'soon'" in bad.json["error"]
    assert client.post("/mock/api/clock", json={}).status_code == 400
    preset = client.post("/mock/api/clock", json={"auto_cancel": "amazon-7bd"})
    assert preset.status_code == 200
    assert client.get("/mock/api/clock").json["auto_cancel"] == "amazon-7bd"
    assert client.post("/mock/api/clock", json={"auto_cancel": "x"}).status_code == 400


def test_buyer_requests(client):
    oid = CASES["same_buyer_1"]
    answer = client.post(
        "/mock/api/buyer-requests", json={"order_id": oid, "kind": "official", "reason": "Oops"}
    )
    assert answer.json["outcome"] == "requested"
    assert answer.json["order"]["buyer_requested"] is True
    mail = client.get("/mock/api/mail?to=seller@example.com&kind=buyer-request").json["mail"]
    assert mail[0]["order_id"] == oid
    message = client.post(
        "/mock/api/buyer-requests", json={"order_id": CASES["same_buyer_2"], "kind": "message"}
    )
    assert message.json["outcome"] == "message_sent"
    assert message.json["order"]["buyer_request_kind"] == "message"
    missing = client.post("/mock/api/buyer-requests", json={"order_id": "000-0000000-0000000"})
    assert missing.status_code == 404
    assert client.post("/mock/api/buyer-requests", json={}).status_code == 400
    bad_kind = client.post("/mock/api/buyer-requests", json={"order_id": oid, "kind": "loud"})
    assert bad_kind.status_code == 400


def test_seed_and_reset(client):
    assert client.post(f"/mock/api/orders/{CASES['flagged']}/ship").json["outcome"] == "shipped"
    reseeded = client.post("/mock/api/seed", json={"seed": 9, "orders": 12}).json
    assert reseeded["seed"] == 9 and reseeded["orders"] == 12
    demo = client.get("/mock/api/orders?seller=seller@example.com").json["orders"]
    assert len(demo) == 12 and all(o["order_id"].startswith("112-0000009-") for o in demo)
    assert client.post("/mock/api/seed", json={"orders": -1}).status_code == 400
    assert client.post("/mock/api/seed", json={"seed": "x"}).status_code == 400
    client.post("/mock/api/reset")
    back = client.get(f"/mock/api/orders/{CASES['flagged']}").json
    assert back["status"] == "Unshipped"
    assert len(client.get("/mock/api/orders?seller=seller@example.com").json["orders"]) == 60


def test_body_must_be_a_json_object(client):
    answer = client.post(
        "/mock/api/clock", data="[1]", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400 and answer.json["error"] == "the body must be a JSON object"


@pytest.fixture
def token_client(tmp_path):
    app = create_app({"DATABASE": str(tmp_path / "p.db"), "ORDERS": 5, "API_TOKEN": "t0ken-123"})
    return app.test_client()


def test_token_is_required_when_configured(token_client):
    refused = token_client.get("/mock/api/orders")
    assert refused.status_code == 401
    assert "t0ken-123" not in refused.text
    wrong = token_client.get("/mock/api/orders", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    allowed = token_client.get(
        "/mock/api/orders",
        headers={"Authorization": "Bearer t0ken-123"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert allowed.status_code == 200


def test_loopback_only_without_a_token(client):
    far = client.get("/mock/api/orders", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert far.status_code == 403 and "loopback" in far.json["error"]
    near = client.get("/mock/api/health", environ_base={"REMOTE_ADDR": "::1"})
    assert near.status_code == 200


def test_api_can_be_disabled(tmp_path):
    app = create_app({"DATABASE": str(tmp_path / "p.db"), "ORDERS": 2, "API_ENABLED": False})
    assert app.test_client().get("/mock/api/health").status_code == 404
