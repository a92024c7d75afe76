"""The demo seller's sign-in details, and TOTP codes that are never handed out twice.

The portal accepts a code once per account (RFC 6238 section 5.2 asks verifiers to refuse a
second use), so two sign-ins in the same 30-second step cannot both use "the current code".
Every code this process uses - the ones `totp_code()` hands to a test and the one the
plugin's own sign-in types - is noted here per secret, and `totp_code()` takes the next one
from a later step: the following step's code (the portal accepts one step of clock skew),
else the code after a short wait. The plugin's sign-in computes the current code itself (it
is seller-agent's login flow); when the portal refuses it as used, it waits for a step
nobody used and tries once more.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

MASK = "***"
# RFC 6238's step; agent.flow.totp computes the codes, imported only when one is needed (the
# plugin module is imported by every pytest run, so it keeps its imports light).
STEP_SECONDS = 30

_lock = threading.Lock()
_last_step: dict[str, int] = {}


def _step_now() -> int:
    return int(time.time() // STEP_SECONDS)


def _sleep_until_step(step: int) -> None:
    time.sleep(max(0.0, step * STEP_SECONDS - time.time()) + 0.05)


def fresh_code(secret: str) -> str:
    """A code for `secret` that this process has not used yet (waits at most one step)."""
    from agent.flow import totp

    with _lock:
        while True:
            now = _step_now()
            step = max(now, _last_step.get(secret, now - 1) + 1)
            if step <= now + 1:
                _last_step[secret] = step
                return totp.hotp(secret, step)
            _sleep_until_step(step - 1)


def wait_for_unused_step(secret: str) -> None:
    """Return once the current step's code has not been used here: the moment a sign-in
    that computes "the current code" itself may try again."""
    with _lock:
        last = _last_step.get(secret)
        if last is not None and last >= _step_now():
            _sleep_until_step(last + 1)


def note_used(secret: str) -> None:
    """A sign-in just ended: it may have used the code of any step up to the current one."""
    with _lock:
        _last_step[secret] = max(_last_step.get(secret, 0), _step_now())


@dataclass(frozen=True)
class SellerCredentials:
    """A seller account of the portal: `email`, `password`, `totp_secret`."""

    email: str
    password: str
    totp_secret: str

    def totp_code(self) -> str:
        """A two-step verification code the portal will accept now, never one already used
        in this test run (so signing in by hand works next to the plugin's own sign-in)."""
        return fresh_code(self.totp_secret)

    def __repr__(self) -> str:
        return f"SellerCredentials(email={self.email!r}, password={MASK}, totp_secret={MASK})"


DEMO = SellerCredentials(
    email="seller@example.com", password="demo-password", totp_secret="JBSWY3DPEHPK3PXP"
)
