"""The words a person reads for the report's codes: outcomes, run statuses, kinds of error,
run options. Codes stay codes in JSON and CSV; these are for the table and the HTML page.

Where the portal has a word for the same fact, the Chinese is the portal's (已取消 is what its
zh-CN pages call a cancelled order), so the report and the portal say the same thing.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from agent.i18n import N_, _, format_duration, language, pgettext, retell, using, yes_no
from agent.play.notes import EVIDENCE_NOTE


@cache
def _words(lang: str) -> dict[str, dict[str, str]]:
    """Every word of the tables below in `lang`, looked up once (a report of 10,000 rows
    asks for them 10,000 times)."""
    with using(lang):
        return {
            "outcome": {
                "cancelled": pgettext("outcome", "Cancelled"),
                "already_cancelled": pgettext("outcome", "Already cancelled"),
                "not_cancellable": pgettext("outcome", "Cannot be cancelled"),
                "not_found": pgettext("outcome", "Order not found"),
                "would_run": pgettext("outcome", "Would be cancelled (dry run)"),
                "failed": pgettext("outcome", "Failed"),
                "pending": pgettext("outcome", "Not played yet"),
                "running": pgettext("outcome", "Interrupted while playing"),
                "skipped": pgettext("outcome", "Skipped"),
                "collected": pgettext("outcome", "Collected"),
                "read": pgettext("outcome", "Read"),
                "signed_in": pgettext("outcome", "Signed in"),
            },
            "status": {
                "running": pgettext("run status", "Running, or ended without finishing"),
                "finished": pgettext("run status", "Finished"),
                "interrupted": pgettext("run status", "Interrupted"),
                "stopped": pgettext("run status", "Stopped"),
                "paused": pgettext("run status", "Paused"),
            },
            "error kind": {
                "": pgettext("error kind", "Error"),
                "timeout": pgettext("error kind", "The portal did not answer in time"),
                "http_5xx": pgettext("error kind", "The portal had an error (HTTP 5xx)"),
                "http_429": pgettext("error kind", "The portal asked to slow down (HTTP 429)"),
                "network": pgettext("error kind", "Network error"),
                "session": pgettext("error kind", "Signed out by the portal"),
                "selector": pgettext("error kind", "The page did not have what the flow looks for"),
                "step": pgettext("error kind", "The page was not as the flow expects"),
                "blocked": pgettext("error kind", "The portal blocked the browser"),
            },
            # Values the bundled flows read from the page (the portal's labels where it has one).
            "value": {
                "buyer_requested": pgettext("value", "Buyer asked to cancel"),
                "cancelled_by": pgettext("value", "Canceled by"),
                "cancel_reason": pgettext("value", "Cancellation reason"),
                "order_ids": pgettext("value", "Order IDs"),
            },
        }


def outcome_word(code: str | None) -> str:
    """An outcome (or a row's state when it has none) as a word; a flow's own outcome that
    has no word here is shown as its code with spaces."""
    if not code:
        return "—"
    return _words(language())["outcome"].get(code) or code.replace("_", " ")


def status_word(code: str | None) -> str:
    """A run's status as a word."""
    return _words(language())["status"].get(code or "") or code or "—"


def error_kind_word(code: str | None) -> str:
    """Why a row failed, in words a seller can act on."""
    return _words(language())["error kind"].get(code or "") or (code or "").replace("_", " ")


def error_words(row: dict[str, Any], evidence: bool = True) -> str:
    """A row's error in the language in force: told again from its message id and values
    when the journal kept them (agent.i18n.told_record), else the English it kept. Without
    `evidence`, the note naming the files left as evidence is left out (a page that shows
    the files themselves)."""
    english = row.get("error") or ""
    record = row.get("error_told")
    if not evidence:
        english = _EVIDENCE_SAID.sub("", english)
        if isinstance(record, dict) and record.get("message") == EVIDENCE_NOTE:
            inner = (record.get("values") or {}).get("error")
            record = inner if isinstance(inner, dict) else None
    return retell(record, english) or ""


# The note the player appends to a failure's message in English (EVIDENCE_NOTE).
_EVIDENCE_SAID = re.compile(r"\s*\(evidence: [^()]*\)\s*$")


# How the engine writes a pause's reason in the journal (always in English: agent/bulk/engine.py).
_THROTTLED = re.compile(r"^throttled: HTTP 429, Retry-After (?P<hold>.+)$")
_UNREACHABLE = re.compile(r"^portal unreachable \((?P<detail>[^()]*)\)$")
_GAVE_UP = re.compile(
    r"^portal unreachable \((?P<detail>[^()]*)\); the run stopped \(--max-outage\)$"
)
_NEVER = re.compile(r"^portal never answered \((?P<detail>[^()]*)\); the run stopped$")
# What the outage probe met, in its words (agent/bulk/outage.py), else an HTTP status.
_PROBE_DETAILS = {
    N_("timed out"),
    N_("connection refused"),
    N_("name not resolved"),
    N_("connection reset"),
}
_ENGLISH_SPAN = re.compile(
    r"^(?:(?P<h>\d+) h)? ?(?:(?P<min>\d+) min)? ?(?:(?P<s>\d+(?:\.\d+)?) s)?$"
)


def pause_reason(reason: str | None) -> str:
    """A pause's reason, kept in English by the journal, in the language in force; a reason
    of another shape as it was written."""
    if not reason:
        return "—"
    throttled = _THROTTLED.match(reason)
    if throttled:
        span = _ENGLISH_SPAN.match(throttled["hold"])
        hold = throttled["hold"]
        if span and any(span.groups()):
            seconds = (
                int(span["h"] or 0) * 3600 + int(span["min"] or 0) * 60 + float(span["s"] or 0)
            )
            hold = format_duration(seconds)
        return _("throttled: HTTP 429, Retry-After {hold}").format(hold=hold)
    for pattern, message in (
        (_UNREACHABLE, N_("portal unreachable ({detail})")),
        (_GAVE_UP, N_("portal unreachable ({detail}); the run stopped (--max-outage)")),
        (_NEVER, N_("portal never answered ({detail}); the run stopped")),
    ):
        found = pattern.match(reason)
        if found:
            detail = found["detail"]
            return _(message).format(detail=_(detail) if detail in _PROBE_DETAILS else detail)
    return reason


def value_name(name: str) -> str:
    """The name of a value a flow read from the page, in words; another flow's value keeps
    its name."""
    return _words(language())["value"].get(name, name)


def outcome_group(row: dict[str, Any]) -> str:
    """The colour of a row: ok, failed, other (an outcome that is not a success), pending."""
    if row["state"] == "failed":
        return "failed"
    if row["state"] in ("pending", "running"):
        return "pending"
    if row["state"] == "skipped":
        return "other"
    return "ok" if row["ok"] else "other"


def option_items(options: dict[str, Any]) -> list[tuple[str, str]]:
    """The run's options a person may want to know, as (label, value) words, in a fixed
    order; options the run did not record are left out."""
    shown: list[tuple[str, str]] = []

    def add(name: str, label: str, value: Any) -> None:
        if name in options:
            shown.append((label, value))

    add("dry_run", pgettext("option", "Dry run"), yes_no(bool(options.get("dry_run"))))
    add("workers", pgettext("option", "Workers"), str(options.get("workers")))
    add("attempts", pgettext("option", "Tries per row"), str(options.get("attempts")))
    rate = options.get("rate")
    add(
        "rate",
        pgettext("option", "Pace"),
        pgettext("option", "as fast as possible")
        if not rate
        else pgettext("option", "{per_minute} rows a minute").format(
            per_minute=f"{float(rate) * 60:g}"
        ),
    )
    failures = options.get("max_failures")
    add(
        "max_failures",
        pgettext("option", "Stop after failures"),
        pgettext("option", "never") if failures is None else str(failures),
    )
    add(
        "recycle_every",
        pgettext("option", "Fresh browser context after"),
        pgettext("option", "{count} rows").format(count=options.get("recycle_every")),
    )
    canary = options.get("canary")
    add(
        "canary",
        pgettext("option", "Canary (rows played first, then asked)"),
        pgettext("option", "{count} rows").format(count=canary) if canary else yes_no(False),
    )
    add("trace", pgettext("option", "Trace of failures"), yes_no(bool(options.get("trace"))))
    add(
        "block_media",
        pgettext("option", "Images blocked"),
        yes_no(bool(options.get("block_media"))),
    )
    return shown
