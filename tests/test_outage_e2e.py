"""The portal's own trouble, end to end: `seller-agent cancel` with a real Chromium against a
real portal that goes away (SIGKILL) and comes back on the same database and port, or throttles
with a burst of 429s; and --from-requests on a portal where two sellers' buyers asked to
cancel. Each is checked through the portal's books: no order cancelled more than once."""

import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from journal_probe import done_rows

from agent.bulk.journal import Journal
from mock_portal.seed import SECOND_SELLER
from mock_portal.testing import PortalProcess, running_portal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SELLER_AGENT = str(Path(sys.executable).with_name("seller-agent"))
DEMO = "seller@example.com"
OUTAGE_SECONDS = 60


def environment(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    for name in ("SELLER_AGENT_PORTAL", "SELLER_AGENT_API_TOKEN", "SELLER_AGENT_EMAIL"):
        env.pop(name, None)
    return env


def cancel_command(tmp_path, *args):
    return [SELLER_AGENT, "cancel", "--journal", str(tmp_path / "journal.db"), "--yes", *args]


def run_cancel(tmp_path, *args, timeout=900):
    return subprocess.run(
        cancel_command(tmp_path, *args),
        cwd=ROOT,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def not_ok(tmp_path):
    """The rows that did not end well, with what the journal says of them (for a failure's
    message)."""
    _, rows, _ = the_run(tmp_path)
    return [
        (row.key, row.state, row.outcome, row.error_kind, row.error, row.values)
        for row in rows.values()
        if not (row.state == "done" and row.ok)
    ]


def the_run(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        run_id = journal.last_run_id()
        return (
            journal.run(run_id),
            {row.key: row for row in journal.rows(run_id)},
            journal.events(run_id),
        )


def test_a_portal_outage_mid_run_is_waited_out_and_no_order_fails_or_is_cancelled_twice(
    tmp_path,
):
    database = tmp_path / "portal.db"
    first = PortalProcess(db_path=database, seed=12, orders=200).start()
    second = None
    log = tmp_path / "cancel.log"
    try:
        unshipped = first.orders(status="Unshipped", seller=DEMO)
        ids = [order["order_id"] for order in unshipped][:100]
        assert len(ids) == 100, "the seed gives too few Unshipped orders"
        (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
        port = urllib.parse.urlsplit(first.url).port
        with log.open("w") as stderr:
            run = subprocess.Popen(
                cancel_command(
                    tmp_path,
                    "--from", str(tmp_path / "ids.txt"), "--reason", "NoInventory",
                    "--portal", first.url, "--workers", "3", "--max-cancel-rate", "100",
                ),
                cwd=ROOT,
                env=environment(tmp_path),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )  # fmt: skip
        try:
            while done_rows(tmp_path / "journal.db") < 30:
                assert run.poll() is None, log.read_text()[-3000:]
                time.sleep(0.05)
            # The portal dies mid-run, whatever it was doing, and stays away for a while.
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(timeout=30)
            gone_at = done_rows(tmp_path / "journal.db")
            time.sleep(OUTAGE_SECONDS)
            assert run.poll() is None, log.read_text()[-3000:]
            # Rows waited instead of failing: nothing got done, nothing failed meanwhile.
            _, rows, events = the_run(tmp_path)
            assert not [row for row in rows.values() if row.state == "failed"]
            assert done_rows(tmp_path / "journal.db") <= gone_at + 3
            assert [event.kind for event in events if event.ended_at is None] == [
                "active",
                "outage",
            ]
            assert "portal unreachable since " in log.read_text()
            second = PortalProcess(db_path=database, seed=12, orders=200, port=port).start()
            assert run.wait(timeout=600) == 0, (log.read_text()[-3000:], not_ok(tmp_path))
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
        record, rows, events = the_run(tmp_path)
        assert record.status == "finished"
        assert sorted(rows) == sorted(ids)
        assert {row.state for row in rows.values()} == {"done"}
        assert all(row.ok for row in rows.values())
        outages = [event for event in events if event.kind == "outage"]
        assert len(outages) == 1 and outages[0].ended_at is not None
        assert outages[0].seconds >= OUTAGE_SECONDS - 5
        said = log.read_text()
        assert "Ctrl-C to stop and resume later" in said and "portal answers again after" in said
        assert re.search(r"Pause: 1 \(1 min \d\d s; the portal's trouble, not the rows'\)", said), (
            said
        )
        run_log = Path(record.options["log"]).read_text()
        assert "portal unreachable since" in run_log and "portal answers again" in run_log
        # The rows the outage caught were played again, which is no attempt of theirs.
        replayed = [row for row in rows.values() if row.replays]
        assert replayed and all(row.attempts == 1 for row in replayed), replayed
        for row in replayed:
            assert (
                f"{row.key}: cancelled (" in run_log
                and f"{row.key}: cancelled after" not in run_log
            )
        assert "demo-password" not in run_log and "JBSWY3DPEHPK3PXP" not in run_log
        # The portal's books: every order cancelled once, with this run's reason.
        books = {order["order_id"]: order for order in second.orders(seller=DEMO)}
        for order_id in ids:
            order = books[order_id]
            assert (order["status"], order["cancel_events"]) == ("Canceled", 1), order
            assert order["cancel_reason"] == "NoInventory"
        assert all(order["cancel_events"] <= 1 for order in second.orders())
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_burst_of_429s_slows_the_run_and_fails_no_row(tmp_path):
    with running_portal(seed=13, orders=60) as portal:
        ids = [order["order_id"] for order in portal.orders(status="Unshipped", seller=DEMO)][:20]
        assert len(ids) == 20
        (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
        sent = []

        def burst(stop):
            while done_rows(tmp_path / "journal.db") < 3:
                if stop.wait(0.1):
                    return
            sent.append(portal.api_post("/mock/api/faults", {"burst_429": 10, "retry_after": 1}))

        stop = threading.Event()
        sender = threading.Thread(target=burst, args=(stop,), daemon=True)
        sender.start()
        try:
            # One attempt per order: a 429 that cost an order its attempt would fail it.
            result = run_cancel(
                tmp_path,
                "--from", str(tmp_path / "ids.txt"), "--reason", "NoInventory",
                "--portal", portal.url, "--workers", "3", "--attempts", "1",
                "--max-cancel-rate", "100",
            )  # fmt: skip
        finally:
            stop.set()
            sender.join(timeout=10)
        assert sent, result.stderr[-3000:]
        assert result.returncode == 0, result.stderr[-3000:]
        assert portal.api_get("/mock/api/faults")["counters"]["throttled"] == 10
        record, rows, events = the_run(tmp_path)
        assert {row.outcome for row in rows.values()} == {"cancelled"}
        # Throttled tries are replays, not attempts.
        assert {row.attempts for row in rows.values()} == {1}
        assert sum(row.replays for row in rows.values()) > 0
        throttled = [event for event in events if event.kind == "throttled"]
        assert throttled and all(event.ended_at for event in throttled)
        assert "portal throttling (HTTP 429, Retry-After 1 s)" in result.stderr
        for order_id in ids:
            order = portal.order(order_id)
            assert (order["status"], order["cancel_events"]) == ("Canceled", 1), order
        assert all(order["cancel_events"] <= 1 for order in portal.orders())


def test_from_requests_picks_only_the_signed_in_sellers_requests(tmp_path):
    with running_portal(seed=14, orders=60) as portal:
        others = portal.orders(status="Unshipped", seller=SECOND_SELLER["email"])
        theirs = next(o["order_id"] for o in others if o["buyer_request_kind"] is None)
        assert portal.api_post("/mock/api/buyer-requests", {"order_id": theirs})["outcome"]
        before = {order["order_id"]: order for order in portal.orders()}
        official = sorted(
            order_id
            for order_id, order in before.items()
            if order["seller"] == DEMO
            and order["status"] == "Unshipped"
            and order["buyer_request_kind"] == "official"
        )
        messages = sorted(
            order_id
            for order_id, order in before.items()
            if order["seller"] == DEMO
            and order["status"] == "Unshipped"
            and order["buyer_request_kind"] == "message"
        )
        assert official and messages
        result = run_cancel(tmp_path, "--from-requests", "--portal", portal.url, "--workers", "2")
        assert result.returncode == 0, result.stderr[-3000:]
        _, rows, _ = the_run(tmp_path)
        assert sorted(rows) == official
        assert {row.outcome for row in rows.values()} == {"cancelled"}
        count = len(messages)
        assert (
            f"Left out {count} order{'' if count == 1 else 's'} whose buyer only sent a message "
            f"asking to cancel, not an official request: {', '.join(messages)}" in result.stderr
        )
        after = {order["order_id"]: order for order in portal.orders()}
        # The other seller's order is untouched; this seller's requested ones cancelled once.
        assert after[theirs]["status"] == "Unshipped" and after[theirs]["cancel_events"] == 0
        for order_id, order in after.items():
            if order_id in rows:
                assert (order["status"], order["cancel_events"]) == ("Canceled", 1), order
                assert not order["counts_toward_rate"]
            else:
                assert order["cancel_events"] == before[order_id]["cancel_events"] <= 1
        changed = collections.Counter(
            order_id
            for order_id in after
            if after[order_id]["status"] != before[order_id]["status"]
        )
        assert set(changed) == set(official)
