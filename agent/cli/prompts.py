"""Questions the commands ask a person at the terminal."""

from __future__ import annotations

import sys

from agent.bulk.engine import CanarySummary, ConfirmCallback


def canary_prompt(yes: bool) -> ConfirmCallback:
    """--yes goes on after the canary only when every canary row succeeded; otherwise a
    person at a terminal is asked, and anything but "y" stops (resumable)."""

    def confirm(summary: CanarySummary) -> bool:
        outcomes = ", ".join(f"{name}: {count}" for name, count in sorted(summary.outcomes.items()))
        print(
            f"canary: {summary.played} rows played ({outcomes}); {summary.remaining} remain",
            file=sys.stderr,
        )
        if yes and summary.all_ok:
            return True
        if not sys.stdin.isatty():
            return False
        answer = input("Go on with the remaining rows? [y/N] ")
        return answer.strip().lower() in {"y", "yes"}

    return confirm
