"""Injectable faults for reliability tests: HTTP 500s, latency, stalls, session expiry and 429
bursts, applied to every page request (never to /mock/api/ or /static/, so tests can always
inspect and undo them).

Faults live in the process's memory: they describe a transient condition of the running
server, and a restarted server starts healthy. Set them with POST /mock/api/faults.

Settings (all optional; POST replaces the whole set, `{}` clears):
- `error_rate` (0..1): answer that share of requests with HTTP 500; `error_every` N: every
  Nth request instead (deterministic).
- `latency_ms`: delay every request.
- `stall_every` N (or `stall_rate` 0..1): the request is accepted and not answered for
  `stall_seconds` (default 30), then gets HTTP 504; clients must time out first.
- `expire_session_every` N: every Nth request finds its session expired (sign-in again).
- `burst_429` N: the next N requests get HTTP 429 with `Retry-After: retry_after` (default 1).
- `paths`: only requests whose path starts with one of these prefixes are affected;
  `methods`: only these HTTP methods.
- `seed`: seed for the random choices of `error_rate` and `stall_rate`.

Sign-in interstitials and blocking (pages of their own; see mock_portal/views/interstitials.py):
- `signin_interstitials`: any of "captcha" (the password step asks for the characters in a
  picture, `captcha_text`), "cvf" (a verification code emailed to the seller, at /ap/cvf),
  "accountfixup" (add a phone number, skippable with "Not now", at /ap/accountfixup) and
  "account_picker" (choose an account and marketplace; `picker_accounts` of them).
- `blocked`: every page request (within `paths` and `methods`) answers HTTP 403 with a page
  saying automated access is blocked (element id `automated-access-blocked`).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

EXEMPT_PREFIXES = ("/mock/api/", "/static/")
INTERSTITIALS = ("captcha", "cvf", "accountfixup", "account_picker")
MAX_PICKER_ACCOUNTS = 5


class FaultError(ValueError):
    """A fault setting that makes no sense; the message names the field."""


@dataclass
class FaultSettings:
    error_rate: float = 0.0
    error_every: int = 0
    latency_ms: int = 0
    stall_every: int = 0
    stall_rate: float = 0.0
    stall_seconds: float = 30.0
    expire_session_every: int = 0
    burst_429: int = 0
    retry_after: int = 1
    paths: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    seed: int | None = None
    signin_interstitials: list[str] = field(default_factory=list)
    captcha_text: str = "K7PQ3X"
    picker_accounts: int = 1
    blocked: bool = False

    @classmethod
    def parse(cls, data: Any) -> FaultSettings:
        if not isinstance(data, dict):
            raise FaultError("faults must be a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultError(
                f"unknown fault setting {unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
        settings = cls()
        for name in ("error_rate", "stall_rate"):
            if name in data:
                value = _number(data, name, float)
                if not 0 <= value <= 1:
                    raise FaultError(f"{name} must be between 0 and 1, got {value}")
                setattr(settings, name, value)
        for name, high in _WHOLE_LIMITS.items():
            if name in data:
                value = _number(data, name, int)
                if value < 0:
                    raise FaultError(f"{name} must not be negative, got {str(value)[:40]}")
                if value > high:
                    raise FaultError(f"{name} must be at most {high}, got {str(value)[:40]}")
                setattr(settings, name, value)
        if "stall_seconds" in data:
            value = _number(data, "stall_seconds", float)
            if not 0 <= value <= 600:
                raise FaultError(f"stall_seconds must be between 0 and 600, got {value}")
            settings.stall_seconds = value
        for name in ("paths", "methods"):
            if name in data:
                value = data[name]
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise FaultError(f"{name} must be a list of strings")
                if len(value) > MAX_LIST or any(len(v) > MAX_LIST_ENTRY for v in value):
                    raise FaultError(
                        f"{name} must have at most {MAX_LIST} entries of at most "
                        f"{MAX_LIST_ENTRY} characters"
                    )
                setattr(settings, name, [v.upper() for v in value] if name == "methods" else value)
        if data.get("seed") is not None:
            settings.seed = _number(data, "seed", int)
            if not 0 <= settings.seed < 2**63:
                raise FaultError(f"seed must be between 0 and {2**63 - 1}")
        if "signin_interstitials" in data:
            value = data["signin_interstitials"]
            if not isinstance(value, list) or not all(v in INTERSTITIALS for v in value):
                raise FaultError(
                    f"signin_interstitials must be a list of: {', '.join(INTERSTITIALS)}"
                )
            settings.signin_interstitials = list(dict.fromkeys(value))
        if "captcha_text" in data:
            value = data["captcha_text"]
            if (
                not isinstance(value, str)
                or not (value.isascii() and value.isalnum())
                or not 1 <= len(value) <= 12
            ):
                raise FaultError("captcha_text must be 1 to 12 letters or digits")
            settings.captcha_text = value.upper()
        if "picker_accounts" in data:
            value = _number(data, "picker_accounts", int)
            if not 1 <= value <= MAX_PICKER_ACCOUNTS:
                raise FaultError(f"picker_accounts must be between 1 and {MAX_PICKER_ACCOUNTS}")
            settings.picker_accounts = value
        if "blocked" in data:
            if not isinstance(data["blocked"], bool):
                raise FaultError("blocked must be true or false")
            settings.blocked = data["blocked"]
        return settings


# Upper bounds of the whole-number settings. The counters live in 64-bit shared memory, and
# a latency or Retry-After beyond these only hangs a test run.
_WHOLE_LIMITS = {
    "error_every": 10**9,
    "latency_ms": 600_000,
    "stall_every": 10**9,
    "expire_session_every": 10**9,
    "burst_429": 10**9,
    "retry_after": 86_400,
}
MAX_LIST = 100
MAX_LIST_ENTRY = 200


def _number(data: dict, name: str, kind: type) -> Any:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"{name} must be a number, got {str(value)[:40]!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise FaultError(f"{name} must be a finite number, got {value!r}")
    if kind is int and value != int(value):
        raise FaultError(f"{name} must be a whole number, got {value!r}")
    return kind(value)


@dataclass
class Decision:
    """What to do to one request."""

    latency: float = 0.0
    status: int | None = None  # 500, 504 (after a stall) or 429
    stall: float = 0.0
    retry_after: int | None = None
    expire_session: bool = False
    blocked: bool = False


_COUNTERS = ("requests", "errors", "stalls", "expired", "throttled", "blocked")
_BURST_LEFT = len(_COUNTERS)
_SETTINGS_BYTES = 8192


class FaultState:
    """The current faults of one app, and the counters that make "every Nth" deterministic.

    Kept in shared memory created before the server forks its worker processes, so a fault
    set through the API (answered by one worker) applies to all of them and "every Nth
    request" counts requests across them. The random choices of error_rate and stall_rate
    are per process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._lock = context.Lock()
        self._blob = context.Array("c", _SETTINGS_BYTES, lock=False)
        self._version = context.Value("q", 0, lock=False)
        self._counts = context.Array("q", len(_COUNTERS) + 1, lock=False)
        self._seen_version = -1
        self.settings = FaultSettings()
        self._rng = random.Random()
        self._blob.value = b"{}"

    def set(self, settings: FaultSettings) -> None:
        encoded = json.dumps(asdict(settings)).encode()
        if len(encoded) >= _SETTINGS_BYTES:
            raise FaultError(f"fault settings too large ({len(encoded)} bytes)")
        with self._lock:
            self._blob.value = encoded
            self._version.value += 1
            for index in range(len(_COUNTERS)):
                self._counts[index] = 0
            self._counts[_BURST_LEFT] = settings.burst_429
            self._refresh()

    def _refresh(self) -> None:
        """Pick up settings another process set (the caller holds the lock)."""
        if self._seen_version != self._version.value:
            self._seen_version = self._version.value
            self.settings = FaultSettings(**json.loads(self._blob.value or b"{}"))
            self._rng = random.Random(self.settings.seed)

    def describe(self) -> dict:
        with self._lock:
            self._refresh()
            return {
                "faults": asdict(self.settings),
                "counters": {name: self._counts[i] for i, name in enumerate(_COUNTERS)},
                "burst_429_left": self._counts[_BURST_LEFT],
            }

    @property
    def counters(self) -> dict[str, int]:
        return self.describe()["counters"]

    def current(self) -> FaultSettings:
        """The settings now in force (set by any worker process)."""
        with self._lock:
            self._refresh()
            return self.settings

    def applies(self, path: str, method: str) -> bool:
        if path.startswith(EXEMPT_PREFIXES):
            return False
        settings = self.settings
        if settings.paths and not path.startswith(tuple(settings.paths)):
            return False
        return not settings.methods or method.upper() in settings.methods

    def _count(self, name: str) -> int:
        index = _COUNTERS.index(name)
        self._counts[index] += 1
        return self._counts[index]

    def decide(self, path: str, method: str) -> Decision:
        decision = Decision()
        if path.startswith(EXEMPT_PREFIXES):
            return decision
        with self._lock:
            self._refresh()
            if self._version.value == 0 or not self.applies(path, method):
                return decision
            settings = self.settings
            count = self._count("requests")
            decision.latency = settings.latency_ms / 1000
            if settings.blocked:
                self._count("blocked")
                decision.blocked = True
                return decision
            if self._counts[_BURST_LEFT] > 0:
                self._counts[_BURST_LEFT] -= 1
                self._count("throttled")
                decision.status = 429
                decision.retry_after = settings.retry_after
                return decision
            if (settings.stall_every and count % settings.stall_every == 0) or (
                settings.stall_rate and self._rng.random() < settings.stall_rate
            ):
                self._count("stalls")
                decision.stall = settings.stall_seconds
                decision.status = 504
                return decision
            if (settings.error_every and count % settings.error_every == 0) or (
                settings.error_rate and self._rng.random() < settings.error_rate
            ):
                self._count("errors")
                decision.status = 500
                return decision
            if settings.expire_session_every and count % settings.expire_session_every == 0:
                self._count("expired")
                decision.expire_session = True
        return decision


def state(app: Any) -> FaultState:
    return app.extensions["mock_portal_faults"]


def init_app(app: Any) -> None:
    from flask import Response, g, render_template, request

    fault_state = FaultState()
    app.extensions["mock_portal_faults"] = fault_state

    @app.before_request
    def _apply_faults() -> Response | None:
        decision = fault_state.decide(request.path, request.method)
        if decision.latency:
            time.sleep(decision.latency)
        if decision.stall:
            # Holding the connection open without a byte of answer is what a hung upstream
            # looks like to the client; the eventual 504 only frees the server thread.
            time.sleep(decision.stall)
        if decision.blocked:
            # 403, not 5xx: a client that retries server errors must not retry this one.
            return Response(render_template("faults/blocked.html"), status=403)
        if decision.status == 429:
            return Response(
                "Too many requests. Please try again later.\n",
                status=429,
                headers={"Retry-After": str(decision.retry_after)},
                mimetype="text/plain",
            )
        if decision.status == 504:
            return Response(
                "Gateway timeout (injected stall).\n", status=504, mimetype="text/plain"
            )
        if decision.status == 500:
            return Response(
                "Internal server error (injected fault).\n", status=500, mimetype="text/plain"
            )
        if decision.expire_session:
            g.fault_expire_session = True
        return None
