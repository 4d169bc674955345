"""The calendar every domain reckons in: local days, weeks and months across daylight
saving, weekly moments, and the one check of a zone name."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.payout_helpers import finance_user
from workforce import calendar
from workforce.billing import payouts
from workforce.errors import Invalid

LONDON = ZoneInfo("Europe/London")
# Regular daylight saving and its odd corners: half-hour changes (Lord Howe), changes at
# midnight (Santiago, Havana, Beirut), quarter-hour offsets (Chatham), a Ramadan pause
# (Casablanca), and zones without any change.
ZONES = ["UTC", "Asia/Hong_Kong", "Europe/London", "America/New_York", "Australia/Lord_Howe",
         "Pacific/Chatham", "America/Santiago", "America/Havana", "Asia/Beirut",
         "Africa/Casablanca", "Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati"]
zones = st.sampled_from(ZONES)
moments = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2039, 12, 31),  # noqa: DTZ001
                       timezones=st.just(UTC))
weekdays = st.integers(0, 6)


def test_local_days_and_weeks_follow_daylight_saving() -> None:
    start, end = calendar.day_bounds(LONDON, datetime(2030, 3, 31, 12, tzinfo=UTC))
    assert (start, end - start) == (datetime(2030, 3, 31, tzinfo=UTC), timedelta(hours=23))
    start, end = calendar.day_bounds("Europe/London", datetime(2030, 10, 27, 12, tzinfo=UTC))
    assert end - start == timedelta(hours=25)
    monday, next_monday = calendar.week_bounds(LONDON, datetime(2030, 3, 31, 22, 59, tzinfo=UTC))
    assert monday == datetime(2030, 3, 25, tzinfo=UTC)
    assert next_monday == datetime(2030, 3, 31, 23, tzinfo=UTC)  # 00:00 BST
    assert calendar.week_start(LONDON, next_monday).isoformat() == "2030-04-01"


def test_a_midnight_that_does_not_exist_begins_the_day_at_the_jump() -> None:
    # Havana, 8 March 2026: 00:00 CST becomes 01:00 CDT.
    start, end = calendar.day_bounds("America/Havana", datetime(2026, 3, 8, 12, tzinfo=UTC))
    assert start == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert start.astimezone(ZoneInfo("America/Havana")).time() == time(1)
    assert end - start == timedelta(hours=23)


@settings(max_examples=300, deadline=None)
@given(zone=zones, when=moments)
def test_a_local_day_contains_its_moment_and_lasts_23_to_25_hours(
    zone: str, when: datetime
) -> None:
    start, end = calendar.day_bounds(zone, when)
    assert start <= when < end
    assert timedelta(hours=23) <= end - start <= timedelta(hours=25)
    assert calendar.local_date(zone, start) == calendar.local_date(zone, when)
    assert calendar.day_bounds(zone, end)[0] == end  # the next day begins where this ends


@settings(max_examples=300, deadline=None)
@given(zone=zones, when=moments, weekday=weekdays)
def test_weeks_start_on_the_configured_day_at_local_midnight(
    zone: str, when: datetime, weekday: int
) -> None:
    first, start, end = calendar.week_of(zone, when, weekday)
    assert first.weekday() == weekday
    assert 0 <= (calendar.local_date(zone, when) - first).days < 7
    assert start == calendar.local_midnight(zone, first)
    assert start <= when < end
    assert abs(end - start - timedelta(days=7)) <= timedelta(hours=1)
    assert calendar.week_of(zone, end, weekday).starts_at == end
    assert calendar.week_bounds(zone, when, weekday) == (start, end)


@settings(max_examples=300, deadline=None)
@given(zone=zones, day=st.dates(min_value=date(2001, 1, 1), max_value=date(2039, 12, 31)))
def test_local_midnight_round_trips(zone: str, day: date) -> None:
    midnight = calendar.local_midnight(zone, day)
    assert midnight.tzinfo is UTC
    assert calendar.local_date(zone, midnight) == day
    assert calendar.day_bounds(zone, midnight)[0] == midnight
    # 00:00 on the clock, or the jump where the clocks skip midnight.
    assert midnight.astimezone(ZoneInfo(zone)).time() <= time(1)


@settings(max_examples=200, deadline=None)
@given(zone=zones, day=st.dates(min_value=date(2001, 1, 1), max_value=date(2039, 12, 31)))
def test_a_month_runs_from_its_first_local_midnight_to_the_next(zone: str, day: date) -> None:
    start, end = calendar.month_bounds(zone, day)
    assert calendar.local_date(zone, start) == day.replace(day=1)
    following = calendar.local_date(zone, end)
    assert following.day == 1 and (following - day).days <= 31
    assert calendar.month_bounds(zone, following)[0] == end


@settings(max_examples=300, deadline=None)
@given(zone=zones, now=moments, weekday=weekdays, hour=st.integers(0, 23),
       minute=st.integers(0, 59))
def test_the_next_weekly_moment_follows_the_latest_one(
    zone: str, now: datetime, weekday: int, hour: int, minute: int
) -> None:
    wall = time(hour, minute)
    latest = calendar.latest_weekly(zone, weekday, wall, now)
    following = calendar.next_weekly(zone, weekday, wall, now)
    assert latest <= now < following
    assert abs(following - latest - timedelta(days=7)) <= timedelta(hours=1)
    assert calendar.latest_weekly(zone, weekday, wall, following) == following
    assert calendar.next_weekly(zone, weekday, wall, latest) == following


def test_an_unknown_or_missing_zone_reads_as_utc() -> None:
    assert calendar.zone_of(None) == calendar.zone_of("Mars/Olympus") == ZoneInfo("UTC")
    assert calendar.zone_of(LONDON) is LONDON
    assert calendar.zone_of("Asia/Hong_Kong") == ZoneInfo("Asia/Hong_Kong")


# Names zoneinfo can load but the tz database does not list as zones ("right/" counts
# leap seconds), a directory, other spellings and no name at all.
NOT_ZONES = ["Mars/Olympus", "asia/hong_kong", " UTC", "right/UTC", "posixrules", "America",
             "../../etc/passwd", ""]


@pytest.mark.parametrize("name", NOT_ZONES)
def test_one_check_refuses_a_name_for_a_person_and_for_a_payout_schedule(
    session: Session, name: str
) -> None:
    with pytest.raises(ValueError, match="not an IANA time zone"):
        calendar.zone_name(name)
    with pytest.raises(Invalid) as refused:
        payouts.create_schedule(session, finance_user(), name="Weekly", weekday=0, hour=2,
                                timezone=name)
    assert refused.value.errors["timezone"] == [
        f"{name!r} is not an IANA time zone such as 'Asia/Hong_Kong'."]


def test_every_listed_zone_passes_the_check() -> None:
    for name in available_timezones():
        assert calendar.zone_name(name) == name
