"""`seller-agent cancel`: cancel orders with the bundled flow, one or thousands, through the
bulk engine (journal, workers, retries, rate guard), and print one line per order."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable
from typing import Any

import click

from agent.cli.language import (
    TranslatedCommand,
    echo_json,
    json_errors,
    print_error,
    stop_message,
    warn,
)
from agent.cli.options import (
    BULK_RUN_DIR_HELP,
    InputError,
    api_token_option,
    browser_endpoint_option,
    browser_options,
    bulk_options,
    given_settings,
    input_file_options,
    json_option,
    max_outage_option,
    parse_duration,
    parse_rate,
    portal_option,
    quiet_option,
    run_dir_option,
    secrets_option,
    shard_option,
    workers_option,
)
from agent.i18n import N_, Told, _, as_told, ngettext, shown, told

# The outcomes an order's line can show: its column is as wide as the widest of them.
LINE_OUTCOMES = (
    "cancelled",
    "already_cancelled",
    "not_cancellable",
    "not_found",
    "failed",
    "would_run",
    "pending",
    "running",
)


def line_words(outcome: str, reason: str) -> tuple[str, str]:
    """An order line's outcome and reason: in English their codes; in Chinese, the portal's
    words."""
    from agent.i18n import DEFAULT_LANG, language, reason_label
    from agent.report.words import outcome_word

    if language() == DEFAULT_LANG:
        return outcome, reason
    return outcome_word(outcome), reason_label(reason)


def reason_width(reasons: Iterable[str]) -> int:
    """The reason column's width for lines of these reasons (at least 14 columns), so every
    line of a run is aligned in either language (a Chinese character takes two columns)."""
    from agent.i18n import display_width

    return max([14, *(display_width(line_words("", reason)[1]) for reason in reasons)])


def format_line(row: dict[str, Any], reasons_width: int | None = None) -> str:
    """One order's line: order id, outcome, reason, and whether it counts toward the rate.
    In English the outcome and reason are their codes; in Chinese, the portal's words.
    `reasons_width` is the reason column's (reason_width of the run's reasons)."""
    from agent.i18n import _, display_width, pad

    counts = {
        True: _("counts toward rate"),
        False: _("does not count toward rate"),
        None: "-",
    }
    outcome, reason = line_words(row["outcome"], row["reason"])
    outcome_width = max(display_width(line_words(code, "")[0]) for code in LINE_OUTCOMES)
    line = (
        f"{row['order_id']}  {pad(outcome, outcome_width)}  "
        f"{pad(reason, reasons_width or reason_width([row['reason']]))}  "
        f"{counts[row['counts_toward_rate']]}"
    )
    if row.get("error"):
        line += "  " + _("({error})").format(error=shown(row["error"]))
    return line


def order_lines(journal_rows: list[Any]) -> list[dict[str, Any]]:
    """The journal's rows as the cancel command reports them, in input order."""
    from agent.cancel.rules import counts_toward_rate

    lines = []
    for row in sorted(journal_rows, key=lambda r: r.seq):
        reason = row.params.get("reason") or ""
        outcome = row.outcome or row.state
        buyer_requested = row.values.get("buyer_requested")
        lines.append(
            {
                "order_id": row.key,
                "outcome": outcome,
                "reason": reason,
                "buyer_requested": None if buyer_requested is None else bool(buyer_requested),
                "counts_toward_rate": counts_toward_rate(
                    outcome, reason, None if buyer_requested is None else bool(buyer_requested)
                ),
                "ok": bool(row.ok),
                # English, as JSON keeps it; its translation for the order's line.
                "error": Told(row.error, row.error_shown) if row.error else row.error,
                "attempts": row.attempts,
                "replays": row.replays,
            }
        )
    return lines


def resume_command(run_id: str, *, journal: str | None, secrets_path: str | None) -> list[str]:
    """The command that goes on with the run: its id, and what the user chose that the
    journal does not keep (where the journal is, where the secrets are)."""
    command = ["seller-agent", "cancel", "--resume", run_id]
    if journal:
        command += ["--journal", journal]
    if secrets_path:
        command += ["--secrets", secrets_path]
    return command


def next_step(status: str, failed: int, command: list[str]) -> str | None:
    """What to do after the run: go on with an unfinished one, or retry its failed orders."""
    if status in ("interrupted", "stopped", "paused"):
        return _("To go on with this run: {command}").format(command=shlex.join(command))
    if failed:
        return ngettext(
            "{count} order failed; to try again: {command}",
            "{count} orders failed; to try again: {command}",
            failed,
        ).format(count=failed, command=shlex.join([*command, "--retry-failed"]))
    return None


@click.command("cancel", cls=TranslatedCommand)
@click.argument("order_ids", nargs=-1, metavar="[ORDER_ID]...")
@click.option(
    "--from",
    "sources",
    multiple=True,
    metavar="FILE",
    help="Orders to cancel: CSV, tab-separated text, .xlsx or JSON (an order id column such as "
    "order-id, amazon-order-id, 订单号 or 注文番号, optional reason and memo columns; or the ids "
    "without a header), one id per line, or a saved email (.eml) or message naming the "
    "orders; - for stdin. Repeatable.",
)
@click.option(
    "--from-requests",
    is_flag=True,
    help="Also cancel every order whose buyer officially requested cancellation (read from "
    "the portal's inspection API, else from the request emails in the seller's mailbox).",
)
@click.option(
    "--reason",
    default="BuyerCanceled",
    show_default=True,
    help='Reason for cancellation: a code (NoInventory) or a label ("No Inventory", 无库存), '
    "any case. A reason column in the file wins for its rows.",
)
@click.option(
    "--memo", default="", metavar="TEXT", help="Seller memo (optional, at most 1000 characters)."
)
@click.option("--strict", is_flag=True, help="Any bad input row is an error (default: skip it).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Walk each order up to the final submit and change nothing.",
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask before a run of more than 5 orders.")
@click.option(
    "--canary",
    type=click.IntRange(min=1),
    metavar="N",
    help="Cancel N orders first, show how they went, and ask before the rest.",
)
@click.option(
    "--max-cancel-rate",
    type=click.FloatRange(min=0, max=100),
    metavar="PCT",
    help="Refuse a run that would push the Order Cancellation Rate above PCT percent "
    "(default 2.5).",
)
@click.option("--rate", "pace", metavar="N/s", help="At most this many orders per second.")
@click.option(
    "--max-failures",
    type=click.IntRange(min=1),
    metavar="K",
    help="Stop taking new orders after K failures.",
)
@click.option(
    "--resume",
    metavar="RUN_ID",
    help="Go on with an interrupted run (its id, or 'last'): done orders are skipped.",
)
@click.option("--retry-failed", is_flag=True, help="With --resume: play failed orders again too.")
@max_outage_option(
    help="How long the portal may be unreachable (or throttle every request) before the run "
    "stops, resumable: 90s, 15m, 1h. Waiting for it costs no order an attempt."
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="The run journal, where every order's progress is recorded (default "
    "$XDG_DATA_HOME/seller-agent/journal.db).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Also write the self-contained HTML report to FILE.",
)
@click.option(
    "--trace",
    type=click.Choice(["off", "on-failure"]),
    default="off",
    show_default=True,
    help="Keep a trace (a step-by-step recording of the browser, viewable with Playwright's "
    "trace viewer) of each failed order in the run folder, sign-in fields hidden; off keeps "
    "none.",
)
@input_file_options
@shard_option
@workers_option
@bulk_options
@portal_option
@api_token_option
@browser_options
@browser_endpoint_option
@secrets_option
@run_dir_option(help=BULK_RUN_DIR_HELP)
@json_option
@quiet_option
def cancel(as_json: bool, **params: Any) -> None:
    """Cancel orders and print one line per order.

    Orders come as arguments, from files (--from), or from the buyers' official cancellation
    requests (--from-requests). Every row is checked before the browser starts; the run is
    recorded in a journal, so it can be resumed after Ctrl-C or a crash without cancelling
    any order twice or skipping one. Before it starts, the run projects the Order
    Cancellation Rate and refuses to push it past --max-cancel-rate.

    Each line gives the order id, the outcome (cancelled, already_cancelled,
    not_cancellable, not_found or failed), the reason, and whether the cancellation counts
    toward the Order Cancellation Rate (it does not when the reason is Buyer Canceled and the
    buyer asked officially). Re-running is safe: an order already cancelled is not touched.
    Exit code 0 when every order ended cancelled or already cancelled, 1 otherwise, 2 for a
    bad order id, reason or input file (checked before the browser starts).

    Usage:

    \b
        seller-agent cancel 112-0000001-0000001
        seller-agent cancel 112-0000001-0000001 112-0000001-0000002 \\
            --reason "No Inventory"
        seller-agent cancel --from orders.csv --reason PricingError \\
            --workers 4 --yes
        seller-agent cancel --from-requests --dry-run
        seller-agent cancel --resume last
        seller-agent cancel --from orders.csv --shard 2/3 \\
            --browser-endpoint ws://10.0.0.7:8610/TOKEN

    A resumed run keeps the settings it was started with (--workers, --rate, --attempts,
    --max-outage, ...) unless they are given again.
    """
    with json_errors(as_json):
        _cancel(as_json=as_json, **params)


def _cancel(
    order_ids: tuple[str, ...],
    sources: tuple[str, ...],
    from_requests: bool,
    reason: str,
    memo: str,
    strict: bool,
    dry_run: bool,
    yes: bool,
    canary: int | None,
    max_cancel_rate: float | None,
    pace: str | None,
    max_failures: int | None,
    resume: str | None,
    retry_failed: bool,
    max_outage: str,
    journal: str | None,
    report_path: str | None,
    trace: str,
    encoding: str | None,
    sheet: str | None,
    shard: Any,
    workers: int | None,
    attempts: int,
    recycle_every: int,
    block_media: bool,
    portal: str,
    api_token: str | None,
    browser_path: str | None,
    headed: bool,
    slowmo: int,
    browser_endpoints: tuple[str, ...],
    secrets_path: str | None,
    run_dir: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    from agent import report as report_mod
    from agent.bulk import retry as retry_rules
    from agent.bulk.engine import BulkOptions, default_workers
    from agent.bulk.journal import Journal
    from agent.cancel.job import CancelRequest
    from agent.cancel.job import execute_cancel as run_cancel
    from agent.cancel.orders import ORDER_ID_PATTERN, normalize_order_id, shown
    from agent.cancel.rules import BadReason, reason_code, report_facts
    from agent.cli.prompts import canary_prompt
    from agent.i18n import reason_label

    if not (order_ids or sources or from_requests or resume):
        raise click.UsageError(
            told(N_("give order ids, --from FILE, --from-requests or --resume RUN_ID"))
        )
    if resume and shard is not None:
        raise click.UsageError(
            told(N_("--shard applies to a new run; a resumed run keeps its own rows"))
        )
    if resume and (order_ids or sources or from_requests):
        # The run would go on with its own orders, the ones given here left out unsaid.
        raise click.UsageError(
            told(
                N_(
                    "--resume goes on with the run's own orders; order ids, --from and "
                    "--from-requests start a new run: give one or the other"
                )
            )
        )
    # Ids typed on the command line are refused outright: a typo there is never meant.
    for order_id in order_ids:
        if not ORDER_ID_PATTERN.match(normalize_order_id(order_id)):
            typed = order_id if order_id.isprintable() else shown(order_id)
            raise InputError(
                told(
                    N_(
                        "order {order}: malformed order id (expected digits like "
                        "112-0000001-0000001)"
                    ),
                    order=typed,
                )
            )
    if len(memo) > 1000:
        raise InputError(told(N_("--memo: at most 1000 characters, got {count}"), count=len(memo)))
    try:
        reason = reason_code(reason)
    except BadReason as error:
        raise InputError(told(N_("--reason: {error}"), error=as_told(error))) from None

    def say(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    def confirm_plan(count: int, projection: Any) -> bool:
        if yes or dry_run or count <= 5:
            return True
        if not sys.stdin.isatty():
            return False
        return click.confirm(
            ngettext(
                "Cancel {count} order with reason {reason}?",
                "Cancel {count} orders with reason {reason}?",
                count,
            ).format(count=count, reason=reason_label(reason)),
            err=True,
        )

    request = CancelRequest(
        ids=list(order_ids),
        sources=list(sources),
        from_requests=from_requests,
        reason=reason,
        memo=memo or None,
        strict=strict,
        encoding=encoding,
        sheet=sheet,
        portal=portal,
        journal=journal,
        resume=resume,
        dry_run=dry_run,
        yes=yes,
        max_cancel_rate=max_cancel_rate,
        api_token=api_token,
        secrets_path=secrets_path,
        run_dir=run_dir,
        shard=shard,
        options=BulkOptions(
            workers=workers or default_workers(),
            rate=parse_rate(pace),
            max_failures=max_failures,
            retry=retry_rules.RetryPolicy(attempts=attempts),
            recycle_every=recycle_every,
            block_media=block_media,
            trace=trace == "on-failure",
            canary=canary,
            retry_failed=retry_failed,
            quiet=quiet,
            headed=headed,
            slowmo=slowmo,
            browser_path=browser_path,
            max_outage=parse_duration(max_outage),
            endpoints=browser_endpoints,
            connect=browser_endpoints[0] if browser_endpoints else None,
        ),
        given=given_settings(click.get_current_context()),
    )
    # Into a file or a pipe, each order's line is written as the order ends, so a log kept
    # with `> file` or `| tee` is current and survives the process; on a terminal the
    # progress display has stderr, and the lines come together at the end.
    told_lines: set[str] = set()
    widths: dict[str, int] = {}

    def tell_row(row: Any) -> None:
        if row.run_id not in widths:
            # Every row of the run is recorded before the first ends: the reason column is
            # as wide as the run's widest reason from the first line on.
            with Journal(request.journal) as opened:
                widths[row.run_id] = reason_width(
                    recorded.params.get("reason") or "" for recorded in opened.rows(row.run_id)
                )
        click.echo(format_line(order_lines([row])[0], widths[row.run_id]))
        told_lines.add(row.key)

    streaming = not as_json and not sys.stdout.isatty()
    outcome = run_cancel(
        request,
        confirm_canary=canary_prompt(yes),
        confirm_plan=confirm_plan,
        say=say,
        warn=warn,
        stdin=sys.stdin,
        on_row=tell_row if streaming else None,
    )
    if outcome.run_id is None and outcome.exit_code == 0:
        # Nothing to do (no buyer request to act on): said, no run recorded.
        if as_json:
            echo_json(
                {
                    "run_id": None,
                    "status": None,
                    "orders": [],
                    "outcomes": {},
                    "problems": [],
                    "ok": True,
                    "error": None,
                    "exit_code": 0,
                }
            )
        say(outcome.message or _("nothing to run"))
        return
    if outcome.run_id is None:
        raise InputError(outcome.message or told(N_("nothing to run")))
    with Journal(request.journal) as opened:
        rows = order_lines(opened.rows(outcome.run_id))
        data = report_mod.build_report(opened, outcome.run_id, row_facts=report_facts)
    if as_json:
        echo_json(
            {
                "run_id": outcome.run_id,
                "status": data["run"]["status"],
                "orders": rows,
                "outcomes": data["outcomes"],
                # Input rows left out before the run (each names its file and line).
                "problems": data["problems"],
                "ok": outcome.exit_code == 0,
                "error": outcome.message or stop_message(outcome),
                "exit_code": outcome.exit_code,
            }
        )
    else:
        width = reason_width(row["reason"] for row in rows)
        for row in rows:
            if row["order_id"] not in told_lines:
                click.echo(format_line(row, width))
    for row in rows:
        if row["counts_toward_rate"] and row["reason"] == "BuyerCanceled":
            warn(
                _(
                    "warning: {order}: the buyer did not request cancellation officially, so "
                    "Buyer Canceled still counts toward your cancellation rate"
                ).format(order=row["order_id"])
            )
    if len(rows) > 1:
        say("")
        # The next step (resume, retry) is said below, with --secrets when one was given.
        say(report_mod.render_table(data, next_steps=False))
    if report_path:
        report_mod.write_report(data, "html", report_path)
        say(_("HTML report: {path}").format(path=report_path))
    step = next_step(
        data["run"]["status"],
        data["failed"],
        resume_command(outcome.run_id, journal=journal, secrets_path=secrets_path),
    )
    if step:
        say(step)
    if outcome.message:
        print_error(outcome.message)
    sys.exit(outcome.exit_code)
