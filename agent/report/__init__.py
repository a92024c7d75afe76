"""Reports of a bulk run, read from the journal: a terminal summary, JSON, CSV, and one
self-contained HTML file (inline CSS, screenshots embedded, traces linked relative to it)."""

from __future__ import annotations

import csv
import io
import json
import shlex
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.bulk.journal import Journal, default_journal_path, parse_iso, run_kind
from agent.i18n import _, display_width, format_duration, ngettext, pad, told_map, using
from agent.report.merge import merge_lines
from agent.report.words import (
    error_kind_word,
    error_words,
    outcome_word,
    pause_reason,
    status_word,
)

FORMATS = ("table", "json", "csv", "html")


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


RowFacts = Callable[[Any], Mapping[str, Any]]

# A row played to an end, whatever its outcome: done (an outcome) or failed.
ENDED_STATES = ("done", "failed")


def rows_per_second(ended: int, seconds: float | None) -> float | None:
    """The run's speed: rows played to an end per second of running. Rows not played yet (a
    run stopped early) are no part of it. None when the time is not known or no row ended
    (a run stopped before its first row ended has no speed to tell)."""
    if seconds is None or not ended:
        return None
    return ended / seconds if seconds > 0 else 0.0


def resume_commands(
    kind: str, run: Any, journal_path: Path | None, states: Mapping[str, int]
) -> dict[str, str] | None:
    """The commands that go on with an unfinished run (and, for a cancel run with failures,
    that try its failed rows again), exactly as the journal allows them to be typed."""
    unplayed = states.get("pending", 0) + states.get("running", 0)
    failed = states.get("failed", 0)
    if not unplayed and not (kind == "cancel" and failed):
        return None
    journal = []
    if journal_path is not None and journal_path.resolve() != default_journal_path().resolve():
        journal = ["--journal", str(journal_path)]
    if kind == "cancel":
        base = ["seller-agent", "cancel", "--resume", run.id, *journal]
    else:
        # `run --resume` reads the rows from the journal; the flow is the one it recorded.
        flow = run.options.get("flow_source") or run.flow
        base = ["seller-agent", "run", flow, "--resume", run.id, *journal]
    commands = {}
    if unplayed:
        commands["resume"] = shlex.join(base)
    if kind == "cancel" and failed:
        commands["retry_failed"] = shlex.join([*base, "--retry-failed"])
    return commands


def build_report(
    journal: Journal, run_id: str, *, row_facts: RowFacts | None = None
) -> dict[str, Any]:
    """Everything a report shows, as plain data (what `--format json` prints).

    `row_facts(row)` adds what the job knows about a row and the engine does not (the cancel
    job: whether a cancellation counts toward the rate)."""
    run = journal.run(run_id)
    rows = journal.rows(run_id)
    outcomes = Counter(row.outcome or row.state for row in rows)
    states = journal.counts(run_id)
    projection = run.options.get("projection") or {}
    with_matches = [row for row in rows if row.matches]
    fallbacks = Counter()
    for row in with_matches:
        for match in row.matches:
            if match.get("candidate", 0) not in (0, None):
                fallbacks[str(match.get("step"))] += 1
    ends = [row.finished_at for row in rows if row.finished_at]
    starts = [row.started_at for row in rows if row.started_at]
    kind = run_kind(run.options)
    # The time the run was being played, not the hours between an interruption and its
    # resume; a journal older than its record of active stretches gives first to last row.
    seconds = journal.active_seconds(run_id)
    if seconds is None:
        seconds = _seconds_between(min(starts) if starts else None, max(ends) if ends else None)
    pauses = [event.to_dict() for event in journal.events(run_id, ["outage", "throttled"])]
    ended = sum(states.get(state, 0) for state in ENDED_STATES)
    playing = journal.playing(run_id) if run.status == "running" else None
    return {
        "run": {
            "id": run.id,
            "kind": kind,
            "flow": run.flow,
            "portal": run.portal,
            "status": run.status,
            "created_at": run.created_at,
            "finished_at": run.finished_at,
            "params": run.params,
            "options": {k: v for k, v in run.options.items() if k not in _NOT_OPTIONS},
        },
        # A run a live process is playing goes on by itself: a resume would be refused.
        "playing": playing,
        "resume": None
        if playing
        else resume_commands(kind, run, getattr(journal, "path", None), states),
        "total": len(rows),
        "succeeded": sum(1 for row in rows if row.ok),
        "failed": states.get("failed", 0),
        "not_ok": sum(1 for row in rows if row.state == "done" and not row.ok),
        "pending": states.get("pending", 0) + states.get("running", 0),
        "outcomes": dict(sorted(outcomes.items())),
        "states": states,
        # Retried: played more than one attempt of its own. Replayed: played again because the
        # portal as a whole was unreachable or throttling, which costs no attempt.
        "retried": [row.key for row in rows if row.attempts > 1],
        "replayed": [row.key for row in rows if row.replays],
        "resumed": [row.key for row in rows if row.resumed],
        "fallback_steps": dict(fallbacks),
        "selector_health": selector_health(rows),
        "endpoints": endpoint_counts(rows),
        "rate": {
            "before": projection.get("rate_before"),
            "after_projected": projection.get("rate_after"),
            "after_measured": run.options.get("rate_measured_after"),
            "limit": projection.get("limit", run.options.get("max_cancel_rate")),
            "buyer_canceled_unofficial": projection.get("buyer_canceled_unofficial", []),
        },
        # Input rows the run left out (each naming its file and line), and the times the run
        # stood still (the portal down or throttling: each kind, start, end, seconds, reason).
        "problems": list(run.options.get("problems") or []),
        "seconds": seconds,
        # Rows played to an end (done or failed) and how many of them a second of running.
        "ended": ended,
        "rows_per_second": rows_per_second(ended, seconds),
        "pauses": pauses,
        "paused_seconds": sum(pause["seconds"] or 0.0 for pause in pauses),
        "log": run.options.get("log"),
        "rows": [_row_data(row, run, row_facts) for row in rows],
    }


# Recorded with a run's options but reported under their own names.
_NOT_OPTIONS = {"projection", "problems", "pauses", "rate_measured_after", "flow_source"}


def _row_data(row: Any, run: Any, row_facts: RowFacts | None) -> dict[str, Any]:
    data = row.to_dict()
    data["seconds"] = _seconds_between(row.started_at, row.finished_at)
    data["reason"] = row.params.get("reason")
    data["memo"] = row.params.get("memo") or run.params.get("memo") or None
    data["fallbacks"] = [
        {
            "step": match.get("step"),
            "line": match.get("line"),
            "candidate": match.get("candidate"),
            "spec": match.get("spec"),
        }
        for match in row.matches or []
        if match.get("candidate") not in (0, None)
    ]
    data["counts_toward_rate"] = None
    if row_facts is not None:
        data.update(row_facts(row))
    return data


def endpoint_counts(rows: list[Any]) -> dict[str, int]:
    """Rows per browser endpoint that played them (runs on browser endpoints only)."""
    counts = Counter(str(row.values["endpoint"]) for row in rows if row.values.get("endpoint"))
    return dict(sorted(counts.items()))


def format_rate(value: float | None, limit: float | None = None) -> str:
    """A rate in percent as every output shows it (the plan, its refusal, the summary, the
    reports): two decimals, or as many more as it takes for a rate over `limit` not to look
    equal to it (2.504% against a 2.5% limit)."""
    if value is None:
        return "-"
    digits = 2
    if limit is not None and value > limit:
        while digits < 6 and round(value, digits) <= limit:
            digits += 1
    return f"{value:.{digits}f}%"


def local_time(stamp: str | None) -> str:
    """A journal time (UTC) as the local clock showed it: what a person remembers."""
    if not stamp:
        return "-"
    return parse_iso(stamp).astimezone().strftime("%H:%M:%S")


def pause_span(seconds: float | None) -> str:
    return _("until the run stopped") if seconds is None else format_duration(seconds)


def pause_lines(report: dict[str, Any]) -> list[str]:
    """The run's pauses: when, how long, why."""
    pauses = report.get("pauses") or []
    if not pauses:
        return []
    count = len(pauses)
    lines = [
        ngettext(
            "Pause: {count} ({duration}; the portal's trouble, not the rows')",
            "Pauses: {count} ({duration} in all; the portal's trouble, not the rows')",
            count,
        ).format(count=count, duration=format_duration(report["paused_seconds"]))
    ]
    for pause in pauses[:20]:
        when = local_time(pause["started_at"])
        lines.append(
            f"  {when}  {pad(pause_span(pause['seconds']), 12)} {pause_reason(pause['reason'])}"
        )
    if count > 20:
        lines.append("  " + _("... and {count} more (see --format json)").format(count=count - 20))
    return lines


def selector_health(rows: list[Any]) -> list[dict[str, Any]]:
    """For each step with a target: how often each candidate was the one that matched, so a
    page that drifts away from a flow's first-choice target shows before the flow breaks."""
    steps: dict[tuple[str, Any], Counter] = {}
    specs: dict[tuple[tuple[str, Any], int], str] = {}
    for row in rows:
        for match in row.matches or []:
            step = (str(match.get("step")), match.get("line"))
            candidate = int(match.get("candidate") or 0)
            steps.setdefault(step, Counter())[candidate] += 1
            specs.setdefault((step, candidate), str(match.get("spec")))
    health = []
    for (step, line), counts in sorted(
        steps.items(), key=lambda item: (item[0][1] or 0, item[0][0])
    ):
        total = sum(counts.values())
        health.append(
            {
                "step": step,
                "line": line,
                "matched": total,
                "first_choice_share": counts.get(0, 0) / total,
                "candidates": [
                    {"candidate": index, "spec": specs[((step, line), index)], "count": count}
                    for index, count in sorted(counts.items())
                ],
            }
        )
    return health


def render_table(
    report: dict[str, Any], lang: str | None = None, *, next_steps: bool = True
) -> str:
    """The summary a person reads in the terminal, in `lang` (default: the language in
    force). `next_steps=False` leaves out the commands that go on with the run, for a caller
    that prints its own (knowing options the journal does not keep)."""
    with using(lang):
        return _table(report, next_steps)


def _table(report: dict[str, Any], next_steps: bool = True) -> str:
    run = report["run"]
    lines = [
        _("Run {id}  flow {flow}  {status}  portal {portal}").format(
            id=run["id"], flow=run["flow"], status=status_word(run["status"]), portal=run["portal"]
        ),
        _(
            "Rows: {total}  succeeded: {succeeded}  failed: {failed}  other outcomes: {other}"
            "  not played yet: {pending}"
        ).format(
            total=report["total"],
            succeeded=report["succeeded"],
            failed=report["failed"],
            other=report["not_ok"],
            pending=report["pending"],
        ),
        "",
        f"{pad(_('Outcome'), 30)} {_right(_('Rows'), 5)}",
    ]
    for outcome, count in report["outcomes"].items():
        lines.append(f"{pad(outcome_word(outcome), 30)} {count:>5}")
    if report.get("endpoints"):
        endpoint_word, rows_word = _("Browser endpoint"), _("Rows")
        lines += ["", f"{pad(endpoint_word, 30)} {_right(rows_word, 5)}"]
        for endpoint, count in report["endpoints"].items():
            lines.append(f"{pad(endpoint, 30)} {count:>5}")
    lines += merge_lines(report)
    left_out = report.get("problems") or []
    if left_out:
        lines += [
            "",
            _("Rows left out (their input was not usable): {count}").format(count=len(left_out)),
        ]
        lines += [f"  {problem}" for problem in left_out[:20]]
        if len(left_out) > 20:
            lines.append(
                "  "
                + _("... and {count} more (see --format json)").format(count=len(left_out) - 20)
            )
    failures = [row for row in report["rows"] if row["state"] == "failed"]
    if failures:
        lines += ["", _("Failures:")]
        for row in failures[:50]:
            kind = f" [{error_kind_word(row['error_kind'])}]" if row["error_kind"] else ""
            lines.append(f"  {row['key']}{kind}: {error_words(row)}")
        if len(failures) > 50:
            lines.append(
                "  " + _("... and {count} more (see --format csv)").format(count=len(failures) - 50)
            )
    drifting = [step for step in report["selector_health"] if step["first_choice_share"] < 1]
    if drifting:
        lines += ["", _("Selector health (steps whose first-choice target did not always match):")]
        for step in drifting:
            used = ", ".join(
                f"#{item['candidate'] + 1} {item['spec']}: {item['count']}"
                for item in step["candidates"]
            )
            lines.append(
                "  "
                + _("line {line} {step}: first choice {share} of {matched} ({used})").format(
                    line=step["line"],
                    step=step["step"],
                    share=f"{step['first_choice_share']:.0%}",
                    matched=step["matched"],
                    used=used,
                )
            )
    lines.append("")
    lines.append(
        _("Rows retried: {retried}  resumed after interruption: {resumed}").format(
            retried=len(report["retried"]), resumed=len(report["resumed"])
        )
    )
    replayed = len(report.get("replayed") or [])
    if replayed:
        lines.append(
            ngettext(
                "Row played again after the portal's trouble (not an attempt): {count}",
                "Rows played again after the portal's trouble (not attempts): {count}",
                replayed,
            ).format(count=replayed)
        )
    rate = report["rate"]
    if rate["before"] is not None or rate["after_measured"] is not None:
        lines.append(
            _(
                "Order Cancellation Rate: before {before}, projected {projected}, after {after}"
            ).format(
                before=format_rate(rate["before"]),
                projected=format_rate(rate["after_projected"], rate["limit"]),
                after=format_rate(rate["after_measured"]),
            )
        )
    if report["seconds"] is not None:
        per_second = report.get("rows_per_second")
        lines.append(
            _("Time: {duration} running").format(duration=format_duration(report["seconds"]))
            if per_second is None
            else _("Time: {duration} running ({per_second} rows/s)").format(
                duration=format_duration(report["seconds"]), per_second=f"{per_second:.2f}"
            )
        )
    lines += pause_lines(report)
    commands = (report.get("resume") or {}) if next_steps else {}
    if report.get("playing"):
        lines.append(
            _("Being played now by process {pid}: this report shows it so far").format(
                pid=report["playing"]
            )
        )
    if commands.get("resume"):
        lines.append(_("To go on with this run: {command}").format(command=commands["resume"]))
    if commands.get("retry_failed"):
        lines.append(
            _("To try the failed rows again: {command}").format(command=commands["retry_failed"])
        )
    return "\n".join(lines)


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)


# Machine-friendly and the same in every language: scripts read these.
CSV_COLUMNS = [
    "key",
    "state",
    "outcome",
    "ok",
    "attempts",
    "resumed",
    "error_kind",
    "error",
    "started_at",
    "finished_at",
    "params",
    "values",
    "evidence",
    "seconds",
    "counts_toward_rate",
    "replays",
]


def _csv_bool(value: bool | None) -> str:
    return "" if value is None else str(bool(value)).lower()


def render_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # A merged report (report --merge) names each row's shard, in a last column.
    sharded = "shards" in report
    writer.writerow(CSV_COLUMNS + (["shard"] if sharded else []))
    for row in report["rows"]:
        shard = [row.get("shard") or row.get("journal") or ""] if sharded else []
        writer.writerow(
            [
                row["key"],
                row["state"],
                row["outcome"] or "",
                _csv_bool(row["ok"]),
                row["attempts"],
                _csv_bool(row["resumed"]),
                row["error_kind"] or "",
                row["error"] or "",
                row["started_at"] or "",
                row["finished_at"] or "",
                json.dumps(row["params"], ensure_ascii=False, sort_keys=True),
                json.dumps(row["values"], ensure_ascii=False, sort_keys=True),
                " ".join(row["evidence"]),
                "" if row.get("seconds") is None else f"{row['seconds']:.3f}",
                _csv_bool(row.get("counts_toward_rate")),
                row.get("replays", 0),
            ]
            + shard
        )
    return buffer.getvalue()


def render_html(
    report: dict[str, Any], out_dir: Path | None = None, lang: str | None = None
) -> str:
    """One self-contained HTML file in `lang` (see agent.report.html)."""
    from agent.report.html import render_html as render

    return render(report, out_dir, lang)


def render(
    report: dict[str, Any],
    fmt: str,
    out_dir: Path | None = None,
    redact: Callable[[str], str] | None = None,
    lang: str | None = None,
) -> str:
    """The report in `fmt`; the table and the HTML page in `lang`, JSON and CSV as data.

    `redact` masks secrets in every value before rendering (an escaped secret in HTML or JSON
    would not match it afterwards) and in the text once more after."""
    if redact is not None:
        report = _redacted(report, redact)
    if fmt == "html":
        text = render_html(report, out_dir, lang)
    elif fmt == "table":
        text = render_table(report, lang)
    else:
        text = {"json": render_json, "csv": render_csv}[fmt](report)
    return redact(text) if redact else text


def _right(text: str, width: int) -> str:
    """`text` right-aligned to `width` terminal columns, over a column of numbers."""
    return " " * max(0, width - display_width(text)) + text


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        # A told() message stays one: masked in English and in its translation alike.
        return told_map(value, redact)
    if isinstance(value, dict):
        return {key: _redacted(item, redact) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, redact) for item in value]
    return value


def write_report(
    report: dict[str, Any],
    fmt: str,
    output: str | None,
    redact: Callable[[str], str] | None = None,
    lang: str | None = None,
) -> None:
    """Write to `output` ("-" or None: stdout). Nothing is left half-written: a file is
    written beside its place and moved there whole."""
    if output in (None, "-"):
        text = render(report, fmt, Path.cwd(), redact, lang)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    # Imported here: the browser module (and asyncio) would otherwise load with every
    # command's --help, the report's options being read at start-up.
    from agent.play.browser import write_private_bytes

    path = Path(output)
    # A report names orders, buyers and errors: readable by the owner only, like the journal,
    # and written whole or not at all.
    write_private_bytes(path, render(report, fmt, path.parent, redact, lang).encode("utf-8"))
