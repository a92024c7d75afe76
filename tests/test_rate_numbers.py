"""The rate guard's numbers and messages agree: the limit a refusal names is accepted, the plan,
the summary and the report show one projected rate, and only the seller's own cancellable
orders are counted. A small HTTP server stands in for the portal's inspection API."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from agent import report as report_mod
from agent.bulk.journal import Journal
from agent.bulk.rows import InputRow, RowSet
from agent.cancel.guard import Metrics, PlannedOrder, project_rate
from agent.cancel.job import CancelRequest, check_rate, read_buyer_requests

SELLER = "seller@example.com"
OTHER = "other@example.com"


def order(order_id, seller=SELLER, status="Unshipped", kind=None):
    return {
        "order_id": order_id,
        "seller": seller,
        "status": status,
        "buyer_request_kind": kind,
        "buyer_requested": kind == "official",
    }


@pytest.fixture
def inspection_api():
    """An inspection API with the portal's answer shapes: orders and metrics per seller (the
    demo seller when none is named, as the bundled portal does)."""
    state = {"orders": [], "metrics": {SELLER: (0, 100), OTHER: (0, 100)}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # the stdlib's name
            url = urlparse(self.path)
            seller = parse_qs(url.query).get("seller", [None])[0]
            if url.path == "/mock/api/orders":
                body = {"orders": [o for o in state["orders"] if seller in (None, o["seller"])]}
            elif url.path == "/mock/api/metrics":
                cancelled, total = state["metrics"][seller or SELLER]
                body = {"cancelled": cancelled, "total": total}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def rows(*order_ids, reason="NoInventory"):
    return RowSet(
        rows=[
            InputRow(key, {"order_id": key, "reason": reason}, "orders.csv", line)
            for line, key in enumerate(order_ids, start=2)
        ]
    )


def test_the_limit_a_refusal_names_is_accepted(inspection_api):
    url, state = inspection_api
    # 6 of 237 orders is 2.5316...%: shown as 2.53, a limit of 2.53 would still refuse it.
    state["metrics"][SELLER] = (5, 237)
    state["orders"] = [order("111-0000000-0000001")]
    said = []
    request = CancelRequest(portal=url)
    _, refusal = check_rate(request, rows("111-0000000-0000001"), said.append)
    assert refusal is not None
    limit = re.search(r"pass --max-cancel-rate (\S+) or more", refusal).group(1)
    request = CancelRequest(portal=url, max_cancel_rate=float(limit))
    _, again = check_rate(request, rows("111-0000000-0000001"), said.append)
    assert again is None
    # The refusal's figure is one the guard compares with: just below it still refuses.
    request = CancelRequest(portal=url, max_cancel_rate=float(limit) - 0.01)
    assert check_rate(request, rows("111-0000000-0000001"), said.append)[1]


def test_a_rate_just_over_the_limit_is_not_shown_as_equal_to_it():
    # 2.504% is over a 2.5% limit; "2.50% ... would exceed 2.5%" would contradict itself.
    projection = project_rate(Metrics(312, 12500), [PlannedOrder("X", "NoInventory")], 2.5)
    assert projection.over_limit
    assert projection.summary_lines()[0].startswith(
        "Order Cancellation Rate: 2.50% now, 2.504% after this run"
    )


def test_plan_summary_and_report_show_the_same_projected_rate(tmp_path):
    # 1 of 113 is 0.88495...%: rounding it twice (to 4 places, then 2) used to give 0.89.
    projection = project_rate(Metrics(0, 113), [PlannedOrder("X", "NoInventory", None, None)])
    plan = projection.summary_lines()[0]
    shown = re.search(r"now, (\S+) after this run", plan).group(1)
    assert shown == "0.88%"
    with Journal(tmp_path / "journal.db") as journal:
        run_id = journal.create_run(
            flow="cancel_order",
            params={},
            portal="http://127.0.0.1:9",
            rows=[("X", {"order_id": "X"})],
            options={"projection": projection.to_dict(), "max_cancel_rate": 2.5},
        )
        data = report_mod.build_report(journal, run_id)
    summary = report_mod.render_table(data)
    assert f"projected {shown}" in summary
    html = report_mod.render_html(data, tmp_path)
    assert f"projected {shown}" in html
    again = json.loads(report_mod.render_json(data))
    assert report_mod.format_rate(again["rate"]["after_projected"]) == shown


def test_the_projection_counts_only_the_sellers_own_cancellable_orders(inspection_api):
    url, state = inspection_api
    state["metrics"][SELLER] = (1, 200)
    state["metrics"][OTHER] = (0, 10)
    mine, shipped, cancelled = "111-0000000-0000001", "111-0000000-0000002", "111-0000000-0000003"
    theirs, unknown = "999-0000000-0000001", "111-0000000-0000009"
    state["orders"] = [
        order(mine),
        order(shipped, status="Shipped"),
        order(cancelled, status="Canceled"),
        order(theirs, seller=OTHER),
    ]
    said = []
    projection, refusal = check_rate(
        CancelRequest(portal=url),
        rows(mine, shipped, cancelled, theirs, unknown),
        said.append,
        seller=SELLER,
    )
    assert refusal is None
    assert projection.counted == [mine]
    assert projection.after == Metrics(cancelled=2, total=200)
    assert projection.unchanged == [shipped, cancelled]
    assert projection.not_found == [theirs, unknown]
    assert any("2 orders are not this seller's" in line for line in said)


def test_requested_orders_are_the_sellers_own(inspection_api):
    url, state = inspection_api
    state["orders"] = [
        order("111-0000000-0000001", kind="official"),
        order("111-0000000-0000002", kind="message"),
        order("111-0000000-0000003", kind="official", status="Canceled"),
        order("999-0000000-0000001", seller=OTHER, kind="official"),
    ]
    assert read_buyer_requests(url, seller=SELLER).official == ["111-0000000-0000001"]


@pytest.mark.slow
def test_on_the_bundled_portal_only_the_signed_in_sellers_orders_count(portal):
    from conftest import DEMO_EMAIL, SECOND_EMAIL

    mine = portal.orders(status="Unshipped", seller=DEMO_EMAIL)
    theirs = portal.orders(status="Unshipped", seller=SECOND_EMAIL)
    shipped = portal.orders(status="Shipped", seller=DEMO_EMAIL)
    assert mine and theirs and shipped
    own = next(o["order_id"] for o in mine if o["buyer_request_kind"] is None)
    ids = [own, theirs[0]["order_id"], shipped[0]["order_id"]]
    projection, _ = check_rate(
        CancelRequest(portal=portal.url, max_cancel_rate=100),
        rows(*ids),
        [].append,
        seller=DEMO_EMAIL,
    )
    assert projection.counted == [own]
    assert projection.not_found == [theirs[0]["order_id"]]
    assert projection.unchanged == [shipped[0]["order_id"]]
    assert projection.after.cancelled == projection.before.cancelled + 1
