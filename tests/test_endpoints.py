"""Browser endpoints: how they are written, how workers are spread over them, and what the
engine does when one is lost mid-run. The browsers here are stand-ins that record which
endpoint played what (orchestration only); real browser servers are in test_browser_server.py
and test_scale_e2e.py."""

import asyncio
import contextlib
from pathlib import Path

import pytest

from agent.bulk.endpoints import BrowserPool, Slot, interleave, plan_workers
from agent.bulk.engine import Backend, BulkOptions, run_bulk
from agent.bulk.journal import Journal
from agent.bulk.outage import ProbeAnswer
from agent.bulk.retry import RetryPolicy
from agent.bulk.runs import start_run
from agent.cancel.orders import read_order_rows
from agent.cancel.rules import reconcile
from agent.flow import load_flow
from agent.play.browser import EndpointError, parse_endpoint, redact_endpoint
from agent.play.player import RunResult
from agent.play.secrets import Secrets

IDS = [f"100-0000000-{n:07d}" for n in range(1, 13)]
FAST_RETRY = RetryPolicy(attempts=3, base=0.001, cap=0.002)
SECRETS = Secrets(email="s@example.com", password="pw-secret", totp_secret="JBSWY3DPEHPK3PXP")
# Never connected to: the stand-in backend below answers for them.
A = "ws://10.0.0.1:8610/tokenAAAAAAAAAAAAAAAAAAAA"
B = "ws://10.0.0.2:8610/tokenBBBBBBBBBBBBBBBBBBBB"
LABEL_A, LABEL_B = "ws://10.0.0.1:8610/…", "ws://10.0.0.2:8610/…"


def test_endpoint_forms():
    server = parse_endpoint("ws://10.0.0.7:8610/Et0hm0WCbeWivLN9QIgdGPQW?workers=3")
    assert (server.url, server.protocol, server.workers) == (
        "ws://10.0.0.7:8610/Et0hm0WCbeWivLN9QIgdGPQW",
        "playwright",
        3,
    )
    assert server.label == "ws://10.0.0.7:8610/…"
    assert parse_endpoint("http://10.0.0.7:9222").protocol == "cdp"
    devtools = parse_endpoint("ws://h:9222/devtools/browser/5f1c-77?workers=1")
    assert (devtools.protocol, devtools.url, devtools.workers) == (
        "cdp",
        "ws://h:9222/devtools/browser/5f1c-77",
        1,
    )
    # Other query parameters go on to the server untouched.
    assert parse_endpoint("wss://h/tok?x=1&workers=2").url == "wss://h/tok?x=1"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ftp://host/x", "expected ws://HOST:PORT/TOKEN"),
        ("10.0.0.7:8610", "expected ws://HOST:PORT/TOKEN"),
        ("ws://host:8610", "ends in its token"),
        ("ws://host:8610/tok?workers=0", "workers=0: expected a whole number from 1 to 64"),
        ("ws://host:8610/tok?workers=many", "workers=many"),
        ("ws://host:port/tok", "expected ws://HOST:PORT/TOKEN"),
    ],
)
def test_malformed_endpoints_are_one_line(text, says):
    with pytest.raises(EndpointError) as caught:
        parse_endpoint(text)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert "/tok" not in str(caught.value)


def test_redaction_keeps_host_and_port_only():
    assert redact_endpoint("ws://user:pw@10.0.0.7:8610/secret?workers=2") == "ws://10.0.0.7:8610/…"
    assert redact_endpoint("ws://[::1]:8610/secret") == "ws://[::1]:8610/…"
    assert redact_endpoint("http://10.0.0.7:9222") == "http://10.0.0.7:9222/"


def test_workers_spread_evenly_unless_an_endpoint_says():
    assert plan_workers([None, None], 4) == [2, 2]
    assert plan_workers([None, None, None], 4) == [2, 1, 1]
    assert plan_workers([None, None, None], 2) == [1, 1, 1]  # every endpoint works
    assert plan_workers([3, None], 4) == [3, 4]
    assert plan_workers([3, 1], 8) == [3, 1]
    assert interleave([2, 2]) == [0, 1, 0, 1]
    assert interleave([3, 1]) == [0, 1, 0, 0]


class FakeBrowser:
    def __init__(self, log, label):
        self.log = log
        self.label = label
        self.alive = True

    def is_connected(self):
        return self.alive

    async def new_context(self):
        if not self.alive:
            raise RuntimeError("Target page, context or browser has been closed")
        return FakeContext(self)

    async def close(self):
        self.log.append(("close", self.label))


class FakeContext:
    def __init__(self, browser):
        self.browser = browser

    async def new_page(self):
        if not self.browser.alive:
            raise RuntimeError("Target page, context or browser has been closed")
        return FakePage(self.browser)

    async def close(self):
        pass


class FakePage:
    def __init__(self, browser):
        self.browser = browser
        self.label = browser.label

    @property
    def alive(self):
        return self.browser.alive

    @alive.setter
    def alive(self, value):
        self.browser.alive = value

    async def close(self):
        # The engine closes a failed row's page before its next attempt: the moment to lose
        # the endpoint between two attempts.
        if getattr(self.browser, "die_on_page_close", False):
            self.browser.alive = False
            self.browser.log.append(("died", self.label))


class Endpoints:
    """Two stand-in endpoints; `die` names rows whose first play kills their endpoint (the
    submit may have reached the portal: the replay meets the order already cancelled)."""

    def __init__(self, die=(), die_on=None, die_in_backoff=()):
        self.log = []
        self.browsers = {}
        self.die = set(die)
        self.die_in_backoff = set(die_in_backoff)
        self.die_on = die_on
        world = self

        @contextlib.asynccontextmanager
        async def playwright():
            yield object()

        async def launch(playwright, *, connect=None, **options):
            browser = FakeBrowser(world.log, connect)
            world.browsers[connect] = browser
            world.log.append(("connect", connect))
            return browser

        async def new_context(browser, **options):
            return await browser.new_context()

        async def ensure_session(browser, **options):
            return Path("/state.json")

        async def run_flow(page, flow, params, **options):
            key = params["order_id"]
            world.log.append(("play", key, page.label))
            await asyncio.sleep(0.001)
            dying = key in world.die and (world.die_on is None or page.label == world.die_on)
            if dying:
                world.die.discard(key)
                page.alive = False
                world.log.append(("died", page.label))
            if key in world.die_in_backoff and page.label == world.die_on:
                # A timeout that will be retried; the endpoint dies before the next attempt.
                world.die_in_backoff.discard(key)
                page.browser.die_on_page_close = True
                return RunResult(outcome="failed", ok=False, error="slow", error_kind="timeout")
            if not page.alive:
                return RunResult(
                    outcome="failed",
                    ok=False,
                    error="Target page, context or browser has been closed",
                    error_kind="network",
                    matches=[{"step": "click", "line": 1}],
                )
            if any(entry[:2] == ("play", key) for entry in world.log[:-1]):
                return RunResult(
                    outcome="already_cancelled",
                    ok=True,
                    values={"cancelled_by": "seller", "cancel_reason": "No Inventory"},
                )
            return RunResult(outcome="cancelled", ok=True)

        def probe_factory(portal):
            # The portal itself always answers here: a lost endpoint is not an outage.
            async def probe():
                return ProbeAnswer(True, "HTTP 302")

            return probe

        self.backend = Backend(
            playwright=playwright,
            launch=launch,
            new_context=new_context,
            ensure_session=ensure_session,
            run_flow=run_flow,
            probe=probe_factory,
        )


def play(tmp_path, endpoints, world, ids=IDS, workers=4):
    flow = load_flow("cancel_order")
    journal = Journal(tmp_path / "journal.db")
    run_id = start_run(
        journal, flow, read_order_rows(ids=ids, default_reason="NoInventory"), portal="http://x"
    )
    events = []
    result = asyncio.run(
        run_bulk(
            flow,
            journal,
            run_id,
            portal="http://x",
            secrets=SECRETS,
            options=BulkOptions(
                workers=workers, retry=FAST_RETRY, quiet=True, endpoints=tuple(endpoints)
            ),
            run_dir=tmp_path / "runs",
            reconcile=reconcile,
            backend=world.backend,
            on_event=events.append,
        )
    )
    rows = {row.key: row for row in journal.rows(run_id)}
    status = journal.run(run_id).status
    journal.close()
    return result, rows, status, events


def test_workers_spread_over_every_endpoint_and_rows_name_theirs(tmp_path):
    world = Endpoints()
    result, rows, status, events = play(tmp_path, [A, B], world)
    assert [entry for entry in world.log if entry[0] == "connect"] == [
        ("connect", A),
        ("connect", B),
    ]
    assert status == "finished" and result.exit_code == 0
    assert {row.values["endpoint"] for row in rows.values()} == {LABEL_A, LABEL_B}
    assert f"browser endpoint {LABEL_A}: 2 workers" in events
    # Every browser is let go at the end.
    assert ("close", A) in world.log and ("close", B) in world.log


def test_a_lost_endpoint_s_row_is_replayed_through_the_guard_elsewhere(tmp_path):
    victim = IDS[2]
    world = Endpoints(die=[victim], die_on=A)
    result, rows, status, events = play(tmp_path, [A, B], world)
    assert status == "finished" and result.exit_code == 0
    plays = [entry for entry in world.log if entry[:2] == ("play", victim)]
    assert plays == [("play", victim, A), ("play", victim, B)]
    row = rows[victim]
    # Replayed as a row that may have acted: its guard's "already cancelled" is this run's own.
    assert row.resumed and row.outcome == "cancelled"
    assert row.values["reconciled_from"] == "already_cancelled"
    assert row.values["endpoint"] == LABEL_B
    # A row A's other worker started after the loss failed there, and went to B too.
    after = world.log.index(("died", A))
    for entry in world.log[after + 1 :]:
        if entry[0] == "play" and entry[2] == A:
            assert ("play", entry[1], B) in world.log[world.log.index(entry) :]
            assert rows[entry[1]].values["endpoint"] == LABEL_B
    assert sorted(key for key in rows if rows[key].state == "done") == sorted(IDS)
    # Said once, however many of its workers found it gone.
    assert sum(f"browser endpoint {LABEL_A} lost" in event for event in events) == 1


def test_the_last_endpoint_lost_stops_the_run_for_resume(tmp_path):
    world = Endpoints(die=[IDS[1]])
    result, rows, status, events = play(tmp_path, [A], world, workers=1)
    assert status == "interrupted" and result.exit_code == 1
    assert rows[IDS[0]].state == "done"
    # The row in flight stays running (resume replays it through its guard); the rest pending.
    assert rows[IDS[1]].state == "running"
    assert {rows[key].state for key in IDS[2:]} == {"pending"}
    assert "no browser endpoint left: 11 rows not played; resume the run when one is back" in events


def test_a_launched_browser_that_crashes_stops_the_run_for_resume_too(tmp_path):
    world = Endpoints(die=[IDS[0]])
    result, rows, status, events = play(tmp_path, [], world, workers=2)
    assert status == "interrupted" and result.exit_code == 1
    assert "the browser closed or crashed" in events
    assert any(event.startswith("no browser left: ") for event in events)
    assert rows[IDS[0]].state == "running"
    # A run that launched its own browser names no endpoint on its rows.
    assert all("endpoint" not in row.values for row in rows.values())


def test_an_endpoint_lost_while_a_row_waits_to_retry_sends_the_row_elsewhere(tmp_path):
    victim = IDS[0]
    world = Endpoints(die_on=A, die_in_backoff=[victim])
    result, rows, status, events = play(tmp_path, [A, B], world)
    assert status == "finished" and result.exit_code == 0
    assert [entry for entry in world.log if entry[:2] == ("play", victim)] == [
        ("play", victim, A),
        ("play", victim, B),
    ]
    assert rows[victim].resumed and rows[victim].values["endpoint"] == LABEL_B
    assert {row.state for row in rows.values()} == {"done"}


def test_the_pools_words_are_english_in_the_log_and_the_readers_on_the_terminal():
    from agent.i18n import shown, using

    pool = BrowserPool([Slot("ws://10.0.0.7:8610/…", object())], [0])
    with using("zh-CN"):
        said = pool.none_left(3)
    assert (
        str(said) == "no browser endpoint left: 3 rows not played; resume the run when one is back"
    )
    assert shown(said) == "没有可用的浏览器端点：3 行未执行；有端点恢复后请继续此运行"


def test_an_endpoint_found_gone_by_several_workers_at_once_is_said_once():
    import asyncio

    from agent.bulk.endpoints import BrowserPool, EndpointLost, Slot

    class Gone:
        """A browser whose server was killed: still 'connected' until asked, then refusing."""

        def is_connected(self):
            return True

        async def new_context(self):
            await asyncio.sleep(0.05)
            raise ConnectionError("closed")

    said: list[str] = []
    pool = BrowserPool([Slot(LABEL_A, Gone())], [0, 0, 0], on_event=said.append)

    async def ask(worker):
        try:
            await pool.check(worker)
        except EndpointLost:
            return "lost"
        return "alive"

    async def all_at_once():
        return await asyncio.gather(*(ask(worker) for worker in range(3)))

    assert asyncio.run(all_at_once()) == ["lost", "lost", "lost"]
    assert len(said) == 1 and f"browser endpoint {LABEL_A} lost" in said[0]
