"""The HTML report: one self-contained file (inline CSS and script, screenshots embedded as
data URIs, traces linked relative to the file), in English or Chinese.

The page stays light with any number of rows: the rows travel as one JSON array and the
script puts into the page only those a person scrolls to (a few hundred at a time), so
opening, filtering and searching 10,000 rows takes well under a second.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
from collections import Counter
from pathlib import Path
from typing import Any

from agent.i18n import (
    _,
    format_datetime,
    format_duration,
    format_number,
    language,
    ngettext,
    pgettext,
    portal_word,
    reason_label,
    translations,
    using,
    yes_no,
)
from agent.i18n import shown as told_text
from agent.report.merge import shard_status
from agent.report.words import (
    error_kind_word,
    error_words,
    option_items,
    outcome_group,
    outcome_word,
    pause_reason,
    status_word,
    value_name,
)

# Failures shown first, each with its screenshot; any beyond these are in the table (their
# screenshots linked, not embedded, so a run where everything failed stays a sane size).
MAX_FAILURE_CARDS = 50
# Rows the script adds to the page at a time, as the reader scrolls.
ROWS_PER_CHUNK = 200

_IMAGES = {".png", ".jpg", ".jpeg", ".webp"}


def _data_uri(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _value_text(value: Any) -> str:
    """A flow's extracted value as words: yes/no, a dash for nothing, the portal's words (a
    reason, who cancelled) in the report's language, other text as it is."""
    if value is None or isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, str):
        return portal_word(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _error_text(row: dict[str, Any]) -> str:
    # The page shows the evidence itself: the message reads better without the paths.
    return error_words(row, evidence=False)


def _fallback_text(match: dict[str, Any]) -> str:
    where = match.get("step") or ""
    if match.get("line"):
        where = _("{step}, line {line}").format(step=where, line=match["line"])
    return _("Backup target #{number} used: {spec} ({where})").format(
        number=int(match.get("candidate") or 0) + 1, spec=match.get("spec") or "?", where=where
    )


def _evidence(paths: list[str], out_dir: Path, embed: bool) -> tuple[list, list]:
    """Screenshots (embedded when `embed`, else linked) and other files (linked, a trace
    with the command that opens it)."""
    images, links = [], []
    for item in paths:
        path = Path(item)
        if embed and path.suffix.lower() in _IMAGES:
            uri = _data_uri(path)
            if uri:
                images.append({"name": path.name, "uri": uri})
                continue
        if not path.exists():
            continue
        link = {"name": path.name, "href": os.path.relpath(path.resolve(), out_dir)}
        if path.suffix.lower() == ".zip":
            link["command"] = f"playwright show-trace {_shell_path(path.resolve())}"
        links.append(link)
    return images, links


def _shell_path(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


def _row_view(row: dict[str, Any], card: bool) -> dict[str, Any]:
    """One row as the script shows it, every value already in words. Short keys: with
    10,000 rows they are most of the page's weight."""
    details = []
    if row.get("shard"):  # a merged report's row names its shard
        details.append(_("Shard {shard}").format(shard=row["shard"]))
    if row["state"] == "failed" or row.get("error"):
        kind = error_kind_word(row.get("error_kind")) if row["state"] == "failed" else ""
        details.append(" — ".join(part for part in (kind, _error_text(row)) if part))
    if row.get("resumed"):
        details.append(_("Played again after an interruption."))
    if row.get("replays"):
        details.append(
            ngettext(
                "Played again once after the portal's trouble (unreachable or throttling); "
                "not counted as a try.",
                "Played again {count} times after the portal's trouble (unreachable or "
                "throttling); not counted as tries.",
                row["replays"],
            ).format(count=row["replays"])
        )
    details += [_fallback_text(match) for match in row.get("fallbacks") or []]
    values = dict(row.get("values") or {})
    if values.pop("reconciled_from", None):
        # The engine's reconcile rule settled it (agent.bulk.engine): the page said "already
        # cancelled", and its details showed this seller and this reason.
        details.append(
            _("The confirmation was missed; the order's page shows this run cancelled it.")
        )
    details += [
        _("{name}: {value}").format(name=value_name(name), value=_value_text(value))
        for name, value in sorted(values.items())
    ]
    counts = row.get("counts_toward_rate")
    return {
        "k": row["key"],
        "n": row["seq"],
        "o": row["outcome"] or row["state"],
        "w": outcome_word(row["outcome"] or row["state"]),
        "g": outcome_group(row),
        "r": reason_label(row.get("reason")),
        "m": row.get("memo") or "",
        "c": "" if counts is None else yes_no(counts),
        "a": row["attempts"],
        "t": "" if row.get("seconds") is None else format_duration(row["seconds"]),
        "d": details,
        "f": 1 if card else 0,
    }


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element: no "</script>" or "<!--" can end it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _rate_view(rate: dict[str, Any]) -> dict[str, Any] | None:
    from agent.report import format_rate

    if all(rate.get(name) is None for name in ("before", "after_projected", "after_measured")):
        return None
    limit = rate.get("limit")
    projected = rate.get("after_projected")
    measured = rate.get("after_measured")

    def shown(value: float | None, limit: float | None = None) -> str:
        return "—" if value is None else format_rate(value, limit)

    return {
        "before": shown(rate.get("before")),
        "projected": shown(projected, limit),
        "after": shown(measured, limit),
        "limit": "—" if limit is None else f"{limit:g}%",
        "projected_over": projected is not None and limit is not None and projected > limit,
        "after_over": measured is not None and limit is not None and measured > limit,
        "unofficial": rate.get("buyer_canceled_unofficial") or [],
    }


def view(report: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """What the template shows, in the language in force."""
    run = report["run"]
    failures = [row for row in report["rows"] if row["state"] == "failed"]
    carded = {row["key"] for row in failures[:MAX_FAILURE_CARDS]}
    cards = []
    for row in failures[:MAX_FAILURE_CARDS]:
        images, links = _evidence(row["evidence"], out_dir, embed=True)
        cards.append(
            {
                "key": row["key"],
                "kind": error_kind_word(row.get("error_kind")),
                "error": _error_text(row),
                "attempts": row["attempts"],
                "time": format_duration(row.get("seconds")),
                "reason": reason_label(row.get("reason")),
                "images": images,
                "links": links,
            }
        )
    rows = [_row_view(row, row["key"] in carded) for row in report["rows"]]
    # Linked, not embedded, evidence of the failures past the cards.
    for row, shown in zip(report["rows"], rows, strict=True):
        if row["state"] == "failed" and row["key"] not in carded:
            links = _evidence(row["evidence"], out_dir, embed=False)[1]
            shown["l"] = [{"name": link["name"], "href": link["href"]} for link in links]
    counted = Counter(row["o"] for row in rows)
    groups = {row["o"]: row["g"] for row in rows}
    order = sorted(counted, key=lambda code: (code != "failed", -counted[code], code))
    filters = [
        {
            "code": code,
            "word": outcome_word(code),
            "count": format_number(counted[code]),
            "group": groups[code],
        }
        for code in order
    ]
    options = option_items(run["options"])
    if run["params"]:
        options += [
            (pgettext("option", "Seller memo") if name == "memo" else name, _value_text(value))
            for name, value in sorted(run["params"].items())
        ]
    is_cancel = run.get("kind") == "cancel"
    columns = {
        "reason": any(row["r"] for row in rows),
        "memo": any(row["m"] for row in rows),
        "counts": is_cancel,
    }
    pauses = [
        {
            "start": format_datetime(pause.get("started_at")),
            "end": format_datetime(pause.get("ended_at"))
            if pause.get("ended_at")
            else _("not over"),
            "reason": pause_reason(pause.get("reason")),
        }
        for pause in report.get("pauses") or []
    ]
    summary = [
        ("total", _("Rows"), report["total"], ""),
        ("succeeded", _("Succeeded"), report["succeeded"], "good"),
        ("failed", _("Failed"), report["failed"], "bad" if report["failed"] else ""),
        ("not-ok", _("Other outcomes"), report["not_ok"], "warn" if report["not_ok"] else ""),
        ("pending", _("Not played yet"), report["pending"], "warn" if report["pending"] else ""),
        ("retried", _("Retried"), len(report["retried"]), ""),
        ("resumed", _("Played again after an interruption"), len(report["resumed"]), ""),
    ]
    if report.get("replayed"):
        # Not retries: the portal was unreachable or throttling, and no attempt was spent.
        label = _("Played again after the portal's trouble (not tries)")
        summary.append(("replayed", label, len(report["replayed"]), ""))
    return {
        "lang": language(),
        "report": report,
        # A sharded job's table and notes, in the page's language (JSON keeps the codes).
        "shards": [
            {**shard, "status": shard_status(shard["status"])} for shard in report.get("shards", [])
        ],
        "warnings": [told_text(note) for note in report.get("warnings", [])],
        "run": run,
        "is_cancel": is_cancel,
        "status": status_word(run["status"]),
        "finished": run["status"] == "finished" and not report["pending"],
        "started": format_datetime(run["created_at"]),
        "ended": format_datetime(run["finished_at"]) if run["finished_at"] else None,
        "took": format_duration(report["seconds"]) if report["seconds"] is not None else None,
        "speed": None
        if report.get("rows_per_second") is None
        else _("{rate} rows/s").format(rate=f"{report['rows_per_second']:.2f}"),
        "summary": [
            {"id": ident, "label": label, "value": format_number(value), "tone": tone}
            for ident, label, value, tone in summary
        ],
        "rate": _rate_view(report["rate"]),
        "options": options,
        "resume": report.get("resume") or {},
        "problems": report.get("problems") or [],
        "pauses": pauses,
        "failures": cards,
        "failure_kinds": [
            {"word": word, "count": format_number(count)}
            for word, count in Counter(
                error_kind_word(row.get("error_kind")) for row in failures
            ).most_common()
        ]
        if len(failures) > 1
        else [],
        "more_failures": len(failures) - len(cards),
        "filters": filters,
        "columns": columns,
        # Wide enough for the longest key on one line (up to a point: a longer one is cut,
        # whole in its tooltip).
        "key_chars": min(max([10, *(len(row["key"]) for row in report["rows"])]), 40),
        "key_label": pgettext("column", "Order ID") if is_cancel else pgettext("column", "Row"),
        "rows_json": _script_json({"rows": rows, "columns": columns, "chunk": ROWS_PER_CHUNK}),
        "texts_json": _script_json(
            {
                "showing": _("Showing {shown} of {total} rows"),
                "matching": _("Show all {count}"),
                "none": _("No row matches."),
                "failure": _("see the failure"),
            }
        ),
        "total_rows": format_number(report["total"]),
    }


def render_html(
    report: dict[str, Any], out_dir: Path | None = None, lang: str | None = None
) -> str:
    """The report as one HTML file, to be written in `out_dir` (traces are linked relative
    to it), in `lang` (default: the language in force)."""
    from jinja2 import Environment, PackageLoader  # only the HTML report needs Jinja

    out_dir = (out_dir or Path.cwd()).resolve()
    with using(lang) as chosen:
        environment = Environment(
            loader=PackageLoader("agent.report", "templates"),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
        )
        environment.install_gettext_translations(translations(chosen), newstyle=True)
        return environment.get_template("report.html").render(**view(report, out_dir))
