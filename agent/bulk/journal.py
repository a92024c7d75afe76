"""The run ledger: one SQLite file (WAL) recording every bulk run and the state of each row.

A row moves pending -> running -> done | failed (or pending -> skipped). Every transition is
one committed UPDATE guarded by the states it may leave, so a crash at any instant leaves a
journal that tells exactly which rows may have touched the portal (running) and which did
not (pending). Nothing here knows about browsers; secrets are redacted before they are stored.
"""

from __future__ import annotations

import json
import os
import secrets as _random
import socket
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.errors import UserError
from agent.i18n import N_, retell, told, told_map, told_record
from agent.play.home import data_dir

ROW_STATES = ("pending", "running", "done", "failed", "skipped")
RUN_STATUSES = ("running", "finished", "interrupted", "stopped", "paused")

# Which states a row may leave for each target state. Nothing ever leaves "done": a row that
# cancelled an order must never be run again by this run.
_ALLOWED_FROM = {
    "running": ("pending", "failed"),
    "done": ("running",),
    "failed": ("running",),
    "skipped": ("pending",),
    "pending": ("running",),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    flow TEXT NOT NULL,
    params TEXT NOT NULL,
    portal TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    options TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    run_id TEXT NOT NULL REFERENCES runs(id),
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    ok INTEGER,
    result_values TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    replays INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    error_told TEXT,
    error_kind TEXT,
    evidence TEXT NOT NULL DEFAULT '[]',
    matches TEXT NOT NULL DEFAULT '[]',
    resumed INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS rows_by_state ON rows (run_id, state, seq);
CREATE TABLE IF NOT EXISTS run_events (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id),
    kind TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS run_events_by_run ON run_events (run_id, started_at);
"""

# Columns added since the first journals, by table: an older journal gets them when opened.
_ADDED_COLUMNS = {
    # error_told: the error's message id and values (JSON, agent.i18n.told_record) when the
    # error was told in words of the tool's own, so a report tells it in its reader's language.
    "rows": {"replays": "INTEGER NOT NULL DEFAULT 0", "error_told": "TEXT"},
    # Which process plays the run in an "active" stretch ("pid:start@host", see owner_tag).
    "run_events": {"owner": "TEXT"},
}

# Kinds of run event: "active" is one stretch of the run being played (from a start or a
# resume to its end); the others are pauses within it.
EVENT_KINDS = ("active", "outage", "throttled")


@dataclass
class RunEvent:
    id: int
    run_id: str
    kind: str
    started_at: str
    ended_at: str | None  # None: still going, or the process died during it
    reason: str | None

    @property
    def seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return seconds_between(self.started_at, self.ended_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "reason": self.reason,
        }


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds_between(start: str, end: str) -> float:
    return (parse_iso(end) - parse_iso(start)).total_seconds()


class JournalError(UserError):
    """A transition the journal refuses (e.g. a done row asked to run again), or no such run."""


class RunBusy(JournalError):
    """The run is being played by another process that is still alive."""


def _process_start(pid: int) -> str | None:
    """When the process started (clock ticks since boot, from /proc), to tell it from a later
    process given the same pid; None where /proc cannot say."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_tag(pid: int | None = None) -> str:
    """This process as the owner of a run's active stretch: "pid:start@host"."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_process_start(pid) or ''}@{socket.gethostname()}"


def owner_alive(owner: str) -> bool:
    """Whether the process an owner tag names still runs (False for one of another machine,
    which cannot be asked)."""
    try:
        process, host = owner.rsplit("@", 1)
        pid_text, start = process.split(":", 1)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    return not start or _process_start(pid) == start


def default_journal_path() -> Path:
    return data_dir() / "journal.db"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_run_id(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{_random.token_hex(2)}"


@dataclass
class RunRecord:
    id: str
    flow: str
    params: dict[str, Any]
    portal: str
    created_at: str
    finished_at: str | None
    status: str
    options: dict[str, Any]


@dataclass
class RowRecord:
    run_id: str
    key: str
    seq: int
    params: dict[str, Any]
    state: str
    outcome: str | None = None
    ok: bool | None = None
    values: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0  # the row's own tries (a try the portal's trouble cut short is none)
    # Tries played again because of the portal as a whole (unreachable, or throttling): no
    # attempts of the row's.
    replays: int = 0
    error: str | None = None  # in English, as every log keeps it
    error_kind: str | None = None
    evidence: list[str] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    resumed: bool = False
    started_at: str | None = None
    finished_at: str | None = None
    # The error's message id and values (agent.i18n.told_record), None for an error told in
    # English only (Playwright's own, or one written by an older version).
    error_told: dict[str, Any] | None = None

    @property
    def error_shown(self) -> str | None:
        """The error in the language in force, when it can be told in it; else the English."""
        return retell(self.error_told, self.error)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "seq": self.seq,
            "params": self.params,
            "state": self.state,
            "outcome": self.outcome,
            "ok": self.ok,
            "values": self.values,
            "attempts": self.attempts,
            "replays": self.replays,
            "error": self.error,
            "error_kind": self.error_kind,
            "error_told": self.error_told,
            "evidence": self.evidence,
            "matches": self.matches,
            "resumed": self.resumed,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def _no_redaction(text: str) -> str:
    return text


class Journal:
    """One journal file. Autocommit: each method's write is durable when it returns."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else default_journal_path()
        from agent.play.browser import private_dir

        private_dir(self.path.parent)
        self.redact = redact or _no_redaction
        # isolation_level=None: no implicit transactions, every statement commits on its own.
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            foreign = self._foreign()
            if not foreign:
                self._open()
        except sqlite3.DatabaseError as error:
            self.db.close()
            raise JournalError(
                told(N_("{file}: not a run journal ({why})"), file=self.path, why=str(error))
            ) from None
        if foreign:
            # Another program's database (the portal's, say): adding the journal's tables to it
            # would change a file the user only named.
            self.db.close()
            raise JournalError(
                told(N_("{file}: not a run journal (a database of other tables)"), file=self.path)
            )
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass

    def _foreign(self) -> bool:
        """Whether the file is a database with tables but not the journal's."""
        tables = {
            name
            for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        return bool(tables) and "runs" not in tables

    def _open(self) -> None:
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a transition survives power loss, not just a killed process. The cost is one
        # fsync per transition, small next to a browser round trip.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        self._add_columns()

    def _add_columns(self) -> None:
        for table, columns in _ADDED_COLUMNS.items():
            for name, kind in columns.items():
                if name in self._columns(table):
                    continue
                try:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError:
                    # Another process opening the same journal added it first.
                    if name not in self._columns(table):
                        raise

    def _columns(self, table: str) -> set[str]:
        return {found["name"] for found in self.db.execute(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _json(self, value: Any) -> str:
        return self.redact(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))

    def _text(self, value: str | None) -> str | None:
        return None if value is None else self.redact(value)

    def _told(self, error: str | None) -> str | None:
        """An error's message id and values as JSON (secrets masked in each value), when it
        was told (agent.i18n.told); None otherwise."""
        record = told_record(told_map(error, self.redact)) if error is not None else None
        return None if record is None else self._json(record)

    # Runs

    def create_run(
        self,
        *,
        flow: str,
        params: Mapping[str, Any],
        portal: str,
        rows: Iterable[tuple[str, Mapping[str, Any]]],
        options: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record a run and all its rows as pending, in one transaction (all or nothing)."""
        run_id = run_id or new_run_id()
        with self._transaction():
            self.db.execute(
                "INSERT INTO runs (id, flow, params, portal, created_at, status, options)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?)",
                (
                    run_id,
                    flow,
                    self._json(dict(params)),
                    portal,
                    now_iso(),
                    self._json(dict(options or {})),
                ),
            )
            self.db.executemany(
                "INSERT INTO rows (run_id, key, seq, params, state) VALUES (?, ?, ?, ?, 'pending')",
                [
                    (run_id, key, seq, self._json(dict(row_params)))
                    for seq, (key, row_params) in enumerate(rows, start=1)
                ],
            )
        return run_id

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def run(self, run_id: str) -> RunRecord:
        found = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if found is None:
            raise JournalError(told(N_("no run {run} in {path}"), run=repr(run_id), path=self.path))
        return RunRecord(
            id=found["id"],
            flow=found["flow"],
            params=json.loads(found["params"]),
            portal=found["portal"],
            created_at=found["created_at"],
            finished_at=found["finished_at"],
            status=found["status"],
            options=json.loads(found["options"]),
        )

    def runs(self) -> list[RunRecord]:
        ids = self.db.execute("SELECT id FROM runs ORDER BY created_at, id").fetchall()
        return [self.run(found["id"]) for found in ids]

    def last_run_id(self) -> str | None:
        found = self.db.execute(
            "SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT 1"
        ).fetchone()
        return found["id"] if found else None

    def resolve_run_id(self, ref: str) -> str:
        """A run id, or "last" for the newest run."""
        if ref == "last":
            run_id = self.last_run_id()
            if run_id is None:
                raise JournalError(told(N_("no runs yet in {path}"), path=self.path))
            return run_id
        self.run(ref)
        return ref

    def set_run_status(self, run_id: str, status: str) -> None:
        if status not in RUN_STATUSES:
            raise JournalError(f"unknown run status {status!r}")
        finished = None if status == "running" else now_iso()
        self.db.execute(
            "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?", (status, finished, run_id)
        )

    def update_run_options(self, run_id: str, **changes: Any) -> None:
        options = self.run(run_id).options
        options.update(changes)
        self.db.execute("UPDATE runs SET options = ? WHERE id = ?", (self._json(options), run_id))

    # Events: when the run was played, and its pauses

    def open_event(
        self, run_id: str, kind: str, reason: str | None = None, *, owner: str | None = None
    ) -> int:
        if kind not in EVENT_KINDS:
            raise JournalError(f"unknown run event {kind!r}")
        cursor = self.db.execute(
            "INSERT INTO run_events (run_id, kind, started_at, reason, owner)"
            " VALUES (?, ?, ?, ?, ?)",
            (run_id, kind, now_iso(), self._text(reason), owner),
        )
        return int(cursor.lastrowid or 0)

    def claim_run(self, run_id: str) -> int:
        """Open the run's "active" stretch for this process, and return it (close it with
        close_event). RunBusy when a process on this machine that is still alive has one
        open: two processes playing one run would each take rows the other is playing.
        A stretch left open by a process that is gone (killed, crashed) does not stand in
        the way; nor, since it cannot be asked, does one from another machine."""
        me = owner_tag()
        with _Transaction(self.db):
            found = self._live_stretch(run_id)
            if found is not None:
                raise RunBusy(
                    told(
                        N_(
                            "run {run} is being played by another process (pid {pid}, "
                            "since {since}); wait for it to end, or stop it and resume"
                        ),
                        run=run_id,
                        pid=found["owner"].split(":", 1)[0],
                        since=found["started_at"],
                    )
                )
            return self.open_event(run_id, "active", owner=me)

    def playing(self, run_id: str) -> str | None:
        """The process id of the live process on this machine playing the run now (its open
        "active" stretch), else None."""
        found = self._live_stretch(run_id)
        return None if found is None else found["owner"].split(":", 1)[0]

    def _live_stretch(self, run_id: str) -> sqlite3.Row | None:
        """The run's open "active" stretch whose process is alive on this machine, if any."""
        for found in self.db.execute(
            "SELECT owner, started_at FROM run_events"
            " WHERE run_id = ? AND kind = 'active' AND ended_at IS NULL",
            (run_id,),
        ).fetchall():
            if found["owner"] and owner_alive(found["owner"]):
                return found
        return None

    def close_event(self, event_id: int, reason: str | None = None) -> None:
        """End an event (once: a closed event keeps its end); a reason replaces the first."""
        self.db.execute(
            "UPDATE run_events SET ended_at = COALESCE(ended_at, ?), reason = COALESCE(?, reason)"
            " WHERE id = ?",
            (now_iso(), self._text(reason), event_id),
        )

    def events(self, run_id: str, kinds: Iterable[str] | None = None) -> list[RunEvent]:
        found = self.db.execute(
            "SELECT * FROM run_events WHERE run_id = ? ORDER BY started_at, id", (run_id,)
        ).fetchall()
        wanted = set(kinds) if kinds is not None else None
        return [
            RunEvent(
                id=item["id"],
                run_id=item["run_id"],
                kind=item["kind"],
                started_at=item["started_at"],
                ended_at=item["ended_at"],
                reason=item["reason"],
            )
            for item in found
            if wanted is None or item["kind"] in wanted
        ]

    def active_seconds(self, run_id: str) -> float | None:
        """How long the run was being played: the sum of its active stretches, not the gaps
        between an interruption and its resume. A stretch whose process died without closing
        it ends at the last thing it recorded (a row's start or end, a pause). None for a
        run with no recorded stretch (a journal older than them)."""
        spans = self.active_spans(run_id)
        if not spans:
            return None
        return sum(max(0.0, seconds_between(start, end)) for start, end in spans)

    def active_spans(self, run_id: str) -> list[tuple[str, str]]:
        """The run's active stretches as (start, end); one whose process died without closing
        it ends at the last thing it recorded."""
        spans = self.events(run_id, ["active"])
        found = []
        for index, span in enumerate(spans):
            end = span.ended_at
            if end is None:
                limit = spans[index + 1].started_at if index + 1 < len(spans) else "9999"
                end = self._last_mark(run_id, span.started_at, limit) or span.started_at
            found.append((span.started_at, end))
        return found

    def _last_mark(self, run_id: str, start: str, limit: str) -> str | None:
        found = self.db.execute(
            "SELECT MAX(mark) FROM ("
            " SELECT started_at AS mark FROM rows WHERE run_id = :run"
            " UNION ALL SELECT finished_at FROM rows WHERE run_id = :run"
            " UNION ALL SELECT started_at FROM run_events WHERE run_id = :run"
            " UNION ALL SELECT ended_at FROM run_events WHERE run_id = :run"
            ") WHERE mark >= :start AND mark < :limit",
            {"run": run_id, "start": start, "limit": limit},
        ).fetchone()
        return found[0] if found else None

    # Rows

    def rows(self, run_id: str, states: Iterable[str] | None = None) -> list[RowRecord]:
        if states is None:
            found = self.db.execute(
                "SELECT * FROM rows WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
        else:
            wanted = list(states)
            marks = ",".join("?" * len(wanted))
            found = self.db.execute(
                f"SELECT * FROM rows WHERE run_id = ? AND state IN ({marks}) ORDER BY seq",
                (run_id, *wanted),
            ).fetchall()
        return [_row_record(item) for item in found]

    def row(self, run_id: str, key: str) -> RowRecord:
        found = self.db.execute(
            "SELECT * FROM rows WHERE run_id = ? AND key = ?", (run_id, key)
        ).fetchone()
        if found is None:
            raise JournalError(told(N_("run {run} has no row {key}"), run=run_id, key=repr(key)))
        return _row_record(found)

    def counts(self, run_id: str) -> dict[str, int]:
        counts = dict.fromkeys(ROW_STATES, 0)
        for found in self.db.execute(
            "SELECT state, COUNT(*) AS n FROM rows WHERE run_id = ? GROUP BY state", (run_id,)
        ):
            counts[found["state"]] = found["n"]
        return counts

    def _move(
        self,
        run_id: str,
        key: str,
        to: str,
        sets: str,
        values: tuple[Any, ...],
        allowed: tuple[str, ...] | None = None,
    ) -> None:
        allowed = allowed or _ALLOWED_FROM[to]
        marks = ",".join("?" * len(allowed))
        cursor = self.db.execute(
            f"UPDATE rows SET state = ?{sets} WHERE run_id = ? AND key = ? AND state IN ({marks})",
            (to, *values, run_id, key, *allowed),
        )
        if cursor.rowcount != 1:
            current = self.row(run_id, key).state
            raise JournalError(f"row {key} of run {run_id}: cannot go from {current} to {to}")

    def mark_running(self, run_id: str, key: str, *, reclaim: bool = False) -> None:
        """Claim a row for one attempt. Returns only once the claim is committed, so the
        browser never acts on a row the journal does not show as running.

        reclaim=True takes over a row an interrupted run left running; the row is flagged
        `resumed` because its earlier attempt may already have acted on the portal."""
        if reclaim:
            self._move(
                run_id,
                key,
                "running",
                ", attempts = attempts + 1, resumed = 1, started_at = ?, finished_at = NULL",
                (now_iso(),),
                allowed=("running",),
            )
            return
        self._move(
            run_id,
            key,
            "running",
            ", attempts = attempts + 1, started_at = ?, finished_at = NULL",
            (now_iso(),),
        )

    def release(self, run_id: str, key: str) -> None:
        """Give a running row back as pending: its attempt stopped before it could act (the
        portal was gone), so a resumed run plays it like any row not yet played."""
        self._move(run_id, key, "pending", ", finished_at = NULL", ())

    def note_retry(self, run_id: str, key: str, error: str | None, error_kind: str | None) -> None:
        """A transient failure that will be retried: the row stays running, one more attempt."""
        cursor = self.db.execute(
            "UPDATE rows SET attempts = attempts + 1, error = ?, error_told = ?, error_kind = ?"
            " WHERE run_id = ? AND key = ? AND state = 'running'",
            (self._text(error), self._told(error), error_kind, run_id, key),
        )
        if cursor.rowcount != 1:
            current = self.row(run_id, key).state
            raise JournalError(f"row {key} of run {run_id}: cannot retry a {current} row")

    def note_replay(
        self,
        run_id: str,
        key: str,
        error: str | None,
        error_kind: str | None,
        *,
        again: bool = True,
    ) -> None:
        """A try the portal's trouble cut short (it was unreachable, or throttling): no attempt
        of the row's. The row stays running. With `again`, the row is played again now and
        that try is the attempt this one was counted as; without, the row waits for a resume
        (which counts its own try), so this try's count is taken back."""
        cursor = self.db.execute(
            "UPDATE rows SET replays = replays + 1, attempts = MAX(0, attempts - ?),"
            " error = ?, error_told = ?, error_kind = ?"
            " WHERE run_id = ? AND key = ? AND state = 'running'",
            (0 if again else 1, self._text(error), self._told(error), error_kind, run_id, key),
        )
        if cursor.rowcount != 1:
            current = self.row(run_id, key).state
            raise JournalError(f"row {key} of run {run_id}: cannot replay a {current} row")

    def mark_done(
        self,
        run_id: str,
        key: str,
        *,
        outcome: str,
        ok: bool,
        values: Mapping[str, Any] | None = None,
        evidence: Iterable[str] = (),
        matches: Iterable[Mapping[str, Any]] = (),
        resumed: bool = False,
        error: str | None = None,
    ) -> None:
        """The flow ended in an outcome (a business fact, successful or not)."""
        self._move(
            run_id,
            key,
            "done",
            ", outcome = ?, ok = ?, result_values = ?, evidence = ?, matches = ?,"
            " resumed = MAX(resumed, ?),"
            " error = ?, error_told = ?, error_kind = NULL, finished_at = ?",
            (
                outcome,
                int(ok),
                self._json(dict(values or {})),
                self._json(list(evidence)),
                self._json([dict(item) for item in matches]),
                int(resumed),
                self._text(error),
                self._told(error),
                now_iso(),
            ),
        )

    def mark_failed(
        self,
        run_id: str,
        key: str,
        *,
        error: str,
        error_kind: str | None,
        evidence: Iterable[str] = (),
        matches: Iterable[Mapping[str, Any]] = (),
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """The flow could not reach an outcome (after any retries)."""
        self._move(
            run_id,
            key,
            "failed",
            ", outcome = 'failed', ok = 0, error = ?, error_told = ?, error_kind = ?, evidence = ?,"
            " matches = ?, result_values = ?, finished_at = ?",
            (
                self._text(error),
                self._told(error),
                error_kind,
                self._json(list(evidence)),
                self._json([dict(item) for item in matches]),
                self._json(dict(values or {})),
                now_iso(),
            ),
        )

    def mark_skipped(self, run_id: str, key: str, why: str) -> None:
        self._move(
            run_id,
            key,
            "skipped",
            ", error = ?, error_told = ?, finished_at = ?",
            (self._text(why), self._told(why), now_iso()),
        )

    def plan_resume(self, run_id: str, *, include_failed: bool = False) -> list[RowRecord]:
        return plan_resume(self, run_id, include_failed=include_failed)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _row_record(found: sqlite3.Row) -> RowRecord:
    return RowRecord(
        run_id=found["run_id"],
        key=found["key"],
        seq=found["seq"],
        params=json.loads(found["params"]),
        state=found["state"],
        outcome=found["outcome"],
        ok=None if found["ok"] is None else bool(found["ok"]),
        values=json.loads(found["result_values"]),
        attempts=found["attempts"],
        replays=found["replays"],
        error=found["error"],
        error_kind=found["error_kind"],
        evidence=json.loads(found["evidence"]),
        matches=json.loads(found["matches"]),
        resumed=bool(found["resumed"]),
        started_at=found["started_at"],
        finished_at=found["finished_at"],
        error_told=_json_or_none(found["error_told"]),
    )


def _json_or_none(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def plan_resume(journal: Journal, run_id: str, *, include_failed: bool = False) -> list[RowRecord]:
    """The rows a resumed run must play, in their original order: every pending row, and every
    running row (it may or may not have acted before the interruption, so it is played again
    through the flow's guard). Done and skipped rows never; failed rows only when asked."""
    journal.run(run_id)
    states = ["pending", "running"] + (["failed"] if include_failed else [])
    return journal.rows(run_id, states)


def run_kind(options: Mapping[str, Any]) -> str:
    """ "cancel" for a run of `seller-agent cancel` (it records its rate limit), "flow" for
    one of `seller-agent run FLOW --rows`. (Here, with the run's record, so a report need not
    load the flow package to tell.)"""
    return "cancel" if "max_cancel_rate" in options or "projection" in options else "flow"
