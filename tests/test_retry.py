import random
from dataclasses import dataclass

import pytest

from agent.bulk.retry import RetryPolicy, backoff_delay, is_transient, next_delay


@dataclass
class Result:
    outcome: str = "failed"
    error_kind: str | None = None
    retry_after: float | None = None


@pytest.mark.parametrize("kind", ["timeout", "http_5xx", "http_429", "network", "session"])
def test_transient_kinds_are_retried(kind):
    result = Result(error_kind=kind)
    assert is_transient(result)
    assert next_delay(result, 1, RetryPolicy(), random.Random(1)) is not None


@pytest.mark.parametrize(
    "result",
    [
        Result(error_kind="step"),
        Result(error_kind=None),
        Result(outcome="cancelled"),
        Result(outcome="not_cancellable"),
        Result(outcome="already_cancelled", error_kind="timeout"),
    ],
)
def test_business_outcomes_and_step_errors_are_final(result):
    assert not is_transient(result)
    assert next_delay(result, 1, RetryPolicy()) is None
    assert not is_transient(result)


def test_attempts_are_limited():
    policy = RetryPolicy(attempts=4)
    result = Result(error_kind="timeout")
    assert [next_delay(result, n, policy) is not None for n in (1, 2, 3, 4, 5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert next_delay(result, 1, RetryPolicy(attempts=1)) is None
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_backoff_is_full_jitter_exponential_and_capped():
    policy = RetryPolicy(base=1.0, cap=10.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (12, 10.0)]:
        delays = [backoff_delay(attempt, policy, rng) for _ in range(300)]
        assert all(0 <= delay <= ceiling for delay in delays)
        # Full jitter: spread over the whole range, not bunched at the top.
        assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9


def test_429_honours_retry_after():
    policy = RetryPolicy(base=0.5, cap=30.0)
    rng = random.Random(3)
    delays = [
        next_delay(Result(error_kind="http_429", retry_after=5.0), 1, policy, rng)
        for _ in range(100)
    ]
    assert all(5.0 <= delay <= 5.5 for delay in delays)
    long_wait = next_delay(Result(error_kind="http_429", retry_after=60.0), 1, policy, rng)
    assert long_wait == 60.0
    assert next_delay(Result(error_kind="http_429", retry_after=600.0), 1, policy, rng) is None
    without = next_delay(Result(error_kind="http_429"), 1, policy, rng)
    assert 0 <= without <= 0.5
