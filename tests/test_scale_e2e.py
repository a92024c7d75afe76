"""Beyond one machine, end to end: bulk cancels over two browser servers (`seller-agent
browser serve`), one of them killed mid-run; and one list split into shards whose merged
report agrees with the portal."""

import json
import os
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
SELLER_AGENT = str(Path(sys.executable).with_name("seller-agent"))
DEMO = "seller@example.com"


def environment(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    for name in ("SELLER_AGENT_PORTAL", "SELLER_AGENT_API_TOKEN", "SELLER_AGENT_BROWSER_ENDPOINT"):
        env.pop(name, None)
    return env


class Server:
    """`seller-agent browser serve --port 0` in its own process group, so a SIGKILL takes its
    Node.js and Chromium down at once, as a machine that dies would."""

    def __init__(self, tmp_path):
        self.process = subprocess.Popen(
            [SELLER_AGENT, "browser", "serve", "--port", "0", "-q"],
            cwd=ROOT,
            env=environment(tmp_path),
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.endpoint = self.process.stdout.readline().strip()
        assert self.endpoint.startswith("ws://127.0.0.1:"), self.endpoint
        port = self.endpoint.split(":")[2].split("/")[0]
        self.label = f"ws://127.0.0.1:{port}/…"
        self.token = self.endpoint.rsplit("/", 1)[1]

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def start_cancel(args, tmp_path, journal):
    log = open(tmp_path / "cancel.log", "a")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [SELLER_AGENT, "cancel", "--yes", "--journal", str(journal), *args],
        cwd=ROOT,
        env=environment(tmp_path),
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def unshipped(portal, count):
    orders = portal.orders(status="Unshipped", seller=DEMO)
    ids = [order["order_id"] for order in orders if order["status"] == "Unshipped"][:count]
    assert len(ids) == count, "the seed gives too few Unshipped orders"
    return ids


def wait_for_done(process, journal, count, tmp_path, limit=240):
    deadline = time.monotonic() + limit
    while done_rows(journal) < count:
        assert process.poll() is None, (tmp_path / "cancel.log").read_text()[-3000:]
        assert time.monotonic() < deadline, f"fewer than {count} rows done in {limit} s"
        time.sleep(0.05)


def check_cancelled_once(portal, ids):
    orders = {order["order_id"]: order for order in portal.orders(seller=DEMO)}
    for order_id in ids:
        order = orders[order_id]
        assert order["status"] == "Canceled", order
        assert order["cancel_events"] == 1, order
        assert order["cancelled_by"] == "seller" and order["cancel_reason"] == "NoInventory"
    # Nothing else was touched.
    assert all(order["cancel_events"] <= 1 for order in orders.values())


def test_an_endpoint_killed_mid_run_loses_nothing(tmp_path):
    journal_path = tmp_path / "journal.db"
    servers = [Server(tmp_path), Server(tmp_path)]
    try:
        with running_portal(seed=21, orders=120) as portal:
            ids = unshipped(portal, 48)
            (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
            args = ["--from", str(tmp_path / "ids.txt"), "--reason", "NoInventory"]
            args += ["--portal", portal.url, "--max-cancel-rate", "100", "--workers", "4"]
            for server in servers:
                args += ["--browser-endpoint", server.endpoint]
            process = start_cancel(args, tmp_path, journal_path)
            wait_for_done(process, journal_path, 12, tmp_path)
            servers[0].kill()
            code = process.wait(timeout=600)
            log = (tmp_path / "cancel.log").read_text()
            with Journal(journal_path) as journal:
                unfinished = [
                    (row.key, row.state, row.outcome, row.error_kind, row.error)
                    for row in journal.rows(journal.last_run_id())
                    if not (row.state == "done" and row.ok)
                ]
            assert code == 0, (log[-3000:], unfinished)

            check_cancelled_once(portal, ids)
            with Journal(journal_path) as journal:
                run_id = journal.last_run_id()
                rows = journal.rows(run_id)
                assert journal.run(run_id).status == "finished"
            assert sorted(row.key for row in rows) == sorted(ids)
            assert all(row.state == "done" and row.ok for row in rows), rows
            played_on = {row.values["endpoint"] for row in rows}
            assert played_on == {servers[0].label, servers[1].label}
            # After the kill, everything went to the endpoint left; the killed one's rows in
            # flight (at most its two workers') were replayed there through the guard.
            resumed = [row for row in rows if row.resumed]
            assert len(resumed) <= 2
            assert all(row.values["endpoint"] == servers[1].label for row in resumed)
            assert f"browser endpoint {servers[0].label} lost" in log

            report = subprocess.run(
                [SELLER_AGENT, "report", "--journal", str(journal_path)],
                env=environment(tmp_path),
                capture_output=True,
                text=True,
            )
            assert servers[0].label in report.stdout and servers[1].label in report.stdout
            # The tokens are nowhere: not in the journal, the log or the report.
            for server in servers:
                assert server.token not in log + report.stdout
                assert server.token.encode() not in journal_path.read_bytes()
    finally:
        for server in servers:
            server.stop()


def test_all_endpoints_lost_stops_for_resume_then_resumes_elsewhere(tmp_path):
    journal_path = tmp_path / "journal.db"
    first = Server(tmp_path)
    later = None
    try:
        with running_portal(seed=22, orders=80) as portal:
            ids = unshipped(portal, 24)
            args = [*ids, "--reason", "NoInventory", "--portal", portal.url]
            args += ["--max-cancel-rate", "100", "--workers", "2"]
            process = start_cancel(
                [*args, "--browser-endpoint", first.endpoint], tmp_path, journal_path
            )
            wait_for_done(process, journal_path, 4, tmp_path)
            first.kill()
            assert process.wait(timeout=120) == 1
            log = (tmp_path / "cancel.log").read_text()
            assert "no browser endpoint left" in log, log[-2000:]
            assert "Traceback" not in log
            with Journal(journal_path) as journal:
                run_id = journal.last_run_id()
                assert journal.run(run_id).status == "interrupted"
                assert journal.counts(run_id)["done"] < len(ids)

            later = Server(tmp_path)
            resumed = start_cancel(
                ["--resume", "last", "--browser-endpoint", later.endpoint], tmp_path, journal_path
            )
            assert resumed.wait(timeout=600) == 0, (tmp_path / "cancel.log").read_text()[-3000:]
            check_cancelled_once(portal, ids)
            with Journal(journal_path) as journal:
                assert journal.run(run_id).status == "finished"
                assert {row.state for row in journal.rows(run_id)} == {"done"}
    finally:
        first.stop()
        if later is not None:
            later.stop()


def test_three_shards_split_one_list_and_their_merged_report_agrees(tmp_path):
    with running_portal(seed=23, orders=90) as portal:
        ids = unshipped(portal, 30)
        (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
        journals = []
        for index in (1, 2, 3):
            journal = tmp_path / f"shard{index}.db"
            journals.append(journal)
            result = subprocess.run(
                [SELLER_AGENT, "cancel", "--yes", "--journal", str(journal), "-q"]
                + ["--from", str(tmp_path / "ids.txt"), "--reason", "NoInventory"]
                + ["--portal", portal.url, "--max-cancel-rate", "100", "--workers", "2"]
                + ["--shard", f"{index}/3"],
                cwd=ROOT,
                env=environment(tmp_path),
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert result.returncode == 0, result.stderr[-3000:]
        played = []
        for journal in journals:
            with Journal(journal) as opened:
                run = opened.run(opened.last_run_id())
                assert run.options["shard"] == f"{journals.index(journal) + 1}/3"
                played.append({row.key for row in opened.rows(run.id)})
        # Disjoint and complete.
        assert all(played), "a shard got no rows"
        assert sum(len(keys) for keys in played) == len(ids)
        assert set().union(*played) == set(ids)

        merged = subprocess.run(
            [SELLER_AGENT, "report", "--merge", *map(str, journals), "--format", "json"],
            env=environment(tmp_path),
            capture_output=True,
            text=True,
        )
        assert merged.returncode == 0, merged.stderr
        assert merged.stderr == ""  # no duplicates, no missing shard
        data = json.loads(merged.stdout)
        orders = {order["order_id"]: order for order in portal.orders(seller=DEMO)}
        cancelled_on_portal = sum(1 for order_id in ids if orders[order_id]["status"] == "Canceled")
        assert data["total"] == len(ids)
        assert data["outcomes"] == {"cancelled": cancelled_on_portal} == {"cancelled": len(ids)}
        assert data["duplicates"] == [] and data["warnings"] == []
        assert [shard["shard"] for shard in data["shards"]] == ["1/3", "2/3", "3/3"]
        assert all(orders[order_id]["cancel_events"] == 1 for order_id in ids)
