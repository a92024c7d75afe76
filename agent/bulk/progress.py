"""Progress of a bulk run on stderr: rows done/total, rate, ETA, failures. Silent when stderr
is not a terminal (logs and pipes get the summary only) or when asked to be quiet."""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from agent.i18n import _, ngettext, pgettext


class BulkProgress:
    def __init__(self, total: int, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and stream.isatty()
        self.failures = 0
        self.retries = 0
        self.pause: str | None = None  # why the whole run is waiting, while it is
        self._progress: Progress | None = None
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn(_("ETA")),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=Console(file=stream),
                transient=False,
            )
            self._task = self._progress.add_task(_("rows"), total=total, rate="", status="")

    def __enter__(self) -> BulkProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _refresh(self, advance: int = 0) -> None:
        if self._progress is None:
            return
        task = self._progress.tasks[0]
        speed = task.speed
        parts = []
        if self.failures:
            parts.append(_("{count} failed").format(count=self.failures))
        if self.retries:
            parts.append(
                ngettext("{count} retry", "{count} retries", self.retries).format(
                    count=self.retries
                )
            )
        if self.pause:
            parts.append(_("paused: {why}").format(why=self.pause))
        status = pgettext("list", ", ").join(parts)
        self._progress.update(
            self._task,
            advance=advance,
            # The speed in the words of the summary after the run ("2.5 rows/s", 每秒 2.5 行).
            rate=_("{rate} rows/s").format(rate=f"{speed:.1f}") if speed else "",
            status=status,
        )

    def row_finished(self, ok: bool) -> None:
        if not ok:
            self.failures += 1
        self._refresh(advance=1)

    def row_retried(self) -> None:
        self.retries += 1
        self._refresh()

    def paused(self, why: str) -> None:
        """The whole run waits (the portal is gone, or throttling): say so on the bar, so it
        does not look frozen."""
        self.pause = why
        self._refresh()

    def resumed(self) -> None:
        self.pause = None
        self._refresh()

    def note(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message)
