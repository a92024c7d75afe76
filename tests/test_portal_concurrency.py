"""Eight simultaneous cancellations of one order cancel it once and mail each party once:
from threads on the domain function, over HTTP through the API, and through the real
Cancel order form of a running portal."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from mock_portal import db, mail, orders
from mock_portal.testing import PortalClient

RACERS = 8
DEMO_EMAIL = "seller@example.com"
DEMO_PASSWORD = "demo-password"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def race(work: Callable[[int], str]) -> Counter:
    """Run `work(i)` in RACERS threads released at the same instant; count the outcomes."""
    barrier = threading.Barrier(RACERS)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcome = work(index)
        except BaseException as error:  # reported below, with the others
            with lock:
                errors.append(error)
            return
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return Counter(outcomes)


def assert_cancelled_once(order: dict, sent: list[dict]) -> None:
    assert order["status"] == "Canceled"
    assert order["cancel_events"] == 1
    assert sum(1 for entry in order["history"] if entry["event"] == "cancelled") == 1
    recipients = Counter(m["to"] for m in sent if m["kind"] == "cancellation")
    assert recipients == Counter({DEMO_EMAIL: 1, order["buyer_email"]: 1})


def test_domain_function_from_eight_threads(domain_conn):
    oid = domain_conn.execute(
        "SELECT id FROM orders WHERE status = 'Unshipped' AND buyer_request_kind IS NULL "
        "AND id LIKE '112-%' ORDER BY id DESC LIMIT 1"
    ).fetchone()[0]
    path = domain_conn.execute("PRAGMA database_list").fetchone()["file"]
    seller_id = orders.seller_id_for(domain_conn, DEMO_EMAIL)

    def work(index: int) -> str:
        conn = db.connect(path)
        try:
            return orders.cancel_order(
                conn,
                seller_id=seller_id,
                order_id=oid,
                reason="NoInventory",
                submit_token=f"form-{index}",
            ).outcome
        finally:
            conn.close()

    outcomes = race(work)
    assert outcomes == Counter({"cancelled": 1, "already_cancelled": RACERS - 1})
    assert_cancelled_once(
        orders.get_order(domain_conn, seller_id, oid), mail.list_mail(domain_conn, order_id=oid)
    )


def test_api_cancellations_over_http(portal, unshipped_orders):
    (oid,) = unshipped_orders(1)

    def work(_index: int) -> str:
        return portal.api_post(f"/mock/api/orders/{oid}/cancel", {"reason": "PricingError"})[
            "outcome"
        ]

    assert race(work) == Counter({"cancelled": 1, "already_cancelled": RACERS - 1})
    sent = portal.api_get(f"/mock/api/mail?order_id={oid}")["mail"]
    assert_cancelled_once(portal.order(oid), sent)


@pytest.fixture(scope="module")
def signed_in_clients(portal) -> list[PortalClient]:
    clients = []
    for _ in range(RACERS):
        client = PortalClient(portal.url)
        client.sign_in(DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOTP_SECRET)
        clients.append(client)
    yield clients
    for client in clients:
        client.close()


@pytest.mark.parametrize("same_form", [False, True], ids=["eight-forms", "one-form-eight-posts"])
def test_cancel_form_over_http(portal, unshipped_orders, signed_in_clients, same_form):
    (oid,) = unshipped_orders(1)
    forms = [client.cancel_form(oid) for client in signed_in_clients]
    assert all(status == 200 for status, _ in forms)
    assert len({fields["submit_token"] for _, fields in forms}) == RACERS
    if same_form:
        # A double click or a retried POST: every request carries the same submit token
        # (each client keeps its own session's CSRF token).
        token = forms[0][1]["submit_token"]
        for _, fields in forms:
            fields["submit_token"] = token

    def work(index: int) -> str:
        client = signed_in_clients[index]
        return client.submit_cancel(oid, forms[index][1], reason="NoInventory")

    outcomes = race(work)
    if same_form:
        assert outcomes == Counter({"cancelled": RACERS})
    else:
        assert outcomes == Counter({"cancelled": 1, "already_cancelled": RACERS - 1})
    sent = portal.api_get(f"/mock/api/mail?order_id={oid}")["mail"]
    assert_cancelled_once(portal.order(oid), sent)
    # The confirmation page names the order.
    status, _, page = signed_in_clients[0].get(f"/orders-v3/order/{oid}")
    assert status == 200 and oid in page
