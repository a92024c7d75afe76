"""A shared pace for the workers of a run."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


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


class AdaptivePace:
    """The pace of a whole run: every worker acquires before it starts a row (or tries one
    again after a 429).

    Without a limit (`ceiling` None) and without throttling it never waits. When the portal
    throttles (HTTP 429), `throttled()` holds every worker until the `Retry-After` and halves
    the pace: from the current rate, or, with no limit, from the rate rows were starting at.
    Each row that then succeeds raises the pace by a step (additive increase, multiplicative
    decrease, the way TCP shares a link) back to where it was before the throttling: the
    limit, or no limit.

    The pace is cut once per round: 429s that arrive before any row got through since the
    last cut (one burst meets every worker, and their retries) are the same storm, and a
    portal that answers nothing but 429s is kept at bay by the holds, not by cutting the pace
    to nothing. It never falls below an eighth of where it was."""

    def __init__(
        self,
        ceiling: float | None = None,
        *,
        floor: float = 0.1,
        window: float = 10.0,
        steps: int = 10,
        default_hold: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if ceiling is not None and ceiling <= 0:
            raise ValueError("rate must be positive")
        self.ceiling = ceiling
        self.rate = ceiling  # rows per second now; None: no limit
        self.floor = floor
        self.window = window
        self.steps = steps
        self.default_hold = default_hold
        self.clock = clock
        self.sleep = sleep
        self.hold_until = clock()
        self.throttled_since: float | None = None  # the first 429 since the last success
        self.recover_to: float | None = None  # the pace before this throttling began
        self.cuts = 0
        self._last_cut: float | None = None
        self._succeeded_since_cut = False
        self._tokens = 1.0
        self._stamp = clock()
        self._starts: deque[float] = deque()
        self._first_start: float | None = None
        self._lock = asyncio.Lock()

    def _fill(self, now: float) -> None:
        if self.rate is not None:
            self._tokens = min(1.0, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def observed_rate(self) -> float | None:
        """Rows started per second over the last `window` seconds (or since the first); None
        before there are two starts to measure it from."""
        now = self.clock()
        while self._starts and self._starts[0] < now - self.window:
            self._starts.popleft()
        if self._first_start is None or len(self._starts) < 2:
            return None
        span = min(self.window, max(now - self._first_start, 1.0))
        return max(self.floor, len(self._starts) / span)

    async def acquire(self) -> None:
        # The lock makes waiters queue in order, so no worker starves behind faster ones.
        async with self._lock:
            while True:
                now = self.clock()
                if now < self.hold_until:
                    await self.sleep(self.hold_until - now)
                    continue
                self._fill(now)
                if self.rate is None or self._tokens >= 1:
                    break
                await self.sleep((1 - self._tokens) / self.rate)
            if self.rate is not None:
                self._tokens -= 1
            now = self.clock()
            self._starts.append(now)
            if self._first_start is None:
                self._first_start = now

    def throttled(self, retry_after: float | None) -> float:
        """The portal said 429: hold every worker and slow down. Returns the hold in seconds."""
        now = self.clock()
        hold = retry_after if retry_after is not None and retry_after >= 0 else self.default_hold
        self.hold_until = max(self.hold_until, now + hold)
        if self.throttled_since is None:
            self.throttled_since = now
        base = self.rate if self.rate is not None else self.observed_rate()
        new_round = self._last_cut is None or self._succeeded_since_cut
        # Nothing to halve before any pace is known (a 429 at sign-in): the hold alone.
        if base is not None and new_round:
            if self.recover_to is None:
                self.recover_to = base
            lowest = max(self.floor, self.recover_to / 8)
            self.rate = max(lowest, base / 2)
            self._last_cut = now
            self._succeeded_since_cut = False
            self.cuts += 1
        # One start when the hold ends, then the new pace.
        self._tokens = 1.0
        self._stamp = self.hold_until
        return hold

    def succeeded(self) -> None:
        """A row got through: the throttling is over, and the pace may rise a step."""
        self.throttled_since = None
        self._succeeded_since_cut = True
        if self.rate is None or self.recover_to is None:
            return
        self.rate += self.recover_to / self.steps
        target = self.ceiling if self.ceiling is not None else self.recover_to
        if self.rate >= target * (1 - 1e-9):  # steps of a tenth add up to a hair below 1
            self.rate = self.ceiling
            self.recover_to = None

    def throttled_for(self) -> float:
        """Seconds since the first 429 with no success after it (0 when not throttled)."""
        return 0.0 if self.throttled_since is None else self.clock() - self.throttled_since
