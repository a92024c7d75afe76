"""`seller-agent run FLOW --rows FILE.csv`: one run per row through the bulk engine, with a
failing row, a stop on the failure budget, and a resume that plays the rest exactly once."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.bulk.journal import Journal
from mock_portal import seed
from mock_portal.testing import running_portal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A flow of the user's own: the order's details page, Cancel order, a reason, Submit. It has
# no guard on purpose, so an order without a Cancel order button fails its step.
FLOW = """\
name: cancel-from-details
params:
  order_id: {type: string, required: true}
  reason: {type: string, default: NoInventory}
session: login
timeout: 3000
steps:
  - goto: /orders-v3/order/{{ order_id }}
  - click: {testid: cancel-order}
  - select: {target: {testid: cancel-reason}, option: '{{ reason }}'}
  - click: {testid: cancel-submit}
outcomes:
  cancelled: {testid: cancel-confirmation}
"""


def seller_agent(*args: str, env_home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("seller-agent")), *args],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SELLER_AGENT_")},
            "XDG_DATA_HOME": str(env_home / "data"),
        },
    )


def test_rows_replay_stops_on_a_failure_and_resumes_without_replaying(tmp_path):
    cases = seed.case_ids(7, 120)
    reserved = set(cases.values())
    flow_file = tmp_path / "cancel_from_details.yaml"
    flow_file.write_text(FLOW)
    with running_portal(seed=7, orders=120) as portal:
        unshipped = [
            order["order_id"]
            for order in portal.api_get(
                "/mock/api/orders?status=Unshipped&seller=seller@example.com"
            )["orders"]
            if order["order_id"] not in reserved and not order["buyer_requested"]
        ][:49]
        assert len(unshipped) == 49
        ids = unshipped[:9] + [cases["shipped"]] + unshipped[9:]
        rows_file = tmp_path / "rows.csv"
        with rows_file.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["order_id", "reason"])
            writer.writerows([order_id, "PricingError"] for order_id in ids)
        journal = tmp_path / "journal.db"
        common = ["--portal", portal.url, "--journal", str(journal), "--workers", "1"]

        first = seller_agent(
            "run",
            str(flow_file),
            "--rows",
            str(rows_file),
            "--max-failures",
            "1",
            # The bulk settings cancel has, kept by the run for its resume.
            "--rate",
            "1200/min",
            "--attempts",
            "2",
            "--max-outage",
            "90s",
            *common,
            env_home=tmp_path,
        )
        assert first.returncode == 1, first.stderr[-2000:]
        with Journal(str(journal)) as opened:
            run_id = opened.resolve_run_id("last")
            rows = {row.key: row for row in opened.rows(run_id)}
            stored = opened.run(run_id).options
        assert (stored["rate"], stored["attempts"], stored["max_outage"]) == (20, 2, 90)
        assert stored["trace"] is False  # not asked for: a trace costs every row time
        assert rows[cases["shipped"]].state == "failed"
        assert "cancel-order" in rows[cases["shipped"]].error
        failed_attempts = rows[cases["shipped"]].attempts
        played_first = {key for key, row in rows.items() if row.state == "done"}
        assert set(unshipped[:9]) <= played_first
        assert len(played_first) < 49  # the failure budget stopped the run early

        second = seller_agent("run", str(flow_file), "--resume", "last", *common, env_home=tmp_path)
        assert second.returncode == 1, second.stderr[-2000:]  # the failed row stays failed
        assert (
            f"resuming run {run_id}: 1 worker, 2 attempts per row, at most 20 rows/s, "
            "max outage 1 min 30 s"
        ) in second.stderr
        with Journal(str(journal)) as opened:
            rows = {row.key: row for row in opened.rows(run_id)}
        assert [key for key, row in rows.items() if row.state != "done"] == [cases["shipped"]]
        assert all(rows[key].outcome == "cancelled" for key in unshipped)
        assert rows[cases["shipped"]].attempts == failed_attempts  # not played again on resume
        for order_id in unshipped:
            order = portal.order(order_id)
            assert order["status"] == "Canceled" and order["cancel_events"] == 1, order_id
            assert order["cancel_reason"] == "PricingError"
        assert portal.order(cases["shipped"])["status"] == "Shipped"
        assert "Cancelled" in second.stdout  # the summary table, in words

        # --retry-failed plays the failed row again, once (--attempts 1 given anew).
        third = seller_agent(
            "run", str(flow_file), "--resume", "last", "--retry-failed", "--attempts", "1",
            *common, env_home=tmp_path,
        )  # fmt: skip
        assert third.returncode == 1, third.stderr[-2000:]
        assert "1 attempt per row, at most 20 rows/s" in third.stderr
        with Journal(str(journal)) as opened:
            again = {row.key: row for row in opened.rows(run_id)}[cases["shipped"]]
        assert again.state == "failed" and again.attempts == failed_attempts + 1
        assert portal.order(cases["shipped"])["status"] == "Shipped"
