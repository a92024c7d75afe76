import sqlite3

import pytest

from agent import i18n
from agent.bulk.journal import Journal, JournalError, new_run_id, plan_resume


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "journal.db", redact=lambda text: text.replace("hunter2", "***")) as j:
        yield j


def make_run(journal, keys=("a", "b", "c")):
    return journal.create_run(
        flow="cancel-order",
        params={"reason": "NoInventory"},
        portal="http://127.0.0.1:1",
        rows=[(key, {"order_id": key}) for key in keys],
        options={"workers": 2},
    )


def test_run_id_shape():
    run_id = new_run_id()
    date, clock, tail = run_id.split("-")
    assert len(date) == 8 and len(clock) == 6 and len(tail) == 4


def test_new_run_has_every_row_pending_in_order(journal):
    run_id = make_run(journal)
    rows = journal.rows(run_id)
    assert [(row.key, row.seq, row.state) for row in rows] == [
        ("a", 1, "pending"),
        ("b", 2, "pending"),
        ("c", 3, "pending"),
    ]
    assert journal.run(run_id).params == {"reason": "NoInventory"}
    assert journal.last_run_id() == run_id


def test_transitions_and_results(journal):
    run_id = make_run(journal)
    journal.mark_running(run_id, "a")
    journal.mark_done(run_id, "a", outcome="cancelled", ok=True, values={"x": 1})
    journal.mark_running(run_id, "b")
    journal.note_retry(run_id, "b", "HTTP 500", "http_5xx")
    journal.mark_failed(run_id, "b", error="boom", error_kind="step", evidence=["/tmp/s.png"])
    journal.mark_skipped(run_id, "c", "canary declined")
    a, b, c = journal.rows(run_id)
    assert (a.state, a.outcome, a.ok, a.values, a.attempts) == (
        "done",
        "cancelled",
        True,
        {"x": 1},
        1,
    )
    assert (b.state, b.ok, b.error, b.error_kind, b.attempts) == (
        "failed",
        False,
        "boom",
        "step",
        2,
    )
    assert b.evidence == ["/tmp/s.png"]
    assert c.state == "skipped"
    assert journal.counts(run_id)["done"] == 1


def test_a_done_row_never_runs_again(journal):
    run_id = make_run(journal)
    journal.mark_running(run_id, "a")
    journal.mark_done(run_id, "a", outcome="cancelled", ok=True)
    with pytest.raises(JournalError, match="cannot go from done to running"):
        journal.mark_running(run_id, "a")
    with pytest.raises(JournalError, match="cannot go from done to running"):
        journal.mark_running(run_id, "a", reclaim=True)
    with pytest.raises(JournalError):
        journal.mark_failed(run_id, "a", error="x", error_kind="step")
    assert journal.row(run_id, "a").state == "done"


def test_illegal_transitions_are_refused(journal):
    run_id = make_run(journal)
    with pytest.raises(JournalError, match="from pending to done"):
        journal.mark_done(run_id, "a", outcome="cancelled", ok=True)
    with pytest.raises(JournalError, match="from pending to failed"):
        journal.mark_failed(run_id, "a", error="x", error_kind=None)
    with pytest.raises(JournalError, match="cannot retry a pending row"):
        journal.note_retry(run_id, "a", "x", "timeout")
    journal.mark_running(run_id, "a")
    with pytest.raises(JournalError, match="from running to running"):
        journal.mark_running(run_id, "a")
    with pytest.raises(JournalError, match="from running to skipped"):
        journal.mark_skipped(run_id, "a", "no")
    with pytest.raises(JournalError, match="no row"):
        journal.mark_running(run_id, "zzz")


def test_running_is_committed_before_the_call_returns(journal, tmp_path):
    run_id = make_run(journal)
    journal.mark_running(run_id, "a")
    # A second connection (another process after a crash) sees the claim.
    other = sqlite3.connect(tmp_path / "journal.db")
    state = other.execute("SELECT state FROM rows WHERE key = 'a'").fetchone()[0]
    other.close()
    assert state == "running"


def test_plan_resume_returns_pending_and_running_never_done(journal):
    run_id = make_run(journal, keys=["a", "b", "c", "d", "e"])
    journal.mark_running(run_id, "a")
    journal.mark_done(run_id, "a", outcome="cancelled", ok=True)
    journal.mark_running(run_id, "b")  # in flight when the run died
    journal.mark_running(run_id, "c")
    journal.mark_failed(run_id, "c", error="x", error_kind="step")
    journal.mark_skipped(run_id, "e", "declined")
    assert [row.key for row in plan_resume(journal, run_id)] == ["b", "d"]
    assert [row.key for row in journal.plan_resume(run_id, include_failed=True)] == ["b", "c", "d"]


def test_reclaiming_a_running_row_flags_it_resumed(journal):
    run_id = make_run(journal)
    journal.mark_running(run_id, "a")
    journal.mark_running(run_id, "a", reclaim=True)
    row = journal.row(run_id, "a")
    assert row.resumed and row.attempts == 2
    with pytest.raises(JournalError):
        journal.mark_running(run_id, "b", reclaim=True)  # pending rows are claimed, not reclaimed
    journal.mark_done(run_id, "a", outcome="already_cancelled", ok=True)
    assert journal.row(run_id, "a").resumed


def test_secrets_are_redacted_before_they_are_stored(journal, tmp_path):
    run_id = journal.create_run(
        flow="f", params={"token": "hunter2"}, portal="p", rows=[("k", {"v": "hunter2"})]
    )
    journal.mark_running(run_id, "k")
    journal.mark_failed(run_id, "k", error="password hunter2 rejected", error_kind="session")
    raw = (tmp_path / "journal.db").read_bytes()
    wal = tmp_path / "journal.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert b"hunter2" not in raw
    assert journal.row(run_id, "k").error == "password *** rejected"


def test_unknown_run_and_last(journal):
    with pytest.raises(JournalError, match="no runs yet"):
        journal.resolve_run_id("last")
    with pytest.raises(JournalError, match="no run 'nope'"):
        journal.run("nope")
    first = make_run(journal)
    second = make_run(journal)
    assert journal.resolve_run_id("last") == second != first


def test_run_status_and_options(journal):
    run_id = make_run(journal)
    journal.set_run_status(run_id, "interrupted")
    journal.update_run_options(run_id, rate_measured_after=1.5)
    run = journal.run(run_id)
    assert run.status == "interrupted" and run.finished_at
    assert run.options == {"workers": 2, "rate_measured_after": 1.5}
    with pytest.raises(JournalError):
        journal.set_run_status(run_id, "weird")


def test_default_path_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with Journal() as journal:
        assert journal.path == tmp_path / "data" / "seller-agent" / "journal.db"
        assert journal.path.stat().st_mode & 0o777 == 0o600


def _set_times(journal, table, key_column, key, **times):
    sets = ", ".join(f"{name} = ?" for name in times)
    journal.db.execute(f"UPDATE {table} SET {sets} WHERE {key_column} = ?", (*times.values(), key))


def test_run_events_record_pauses_with_their_reason(journal):
    run_id = make_run(journal)
    event = journal.open_event(run_id, "outage", "portal unreachable (hunter2 refused)")
    assert journal.events(run_id)[0].ended_at is None
    journal.close_event(event)
    first_end = journal.events(run_id)[0].ended_at
    journal.close_event(event, "closed twice")  # the first end stands; a reason replaces
    (found,) = journal.events(run_id, ["outage"])
    assert found.ended_at == first_end and found.reason == "closed twice"
    assert journal.events(run_id, ["throttled"]) == []
    other = journal.open_event(run_id, "throttled", "throttled: HTTP 429 from hunter2")
    assert journal.events(run_id)[-1].reason == "throttled: HTTP 429 from ***"
    assert other != event
    with pytest.raises(JournalError, match="unknown run event 'nap'"):
        journal.open_event(run_id, "nap")


def test_a_runs_time_is_the_sum_of_its_active_stretches(journal):
    run_id = make_run(journal)
    assert journal.active_seconds(run_id) is None  # no stretch recorded: unknown
    first = journal.open_event(run_id, "active")
    journal.close_event(first)
    _set_times(
        journal, "run_events", "id", first,
        started_at="2026-11-26T12:00:00.000000Z", ended_at="2026-11-26T12:01:00.000000Z",
    )  # fmt: skip
    # A stretch killed with SIGKILL has no end: it ends at the last thing it recorded.
    second = journal.open_event(run_id, "active")
    _set_times(journal, "run_events", "id", second, started_at="2026-11-26T15:00:00.000000Z")
    journal.mark_running(run_id, "a")
    journal.mark_done(run_id, "a", outcome="cancelled", ok=True)
    _set_times(
        journal, "rows", "key", "a",
        started_at="2026-11-26T15:00:05.000000Z", finished_at="2026-11-26T15:00:20.000000Z",
    )  # fmt: skip
    third = journal.open_event(run_id, "active")
    journal.close_event(third)
    _set_times(
        journal, "run_events", "id", third,
        started_at="2026-11-26T18:00:00.000000Z", ended_at="2026-11-26T18:00:10.000000Z",
    )  # fmt: skip
    # 60 s + 20 s + 10 s; the hours between the stretches do not count.
    assert journal.active_seconds(run_id) == pytest.approx(90)


def test_release_gives_a_running_row_back_as_pending(journal):
    run_id = make_run(journal)
    journal.mark_running(run_id, "a")
    journal.release(run_id, "a")
    row = journal.row(run_id, "a")
    assert (row.state, row.attempts) == ("pending", 1)
    assert [row.key for row in plan_resume(journal, run_id)] == ["a", "b", "c"]
    with pytest.raises(JournalError, match="cannot go from pending to pending"):
        journal.release(run_id, "a")


def test_a_try_the_portal_cut_short_is_a_replay_not_an_attempt(journal):
    run_id = make_run(journal)
    journal.mark_running(run_id, "a")
    # Played again at once (the portal answers again): still the row's first attempt.
    journal.note_replay(run_id, "a", "net::ERR_CONNECTION_REFUSED", "network")
    journal.note_replay(run_id, "a", "HTTP 429", "http_429")
    row = journal.row(run_id, "a")
    assert (row.state, row.attempts, row.replays, row.error_kind) == ("running", 1, 2, "http_429")
    journal.mark_done(run_id, "a", outcome="cancelled", ok=True)
    assert (journal.row(run_id, "a").attempts, journal.row(run_id, "a").replays) == (1, 2)
    # Left for a resume (the run stopped during the outage): the resume's try is the attempt.
    journal.mark_running(run_id, "b")
    journal.note_replay(run_id, "b", "net::ERR_CONNECTION_REFUSED", "network", again=False)
    journal.release(run_id, "b")
    journal.mark_running(run_id, "b")
    row = journal.row(run_id, "b")
    assert (row.state, row.attempts, row.replays) == ("running", 1, 1)
    with pytest.raises(JournalError, match="cannot replay a pending row"):
        journal.note_replay(run_id, "c", "x", "network")


def test_a_journal_from_before_replays_gets_the_column(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE runs (id TEXT PRIMARY KEY, flow TEXT NOT NULL, params TEXT NOT NULL,
                portal TEXT NOT NULL, created_at TEXT NOT NULL, finished_at TEXT,
                status TEXT NOT NULL, options TEXT NOT NULL);
            CREATE TABLE rows (run_id TEXT NOT NULL REFERENCES runs(id), key TEXT NOT NULL,
                seq INTEGER NOT NULL, params TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT,
                ok INTEGER, result_values TEXT NOT NULL DEFAULT '{}',
                attempts INTEGER NOT NULL DEFAULT 0, error TEXT, error_kind TEXT,
                evidence TEXT NOT NULL DEFAULT '[]', matches TEXT NOT NULL DEFAULT '[]',
                resumed INTEGER NOT NULL DEFAULT 0, started_at TEXT, finished_at TEXT,
                PRIMARY KEY (run_id, key));
            INSERT INTO runs VALUES ('r', 'f', '{}', 'p', '2026-01-01T00:00:00Z', NULL,
                'interrupted', '{}');
            INSERT INTO rows (run_id, key, seq, params, state, attempts, error)
                VALUES ('r', 'a', 1, '{}', 'running', 2, 'step click (line 5): gone');
            """
        )
    db.close()
    with Journal(path) as journal:
        row = journal.row("r", "a")
        assert (row.attempts, row.replays) == (2, 0)
        # Written before errors kept their message id: told in English, in any language.
        assert row.error_told is None
        with i18n.using("zh-CN"):
            assert row.error_shown == "step click (line 5): gone"
        journal.note_replay("r", "a", "x", "network")
        assert journal.row("r", "a").replays == 1
    with Journal(path) as journal:  # opened again: the column is there once
        assert journal.row("r", "a").replays == 1


def test_a_run_is_played_by_one_live_process_at_a_time(journal):
    import socket
    import subprocess
    import sys

    from agent.bulk.journal import RunBusy, owner_tag

    run_id = make_run(journal)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        journal.db.execute(
            "INSERT INTO run_events (run_id, kind, started_at, owner)"
            " VALUES (?, 'active', '2026-11-30T10:00:00Z', ?)",
            (run_id, owner_tag(other.pid)),
        )
        with pytest.raises(RunBusy) as busy:
            journal.claim_run(run_id)
        assert str(busy.value) == (
            f"run {run_id} is being played by another process (pid {other.pid}, since "
            "2026-11-30T10:00:00Z); wait for it to end, or stop it and resume"
        )
    finally:
        other.kill()
        other.wait()
    # Gone (killed, crashed): its stretch left open does not stand in the way.
    mine = journal.claim_run(run_id)
    with pytest.raises(RunBusy):  # nor may this process play it twice at once
        journal.claim_run(run_id)
    journal.close_event(mine)
    journal.close_event(journal.claim_run(run_id))
    # A pid used again by a later process is not the owner; another machine cannot be asked.
    stale = owner_tag().replace(":", ":1", 1)
    elsewhere = owner_tag().rsplit("@", 1)[0] + "@not-" + socket.gethostname()
    for owner in (stale, elsewhere):
        journal.db.execute(
            "INSERT INTO run_events (run_id, kind, started_at, owner)"
            " VALUES (?, 'active', '2026-11-30T11:00:00Z', ?)",
            (run_id, owner),
        )
    journal.close_event(journal.claim_run(run_id))


def test_a_told_error_keeps_its_message_id_and_values_beside_the_english(journal):
    run_id = make_run(journal)
    journal.mark_running(run_id, "a")
    step = i18n.told(i18n.N_("{step} (line {line})"), step="fill", line=4)
    error = i18n.told(
        i18n.N_("step {step}: {why}"), step=step, why="typed hunter2 into a closed page"
    )
    journal.note_retry(run_id, "a", error, "timeout")
    row = journal.row(run_id, "a")
    assert row.error == "step fill (line 4): typed *** into a closed page"
    assert row.error_told == {
        "message": "step {step}: {why}",
        "values": {
            "step": {"message": "{step} (line {line})", "values": {"step": "fill", "line": "4"}},
            "why": "typed *** into a closed page",
        },
    }
    with i18n.using("zh-CN"):
        assert row.error_shown == "步骤 fill（第 4 行）: typed *** into a closed page"
    # An error in English only replaces it whole: no message id of an earlier error is left.
    journal.mark_failed(
        run_id, "a", error="Target page, context or browser has been closed", error_kind="network"
    )
    row = journal.row(run_id, "a")
    assert (row.error, row.error_told) == ("Target page, context or browser has been closed", None)
    with i18n.using("zh-CN"):
        assert row.error_shown == row.error


@pytest.mark.usefixtures("isolated_home")
def test_a_file_that_is_no_journal_is_one_line_and_left_as_it_was(tmp_path):
    from click.testing import CliRunner

    from agent.cli import cli

    junk = tmp_path / "notes.db"
    junk.write_text("not a database\n")
    other = tmp_path / "portal.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE orders (id TEXT)")
    conn.close()
    before = other.read_bytes()
    rows = tmp_path / "rows.csv"
    rows.write_text("order_id\n112-0000001-0000001\n")
    flow = tmp_path / "page.yaml"
    flow.write_text(
        "name: page\nparams:\n  order_id: {type: string, required: true}\n"
        "steps:\n  - goto: /orders-v3/order/{{ order_id }}\n"
    )
    for path, why in [(junk, "file is not a database"), (other, "a database of other tables")]:
        commands = [
            ["report", "--journal", str(path)],
            ["report", "--merge", str(path), str(path)],
            ["run", str(flow), "--rows", str(rows), "--journal", str(path)],
            ["cancel", "112-0000001-0000001", "--journal", str(path), "--yes"],
        ]
        for command in commands:
            result = CliRunner().invoke(cli, command, catch_exceptions=False)
            assert result.exit_code == 2, (command, result.output)
            assert result.output.strip().splitlines()[-1] == (
                f"Error: {path}: not a run journal ({why})"
            ), command
    assert other.read_bytes() == before
    with sqlite3.connect(other) as conn:
        assert [name for (name,) in conn.execute("SELECT name FROM sqlite_master")] == ["orders"]
    conn.close()
