"""The cap arithmetic on its own: the cap moment checked against a minute-by-minute count
(local days and weeks themselves: ``test_calendar.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from workforce.calendar import day_bounds, week_bounds
from workforce.projects.hourly import CapKind, Caps, first_cap_hit, used_between

LONDON = ZoneInfo("Europe/London")
MINUTE = timedelta(minutes=1)
# The Friday before the clocks go forward in London (Sunday 31 March 2030, 01:00 UTC).
BASE = datetime(2030, 3, 29, tzinfo=UTC)


def test_a_cap_reached_exactly_at_midnight_leaves_the_next_day_whole() -> None:
    zone = ZoneInfo("Asia/Hong_Kong")
    caps = Caps(zone, daily_minutes=60, weekly_minutes=None)
    start = datetime(2030, 1, 7, 23, tzinfo=zone)
    hit = first_cap_hit(caps, [], start, start + timedelta(days=1))
    assert hit is not None and hit.kind is CapKind.DAILY
    assert hit.at == datetime(2030, 1, 8, 1, tzinfo=zone)
    assert hit.resets_at == datetime(2030, 1, 9, tzinfo=zone)


def _reached(caps: Caps, others: list[tuple[datetime, datetime]], start: datetime,
             moment: datetime) -> bool:
    """Has work from ``start`` to ``moment`` used up the day or week ``moment`` is in?"""
    work = [*others, (start, moment)]
    for limit, bounds in ((caps.daily_minutes, day_bounds), (caps.weekly_minutes, week_bounds)):
        if limit is not None:
            low, high = bounds(caps.zone, moment)
            if used_between(work, low, high) >= timedelta(minutes=limit):
                return True
    return False


@st.composite
def _others(draw: st.DrawFn) -> list[tuple[datetime, datetime]]:
    """Non-overlapping, minute-aligned entries in the five days from ``BASE``."""
    points = sorted(draw(st.sets(st.integers(0, 5 * 1440), max_size=8)))
    pairs = list(zip(points[::2], points[1::2], strict=False))
    return [(BASE + a * MINUTE, BASE + b * MINUTE) for a, b in pairs]


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(["Europe/London", "Asia/Kolkata", "America/St_Johns", "UTC"]),
    daily=st.one_of(st.none(), st.integers(1, 1440)),
    weekly=st.one_of(st.none(), st.integers(1, 3000)),
    others=_others(),
    start_minute=st.integers(0, 5 * 1440),
)
def test_the_cap_moment_is_the_first_minute_a_cap_is_used_up(
    zone: str, daily: int | None, weekly: int | None,
    others: list[tuple[datetime, datetime]], start_minute: int,
) -> None:
    caps = Caps(ZoneInfo(zone), daily, weekly)
    start = BASE + start_minute * MINUTE
    # The new work may not overlap: keep the others that end by its start.
    others = [(a, b) for a, b in others if b <= start]
    until = start + timedelta(days=2)

    hit = first_cap_hit(caps, others, start, until)

    expected = next(
        (start + n * MINUTE for n in range(2 * 1440 + 1)
         if _reached(caps, others, start, start + n * MINUTE)),
        None,
    )
    assert (hit.at if hit else None) == expected
    if hit is not None:
        assert hit.resets_at > hit.at
        bounds = day_bounds if hit.kind is CapKind.DAILY else week_bounds
        assert hit.resets_at == bounds(caps.zone, hit.at)[1]
