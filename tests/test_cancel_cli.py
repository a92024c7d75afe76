"""`seller-agent cancel` end to end: a live portal, a real browser, the CLI in-process."""

import json
import socket
import time

import pytest
from click.testing import CliRunner

from agent.cli import cli

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("isolated_home")]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="seller-agent", catch_exceptions=False)


def cancel_on(portal, *args: str):
    """`cancel` on the shared portal, whose rate other tests' cancellations have already
    raised: the rate guard is tested on its own, so here it is lifted."""
    return invoke("cancel", *args, "--portal", portal.url, "--max-cancel-rate", "100")


def closed_port_url() -> str:
    """A loopback address where nothing listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_help_names_the_options_and_exit_codes():
    result = invoke("cancel", "--help")
    assert result.exit_code == 0
    for line in (
        "Usage: seller-agent cancel [OPTIONS] [ORDER_ID]...",
        "--reason TEXT",
        "--from FILE",
        "--resume RUN_ID",
        "--dry-run",
        "--max-cancel-rate PCT",
        "--memo TEXT",
        "--json",
        "--portal URL",
    ):
        assert line in result.output
    assert "Exit code 0 when every order ended cancelled or already cancelled" in " ".join(
        result.output.split()
    )
    # Where a run's files go by default: the run's folder beside the journal, as the engine
    # makes it (not the runs/<time>-<flow> of a single `run`).
    assert "$XDG_DATA_HOME/seller-agent/runs/<run_id>" in result.output
    assert "<time>" not in result.output


def test_an_unknown_reason_is_refused_before_any_browser_starts(tmp_path):
    result = invoke(
        "cancel",
        "112-0000001-0000001",
        "--reason",
        "Whim",
        "--browser-path",
        str(tmp_path / "none"),
        "--portal",
        "http://127.0.0.1:9",
    )
    assert result.exit_code == 2
    assert result.output == (
        "Error: --reason: unknown reason 'Whim' (use one of: NoInventory, BuyerCanceled, "
        "GeneralAdjustment, PricingError, ShippingAddressUndeliverable, CustomerExchange, "
        "or their labels)\n"
    )
    assert not (tmp_path / "runs").exists()


def test_a_malformed_order_id_is_refused_naming_it():
    result = invoke("cancel", "112-0000001-0000001", "12345", "--portal", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert result.output == (
        "Error: order 12345: malformed order id (expected digits like 112-0000001-0000001)\n"
    )


def test_cancel_prints_one_line_per_order_and_both_parties_get_emails(portal, unshipped_orders):
    plain, flagged = unshipped_orders(2)
    portal.api_post("/mock/api/buyer-requests", {"order_id": flagged, "kind": "official"})
    result = cancel_on(
        portal, plain, flagged, "--reason", "buyer canceled", "--memo", "asked by phone"
    )
    assert result.exit_code == 0, result.output
    # Not a terminal: each line came as its order ended, in the order they ended.
    assert sorted(result.stdout.splitlines()) == sorted(
        [
            f"{plain}  cancelled          BuyerCanceled   counts toward rate",
            f"{flagged}  cancelled          BuyerCanceled   does not count toward rate",
        ]
    )
    assert f"warning: {plain}: the buyer did not request cancellation officially" in result.stderr
    for order_id in (plain, flagged):
        order = portal.order(order_id)
        assert order["status"] == "Canceled" and order["cancel_events"] == 1
        seller_mail = [
            m
            for m in portal.mail(to="seller@example.com")
            if m["order_id"] == order_id and m["kind"] == "cancellation"
        ]
        buyer_mail = [
            m
            for m in portal.mail(to=order["buyer_email"])
            if m["order_id"] == order_id and m["kind"] == "cancellation"
        ]
        assert len(seller_mail) == 1 and len(buyer_mail) == 1
        assert order_id in seller_mail[0]["body"] and order_id in buyer_mail[0]["body"]
    assert portal.order(plain)["counts_toward_rate"] is True
    assert portal.order(flagged)["counts_toward_rate"] is False


def test_json_output_and_exit_code_one_when_an_order_is_not_cancelled(
    portal, portal_cases, unshipped_orders
):
    (order_id,) = unshipped_orders(1)
    result = cancel_on(
        portal,
        order_id,
        portal_cases["shipped"],
        "999-0000000-0000000",
        "--reason",
        "NoInventory",
        "--json",
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["exit_code"] == 1
    rows = data["orders"]
    assert [(r["order_id"], r["outcome"], r["ok"], r["counts_toward_rate"]) for r in rows] == [
        (order_id, "cancelled", True, True),
        (portal_cases["shipped"], "not_cancellable", False, None),
        ("999-0000000-0000000", "not_found", False, None),
    ]
    assert all(r["reason"] == "NoInventory" for r in rows)
    again = cancel_on(portal, order_id, "--reason", "NoInventory")
    assert again.exit_code == 0
    assert again.stdout == f"{order_id}  already_cancelled  NoInventory     -\n"
    assert portal.order(order_id)["cancel_events"] == 1


def test_an_unreachable_portal_is_one_line_and_exit_one(tmp_path):
    # A portal that never answered in this run is most likely a wrong address: the run says
    # so after a short wait (not the 15 minutes of --max-outage, which is for a portal that
    # goes away mid-run) and stops, leaving the order for --resume.
    url = closed_port_url()
    started = time.monotonic()
    result = invoke(
        "cancel", "112-0000001-0000001", "--portal", url, "--run-dir", str(tmp_path)
    )  # fmt: skip
    assert time.monotonic() - started < 120
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith("portal unreachable since ") for line in lines)
    assert any(
        line.startswith(f"the portal at {url} has not answered since the run started")
        and "--portal" in line
        for line in lines
    ), lines
    assert lines[-1].startswith("To go on with this run: seller-agent cancel --resume ")
    assert result.stdout.split()[:2] == ["112-0000001-0000001", "pending"]
    assert "Traceback" not in result.output


def test_a_run_that_stopped_itself_says_why_in_its_json(tmp_path):
    # docs/cancel.md: `error` is the run's closing message when it has one.
    url = closed_port_url()
    result = invoke(
        "cancel", "112-0000001-0000001", "--portal", url, "--run-dir", str(tmp_path), "--json"
    )  # fmt: skip
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["status"] == "interrupted" and data["ok"] is False
    assert data["error"].startswith(f"the portal at {url} has not answered since the run started")
    assert not any(line.startswith("Error:") for line in result.stderr.splitlines())
    flow = tmp_path / "page.yaml"
    flow.write_text(
        "name: page\nparams:\n  order_id: {type: string, required: true}\n"
        "steps:\n  - goto: /orders-v3/order/{{ order_id }}\n"
    )
    rows = tmp_path / "rows.csv"
    rows.write_text("order_id\n112-0000001-0000001\n")
    played = invoke("run", str(flow), "--rows", str(rows), "--portal", url, "--json")
    assert played.exit_code == 1
    assert json.loads(played.stdout)["error"].startswith(f"the portal at {url} has not answered")


def test_rows_left_out_are_said_even_quietly_and_kept_in_the_json_and_the_report(
    portal, unshipped_orders, tmp_path
):
    first, second = unshipped_orders(2)
    orders = tmp_path / "orders.txt"
    orders.write_text(f"{first}\n12-34\n{second}\n")
    result = cancel_on(portal, "--from", str(orders), "--dry-run", "-q", "--json")
    assert result.exit_code == 0, result.stderr
    left_out = f"{orders}:2: malformed order id '12-34'"
    # --quiet silences progress and chatter, not what the input could not give.
    assert result.stderr.splitlines() == [f"Warning: {left_out} (skipped)"]
    data = json.loads(result.stdout)
    assert [row["order_id"] for row in data["orders"]] == [first, second]
    assert data["problems"] == [left_out]
    report = invoke("report", "last")
    assert report.exit_code == 0
    assert f"Rows left out (their input was not usable): 1\n  {left_out}\n" in report.stdout


def test_into_a_pipe_each_orders_line_comes_as_the_order_ends(portal, unshipped_orders, tmp_path):
    import os
    import subprocess
    import sys

    orders = unshipped_orders(3)
    program = os.path.join(os.path.dirname(sys.executable), "seller-agent")
    # One worker at one order every 2 s: the run outlasts its first line by seconds.
    process = subprocess.Popen(
        [program, "cancel", *orders, "--portal", portal.url, "--max-cancel-rate", "100"]
        + ["--reason", "NoInventory", "--workers", "1", "--rate", "0.5/s", "-q"]
        + ["--journal", str(tmp_path / "journal.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        first_at = time.monotonic()
        rest, _ = process.communicate(timeout=120)
        ended_at = time.monotonic()
    finally:
        if process.poll() is None:
            process.kill()
    assert first == f"{orders[0]}  cancelled          NoInventory     counts toward rate\n"
    # Two more orders were still to come, 2 s apart: printed at the end, the first line would
    # have come with them.
    assert ended_at - first_at > 2.5, "the first line came only when the run was over"
    # Each order once, none printed again at the end.
    assert sorted((first + rest).splitlines()) == sorted(
        f"{order}  cancelled          NoInventory     counts toward rate" for order in orders
    )


def test_a_dry_runs_lines_in_chinese_keep_their_columns_with_the_widest_words(
    portal, unshipped_orders, tmp_path
):
    """Written as each order ends (stdout is not a terminal here): the reason column is as
    wide as the run's widest reason from the first line on."""
    from agent.i18n import display_width

    first, second = unshipped_orders(2)
    orders = tmp_path / "orders.csv"
    orders.write_text(
        f"order_id,reason\n{first},ShippingAddressUndeliverable\n{second},NoInventory\n"
        "112-0000001-9999999,PricingError\n"
    )
    result = cancel_on(
        portal, "--from", str(orders), "--dry-run", "--lang", "zh-CN", "--workers", "1",
        "--journal", str(tmp_path / "journal.db"),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    assert f"{first}  将被取消（试运行）  无法配送至该地址  -" in lines
    assert f"{second}  将被取消（试运行）  无库存            -" in lines
    assert "112-0000001-9999999  未找到订单          定价错误          -" in lines
    assert len({display_width(line) for line in lines}) == 1


def test_json_names_why_a_run_stopped_on_its_own(fresh_portal, tmp_path):
    """A run stopped by --max-failures says so in `error`, in English whatever the language,
    as the docs promise (cancel.md)."""
    orders = [order["order_id"] for order in fresh_portal.orders(status="Unshipped")[:3]]
    fresh_portal.set_faults(error_rate=1.0, paths=["/orders-v3/order/"], methods=["GET"])
    result = invoke(
        "cancel", *orders, "--portal", fresh_portal.url, "--max-cancel-rate", "100",
        "--workers", "1", "--attempts", "1", "--max-failures", "1", "--json", "--lang", "zh-CN",
        "--journal", str(tmp_path / "journal.db"), "--run-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "stopped" and data["ok"] is False
    assert data["error"] == "1 row failed: stopping (--max-failures 1)"
