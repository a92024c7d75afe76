"""Where the tool keeps what it writes by default: saved sessions, the one-time-code ledger,
the journal. `$XDG_DATA_HOME/seller-agent` (`~/.local/share/seller-agent`), or, within
`data_home(folder)`, that folder: the demo keeps everything in its own folder that way."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

# Set for the length of a `with data_home(...)`: the tasks and threads a run starts inside it
# (asyncio copies the context into each) see it too.
_home: ContextVar[Path | None] = ContextVar("seller_agent_data_home", default=None)


def data_dir() -> Path:
    """The folder the tool writes its own files in."""
    chosen = _home.get()
    if chosen is not None:
        return chosen
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "seller-agent"


@contextlib.contextmanager
def data_home(folder: Path) -> Iterator[Path]:
    """Within this block, data_dir() is `folder`."""
    token = _home.set(Path(folder))
    try:
        yield Path(folder)
    finally:
        _home.reset(token)
