"""The bulk engine end to end: `seller-agent cancel` with a real Chromium against a live
portal, checked through the portal's inspection API."""

import collections
import csv
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from journal_probe import done_rows

from agent.bulk.journal import Journal
from agent.cancel.guard import metrics_from_api
from mock_portal.testing import running_portal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
# The command users run, from the same environment as the tests.
SELLER_AGENT = str(Path(sys.executable).with_name("seller-agent"))
DEMO = "seller@example.com"
MISSING = ["999-9999999-9999901", "999-9999999-9999902"]


def run_bulk_cli(args, tmp_path, timeout=1800):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("SELLER_AGENT_PORTAL", None)
    env.pop("SELLER_AGENT_API_TOKEN", None)
    return subprocess.run(
        [SELLER_AGENT, "cancel", "--journal", str(tmp_path / "journal.db"), "--yes", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def expected_outcome(order):
    if order["seller"] != DEMO:
        return "not_found"
    if order["status"] == "Canceled":
        return "already_cancelled"
    if order["status"] in ("Unshipped", "PartiallyShipped"):
        return "cancelled"
    return "not_cancellable"


def choose_orders(portal, count):
    """A mix that meets every outcome: the demo seller's orders in every status, another
    seller's orders and ids that exist nowhere (not found)."""
    everything = portal.orders()
    others = [order for order in everything if order["seller"] != DEMO][:3]
    mine = [order for order in everything if order["seller"] == DEMO]
    return mine[: count - len(others) - len(MISSING)] + others


def write_orders_csv(path, orders):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "reason", "memo"])
        for order in orders:
            # Officially requested orders are cancelled as the buyer asked: free for the rate.
            reason = (
                "BuyerCanceled" if order["buyer_request_kind"] == "official" else "No Inventory"
            )
            writer.writerow([order["order_id"], reason, "bulk test"])
        for order_id in MISSING:
            writer.writerow([order_id, "", ""])


def check_portal_agrees(portal, before, rows):
    """Each order cancelled exactly once, by the seller with the row's reason, with one email
    to the seller and one to the buyer; nothing else changed."""
    after = {order["order_id"]: order for order in portal.orders()}
    mail = collections.defaultdict(list)
    for item in portal.mail():
        if item["kind"] == "cancellation":
            mail[item["order_id"]].append(item)
    for order_id, order in before.items():
        now = after[order_id]
        row = rows.get(order_id)
        if row is not None and row.outcome == "cancelled":
            assert now["status"] == "Canceled" and now["cancelled_by"] == "seller", order_id
            assert now["cancel_events"] == 1, order_id
            assert now["cancel_reason"] == row.params["reason"], order_id
            recipients = sorted(item["to"] for item in mail[order_id])
            assert recipients == sorted([order["seller"], order["buyer_email"]]), order_id
        else:
            assert now["status"] == order["status"], order_id
            assert now["cancel_events"] == order["cancel_events"] <= 1, order_id


def test_200_orders_with_4_workers(tmp_path):
    with running_portal(seed=5, orders=230) as portal:
        chosen = choose_orders(portal, 200)
        before = {order["order_id"]: order for order in portal.orders()}
        source = tmp_path / "orders.csv"
        write_orders_csv(source, chosen)
        result = run_bulk_cli(
            [
                "--from",
                str(source),
                "--portal",
                portal.url,
                "--workers",
                "4",
                "--max-cancel-rate",
                "100",
                "--report",
                str(tmp_path / "report.html"),
            ],
            tmp_path,
        )
        # Some rows end in non-success outcomes (not_found, not_cancellable): exit code 1.
        assert result.returncode == 1, result.stderr
        with Journal(tmp_path / "journal.db") as journal:
            run_id = journal.last_run_id()
            rows = {row.key: row for row in journal.rows(run_id)}
            assert journal.run(run_id).status == "finished"
        assert len(rows) == 200
        outcomes = collections.Counter(row.outcome for row in rows.values())
        assert set(outcomes) == {"cancelled", "already_cancelled", "not_cancellable", "not_found"}
        for order in chosen:
            assert rows[order["order_id"]].outcome == expected_outcome(order), order
        for order_id in MISSING:
            assert rows[order_id].outcome == "not_found"
        assert all(row.state == "done" and row.attempts == 1 for row in rows.values())
        check_portal_agrees(portal, before, rows)
        # One line per order on stdout; the summary table on stderr.
        assert len(result.stdout.strip().splitlines()) == 200
        assert f"Run {run_id}" in result.stderr
        assert f"{'Cancelled':<30} {outcomes['cancelled']:>5}" in result.stderr
        html = (tmp_path / "report.html").read_text()
        assert run_id in html and "demo-password" not in html and "JBSWY3DPEHPK3PXP" not in html
        # Resuming a finished run plays nothing and changes nothing.
        again = run_bulk_cli(["--resume", run_id, "--workers", "2"], tmp_path)
        assert again.returncode == 1, again.stderr
        check_portal_agrees(portal, before, rows)
        assert all(order["cancel_events"] <= 1 for order in portal.orders())


def test_faults_500s_stalls_429_bursts_and_session_expiry(tmp_path):
    with running_portal(seed=6, orders=200) as portal:
        chosen = [order for order in portal.orders() if order["seller"] == DEMO][:200]
        ids = [order["order_id"] for order in chosen]
        (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
        faults = {
            "error_rate": 0.10,
            "stall_rate": 0.01,
            "stall_seconds": 3,
            "expire_session_every": 50,
            "seed": 11,
        }
        assert portal.api_post("/mock/api/faults", faults).get("http_status") is None
        bursts_sent = []

        def send_429_bursts(stop):
            # Bursts while the workers are busy: after the sign-in, and again later on.
            for threshold in (20, 90):
                while done_rows(tmp_path / "journal.db") < threshold:
                    if stop.wait(0.2):
                        return
                portal.api_post("/mock/api/faults", {**faults, "burst_429": 12, "retry_after": 1})
                bursts_sent.append(threshold)

        stop = threading.Event()
        sender = threading.Thread(target=send_429_bursts, args=(stop,), daemon=True)
        sender.start()
        try:
            result = run_bulk_cli(
                ["--from", str(tmp_path / "ids.txt"), "--reason", "PricingError",
                 "--portal", portal.url, "--workers", "4", "--attempts", "6",
                 "--max-cancel-rate", "100"],
                tmp_path,
            )  # fmt: skip
        finally:
            stop.set()
            sender.join(timeout=10)
        assert bursts_sent == [20, 90], result.stderr[-2000:]
        with Journal(tmp_path / "journal.db") as journal:
            run_id = journal.last_run_id()
            failed = journal.counts(run_id)["failed"]
        if failed:
            # A row can be unlucky on every attempt; failed rows are resumable, faults still on.
            again = run_bulk_cli(
                ["--resume", run_id, "--retry-failed", "--attempts", "6"], tmp_path
            )
            assert again.returncode in (0, 1), again.stderr[-2000:]
        portal.api_delete("/mock/api/faults")
        with Journal(tmp_path / "journal.db") as journal:
            rows = {row.key: row for row in journal.rows(run_id)}
        assert len(rows) == len(ids)
        states = collections.Counter(row.state for row in rows.values())
        # Every order handled: an outcome for each, none left pending or running.
        assert states == {"done": len(ids)}, (states, result.stderr[-2000:])
        assert any(row.attempts > 1 for row in rows.values())
        for order in chosen:
            row = rows[order["order_id"]]
            wanted = expected_outcome(order)
            if wanted == "cancelled":
                # A retried row whose first attempt got through meets the guard; only such a
                # row may find its order already cancelled.
                assert row.outcome in ("cancelled", "already_cancelled"), (order, row)
                assert row.outcome == "cancelled" or row.attempts > 1, (order, row)
            else:
                assert row.outcome == wanted, (order, row)
        after = {order["order_id"]: order for order in portal.orders()}
        for order in chosen:
            now = after[order["order_id"]]
            assert now["cancel_events"] <= 1
            if expected_outcome(order) == "cancelled":
                assert now["status"] == "Canceled" and now["cancel_events"] == 1
                assert now["cancel_reason"] == "PricingError"
        assert result.returncode in (0, 1)


def test_input_errors_exit_2_and_write_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("order_id\n12-34\nnot-an-id\n")
    result = run_bulk_cli(["--from", str(bad), "--portal", "http://127.0.0.1:9"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {bad}: no valid order ids ({bad}:2: malformed order id '12-34')"
    )
    assert "Traceback" not in result.stderr
    strict = tmp_path / "mixed.txt"
    strict.write_text("111-1111111-1111111\n111-1111111-1111111\n")
    result = run_bulk_cli(["--from", str(strict), "--strict"], tmp_path)
    assert result.returncode == 2
    assert "duplicate order id 111-1111111-1111111 (first on line 1)" in result.stderr
    # Refused input leaves no trace: not even an empty journal.
    assert not (tmp_path / "journal.db").exists()


def test_rate_guard_refuses_without_override_and_dry_run_changes_nothing(tmp_path):
    with running_portal(seed=7, orders=40) as portal:
        orders = [
            o
            for o in portal.orders(status="Unshipped", seller=DEMO)
            if o["buyer_request_kind"] != "official"
        ][:6]
        ids = [order["order_id"] for order in orders]
        refused = run_bulk_cli(
            [*ids, "--reason", "BuyerCanceled", "--portal", portal.url], tmp_path
        )
        assert refused.returncode == 2
        last = refused.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: the run would raise the Order Cancellation Rate from ")
        assert "pass --max-cancel-rate" in last
        # Buyer Canceled without an official request counts: the plan names those orders.
        assert (
            f"6 orders use Buyer Canceled without an official buyer request, so they count: {ids[0]}"
            in refused.stderr
        )
        dry = run_bulk_cli(
            [
                *ids,
                "--reason",
                "BuyerCanceled",
                "--portal",
                portal.url,
                "--dry-run",
                "--workers",
                "2",
            ],
            tmp_path,
        )
        assert dry.returncode == 0, dry.stderr
        with Journal(tmp_path / "journal.db") as journal:
            rows = journal.rows(journal.last_run_id())
        assert [row.outcome for row in rows] == ["would_run"] * 6
        assert all(portal.order(order_id)["cancel_events"] == 0 for order_id in ids)
        assert json.dumps(portal.mail()).count('"cancellation"') == 0


def test_without_an_inspection_api_the_guard_reads_the_portals_own_pages(tmp_path):
    # The portal's API needs a token the run is not given: like a real portal, it has none
    # to offer. The projection then comes from Account Health and the request emails.
    with running_portal(seed=7, orders=40, api_token="not-for-the-run") as portal:
        truth = metrics_from_api(portal.api_get("/mock/api/metrics"))
        unshipped = portal.orders(status="Unshipped", seller=DEMO)
        official = [o["order_id"] for o in unshipped if o["buyer_request_kind"] == "official"]
        plain = [o["order_id"] for o in unshipped if o["buyer_request_kind"] != "official"][:2]
        assert official and len(plain) == 2
        ids = [official[0], *plain]
        dry = run_bulk_cli(
            [*ids, "--reason", "BuyerCanceled", "--portal", portal.url, "--dry-run"], tmp_path
        )
        assert dry.returncode == 0, dry.stderr
        assert "reading Account Health and the buyer requests in the browser" in dry.stderr
        after = 100 * (truth.cancelled + 2) / truth.total
        assert (
            f"Order Cancellation Rate: {truth.rate:.2f}% now, {after:.2f}% after this run "
            "(2 of the orders count, 1 does not" in dry.stderr
        )
        assert (
            "2 orders use Buyer Canceled without an official buyer request, so they count: "
            f"{plain[0]}, {plain[1]}" in dry.stderr
        )

        # --from-requests on such a portal: every order named in a request email.
        requested = run_bulk_cli(
            ["--from-requests", "--dry-run", "--portal", portal.url, "--max-cancel-rate", "100"],
            tmp_path,
        )
        assert requested.returncode in (0, 1), requested.stderr
        emailed = {m["order_id"] for m in portal.mail(to=DEMO) if m["kind"] == "buyer-request"}
        # The buyers who only wrote are named, read off the seller's own inbox: left out.
        written = sorted(
            o["order_id"]
            for o in portal.orders(seller=DEMO)
            if o["buyer_request_kind"] == "message"
        )
        assert written
        left_out = next(
            line for line in requested.stderr.splitlines() if line.startswith("Left out ")
        )
        assert f"only sent a message asking to cancel, not an official request: {written[0]}" in (
            left_out
        )
        assert all(order_id in left_out for order_id in written[:20])
        with Journal(tmp_path / "journal.db") as journal:
            rows = journal.rows(journal.last_run_id())
        assert {row.key for row in rows} == emailed
        assert set(official) <= emailed
        for row in rows:
            # A dry run stops before the submit; the guard sorts out the rest.
            expected = expected_outcome(portal.order(row.key))
            assert row.outcome == ("would_run" if expected == "cancelled" else expected), row.key

        assert json.dumps(portal.mail()).count('"cancellation"') == 0
