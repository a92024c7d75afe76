"""RFC 6238 time-based one-time passwords (SHA-1, 6 digits, 30-second steps)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time

STEP_SECONDS = 30
DIGITS = 6


class BadSecret(ValueError):
    """The TOTP secret is not valid base32."""


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").replace("-", "").upper()
    cleaned += "=" * (-len(cleaned) % 8)
    try:
        return base64.b32decode(cleaned, casefold=True)
    except (binascii.Error, ValueError) as error:
        raise BadSecret("TOTP secret is not valid base32") from error


def hotp(secret: str, counter: int) -> str:
    digest = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def totp(secret: str, at: float | None = None) -> str:
    """The code for the 30-second step containing `at` (default: now)."""
    moment = time.time() if at is None else at
    return hotp(secret, int(moment // STEP_SECONDS))


def verify(secret: str, code: str, at: float | None = None, skew_steps: int = 1) -> bool:
    """True when `code` matches the step at `at` or one of `skew_steps` steps either side."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return False
    moment = time.time() if at is None else at
    step = int(moment // STEP_SECONDS)
    return any(
        hmac.compare_digest(hotp(secret, step + delta), code)
        for delta in range(-skew_steps, skew_steps + 1)
    )
