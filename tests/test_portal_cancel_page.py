"""The Cancel order page: the form, its validation, the cancellation itself and every refusal."""

from __future__ import annotations

import re

import pytest

from mock_portal import create_app, db, seed, totp
from mock_portal.reasons import REASONS

EMAIL = "seller@example.com"
# Orders already handed to a test; each test cancels a different one.
TAKEN: set[str] = set()


def order_id(number: int, prefix: str = "112") -> str:
    return seed.order_id(1, number, prefix)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("cancel") / "portal.db"
    return create_app({"DATABASE": str(path), "ORDERS": 80, "TESTING": True})


@pytest.fixture(scope="module")
def conn(app):
    connection = db.connect(app.config["DATABASE"])
    yield connection
    connection.close()


def csrf_of(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def submit_token_of(text: str) -> str:
    return re.search(r'name="submit_token" value="([^"]+)"', text).group(1)


@pytest.fixture(scope="module")
def client(app):
    signed_in = app.test_client()
    token = csrf_of(signed_in.get("/ap/signin").text)
    signed_in.post(
        "/ap/signin", data={"csrf_token": token, "email": EMAIL, "password": "demo-password"}
    )
    signed_in.post("/ap/mfa", data={"csrf_token": token, "otp": totp.totp("JBSWY3DPEHPK3PXP")})
    assert signed_in.get("/home").status_code == 200
    return signed_in


@pytest.fixture
def unshipped(conn):
    """A fresh single-item Unshipped, unflagged order of the demo seller for each test."""
    fixed = {order_id(number) for number in seed.CASES.values()}
    for row in conn.execute(
        "SELECT o.id FROM orders o JOIN sellers s ON s.id = o.seller_id "
        "WHERE s.email = ? AND o.status = 'Unshipped' AND o.buyer_request_kind IS NULL "
        "ORDER BY o.id",
        (EMAIL,),
    ):
        if row["id"] not in fixed and row["id"] not in TAKEN:
            TAKEN.add(row["id"])
            return row["id"]
    raise AssertionError("the seed ran out of plain Unshipped orders")


def snapshot(conn) -> list[tuple]:
    orders = conn.execute(
        "SELECT id, status, cancel_reason, cancelled_by, cancel_events, seller_memo FROM orders "
        "ORDER BY id"
    ).fetchall()
    items = conn.execute("SELECT id, quantity_cancelled FROM order_items ORDER BY id").fetchall()
    mail = conn.execute("SELECT COUNT(*) FROM mail").fetchone()[0]
    return [tuple(row) for row in orders] + [tuple(row) for row in items] + [(mail,)]


def order_row(conn, oid: str):
    return conn.execute("SELECT * FROM orders WHERE id = ?", (oid,)).fetchone()


def form_of(client, oid: str) -> dict[str, str]:
    page = client.get(f"/orders-v3/order/{oid}/cancel").text
    return {"csrf_token": csrf_of(page), "submit_token": submit_token_of(page), "scope": "order"}


def test_form_has_the_contracted_fields(client, unshipped):
    page = client.get(f"/orders-v3/order/{unshipped}/cancel")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Cancel order</h1>" in text
    assert f'data-testid="order-id">{unshipped}<' in text
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)</option>', text)
    assert options[0] == ("", "Select a reason")
    assert options[1:] == [(code, labels["en"]) for code, labels in REASONS.items()]
    assert '<label for="cancel-reason">Reason for cancellation</label>' in text
    assert '<label for="cancel-memo">Seller memo (optional)</label>' in text
    for testid in (
        "cancel-qty",
        "cancel-scope-order",
        "cancel-scope-items",
        "cancel-memo",
        "cancel-submit",
    ):
        assert f'data-testid="{testid}"' in text
    assert 'value="order" data-testid="cancel-scope-order" checked' in text
    assert submit_token_of(text) != submit_token_of(client.get(page.request.path).text)


def test_cancel_redirects_to_details_with_the_confirmation(client, conn, unshipped):
    form = form_of(client, unshipped) | {"reason": "PricingError", "memo": "price typo"}
    response = client.post(f"/orders-v3/order/{unshipped}/cancel", data=form)
    assert response.status_code == 303
    assert response.location == f"/orders-v3/order/{unshipped}"
    page = client.get(response.location).text
    assert f'data-testid="cancel-confirmation">Order {unshipped} was canceled.<' in page
    assert 'data-status="Canceled"' in page
    row = order_row(conn, unshipped)
    assert (row["status"], row["cancel_reason"], row["cancelled_by"]) == (
        "Canceled",
        "PricingError",
        "seller",
    )
    assert row["seller_memo"] == "price typo"
    # The flash is shown once (Post/Redirect/Get): a reload does not repeat it.
    assert "cancel-confirmation" not in client.get(response.location).text


def test_double_submit_cancels_once_and_mails_once(client, conn, unshipped):
    form = form_of(client, unshipped) | {"reason": "NoInventory"}
    first = client.post(f"/orders-v3/order/{unshipped}/cancel", data=form)
    mails = conn.execute("SELECT COUNT(*) FROM mail WHERE order_id = ?", (unshipped,)).fetchone()
    second = client.post(f"/orders-v3/order/{unshipped}/cancel", data=form)
    assert first.status_code == second.status_code == 303
    assert order_row(conn, unshipped)["cancel_events"] == 1
    again = conn.execute("SELECT COUNT(*) FROM mail WHERE order_id = ?", (unshipped,)).fetchone()
    assert again[0] == mails[0] > 0


def test_a_new_form_for_a_cancelled_order_says_already_cancelled(client, conn, unshipped):
    form = form_of(client, unshipped) | {"reason": "NoInventory"}
    stale_form = form_of(client, unshipped) | {"reason": "NoInventory"}
    client.post(f"/orders-v3/order/{unshipped}/cancel", data=form)
    page = client.get(f"/orders-v3/order/{unshipped}/cancel").text
    assert f'data-testid="already-cancelled">Order {unshipped} was already canceled.<' in page
    assert "cancel-form" not in page
    response = client.post(f"/orders-v3/order/{unshipped}/cancel", data=stale_form)
    assert response.status_code == 200
    assert 'data-testid="already-cancelled"' in response.text
    assert order_row(conn, unshipped)["cancel_events"] == 1


@pytest.mark.parametrize("reason", [None, "", "NotAReason", "buyercanceled", "NotShippedInTime"])
def test_missing_or_unknown_reason_rerenders_with_an_error(client, conn, unshipped, reason):
    form = form_of(client, unshipped) | {"memo": "<b>keep me</b>"}
    if reason is not None:
        form["reason"] = reason
    before = snapshot(conn)
    response = client.post(f"/orders-v3/order/{unshipped}/cancel", data=form)
    assert response.status_code == 400
    assert 'data-testid="form-error">Choose a reason for cancellation.<' in response.text
    assert 'data-testid="cancel-form"' in response.text
    assert "&lt;b&gt;keep me&lt;/b&gt;</textarea>" in response.text
    assert snapshot(conn) == before


def test_memo_over_1000_characters_is_refused(client, conn, unshipped):
    form = form_of(client, unshipped) | {"reason": "NoInventory", "memo": "m" * 1001}
    before = snapshot(conn)
    response = client.post(f"/orders-v3/order/{unshipped}/cancel", data=form)
    assert response.status_code == 400
    assert "at most 1000 characters" in response.text
    assert snapshot(conn) == before


def test_cancel_selected_items_cancels_those_quantities(client, conn):
    oid = order_id(seed.CASES["multi_item_2"])
    items = conn.execute(
        "SELECT id, quantity FROM order_items WHERE order_id = ? ORDER BY id", (oid,)
    ).fetchall()
    assert len(items) > 1
    form = form_of(client, oid) | {"reason": "NoInventory", "scope": "items"}
    for item in items:
        form[f"qty_{item['id']}"] = "0"
    form[f"qty_{items[0]['id']}"] = "1"
    response = client.post(f"/orders-v3/order/{oid}/cancel", data=form)
    assert response.status_code == 303
    shown = client.get(response.location).text
    assert 'data-testid="cancel-confirmation"' in shown
    cancelled = conn.execute(
        "SELECT id, quantity_cancelled FROM order_items WHERE order_id = ? ORDER BY id", (oid,)
    ).fetchall()
    assert [row["quantity_cancelled"] for row in cancelled] == [1] + [0] * (len(items) - 1)
    assert order_row(conn, oid)["status"] != "Canceled"


@pytest.mark.parametrize(
    "quantities",
    [{"first": "-1"}, {"first": "99"}, {"first": "1.5"}, {"first": "one"}, {"first": "0"}, {}],
)
def test_bad_quantities_are_a_form_error(client, conn, quantities):
    oid = order_id(seed.CASES["multi_item"])
    items = conn.execute(
        "SELECT id FROM order_items WHERE order_id = ? ORDER BY id", (oid,)
    ).fetchall()
    form = form_of(client, oid) | {"reason": "NoInventory", "scope": "items"}
    for item in items:
        form[f"qty_{item['id']}"] = "0"
    if "first" in quantities:
        form[f"qty_{items[0]['id']}"] = quantities["first"]
    else:
        for item in items:
            del form[f"qty_{item['id']}"]
    before = snapshot(conn)
    response = client.post(f"/orders-v3/order/{oid}/cancel", data=form)
    assert response.status_code == 400
    assert 'data-testid="form-error">Enter a whole number' in response.text
    assert snapshot(conn) == before


@pytest.mark.parametrize("case", ["pending", "pending_new", "shipped"])
def test_pending_and_shipped_orders_cannot_be_cancelled(client, conn, case):
    oid = order_id(seed.CASES[case])
    page = client.get(f"/orders-v3/order/{oid}/cancel").text
    assert 'data-testid="not-cancellable">This order can no longer be canceled.<' in page
    assert "cancel-form" not in page
    token = csrf_of(client.get("/orders-v3/").text)
    before = snapshot(conn)
    response = client.post(
        f"/orders-v3/order/{oid}/cancel",
        data={"csrf_token": token, "reason": "NoInventory", "submit_token": "x" * 20},
    )
    assert 'data-testid="not-cancellable"' in response.text
    assert snapshot(conn) == before


def test_order_shipped_between_page_and_submit_is_not_cancellable(client, conn, unshipped):
    form = form_of(client, unshipped) | {"reason": "NoInventory"}
    with db.transaction(conn):
        conn.execute("UPDATE orders SET status = 'Shipped' WHERE id = ?", (unshipped,))
    response = client.post(f"/orders-v3/order/{unshipped}/cancel", data=form)
    assert response.status_code == 200
    assert 'data-testid="not-cancellable"' in response.text
    assert order_row(conn, unshipped)["cancel_events"] == 0


def test_another_sellers_order_is_not_found(client, conn):
    oid = order_id(1, "114")
    assert client.get(f"/orders-v3/order/{oid}/cancel").status_code == 404
    token = csrf_of(client.get("/orders-v3/").text)
    before = snapshot(conn)
    response = client.post(
        f"/orders-v3/order/{oid}/cancel", data={"csrf_token": token, "reason": "NoInventory"}
    )
    assert response.status_code == 404
    assert 'data-testid="no-results">No orders found<' in response.text
    assert snapshot(conn) == before


def test_stale_csrf_token_changes_nothing(client, conn, unshipped):
    form = form_of(client, unshipped) | {"reason": "NoInventory", "csrf_token": "stale"}
    before = snapshot(conn)
    response = client.post(f"/orders-v3/order/{unshipped}/cancel", data=form)
    assert response.status_code == 400
    assert 'data-testid="csrf-error"' in response.text
    assert snapshot(conn) == before


def test_expired_session_on_submit_goes_to_signin_and_changes_nothing(app, conn, unshipped):
    anonymous = app.test_client()
    token = csrf_of(anonymous.get("/ap/signin").text)
    before = snapshot(conn)
    response = anonymous.post(
        f"/orders-v3/order/{unshipped}/cancel", data={"csrf_token": token, "reason": "NoInventory"}
    )
    assert response.status_code == 302
    assert response.location == f"/ap/signin?next=/orders-v3/order/{unshipped}/cancel"
    assert snapshot(conn) == before


def test_flagged_order_form_explains_what_counts(client):
    oid = order_id(seed.CASES["flagged"])
    page = client.get(f"/orders-v3/order/{oid}/cancel").text
    assert 'data-testid="buyer-request-banner"' in page
    assert "Buyer Canceled on a buyer&#39;s official request does not count" in page
