"""Which failed runs are worth another try, and how long to wait before it.

Transient: the portal or the network hiccuped (timeouts, HTTP 5xx, HTTP 429, connection
errors, an expired session). Final: a business outcome (the flow reached an answer) or a step
error (the page is not what the flow expects; trying again gives the same answer). Never
retried at all: a sign-in page a person must answer ("interstitial") and a portal that blocked
automated access ("blocked"); those end the whole run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Protocol

TRANSIENT_KINDS = frozenset({"timeout", "http_5xx", "http_429", "network", "session"})
# Waiting changes nothing here, and asking again is what the portal asked us not to do.
NEVER_RETRIED_KINDS = frozenset({"interstitial", "blocked"})
DEFAULT_ATTEMPTS = 4


class ResultLike(Protocol):
    outcome: str
    error_kind: str | None
    retry_after: float | None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = DEFAULT_ATTEMPTS  # total tries per row, the first included
    base: float = 0.5  # seconds; the ceiling of the first wait
    cap: float = 30.0  # no wait is longer than this, Retry-After included
    max_retry_after: float = 120.0  # a server asking for longer is treated as a failure

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base <= 0 or self.cap <= 0:
            raise ValueError("base and cap must be positive")


def is_transient(result: Any) -> bool:
    """True when the run failed for a reason that may pass by itself."""
    kind = result.error_kind
    return (
        result.outcome == "failed" and kind in TRANSIENT_KINDS and kind not in NEVER_RETRIED_KINDS
    )


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): exponential backoff
    with full jitter, uniform in [0, min(cap, base * 2**(attempt-1))]. Full jitter spreads
    workers that failed together (a 500 burst hits them all at once) instead of having them
    retry in lockstep."""
    rng = rng or random
    ceiling = min(policy.cap, policy.base * (2 ** max(0, attempt - 1)))
    return rng.uniform(0, ceiling)


def next_delay(
    result: Any, attempt: int, policy: RetryPolicy, rng: random.Random | None = None
) -> float | None:
    """How long to wait before trying again after `attempt` tries, or None when the row must
    not be tried again (final result, or no attempts left)."""
    if not is_transient(result) or attempt >= policy.attempts:
        return None
    delay = backoff_delay(attempt, policy, rng)
    retry_after = getattr(result, "retry_after", None)
    if result.error_kind == "http_429" and retry_after is not None:
        if retry_after > policy.max_retry_after:
            return None
        # The server said when; waiting less only earns another 429. A little jitter on top
        # keeps the workers it throttled together from returning in the same instant.
        delay = min(max(policy.cap, retry_after), retry_after + delay * 0.25)
    return delay
