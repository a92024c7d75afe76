"""The portal's own clock (real time plus a stored offset that tests and demos advance) and
the sweep that applies time-based rules: auto-cancellation and Pending expiry."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mock_portal import db

PRESETS = ("seed-30d", "amazon-7bd")
DEFAULT_PRESET = "seed-30d"
DEFAULT_PENDING_EXPIRY_DAYS = 21
DEFAULT_BUYER_CANCEL_MINUTES = 30

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, ISO_FORMAT).replace(tzinfo=UTC)


def real_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def offset_seconds(conn: sqlite3.Connection) -> float:
    return float(db.get_meta(conn, "clock_offset_seconds", "0") or 0)


def now(conn: sqlite3.Connection) -> datetime:
    """The portal's time: aware UTC, whole seconds (times are stored to the second)."""
    return (real_now() + timedelta(seconds=offset_seconds(conn))).replace(microsecond=0)


@dataclass(frozen=True)
class BusinessDays:
    """A number of Monday-to-Friday days; adding it to a datetime skips weekends."""

    days: int

    def __radd__(self, moment: datetime) -> datetime:
        return add_business_days(moment, self.days)


def add_business_days(moment: datetime, days: int) -> datetime:
    result = moment
    remaining = days
    while remaining > 0:
        result += timedelta(days=1)
        if result.weekday() < 5:
            remaining -= 1
    return result


_DURATION_PART = re.compile(r"([0-9]+)(bd|d|h|m|s)")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# Far beyond any test or demo, and far inside datetime's range (year 9999): a larger step
# would only overflow, or (in business days) spin through millions of days.
MAX_ADVANCE_DAYS = 36_525
MAX_ADVANCE_BUSINESS_DAYS = 26_000


def parse_duration(text: str) -> timedelta | BusinessDays:
    """ "31d", "12h", "90m", "45s", "1d12h" -> timedelta; "7bd" -> BusinessDays(7).

    Raises ValueError naming the text when it is not a duration."""
    cleaned = (text or "").strip().lower().replace(" ", "")
    shown = repr(text if len(text or "") <= 40 else text[:40] + "...")
    parts = _DURATION_PART.findall(cleaned)
    if not cleaned or "".join(number + unit for number, unit in parts) != cleaned:
        raise ValueError(
            f"not a duration: {shown} (use a number and a unit: 31d, 12h, 90m, 45s, 7bd)"
        )
    # Longer numbers are far past the cap anyway, and thousands of digits would hit Python's
    # limit on int() (a ValueError with a confusing message). The sum is taken in integers,
    # which cannot overflow the way adding timedeltas does.
    if any(len(number) > 12 for number, _ in parts):
        raise ValueError(f"{shown} is too long (at most {MAX_ADVANCE_DAYS}d)")
    if any(unit == "bd" for _, unit in parts):
        if len(parts) != 1:
            raise ValueError(f"not a duration: {shown} (business days cannot be combined)")
        days = int(parts[0][0])
        if days > MAX_ADVANCE_BUSINESS_DAYS:
            raise ValueError(f"{shown} is too long (at most {MAX_ADVANCE_BUSINESS_DAYS}bd)")
        return BusinessDays(days)
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if seconds > MAX_ADVANCE_DAYS * 86400:
        raise ValueError(f"{shown} is too long (at most {MAX_ADVANCE_DAYS}d)")
    return timedelta(seconds=seconds)


def preset(conn: sqlite3.Connection) -> str:
    value = db.get_meta(conn, "auto_cancel", DEFAULT_PRESET) or DEFAULT_PRESET
    return value if value in PRESETS else DEFAULT_PRESET


def auto_cancel_deadline(ship_by: datetime, preset_name: str = DEFAULT_PRESET) -> datetime:
    """When an order not yet shipped is cancelled by the marketplace.

    "seed-30d": 30 calendar days after ship-by. "amazon-7bd": 7 business days (Mon-Fri) after
    ship-by, Amazon's rule since 2020 for orders not confirmed as shipped."""
    if preset_name == "amazon-7bd":
        return add_business_days(ship_by, 7)
    if preset_name == "seed-30d":
        return ship_by + timedelta(days=30)
    raise ValueError(
        f"unknown auto-cancel preset {preset_name!r} (use one of {', '.join(PRESETS)})"
    )


def pending_expiry_days(conn: sqlite3.Connection) -> int:
    return int(db.get_meta(conn, "pending_expiry_days", None) or DEFAULT_PENDING_EXPIRY_DAYS)


def buyer_cancel_minutes(conn: sqlite3.Connection) -> int:
    return int(db.get_meta(conn, "buyer_cancel_minutes", None) or DEFAULT_BUYER_CANCEL_MINUTES)


def move(conn: sqlite3.Connection, delta: timedelta | BusinessDays | str) -> datetime:
    """Move the portal clock forward; returns the new time. The clock never goes back:
    history would stop making sense. (orders.advance_clock also runs the sweep.)"""
    if isinstance(delta, str):
        delta = parse_duration(delta)
    with db.transaction(conn):
        before = now(conn)
        try:
            target = before + delta
        except OverflowError:
            raise ValueError("the portal clock cannot go past the year 9999") from None
        if target < before:
            raise ValueError("the portal clock only moves forward")
        new_offset = offset_seconds(conn) + (target - before).total_seconds()
        db.set_meta(conn, "clock_offset_seconds", new_offset)
    return target
