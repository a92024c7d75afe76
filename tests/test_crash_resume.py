"""Crash safety: a bulk run killed with SIGKILL at random moments and resumed each time ends
with every order cancelled exactly once, none skipped, and the journal agreeing with the
portal."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from journal_probe import done_rows

from agent.bulk.journal import Journal
from mock_portal.testing import running_portal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ORDERS = 300
WORKERS = 4
KILLS = 3


def start(args, tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    with open(tmp_path / "bulk.log", "a") as log:
        return subprocess.Popen(
            [
                str(Path(sys.executable).with_name("seller-agent")),
                "cancel",
                "--yes",
                "--journal",
                str(tmp_path / "journal.db"),
                "-q",
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            # Its own process group: the kill takes Chromium and Playwright's driver down too,
            # the way a power cut or an OOM kill of the whole job would.
            start_new_session=True,
        )


def kill_when(process, journal_path, threshold, extra_delay, stall_limit=180):
    """SIGKILL the run's whole process group once `threshold` rows are done plus a moment,
    so the kill lands anywhere: between rows, mid-flow, mid-commit."""
    seen, last_change = -1, time.monotonic()
    while (done := done_rows(journal_path)) < threshold:
        assert process.poll() is None, "the run ended before it could be killed"
        if done != seen:
            seen, last_change = done, time.monotonic()
        assert time.monotonic() - last_change < stall_limit, f"no progress past {done} rows"
        time.sleep(0.05)
    time.sleep(extra_delay)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_sigkill_at_random_moments_then_resume(tmp_path):
    rng = random.Random(int(os.environ.get("CRASH_SEED", "20261126")))
    journal_path = tmp_path / "journal.db"
    with running_portal(seed=9, orders=520) as portal:
        unshipped = portal.orders(status="Unshipped", seller="seller@example.com")
        ids = [order["order_id"] for order in unshipped if order["status"] == "Unshipped"][:ORDERS]
        assert len(ids) == ORDERS, "the seed gives too few Unshipped orders"
        (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
        first = [
            "--from",
            str(tmp_path / "ids.txt"),
            "--reason",
            "NoInventory",
            "--portal",
            portal.url,
            "--workers",
            str(WORKERS),
            "--max-cancel-rate",
            "100",
        ]
        thresholds = sorted(rng.sample(range(5, ORDERS - 40), KILLS))
        args = first
        for threshold in thresholds:
            process = start(args, tmp_path)
            kill_when(process, journal_path, threshold, rng.uniform(0, 1.5))
            args = ["--resume", "last", "--workers", str(WORKERS)]
        final = start(args, tmp_path)
        assert final.wait(timeout=900) == 0, (tmp_path / "bulk.log").read_text()[-3000:]

        with Journal(journal_path) as journal:
            assert len(journal.runs()) == 1
            run_id = journal.last_run_id()
            rows = {row.key: row for row in journal.rows(run_id)}
            assert journal.run(run_id).status == "finished"
        assert sorted(rows) == sorted(ids)
        # None skipped: every row reached an outcome.
        assert {row.state for row in rows.values()} == {"done"}
        # Rows killed mid-flow were replayed through the guard; at most one per worker per kill.
        resumed = [row for row in rows.values() if row.resumed]
        assert len(resumed) <= WORKERS * KILLS
        for row in rows.values():
            assert row.outcome in ("cancelled", "already_cancelled"), row
            if row.outcome == "already_cancelled":
                # Only a row that may have acted before a kill can find its order already
                # cancelled: the cancellation was this run's own.
                assert row.resumed, row
        # Cancelled exactly once each, with this run's reason, as the journal says.
        orders = {order["order_id"]: order for order in portal.orders(seller="seller@example.com")}
        for order_id in ids:
            order = orders[order_id]
            assert order["status"] == "Canceled", order
            assert order["cancel_events"] == 1, order
            assert order["cancelled_by"] == "seller" and order["cancel_reason"] == "NoInventory"
        emails = [m for m in portal.mail() if m["kind"] == "cancellation" and m["order_id"] in rows]
        assert len(emails) == 2 * ORDERS


def test_ctrl_c_once_finishes_rows_in_flight_then_resume(tmp_path):
    journal_path = tmp_path / "journal.db"
    with running_portal(seed=10, orders=70) as portal:
        unshipped = portal.orders(status="Unshipped", seller="seller@example.com")
        ids = [order["order_id"] for order in unshipped if order["status"] == "Unshipped"][:24]
        process = start(
            [*ids, "--reason", "NoInventory", "--portal", portal.url, "--workers", "2",
             "--max-cancel-rate", "100"],
            tmp_path,
        )  # fmt: skip
        while done_rows(journal_path) < 3:
            assert process.poll() is None, (tmp_path / "bulk.log").read_text()[-2000:]
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=120) == 1
        with Journal(journal_path) as journal:
            run_id = journal.last_run_id()
            counts = journal.counts(run_id)
            assert journal.run(run_id).status == "interrupted"
        # The rows in flight finished; nothing is left half-done; the rest waits.
        assert counts["running"] == 0 and counts["pending"] > 0
        assert counts["done"] + counts["pending"] == len(ids)
        for order_id in ids:
            assert portal.order(order_id)["cancel_events"] <= 1
        resumed = start(["--resume", run_id, "--workers", "2"], tmp_path)
        assert resumed.wait(timeout=600) == 0, (tmp_path / "bulk.log").read_text()[-2000:]
        with Journal(journal_path) as journal:
            rows = journal.rows(run_id)
        assert {row.outcome for row in rows} == {"cancelled"}
        assert not any(row.resumed for row in rows)
        assert all(portal.order(order_id)["cancel_events"] == 1 for order_id in ids)
