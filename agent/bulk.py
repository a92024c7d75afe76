"""Run one flow over many rows: a pool of browser contexts in one browser and one asyncio loop,
with the journal as the source of truth, retries for transient failures, a rate limit, a
failure budget, a canary phase, and graceful or immediate stop on Ctrl-C.

The journal is written before the browser acts: a row is committed as running, then its flow
runs, then its result is committed. A row an interrupted run left running is played again
through the flow's guard, which is what makes "never twice, never skipped" hold after a crash.

`python -m agent.bulk` is a thin command line over `execute_cancel` (tests and bench use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import retry as retry_rules
from agent.journal import Journal, RowRecord, plan_resume
from agent.progress import BulkProgress
from agent.rows import InputError, Problem, RowSet
from agent.signals import loop_signals
from agent.timings import Timings

# When a row that may already have acted (reclaimed after a crash, or retried after a
# transient failure) finds the order already cancelled, and the flow's values show the
# cancellation is this seller's with this row's reason, the earlier attempt did it.
RECONCILE_OUTCOMES = {"already_cancelled": "cancelled"}


def default_workers() -> int:
    return max(1, min(8, 2 * (os.cpu_count() or 1)))


@dataclass
class BulkOptions:
    workers: int = field(default_factory=default_workers)
    rate: float | None = None  # rows started per second, at most
    max_failures: int | None = None  # stop taking rows once this many have failed
    recycle_every: int = 50  # a context is replaced after this many rows (memory, cookies)
    retry: retry_rules.RetryPolicy = field(default_factory=retry_rules.RetryPolicy)
    block_media: bool = False
    trace: bool = False
    canary: int | None = None  # play this many rows first, then ask before the rest
    retry_failed: bool = False  # on resume, play failed rows again too
    quiet: bool = False
    headed: bool = False
    slowmo: int = 0
    browser_path: str | None = None
    connect: str | None = None
    locale: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "rate": self.rate,
            "max_failures": self.max_failures,
            "recycle_every": self.recycle_every,
            "attempts": self.retry.attempts,
            "block_media": self.block_media,
            "trace": self.trace,
            "canary": self.canary,
        }


@dataclass
class CanarySummary:
    run_id: str
    played: int
    remaining: int
    outcomes: dict[str, int]
    failed: int
    all_ok: bool


ConfirmCallback = Callable[[CanarySummary], bool | Awaitable[bool]]


@dataclass
class BulkResult:
    run_id: str
    status: str  # finished, interrupted, stopped (failure budget), paused (canary declined)
    rows: list[RowRecord]

    @property
    def outcomes(self) -> dict[str, int]:
        return dict(Counter(row.outcome or row.state for row in self.rows))

    @property
    def exit_code(self) -> int:
        """0 when every row ended in a success outcome, else 1."""
        return 0 if self.rows and all(row.ok for row in self.rows) else 1


class TokenBucket:
    """At most `rate` acquisitions per second on average, bursts of at most `burst`."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.stamp = clock()
        self.sleep = sleep
        self.lock = asyncio.Lock()

    def _fill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    async def acquire(self) -> None:
        # The lock makes waiters queue in order, so no worker starves behind faster ones.
        async with self.lock:
            self._fill()
            while self.tokens < 1:
                await self.sleep((1 - self.tokens) / self.rate)
                self._fill()
            self.tokens -= 1


# Steps that only look at the page: a dry run may go on through them after the guard.
LOOKING_STEPS = {"wait", "expect", "extract", "screenshot", "outcome", "scroll", "hover"}
DRY_RUN_OUTCOME = "would_run"


def dry_run_flow(flow: Any) -> Any:
    """The flow's guard-only pass: its steps up to the first guard (`outcome` step) and the
    look-only steps after it, ending in `would_run` when no guard outcome holds. The bundled
    cancel flow has no dry_run param, and nothing after its guard is safe to replay."""
    from agent.flow import FlowError, load_flow_data

    steps = list(flow.steps)
    guard = next((index for index, step in enumerate(steps) if step.kind == "outcome"), None)
    if guard is None:
        raise FlowError(f"{flow.name}: no guard (outcome) step, so a dry run cannot stop safely")
    end = guard + 1
    while end < len(steps) and steps[end].kind in LOOKING_STEPS:
        end += 1
    outcomes = dict(flow.outcomes)
    # Every page URL contains "/": the outcome holds whenever no guard outcome did. The
    # condition goes through the flow loader so it has the shape the player expects.
    always = load_flow_data(
        {"name": "dry-run", "steps": [{"goto": "/"}], "outcomes": {DRY_RUN_OUTCOME: {"url": "/"}}}
    )
    outcomes[DRY_RUN_OUTCOME] = always.outcomes[DRY_RUN_OUTCOME]
    success = list(flow.success or flow.outcomes) + [DRY_RUN_OUTCOME]
    return flow.model_copy(update={"steps": steps[:end], "outcomes": outcomes, "success": success})


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:80] or "row"


def reconcile(flow: Any, row_params: Mapping[str, Any], result: Any) -> str | None:
    """The outcome to record for a row that may already have acted and now meets its guard:
    the success outcome when the flow's values show the earlier attempt did it, else None."""
    target = RECONCILE_OUTCOMES.get(result.outcome)
    if target is None or target not in flow.outcomes:
        return None
    values = result.values or {}
    by = str(values.get("cancelled_by", "")).strip().lower()
    reason = values.get("cancel_reason") or values.get("reason")
    wanted = row_params.get("reason")
    if by in {"seller", "you", "卖家"} and reason and wanted and _same_reason(reason, wanted):
        return target
    return None


def _steps_after_guard(flow: Any) -> set[tuple[str, int | None]]:
    steps = list(flow.steps)
    guard = next((i for i, step in enumerate(steps) if step.kind == "outcome"), None)
    found: set[tuple[str, int | None]] = set()
    pending = steps[guard + 1 :] if guard is not None else []
    while pending:
        step = pending.pop()
        found.add((step.name or step.path, step.line))
        nested = step.args.get("steps") if isinstance(step.args, dict) else None
        if isinstance(nested, list):
            pending.extend(item for item in nested if hasattr(item, "kind"))
    return found


def passed_guard(flow: Any, result: Any) -> bool:
    """True when a failed attempt reached a step after the flow's first guard (it resolved
    that step's target), so it may have changed something before it failed."""
    after = _steps_after_guard(flow)
    return any((match.get("step"), match.get("line")) in after for match in result.matches or [])


def _same_reason(shown: Any, wanted: Any) -> bool:
    from agent.reasons import parse_reason

    return (parse_reason(str(shown)) or str(shown)) == (parse_reason(str(wanted)) or str(wanted))


class _Stop:
    """Ctrl-C once: take no new rows. Twice: abandon the rows in flight (they stay running in
    the journal and are replayed through the guard on resume)."""

    def __init__(self) -> None:
        self.soft = False
        self.hard = False
        self.reason: str | None = None
        self.tasks: list[asyncio.Task[Any]] = []

    def request(self, reason: str = "interrupted") -> None:
        if self.soft:
            self.hard = True
            for task in self.tasks:
                task.cancel()
        self.soft = True
        self.reason = self.reason or reason


class BulkRunner:
    def __init__(
        self,
        flow: Any,
        journal: Journal,
        run_id: str,
        *,
        portal: str,
        secrets: Any,
        options: BulkOptions,
        run_dir: Path,
        shared_params: Mapping[str, Any] | None = None,
        confirm_canary: ConfirmCallback | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.flow = flow
        self.journal = journal
        self.run_id = run_id
        self.portal = portal
        self.secrets = secrets
        self.options = options
        self.run_dir = run_dir
        self.shared_params = dict(shared_params or {})
        self.confirm_canary = confirm_canary
        self.on_event = on_event or (lambda message: None)
        self.stop = _Stop()
        self.failures = 0
        self.bucket = TokenBucket(options.rate) if options.rate else None
        self.progress: BulkProgress | None = None
        self.browser: Any = None
        self.storage_state: Path | None = None
        self.timings = Timings()

    async def run(self) -> BulkResult:
        from agent import browser as browser_mod

        todo = plan_resume(self.journal, self.run_id, include_failed=self.options.retry_failed)
        if not todo:
            # Nothing left to play (a finished run resumed again): no browser needed.
            self.journal.set_run_status(self.run_id, "finished")
            return BulkResult(self.run_id, "finished", self.journal.rows(self.run_id))
        self.journal.set_run_status(self.run_id, "running")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # Anything that ends the run early (an exception, a cancellation) leaves it
        # "interrupted": resumable, never mistaken for finished.
        status = "interrupted"
        from playwright.async_api import async_playwright

        with loop_signals(asyncio.get_running_loop(), self._on_signal):
            try:
                with BulkProgress(len(todo), quiet=self.options.quiet) as progress:
                    self.progress = progress
                    async with async_playwright() as playwright:
                        self.browser = await browser_mod.launch(
                            playwright,
                            browser_path=self.options.browser_path,
                            headed=self.options.headed,
                            slowmo=self.options.slowmo,
                            connect=self.options.connect,
                        )
                        self.timings.mark("browser_start")
                        try:
                            status = await self._play_all(todo)
                        finally:
                            with contextlib.suppress(Exception):
                                await self.browser.close()
            except asyncio.CancelledError:
                status = "interrupted"
            finally:
                self.journal.set_run_status(self.run_id, status)
                self.timings.report()
        return BulkResult(self.run_id, status, self.journal.rows(self.run_id))

    async def _play_all(self, todo: list[RowRecord]) -> str:
        from agent import session as session_mod

        if todo and self.flow.session:
            self.storage_state = await self._sign_in(session_mod)
            self.timings.mark("session")
        canary = self.options.canary
        if canary and len(todo) > canary:
            await self._drain(todo[:canary])
            if self.stop.soft:
                return self._stopped_status()
            rows = self.journal.rows(self.run_id)
            played = [row for row in rows if row.key in {r.key for r in todo[:canary]}]
            summary = CanarySummary(
                run_id=self.run_id,
                played=len(played),
                remaining=len(todo) - canary,
                outcomes=dict(Counter(row.outcome or row.state for row in played)),
                failed=sum(1 for row in played if row.state == "failed"),
                all_ok=all(row.ok for row in played),
            )
            go_on = self.confirm_canary(summary) if self.confirm_canary else summary.all_ok
            if inspect.isawaitable(go_on):
                go_on = await go_on
            if not go_on:
                self._event("canary: stopped before the remaining rows; resume to play them")
                return "paused"
            todo = todo[canary:]
        await self._drain(todo)
        self.timings.mark("flows")
        return self._stopped_status()

    async def _sign_in(self, session_mod: Any) -> Path:
        """Sign in once for all workers, retrying the portal's transient trouble (a 429 burst
        or a 500 during sign-in) like any row; a rejected sign-in is never retried, so a wrong
        password cannot lock the account."""
        from agent.errors import SessionError

        attempt = 0
        while True:
            attempt += 1
            try:
                return await session_mod.ensure_session(
                    self.browser, portal=self.portal, secrets=self.secrets, run_dir=self.run_dir
                )
            except SessionError as error:
                kind = getattr(error, "error_kind", None)
                if (
                    kind not in retry_rules.TRANSIENT_KINDS
                    or attempt >= self.options.retry.attempts
                ):
                    raise
                self._event(f"{error}; trying again")
                await asyncio.sleep(retry_rules.backoff_delay(attempt, self.options.retry) + 1)

    def _stopped_status(self) -> str:
        if self.stop.reason == "max_failures":
            return "stopped"
        if self.stop.soft:
            return "interrupted"
        return "finished"

    def _on_signal(self) -> None:
        second = self.stop.soft
        self.stop.request()
        if second:
            self._event("stopping now; rows in flight will be replayed on resume")
        else:
            self._event("finishing the rows in flight (Ctrl-C again to stop at once)")

    def _event(self, message: str) -> None:
        with contextlib.suppress(Exception):
            self.on_event(message)

    async def _drain(self, rows: Sequence[RowRecord]) -> None:
        queue: deque[RowRecord] = deque(rows)
        count = min(self.options.workers, len(queue))
        self.stop.tasks = [
            asyncio.create_task(self._worker(number, queue), name=f"worker-{number}")
            for number in range(count)
        ]
        results = await asyncio.gather(*self.stop.tasks, return_exceptions=True)
        self.stop.tasks = []
        for outcome in results:
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                raise outcome

    async def _new_page(self) -> tuple[Any, Any]:
        from agent import browser as browser_mod

        context = await browser_mod.new_context(
            self.browser,
            storage_state=self.storage_state,
            block_media=self.options.block_media,
            locale=self.options.locale,
        )
        return context, await context.new_page()

    async def _worker(self, number: int, queue: deque[RowRecord]) -> None:
        context = page = None
        used = 0
        try:
            while queue and not self.stop.soft:
                if self.bucket is not None:
                    await self.bucket.acquire()
                    if self.stop.soft:
                        break
                if not queue:
                    break
                row = queue.popleft()
                if context is None or used >= self.options.recycle_every:
                    if context is not None:
                        with contextlib.suppress(Exception):
                            await context.close()
                    context, page = await self._new_page()
                    used = 0
                page = await self._play_row(row, context, page)
                used += 1
        finally:
            if context is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(context.close())

    async def _run_once(self, page: Any, params: dict[str, Any], row_dir: Path) -> Any:
        from agent import player as player_mod

        try:
            return await player_mod.run_flow(
                page,
                self.flow,
                params,
                portal=self.portal,
                secrets=self.secrets,
                run_dir=row_dir,
                trace=self.options.trace,
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - a crashed page must not kill the worker
            from agent.errors import one_line, playwright_error_kind

            # A closed page or a dead browser connection is worth another try on a new page;
            # anything else is a bug that a retry would only repeat.
            from_playwright = type(error).__module__.startswith("playwright")
            kind = playwright_error_kind(error) if from_playwright else "step"
            if from_playwright and ("has been closed" in str(error) or "crashed" in str(error)):
                kind = "network"
            return player_mod.RunResult(
                outcome="failed",
                ok=False,
                values={},
                matches=[],
                error=self.secrets.redact(one_line(error) or type(error).__name__),
                error_kind=kind,
                retry_after=None,
                evidence=[],
                duration=0.0,
            )

    async def _play_row(self, row: RowRecord, context: Any, page: Any) -> Any:
        from agent import flow as flow_mod

        key = row.key
        reclaimed = row.state == "running"
        # Committed before the browser acts on the row: a crash from here on leaves it
        # "running", and resume replays it through the guard.
        self.journal.mark_running(self.run_id, key, reclaim=reclaimed)
        # A failed row played again may have submitted before its last failure showed.
        may_have_acted = reclaimed or (row.state == "failed" and passed_guard(self.flow, row))
        params = flow_mod.bind_params(self.flow, {**self.shared_params, **row.params})
        row_dir = self.run_dir / _safe_name(key)
        attempt = 0
        while True:
            attempt += 1
            result = await self._run_once(page, params, row_dir)
            delay = retry_rules.next_delay(result, attempt, self.options.retry)
            if delay is None or self.stop.hard:
                break
            self.journal.note_retry(self.run_id, key, result.error, result.error_kind)
            if self.progress is not None:
                self.progress.row_retried()
            # An attempt that got past the guard may have submitted before its failure showed
            # (a 500 after the POST); the next attempt's guard answer is read with that in mind.
            # One that failed before the guard cannot have acted.
            may_have_acted = may_have_acted or passed_guard(self.flow, result)
            await asyncio.sleep(delay)
            # A page that failed mid-navigation can be left in any state; start clean.
            with contextlib.suppress(Exception):
                await page.close()
            page = await context.new_page()
        self._record(row, params, result, may_have_acted, reclaimed)
        return page

    def _record(
        self,
        row: RowRecord,
        params: Mapping[str, Any],
        result: Any,
        may_have_acted: bool,
        reclaimed: bool,
    ) -> None:
        key = row.key
        if result.outcome == "failed":
            self.journal.mark_failed(
                self.run_id,
                key,
                error=result.error or "failed",
                error_kind=result.error_kind,
                evidence=result.evidence,
                matches=result.matches,
                values=result.values,
            )
            self.failures += 1
            if self.progress is not None:
                self.progress.row_finished(False)
            limit = self.options.max_failures
            if limit is not None and self.failures >= limit and not self.stop.soft:
                self._event(f"{self.failures} rows failed: stopping (--max-failures {limit})")
                self.stop.reason = "max_failures"
                self.stop.soft = True
            return
        outcome = result.outcome
        ok = bool(result.ok)
        values = dict(result.values or {})
        # The attempt itself may have acted: past the guard, the submit went through, and a
        # lost confirmation (an expired session on the redirect) left it to meet the order
        # already cancelled.
        if may_have_acted or passed_guard(self.flow, result):
            settled = reconcile(self.flow, params, result)
            if settled is not None:
                values["reconciled_from"] = outcome
                outcome = settled
                ok = outcome in (self.flow.success or list(self.flow.outcomes))
        self.journal.mark_done(
            self.run_id,
            key,
            outcome=outcome,
            ok=ok,
            values=values,
            evidence=result.evidence,
            matches=result.matches,
            resumed=reclaimed,
        )
        if self.progress is not None:
            self.progress.row_finished(ok)


async def run_bulk(
    flow: Any,
    journal: Journal,
    run_id: str,
    *,
    portal: str,
    secrets: Any,
    options: BulkOptions | None = None,
    run_dir: Path | None = None,
    shared_params: Mapping[str, Any] | None = None,
    confirm_canary: ConfirmCallback | None = None,
    on_event: Callable[[str], None] | None = None,
) -> BulkResult:
    """Play every row of `run_id` that is still to do (pending, or running after an
    interruption). The run must exist in the journal (`start_run`)."""
    runner = BulkRunner(
        flow,
        journal,
        run_id,
        portal=portal,
        secrets=secrets,
        options=options or BulkOptions(),
        run_dir=run_dir or default_run_dir(journal, run_id),
        shared_params=shared_params,
        confirm_canary=confirm_canary,
        on_event=on_event,
    )
    return await runner.run()


def default_run_dir(journal: Journal, run_id: str) -> Path:
    return journal.path.parent / "runs" / run_id


def public_params(flow: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as they may be stored: a `secret: true` param becomes ***."""
    declared = getattr(flow, "params", {}) or {}
    return {
        name: ("***" if getattr(declared.get(name), "secret", False) else value)
        for name, value in params.items()
    }


def bind_rows(flow: Any, rowset: RowSet, shared: Mapping[str, Any]) -> RowSet:
    """Check every row against the flow's params before any browser starts; a row that does
    not bind becomes a problem naming its file and line."""
    from agent.flow import FlowError, bind_params

    checked = RowSet(problems=list(rowset.problems))
    for row in rowset.rows:
        try:
            bind_params(flow, {**shared, **row.params})
        except FlowError as error:
            checked.problems.append(Problem(row.source, row.line, str(error)))
            continue
        checked.rows.append(row)
    return checked


def start_run(
    journal: Journal,
    flow: Any,
    rowset: RowSet,
    *,
    portal: str,
    shared_params: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> str:
    """Record a new run with every row pending; returns its id."""
    return journal.create_run(
        flow=flow.name,
        params=public_params(flow, shared_params or {}),
        portal=portal,
        rows=[(row.key, public_params(flow, row.params)) for row in rowset.rows],
        options=options,
    )


# The cancel job: what `seller-agent cancel --from ...` and `python -m agent.bulk` share.


@dataclass
class CancelRequest:
    ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    from_requests: bool = False
    reason: str | None = None
    memo: str | None = None
    strict: bool = False
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
    options: BulkOptions = field(default_factory=BulkOptions)


@dataclass
class CancelOutcome:
    exit_code: int
    run_id: str | None = None
    result: BulkResult | None = None
    problems: list[Problem] = field(default_factory=list)
    projection: Any = None
    message: str | None = None


def requested_order_ids(
    portal: str, *, token: str | None = None, facts: Callable[[], Any] | None = None
) -> list[str]:
    """Orders whose buyer asked officially to cancel (`--from-requests`): the Unshipped ones
    from the portal's inspection API where it has one (the bundled portal), else every order
    named in a request email in the seller's mailbox (facts(): the collect_cancel_requests
    flow), whose orders the cancel flow's guard then sorts out."""
    from agent.guard import GuardError, fetch_api_snapshot

    try:
        _, orders = fetch_api_snapshot(portal, token=token)
    except GuardError as error:
        if facts is None or not error.answered:
            raise
        return list(facts().requested)
    return sorted(
        order_id
        for order_id, order in orders.items()
        if order.get("buyer_request_kind") == "official" and order.get("status") == "Unshipped"
    )


def facts_reader(request: CancelRequest, secrets: Any, say: Callable[[str], None]) -> Callable:
    """A function that reads the portal's own pages once (Account Health, the request emails)
    in a browser of its own, and gives the same answer to every later call."""

    @functools.cache
    def read() -> Any:
        from agent import browser as browser_mod
        from agent.guard import read_portal_facts

        say("reading Account Health and the buyer requests in the browser")
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
                    return await read_portal_facts(
                        browser, portal=request.portal, secrets=secrets, run_dir=run_dir
                    )
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
) -> tuple[Any, str | None]:
    """The projection, and an error line when the run would pass the limit unasked.

    The counts and each order's request come from the portal's inspection API where it has
    one, else from its pages (facts(): Account Health and the request emails)."""
    from agent.guard import (
        DEFAULT_MAX_CANCEL_RATE,
        GuardError,
        fetch_api_snapshot,
        planned_orders,
        project_rate,
    )

    limit = (
        request.max_cancel_rate if request.max_cancel_rate is not None else DEFAULT_MAX_CANCEL_RATE
    )
    try:
        metrics, known = fetch_api_snapshot(request.portal, token=request.api_token)
    except GuardError as error:
        if facts is None or not error.answered:
            # Unreachable: there are no pages to read either; the run will say more.
            say(f"Warning: cannot project the cancellation rate: {error}")
            return None, None
        try:
            read = facts()
        except GuardError as failure:
            say(f"Warning: cannot project the cancellation rate: {error}; {failure}")
            return None, None
        metrics = read.metrics
        # The pages say which orders were requested officially, not each order's status:
        # every order is taken as cancellable, which can only overstate the rate.
        known = {order_id: {"buyer_request_kind": "official"} for order_id in read.requested}
    pairs = [(row.key, row.params.get("reason")) for row in rowset.rows]
    projection = project_rate(metrics, planned_orders(pairs, known), limit)
    for line in projection.summary_lines():
        say(line)
    if projection.over_limit:
        return projection, (
            f"the run would raise the Order Cancellation Rate to {projection.after.rate:.2f}% "
            f"(limit {limit:g}%); pass --max-cancel-rate {projection.after.rate:.2f} or more "
            "to run it anyway"
        )
    return projection, None


def play_run(
    flow: Any,
    journal: Journal,
    run_id: str,
    *,
    portal: str,
    secrets: Any,
    options: BulkOptions,
    run_dir: str | os.PathLike[str] | None,
    shared: Mapping[str, Any],
    say: Callable[[str], None],
    confirm_canary: ConfirmCallback | None = None,
) -> BulkResult:
    """Play a recorded run, new or resumed, to its end: what `cancel` and `run --rows` share.
    Evidence goes under run_dir/RUN_ID (default: beside the journal)."""
    say(f"run {run_id}: journal {journal.path}")
    return asyncio.run(
        run_bulk(
            flow,
            journal,
            run_id,
            portal=portal,
            secrets=secrets,
            options=options,
            run_dir=Path(run_dir) / run_id if run_dir else None,
            # The journal keeps secrets as "***"; the flow reads them from the secrets store.
            shared_params={key: value for key, value in shared.items() if value != "***"},
            confirm_canary=confirm_canary,
            on_event=say,
        )
    )


def execute_cancel(
    request: CancelRequest,
    *,
    confirm_canary: ConfirmCallback | None = None,
    confirm_plan: Callable[[int, Any], bool] | None = None,
    say: Callable[[str], None] | None = None,
    stdin: Any = None,
) -> CancelOutcome:
    """Validate the input, check the rate guard, record (or resume) the run, and play it.
    Input errors come back as exit code 2 with one message line, before anything is written."""
    from agent.browser import BrowserNotFound
    from agent.errors import SellerAgentError
    from agent.flow import FlowError, load_flow
    from agent.guard import DEFAULT_MAX_CANCEL_RATE, GuardError
    from agent.journal import JournalError
    from agent.rows import read_order_rows
    from agent.secrets import load_secrets

    def _say(message: str) -> None:
        # stderr may be a closed pipe (the parent died); the journal matters more than chatter.
        with contextlib.suppress(OSError, ValueError):
            print(message, file=sys.stderr, flush=True)

    say = say or _say
    journal: Journal | None = None
    run_id: str | None = None
    projection = None
    try:
        flow = load_flow(request.flow)
        secrets = load_secrets(Path(request.secrets_path) if request.secrets_path else None)
        if request.resume:
            journal = Journal(request.journal, redact=secrets.redact)
            run_id = journal.resolve_run_id(request.resume)
            record = journal.run(run_id)
            shared = dict(record.params)
            if record.flow != flow.name:
                flow = load_flow(record.flow)
            # A resumed run keeps its own mode: a real run never turns into a dry one halfway.
            if record.options.get("dry_run"):
                flow = dry_run_flow(flow)
            portal = record.portal
        else:
            portal = request.portal
            shared = {"memo": request.memo} if request.memo else {}
            if request.dry_run:
                flow = dry_run_flow(flow)
            facts = facts_reader(request, secrets, say)
            ids = list(request.ids)
            if request.from_requests:
                ids += requested_order_ids(portal, token=request.api_token, facts=facts)
            rowset = read_order_rows(
                request.sources,
                ids,
                default_reason=request.reason,
                strict=request.strict,
                stdin=stdin,
            )
            rowset = bind_rows(flow, rowset, shared)
            for problem in rowset.problems:
                say(f"Warning: {problem} (skipped)")
            if not rowset.rows:
                return CancelOutcome(2, problems=rowset.problems, message="no valid rows to run")
            projection, refusal = check_rate(request, rowset, say, facts)
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
                    message="the run was not confirmed (pass --yes to run without asking)",
                )
            options = request.options.to_dict() | {
                "dry_run": request.dry_run,
                "max_cancel_rate": request.max_cancel_rate or DEFAULT_MAX_CANCEL_RATE,
                "projection": projection.to_dict() if projection else None,
                "problems": [str(problem) for problem in rowset.problems],
            }
            # Opened only now: input the run refuses leaves no trace in the journal.
            journal = Journal(request.journal, redact=secrets.redact)
            run_id = start_run(
                journal, flow, rowset, portal=portal, shared_params=shared, options=options
            )
        result = play_run(
            flow,
            journal,
            run_id,
            portal=portal,
            secrets=secrets,
            options=request.options,
            run_dir=request.run_dir,
            shared=shared,
            say=say,
            confirm_canary=confirm_canary,
        )
        _note_rate_after(journal, run_id, request, say)
        return CancelOutcome(result.exit_code, run_id=run_id, result=result, projection=projection)
    except (InputError, FlowError, GuardError, JournalError, BrowserNotFound) as error:
        return CancelOutcome(2, run_id=run_id, message=str(error))
    except FileNotFoundError as error:  # --browser-path that is not a program
        return CancelOutcome(2, run_id=run_id, message=str(error))
    except SellerAgentError as error:  # secrets unreadable, or signing in failed
        return CancelOutcome(2 if run_id is None else 1, run_id=run_id, message=str(error))
    finally:
        if journal is not None:
            journal.close()


def _note_rate_after(
    journal: Journal, run_id: str, request: CancelRequest, say: Callable[[str], None]
) -> None:
    from agent.guard import GuardError, fetch_api_snapshot

    try:
        metrics, _ = fetch_api_snapshot(journal.run(run_id).portal, token=request.api_token)
    except GuardError:
        return
    journal.update_run_options(run_id, rate_measured_after=round(metrics.rate, 4))


def _main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m agent.bulk", description="Cancel many orders (the bulk engine)."
    )
    parser.add_argument("ids", nargs="*", help="order ids")
    parser.add_argument("--from", dest="sources", action="append", default=[], metavar="FILE")
    parser.add_argument("--from-requests", action="store_true")
    parser.add_argument("--reason")
    parser.add_argument("--memo")
    parser.add_argument(
        "--portal", default=os.environ.get("SELLER_AGENT_PORTAL", "http://127.0.0.1:8600")
    )
    parser.add_argument("--journal")
    parser.add_argument("--run-dir")
    parser.add_argument("--resume", metavar="RUN_ID")
    parser.add_argument(
        "--retry-failed", action="store_true", help="with --resume: failed rows too"
    )
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--rate", type=float)
    parser.add_argument("--max-failures", type=int)
    parser.add_argument("--attempts", type=int, default=retry_rules.DEFAULT_ATTEMPTS)
    parser.add_argument("--recycle-every", type=int, default=50)
    parser.add_argument("--canary", type=int)
    parser.add_argument("--yes", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--max-cancel-rate", type=float)
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--block-media", action="store_true")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--api-token", default=os.environ.get("SELLER_AGENT_API_TOKEN"))
    parser.add_argument("--report", metavar="FILE", help="also write the HTML report here")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    request = CancelRequest(
        ids=args.ids,
        sources=args.sources,
        from_requests=args.from_requests,
        reason=args.reason,
        memo=args.memo,
        strict=args.strict,
        portal=args.portal,
        journal=args.journal,
        resume=args.resume,
        dry_run=args.dry_run,
        yes=args.yes,
        max_cancel_rate=args.max_cancel_rate,
        api_token=args.api_token,
        run_dir=args.run_dir,
        options=BulkOptions(
            workers=args.workers,
            rate=args.rate,
            max_failures=args.max_failures,
            recycle_every=args.recycle_every,
            retry=retry_rules.RetryPolicy(attempts=args.attempts),
            block_media=args.block_media,
            trace=args.trace,
            canary=args.canary,
            retry_failed=args.retry_failed,
            quiet=args.quiet,
        ),
    )
    say = (lambda message: None) if args.quiet else None
    try:
        outcome = execute_cancel(
            request, confirm_canary=canary_prompt(args.yes), say=say, stdin=sys.stdin
        )
    except KeyboardInterrupt:
        # Ctrl-C before the engine took over the signal: whatever was recorded is resumable.
        print("Error: interrupted; resume with --resume last", file=sys.stderr)
        return 1
    if outcome.message:
        print(f"Error: {outcome.message}", file=sys.stderr)
    if outcome.run_id is not None:
        from agent import report as report_mod

        with Journal(args.journal) as journal:
            data = report_mod.build_report(journal, outcome.run_id)
        print(report_mod.render_table(data))
        if args.report:
            report_mod.write_report(data, "html", args.report)
    return outcome.exit_code


def canary_prompt(yes: bool) -> ConfirmCallback:
    """--yes goes on after the canary only when every canary row succeeded; otherwise a
    person at a terminal is asked, and anything but "y" stops (resumable)."""

    def confirm(summary: CanarySummary) -> bool:
        outcomes = ", ".join(f"{name}: {count}" for name, count in sorted(summary.outcomes.items()))
        print(
            f"canary: {summary.played} rows played ({outcomes}); {summary.remaining} remain",
            file=sys.stderr,
        )
        if yes and summary.all_ok:
            return True
        if not sys.stdin.isatty():
            return False
        answer = input("Go on with the remaining rows? [y/N] ")
        return answer.strip().lower() in {"y", "yes"}

    return confirm


if __name__ == "__main__":
    sys.exit(_main())
