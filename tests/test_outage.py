"""The outage detector and the adaptive pace, on a fake clock: no waiting, no network (except
the probe's own tests, which use real sockets on loopback)."""

import asyncio
import socket
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.bulk.outage import PortalWatch, ProbeAnswer, http_probe
from agent.bulk.pacing import AdaptivePace

UP = ProbeAnswer(True, "HTTP 302")
DOWN = ProbeAnswer(False, "connection refused")


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def scripted_probe(time, answers, calls):
    """A probe answering from `answers` (the last repeats), noting when it was asked."""

    async def probe():
        calls.append(time.now)
        return answers[min(len(calls), len(answers)) - 1]

    return probe


def make_watch(time, answers, calls, events, reached=True, **kwargs):
    """A watch in a run whose portal has answered before (unless `reached` is False)."""
    watch = PortalWatch(
        scripted_probe(time, answers, calls),
        clock=time.clock,
        sleep=time.sleep,
        wall=lambda: datetime(2026, 11, 26, 12, 1, 7),
        on_down=lambda outage: events.append(("down", outage.detail, time.now)),
        on_end=lambda outage: events.append((outage.end, round(outage.seconds, 3), time.now)),
        **kwargs,
    )
    if reached:
        watch.reached()
    return watch


def test_a_failure_while_the_portal_answers_is_the_rows_own():
    time, calls, events = FakeTime(), [], []

    async def scenario():
        watch = make_watch(time, [UP], calls, events)
        return await watch.suspect("net::ERR_TIMED_OUT"), watch

    portal_down, watch = asyncio.run(scenario())
    assert portal_down is False
    assert calls == [0.0] and events == [] and not watch.down


def test_an_outage_pauses_until_the_portal_answers_probing_with_capped_backoff():
    time, calls, events = FakeTime(), [], []
    # Down for the first probe (the suspicion) and six more, then up.
    answers = [DOWN] * 7 + [UP]

    async def scenario():
        watch = make_watch(time, answers, calls, events, first_delay=1, max_delay=8)
        waiting = [asyncio.create_task(watch.suspect("net::ERR_CONNECTION_REFUSED"))]
        await asyncio.sleep(0)
        assert watch.down
        # Other workers meeting the outage wait for the same end, without probing again.
        waiting += [asyncio.create_task(watch.suspect("timeout")) for _ in range(3)]
        results = await asyncio.gather(*waiting)
        return results, watch

    results, watch = asyncio.run(scenario())
    assert results == [True, True, True, True]
    assert time.slept == [1, 2, 4, 8, 8, 8, 8]
    assert calls == [0, 1, 3, 7, 15, 23, 31, 39]
    assert events == [("down", "connection refused", 0), ("up", 39, 39)]
    assert not watch.down and not watch.gave_up
    assert [outage.end for outage in watch.outages] == ["up"]
    assert watch.outages[0].started == datetime(2026, 11, 26, 12, 1, 7)


def test_a_failure_that_arrives_just_after_an_outage_is_still_the_outages():
    time, calls, events = FakeTime(), [], []

    async def scenario():
        watch = make_watch(time, [DOWN, UP, DOWN, UP], calls, events, grace=5)
        assert await watch.suspect("refused")
        time.now += 2  # an attempt that was under way reports its failure late
        late = await watch.suspect("refused")
        time.now += 10
        fresh = await watch.suspect("timeout")
        return late, fresh

    late, fresh = asyncio.run(scenario())
    assert late is True
    # Past the grace the watch probes again; a portal that is down again is a new outage.
    assert fresh is True and [event[0] for event in events] == ["down", "up", "down", "up"]


def test_the_watch_gives_up_after_max_outage():
    time, calls, events = FakeTime(), [], []

    async def scenario():
        watch = make_watch(time, [DOWN], calls, events, max_outage=30, max_delay=10)
        first = await watch.suspect("refused")
        later = await watch.suspect("refused")  # after giving up, no more probing
        return first, later, watch

    first, later, watch = asyncio.run(scenario())
    assert first is True and later is True and watch.gave_up
    assert sum(time.slept) == pytest.approx(30)
    assert events[-1] == ("gave_up", 30, 30)
    # The suspicion, then probes after waits of 1, 2, 4, 8, 10 and the 5 s left.
    assert calls == [0, 1, 3, 7, 15, 25, 30]


def test_a_portal_never_reached_in_this_run_gets_a_short_wait_not_max_outage():
    # A wrong --portal looks like an outage from the first request: the run stops after the
    # first-contact wait, saying the portal never answered, instead of waiting 15 minutes.
    time, calls, events = FakeTime(), [], []
    ends = []

    async def scenario():
        watch = make_watch(
            time, [DOWN], calls, events, reached=False, first_contact_wait=10, max_delay=10
        )
        watch.on_end = lambda outage: ends.append(outage)
        return await watch.suspect("net::ERR_CONNECTION_REFUSED"), watch

    down, watch = asyncio.run(scenario())
    assert down is True and watch.gave_up
    assert sum(time.slept) == pytest.approx(10)
    assert calls == [0, 1, 3, 7, 10]
    assert [(outage.end, outage.never_reached) for outage in ends] == [("gave_up", True)]


def test_once_the_portal_answered_a_probe_an_outage_waits_max_outage():
    time, calls, events = FakeTime(), [], []
    outages = []

    async def scenario():
        watch = make_watch(
            time, [UP, DOWN], calls, events, reached=False, max_outage=60, first_contact_wait=10
        )
        watch.on_down = outages.append
        assert await watch.suspect("timeout") is False  # the probe reached the portal
        return await watch.suspect("net::ERR_CONNECTION_REFUSED"), watch

    down, watch = asyncio.run(scenario())
    assert down is True and watch.gave_up
    assert [outage.never_reached for outage in outages] == [False]
    assert sum(time.slept) == pytest.approx(60)


def test_release_lets_every_waiting_worker_go():
    time, calls, events = FakeTime(), [], []

    async def scenario():
        never = asyncio.Event()

        async def slow_sleep(seconds):
            await never.wait()

        watch = make_watch(time, [DOWN], calls, events)
        watch.sleep = slow_sleep
        waiting = asyncio.create_task(watch.suspect("refused"))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert watch.down
        watch.release()
        return await asyncio.wait_for(waiting, 1), watch

    result, watch = asyncio.run(scenario())
    assert result is True and not watch.down and not watch.gave_up
    assert events[-1][0] == "stopped"


def test_pace_without_a_limit_never_waits_until_throttled():
    time = FakeTime()

    async def scenario():
        pace = AdaptivePace(None, clock=time.clock, sleep=time.sleep)
        for _ in range(50):
            await pace.acquire()
        return pace

    pace = asyncio.run(scenario())
    assert time.slept == [] and pace.rate is None


def test_a_burst_of_429s_holds_every_worker_cuts_the_pace_once_and_it_recovers():
    time = FakeTime()
    starts = []

    async def scenario():
        pace = AdaptivePace(None, clock=time.clock, sleep=time.sleep, window=10, steps=10)
        # Rows start at 4 per second for 5 s.
        for _ in range(20):
            await pace.acquire()
            time.now += 0.25
        # Ten 429s reach the workers within the same instant: one hold, one cut.
        for _ in range(10):
            pace.throttled(2.0)
        assert pace.cuts == 1
        assert pace.rate == pytest.approx(2.0)  # half the 4 rows/s observed
        held_from = time.now
        await pace.acquire()
        starts.append(time.now - held_from)
        for _ in range(5):
            await pace.acquire()
            starts.append(time.now - held_from)
        # Their retries meet more of the same burst before any row got through: no new cut.
        pace.throttled(2.0)
        assert pace.cuts == 1 and pace.rate == pytest.approx(2.0)
        assert pace.throttled_for() > 0
        pace.succeeded()
        assert pace.throttled_for() == 0
        # Each success raises the pace a step (a tenth of the pace before the throttling)
        # until it is back there: then no limit again.
        rates = [pace.rate]
        while pace.rate is not None:
            pace.succeeded()
            rates.append(pace.rate)
        return rates

    rates = asyncio.run(scenario())
    # Nobody starts during the hold; then one row every 1/2 s.
    assert starts[0] == pytest.approx(2.0)
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [pytest.approx(0.5)] * 5
    assert rates[:-1] == [pytest.approx(r) for r in (2.4, 2.8, 3.2, 3.6)] and rates[-1] is None


def test_a_limit_is_a_ceiling_the_pace_returns_to_and_cuts_have_a_floor():
    time = FakeTime()

    async def scenario():
        pace = AdaptivePace(4.0, clock=time.clock, sleep=time.sleep, steps=40)
        await pace.acquire()
        pace.throttled(None)  # no Retry-After: a default hold
        assert pace.rate == 2.0 and pace.hold_until == pytest.approx(1.0)
        time.now += 60
        pace.throttled(1)  # no row got through since the cut: the same storm, however long
        assert (pace.rate, pace.cuts) == (2.0, 1)
        assert pace.hold_until == pytest.approx(61.0)
        pace.succeeded()  # each success: a fortieth of the 4 rows/s back
        assert pace.rate == pytest.approx(2.1)
        pace.throttled(1)  # throttled again after a success: the pace was still too high
        assert pace.rate == pytest.approx(1.05) and pace.cuts == 2
        for _ in range(3):
            pace.succeeded()
            pace.throttled(1)
        return pace

    pace = asyncio.run(scenario())
    assert pace.rate == 0.5  # an eighth of the 4 rows/s it started from, no lower
    for _ in range(35):
        pace.succeeded()
    assert pace.rate == 4.0
    with pytest.raises(ValueError):
        AdaptivePace(0)


class _Answer(BaseHTTPRequestHandler):
    status = 302

    def do_GET(self):
        self.send_response(self.status)
        self.send_header("Location", "/ap/signin")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, up", [(302, True), (500, True), (200, True), (503, False)])
def test_http_probe_counts_any_answer_but_a_gateways(status, up):
    handler = type("Handler", (_Answer,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = http_probe(f"http://127.0.0.1:{server.server_address[1]}/", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert answer == ProbeAnswer(up, f"HTTP {status}")


def test_http_probe_of_a_closed_port_and_of_a_socket_that_never_answers():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    assert http_probe(f"http://127.0.0.1:{port}/", timeout=2) == ProbeAnswer(
        False, "connection refused"
    )
    # Accepts the connection and never says a word: what a hung portal looks like.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        answer = http_probe(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.5)
    finally:
        silent.close()
    assert answer == ProbeAnswer(False, "timed out")
