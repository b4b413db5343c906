"""Calendar arithmetic of MODEL.md §2 and the instants of API.md §1 (China Standard Time)."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

CST = timezone(timedelta(hours=8), "CST")
ONE_DAY = timedelta(days=1)
ONE_MICROSECOND = timedelta(microseconds=1)
MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2099, 12, 31)


def add_months(d: date, n: int) -> date:
    """Same day-of-month ``n`` calendar months later, clamped to the month's last day
    (2026-01-31 + 1 → 2026-02-28)."""
    month_index = d.year * 12 + (d.month - 1) + n
    year, month0 = divmod(month_index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


@lru_cache(maxsize=65_536)  # pure, and asked for every record of every score
def default_valid_until(decided_on: date, validity_months: int) -> date:
    """Last day a record with default validity counts: add_months(decided_on, m) − 1 day."""
    return add_months(decided_on, validity_months) - ONE_DAY


def latest_explicit_valid_until(decided_on: date, max_months: int) -> date:
    """Latest ``valid_until`` a regulator may set for an explicit code."""
    return add_months(decided_on, max_months) - ONE_DAY


def earliest_repair_on(decided_on: date, repair_min_months: int) -> date:
    """max(decided_on + 1 day, add_months(decided_on, repair_min_months))."""
    return max(decided_on + ONE_DAY, add_months(decided_on, repair_min_months))


# ASCII digits only ([0-9], not \d, which also matches ２ or ٢) and the whole string
# only (fullmatch, not $, which also matches before a trailing newline).
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_INSTANT_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def parse_date(text: str) -> date:
    """Parse ``YYYY-MM-DD`` strictly; ValueError otherwise."""
    m = _DATE_RE.fullmatch(text)
    if not m:
        raise ValueError("not a date in YYYY-MM-DD form")
    return date(int(m[1]), int(m[2]), int(m[3]))


def parse_instant(text: str) -> datetime:
    """Parse an RFC 3339 instant with an offset and 0–6 fraction digits (API.md §1)."""
    m = _INSTANT_RE.fullmatch(text)
    if not m:
        raise ValueError("not an RFC 3339 instant with offset and at most 6 fraction digits")
    frac = (m[7] or "").ljust(6, "0")
    if m[8]:
        tz = timezone.utc
    else:
        hours, minutes = int(m[10]), int(m[11])
        if hours > 23 or minutes > 59:
            raise ValueError("offset out of range")
        delta = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-delta if m[9] == "-" else delta)
    return datetime(
        int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]), int(frac), tzinfo=tz
    )


def format_instant(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffff+08:00``: the only form the service writes."""
    # isoformat writes exactly this (four-digit years; tests/unit/test_dates_strict.py)
    # at a third of strftime's cost: every served score formats several instants.
    return dt.astimezone(CST).isoformat(timespec="microseconds")


def parse_stored_instant(text: str) -> datetime:
    """An instant the service wrote itself (:func:`format_instant`), read back from
    storage: ``datetime.fromisoformat`` reads that form exactly and in C. Input from
    outside goes through the strict :func:`parse_instant`."""
    return datetime.fromisoformat(text)


def to_micros(dt: datetime) -> int:
    """Microseconds since the Unix epoch, for exact comparison in storage."""
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)


def cst_date(dt: datetime) -> date:
    """The calendar date in China Standard Time of an instant."""
    return dt.astimezone(CST).date()


def cst_date_in_range(dt: datetime) -> bool:
    """Whether the date in CST of an instant lies in 2000-01-01 … 2099-12-31 (API.md §1).
    An instant whose CST date is no Python date at all (``9999-12-31T23:59:59-05:00``,
    ``0001-01-01T00:00:00+14:00``) lies outside too: converting it overflows, and that
    is an answer here, not an error."""
    try:
        return MIN_DATE <= cst_date(dt) <= MAX_DATE
    except OverflowError:
        return False
