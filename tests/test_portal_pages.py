"""Manage Orders, search, order details, shipment, packing slip, Account Health, messages and
mailboxes, through the Flask test client against a real seeded database."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from mock_portal import create_app, db, metrics, seed, totp
from mock_portal import orders as domain

ORDERS = 60


def order_id(number: int, prefix: str = "112") -> str:
    return seed.order_id(1, number, prefix)


FLAGGED = order_id(seed.CASES["flagged"])
MESSAGE_REQUEST = order_id(seed.CASES["message_request"])
SAME_SKU = {order_id(seed.CASES["same_sku_1"]), order_id(seed.CASES["same_sku_2"])}
MULTI_ITEM = order_id(seed.CASES["multi_item"])
PENDING = order_id(seed.CASES["pending"])
SHIPPED = order_id(seed.CASES["shipped"])
COUNTED = order_id(seed.CASES["cancelled_counted"])
OTHER_SELLERS = order_id(1, "114")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("pages") / "portal.db"
    return create_app({"DATABASE": str(path), "ORDERS": ORDERS, "TESTING": True})


@pytest.fixture(scope="module")
def conn(app):
    connection = db.connect(app.config["DATABASE"])
    yield connection
    connection.close()


def csrf_of(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def sign_in(client, email="seller@example.com", password="demo-password", secret=None):
    secret = secret or "JBSWY3DPEHPK3PXP"
    token = csrf_of(client.get("/ap/signin").text)
    client.post("/ap/signin", data={"csrf_token": token, "email": email, "password": password})
    token = csrf_of(client.get("/ap/mfa").text)
    response = client.post("/ap/mfa", data={"csrf_token": token, "otp": totp.totp(secret)})
    assert response.status_code == 302, response.text


@pytest.fixture(scope="module")
def client(app):
    signed_in = app.test_client()
    sign_in(signed_in)
    return signed_in


def row_ids(text: str) -> list[str]:
    return re.findall(r'data-testid="order-row" data-order-id="([^"]+)"', text)


def row_html(text: str, oid: str) -> str:
    start = text.index(f'data-testid="order-row" data-order-id="{oid}"')
    return text[start : text.index("</tr>", start)]


def seller_id(conn, email="seller@example.com") -> int:
    return conn.execute("SELECT id FROM sellers WHERE email = ?", (email,)).fetchone()["id"]


def status_of(conn, oid: str) -> str:
    return conn.execute("SELECT status FROM orders WHERE id = ?", (oid,)).fetchone()["status"]


def test_home_has_the_navigation(client):
    page = client.get("/home").text
    for testid in (
        "nav-orders",
        "nav-performance",
        "nav-manage-orders",
        "nav-account-health",
        "nav-messages",
        "nav-mail",
        "nav-signout",
        "nav-account",
    ):
        assert f'data-testid="{testid}"' in page
    assert client.get("/").location == "/home"


def test_manage_orders_defaults_to_unshipped_with_tab_counts(client, conn):
    page = client.get("/orders-v3/").text
    counts = domain.tab_counts(conn, seller_id(conn))
    for tab in domain.TABS:
        assert f'data-testid="tab-count-{tab}">{counts[tab]}<' in page
    assert 'data-testid="tab-unshipped" aria-current="page"' in page
    ids = row_ids(page)
    assert 0 < len(ids) <= 25
    assert all(status_of(conn, oid) == "Unshipped" for oid in ids)


def test_all_tab_paginates_25_newest_first(client, conn):
    first = client.get("/orders-v3/?tab=all&page=1").text
    ids = row_ids(first)
    assert len(ids) == 25
    dates = [
        conn.execute("SELECT purchase_date FROM orders WHERE id = ?", (oid,)).fetchone()[0]
        for oid in ids
    ]
    assert dates == sorted(dates, reverse=True)
    assert 'data-testid="page-next"' in first and 'data-testid="page-prev"' not in first
    total = domain.tab_counts(conn, seller_id(conn))["all"]
    last_page = (total + 24) // 25
    last = client.get(f"/orders-v3/?tab=all&page={last_page}").text
    assert len(row_ids(last)) == total - 25 * (last_page - 1)
    assert 'data-testid="page-next"' not in last and 'data-testid="page-prev"' in last
    seen = set()
    for page in range(1, last_page + 1):
        seen.update(row_ids(client.get(f"/orders-v3/?tab=all&page={page}").text))
    assert len(seen) == total


@pytest.mark.parametrize("tab", ["pending", "canceled", "shipped"])
def test_each_tab_lists_only_its_status(client, conn, tab):
    wanted = {"pending": "Pending", "canceled": "Canceled", "shipped": "Shipped"}[tab]
    ids = row_ids(client.get(f"/orders-v3/?tab={tab}").text)
    assert ids
    assert {status_of(conn, oid) for oid in ids} == {wanted}


def test_search_by_order_id_is_exact(client):
    page = client.get(f"/orders-v3/search?q={FLAGGED}&qt=orderid").text
    assert row_ids(page) == [FLAGGED]
    partial = client.get(f"/orders-v3/search?q={FLAGGED[:-1]}&qt=orderid").text
    assert row_ids(partial) == []
    assert 'data-testid="no-results">No orders found<' in partial


def test_search_by_sku_is_partial_and_case_insensitive(client):
    page = client.get(f"/orders-v3/search?q={seed.SHARED_SKU[:6].lower()}&qt=sku").text
    assert set(row_ids(page)) == SAME_SKU


def test_search_by_buyer_email_and_asin(client, conn):
    row = conn.execute(
        "SELECT o.buyer_email, i.asin FROM orders o JOIN order_items i ON i.order_id = o.id "
        "WHERE o.id = ?",
        (MULTI_ITEM,),
    ).fetchone()
    by_email = client.get(f"/orders-v3/search?q={row['buyer_email'][:8].upper()}&qt=buyer-email")
    assert MULTI_ITEM in row_ids(by_email.text)
    by_asin = client.get(f"/orders-v3/search?q={row['asin'][2:].lower()}&qt=asin")
    assert MULTI_ITEM in row_ids(by_asin.text)


def test_search_never_shows_another_sellers_orders(client):
    page = client.get(f"/orders-v3/search?q={OTHER_SELLERS}&qt=orderid").text
    assert row_ids(page) == []
    assert 'data-testid="no-results"' in page


def test_row_shows_the_contracted_cells(client, conn):
    page = client.get(f"/orders-v3/search?q={MULTI_ITEM}&qt=orderid").text
    row = row_html(page, MULTI_ITEM)
    assert f'href="/orders-v3/order/{MULTI_ITEM}" data-testid="order-link"' in row
    items = conn.execute("SELECT * FROM order_items WHERE order_id = ?", (MULTI_ITEM,)).fetchall()
    assert len(items) > 1
    for item in items:
        assert str(escape(item["title"])) in row and item["asin"] in row and item["sku"] in row
    assert 'data-testid="order-status" data-status="Unshipped"' in row
    assert 'data-testid="confirm-shipment"' in row
    assert 'data-testid="print-packing-slip"' in row
    assert f'href="/orders-v3/order/{MULTI_ITEM}/cancel" data-testid="cancel-order"' in row


def test_pending_rows_have_no_actions_and_shipped_rows_cannot_be_cancelled(client):
    pending = row_html(client.get(f"/orders-v3/search?q={PENDING}").text, PENDING)
    assert "confirm-shipment" not in pending and "cancel-order" not in pending
    assert "print-packing-slip" not in pending
    shipped = row_html(client.get(f"/orders-v3/search?q={SHIPPED}").text, SHIPPED)
    assert "cancel-order" not in shipped and "confirm-shipment" not in shipped


def test_flagged_order_has_the_badge_and_the_banner_above_its_row(client):
    page = client.get(f"/orders-v3/search?q={FLAGGED}").text
    assert 'data-testid="cancel-requested-badge">Cancellation requested<' in row_html(page, FLAGGED)
    banner = page.index('data-testid="buyer-request-banner"')
    assert banner < page.index('data-testid="order-row"')
    assert "Canceling this order will not affect your cancellation rate metric." in page
    unflagged = client.get(f"/orders-v3/search?q={MESSAGE_REQUEST}").text
    assert "buyer-request-banner" not in unflagged and "cancel-requested-badge" not in unflagged


def test_order_details_shows_everything(client, conn):
    page = client.get(f"/orders-v3/order/{FLAGGED}").text
    order = domain.get_order(conn, seller_id(conn), FLAGGED)
    assert f'data-testid="order-id" data-order-id="{FLAGGED}">Order ID: {FLAGGED}<' in page
    assert 'data-testid="order-status" data-status="Unshipped"' in page
    assert f'data-testid="buyer-email">{order["buyer_email"]}<' in page
    assert 'data-testid="buyer-request-banner"' in page
    assert 'data-testid="order-history"' in page
    assert page.count('data-testid="history-row"') == len(order["history"]) > 0
    for testid in ("purchase-date", "ship-by", "deliver-by", "cancel-order"):
        assert f'data-testid="{testid}"' in page


@pytest.mark.parametrize("oid", [OTHER_SELLERS, "999-9999999-9999999", "x" * 500])
def test_other_sellers_or_missing_orders_are_not_found(client, oid):
    for url in (f"/orders-v3/order/{oid}", f"/orders-v3/order/{oid}/packing-slip"):
        response = client.get(url)
        assert response.status_code == 404
        assert 'data-testid="no-results">No orders found<' in response.text


def test_confirm_shipment_ships_an_unshipped_order(client, conn):
    oid = order_id(seed.CASES["same_buyer_2"])
    page = client.get(f"/orders-v3/order/{oid}").text
    response = client.post(
        f"/orders-v3/order/{oid}/confirm-shipment", data={"csrf_token": csrf_of(page)}
    )
    assert response.status_code == 303 and response.location == f"/orders-v3/order/{oid}"
    assert status_of(conn, oid) == "Shipped"
    shown = client.get(response.location).text
    assert f'data-testid="shipment-confirmed">Shipment of order {oid} was confirmed.<' in shown


def test_confirm_shipment_refusals(client, conn):
    token = csrf_of(client.get("/orders-v3/").text)
    refused = client.post(
        f"/orders-v3/order/{PENDING}/confirm-shipment", data={"csrf_token": token}
    )
    assert refused.status_code == 303
    assert 'data-testid="not-shippable"' in client.get(refused.location).text
    assert status_of(conn, PENDING) == "Pending"
    other = client.post(
        f"/orders-v3/order/{OTHER_SELLERS}/confirm-shipment", data={"csrf_token": token}
    )
    assert other.status_code == 404
    oid = order_id(seed.CASES["message_request_2"])
    stale = client.post(f"/orders-v3/order/{oid}/confirm-shipment", data={"csrf_token": "stale"})
    assert stale.status_code == 400
    assert status_of(conn, oid) == "Unshipped"


def test_confirm_shipment_returns_to_the_list_it_came_from(client):
    oid = order_id(seed.CASES["flagged_2"])
    token = csrf_of(client.get("/orders-v3/").text)
    response = client.post(
        f"/orders-v3/order/{oid}/confirm-shipment",
        data={"csrf_token": token, "next": "/orders-v3/?tab=unshipped"},
    )
    assert response.location == "/orders-v3/?tab=unshipped"
    evil = client.post(
        f"/orders-v3/order/{oid}/confirm-shipment",
        data={"csrf_token": token, "next": "https://evil.example/"},
    )
    assert evil.location == f"/orders-v3/order/{oid}"


def test_packing_slip_is_printable(client, conn):
    page = client.get(f"/orders-v3/order/{MULTI_ITEM}/packing-slip").text
    assert 'data-testid="packing-slip"' in page and f">{MULTI_ITEM}<" in page
    for item in conn.execute("SELECT sku FROM order_items WHERE order_id = ?", (MULTI_ITEM,)):
        assert item["sku"] in page


def test_account_health_shows_the_rate_target_and_counted_orders(client, conn):
    page = client.get("/performance/account/health").text
    rate = metrics.cancellation_rate(conn, seller_id(conn))
    assert f'data-rate="{rate["rate"]}"' in page
    value = re.search(r'data-testid="ocr-value"[^>]*>([^<]+)<', page).group(1)
    assert value == f"{rate['rate'] * 100:.2f}".rstrip("0").rstrip(".") + "%"
    assert 'data-testid="ocr-target">2.5%<' in page
    assert f'data-testid="ocr-cancelled">{rate["cancelled"]}<' in page
    assert f'data-testid="ocr-total">{rate["total"]}<' in page
    expected_status = "Good" if rate["rate"] < 0.025 else "At risk"
    assert re.search(r'data-testid="ocr-status"[^>]*>' + expected_status + "<", page)
    counted = re.findall(r'data-testid="ocr-order-row" data-order-id="([^"]+)"', page)
    assert counted == [row["order_id"] for row in rate["orders"]]
    assert COUNTED in counted


def test_messages_inbox_lists_the_buyers_messages(client):
    page = client.get("/messaging/inbox").text
    assert f'data-testid="message-row" data-order-id="{MESSAGE_REQUEST}"' in page


def test_seller_mailbox_has_the_buyer_request_email(client, conn):
    page = client.get("/mail").text
    name = conn.execute("SELECT buyer_name FROM orders WHERE id = ?", (FLAGGED,)).fetchone()[0]
    subject = f"Order cancellation request from Amazon customer {name} (Order: {FLAGGED})"
    assert str(escape(subject)) in page
    match = re.search(
        rf'data-testid="mail-row" data-order-id="{FLAGGED}" data-kind="buyer-request">\s*'
        r'<td><a href="(/mail/\d+)" data-testid="mail-open">',
        page,
    )
    assert match
    message = client.get(match.group(1)).text
    assert 'data-testid="mail-body"' in message and FLAGGED in message


def test_buyer_mailbox_needs_no_signin_and_shows_cancellation_emails(app, client, conn):
    oid = order_id(seed.CASES["same_buyer_1"])
    buyer = conn.execute("SELECT buyer_email FROM orders WHERE id = ?", (oid,)).fetchone()[0]
    result = domain.cancel_order(
        conn, seller_id=seller_id(conn), order_id=oid, reason="NoInventory"
    )
    assert result.outcome == "cancelled"
    anonymous = app.test_client()
    page = anonymous.get(f"/mailbox/{buyer}")
    assert page.status_code == 200
    match = re.search(
        rf'data-testid="mail-row" data-order-id="{oid}" data-kind="cancellation">\s*'
        r'<td><a href="([^"]+)" data-testid="mail-open">',
        page.text,
    )
    assert match
    message = anonymous.get(match.group(1))
    assert message.status_code == 200 and oid in message.text
    mail_id = match.group(1).rsplit("/", 1)[1]
    # Someone else's address, or the seller's own mailbox, cannot open the buyer's copy.
    assert anonymous.get(f"/mailbox/someone@example.com/{mail_id}").status_code == 404
    assert client.get(f"/mail/{mail_id}").status_code == 404
    assert anonymous.get("/mail").status_code == 302


def test_empty_mailbox(app):
    page = app.test_client().get("/mailbox/nobody@example.com")
    assert page.status_code == 200 and 'data-testid="mail-none"' in page.text


def test_second_seller_sees_only_its_own_orders(app):
    other = app.test_client()
    sign_in(other, "seller2@example.com", "demo-password-2", "GEZDGNBVGY3TQOJQ")
    ids = row_ids(other.get("/orders-v3/?tab=all").text)
    assert ids and all(oid.startswith("114-") for oid in ids)
    assert other.get(f"/orders-v3/order/{FLAGGED}").status_code == 404
    assert other.get(f"/orders-v3/order/{FLAGGED}/cancel").status_code == 404
