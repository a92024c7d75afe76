"""The bulk engine's orchestration: the order of journal writes, browser calls and flow runs.
The browser, session and player are stand-ins here only to record that order; the real thing
runs in test_bulk_e2e.py and test_crash_resume.py."""

import asyncio
import contextlib
import io
import re
import sqlite3
import time
from pathlib import Path

import pytest

from agent.bulk import engine as bulk
from agent.bulk import guarded
from agent.bulk.engine import Backend, BulkOptions, run_bulk
from agent.bulk.guarded import dry_run_flow
from agent.bulk.journal import Journal
from agent.bulk.outage import ProbeAnswer
from agent.bulk.pacing import TokenBucket
from agent.bulk.progress import BulkProgress
from agent.bulk.retry import RetryPolicy
from agent.bulk.runs import start_run
from agent.cancel.orders import read_order_rows
from agent.cancel.rules import reconcile
from agent.flow import load_flow
from agent.play.player import RunResult
from agent.play.secrets import Secrets

IDS = [f"100-0000000-{n:07d}" for n in range(1, 11)]
FAST_RETRY = RetryPolicy(attempts=3, base=0.001, cap=0.002)


class FakeContext:
    def __init__(self, log, number):
        self.log = log
        self.number = number

    async def new_page(self):
        return f"page-of-{self.number}"

    async def close(self):
        self.log.append(("close_context", self.number))


class World:
    """Records every call the engine makes, in order."""

    current: "World | None" = None

    def __init__(self, monkeypatch, journal_path, script=None):
        self.log = []
        self.contexts = 0
        self.script = script or {}
        self.journal_path = journal_path
        self.states_seen = {}
        # What the portal's base URL answers to the outage probe, in turn; the last answer
        # repeats. By default the portal is there.
        self.probe_answers = [ProbeAnswer(True, "HTTP 302")]
        self.probes = 0
        world = self

        class FakeBrowser:
            async def close(self):
                world.log.append(("close_browser",))

        @contextlib.asynccontextmanager
        async def fake_playwright():
            yield object()

        async def launch(playwright, **kwargs):
            world.log.append(("launch",))
            return FakeBrowser()

        async def new_context(browser, *, storage_state=None, block_media=False, locale=None):
            world.contexts += 1
            world.log.append(("new_context", storage_state))
            return FakeContext(world.log, world.contexts)

        async def ensure_session(browser, *, portal, secrets, run_dir):
            world.log.append(("ensure_session", portal))
            return Path("/state.json")

        async def run_flow(page, flow, params, *, portal, secrets, run_dir, trace=False):
            key = params["order_id"]
            # What another process (a resumed run after a crash) would read right now.
            with contextlib.closing(sqlite3.connect(world.journal_path)) as other:
                state = other.execute("SELECT state FROM rows WHERE key = ?", (key,)).fetchone()[0]
            world.states_seen.setdefault(key, []).append(state)
            world.log.append(("run_flow", key, page))
            answers = world.script.get(key, [("cancelled", None)])
            count = sum(1 for entry in world.log if entry[:2] == ("run_flow", key))
            outcome, kind = answers[min(count, len(answers)) - 1]
            await asyncio.sleep(0)
            if callable(outcome):
                return await outcome(key)
            if outcome == "failed":
                # Failures got past the guard (the submit step's target was found) unless the
                # script says the failure came earlier.
                early = kind.endswith("-early")
                kind = kind.removesuffix("-early")
                submit = flow.steps[-1]
                past = [{"step": submit.name or submit.path, "line": submit.line}]
                return RunResult(
                    outcome="failed",
                    ok=False,
                    error=f"{kind} trouble",
                    error_kind=kind,
                    matches=[] if early else past,
                    retry_after=0.01 if kind == "http_429" else None,
                )
            return RunResult(
                outcome=outcome,
                ok=outcome in flow.success,
                values=world.script.get(("values", key), {}),
            )

        def probe_factory(portal):
            async def probe():
                world.probes += 1
                world.log.append(("probe",))
                answers = world.probe_answers
                return answers[min(world.probes, len(answers)) - 1]

            return probe

        async def collect_garbage(page):
            world.log.append(("collect_garbage", page))
            return True

        # The engine is handed this backend (see play()); nothing is patched.
        self.backend = Backend(
            playwright=fake_playwright,
            launch=launch,
            new_context=new_context,
            ensure_session=ensure_session,
            run_flow=run_flow,
            probe=probe_factory,
            collect_garbage=collect_garbage,
        )
        World.current = self

    def kinds(self):
        return [entry[0] for entry in self.log]


@pytest.fixture
def flow():
    return load_flow("cancel_order")


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        yield journal


SECRETS = Secrets(email="s@example.com", password="pw-secret", totp_secret="JBSWY3DPEHPK3PXP")


def new_run(journal, flow, ids=IDS, reason="NoInventory"):
    rowset = read_order_rows(ids=ids, default_reason=reason)
    return start_run(journal, flow, rowset, portal="http://127.0.0.1:1")


def play(journal, flow, run_id, tmp_path, **kwargs):
    options = kwargs.pop("options", BulkOptions(workers=1, retry=FAST_RETRY, quiet=True))
    kwargs.setdefault("backend", World.current.backend)
    kwargs.setdefault("reconcile", reconcile)
    return asyncio.run(
        run_bulk(
            flow,
            journal,
            run_id,
            portal="http://127.0.0.1:1",
            secrets=SECRETS,
            options=options,
            run_dir=tmp_path / "runs",
            **kwargs,
        )
    )


def test_sign_in_once_then_rows_in_order_then_close(monkeypatch, journal, flow, tmp_path):
    world = World(monkeypatch, journal.path)
    run_id = new_run(journal, flow, IDS[:3])
    result = play(journal, flow, run_id, tmp_path)
    assert world.log == [
        ("launch",),
        ("ensure_session", "http://127.0.0.1:1"),
        ("new_context", Path("/state.json")),
        ("run_flow", IDS[0], "page-of-1"),
        ("run_flow", IDS[1], "page-of-1"),
        ("run_flow", IDS[2], "page-of-1"),
        ("close_context", 1),
        ("close_browser",),
    ]
    assert result.status == "finished" and result.exit_code == 0
    assert [row.outcome for row in result.rows] == ["cancelled"] * 3
    assert journal.run(run_id).status == "finished"


def test_a_row_is_committed_running_before_its_flow_runs(monkeypatch, journal, flow, tmp_path):
    world = World(monkeypatch, journal.path)
    run_id = new_run(journal, flow, IDS[:4])
    play(journal, flow, run_id, tmp_path, options=BulkOptions(workers=2, quiet=True))
    assert world.states_seen == {key: ["running"] for key in IDS[:4]}
    assert all(row.state == "done" for row in journal.rows(run_id))


def test_workers_are_contexts_recycled_every_k_rows(monkeypatch, journal, flow, tmp_path):
    world = World(monkeypatch, journal.path)
    run_id = new_run(journal, flow)
    play(
        journal, flow, run_id, tmp_path, options=BulkOptions(workers=2, recycle_every=2, quiet=True)
    )
    # A fresh context every 2 rows: no context plays more than 2, and every one is closed.
    pages = [entry[2] for entry in world.log if entry[0] == "run_flow"]
    assert max(pages.count(page) for page in set(pages)) == 2
    assert world.contexts in (5, 6) and len(set(pages)) == world.contexts
    closed = sorted(entry[1] for entry in world.log if entry[0] == "close_context")
    assert closed == list(range(1, world.contexts + 1))
    assert world.kinds()[-1] == "close_browser"
    assert world.kinds().count("run_flow") == 10


def test_a_workers_renderer_collects_its_garbage_every_n_rows_of_a_context(
    monkeypatch, journal, flow, tmp_path
):
    monkeypatch.setattr(bulk, "COLLECT_EVERY_ROWS", 2)
    world = World(monkeypatch, journal.path)
    run_id = new_run(journal, flow, IDS[:6])
    play(
        journal, flow, run_id, tmp_path, options=BulkOptions(workers=1, recycle_every=3, quiet=True)
    )
    steps = [
        (entry[0], entry[2] if entry[0] == "run_flow" else entry[1])
        for entry in world.log
        if entry[0] in ("run_flow", "collect_garbage", "new_context")
    ]
    # Counted per context: after its 2nd row, on the page that played it; a recycled context
    # starts counting again.
    assert steps == [
        ("new_context", Path("/state.json")),
        ("run_flow", "page-of-1"),
        ("run_flow", "page-of-1"),
        ("collect_garbage", "page-of-1"),
        ("run_flow", "page-of-1"),
        ("new_context", Path("/state.json")),
        ("run_flow", "page-of-2"),
        ("run_flow", "page-of-2"),
        ("collect_garbage", "page-of-2"),
        ("run_flow", "page-of-2"),
    ]


def test_transient_failures_are_retried_final_ones_are_not(monkeypatch, journal, flow, tmp_path):
    script = {
        IDS[0]: [("failed", "http_5xx"), ("failed", "timeout"), ("cancelled", None)],
        IDS[1]: [("failed", "step")],
        IDS[2]: [("failed", "network")] * 5,
        IDS[3]: [("not_cancellable", None)],
    }
    world = World(monkeypatch, journal.path, script)
    run_id = new_run(journal, flow, IDS[:4])
    result = play(journal, flow, run_id, tmp_path)
    calls = [entry[1] for entry in world.log if entry[0] == "run_flow"]
    assert calls.count(IDS[0]) == 3 and calls.count(IDS[1]) == 1
    assert calls.count(IDS[2]) == 3 and calls.count(IDS[3]) == 1
    rows = {row.key: row for row in result.rows}
    assert (rows[IDS[0]].state, rows[IDS[0]].outcome, rows[IDS[0]].attempts) == (
        "done",
        "cancelled",
        3,
    )
    assert (rows[IDS[1]].state, rows[IDS[1]].error_kind) == ("failed", "step")
    assert (rows[IDS[2]].state, rows[IDS[2]].error_kind, rows[IDS[2]].attempts) == (
        "failed",
        "network",
        3,
    )
    assert (rows[IDS[3]].outcome, rows[IDS[3]].ok) == ("not_cancellable", False)
    assert result.exit_code == 1


def test_retry_after_a_transient_failure_reconciles_already_cancelled(
    monkeypatch, journal, flow, tmp_path
):
    # The first attempt's POST went through before the 500: the retry meets the guard.
    script = {
        IDS[0]: [("failed", "http_5xx"), ("already_cancelled", None)],
        ("values", IDS[0]): {"cancelled_by": "seller", "cancel_reason": "No Inventory"},
        IDS[1]: [("already_cancelled", None)],
        ("values", IDS[1]): {"cancelled_by": "seller", "cancel_reason": "No Inventory"},
    }
    World(monkeypatch, journal.path, script)
    run_id = new_run(journal, flow, IDS[:2])
    rows = {row.key: row for row in play(journal, flow, run_id, tmp_path).rows}
    assert rows[IDS[0]].outcome == "cancelled"
    assert rows[IDS[0]].values["reconciled_from"] == "already_cancelled"
    # Cancelled before this run ever touched it: stays already_cancelled.
    assert rows[IDS[1]].outcome == "already_cancelled"


def test_a_failure_before_the_guard_is_not_reconciled(monkeypatch, journal, flow, tmp_path):
    # The search page failed (a 500 before the guard); the retry finds the order cancelled
    # earlier by this seller with the same reason: not this run's doing.
    script = {
        IDS[0]: [("failed", "http_5xx-early"), ("already_cancelled", None)],
        ("values", IDS[0]): {"cancelled_by": "seller", "cancel_reason": "NoInventory"},
    }
    World(monkeypatch, journal.path, script)
    run_id = new_run(journal, flow, IDS[:1])
    row = play(journal, flow, run_id, tmp_path).rows[0]
    assert (row.outcome, row.attempts) == ("already_cancelled", 2)
    assert "reconciled_from" not in row.values


def test_max_failures_stops_taking_rows(monkeypatch, journal, flow, tmp_path):
    script = {key: [("failed", "step")] for key in IDS}
    World(monkeypatch, journal.path, script)
    run_id = new_run(journal, flow)
    options = BulkOptions(workers=1, max_failures=3, retry=FAST_RETRY, quiet=True)
    result = play(journal, flow, run_id, tmp_path, options=options)
    assert result.status == "stopped"
    assert journal.counts(run_id)["failed"] == 3
    assert journal.counts(run_id)["pending"] == 7
    assert journal.run(run_id).status == "stopped"
    # Why it stopped, for `cancel --json`'s error.
    assert result.message == "3 rows failed: stopping (--max-failures 3)"


def test_canary_asks_before_the_rest(monkeypatch, journal, flow, tmp_path):
    world = World(monkeypatch, journal.path)
    asked = []

    def decline(summary):
        asked.append(
            (summary.played, summary.remaining, summary.outcomes, world.kinds().count("run_flow"))
        )
        return False

    run_id = new_run(journal, flow)
    options = BulkOptions(workers=2, canary=3, quiet=True)
    result = play(journal, flow, run_id, tmp_path, options=options, confirm_canary=decline)
    assert asked == [(3, 7, {"cancelled": 3}, 3)]
    assert result.status == "paused" and journal.counts(run_id)["pending"] == 7

    async def accept(summary):
        return True

    # Resuming plays the rest; the canary does not play again.
    result = play(
        journal,
        flow,
        run_id,
        tmp_path,
        options=BulkOptions(workers=2, quiet=True),
        confirm_canary=accept,
    )
    assert result.status == "finished" and journal.counts(run_id)["done"] == 10
    assert world.kinds().count("run_flow") == 10


def test_resume_replays_running_rows_through_the_guard(monkeypatch, journal, flow, tmp_path):
    run_id = new_run(journal, flow, IDS[:4])
    journal.mark_running(run_id, IDS[0])
    journal.mark_done(run_id, IDS[0], outcome="cancelled", ok=True)
    journal.mark_running(run_id, IDS[1])  # in flight when the process died; it had cancelled
    journal.mark_running(run_id, IDS[2])  # in flight; its order was cancelled by someone else
    script = {
        IDS[1]: [("already_cancelled", None)],
        ("values", IDS[1]): {"cancelled_by": "seller", "cancel_reason": "NoInventory"},
        IDS[2]: [("already_cancelled", None)],
    }
    world = World(monkeypatch, journal.path, script)
    result = play(journal, flow, run_id, tmp_path)
    assert [entry[1] for entry in world.log if entry[0] == "run_flow"] == IDS[1:4]
    rows = {row.key: row for row in result.rows}
    assert (rows[IDS[1]].outcome, rows[IDS[1]].resumed, rows[IDS[1]].attempts) == (
        "cancelled",
        True,
        2,
    )
    assert (rows[IDS[2]].outcome, rows[IDS[2]].resumed) == ("already_cancelled", True)
    assert (rows[IDS[3]].outcome, rows[IDS[3]].resumed) == ("cancelled", False)
    assert rows[IDS[0]].attempts == 1


def test_first_interrupt_finishes_rows_in_flight(monkeypatch, journal, flow, tmp_path):
    holder = {}

    async def interrupt_then_finish(key):
        holder["runner"]._on_signal()
        return RunResult(outcome="cancelled", ok=True)

    script = {IDS[1]: [(interrupt_then_finish, None)]}
    world = World(monkeypatch, journal.path, script)
    original = bulk.BulkRunner.__init__

    def keep(self, *args, **kwargs):
        original(self, *args, **kwargs)
        holder["runner"] = self

    monkeypatch.setattr(bulk.BulkRunner, "__init__", keep)
    run_id = new_run(journal, flow)
    result = play(journal, flow, run_id, tmp_path, options=BulkOptions(workers=2, quiet=True))
    assert result.status == "interrupted"
    counts = journal.counts(run_id)
    # Rows in flight finished (none left running); no new row started after the interrupt.
    assert counts["running"] == 0 and counts["done"] + counts["pending"] == 10
    assert journal.row(run_id, IDS[1]).outcome == "cancelled"
    assert 2 <= counts["done"] <= 3
    assert world.kinds()[-1] == "close_browser"


def test_second_interrupt_stops_at_once_leaving_rows_running(monkeypatch, journal, flow, tmp_path):
    holder = {}

    async def interrupt_twice(key):
        holder["runner"]._on_signal()
        holder["runner"]._on_signal()
        await asyncio.sleep(10)
        raise AssertionError("not cancelled")

    World(monkeypatch, journal.path, {IDS[0]: [(interrupt_twice, None)]})
    original = bulk.BulkRunner.__init__

    def keep(self, *args, **kwargs):
        original(self, *args, **kwargs)
        holder["runner"] = self

    monkeypatch.setattr(bulk.BulkRunner, "__init__", keep)
    run_id = new_run(journal, flow)
    result = play(journal, flow, run_id, tmp_path, options=BulkOptions(workers=2, quiet=True))
    assert result.status == "interrupted"
    assert journal.row(run_id, IDS[0]).state == "running"
    assert [row.key for row in journal.plan_resume(run_id)][0] == IDS[0]


def test_a_failure_that_comes_back_after_the_second_interrupt_is_not_recorded(
    monkeypatch, journal, flow, tmp_path
):
    """The page answers with a failure (its browser is closing) after the submit: the row
    may have been cancelled, so it stays running for resume, never failed."""
    holder = {}

    async def interrupt_twice_then_fail(key):
        holder["runner"].stop.soft = holder["runner"].stop.hard = True
        submit = flow.steps[-1]
        return RunResult(
            outcome="failed",
            ok=False,
            error="Target page, context or browser has been closed",
            error_kind="network",
            matches=[{"step": submit.name or submit.path, "line": submit.line}],
        )

    World(monkeypatch, journal.path, {IDS[0]: [(interrupt_twice_then_fail, None)]})
    original = bulk.BulkRunner.__init__

    def keep(self, *args, **kwargs):
        original(self, *args, **kwargs)
        holder["runner"] = self

    monkeypatch.setattr(bulk.BulkRunner, "__init__", keep)
    run_id = new_run(journal, flow, IDS[:2])
    result = play(journal, flow, run_id, tmp_path)
    assert result.status == "interrupted"
    row = journal.row(run_id, IDS[0])
    assert (row.state, row.attempts) == ("running", 1)
    assert journal.row(run_id, IDS[1]).state == "pending"


def test_token_bucket_spaces_acquisitions():
    now = [0.0]
    slept = []

    async def fake_sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    async def take(n):
        bucket = TokenBucket(4.0, clock=lambda: now[0], sleep=fake_sleep)
        stamps = []
        for _ in range(n):
            await bucket.acquire()
            stamps.append(now[0])
        return stamps

    stamps = asyncio.run(take(9))
    assert stamps[0] == 0.0
    assert stamps[-1] == pytest.approx(2.0)
    assert all(b - a == pytest.approx(0.25) for a, b in zip(stamps, stamps[1:], strict=False))
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_dry_run_flow_stops_after_the_guard(flow):
    dry = dry_run_flow(flow)
    kinds = [step.kind for step in dry.steps]
    guard = kinds.index("outcome")
    # A prefix of the real flow, through its first guard and only look-only steps after it.
    assert dry.steps == flow.steps[: len(dry.steps)]
    assert set(kinds[guard:]) <= guarded.LOOKING_STEPS
    assert flow.steps[len(dry.steps)].kind not in guarded.LOOKING_STEPS
    assert "cancel-submit" not in str([step.args for step in dry.steps])
    assert "would_run" in dry.success and list(dry.outcomes)[-1] == "would_run"
    assert flow.steps[-1].kind == "click" and "would_run" not in flow.outcomes


def test_reconcile_needs_this_sellers_cancellation_with_this_reason(flow):
    def result(values):
        return RunResult(outcome="already_cancelled", ok=True, values=values)

    mine = {"cancelled_by": "seller", "cancel_reason": "Pricing Error"}
    assert reconcile(flow, {"reason": "PricingError"}, result(mine)) == "cancelled"
    assert reconcile(flow, {"reason": "NoInventory"}, result(mine)) is None
    assert (
        reconcile(
            flow,
            {"reason": "PricingError"},
            result({"cancelled_by": "buyer", "cancel_reason": "PricingError"}),
        )
        is None
    )
    assert reconcile(flow, {"reason": "PricingError"}, result({})) is None
    not_cancellable = RunResult(outcome="not_cancellable", ok=False, values=mine)
    assert reconcile(flow, {"reason": "PricingError"}, not_cancellable) is None


GiB = 2**30


def test_default_workers_are_two_per_cpu_at_most_eight_and_what_memory_holds():
    assert bulk.workers_for(2, 24 * GiB) == 4
    assert bulk.workers_for(16, 24 * GiB) == 8
    assert bulk.workers_for(1.5, 24 * GiB) == 3  # a container's quota of 1.5 CPUs
    assert bulk.workers_for(3, None) == 6  # memory unknown: the CPUs alone
    # Half of what is available, less the run's own 500 MB, at 150 MB a worker.
    assert bulk.workers_for(4, 2 * GiB) == 3
    assert bulk.workers_for(4, 1 * GiB) == 1  # never fewer than one
    assert bulk.workers_for(0.5, 24 * GiB) == 1


def test_the_cpus_a_run_may_use_are_its_affinity_and_its_cgroup_quota(monkeypatch, tmp_path):
    monkeypatch.setattr(bulk.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert bulk.available_cpus(tmp_path) == 4  # no cgroup file: the affinity
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert bulk.available_cpus(tmp_path) == 4
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert bulk.available_cpus(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("800000 100000\n")
    assert bulk.available_cpus(tmp_path) == 4  # a quota above the affinity changes nothing
    monkeypatch.setattr(bulk, "available_memory", lambda: 24 * GiB)
    monkeypatch.setattr(bulk, "available_cpus", lambda: 1)
    assert bulk.default_workers() == 2


def test_available_memory_is_memavailable(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       25165824 kB\nMemAvailable:    2097152 kB\n")
    assert bulk.available_memory(meminfo) == 2 * GiB
    meminfo.write_text("MemTotal:       25165824 kB\n")
    assert bulk.available_memory(meminfo) is None
    assert bulk.available_memory(tmp_path / "missing") is None


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_shows_on_a_terminal_only():
    screen = Terminal()
    with BulkProgress(10, stream=screen) as progress:
        for ok in (True, True, False):
            progress.row_finished(ok)
        progress.row_retried()
    shown = screen.getvalue()
    assert "3/10" in shown and "1 failed" in shown and "1 retry" in shown
    pipe = io.StringIO()
    with BulkProgress(10, stream=pipe) as progress:
        progress.row_finished(False)
    assert pipe.getvalue() == ""
    quiet = Terminal()
    with BulkProgress(10, stream=quiet, quiet=True) as progress:
        progress.row_finished(True)
    assert quiet.getvalue() == ""


def test_progress_speaks_chinese_with_the_summarys_units():
    from agent.i18n import using

    screen = Terminal()
    with using("zh-CN"), BulkProgress(10, stream=screen) as progress:
        for ok in (True, False, True):
            progress.row_finished(ok)
            time.sleep(0.05)
        progress.row_retried()
    shown = screen.getvalue()
    assert "1 个失败、1 次重试" in shown, shown
    assert re.search(r"每秒 \d+\.\d 行", shown) and "/s" not in shown, shown


def test_resume_with_retry_failed_plays_failed_rows_again(monkeypatch, journal, flow, tmp_path):
    run_id = new_run(journal, flow, IDS[:3])
    for key in IDS[:2]:
        journal.mark_running(run_id, key)
    journal.mark_done(run_id, IDS[0], outcome="cancelled", ok=True)
    submit = flow.steps[-1]
    journal.mark_failed(
        run_id,
        IDS[1],
        error="HTTP 500",
        error_kind="http_5xx",
        matches=[{"step": submit.name, "line": submit.line}],
    )
    script = {
        IDS[1]: [("already_cancelled", None)],
        ("values", IDS[1]): {"cancelled_by": "seller", "cancel_reason": "NoInventory"},
    }
    world = World(monkeypatch, journal.path, script)
    play(journal, flow, run_id, tmp_path)  # a plain resume leaves failed rows alone
    assert [entry[1] for entry in world.log if entry[0] == "run_flow"] == [IDS[2]]
    options = BulkOptions(workers=1, retry_failed=True, quiet=True)
    play(journal, flow, run_id, tmp_path, options=options)
    assert [entry[1] for entry in world.log if entry[0] == "run_flow"] == [IDS[2], IDS[1]]
    row = journal.row(run_id, IDS[1])
    assert (row.state, row.outcome, row.values["reconciled_from"]) == (
        "done",
        "cancelled",
        "already_cancelled",
    )


def test_sign_in_retries_transient_trouble_but_never_a_rejection(
    monkeypatch, journal, flow, tmp_path
):
    from agent.errors import SessionError

    world = World(monkeypatch, journal.path)
    attempts = []

    def failing_sign_in(kinds):
        async def ensure_session(browser, *, portal, secrets, run_dir):
            attempts.append(portal)
            if len(attempts) <= len(kinds):
                error = SessionError("signing in failed")
                error.error_kind = kinds[len(attempts) - 1]
                raise error
            return Path("/state.json")

        return ensure_session

    world.backend.ensure_session = failing_sign_in(["http_429", "http_5xx"])
    monkeypatch.setattr(bulk.retry_rules, "backoff_delay", lambda attempt, policy: -0.999)
    run_id = new_run(journal, flow, IDS[:1])
    assert play(journal, flow, run_id, tmp_path).status == "finished"
    assert len(attempts) == 3
    attempts.clear()
    world.backend.ensure_session = failing_sign_in(["rejected"])
    run_id = new_run(journal, flow, IDS[1:2])
    with pytest.raises(SessionError):
        play(journal, flow, run_id, tmp_path)
    assert len(attempts) == 1
    assert journal.run(run_id).status == "interrupted"
    assert journal.row(run_id, IDS[1]).state == "pending"


def test_an_attempt_past_the_guard_that_meets_already_cancelled_is_reconciled(flow):
    submit = flow.steps[-1]
    result = RunResult(
        outcome="already_cancelled",
        ok=True,
        values={"cancelled_by": "seller", "cancel_reason": "NoInventory"},
        matches=[{"step": submit.name, "line": submit.line}],
    )
    assert bulk.passed_guard(flow, result)
    assert not bulk.passed_guard(flow, RunResult(outcome="already_cancelled", ok=True))


@pytest.fixture
def quick_probes(monkeypatch):
    monkeypatch.setattr(bulk, "PROBE_FIRST_DELAY", 0.01)
    monkeypatch.setattr(bulk, "PROBE_MAX_DELAY", 0.02)


ONE_ATTEMPT = RetryPolicy(attempts=1, base=0.001, cap=0.002)
DOWN = ProbeAnswer(False, "connection refused")


def test_an_outage_pauses_every_worker_and_costs_no_row_an_attempt(
    monkeypatch, journal, flow, tmp_path, quick_probes
):
    # One attempt per row: any failure counted against a row would fail it.
    script = {IDS[1]: [("failed", "network-early"), ("cancelled", None)]}
    world = World(monkeypatch, journal.path, script)
    world.probe_answers = [DOWN, DOWN, DOWN, ProbeAnswer(True, "HTTP 302")]
    run_id = new_run(journal, flow, IDS[:6])
    options = BulkOptions(workers=2, retry=ONE_ATTEMPT, quiet=True)
    said = []
    result = play(journal, flow, run_id, tmp_path, options=options, on_event=said.append)
    assert result.status == "finished" and result.exit_code == 0
    assert [row.outcome for row in result.rows] == ["cancelled"] * 6
    # The try the outage cut short is no attempt: the row was tried once, replayed once.
    row = journal.row(run_id, IDS[1])
    assert (row.attempts, row.replays) == (1, 1)
    assert all((row.attempts, row.replays) == (1, 0) for row in result.rows if row.key != IDS[1])
    # No row started while the portal was away: the probes come between two flow runs.
    kinds = world.kinds()
    first, last = kinds.index("probe"), len(kinds) - 1 - kinds[::-1].index("probe")
    assert "run_flow" not in kinds[first:last] and world.probes == 4
    assert said[0].startswith("portal unreachable since ")
    assert "(connection refused), retrying every 0.02 s at most; Ctrl-C to stop" in said[0]
    assert said[1].startswith("portal answers again after ")
    outages = journal.events(run_id, ["outage"])
    assert len(outages) == 1 and outages[0].ended_at is not None
    assert outages[0].reason == "portal unreachable (connection refused)"
    log = (tmp_path / "runs" / "run.log").read_text()
    assert "portal unreachable since" in log and "every worker paused" in log
    assert f"{IDS[1]}: network while the portal was unreachable" in log
    assert "portal answers again" in log
    # The log counts as the journal does: one attempt, one replay.
    assert (
        f"{IDS[1]}: cancelled (1 try played again for the portal's trouble, not counted as "
        "attempts)"
    ) in log


def test_a_portal_gone_longer_than_max_outage_ends_the_run_resumable(
    monkeypatch, journal, flow, tmp_path, quick_probes
):
    script = {
        IDS[0]: [("failed", "network-early")],
        IDS[1]: [("failed", "timeout")],  # past the guard: it may have submitted
    }
    world = World(monkeypatch, journal.path, script)
    world.probe_answers = [DOWN]
    run_id = new_run(journal, flow, IDS[:5])
    options = BulkOptions(workers=2, retry=ONE_ATTEMPT, quiet=True, max_outage=0.1)
    said = []
    result = play(journal, flow, run_id, tmp_path, options=options, on_event=said.append)
    assert result.status == "interrupted" and journal.run(run_id).status == "interrupted"
    states = {row.key: row.state for row in journal.rows(run_id)}
    # Nothing failed. The row that cannot have acted is pending again; the one that may have
    # stays running, so the resume checks it through the guard.
    assert states == {
        IDS[0]: "pending",
        IDS[1]: "running",
        IDS[2]: "pending",
        IDS[3]: "pending",
        IDS[4]: "pending",
    }
    assert any(
        "(--max-outage 0.1 s): stopping; resume the run when it is back" in m for m in said
    ), said
    (outage,) = journal.events(run_id, ["outage"])
    assert outage.ended_at is not None and "the run stopped (--max-outage)" in outage.reason
    # The portal is back: the resume plays the rest, the running row through its guard.
    world.script = {}
    world.probe_answers = [ProbeAnswer(True, "HTTP 302")]
    again = play(journal, flow, run_id, tmp_path, options=BulkOptions(workers=2, quiet=True))
    assert again.status == "finished"
    assert {row.state for row in again.rows} == {"done"}
    assert journal.row(run_id, IDS[1]).resumed
    # The tries the outage cut short were no attempts: each of the two rows it caught was
    # tried once, by the resume, and replayed once.
    counted = {row.key: (row.attempts, row.replays) for row in journal.rows(run_id)}
    assert counted[IDS[0]] == (1, 1) and counted[IDS[1]] == (1, 1)
    assert {counted[key] for key in IDS[2:5]} == {(1, 0)}


def test_a_failure_the_portal_answers_to_stays_the_rows_own(
    monkeypatch, journal, flow, tmp_path, quick_probes
):
    script = {IDS[0]: [("failed", "timeout")] * 3}
    world = World(monkeypatch, journal.path, script)
    run_id = new_run(journal, flow, IDS[:2])
    result = play(journal, flow, run_id, tmp_path)
    row = journal.row(run_id, IDS[0])
    assert (row.state, row.attempts, row.error_kind) == ("failed", 3, "timeout")
    assert world.probes == 3 and result.status == "finished"
    assert journal.events(run_id, ["outage"]) == []


def test_a_burst_of_429s_slows_the_run_and_fails_no_row(monkeypatch, journal, flow, tmp_path):
    script = {key: [("failed", "http_429")] * 3 + [("cancelled", None)] for key in IDS[:3]}
    world = World(monkeypatch, journal.path, script)
    run_id = new_run(journal, flow, IDS[:4])
    # A high limit keeps the halved pace quick here; test_outage.py checks the pace itself.
    options = BulkOptions(workers=2, retry=ONE_ATTEMPT, quiet=True, rate=200)
    said = []
    result = play(journal, flow, run_id, tmp_path, options=options, on_event=said.append)
    assert [row.outcome for row in result.rows] == ["cancelled"] * 4
    # Throttled tries are no attempts: each row was tried once, and replayed three times.
    assert [(row.attempts, row.replays) for row in result.rows] == [(1, 3)] * 3 + [(1, 0)]
    assert world.probes == 0  # a 429 is an answer: no outage
    events = journal.events(run_id, ["throttled"])
    assert events and all(event.ended_at for event in events)
    assert events[0].reason == "throttled: HTTP 429, Retry-After 0.01 s"
    assert said[0].startswith("portal throttling (HTTP 429, Retry-After 0.01 s): every worker")


def test_the_run_log_is_private_and_redacted(monkeypatch, journal, flow, tmp_path):
    async def leaky(key):
        return RunResult(
            outcome="failed",
            ok=False,
            error=f"bad answer for {SECRETS.password}",
            error_kind="step",
        )

    World(monkeypatch, journal.path, {IDS[0]: [(leaky, None)]})
    run_id = new_run(journal, flow, IDS[:2])
    play(journal, flow, run_id, tmp_path)
    path = tmp_path / "runs" / "run.log"
    assert path.stat().st_mode & 0o777 == 0o600
    assert journal.run(run_id).options["log"] == str(path)
    text = path.read_text()
    assert SECRETS.password not in text and "bad answer for ***" in text
    lines = text.splitlines()
    assert f"run {run_id} started: 2 rows to play" in lines[0]
    assert f"{IDS[1]}: cancelled" in text
    assert lines[-1].endswith(f"run {run_id} finished: 1 done, 1 failed")


def test_the_run_log_says_signing_in_again_failed_when_it_did(monkeypatch, journal, flow, tmp_path):
    tries = []

    async def expired(key):
        tries.append(key)
        if len(tries) == 1:
            return RunResult(
                outcome="failed",
                ok=False,
                error="signing in again failed: wrong code",
                error_kind="session",
                sign_ins=1,
            )
        return RunResult(outcome="cancelled", ok=True, sign_ins=1)

    World(monkeypatch, journal.path, {IDS[0]: [(expired, None)]})
    run_id = new_run(journal, flow, IDS[:1])
    play(journal, flow, run_id, tmp_path)
    lines = (tmp_path / "runs" / "run.log").read_text().splitlines()
    said = [line.split("  ", 1)[1] for line in lines if "session had ended" in line]
    assert said == [
        f"{IDS[0]}: the session had ended; signing in again did not get the run going again",
        f"{IDS[0]}: the session had ended; signed in again",
    ]


def test_the_run_log_and_a_resume_state_the_settings_alike_with_plurals_and_one_duration(
    monkeypatch, journal, flow, tmp_path
):
    from agent.i18n import using

    World(monkeypatch, journal.path, {})
    run_id = new_run(journal, flow, IDS[:1])
    one = RetryPolicy(attempts=1, base=0.001, cap=0.002)
    options = BulkOptions(workers=1, retry=one, quiet=True, rate=1.0, max_outage=900)
    with using("zh-CN"):  # the reader's language; the log stays English
        play(journal, flow, run_id, tmp_path, options=options)
        assert options.summary() == "1 个并发，每行尝试 1 次，每秒最多 1 行，最长中断 15 分 00 秒"
    english = "1 worker, 1 attempt per row, at most 1 row/s, max outage 15 min 00 s"
    with using("en"):
        assert options.summary() == english
    first = (tmp_path / "runs" / "run.log").read_text().splitlines()[0]
    assert first.endswith(
        f"run {run_id} started: 1 row to play, flow {flow.name}, portal http://127.0.0.1:1, "
        + english
    ), first


def test_a_resumed_run_keeps_its_settings_unless_given_again():
    options = BulkOptions(workers=8, rate=5.0, canary=None, max_outage=900)
    stored = {"workers": 2, "rate": None, "attempts": 6, "canary": 3, "max_outage": 60.0}
    kept = options.with_stored(stored, given={"rate"})
    assert (kept.workers, kept.rate, kept.retry.attempts, kept.max_outage) == (2, 5.0, 6, 60.0)
    assert kept.canary is None
    assert options.with_stored(stored, given={"workers", "attempts"}).workers == 8
    assert options.with_stored({}, given=()).workers == 8
