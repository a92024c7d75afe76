"""One-time codes are used once: a portal like Seller Central accepts each 30-second code once
per account, so signing in twice within one step (a `login` right before a `cancel`, a bulk
run re-signing in) would be refused and counted as a failed attempt. Before typing a code the
tool waits, when it must, for a step this machine has not used yet for that account.

The steps used are remembered in memory and in a small private file in the user's data folder,
so two commands run one after the other keep to the rule too. The file holds a hash of the
portal, the account and the secret, never the secret itself.

A test portal that takes a code more than once (the bundled mock portal as its test helpers
start it) can say so through SELLER_AGENT_CODES_REUSABLE=1: the tool then types the current
code without waiting, so a test suite that signs in many times a minute does not wait half a
minute each time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
import weakref
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from agent.flow import totp
from agent.play import browser as browserlib

LEDGER = "totp-steps.json"
REUSABLE_ENV = "SELLER_AGENT_CODES_REUSABLE"
KEEP_STEPS = 2 * 60 * 24  # a day of steps: older entries are dropped when the file is written

_used: dict[str, int] = {}
# One lock per event loop: a lock that once waited belongs to its loop, and one process may
# run several loops one after another (a command per loop, tests).
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def ledger_key(portal: str, email: str, secret: str) -> str:
    parts = urlsplit(portal)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    # The secret as the codes are computed from it (agent.flow.totp reads it the same way):
    # in groups or in one piece, in any case, padded or not, it is one account's.
    key = secret.replace(" ", "").replace("-", "").upper().rstrip("=")
    return hashlib.sha256(f"{origin}\n{email.lower()}\n{key}".encode()).hexdigest()[:32]


def _read() -> dict[str, int]:
    try:
        data = json.loads((browserlib.data_dir() / LEDGER).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, int)}


def _write(entries: dict[str, int], now_step: int) -> None:
    kept = {k: v for k, v in entries.items() if v >= now_step - KEEP_STEPS}
    try:
        browserlib.write_private(browserlib.data_dir() / LEDGER, kept)
    except OSError:
        pass  # a read-only home: the rule still holds within this process


async def fresh_step(
    key: str,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_wait: Callable[[float], None] | None = None,
) -> int:
    """Wait until the current TOTP step is one not used yet for `key`, mark it used, and
    return it. Usually returns at once; at most one step (30 s) of waiting. With
    SELLER_AGENT_CODES_REUSABLE=1 (a portal that takes a code again), the current step."""
    if os.environ.get(REUSABLE_ENV) == "1":
        return int(clock() // totp.STEP_SECONDS)
    async with _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock()):
        while True:
            stored = _read()
            used = max(_used.get(key, -1), stored.get(key, -1))
            now = clock()
            step = int(now // totp.STEP_SECONDS)
            if step > used:
                break
            delay = (used + 1) * totp.STEP_SECONDS - now + 0.05
            if on_wait is not None:
                on_wait(delay)
            await sleep(delay)
        _used[key] = step
        stored[key] = step
        _write(stored, step)
        return step
