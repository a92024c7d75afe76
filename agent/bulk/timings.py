"""Where a command's time goes, printed on stderr as one `timings:` line when the
SELLER_AGENT_TIMINGS environment variable is set (bench/single_cancel.py reads it)."""

from __future__ import annotations

import os
import sys
import time


class Timings:
    def __init__(self) -> None:
        self.parts: dict[str, float] = {}
        self._last = time.monotonic()

    def mark(self, name: str) -> None:
        """Charge the time since the last mark (or since the start) to `name`."""
        now = time.monotonic()
        self.parts[name] = self.parts.get(name, 0.0) + now - self._last
        self._last = now

    def report(self) -> None:
        if os.environ.get("SELLER_AGENT_TIMINGS"):
            text = " ".join(f"{name}={seconds:.3f}" for name, seconds in self.parts.items())
            print(f"timings: {text}", file=sys.stderr, flush=True)
