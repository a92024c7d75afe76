"""Questions the commands ask a person at the terminal."""

from __future__ import annotations

import sys

from agent.bulk.engine import CanarySummary, ConfirmCallback
from agent.i18n import DEFAULT_LANG, _, language, ngettext, pgettext
from agent.report.words import outcome_word


def shown_outcome(code: str) -> str:
    """An outcome as the terminal shows it: its code in English, the portal's word in
    Chinese."""
    return code if language() == DEFAULT_LANG else outcome_word(code)


def canary_prompt(yes: bool) -> ConfirmCallback:
    """--yes goes on after the canary only when every canary row succeeded; otherwise a
    person at a terminal is asked, and anything but "y" stops (resumable)."""

    def confirm(summary: CanarySummary) -> bool:
        outcomes = pgettext("list", ", ").join(
            _("{outcome}: {count}").format(outcome=shown_outcome(name), count=count)
            for name, count in sorted(summary.outcomes.items())
        )
        print(
            ngettext(
                "canary: {played} row played ({outcomes}); {remaining} remain",
                "canary: {played} rows played ({outcomes}); {remaining} remain",
                summary.played,
            ).format(played=summary.played, outcomes=outcomes, remaining=summary.remaining),
            file=sys.stderr,
        )
        if yes and summary.all_ok:
            return True
        if not sys.stdin.isatty():
            return False
        answer = input(_("Go on with the remaining rows? [y/N] "))
        # "y" is understood in every language (a Chinese keyboard types it too).
        return answer.strip().lower() in {"y", "yes", _("y"), _("yes")}

    return confirm
