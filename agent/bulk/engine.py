"""Run one flow over many rows: a pool of browser contexts in one browser and one asyncio loop,
with the journal as the source of truth, retries for transient failures, a rate limit, a
failure budget, a canary phase, and graceful or immediate stop on Ctrl-C.

The journal is written before the browser acts: a row is committed as running, then its flow
runs, then its result is committed. A row an interrupted run left running is played again
through the flow's guard, which is what makes "never twice, never skipped" hold after a crash.

The engine knows no job: what a result that meets its guard means (an earlier attempt did it)
is the job's `reconcile` rule, handed in by the caller."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import re
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.bulk import retry as retry_rules
from agent.bulk.endpoints import BrowserPool, EndpointLost, open_pool
from agent.bulk.guarded import passed_guard
from agent.bulk.journal import Journal, RowRecord, plan_resume
from agent.bulk.pacing import TokenBucket
from agent.bulk.progress import BulkProgress
from agent.bulk.timings import Timings
from agent.play.signals import loop_signals


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
    endpoints: tuple[str, ...] = ()  # browser endpoints to work in instead of launching
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
class Backend:
    """The browser side the engine is handed: how to start Playwright and a browser, make a
    context, sign in once, and play one flow on one page. The engine itself knows no site and
    no browser; tests hand it their own backend to check the order of its calls."""

    playwright: Callable[[], Any]
    launch: Callable[..., Awaitable[Any]]
    new_context: Callable[..., Awaitable[Any]]
    ensure_session: Callable[..., Awaitable[Path]]
    run_flow: Callable[..., Awaitable[Any]]


def playwright_backend() -> Backend:
    """The real browser side: Playwright's async API and agent.play."""
    from playwright.async_api import async_playwright

    from agent.play import browser, player, session

    return Backend(
        playwright=async_playwright,
        launch=browser.launch,
        new_context=browser.new_context,
        ensure_session=session.ensure_session,
        run_flow=player.run_flow,
    )


@dataclass
class CanarySummary:
    run_id: str
    played: int
    remaining: int
    outcomes: dict[str, int]
    failed: int
    all_ok: bool


ConfirmCallback = Callable[[CanarySummary], bool | Awaitable[bool]]
# The job's rule for a row that may already have acted and now meets its guard: given the flow,
# the row's params and the result, the outcome to record instead, or None to keep the result's.
ReconcileRule = Callable[[Any, Mapping[str, Any], Any], "str | None"]


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


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:80] or "row"


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
        reconcile: ReconcileRule | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.reconcile = reconcile
        self.backend = backend or playwright_backend()
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
        self.pool: BrowserPool | None = None
        self.storage_state: Path | None = None
        self.timings = Timings()

    async def run(self) -> BulkResult:
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
        with loop_signals(asyncio.get_running_loop(), self._on_signal):
            try:
                with BulkProgress(len(todo), quiet=self.options.quiet) as progress:
                    self.progress = progress
                    async with self.backend.playwright() as playwright:
                        self.pool = await open_pool(
                            playwright, self.backend.launch, self.options, self._event
                        )
                        self.browser = self.pool.first
                        self.timings.mark("browser_start")
                        try:
                            status = await self._play_all(todo)
                        finally:
                            await self.pool.close()
            except asyncio.CancelledError:
                status = "interrupted"
            finally:
                self.journal.set_run_status(self.run_id, status)
                self.timings.report()
        return BulkResult(self.run_id, status, self.journal.rows(self.run_id))

    async def _play_all(self, todo: list[RowRecord]) -> str:
        if todo and self.flow.session:
            self.storage_state = await self._sign_in()
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

    async def _sign_in(self) -> Path:
        """Sign in once for all workers, retrying the portal's transient trouble (a 429 burst
        or a 500 during sign-in) like any row; a rejected sign-in is never retried, so a wrong
        password cannot lock the account."""
        from agent.errors import SessionError

        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.backend.ensure_session(
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
        assert self.pool is not None
        # Workers of a lost endpoint leave their rows in the queue: the workers left take
        # them up in another round, until none is left.
        while queue and not self.stop.soft:
            numbers = self.pool.live_workers()[: len(queue)]
            if not numbers:
                self._event(self.pool.none_left(len(queue)))
                self.stop.request("endpoints_lost")
                break
            self.stop.tasks = [
                asyncio.create_task(self._worker(number, queue), name=f"worker-{number}")
                for number in numbers
            ]
            results = await asyncio.gather(*self.stop.tasks, return_exceptions=True)
            self.stop.tasks = []
            for outcome in results:
                if isinstance(outcome, BaseException) and not isinstance(
                    outcome, asyncio.CancelledError
                ):
                    raise outcome

    async def _new_page(self, number: int = 0) -> tuple[Any, Any]:
        assert self.pool is not None
        try:
            context = await self.backend.new_context(
                self.pool.browser(number),
                storage_state=self.storage_state,
                block_media=self.options.block_media,
                locale=self.options.locale,
            )
            return context, await context.new_page()
        except Exception:
            await self.pool.check(number)
            raise

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
                try:
                    if context is None or used >= self.options.recycle_every:
                        if context is not None:
                            with contextlib.suppress(Exception):
                                await context.close()
                        context, page = await self._new_page(number)
                        used = 0
                    page = await self._play_row(row, context, page, number)
                except EndpointLost as lost:
                    # Back to the front of the queue: a row that may have acted is replayed
                    # through its guard by a worker on another endpoint.
                    queue.appendleft(lost.row or row)
                    return
                used += 1
        finally:
            if context is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(context.close())

    async def _run_once(self, page: Any, params: dict[str, Any], row_dir: Path) -> Any:
        try:
            return await self.backend.run_flow(
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
        except Exception as error:  # a crashed page must not kill the worker
            from playwright.async_api import Error as PlaywrightError

            from agent.errors import one_line, playwright_error_kind

            # A closed page or a dead browser connection is worth another try on a new page;
            # anything else is a bug that a retry would only repeat.
            from_playwright = isinstance(error, PlaywrightError)
            kind = playwright_error_kind(error) if from_playwright else "step"
            if from_playwright and ("has been closed" in str(error) or "crashed" in str(error)):
                kind = "network"
            from agent.play.player import RunResult

            return RunResult(
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

    async def _play_row(self, row: RowRecord, context: Any, page: Any, number: int = 0) -> Any:
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
            if self.stop.hard and result.outcome == "failed":
                # Stopped at once mid-row: the failure may be the stop itself, after the portal
                # acted. The row stays running, and resume replays it through the guard.
                return page
            if result.outcome == "failed":
                assert self.pool is not None
                await self.pool.check(number, replace(row, state="running"))
            delay = retry_rules.next_delay(result, attempt, self.options.retry)
            if delay is None:
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
            try:
                page = await context.new_page()
            except Exception:
                await self.pool.check(number, replace(row, state="running"))
                raise
        self._record(row, params, self.pool.tag(number, result), may_have_acted, reclaimed)
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
        if self.reconcile is not None and (may_have_acted or passed_guard(self.flow, result)):
            settled = self.reconcile(self.flow, params, result)
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
    reconcile: ReconcileRule | None = None,
    backend: Backend | None = None,
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
        reconcile=reconcile,
        backend=backend,
    )
    return await runner.run()


def default_run_dir(journal: Journal, run_id: str) -> Path:
    return journal.path.parent / "runs" / run_id


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
    reconcile: ReconcileRule | None = None,
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
            reconcile=reconcile,
        )
    )
