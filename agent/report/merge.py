"""One report for a sharded job (`report --merge`): the newest run of each shard's journal,
combined in the shape build_report gives one run, so every format renders it. It names each
shard, flags any key that two shards both played, and says which shards are missing."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.bulk.journal import Journal, JournalError
from agent.i18n import N_, _, display_width, pad, pgettext, shown, told

if TYPE_CHECKING:
    from agent.report import RowFacts

PLAYED = ("done", "failed", "running")


def _shard_number(text: str | None) -> tuple[int, int] | None:
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        return None
    return index, count


def merge_runs(
    journals: Sequence[str | Path],
    row_facts: Callable[[Journal, str], RowFacts | None] | None = None,
) -> dict[str, Any]:
    """The merged report of the newest run in each journal. row_facts(journal, run_id): what
    the job adds to each row of that run (as for one run's report), or None."""
    from agent.report import build_report, selector_health

    if not journals:
        raise JournalError(told(N_("--merge: give the journals of the shards to merge")))
    parts: list[dict[str, Any]] = []
    records: list[Any] = []
    spans: list[tuple[str, str]] = []
    for given in journals:
        path = Path(given)
        if not path.is_file():
            raise JournalError(told(N_("{path}: no journal there"), path=path))
        with Journal(path) as journal:
            run_id = journal.resolve_run_id("last")
            facts = row_facts(journal, run_id) if row_facts is not None else None
            report = build_report(journal, run_id, row_facts=facts)
            records.extend(journal.rows(run_id))
            spans.extend(journal.active_spans(run_id))
        shard = report["run"]["options"].get("shard")
        report["journal"] = str(path)
        for row in report["rows"]:
            row["shard"] = shard
            row["journal"] = str(path)
        parts.append(report)

    shards = [
        {
            "journal": part["journal"],
            "run_id": part["run"]["id"],
            "shard": part["run"]["options"].get("shard"),
            "status": part["run"]["status"],
            "flow": part["run"]["flow"],
            "total": part["total"],
            "succeeded": part["succeeded"],
            "failed": part["failed"],
            # How to go on with a shard left unfinished (each shard is resumed on its own).
            "resume": part["resume"],
        }
        for part in parts
    ]
    played: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for part in parts:
        for row in part["rows"]:
            if row["state"] in PLAYED:
                played[row["key"]].append(row)
    duplicates = [
        {
            "key": key,
            "shards": [row["shard"] or row["journal"] for row in rows],
            "outcomes": [row["outcome"] or row["state"] for row in rows],
        }
        for key, rows in sorted(played.items())
        if len(rows) > 1
    ]
    first = min(parts, key=lambda part: part["run"]["created_at"])
    last = max(parts, key=lambda part: part["run"]["finished_at"] or "")
    rows = [row for part in parts for row in part["rows"]]
    starts = [row["started_at"] for row in rows if row["started_at"]]
    ends = [row["finished_at"] for row in rows if row["finished_at"]]
    from agent.report import ENDED_STATES, _seconds_between, rows_per_second

    # The time the job was being played: the shards' active stretches taken together (they
    # run side by side), as one run's report counts its own; rows' times for older journals.
    seconds = _covered_seconds(spans) if spans else None
    if seconds is None:
        seconds = _seconds_between(min(starts) if starts else None, max(ends) if ends else None)
    ended = sum(1 for row in rows if row["state"] in ENDED_STATES)

    statuses = {part["run"]["status"] for part in parts}
    return {
        "run": {
            "id": "+".join(shard["run_id"] for shard in shards),
            # The shards of one job are runs of one kind (cancel, or a flow over rows).
            "kind": kinds.pop()
            if len(kinds := {part["run"].get("kind") for part in parts}) == 1
            else "flow",
            "flow": " + ".join(sorted({part["run"]["flow"] for part in parts})),
            "portal": " + ".join(sorted({part["run"]["portal"] for part in parts})),
            "status": statuses.pop() if len(statuses) == 1 else "mixed",
            "created_at": first["run"]["created_at"],
            "finished_at": (
                None
                if any(part["run"]["finished_at"] is None for part in parts)
                else last["run"]["finished_at"]
            ),
            "params": first["run"]["params"],
            "options": {"merged": len(parts)},
        },
        "total": sum(part["total"] for part in parts),
        "succeeded": sum(part["succeeded"] for part in parts),
        "failed": sum(part["failed"] for part in parts),
        "not_ok": sum(part["not_ok"] for part in parts),
        "pending": sum(part["pending"] for part in parts),
        "outcomes": dict(sorted(_sum(part["outcomes"] for part in parts).items())),
        "states": dict(_sum(part["states"] for part in parts)),
        "retried": [key for part in parts for key in part["retried"]],
        "replayed": [key for part in parts for key in part.get("replayed", [])],
        "resumed": [key for part in parts for key in part["resumed"]],
        "fallback_steps": dict(_sum(part["fallback_steps"] for part in parts)),
        "selector_health": selector_health(records),
        "endpoints": dict(sorted(_sum(part.get("endpoints", {}) for part in parts).items())),
        "rate": {
            # Each shard projected only its own slice: a combined projection is not known.
            "before": first["rate"]["before"],
            "after_projected": None,
            "after_measured": last["rate"]["after_measured"],
            "limit": first["rate"]["limit"],
            "buyer_canceled_unofficial": sorted(
                {key for part in parts for key in part["rate"]["buyer_canceled_unofficial"]}
            ),
        },
        "seconds": seconds,
        "ended": ended,
        "rows_per_second": rows_per_second(ended, seconds),
        # Each shard's pauses (the portal down or throttling, for one shard or all), with
        # the shard they held up; and the input rows left out, which every shard of one list
        # reports alike.
        "pauses": sorted(
            (
                {**pause, "shard": part["run"]["options"].get("shard")}
                for part in parts
                for pause in part.get("pauses", [])
            ),
            key=lambda pause: pause["started_at"] or "",
        ),
        "paused_seconds": sum(part.get("paused_seconds") or 0.0 for part in parts),
        "problems": list(
            dict.fromkeys(problem for part in parts for problem in part.get("problems") or [])
        ),
        "rows": rows,
        "shards": shards,
        "duplicates": duplicates,
        "warnings": _warnings(shards),
    }


def _sum(counters: Any) -> Counter:
    total: Counter = Counter()
    for counter in counters:
        total.update(counter)
    return total


def _covered_seconds(spans: list[tuple[str, str]]) -> float:
    """Seconds covered by any of the spans (overlaps counted once)."""
    from agent.report import _seconds_between

    total = 0.0
    current: list[str] | None = None
    for start, end in sorted(spans):
        if current is not None and start <= current[1]:
            current[1] = max(current[1], end)
            continue
        if current is not None:
            total += max(0.0, _seconds_between(*current) or 0.0)
        current = [start, end]
    if current is not None:
        total += max(0.0, _seconds_between(*current) or 0.0)
    return total


def _warnings(shards: list[dict[str, Any]]) -> list[str]:
    notes = []
    numbers = [_shard_number(shard["shard"]) for shard in shards]
    unsharded = [
        shard["journal"] for shard, number in zip(shards, numbers, strict=True) if not number
    ]
    if unsharded:
        notes.append(told(N_("not a sharded run: {journals}"), journals=", ".join(unsharded)))
    counts = {number[1] for number in numbers if number}
    if len(counts) > 1:
        splits = ", ".join(f"/{n}" for n in sorted(counts))
        notes.append(told(N_("shards of different splits: {splits}"), splits=splits))
    seen = Counter(number for number in numbers if number)
    for (index, count), times in sorted(seen.items()):
        if times > 1:
            notes.append(
                told(N_("shard {shard} given {times} times"), shard=f"{index}/{count}", times=times)
            )
    if len(counts) == 1:
        (count,) = counts
        missing = sorted(set(range(1, count + 1)) - {index for index, _ in seen})
        if missing:
            listed = ", ".join(f"{index}/{count}" for index in missing)
            notes.append(told(N_("missing shards: {shards}"), shards=listed))
    flows = {shard["flow"] for shard in shards}
    if len(flows) > 1:
        notes.append(told(N_("runs of different flows: {flows}"), flows=", ".join(sorted(flows))))
    return notes


def merge_lines(report: dict[str, Any]) -> list[str]:
    """The lines a merged report adds to the terminal summary."""
    if "shards" not in report:
        return []
    shard, rows, succeeded = _("Shard"), _("Rows"), _("succeeded")
    failed, status, journal = _("failed"), _("status"), _("journal")
    heading = (
        f"{pad(shard, 8)} {_right(rows, 5)}  {_right(succeeded, 9)}  {_right(failed, 6)}  "
        f"{pad(status, 11)}  {journal}"
    )
    lines = ["", heading]
    for shard in report["shards"]:
        lines.append(
            f"{shard['shard'] or '-':<8} {shard['total']:>5}  {shard['succeeded']:>9}  "
            f"{shard['failed']:>6}  {pad(shard_status(shard['status']), 11)}  {shard['journal']}"
        )
    for shard in report["shards"]:
        command = (shard.get("resume") or {}).get("resume")
        if command:
            lines.append(
                _("To go on with shard {shard}: {command}").format(
                    shard=shard["shard"] or shard["journal"], command=command
                )
            )
    if report["duplicates"]:
        lines += [
            "",
            _("Played by two shards ({count}):").format(count=len(report["duplicates"])),
        ]
        for item in report["duplicates"][:50]:
            # Outcomes are the flow's codes, as in the JSON.
            lines.append(
                _("  {key}: shards {shards} ({outcomes})").format(
                    key=item["key"],
                    shards=", ".join(map(str, item["shards"])),
                    outcomes=", ".join(item["outcomes"]),
                )
            )
    for note in report["warnings"]:
        lines.append(_("Warning: {note}").format(note=shown(note)))
    return lines


def _right(text: str, width: int) -> str:
    return " " * max(0, width - display_width(text)) + text


def shard_status(code: str) -> str:
    """A run status in the merged table: the code in English (as the JSON has it), the
    report's word in Chinese."""
    words = {
        "running": pgettext("shard status", "running"),
        "finished": pgettext("shard status", "finished"),
        "interrupted": pgettext("shard status", "interrupted"),
        "stopped": pgettext("shard status", "stopped"),
        "paused": pgettext("shard status", "paused"),
    }
    return words.get(code, code)
