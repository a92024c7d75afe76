"""RFC 6238 codes as the portal checks them (SHA-1, 6 digits, 30-second steps).

The portal verifies; the tool computes. Each side has its own small implementation so that the
portal never imports the tool it is a test bed for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

STEP_SECONDS = 30
DIGITS = 6


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").replace("-", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8), casefold=True)


def code_at(secret: str, step: int) -> str:
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def totp(secret: str, at: float | None = None) -> str:
    """The code for the 30-second step containing `at` (default: now)."""
    moment = time.time() if at is None else at
    return code_at(secret, int(moment // STEP_SECONDS))


def matching_step(
    secret: str, code: str, at: float | None = None, skew_steps: int = 1
) -> int | None:
    """The time step whose code `code` is (the latest, when two steps share a code), within
    `skew_steps` steps of the one containing `at`; None when it is none of them."""
    code = (code or "").strip().replace(" ", "")
    # str.isdigit() is also true for full-width, Arabic-Indic and superscript digits, which
    # hmac.compare_digest refuses to compare (TypeError): only ASCII digits make a code.
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    moment = time.time() if at is None else at
    step = int(moment // STEP_SECONDS)
    found = None
    for candidate in range(step - skew_steps, step + skew_steps + 1):
        # Every candidate is compared, matched or not, so timing does not tell which matched.
        if hmac.compare_digest(code_at(secret, candidate), code):
            found = candidate
    return found


def verify(secret: str, code: str, at: float | None = None, skew_steps: int = 1) -> bool:
    """True when `code` matches the step at `at` or one of `skew_steps` steps either side."""
    return matching_step(secret, code, at, skew_steps) is not None
