"""The one place that reads the wall clock, so tests can move it (time-machine)."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Attach UTC to a naive value read back from a database without time zones."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def whole_seconds(value: datetime) -> datetime:
    """``value`` in UTC, cut to the whole second: the one precision of work times (session
    starts, entries) and of the rates they are paid at."""
    return as_utc(value).replace(microsecond=0)
