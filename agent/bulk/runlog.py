"""A run's own log: runs/<run id>/run.log beside the journal, one timestamped line per thing
that happened to the run as a whole or to a row on its way (sign-ins, sign-ins again, pauses,
retries and their reasons), so "what happened at 12:01" can be answered afterwards.

The file is private (0600), appended to by every start and resume of the run, written line by
line (a killed process loses nothing written before), and every line passes through the
secrets' redaction first. Times are local, with their UTC offset."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

LOG_NAME = "run.log"


def log_stamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now().astimezone()
    return moment.isoformat(sep=" ", timespec="milliseconds")


class RunLog:
    def __init__(self, path: Path, *, redact: Callable[[str], str] | None = None) -> None:
        self.path = Path(path)
        self.redact = redact or (lambda text: text)
        self._file: TextIO | None = None

    def open(self) -> RunLog:
        from agent.play.browser import private_dir

        private_dir(self.path.parent)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        # The mode given to open() only applies to a new file; an older one is tightened too.
        os.fchmod(descriptor, 0o600)
        self._file = os.fdopen(descriptor, "a", encoding="utf-8", buffering=1)
        return self

    def write(self, message: str) -> None:
        if self._file is None:
            return
        text = " ".join(self.redact(str(message)).split("\n"))
        # A full disk must not end the run: the journal matters more than the log.
        with contextlib.suppress(OSError, ValueError):
            self._file.write(f"{log_stamp()}  {text}\n")

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def __enter__(self) -> RunLog:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
