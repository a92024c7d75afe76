"""Telling the portal's trouble from a row's.

A row whose attempt failed on the network or a timeout may have met a bad page, or a portal
that is gone (refused connections, a name that does not resolve, every request hanging). One
cheap HTTP request to the portal's base URL tells them apart: when the portal answers, the
failure is the row's and its retries apply; when it does not, the whole run waits for it
instead of spending every remaining row's attempts in a few seconds.

During an outage every worker waits in `wait_up()` while one loop probes the portal with
capped backoff; the outage ends when the portal answers again, or the watch gives up after
`max_outage` seconds and the run stops, resumable.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from agent.i18n import N_, told

# The error kinds that a portal gone as a whole produces (a page-level 5xx or 429 means the
# portal is there and answering).
PORTAL_KINDS = frozenset({"network", "timeout"})
# Answers that mean "a gateway is there, the portal behind it is not".
GATEWAY_STATUSES = frozenset({502, 503, 504})
DEFAULT_MAX_OUTAGE = 15 * 60.0
# A portal that has not answered once since the run started is more likely a wrong address
# than an outage: it gets this long, not --max-outage.
FIRST_CONTACT_WAIT = 10.0


@dataclass(frozen=True)
class ProbeAnswer:
    up: bool
    detail: str  # what the probe met: "HTTP 302", "connection refused", "timed out"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        # A redirect is an answer; following it (to a sign-in page, say) costs another request.
        return None


def http_probe(url: str, timeout: float = 5.0) -> ProbeAnswer:
    """One GET of `url`, redirects not followed and no proxy (the browser is launched without
    one). Any HTTP answer means the portal is there, except a gateway's 502/503/504."""
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, method="GET", headers={"Accept": "text/html"})
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except urllib.error.URLError as error:
        return ProbeAnswer(False, _describe(error.reason))
    except (OSError, http.client.HTTPException) as error:
        return ProbeAnswer(False, _describe(error))
    if status in GATEWAY_STATUSES:
        return ProbeAnswer(False, f"HTTP {status}")
    return ProbeAnswer(True, f"HTTP {status}")


def _describe(reason: object) -> str:
    # told(): English in the run's log and the journal, the reader's language on the terminal.
    if isinstance(reason, TimeoutError | socket.timeout):
        return told(N_("timed out"))
    if isinstance(reason, ConnectionRefusedError):
        return told(N_("connection refused"))
    if isinstance(reason, socket.gaierror):
        return told(N_("name not resolved"))
    if isinstance(reason, ConnectionResetError):
        return told(N_("connection reset"))
    text = str(getattr(reason, "strerror", None) or reason).strip()
    return text or type(reason).__name__


def async_probe(url: str, timeout: float = 5.0) -> Callable[[], Awaitable[ProbeAnswer]]:
    """`http_probe` of `url` in a thread, so the workers' event loop never blocks on it."""

    async def probe() -> ProbeAnswer:
        return await asyncio.to_thread(http_probe, url, timeout)

    return probe


@dataclass
class Outage:
    started: datetime  # wall-clock, local time
    detail: str  # what the first failed probe met
    retry_every: float  # the longest wait between two probes
    seconds: float = 0.0  # how long it lasted (set when it ends)
    end: str | None = None  # "up" (the portal answers), "gave_up" (max_outage), "stopped"
    never_reached: bool = False  # the portal had not answered once in this run when it began


class PortalWatch:
    """One per run; every worker shares it.

    `suspect(detail)` after an attempt failed with a portal-wide kind: False when the portal
    answers (the failure is the row's); True when the portal was down, once it answers again
    or the watch gave up (see `gave_up`): the failure was the portal's and costs the row
    nothing. Callbacks (`on_down`, `on_end`, `on_probe`) tell the run what happens."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[ProbeAnswer]],
        *,
        max_outage: float = DEFAULT_MAX_OUTAGE,
        first_contact_wait: float = FIRST_CONTACT_WAIT,
        first_delay: float = 1.0,
        max_delay: float = 10.0,
        grace: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_down: Callable[[Outage], None] | None = None,
        on_end: Callable[[Outage], None] | None = None,
        on_probe: Callable[[ProbeAnswer, float], None] | None = None,
    ) -> None:
        if max_outage < 0:
            raise ValueError("max_outage must not be negative")
        self.probe = probe
        self.max_outage = max_outage
        self.first_contact_wait = first_contact_wait
        # Whether the portal has answered once in this run (a probe, or the caller's word
        # through `reached()` after a page loaded).
        self.answered = False
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.grace = grace
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.on_down = on_down or (lambda outage: None)
        self.on_end = on_end or (lambda outage: None)
        self.on_probe = on_probe or (lambda answer, waited: None)
        self.outage: Outage | None = None  # the current one
        self.outages: list[Outage] = []  # every one, the current one included
        self.gave_up = False
        self._up = asyncio.Event()
        self._up.set()
        self._lock = asyncio.Lock()
        self._since = 0.0
        self._ended_at: float | None = None
        self._loop: asyncio.Task[None] | None = None

    @property
    def down(self) -> bool:
        return not self._up.is_set()

    def reached(self) -> None:
        """The portal answered (a page loaded): from now on a silence is an outage."""
        self.answered = True

    async def wait_up(self) -> None:
        """Return at once while the portal is up; during an outage, when it ends."""
        await self._up.wait()

    async def suspect(self, detail: str = "") -> bool:
        if self.gave_up:
            return True
        if self.down:
            await self.wait_up()
            return True
        async with self._lock:
            if not self.down and not self.gave_up:
                if self._ended_at is not None and self.clock() - self._ended_at < self.grace:
                    # This attempt was under way while the portal was gone, and its failure
                    # reached us only now.
                    return True
                answer = await self.probe()
                if answer.up:
                    self.reached()
                    return False
                self._begin(answer.detail or detail)
        await self.wait_up()
        return True

    def _begin(self, detail: str) -> None:
        self._since = self.clock()
        self.outage = Outage(
            started=self.wall(),
            detail=detail,
            retry_every=self.max_delay,
            never_reached=not self.answered,
        )
        self.outages.append(self.outage)
        self._up.clear()
        self.on_down(self.outage)
        self._loop = asyncio.get_running_loop().create_task(self._watch(), name="portal-watch")

    async def _watch(self) -> None:
        delay = self.first_delay
        limit = self.max_outage
        if self.outage is not None and self.outage.never_reached:
            limit = min(limit, self.first_contact_wait)
        while True:
            elapsed = self.clock() - self._since
            left = limit - elapsed
            if left <= 0:
                self._end("gave_up")
                return
            waited = min(delay, left)
            await self.sleep(waited)
            answer = await self.probe()
            self.on_probe(answer, self.clock() - self._since)
            if answer.up:
                self.reached()
                self._end("up")
                return
            delay = min(self.max_delay, delay * 2)

    def _end(self, how: str) -> None:
        outage = self.outage
        if outage is None:
            return
        outage.seconds = self.clock() - self._since
        outage.end = how
        self.gave_up = self.gave_up or how == "gave_up"
        self._ended_at = self.clock()
        self.outage = None
        self._up.set()
        self.on_end(outage)

    def release(self) -> None:
        """The run is stopping (Ctrl-C): stop probing and let every waiting worker go."""
        loop, self._loop = self._loop, None
        if loop is not None and loop is not asyncio.current_task():
            loop.cancel()
        self._end("stopped")
        self._up.set()
