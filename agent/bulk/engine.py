"""Run one flow over many rows: a pool of browser contexts in one browser and one asyncio loop,
with the journal as the source of truth, retries for transient failures, a rate limit, a
failure budget, a canary phase, and graceful or immediate stop on Ctrl-C.

The journal is written before the browser acts: a row is committed as running, then its flow
runs, then its result is committed. A row an interrupted run left running is played again
through the flow's guard, which is what makes "never twice, never skipped" hold after a crash.

Faults of the portal as a whole are the run's, not a row's: when an attempt fails on the
network or a timeout and the portal does not answer a plain HTTP probe either, every worker
waits for it (outage.PortalWatch) without spending the rows' attempts, and 429s slow the whole
run through one shared pace (pacing.AdaptivePace). Pauses are recorded as run events in the
journal and told in the run's log (runlog.RunLog).

The engine knows no job: what a result that meets its guard means (an earlier attempt did it)
is the job's `reconcile` rule, handed in by the caller."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import os
import re
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.bulk import etiquette
from agent.bulk import retry as retry_rules
from agent.bulk.endpoints import BrowserPool, EndpointLost, open_pool
from agent.bulk.guarded import passed_guard
from agent.bulk.journal import Journal, RowRecord, plan_resume
from agent.bulk.outage import DEFAULT_MAX_OUTAGE, PORTAL_KINDS, Outage, PortalWatch, async_probe
from agent.bulk.pacing import AdaptivePace
from agent.bulk.progress import BulkProgress
from agent.bulk.runlog import LOG_NAME, RunLog
from agent.bulk.timings import Timings
from agent.i18n import (
    DEFAULT_LANG,
    N_,
    Nn_,
    Told,
    _,
    format_duration,
    ngettext,
    shown,
    told,
    told_duration,
    told_plural,
    using,
)
from agent.play.signals import loop_signals

# Opening a worker's page: tries before its failure ends the run (the browser still answers).
NEW_PAGE_TRIES = 3
# A worker has its page's renderer collect its garbage after this many rows: a renderer kept
# busy never collects on its own, and its memory grows with every page it has left
# (agent.play.browser.collect_garbage has the figures).
COLLECT_EVERY_ROWS = 10


# What one more worker costs in memory (PSS: its renderer, about 90 MB with its garbage
# collected, and its share of the browser, GPU process and driver), and what the run needs
# before its first worker (Python, driver, browser): bench/README.md, "Scaling".
WORKER_BYTES = 150 * 2**20
BASE_BYTES = 500 * 2**20
MAX_DEFAULT_WORKERS = 8  # more is for --workers to ask for: a portal may throttle a crowd


def default_workers() -> int:
    """Two workers per CPU this process may use (past that, workers add memory, not speed),
    at most 8, and no more than half the memory available now can hold."""
    return workers_for(available_cpus(), available_memory())


def workers_for(cpus: float, memory: int | None) -> int:
    workers = min(MAX_DEFAULT_WORKERS, int(2 * cpus))
    if memory is not None:
        workers = min(workers, (memory // 2 - BASE_BYTES) // WORKER_BYTES)
    return max(1, workers)


def available_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> float:
    """The CPUs this process may run on: its affinity (taskset, a container's cpuset), and a
    cgroup's CPU quota (`docker --cpus`) when that is smaller."""
    try:
        cpus: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1.0, int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return cpus


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Bytes of memory available for new work (MemAvailable), None where it cannot be read."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


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
    # Seconds the portal may be unreachable (or throttle every request) before the run stops,
    # resumable.
    max_outage: float = DEFAULT_MAX_OUTAGE

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
            "max_outage": self.max_outage,
        }

    def with_stored(self, stored: Mapping[str, Any], given: Iterable[str]) -> BulkOptions:
        """These options for a resumed run: each setting the run was started with (`stored`,
        its options in the journal) wins unless it is named in `given` (set again now). The
        canary is not carried over: it was played, or declined, when the run started."""
        given = set(given)
        changes: dict[str, Any] = {}
        for name in RESUMED_SETTINGS:
            if name in given or name not in stored:
                continue
            value = stored[name]
            if name == "attempts":
                if isinstance(value, int) and value >= 1:
                    changes["retry"] = dataclasses.replace(self.retry, attempts=value)
            elif value is not None or name in ("rate", "max_failures"):
                changes[name] = value
        return dataclasses.replace(self, **changes)

    def summary(self) -> str:
        """The settings a resumed run plays with, in a line (they are its own unless given)."""
        rate = (
            ngettext(
                "at most {rate} row/s", "at most {rate} rows/s", 1 if self.rate == 1 else 2
            ).format(rate=f"{self.rate:g}")
            if self.rate
            else _("no rate limit")
        )
        workers = ngettext("{count} worker", "{count} workers", self.workers).format(
            count=self.workers
        )
        attempts = ngettext(
            "{count} attempt per row", "{count} attempts per row", self.retry.attempts
        ).format(count=self.retry.attempts)
        return _("{workers}, {attempts}, {rate}, max outage {outage}").format(
            workers=workers, attempts=attempts, rate=rate, outage=format_duration(self.max_outage)
        )


# The settings a resumed run keeps from its start unless they are given again.
RESUMED_SETTINGS = (
    "workers",
    "rate",
    "max_failures",
    "recycle_every",
    "attempts",
    "block_media",
    "trace",
    "max_outage",
)


def resumed_options(
    journal: Journal,
    run_id: str,
    stored: Mapping[str, Any],
    options: BulkOptions,
    given: Iterable[str] | None,
) -> BulkOptions:
    """The options a resumed run plays with: its own from its start (`stored`) except those
    `given` again (BulkOptions.with_stored), recorded in the journal as the run's from now
    on. With given None, the options as they are."""
    if given is None:
        return options
    options = options.with_stored(stored, given)
    journal.update_run_options(
        run_id,
        **{name: value for name, value in options.to_dict().items() if name in RESUMED_SETTINGS},
    )
    return options


# Waits between two probes of an absent portal: doubling from the first to the longest.
PROBE_FIRST_DELAY = 1.0
PROBE_MAX_DELAY = 10.0
# A row throttled this many times more than its attempts fails (a portal that throttles one
# page forever must not hold a row forever).
THROTTLED_TRIES_PER_ATTEMPT = 5


async def _no_collection(page: Any) -> bool:
    return False


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
    # portal URL -> an async probe of it (outage.ProbeAnswer): is the portal there at all?
    probe: Callable[[str], Callable[[], Awaitable[Any]]] = async_probe
    # page -> whether its renderer could be asked to collect its garbage
    collect_garbage: Callable[[Any], Awaitable[bool]] = _no_collection


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
        collect_garbage=browser.collect_garbage,
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
    message: str | None = None  # why the run stopped itself (failures, outage), as said

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
        self.message: str | None = None  # why the run stopped itself, as it was said
        self.tasks: list[asyncio.Task[Any]] = []

    def request(self, reason: str = "interrupted") -> None:
        if self.soft:
            self.hard = True
            for task in self.tasks:
                task.cancel()
        self.soft = True
        self.reason = self.reason or reason

    def finish(self, reason: str, message: Any = None) -> None:
        """Stop taking rows for a reason of the run's own (failure budget, outage); `message`
        is what the run said about it, kept for its result."""
        if not self.soft:
            self.soft = True
            self.reason = reason
            self.message = str(message) if message is not None else None


def _clock_time(outage: Outage) -> str:
    return outage.started.strftime("%H:%M:%S")


def _duration(seconds: float) -> Told:
    """A duration for a message that is both shown and logged (i18n.format_duration)."""
    return told_duration(seconds)


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
        on_row: Callable[[RowRecord], None] | None = None,
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
        # Told each row as it ends (done or failed), as the journal has it.
        self.on_row = on_row
        self.stop = _Stop()
        self.failures = 0
        self.pace = AdaptivePace(options.rate)
        self.watch = PortalWatch(
            self.backend.probe(portal),
            max_outage=options.max_outage,
            first_delay=PROBE_FIRST_DELAY,
            max_delay=PROBE_MAX_DELAY,
            on_down=self._portal_down,
            on_end=self._portal_back,
            on_probe=self._portal_probed,
        )
        self.log = RunLog(run_dir / LOG_NAME, redact=getattr(secrets, "redact", None))
        self._outage_event: int | None = None
        self._throttle_event: int | None = None
        self.progress: BulkProgress | None = None
        self.browser: Any = None
        self.pool: BrowserPool | None = None
        self.storage_state: Path | None = None
        self.timings = Timings()

    async def run(self) -> BulkResult:
        played_before = bool(self.journal.events(self.run_id, ["active"]))
        # Before anything is read or written: another live process playing this run stops
        # this one here (RunBusy), not halfway through rows it is playing.
        active = self.journal.claim_run(self.run_id)
        todo = plan_resume(self.journal, self.run_id, include_failed=self.options.retry_failed)
        if not todo:
            # Nothing left to play (a finished run resumed again): no browser needed.
            self.journal.close_event(active)
            self.journal.set_run_status(self.run_id, "finished")
            return BulkResult(self.run_id, "finished", self.journal.rows(self.run_id))
        self.journal.set_run_status(self.run_id, "running")
        from agent.play.browser import private_dir

        private_dir(self.run_dir)
        self.journal.update_run_options(self.run_id, log=str(self.log.path))
        self.log.open()
        with using(DEFAULT_LANG):  # the log is English, whatever the reader's language
            english_settings = self.options.summary()
            to_play = ngettext("{count} row to play", "{count} rows to play", len(todo)).format(
                count=len(todo)
            )
        resumed = any(row.state != "pending" for row in todo) or played_before
        self.log.write(
            f"run {self.run_id} {'resumed' if resumed else 'started'}: {to_play},"
            f" flow {self.flow.name}, portal {self.portal}, {english_settings}"
        )
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
            except BaseException as error:
                self.log.write(f"run stopped by an error: {type(error).__name__}: {error}")
                raise
            finally:
                self.watch.release()
                self._end_throttling()
                self.journal.close_event(active)
                self.journal.set_run_status(self.run_id, status)
                counts = self.journal.counts(self.run_id)
                self.log.write(
                    f"run {self.run_id} {status}: "
                    + ", ".join(f"{count} {state}" for state, count in counts.items() if count)
                )
                self.log.close()
                self.timings.report()
        return BulkResult(
            self.run_id, status, self.journal.rows(self.run_id), message=self.stop.message
        )

    async def _play_all(self, todo: list[RowRecord]) -> str:
        if todo and self.flow.session:
            self.storage_state = await self._sign_in()
            self.timings.mark("session")
            if self.storage_state is None:
                return self._stopped_status()
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
                self._event(_("canary: stopped before the remaining rows; resume to play them"))
                return "paused"
            todo = todo[canary:]
        await self._drain(todo)
        self.timings.mark("flows")
        return self._stopped_status()

    async def _sign_in(self) -> Path | None:
        """Sign in once for all workers. A portal that is gone is waited for like during the
        rows; a 429 holds the run's pace; other transient trouble (a 500) is retried like a
        row. A rejected sign-in is never retried, so a wrong password cannot lock the account.
        None when the run stopped (Ctrl-C, or the portal stayed away) before it could sign in."""
        from agent.errors import SessionError

        before = self._state_stamp()
        attempt = 0
        while True:
            await self.watch.wait_up()
            if self.stop.soft:
                return None
            await self.pace.acquire()
            try:
                path = await self.backend.ensure_session(
                    self.browser, portal=self.portal, secrets=self.secrets, run_dir=self.run_dir
                )
            except SessionError as error:
                kind = getattr(error, "error_kind", None)
                self.log.write(f"signing in failed ({kind or 'rejected'}): {error}")
                if kind in PORTAL_KINDS and await self.watch.suspect(str(error)):
                    if self.watch.gave_up or self.stop.soft:
                        return None
                    continue
                if kind == "http_429":
                    self._throttled("sign-in", getattr(error, "retry_after", None))
                    if self._throttled_too_long():
                        return None
                    continue
                attempt += 1
                if (
                    kind not in retry_rules.TRANSIENT_KINDS
                    or attempt >= self.options.retry.attempts
                ):
                    raise
                self._event(_("{error}; trying again").format(error=shown(error)))
                await asyncio.sleep(retry_rules.backoff_delay(attempt, self.options.retry) + 1)
                continue
            self.pace.succeeded()
            self.watch.reached()
            self._end_throttling()
            signed_in = self._state_stamp() != before
            self.log.write(
                "signed in; the session is shared by every worker"
                if signed_in
                else "reusing the saved session (it still works)"
            )
            return path

    def _state_stamp(self) -> float | None:
        """When the saved session was last written: a sign-in writes it."""
        try:
            from agent.play.browser import storage_state_path

            path = storage_state_path(self.portal, self.secrets.email)
            return path.stat().st_mtime_ns
        except (OSError, AttributeError, ImportError):
            return None

    def _stopped_status(self) -> str:
        if self.stop.reason == "max_failures":
            return "stopped"
        if self.stop.soft:
            return "interrupted"
        return "finished"

    def _on_signal(self) -> None:
        second = self.stop.soft
        self.stop.request()
        # Workers waiting for an absent portal stop waiting; their rows wait for the resume.
        self.watch.release()
        if second:
            self._event(_("stopping now; rows in flight will be replayed on resume"))
        else:
            self._event(_("finishing the rows in flight (Ctrl-C again to stop at once)"))
        self.log.write("Ctrl-C: " + ("stopping at once" if second else "taking no new rows"))

    def _event(self, message: str) -> None:
        # A message built with told() (the browser pool's) is shown translated.
        with contextlib.suppress(Exception):
            self.on_event(shown(message))

    # The portal as a whole: outages and throttling

    def _portal_down(self, outage: Outage) -> None:
        self._outage_event = self.journal.open_event(
            self.run_id, "outage", f"portal unreachable ({outage.detail})"
        )
        # The terminal speaks the reader's language; the run's log stays English (support reads it).
        text = N_(
            "portal unreachable since {since} ({detail}), retrying every {every} at most; "
            "Ctrl-C to stop and resume later"
        )
        values = {
            "since": _clock_time(outage),
            "detail": outage.detail,
            "every": _duration(outage.retry_every),
        }
        message = told(text, **values)
        self._event(message)
        self.log.write(f"{message}; every worker paused")
        if self.progress is not None:
            self.progress.paused(
                _("portal unreachable since {since}").format(since=_clock_time(outage))
            )

    def _portal_probed(self, answer: Any, seconds: float) -> None:
        if not answer.up:
            self.log.write(f"portal still unreachable after {seconds:.0f} s ({answer.detail})")

    def _portal_back(self, outage: Outage) -> None:
        if self._outage_event is not None:
            reason = None
            if outage.end == "gave_up" and outage.never_reached:
                reason = f"portal never answered ({outage.detail}); the run stopped"
            elif outage.end == "gave_up":
                reason = f"portal unreachable ({outage.detail}); the run stopped (--max-outage)"
            self.journal.close_event(self._outage_event, reason)
            self._outage_event = None
        if self.progress is not None:
            self.progress.resumed()
        values = {
            "took": _duration(outage.seconds),
            "limit": _duration(self.options.max_outage),
            "portal": self.portal,
            "detail": outage.detail,
        }
        if outage.end == "up":
            text = N_("portal answers again after {took}; going on")
        elif outage.end == "gave_up" and outage.never_reached:
            text = N_(
                "the portal at {portal} has not answered since the run started ({detail}); is "
                "the address right (--portal)? stopping; resume the run when it answers"
            )
        elif outage.end == "gave_up":
            text = N_(
                "portal unreachable for {took} (--max-outage {limit}): stopping; resume the run "
                "when it is back"
            )
        else:
            text = N_("stopped waiting for the portal after {took}")
        message = told(text, **values)
        self._event(message)
        self.log.write(str(message))
        if outage.end == "gave_up":
            self.stop.finish("outage", message)

    def _throttled(self, key: str, retry_after: float | None) -> None:
        hold = self.pace.throttled(retry_after)
        rate = self.pace.rate
        pace = f"{rate:.2f} rows/s" if rate is not None else "not limited"
        if self._throttle_event is None:
            reason = f"throttled: HTTP 429, Retry-After {format_duration(hold, DEFAULT_LANG)}"
            self._throttle_event = self.journal.open_event(self.run_id, "throttled", reason)
            self._event(
                _(
                    "portal throttling (HTTP 429, Retry-After {hold}): every worker waits, "
                    "then the run goes on at {pace}"
                ).format(
                    hold=format_duration(hold),
                    pace=_("{rate} rows/s").format(rate=f"{rate:.2f}")
                    if rate is not None
                    else _("not limited"),
                )
            )
            if self.progress is not None:
                self.progress.paused(_("throttled: slowing down"))
        self.log.write(
            f"{key}: HTTP 429 (Retry-After {format_duration(hold, DEFAULT_LANG)}); every worker "
            f"waits, pace now {pace}"
        )

    def _throttled_too_long(self) -> bool:
        """Throttled without a success for longer than --max-outage: stop, resumable."""
        waited = self.pace.throttled_for() + max(0.0, self.pace.hold_until - self.pace.clock())
        if waited <= self.options.max_outage:
            return False
        if not self.stop.soft:
            text = N_(
                "portal throttling every request for {waited} (--max-outage {limit}): "
                "stopping; resume later"
            )
            values = {"waited": _duration(waited), "limit": _duration(self.options.max_outage)}
            message = told(text, **values)
            self._event(message)
            self.log.write(str(message))
            self.stop.finish("throttled", message)
        return True

    def _end_throttling(self) -> None:
        if self._throttle_event is None:
            return
        self.journal.close_event(self._throttle_event)
        self._throttle_event = None
        rate = self.pace.rate
        self.log.write(
            "throttling over; pace "
            + (f"{rate:.2f} rows/s, rising" if rate is not None else "not limited")
        )
        if self.progress is not None:
            self.progress.resumed()

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
        tries = 0
        while True:
            context = None
            try:
                context = await self.backend.new_context(
                    self.pool.browser(number),
                    storage_state=self.storage_state,
                    block_media=self.options.block_media,
                    locale=self.options.locale,
                )
                return context, await context.new_page()
            except Exception:
                if context is not None:
                    with contextlib.suppress(Exception):
                        await context.close()
                # A browser that is gone hands the worker's row on (EndpointLost); one that
                # is there but busy (a loaded machine) gets a moment and another try.
                await self.pool.check(number)
                tries += 1
                if tries >= NEW_PAGE_TRIES:
                    raise
                await asyncio.sleep(tries)

    async def _worker(self, number: int, queue: deque[RowRecord]) -> None:
        context = page = None
        used = 0
        try:
            while queue and not self.stop.soft:
                await self.watch.wait_up()
                if self.stop.soft:
                    break
                await self.pace.acquire()
                if self.stop.soft or not queue:
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
                if used % COLLECT_EVERY_ROWS == 0:
                    # Best effort: a page that cannot be asked is simply not collected.
                    await self.backend.collect_garbage(page)
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
        attempt = 0  # the row's own attempts: the portal's outages and throttling are not its
        throttled = 0
        replays = 0  # tries played again for the portal's trouble (attempts of none)
        while True:
            result = await self._run_once(page, params, row_dir)
            if self.stop.hard and result.outcome == "failed":
                # Stopped at once mid-row: the failure may be the stop itself, after the portal
                # acted. The row stays running, and resume replays it through the guard.
                return page
            etiquette.halt_if_told(result, self.stop, self.run_id)
            if result.outcome == "failed":
                # A lost browser endpoint hands the row to another one (EndpointLost), as
                # running: it is played again there through its guard.
                assert self.pool is not None
                await self.pool.check(number, replace(row, state="running"))
            failed = result.outcome == "failed"
            if getattr(result, "sign_ins", 0):
                # A sign-in that failed, or one the portal sent back to the sign-in page, is
                # no "signed in again": the attempt's failure follows with why.
                if failed and result.error_kind == "session":
                    self.log.write(
                        f"{key}: the session had ended; signing in again did not get the run "
                        "going again"
                    )
                else:
                    self.log.write(f"{key}: the session had ended; signed in again")
            if failed:
                # An attempt that got past the guard may have submitted before its failure
                # showed (a 500 after the POST); later answers of the guard are read with that
                # in mind. One that failed before the guard cannot have acted.
                may_have_acted = may_have_acted or passed_guard(self.flow, result)
            else:
                self.pace.succeeded()
                self.watch.reached()
                self._end_throttling()
            portal_trouble = failed and result.error_kind in PORTAL_KINDS and not self.stop.soft
            if portal_trouble and await self.watch.suspect(result.error or ""):
                if self.watch.gave_up or self.stop.soft:
                    self._give_back(key, result, may_have_acted, "the portal stayed unreachable")
                    return page
                replays += 1
                self.journal.note_replay(self.run_id, key, result.error, result.error_kind)
                self.log.write(
                    f"{key}: {result.error_kind} while the portal was unreachable "
                    f"({result.error}); trying again, not counted as an attempt"
                )
                page = await self._fresh_page(context, page, number, row)
                continue
            if failed and result.error_kind == "http_429":
                throttled += 1
                limit = THROTTLED_TRIES_PER_ATTEMPT * self.options.retry.attempts
                if throttled <= limit:
                    self._throttled(key, result.retry_after)
                    if self._throttled_too_long():
                        self._give_back(key, result, may_have_acted, "the portal kept throttling")
                        return page
                    # Not an attempt of the row's: the whole run slows down instead.
                    replays += 1
                    self.journal.note_replay(self.run_id, key, result.error, result.error_kind)
                    await self.pace.acquire()
                    page = await self._fresh_page(context, page, number, row)
                    continue
            attempt += 1
            delay = retry_rules.next_delay(result, attempt, self.options.retry)
            if delay is None:
                break
            self.journal.note_retry(self.run_id, key, result.error, result.error_kind)
            self.log.write(
                f"{key}: attempt {attempt} failed ({result.error_kind}: {result.error}); "
                f"trying again in {format_duration(delay, DEFAULT_LANG)}"
            )
            if self.progress is not None:
                self.progress.row_retried()
            await asyncio.sleep(delay)
            page = await self._fresh_page(context, page, number, row)
        self._record(row, params, self.pool.tag(number, result), may_have_acted, reclaimed)
        # The log counts as the journal does: attempts, and apart from them the tries the
        # portal's trouble cut short.
        counted = f" after {attempt} attempts" if attempt > 1 else ""
        if replays:
            counted += f" ({replays} {'try' if replays == 1 else 'tries'} played again for the"
            counted += " portal's trouble, not counted as attempts)"
        if failed:
            self.log.write(f"{key}: failed{counted} ({result.error_kind}: {result.error})")
        else:
            self.log.write(f"{key}: {self.journal.row(self.run_id, key).outcome}{counted}")
        return page

    async def _fresh_page(self, context: Any, page: Any, number: int, row: RowRecord) -> Any:
        # A page that failed mid-navigation can be left in any state; start clean.
        with contextlib.suppress(Exception):
            await page.close()
        try:
            return await context.new_page()
        except Exception:
            # Its browser may be gone: a lost endpoint hands the row on (EndpointLost).
            assert self.pool is not None
            await self.pool.check(number, replace(row, state="running"))
            raise

    def _give_back(self, key: str, result: Any, may_have_acted: bool, why: str) -> None:
        """The run stops while a row waits for the portal. A row that cannot have acted goes
        back to pending; one that may have (past its guard) stays running, so the resumed
        run replays it through the guard. Either way the try the portal cut short is no
        attempt: the resume's try is."""
        self.journal.note_replay(self.run_id, key, result.error, result.error_kind, again=False)
        if may_have_acted:
            self.log.write(f"{key}: {why}; left for the resume to check through the guard")
            return
        self.journal.release(self.run_id, key)
        self.log.write(f"{key}: {why}; back to pending")

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
            self._tell_row(key)
            limit = self.options.max_failures
            if limit is not None and self.failures >= limit and not self.stop.soft:
                message = told_plural(
                    Nn_(
                        "{count} row failed: stopping (--max-failures {limit})",
                        "{count} rows failed: stopping (--max-failures {limit})",
                    ),
                    self.failures,
                    limit=limit,
                )
                self._event(message)
                self.log.write(str(message))
                self.stop.finish("max_failures", message)
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
        self._tell_row(key)

    def _tell_row(self, key: str) -> None:
        if self.on_row is None:
            return
        try:
            self.on_row(self.journal.row(self.run_id, key))
        except Exception as error:  # noqa: BLE001 - a reader's trouble never stops the run
            self.log.write(f"{key}: could not be told as it ended: {error}")


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
    on_row: Callable[[RowRecord], None] | None = None,
) -> BulkResult:
    """Play every row of `run_id` that is still to do (pending, or running after an
    interruption). The run must exist in the journal (`start_run`). on_row: told each row
    as it ends."""
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
        on_row=on_row,
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
    on_row: Callable[[RowRecord], None] | None = None,
) -> BulkResult:
    """Play a recorded run, new or resumed, to its end: what `cancel` and `run --rows` share.
    Evidence goes under run_dir/RUN_ID (default: beside the journal). on_row: told each row
    as it ends (done or failed)."""
    say(_("run {run}: journal {path}").format(run=run_id, path=journal.path))
    options = etiquette.paced(options, portal, say)
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
            on_row=on_row,
        )
    )
