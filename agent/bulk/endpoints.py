"""The browsers a bulk run works in: the one it launches, or one per browser endpoint
(`--browser-endpoint`), with each worker bound to one of them.

Every endpoint is connected before any row runs, so a wrong token, an unreachable machine or
a Playwright version mismatch ends the run at its start with one line. An endpoint that dies
mid-run is marked lost: its workers stop, and the row each had in flight goes back to the
queue to be played again, through the flow's guard, by a worker on another endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agent.i18n import N_, told

ENDPOINT_VALUE = "endpoint"  # the row value naming the endpoint that played it


class EndpointLost(Exception):
    """The browser a worker was using is gone; `row` is the row it had in hand."""

    def __init__(self, label: str | None, row: Any = None) -> None:
        super().__init__(f"browser endpoint {label or 'local'} lost")
        self.label = label
        self.row = row


def plan_workers(wanted: Sequence[int | None], total: int) -> list[int]:
    """The workers each endpoint gets: its own `?workers=N`, else an even share of `total`
    among the endpoints that gave none (at least one each)."""
    open_slots = [index for index, count in enumerate(wanted) if count is None]
    counts = [count or 0 for count in wanted]
    for position, index in enumerate(open_slots):
        share, extra = divmod(total, len(open_slots))
        counts[index] = max(1, share + (1 if position < extra else 0))
    return counts


def interleave(counts: Sequence[int]) -> list[int]:
    """Worker number -> endpoint index, taking one worker from each endpoint in turn, so
    that the first few workers (a short run, a canary) already spread over every endpoint."""
    order: list[int] = []
    left = list(counts)
    while any(left):
        for index, count in enumerate(left):
            if count:
                order.append(index)
                left[index] -= 1
    return order


@dataclass
class Slot:
    label: str | None  # the endpoint as it may be shown (no token); None: launched here
    browser: Any
    lost: bool = False


@dataclass
class BrowserPool:
    slots: list[Slot]
    assignment: list[int]  # worker number -> slot index
    on_event: Callable[[str], None] = field(default=lambda message: None)

    @property
    def remote(self) -> bool:
        return any(slot.label is not None for slot in self.slots)

    @property
    def first(self) -> Any:
        """The browser for the work done once per run (signing in)."""
        live = [slot for slot in self.slots if not slot.lost]
        return (live or self.slots)[0].browser

    def browser(self, worker: int) -> Any:
        return self.slots[self.assignment[worker]].browser

    def live_workers(self) -> list[int]:
        return [
            worker for worker, index in enumerate(self.assignment) if not self.slots[index].lost
        ]

    async def check(self, worker: int, row: Any = None) -> None:
        """Raise EndpointLost when the worker's browser no longer answers. A browser object
        that cannot tell (a test's stand-in) is taken as alive."""
        slot = self.slots[self.assignment[worker]]
        answered = slot.lost or await _answers(slot.browser, remote=slot.label is not None)
        # Several workers may ask at once: the first to learn it is gone says so, once.
        if not answered and not slot.lost:
            slot.lost = True
            left = sum(1 for other in self.slots if not other.lost)
            if slot.label is None:
                self.on_event(told(N_("the browser closed or crashed")))
            else:
                self.on_event(
                    told(
                        N_(
                            "browser endpoint {label} lost; its rows in flight go back through "
                            "the guard (endpoints left: {left})"
                        ),
                        label=slot.label,
                        left=left,
                    )
                )
        if slot.lost:
            raise EndpointLost(slot.label, row)

    def none_left(self, rows: int) -> str:
        if self.remote:
            return told(
                N_(
                    "no browser endpoint left: {rows} rows not played; resume the run when one is back"
                ),
                rows=rows,
            )
        return told(
            N_("no browser left: {rows} rows not played; resume the run when one is back"),
            rows=rows,
        )

    def tag(self, worker: int, result: Any) -> Any:
        """The result with the endpoint that played it among its values (remote runs only)."""
        label = self.slots[self.assignment[worker]].label
        if label is None:
            return result
        return replace(result, values={**(result.values or {}), ENDPOINT_VALUE: label})

    async def close(self) -> None:
        for slot in self.slots:
            with contextlib.suppress(Exception):
                await slot.browser.close()


ANSWER_TIMEOUT_S = 20


async def _answers(browser: Any, *, remote: bool) -> bool:
    connected = getattr(browser, "is_connected", None)
    if connected is None:
        return True
    if not connected():
        return False
    # A browser whose server was killed still says connected until its socket's close is
    # read; opening a context asks the other side, which refuses at once.
    try:
        context = await asyncio.wait_for(browser.new_context(), timeout=ANSWER_TIMEOUT_S)
    except TimeoutError:
        # A browser on this machine that is slow (a loaded machine) is still there, and its
        # rows' own retries deal with slowness; one across a network that stays silent this
        # long is taken as gone, and its rows go to the endpoints that answer.
        return not remote
    except Exception:
        return False
    with contextlib.suppress(Exception):
        await context.close()
    return True


def endpoint_specs(options: Any) -> list[str]:
    endpoints = list(getattr(options, "endpoints", ()) or ())
    connect = getattr(options, "connect", None)
    return endpoints or ([connect] if connect else [])


async def open_pool(
    playwright: Any,
    launch: Callable[..., Awaitable[Any]],
    options: Any,
    on_event: Callable[[str], None] = lambda message: None,
) -> BrowserPool:
    """Launch the run's browser, or connect to every endpoint (all of them, before any row
    runs: the first failure is raised, as one line, and the others are closed)."""
    from agent.play.browser import parse_endpoint

    specs = endpoint_specs(options)
    common = {
        "browser_path": options.browser_path,
        "headed": options.headed,
        "slowmo": options.slowmo,
    }
    if not specs:
        browser = await launch(playwright, connect=None, **common)
        return BrowserPool([Slot(None, browser)], [0] * options.workers, on_event)
    endpoints = [parse_endpoint(spec) for spec in specs]
    slots: list[Slot] = []
    try:
        for endpoint, spec in zip(endpoints, specs, strict=True):
            slots.append(Slot(endpoint.label, await launch(playwright, connect=spec, **common)))
    except BaseException:
        for slot in slots:
            with contextlib.suppress(Exception):
                await slot.browser.close()
        raise
    counts = plan_workers([endpoint.workers for endpoint in endpoints], options.workers)
    for endpoint, count in zip(endpoints, counts, strict=True):
        said = (
            N_("browser endpoint {label}: 1 worker")
            if count == 1
            else N_("browser endpoint {label}: {count} workers")
        )
        on_event(told(said, label=endpoint.label, count=count))
    return BrowserPool(slots, interleave(counts), on_event)


def check_endpoints(options: Any) -> None:
    """Connect to every endpoint once and let go: a run calls this before it records itself,
    so an endpoint it cannot use ends it with one line and nothing written."""
    specs = endpoint_specs(options)
    if not specs:
        return

    async def probe() -> None:
        from playwright.async_api import async_playwright

        from agent.play.browser import launch

        async with async_playwright() as playwright:
            pool = await open_pool(playwright, launch, options)
            await pool.close()

    asyncio.run(probe())
