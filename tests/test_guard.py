import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.cancel.guard import (
    GuardError,
    Metrics,
    PlannedOrder,
    counts_toward_rate,
    fetch_api_snapshot,
    metrics_from_api,
    planned_orders,
    project_rate,
)


def test_only_buyer_canceled_with_an_official_request_is_free():
    assert not counts_toward_rate("BuyerCanceled", "official")
    assert counts_toward_rate("BuyerCanceled", "message")
    assert counts_toward_rate("BuyerCanceled", None)
    assert counts_toward_rate("NoInventory", "official")
    assert counts_toward_rate(None, None)


def test_projection_counts_orders_and_lists_unofficial_buyer_canceled():
    before = Metrics(cancelled=1, total=200)
    orders = [
        PlannedOrder("A", "BuyerCanceled", "official", "Unshipped"),
        PlannedOrder("B", "BuyerCanceled", "message", "Unshipped"),
        PlannedOrder("C", "NoInventory", None, "Unshipped"),
        PlannedOrder("D", "BuyerCanceled", None, None),
        PlannedOrder("E", "NoInventory", None, "Shipped"),
        PlannedOrder("F", "NoInventory", None, "Canceled"),
    ]
    projection = project_rate(before, orders, limit=2.5)
    assert projection.counted == ["B", "C", "D"]
    assert projection.not_counted == ["A"]
    assert projection.unchanged == ["E", "F"]
    assert projection.buyer_canceled_unofficial == ["B", "D"]
    assert projection.after == Metrics(cancelled=4, total=200)
    assert projection.before.rate == pytest.approx(0.5)
    assert projection.after.rate == pytest.approx(2.0)
    assert not projection.over_limit
    lines = projection.summary_lines()
    assert lines[0].startswith("Order Cancellation Rate: 0.50% now, 2.00% after this run")
    assert "(3 of the orders count, 1 does not; limit 2.5%)" in lines[0]
    one = project_rate(before, orders[2:3], limit=2.5).summary_lines()[0]
    assert "(1 of the orders counts, 0 do not; limit 2.5%)" in one
    assert (
        "2 orders use Buyer Canceled without an official buyer request, so they count: B, D"
        in lines[1]
    )


def test_one_unofficial_buyer_canceled_order_is_named_in_the_singular():
    projection = project_rate(Metrics(0, 100), [PlannedOrder("Q", "BuyerCanceled", None)])
    assert projection.summary_lines()[1] == (
        "1 order uses Buyer Canceled without an official buyer request, so it counts: Q"
    )


def test_over_the_limit_needs_an_override():
    projection = project_rate(Metrics(4, 200), [PlannedOrder("X", "NoInventory")], limit=2.5)
    assert projection.after.rate == pytest.approx(2.5) and not projection.over_limit
    projection = project_rate(Metrics(5, 200), [PlannedOrder("X", "NoInventory")], limit=2.5)
    assert projection.over_limit
    assert "needs an explicit override" in projection.summary_lines()[-1]
    assert (
        project_rate(Metrics(5, 200), [PlannedOrder("X", "NoInventory")], limit=5).over_limit
        is False
    )


def test_empty_window_has_rate_zero():
    assert Metrics(0, 0).rate == 0.0


def test_metrics_from_the_portal_api_answer():
    assert metrics_from_api({"rate": 0.01, "cancelled": 2, "total": 200}) == Metrics(2, 200)
    with pytest.raises(GuardError, match="unexpected metrics answer"):
        metrics_from_api({"rate": 0.01})


def test_planned_orders_join_portal_records():
    known = {
        "A": {"status": "Unshipped", "buyer_request_kind": "official"},
        "B": {"status": "Unshipped", "buyer_requested": True},
    }
    planned = planned_orders([("A", "BuyerCanceled"), ("B", None), ("C", "NoInventory")], known)
    assert planned == [
        PlannedOrder("A", "BuyerCanceled", "official", "Unshipped"),
        PlannedOrder("B", None, "official", "Unshipped"),
        PlannedOrder("C", "NoInventory", None, None),
    ]


@pytest.fixture
def api_server():
    answers = {
        "/mock/api/metrics": {"rate": 0.005, "cancelled": 1, "total": 200},
        "/mock/api/orders": {"orders": [{"order_id": "A", "status": "Unshipped"}]},
    }
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # the stdlib's name
            seen.append((self.path, self.headers.get("Authorization")))
            path = self.path.split("?")[0]
            if path.startswith("/html/"):
                # What a portal without the API answers: a page (its sign-in page, say).
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<!doctype html><title>Sign in</title>")
                return
            if path not in answers:
                self.send_error(404)
                return
            body = json.dumps(answers[path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_api_snapshot(api_server):
    url, seen = api_server
    metrics, orders = fetch_api_snapshot(url, seller="s@example.com", token="t0k")
    assert metrics == Metrics(1, 200)
    assert orders == {"A": {"order_id": "A", "status": "Unshipped"}}
    assert seen[0] == ("/mock/api/metrics?seller=s%40example.com", "Bearer t0k")


def test_fetch_api_snapshot_errors(api_server):
    # A portal that answers without the API (so its pages are worth reading instead) is told
    # apart from one that cannot be reached at all.
    url, _ = api_server
    with pytest.raises(GuardError, match="answered HTTP 404") as no_api:
        fetch_api_snapshot(url + "/prefix")
    assert no_api.value.answered
    with pytest.raises(GuardError, match="mock/api/metrics is not an inspection API") as page:
        fetch_api_snapshot(url + "/html")
    assert page.value.answered
    with pytest.raises(GuardError, match="cannot read mock/api/metrics") as unreachable:
        fetch_api_snapshot("http://127.0.0.1:9", timeout=2)
    assert not unreachable.value.answered


def test_a_run_that_does_not_raise_an_already_high_rate_is_not_refused():
    high = Metrics(cancelled=8, total=200)  # 4%, above the 2.5% limit already
    free = [PlannedOrder("A", "BuyerCanceled", "official", "Unshipped")]
    projection = project_rate(high, free, limit=2.5)
    assert projection.after == high and not projection.raises_rate
    assert not projection.over_limit
    lines = projection.summary_lines()
    assert lines[-1] == (
        "The rate is already above 2.5%; none of this run's orders count toward it, so the run "
        "does not change it."
    )
    assert not any("raise" in line for line in lines)
    # Orders that cannot be cancelled change nothing either.
    shipped = [PlannedOrder("B", "NoInventory", None, "Shipped")]
    assert not project_rate(high, shipped, limit=2.5).over_limit
    # One order that counts raises the rate further above the limit: refused.
    counted = project_rate(high, [PlannedOrder("C", "NoInventory", None, "Unshipped")], 2.5)
    assert counted.over_limit
    assert counted.summary_lines()[-1] == (
        "This run would raise the rate above 2.5%: it needs an explicit override (a higher "
        "--max-cancel-rate)."
    )


def test_the_refusal_names_the_rise(monkeypatch):
    from agent.bulk.rows import InputRow, RowSet
    from agent.cancel import guard, job

    monkeypatch.setattr(
        guard,
        "fetch_api_snapshot",
        lambda portal, **kwargs: (
            Metrics(cancelled=8, total=200),
            {
                "A": {"buyer_request_kind": "official", "status": "Unshipped"},
                "B": {"buyer_request_kind": None, "status": "Unshipped"},
            },
        ),
    )
    said = []

    def plan(*orders):
        rows = RowSet(
            rows=[InputRow(key, {"order_id": key, "reason": r}, "-", 1) for key, r in orders]
        )
        return job.check_rate(job.CancelRequest(), rows, said.append)

    projection, refusal = plan(("A", "BuyerCanceled"))
    assert refusal is None and projection.after.rate == pytest.approx(4.0)
    projection, refusal = plan(("A", "BuyerCanceled"), ("B", "BuyerCanceled"))
    assert refusal == (
        "the run would raise the Order Cancellation Rate from 4.00% to 4.50% (limit 2.5%); "
        "pass --max-cancel-rate 4.50 or more to run it anyway"
    )


def test_the_refusal_is_english_for_json_and_the_log_and_chinese_for_people(monkeypatch):
    from agent.bulk.rows import InputRow, RowSet
    from agent.cancel import guard, job
    from agent.i18n import shown, using

    monkeypatch.setattr(
        guard,
        "fetch_api_snapshot",
        lambda portal, **kwargs: (
            Metrics(cancelled=8, total=200),
            {"B": {"buyer_request_kind": None, "status": "Unshipped"}},
        ),
    )
    rows = RowSet(rows=[InputRow("B", {"order_id": "B", "reason": "NoInventory"}, "-", 1)])
    with using("zh-CN"):
        _, refusal = job.check_rate(job.CancelRequest(), rows, lambda line: None)
    assert str(refusal) == (
        "the run would raise the Order Cancellation Rate from 4.00% to 4.50% (limit 2.5%); "
        "pass --max-cancel-rate 4.50 or more to run it anyway"
    )
    assert shown(refusal) == (
        "本次运行会让订单取消率从 4.00% 升到 4.50%（上限 2.5%）；如仍要运行，请加上 "
        "--max-cancel-rate 4.50 或更高"
    )
