"""Local days, weeks and months, weekly wall-clock moments, and the one check of a
time-zone name: the calendar every domain reckons in.

Functions take a zone (an IANA name, or a ``ZoneInfo``; an unknown name reads as UTC,
though none is stored: the API and the services check names with ``zone_name``) and
answer local dates or UTC instants. A wall-clock time is read as zoneinfo reads it
(``fold=0``): inside a spring-forward gap it takes the offset before the change (an hour
later on the clock), and a time that happens twice is its first occurrence. So a local
day lasts 23 to 25 hours, and where midnight does not exist the day begins at the jump.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from workforce import clock
from workforce.i18n import gettext

Zone = str | ZoneInfo | None
MONDAY = 0
DAY = timedelta(days=1)
WEEK = timedelta(days=7)


def zone_name(value: str) -> str:
    """``value`` if the tz database lists it as a zone (exactly so spelt), else
    ``ValueError``: the check for every zone a person or a schedule names."""
    if value not in _known_zones():
        raise ValueError(gettext(
            "%(value)r is not an IANA time zone such as 'Asia/Hong_Kong'.", value=value))
    return value


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_of(zone: Zone) -> ZoneInfo:
    """The zone itself, or the one a name names; UTC for no name or an unknown one."""
    if isinstance(zone, ZoneInfo):
        return zone
    try:
        return ZoneInfo(zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def local_date(zone: Zone, when: datetime) -> date:
    """The date in ``zone`` at the instant ``when`` (a naive value is UTC)."""
    return clock.as_utc(when).astimezone(zone_of(zone)).date()


def at(zone: Zone, day: date, wall: time) -> datetime:
    """The instant (UTC) the clock in ``zone`` reads ``wall`` on ``day``."""
    return datetime.combine(day, wall, tzinfo=zone_of(zone)).astimezone(UTC)


def local_midnight(zone: Zone, day: date) -> datetime:
    """The instant (UTC) the local ``day`` begins."""
    return at(zone, day, time())


def day_bounds(zone: Zone, when: datetime) -> tuple[datetime, datetime]:
    """The local day containing ``when``, as a half-open UTC interval."""
    zone = zone_of(zone)
    day = local_date(zone, when)
    return local_midnight(zone, day), local_midnight(zone, day + DAY)


class Week(NamedTuple):
    first_day: date
    starts_at: datetime
    ends_at: datetime


def week_start(zone: Zone, when: datetime, weekday: int = MONDAY) -> date:
    """The first day of the local week containing ``when``, weeks starting on
    ``weekday`` (0 is Monday)."""
    day = local_date(zone, when)
    return day - timedelta(days=(day.weekday() - weekday) % 7)


def week_of(zone: Zone, when: datetime, weekday: int = MONDAY) -> Week:
    """The local week containing ``when``: its first day and its UTC bounds."""
    zone = zone_of(zone)
    first = week_start(zone, when, weekday)
    return Week(first, local_midnight(zone, first), local_midnight(zone, first + WEEK))


def week_bounds(zone: Zone, when: datetime, weekday: int = MONDAY) -> tuple[datetime, datetime]:
    """The local week containing ``when``, as a half-open UTC interval."""
    _, starts_at, ends_at = week_of(zone, when, weekday)
    return starts_at, ends_at


def month_bounds(zone: Zone, day: date) -> tuple[datetime, datetime]:
    """The local calendar month containing ``day``, as a half-open UTC interval."""
    first = day.replace(day=1)
    following = (first + timedelta(days=31)).replace(day=1)
    return local_midnight(zone, first), local_midnight(zone, following)


def latest_weekly(zone: Zone, weekday: int, wall: time, now: datetime) -> datetime:
    """The latest moment at or before ``now`` when the clock in ``zone`` reads ``wall``
    on a ``weekday`` (0 is Monday), in UTC: a weekly moment that stays at the same local
    time across daylight-saving changes."""
    return at(zone, _latest_weekly_day(zone, weekday, wall, now), wall)


def next_weekly(zone: Zone, weekday: int, wall: time, now: datetime) -> datetime:
    """The first such moment after ``now``: the one after ``latest_weekly``'s."""
    return at(zone, _latest_weekly_day(zone, weekday, wall, now) + WEEK, wall)


def _latest_weekly_day(zone: Zone, weekday: int, wall: time, now: datetime) -> date:
    zone = zone_of(zone)
    day = week_start(zone, now, weekday)
    return day if at(zone, day, wall) <= now else day - WEEK
