"""`seller-agent cancel`: cancel the given orders with the bundled flow, one after another."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from agent.commands.run import (
    InputError,
    Timings,
    default_run_dir,
    load_flow_or_fail,
    load_secrets_or_fail,
    run_dir_option,
    run_in_browser,
    secrets_option,
)
from agent.options import browser_options, json_option, portal_option, quiet_option


def format_line(row: dict[str, Any]) -> str:
    """One order's line: order id, outcome, reason, and whether it counts toward the rate."""
    counts = {True: "counts toward rate", False: "does not count toward rate", None: "-"}
    line = f"{row['order_id']}  {row['outcome']:<17}  {row['reason']:<14}  {counts[row['counts_toward_rate']]}"
    if row.get("error"):
        line += f"  ({row['error']})"
    return line


@click.command("cancel")
@click.argument("order_ids", nargs=-1, required=True, metavar="ORDER_ID...")
@click.option(
    "--reason",
    default="BuyerCanceled",
    show_default=True,
    help='Reason for cancellation: a code (NoInventory) or a label ("No Inventory", 无库存), any case.',
)
@click.option(
    "--memo", default="", metavar="TEXT", help="Seller memo (optional, at most 1000 characters)."
)
@portal_option
@browser_options
@secrets_option
@run_dir_option
@json_option
@quiet_option
def cancel(
    order_ids: tuple[str, ...],
    reason: str,
    memo: str,
    portal: str,
    browser_path: str | None,
    headed: bool,
    slowmo: int,
    secrets_path: str | None,
    run_dir: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Cancel orders, one after another, and print one line per order.

    Each line gives the order id, the outcome (cancelled, already_cancelled,
    not_cancellable, not_found or failed), the reason, and whether the cancellation counts
    toward the Order Cancellation Rate (it does not when the reason is Buyer Canceled and the
    buyer asked officially). Re-running is safe: an order already cancelled is not touched.
    Exit code 0 when every order ended cancelled or already cancelled, 1 otherwise, 2 for a
    bad order id or reason (checked before the browser starts).

    Usage:

        seller-agent cancel 112-0000001-0000001

        seller-agent cancel 112-0000001-0000001 112-0000001-0000002 --reason "No Inventory"

        seller-agent cancel 112-0000001-0000001 --reason PricingError --memo "price typo" --json
    """
    from agent.cancelling import CANCEL_FLOW, BadReason, cancel_params, interpret
    from agent.flow import FlowError, bind_params
    from agent.player import run_flow

    flow = load_flow_or_fail(CANCEL_FLOW)
    if len(memo) > 1000:
        raise InputError(f"--memo: at most 1000 characters, got {len(memo)}")
    jobs = []
    for order_id in dict.fromkeys(order_ids):
        try:
            params = bind_params(flow, cancel_params(order_id, reason, memo))
        except BadReason as error:
            raise InputError(f"--reason: {error}") from None
        except FlowError as error:
            raise InputError(f"order {order_id}: {error}") from None
        jobs.append(params)
    secrets = load_secrets_or_fail(secrets_path)
    folder = Path(run_dir) if run_dir else default_run_dir("cancel")
    timings = Timings()
    rows: list[dict[str, Any]] = []

    async def work(context: Any) -> None:
        page = await context.new_page()
        for params in jobs:
            result = await run_flow(
                page, flow, params, portal=portal, secrets=secrets, run_dir=folder, trace=True
            )
            row = interpret(result, params)
            rows.append(row)
            if not as_json:
                click.echo(format_line(row))
            if not quiet and row["counts_toward_rate"] and row["reason"] == "BuyerCanceled":
                click.echo(
                    f"warning: {row['order_id']}: the buyer did not request cancellation "
                    "officially, so Buyer Canceled still counts toward your cancellation rate",
                    err=True,
                )
        timings.mark("flows")

    if not quiet:
        click.echo(f"cancelling {len(jobs)} order(s) on {portal}", err=True)
    run_in_browser(
        work,
        portal=portal,
        secrets=secrets,
        run_dir=folder,
        browser_path=browser_path,
        headed=headed,
        slowmo=slowmo,
        signed_in=True,
        timings=timings,
    )
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    timings.report()
    sys.exit(0 if all(row["ok"] for row in rows) else 1)
