"""Reports of a bulk run, read from the journal: a terminal summary, JSON, CSV, and one
self-contained HTML file (inline CSS, screenshots embedded, traces linked relative to it)."""

from __future__ import annotations

import base64
import csv
import io
import json
import mimetypes
import os
import sys
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.bulk.journal import Journal
from agent.report.merge import merge_lines

FORMATS = ("table", "json", "csv", "html")


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def build_report(journal: Journal, run_id: str) -> dict[str, Any]:
    """Everything a report shows, as plain data (what `--format json` prints)."""
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
    return {
        "run": {
            "id": run.id,
            "flow": run.flow,
            "portal": run.portal,
            "status": run.status,
            "created_at": run.created_at,
            "finished_at": run.finished_at,
            "params": run.params,
            "options": {k: v for k, v in run.options.items() if k != "projection"},
        },
        "total": len(rows),
        "succeeded": sum(1 for row in rows if row.ok),
        "failed": states.get("failed", 0),
        "not_ok": sum(1 for row in rows if row.state == "done" and not row.ok),
        "pending": states.get("pending", 0) + states.get("running", 0),
        "outcomes": dict(sorted(outcomes.items())),
        "states": states,
        "retried": [row.key for row in rows if row.attempts > 1],
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
        "seconds": _seconds_between(min(starts) if starts else None, max(ends) if ends else None),
        "rows": [row.to_dict() for row in rows],
    }


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


def render_table(report: dict[str, Any]) -> str:
    run = report["run"]
    lines = [
        f"Run {run['id']}  flow {run['flow']}  {run['status']}  portal {run['portal']}",
        f"Rows: {report['total']}  succeeded: {report['succeeded']}  failed: {report['failed']}"
        f"  other outcomes: {report['not_ok']}  not played yet: {report['pending']}",
        "",
        "Outcome              Rows",
    ]
    for outcome, count in report["outcomes"].items():
        lines.append(f"{outcome:<20} {count:>5}")
    if report.get("endpoints"):
        lines += ["", "Browser endpoint               Rows"]
        for endpoint, count in report["endpoints"].items():
            lines.append(f"{endpoint:<30} {count:>5}")
    lines += merge_lines(report)
    failures = [row for row in report["rows"] if row["state"] == "failed"]
    if failures:
        lines += ["", "Failures:"]
        for row in failures[:50]:
            kind = f" [{row['error_kind']}]" if row["error_kind"] else ""
            lines.append(f"  {row['key']}{kind}: {row['error']}")
        if len(failures) > 50:
            lines.append(f"  ... and {len(failures) - 50} more (see --format csv)")
    drifting = [step for step in report["selector_health"] if step["first_choice_share"] < 1]
    if drifting:
        lines += ["", "Selector health (steps whose first-choice target did not always match):"]
        for step in drifting:
            used = ", ".join(
                f"#{item['candidate'] + 1} {item['spec']}: {item['count']}"
                for item in step["candidates"]
            )
            lines.append(
                f"  line {step['line']} {step['step']}: first choice "
                f"{step['first_choice_share']:.0%} of {step['matched']} ({used})"
            )
    lines.append("")
    lines.append(
        f"Rows retried: {len(report['retried'])}  resumed after interruption: "
        f"{len(report['resumed'])}"
    )
    rate = report["rate"]
    if rate["before"] is not None or rate["after_measured"] is not None:
        lines.append(
            f"Order Cancellation Rate: before {format_rate(rate['before'])}, projected "
            f"{format_rate(rate['after_projected'], rate['limit'])}, after "
            f"{format_rate(rate['after_measured'])}"
        )
    if report["seconds"] is not None:
        per_second = report["total"] / report["seconds"] if report["seconds"] else 0.0
        lines.append(f"Time: {report['seconds']:.1f} s ({per_second:.2f} rows/s)")
    return "\n".join(lines)


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)


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
]


def render_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report["rows"]:
        writer.writerow(
            [
                row["key"],
                row["state"],
                row["outcome"] or "",
                "" if row["ok"] is None else str(row["ok"]).lower(),
                row["attempts"],
                str(row["resumed"]).lower(),
                row["error_kind"] or "",
                row["error"] or "",
                row["started_at"] or "",
                row["finished_at"] or "",
                json.dumps(row["params"], ensure_ascii=False, sort_keys=True),
                json.dumps(row["values"], ensure_ascii=False, sort_keys=True),
                " ".join(row["evidence"]),
            ]
        )
    return buffer.getvalue()


def _data_uri(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def render_html(report: dict[str, Any], out_dir: Path | None = None) -> str:
    """One HTML file: screenshots embedded as data URIs, other evidence (traces) linked
    relative to `out_dir`, the folder the file is written to."""
    out_dir = (out_dir or Path.cwd()).resolve()
    rows = []
    for row in report["rows"]:
        images, links = [], []
        for item in row["evidence"]:
            path = Path(item)
            if path.suffix.lower() in {".png", ".jpg", ".jpeg"}:
                uri = _data_uri(path)
                if uri:
                    images.append({"name": path.name, "uri": uri})
                    continue
            if path.exists():
                links.append({"name": path.name, "href": os.path.relpath(path.resolve(), out_dir)})
        rows.append({**row, "images": images, "links": links})
    from jinja2 import Environment, PackageLoader  # only the HTML report needs it

    template = Environment(
        loader=PackageLoader("agent.report", "templates"), autoescape=True
    ).get_template("report.html")
    return template.render(report=report, rows=rows, rate=format_rate)


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "table": render_table,
    "json": render_json,
    "csv": render_csv,
}


def render(
    report: dict[str, Any],
    fmt: str,
    out_dir: Path | None = None,
    redact: Callable[[str], str] | None = None,
) -> str:
    text = render_html(report, out_dir) if fmt == "html" else RENDERERS[fmt](report)
    return redact(text) if redact else text


def write_report(
    report: dict[str, Any],
    fmt: str,
    output: str | None,
    redact: Callable[[str], str] | None = None,
) -> None:
    """Write to `output` ("-" or None: stdout)."""
    if output in (None, "-"):
        text = render(report, fmt, Path.cwd(), redact)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report, fmt, path.parent, redact), encoding="utf-8")


# Inline so the report works from any install (package data lists no templates here).
