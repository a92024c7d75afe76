"""The cancel job: validate the input, project the cancellation rate and refuse a run that
passes the limit, record (or resume) the run, and play it through the bulk engine with the
cancel rules (reconcile) handed in. `seller-agent cancel` and `seller-agent demo` call it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.bulk.endpoints import check_endpoints
from agent.bulk.engine import (
    BulkOptions,
    BulkResult,
    ConfirmCallback,
    play_run,
    resumed_options,
)
from agent.bulk.guarded import dry_run_flow
from agent.bulk.journal import Journal, run_kind
from agent.bulk.rows import InputError, Problem, RowSet, read_in_english_too, replayable_stdin
from agent.bulk.runs import bind_rows, start_run
from agent.bulk.shard import Shard, take_shard
from agent.cancel import rules
from agent.i18n import N_, _, as_told, in_english_too, ngettext, pgettext, shown, told


@dataclass
class CancelRequest:
    ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    from_requests: bool = False
    reason: str | None = None
    memo: str | None = None
    strict: bool = False
    encoding: str | None = None  # of the input files, when their content cannot show it
    sheet: str | None = None  # of .xlsx inputs (default: the first)
    portal: str = "http://127.0.0.1:8600"
    journal: str | None = None
    resume: str | None = None  # a run id or "last"
    dry_run: bool = False
    yes: bool = False
    max_cancel_rate: float | None = None  # None: the default limit; the run stops above it
    api_token: str | None = None
    secrets_path: str | None = None
    flow: str = "cancel_order"
    run_dir: str | None = None
    shard: Shard | None = None  # play only this slice of the rows (agent.bulk.shard)
    options: BulkOptions = field(default_factory=BulkOptions)
    # On resume: the names of the settings (agent.bulk.engine.RESUMED_SETTINGS) given again
    # now; the others keep the values the run was started with. None: all of `options` holds.
    given: frozenset[str] | None = None


@dataclass
class CancelOutcome:
    exit_code: int
    run_id: str | None = None
    result: BulkResult | None = None
    problems: list[Problem] = field(default_factory=list)
    projection: Any = None
    message: str | None = None


@dataclass
class BuyerRequests:
    """What `--from-requests` found among the signed-in seller's orders."""

    official: list[str]  # the buyer asked officially: these are cancelled
    messages: list[str]  # the buyer only wrote a message: left out, and said so


def read_buyer_requests(
    portal: str,
    *,
    seller: str,
    token: str | None = None,
    facts: Callable[[], Any] | None = None,
) -> BuyerRequests:
    """The seller's Unshipped orders whose buyer asked to cancel (`--from-requests`), read as
    that seller sees them: from the portal's inspection API where it has one (the bundled
    portal), asked for this seller's orders only, else every order named in a request email
    in the seller's own mailbox (facts(): the collect_cancel_requests flow), whose orders the
    cancel flow's guard then sorts out."""
    from agent.cancel.guard import GuardError, fetch_api_snapshot

    try:
        _, orders = fetch_api_snapshot(portal, seller=seller, token=token)
    except GuardError as error:
        if facts is None or not error.answered:
            raise
        read = facts()
        requested = list(read.requested)
        messages = getattr(read, "messages", [])
        return BuyerRequests(
            official=requested, messages=[order for order in messages if order not in requested]
        )

    def unshipped(kind: str) -> list[str]:
        return sorted(
            order_id
            for order_id, order in orders.items()
            # Another seller's order never belongs here, even from an API that ignores the
            # seller it was asked for.
            if str(order.get("seller", seller)).lower() == seller.lower()
            and order.get("buyer_request_kind") == kind
            and order.get("status") == "Unshipped"
        )

    return BuyerRequests(official=unshipped("official"), messages=unshipped("message"))


def requests_lines(found: BuyerRequests, chosen: set[str]) -> list[str]:
    """What `--from-requests` tells before the plan: how many it took, and the orders whose
    buyers only wrote (not taken, unless also given another way)."""
    count = len(found.official)
    lines = [
        ngettext(
            "--from-requests: {count} order whose buyer officially requested cancellation",
            "--from-requests: {count} orders whose buyer officially requested cancellation",
            count,
        ).format(count=count)
    ]
    left_out = [order_id for order_id in found.messages if order_id not in chosen]
    if left_out:
        listed = pgettext("list", ", ").join(left_out[:20]) + (
            _(" and {count} more").format(count=len(left_out) - 20) if len(left_out) > 20 else ""
        )
        lines.append(
            ngettext(
                "Left out {count} order whose buyer only sent a message asking to cancel, not "
                "an official request: {orders}. Cancelling it, even as Buyer Canceled, counts "
                "toward the Order Cancellation Rate; give its id (or --from) to cancel it anyway.",
                "Left out {count} orders whose buyer only sent a message asking to cancel, not "
                "an official request: {orders}. Cancelling them, even as Buyer Canceled, counts "
                "toward the Order Cancellation Rate; give their ids (or --from) to cancel them "
                "anyway.",
                len(left_out),
            ).format(count=len(left_out), orders=listed)
        )
    return lines


@dataclass
class PageFacts:
    """What the portal's own pages say (guard.PortalFacts), and, for --from-requests, the
    orders the seller's buyer messages are about."""

    metrics: Any
    requested: list[str]
    messages: list[str] = field(default_factory=list)


async def read_buyer_messages(
    browser: Any, *, portal: str, secrets: Any, run_dir: Any
) -> list[str]:
    """The orders the seller's buyer messages are about (the collect_buyer_messages flow), or
    none when the inbox cannot be read: naming them is a courtesy, never a reason to stop."""
    from agent.flow import load_flow
    from agent.play import browser as browserlib
    from agent.play import session
    from agent.play.player import run_flow

    state = await session.ensure_session(browser, portal=portal, secrets=secrets, run_dir=run_dir)
    context = await browserlib.new_context(browser, storage_state=state)
    try:
        page = await context.new_page()
        result = await run_flow(
            page, load_flow("collect_buyer_messages"), {}, portal=portal, secrets=secrets,
            run_dir=run_dir,
        )  # fmt: skip
    finally:
        with contextlib.suppress(Exception):
            await context.close()
    if not result.ok:
        return []
    return sorted({str(order) for order in result.values.get("order_ids") or [] if order})


def facts_reader(request: CancelRequest, secrets: Any, say: Callable[[str], None]) -> Callable:
    """A function that reads the portal's own pages once (Account Health, the request emails,
    and for --from-requests the buyer messages) in a browser of its own, and gives the same
    answer to every later call."""

    @functools.cache
    def read() -> Any:
        from agent.cancel.guard import read_portal_facts
        from agent.play import browser as browser_mod

        say(_("reading Account Health and the buyer requests in the browser"))
        run_dir = Path(request.run_dir or browser_mod.data_dir() / "runs") / "guard"

        async def work() -> Any:
            from playwright.async_api import async_playwright

            async with async_playwright() as playwright:
                browser = await browser_mod.launch(
                    playwright,
                    browser_path=request.options.browser_path,
                    headed=request.options.headed,
                    slowmo=request.options.slowmo,
                    connect=request.options.connect,
                )
                try:
                    found = await read_portal_facts(
                        browser, portal=request.portal, secrets=secrets, run_dir=run_dir
                    )
                    messages = []
                    if request.from_requests:
                        messages = await read_buyer_messages(
                            browser, portal=request.portal, secrets=secrets, run_dir=run_dir
                        )
                    return PageFacts(found.metrics, list(found.requested), messages)
                finally:
                    with contextlib.suppress(Exception):
                        await browser.close()

        return asyncio.run(work())

    return read


def check_rate(
    request: CancelRequest,
    rowset: RowSet,
    say: Callable[[str], None],
    facts: Callable[[], Any] | None = None,
    *,
    seller: str | None = None,
) -> tuple[Any, str | None]:
    """The projection, and an error line when the run would pass the limit unasked.

    The counts and each order's request come from the portal's inspection API where it has
    one (for `seller`, the signed-in account: only its own orders that can still be
    cancelled count), else from its pages (facts(): Account Health and the request emails)."""
    from agent.cancel.guard import (
        DEFAULT_MAX_CANCEL_RATE,
        GuardError,
        fetch_api_snapshot,
        planned_orders,
        project_rate,
    )

    limit = (
        request.max_cancel_rate if request.max_cancel_rate is not None else DEFAULT_MAX_CANCEL_RATE
    )
    complete = True
    try:
        metrics, known = fetch_api_snapshot(request.portal, seller=seller, token=request.api_token)
    except GuardError as error:
        if facts is None or not error.answered:
            # Unreachable: there are no pages to read either; the run will say more.
            say(
                _("Warning: cannot project the cancellation rate: {error}").format(
                    error=shown(error)
                )
            )
            return None, None
        try:
            read = facts()
        except GuardError as failure:
            say(
                _("Warning: cannot project the cancellation rate: {error}").format(
                    error=f"{shown(error)}; {shown(failure)}"
                )
            )
            return None, None
        metrics = read.metrics
        # The pages say which orders were requested officially, not each order's status:
        # every order is taken as cancellable, which can only overstate the rate.
        known = {order_id: {"buyer_request_kind": "official"} for order_id in read.requested}
        complete = False
    pairs = [(row.key, row.params.get("reason")) for row in rowset.rows]
    projection = project_rate(metrics, planned_orders(pairs, known, complete=complete), limit)
    for line in projection.summary_lines():
        say(line)
    # Only a run that raises the rate above the limit is refused: one whose orders do not
    # count leaves an already high rate where it is.
    if projection.over_limit:
        before, after = projection.rate_texts()
        return projection, told(
            N_(
                "the run would raise the Order Cancellation Rate from {before} to {after} (limit "
                "{limit}%); pass --max-cancel-rate {least} or more to run it anyway"
            ),
            before=before,
            after=after,
            limit=f"{limit:g}",
            least=projection.after.least_limit(),
        )
    return projection, None


def execute_cancel(
    request: CancelRequest,
    *,
    confirm_canary: ConfirmCallback | None = None,
    confirm_plan: Callable[[int, Any], bool] | None = None,
    say: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
    stdin: Any = None,
    on_row: Callable[[Any], None] | None = None,
) -> CancelOutcome:
    """Validate the input, check the rate guard, record (or resume) the run, and play it.
    Input errors come back as exit code 2 with one message line, before anything is written.
    warn: for what the input could not give (rows left out, an encoding guessed), which
    --quiet does not silence (default: say)."""
    from agent.bulk.journal import JournalError, RunBusy
    from agent.cancel.guard import DEFAULT_MAX_CANCEL_RATE, GuardError
    from agent.cancel.orders import read_order_rows
    from agent.errors import SellerAgentError
    from agent.flow import FlowError, load_flow
    from agent.play.browser import BrowserNotFound, EndpointError
    from agent.play.secrets import load_secrets

    def _say(message: str) -> None:
        # stderr may be a closed pipe (the parent died); the journal matters more than chatter.
        with contextlib.suppress(OSError, ValueError):
            print(message, file=sys.stderr, flush=True)

    say = say or _say
    warn = warn or say
    options = request.options
    run_dir = request.run_dir
    journal: Journal | None = None
    run_id: str | None = None
    projection = None
    try:
        flow = in_english_too(lambda: load_flow(request.flow), FlowError)
        secrets = load_secrets(Path(request.secrets_path) if request.secrets_path else None)
        if request.resume:
            journal = Journal(request.journal, redact=secrets.redact)
            run_id = journal.resolve_run_id(request.resume)
            record = journal.run(run_id)
            if "flow_source" in record.options and run_kind(record.options) != "cancel":
                # A run of `run FLOW --rows` (it records its flow's file) goes on with its own
                # flow, not as a cancel run.
                raise JournalError(
                    _(
                        "run {run} is a run of seller-agent run {flow} --rows: go on with it "
                        "with `seller-agent run {flow} --resume {run}`"
                    ).format(run=run_id, flow=record.options.get("flow_source") or record.flow)
                )
            shared = dict(record.params)
            if record.flow != flow.name:
                flow = load_flow(record.flow)
            # A resumed run keeps its own mode: a real run never turns into a dry one halfway.
            if record.options.get("dry_run"):
                flow = dry_run_flow(flow)
            portal = record.portal
            # Its log and evidence stay in one folder unless a new one is asked for.
            run_dir = run_dir or record.options.get("run_dir")
            options = resumed_options(journal, run_id, record.options, options, request.given)
            say(_("resuming run {run}: {settings}").format(run=run_id, settings=options.summary()))
        else:
            portal = request.portal
            shared = {"memo": request.memo} if request.memo else {}
            if request.dry_run:
                flow = dry_run_flow(flow)
            facts = facts_reader(request, secrets, say)
            ids = list(request.ids)
            if request.from_requests:
                found = read_buyer_requests(
                    portal, seller=secrets.email, token=request.api_token, facts=facts
                )
                for line in requests_lines(found, set(ids)):
                    say(line)
                ids += [order_id for order_id in found.official if order_id not in ids]
                if not ids and not request.sources:
                    # No request now is a state of the account, not a mistake in the input:
                    # a run every hour meets it.
                    return CancelOutcome(
                        0,
                        message=_(
                            "nothing to cancel: no buyer has officially requested cancellation"
                        ),
                    )

            # in_english_too reads an unusable list again: standard input is kept for it.
            source = replayable_stdin(stdin) if "-" in request.sources else stdin

            def read() -> RowSet:
                return read_order_rows(
                    request.sources,
                    ids,
                    default_reason=request.reason,
                    strict=request.strict,
                    stdin=source,
                    encoding=request.encoding,
                    sheet=request.sheet,
                )

            rowset = read_in_english_too(read)
            for note in rowset.notes:
                warn(_("Note: {note}").format(note=note))
            rowset = bind_rows(flow, rowset, shared, strict=request.strict)
            for problem in rowset.problems:
                warn(_("Warning: {problem} (skipped)").format(problem=shown(problem)))
            if request.shard is not None:
                everything = len(rowset.rows)
                rowset = take_shard(rowset, request.shard)
                say(
                    ngettext(
                        "shard {shard}: {count} of {total} row",
                        "shard {shard}: {count} of {total} rows",
                        everything,
                    ).format(shard=request.shard, count=len(rowset.rows), total=everything)
                )
            if not rowset.rows:
                return CancelOutcome(
                    2,
                    problems=rowset.problems,
                    message=(
                        told(N_("no valid rows to run in shard {shard}"), shard=request.shard)
                        if request.shard is not None
                        else told(N_("no valid rows to run"))
                    ),
                )
            # Every browser endpoint answers before anything is recorded.
            check_endpoints(request.options)
            projection, refusal = check_rate(request, rowset, say, facts, seller=secrets.email)
            if refusal and not request.dry_run:
                return CancelOutcome(
                    2, problems=rowset.problems, projection=projection, message=refusal
                )
            # The plan (count, reason, projected rate) has been shown; a person may still say no.
            if confirm_plan is not None and not confirm_plan(len(rowset.rows), projection):
                return CancelOutcome(
                    2,
                    problems=rowset.problems,
                    projection=projection,
                    message=told(
                        N_("the run was not confirmed (pass --yes to run without asking)")
                    ),
                )
            stored = options.to_dict() | {
                "dry_run": request.dry_run,
                "max_cancel_rate": (
                    DEFAULT_MAX_CANCEL_RATE
                    if request.max_cancel_rate is None
                    else request.max_cancel_rate
                ),
                "projection": projection.to_dict() if projection else None,
                "problems": [str(problem) for problem in rowset.problems],
                "run_dir": run_dir,
                "shard": str(request.shard) if request.shard is not None else None,
            }
            # Opened only now: input the run refuses leaves no trace in the journal.
            journal = Journal(request.journal, redact=secrets.redact)
            run_id = start_run(
                journal, flow, rowset, portal=portal, shared_params=shared, options=stored
            )
        result = play_run(
            flow,
            journal,
            run_id,
            portal=portal,
            secrets=secrets,
            options=options,
            run_dir=run_dir,
            shared=shared,
            say=say,
            confirm_canary=confirm_canary,
            reconcile=rules.reconcile,
            on_row=on_row,
        )
        _note_rate_after(journal, run_id, request, secrets.email)
        return CancelOutcome(result.exit_code, run_id=run_id, result=result, projection=projection)
    except RunBusy as error:
        # Another process plays the run: nothing of this one to report, only why.
        return CancelOutcome(2, message=as_told(error))
    except (
        InputError,
        FlowError,
        GuardError,
        JournalError,
        BrowserNotFound,
        EndpointError,
    ) as error:
        return CancelOutcome(2, run_id=run_id, message=as_told(error))
    except FileNotFoundError as error:  # --browser-path that is not a program
        return CancelOutcome(2, run_id=run_id, message=as_told(error))
    except SellerAgentError as error:  # secrets unreadable, or signing in failed
        # A stop the portal asked for (a person must act) is exit 2 even mid-run.
        code = 2 if run_id is None or error.exit_code == 2 else 1
        return CancelOutcome(code, run_id=run_id, message=as_told(error))
    finally:
        if journal is not None:
            journal.close()


def _note_rate_after(journal: Journal, run_id: str, request: CancelRequest, seller: str) -> None:
    from agent.cancel.guard import GuardError, fetch_api_snapshot

    try:
        metrics, _ = fetch_api_snapshot(
            journal.run(run_id).portal, seller=seller, token=request.api_token
        )
    except GuardError:
        return
    journal.update_run_options(run_id, rate_measured_after=metrics.rate)
