"""What `seller-agent cancel` says and keeps around a run: the settings a resumed run keeps,
the command that goes on with it, --max-outage, --from-requests' choice of orders, and
`report --log`. In-process CLI; no browser starts (the runs here have nothing left to play)."""

import os

import pytest
from click.testing import CliRunner
from conftest import DEMO_EMAIL, SECOND_EMAIL

from agent.bulk.journal import Journal
from agent.cancel.job import BuyerRequests, read_buyer_requests, requests_lines
from agent.cli import cli
from agent.cli.cancel import next_step, resume_command
from agent.cli.options import InputError, parse_duration

pytestmark = pytest.mark.usefixtures("isolated_home")

A, B, C = (f"112-0000000-000000{n}" for n in range(1, 4))


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="seller-agent", catch_exceptions=False)


def recorded_run(path, *, failed=False, options=None):
    """A run whose rows are all played: resuming it starts no browser."""
    with Journal(path) as journal:
        run_id = journal.create_run(
            flow="cancel_order",
            params={},
            portal="http://127.0.0.1:9",
            rows=[(key, {"order_id": key, "reason": "NoInventory"}) for key in (A, B, C)],
            options=options or {"workers": 2, "attempts": 6, "rate": None, "max_outage": 60.0},
        )
        for key in (A, B, C):
            journal.mark_running(run_id, key)
            if failed and key == C:
                journal.mark_failed(run_id, key, error="HTTP 500", error_kind="http_5xx")
            else:
                journal.mark_done(run_id, key, outcome="cancelled", ok=True)
        journal.set_run_status(run_id, "finished")
    return run_id


def test_a_resumed_run_keeps_its_workers_and_settings_unless_given_again(tmp_path):
    path = tmp_path / "journal.db"
    run_id = recorded_run(path)
    kept = invoke("cancel", "--resume", "last", "--journal", str(path))
    assert (
        f"resuming run {run_id}: 2 workers, 6 attempts per row, no rate limit, max outage 1 min 00 s"
        in kept.output
    )
    changed = invoke(
        "cancel", "--resume", run_id, "--journal", str(path), "--workers", "3", "--rate", "2/s"
    )
    assert "resuming run" in changed.output
    assert (
        "3 workers, 6 attempts per row, at most 2 rows/s, max outage 1 min 00 s" in changed.output
    )
    with Journal(path) as journal:
        options = journal.run(run_id).options
    # What was given again is what a later resume keeps.
    assert (options["workers"], options["rate"], options["attempts"]) == (3, 2.0, 6)
    again = invoke("cancel", "--resume", run_id, "--journal", str(path))
    assert "3 workers, 6 attempts per row, at most 2 rows/s" in again.output


def test_resuming_a_finished_run_with_failed_rows_says_how_to_retry_them(tmp_path):
    path = tmp_path / "journal.db"
    run_id = recorded_run(path, failed=True)
    result = invoke("cancel", "--resume", "last", "--journal", str(path))
    assert result.exit_code == 1
    assert (
        f"1 order failed; to try again: seller-agent cancel --resume {run_id} --journal {path} "
        "--retry-failed" in result.output
    )


def test_the_command_that_goes_on_with_a_run():
    command = resume_command("20261126-140501-3f2a", journal="my runs/j.db", secrets_path=None)
    assert next_step("interrupted", 0, command) == (
        "To go on with this run: seller-agent cancel --resume 20261126-140501-3f2a "
        "--journal 'my runs/j.db'"
    )
    assert next_step("paused", 2, command).startswith("To go on with this run:")
    assert next_step("finished", 0, command) is None
    plain = resume_command("R", journal=None, secrets_path="s.yaml")
    assert next_step("finished", 3, plain) == (
        "3 orders failed; to try again: seller-agent cancel --resume R --secrets s.yaml "
        "--retry-failed"
    )


def test_max_outage_durations():
    assert parse_duration("15m") == 900
    assert parse_duration("90s") == parse_duration("90") == 90
    assert parse_duration("1h") == 3600 and parse_duration("0") == 0
    for bad in ("soon", "-5m", "5 weeks"):
        with pytest.raises(InputError, match="--max-outage: expected a duration"):
            parse_duration(bad)
    result = invoke("cancel", A, "--max-outage", "soon")
    assert result.exit_code == 2
    assert "Error: --max-outage: expected a duration like 90s, 15m or 1h, got 'soon'" in (
        result.output
    )


def test_report_log_shows_the_runs_log(tmp_path):
    path = tmp_path / "journal.db"
    run_id = recorded_run(path)
    log = tmp_path / "runs" / run_id / "run.log"
    missing = invoke("report", run_id, "--journal", str(path), "--log")
    assert missing.exit_code == 2 and f"run {run_id} has no log at {log}" in missing.output
    log.parent.mkdir(parents=True)
    log.write_text("2026-11-26 12:01:07.000+01:00  portal unreachable since 12:01:07\n")
    os.chmod(log, 0o600)
    shown = invoke("report", "last", "--journal", str(path), "--log")
    assert shown.exit_code == 0
    assert shown.output == "2026-11-26 12:01:07.000+01:00  portal unreachable since 12:01:07\n"
    # Into a file: readable by the owner only, like the log itself and every report.
    kept = tmp_path / "out" / "run.log"
    written = invoke("report", "last", "--journal", str(path), "--log", "-o", str(kept))
    assert written.exit_code == 0, written.output
    assert kept.read_text() == "2026-11-26 12:01:07.000+01:00  portal unreachable since 12:01:07\n"
    assert oct(kept.stat().st_mode & 0o777) == "0o600"


def test_from_requests_reads_only_the_signed_in_sellers_requests(portal, unshipped_orders):
    # Another seller's buyer asks officially too: that order is not this seller's to cancel.
    theirs = unshipped_orders(1, seller=SECOND_EMAIL)[0]
    assert portal.api_post("/mock/api/buyer-requests", {"order_id": theirs})["outcome"]
    everyone = portal.orders(status="Unshipped")
    assert any(o["order_id"] == theirs and o["buyer_request_kind"] == "official" for o in everyone)
    found = read_buyer_requests(portal.url, seller=DEMO_EMAIL)
    mine = {o["order_id"]: o for o in portal.orders(seller=DEMO_EMAIL)}
    assert found.official and theirs not in found.official
    assert all(mine[order_id]["buyer_request_kind"] == "official" for order_id in found.official)
    assert all(mine[order_id]["buyer_request_kind"] == "message" for order_id in found.messages)
    assert found.messages, "the demo seed has message-only requests"


def test_from_requests_names_the_messages_it_left_out():
    found = BuyerRequests(official=[A], messages=[B, C])
    lines = requests_lines(found, chosen={C})
    assert lines == [
        "--from-requests: 1 order whose buyer officially requested cancellation",
        f"Left out 1 order whose buyer only sent a message asking to cancel, not an official "
        f"request: {B}. Cancelling it, even as Buyer Canceled, counts toward the Order "
        "Cancellation Rate; give its id (or --from) to cancel it anyway.",
    ]
    assert requests_lines(BuyerRequests([], []), set()) == [
        "--from-requests: 0 orders whose buyer officially requested cancellation"
    ]


def test_from_requests_with_no_request_is_nothing_to_do_not_an_error(tmp_path):
    """A seller who runs `cancel --from-requests` every hour meets hours without a request:
    that ends at once with exit 0 and a line saying so, and records no run."""
    import json

    from mock_portal.testing import running_portal

    journal = tmp_path / "journal.db"
    with running_portal(orders=0) as portal:
        common = ["--portal", portal.url, "--journal", str(journal), "--yes"]
        result = invoke("cancel", "--from-requests", *common)
        assert result.exit_code == 0, result.output
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            "--from-requests: 0 orders whose buyer officially requested cancellation",
            "nothing to cancel: no buyer has officially requested cancellation",
        ]
        as_json = invoke("cancel", "--from-requests", "--json", *common)
        assert as_json.exit_code == 0, as_json.output
        assert json.loads(as_json.stdout) == {
            "run_id": None,
            "status": None,
            "orders": [],
            "outcomes": {},
            "problems": [],
            "ok": True,
            "error": None,
            "exit_code": 0,
        }
        # With order ids or a list beside it, those are the run, as before.
        given = invoke("cancel", "--from-requests", "12-3", *common)
        assert given.exit_code == 2
    assert not journal.exists()


@pytest.mark.parametrize(
    "given",
    [[A], ["--from", "{tmp}/orders.csv"], ["--from-requests"]],
)
def test_resume_with_new_orders_is_refused_not_their_orders_left_out(tmp_path, given):
    (tmp_path / "orders.csv").write_text(f"order_id\n{B}\n")
    path = tmp_path / "journal.db"
    recorded_run(path)
    args = [arg.format(tmp=tmp_path) for arg in given]
    result = invoke("cancel", *args, "--resume", "last", "--journal", str(path))
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: --resume goes on with the run's own orders; order ids, --from and "
        "--from-requests start a new run: give one or the other"
    )
    rows = invoke("run", "cancel_order", "--rows", str(tmp_path / "orders.csv"), "--resume",
                  "last", "--journal", str(path))  # fmt: skip
    assert rows.exit_code == 2
    assert rows.output.strip().splitlines()[-1] == (
        "Error: --resume goes on with the run's own rows; --rows starts a new run: give one or "
        "the other"
    )


def test_a_run_another_live_process_plays_is_refused_without_a_summary(tmp_path):
    import subprocess
    import sys

    from agent.bulk.journal import owner_tag

    path = tmp_path / "journal.db"
    run_id = recorded_run(path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with Journal(path) as journal:
            journal.db.execute(
                "INSERT INTO run_events (run_id, kind, started_at, owner)"
                " VALUES (?, 'active', '2026-11-30T10:00:00Z', ?)",
                (run_id, owner_tag(other.pid)),
            )
        for command in (("cancel",), ("run", "cancel_order")):
            result = invoke(*command, "--resume", run_id, "--journal", str(path))
            assert result.exit_code == 2, result.output
            assert result.stdout == ""
            assert result.stderr.splitlines()[-1] == (
                f"Error: run {run_id} is being played by another process (pid {other.pid}, since "
                "2026-11-30T10:00:00Z); wait for it to end, or stop it and resume"
            )
    finally:
        other.kill()
        other.wait()
    # Once that process is gone, the run goes on (here: nothing was left to play).
    assert invoke("cancel", "--resume", run_id, "--journal", str(path)).exit_code == 0


def test_run_resume_of_a_cancel_run_is_refused_so_a_dry_run_stays_dry(tmp_path):
    """`run cancel_order --resume` of an interrupted `cancel --dry-run` cancelled its orders
    for real: the dry run and the rate guard are the cancel job's, not the flow's."""
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        run_id = journal.create_run(
            flow="cancel_order",
            params={},
            portal="http://127.0.0.1:9",
            rows=[(A, {"order_id": A, "reason": "NoInventory"})],
            options={"workers": 1, "dry_run": True, "max_cancel_rate": 2.5, "projection": None},
        )
        journal.set_run_status(run_id, "interrupted")
    result = invoke("run", "cancel_order", "--resume", "last", "--journal", str(path))
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"Error: run {run_id} is a run of seller-agent cancel: go on with it with "
        f"`seller-agent cancel --resume {run_id}`"
    )
    with Journal(path) as journal:
        assert [row.state for row in journal.rows(run_id)] == ["pending"]


def test_cancel_resume_of_a_flow_run_is_refused_and_names_run_resume(tmp_path):
    path = tmp_path / "journal.db"
    flow = tmp_path / "order_page.yaml"
    with Journal(path) as journal:
        run_id = journal.create_run(
            flow="order-page",
            params={},
            portal="http://127.0.0.1:9",
            rows=[(A, {"order_id": A})],
            options={"workers": 1, "flow_source": str(flow), "shard": None},
        )
        journal.set_run_status(run_id, "interrupted")
    result = invoke("cancel", "--resume", "last", "--journal", str(path))
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"Error: run {run_id} is a run of seller-agent run {flow} --rows: go on with it with "
        f"`seller-agent run {flow} --resume {run_id}`"
    )
    with Journal(path) as journal:
        assert [row.state for row in journal.rows(run_id)] == ["pending"]


def test_a_resume_without_the_runs_secret_param_stops_before_any_row(tmp_path, monkeypatch):
    monkeypatch.delenv("SELLER_AGENT_API_KEY", raising=False)
    flow = tmp_path / "keyed.yaml"
    flow.write_text(
        "name: keyed\nparams:\n  order_id: {type: string, required: true}\n"
        "  api_key: {type: string, secret: true, required: true}\n"
        "steps:\n  - goto: /orders-v3/order/{{ order_id }}?k={{ api_key }}\n"
    )
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        run_id = journal.create_run(
            flow="keyed",
            params={"api_key": "***"},
            portal="http://127.0.0.1:9",
            rows=[(A, {"order_id": A})],
            options={"workers": 1, "flow_source": str(flow), "shard": None},
        )
        journal.set_run_status(run_id, "interrupted")
    result = invoke("run", str(flow), "--resume", "last", "--journal", str(path))
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: param api_key is a secret, which the journal does not keep: give it again with "
        "-p api_key=..., SELLER_AGENT_API_KEY or the secrets file"
    )
    with Journal(path) as journal:
        assert [(row.state, row.attempts) for row in journal.rows(run_id)] == [("pending", 0)]
