"""Exposure to sensitive and graphic work: measured, totalled per local day and week,
and checked against the organisation's limits.

Exposure is derived from what the trainer did, not logged separately, so it cannot
drift from the work:

- a task whose sensitivity (the task's own, else its project's) is not ``none``
  exposes the trainer from its reveal (``revealed_at``: the moment its content was
  first shown, the claim for a task that had no warning then) to the submission or
  release, and never past the lease (an abandoned lease counts only until it ran out);
  a task given back unrevealed exposed them to nothing;
- time on a sensitive or graphic project (a running session or a closed entry,
  manual ones included) exposes the trainer from its start to its end (now, while it
  runs).

Overlapping intervals count once (wall time). Days and weeks are the trainer's own
(their time zone; weeks start on Monday, as timesheets do). Continuous exposure joins
intervals separated by less than the policy's break.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from workforce import calendar, clock
from workforce.accounts.models import User
from workforce.errors import Conflict
from workforce.i18n import _
from workforce.projects.models import Assignment, Project, Sensitivity, Task, TimeEntry
from workforce.wellbeing.models import WellbeingPolicy

LEVEL = {Sensitivity.NONE: 0, Sensitivity.SENSITIVE: 1, Sensitivity.GRAPHIC: 2}
# How far back a continuous run is followed (longer runs are capped here).
RUN_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime
    level: Sensitivity
    project_id: uuid.UUID


def effective_sensitivity(task: Task, project: Project) -> Sensitivity:
    """A task's own sensitivity when it has one, else its project's."""
    return task.sensitivity or project.sensitivity


def effective_categories(task: Task, project: Project) -> list[str]:
    if task.sensitivity is not None:
        return list(task.content_categories or [])
    return list(project.content_categories or [])


# --- measuring -----------------------------------------------------------------------


def intervals(
    session: Session, trainer_id: uuid.UUID, since: datetime, until: datetime,
    *, now: datetime | None = None,
) -> list[Interval]:
    """The trainer's exposure intervals that overlap [since, until), clipped to it."""
    now = now or clock.now()
    found = [*_task_intervals(session, trainer_id, since, until, now),
             *_time_intervals(session, trainer_id, since, until, now)]
    clipped = (
        Interval(max(i.start, since), min(i.end, until), i.level, i.project_id)
        for i in found
    )
    return sorted((i for i in clipped if i.end > i.start), key=lambda i: (i.start, i.end))


def _task_intervals(
    session: Session, trainer_id: uuid.UUID, since: datetime, until: datetime, now: datetime
) -> Iterable[Interval]:
    level = func.coalesce(Task.sensitivity, Project.sensitivity)
    rows = session.execute(
        select(Assignment.revealed_at, Assignment.submitted_at, Assignment.released_at,
               Assignment.lease_expires_at, Assignment.project_id, level)
        .join(Task, Task.id == Assignment.task_id)
        .join(Project, Project.id == Assignment.project_id)
        .where(
            Assignment.trainer_id == trainer_id,
            # Unrevealed (null) is never earlier: nothing was shown, nothing counts.
            Assignment.revealed_at < until,
            level != Sensitivity.NONE,
            or_(Assignment.lease_expires_at > since,
                Assignment.submitted_at > since, Assignment.released_at > since),
        )
    )
    for revealed, submitted, released, lease_end, project_id, sensitivity in rows:
        ended = [t for t in (submitted, released) if t is not None]
        end = min(clock.as_utc(min(ended)) if ended else now, clock.as_utc(lease_end))
        yield Interval(clock.as_utc(revealed), end, Sensitivity(sensitivity), project_id)


def _time_intervals(
    session: Session, trainer_id: uuid.UUID, since: datetime, until: datetime, now: datetime
) -> Iterable[Interval]:
    rows = session.execute(
        select(TimeEntry.started_at, TimeEntry.ended_at, TimeEntry.project_id,
               Project.sensitivity)
        .join(Project, Project.id == TimeEntry.project_id)
        .where(
            TimeEntry.trainer_id == trainer_id,
            TimeEntry.started_at < until,
            Project.sensitivity != Sensitivity.NONE,
            or_(TimeEntry.ended_at.is_(None), and_(TimeEntry.ended_at > since)),
        )
    )
    for started, ended, project_id, sensitivity in rows:
        end = clock.as_utc(ended) if ended is not None else now
        yield Interval(clock.as_utc(started), end, Sensitivity(sensitivity), project_id)


def union_seconds(found: Sequence[Interval], *, minimum: Sensitivity = Sensitivity.SENSITIVE,
                  since: datetime | None = None, until: datetime | None = None) -> int:
    """Wall-clock seconds covered by the intervals at ``minimum`` level or above."""
    total = 0
    for start, end in merged(found, minimum=minimum, since=since, until=until):
        total += int((end - start).total_seconds())
    return total


def merged(
    found: Sequence[Interval], *, minimum: Sensitivity = Sensitivity.SENSITIVE,
    gap: timedelta = timedelta(0), since: datetime | None = None,
    until: datetime | None = None,
) -> list[tuple[datetime, datetime]]:
    """The intervals at ``minimum`` level or above, clipped, with those that overlap or
    lie less than ``gap`` apart joined into one."""
    spans: list[tuple[datetime, datetime]] = []
    for interval in sorted(found, key=lambda i: i.start):
        if LEVEL[interval.level] < LEVEL[minimum]:
            continue
        start = max(interval.start, since) if since else interval.start
        end = min(interval.end, until) if until else interval.end
        if end <= start:
            continue
        if spans and (start <= spans[-1][1] or start - spans[-1][1] < gap):
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def exposure_seconds(
    session: Session, trainer_id: uuid.UUID, since: datetime, until: datetime,
    *, minimum: Sensitivity = Sensitivity.SENSITIVE, now: datetime | None = None,
) -> int:
    """Seconds of exposure (wall time) in [since, until)."""
    return union_seconds(intervals(session, trainer_id, since, until, now=now),
                         minimum=minimum)


# --- the trainer's state now ---------------------------------------------------------


@dataclass(frozen=True)
class Exposure:
    """Where a trainer stands at ``now``: totals for their local day and week, and the
    continuous run of exposure that ends now or ended last."""

    now: datetime
    day: tuple[datetime, datetime]
    week: tuple[datetime, datetime]
    graphic_today: int
    exposure_today: int
    exposure_week: int
    run_started_at: datetime | None
    run_ended_at: datetime | None

    @property
    def ongoing(self) -> bool:
        """Exposed right now (a sensitive lease held or a session running)."""
        return self.run_ended_at is not None and self.run_ended_at >= self.now

    def continuous_seconds(self, break_length: timedelta) -> int:
        """The length of the current run at ``now``: from its start to now, the pause
        since it last ended included, because work started now joins the run while
        that pause is shorter than the break (``merged``); 0 once a full break has been
        taken. Every limit check and every lease or session bound reads this one."""
        if self.run_started_at is None or self.run_ended_at is None:
            return 0
        if self.now - self.run_ended_at >= break_length:
            return 0
        return int((self.now - self.run_started_at).total_seconds())


def exposure_of(session: Session, trainer: User, policy: WellbeingPolicy,
                *, now: datetime | None = None) -> Exposure:
    now = now or clock.now()
    zone = calendar.zone_of(trainer.timezone)
    day, week = calendar.day_bounds(zone, now), calendar.week_bounds(zone, now)
    since = min(week[0], now - RUN_LOOKBACK)
    found = intervals(session, trainer.id, since, now, now=now)
    # Intervals end at ``now`` at the latest; one still open ends exactly at ``now``.
    runs = merged(found, gap=timedelta(minutes=policy.break_minutes))
    last = runs[-1] if runs else (None, None)
    return Exposure(
        now=now, day=day, week=week,
        graphic_today=union_seconds(found, minimum=Sensitivity.GRAPHIC, since=day[0]),
        exposure_today=union_seconds(found, since=day[0]),
        exposure_week=union_seconds(found, since=week[0]),
        run_started_at=last[0], run_ended_at=last[1],
    )


# --- limits --------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitHit:
    limit: str
    resets_at: datetime
    detail: str


class ExposureLimitReached(Conflict):
    """409 ``exposure-limit-reached``, naming the limit and when it resets."""

    code = "exposure-limit-reached"

    def __init__(self, hit: LimitHit) -> None:
        super().__init__(hit.detail, limit=hit.limit, resets_at=hit.resets_at.isoformat())
        self.hit = hit


def blocking_limit(policy: WellbeingPolicy, exposure: Exposure, trainer: User,
                   level: Sensitivity) -> LimitHit | None:
    """The limit that stops the trainer starting work of ``level`` now, if any."""
    if level is Sensitivity.NONE:
        return None
    now = exposure.now
    pause = timedelta(minutes=policy.break_minutes)
    if level is Sensitivity.GRAPHIC:
        cutoff = _cutoff(policy, trainer, now)
        if cutoff is not None and now >= cutoff:
            return LimitHit("graphic_cutoff", exposure.day[1],
                            _("No graphic work after %(hour)02d:00 your time; it is open "
                              "again tomorrow.", hour=policy.graphic_cutoff_hour))
        if exposure.graphic_today >= policy.graphic_daily_minutes * 60:
            return LimitHit("graphic_daily", exposure.day[1],
                            _("You reached today's limit of %(minutes)s minutes of graphic "
                              "work.", minutes=policy.graphic_daily_minutes))
    if exposure.exposure_week >= policy.weekly_exposure_minutes * 60:
        return LimitHit("weekly_exposure", exposure.week[1],
                        _("You reached this week's limit of %(hours)s of sensitive work.",
                          hours=_hours(policy.weekly_exposure_minutes)))
    if exposure.continuous_seconds(pause) >= policy.break_after_minutes * 60:
        assert exposure.run_ended_at is not None
        # A run still going ends now; the break starts when it ends.
        return LimitHit("break", exposure.run_ended_at + pause,
                        _("Take a %(pause)s-minute break after %(minutes)s minutes of sensitive "
                          "work in a row.", pause=policy.break_minutes,
                          minutes=policy.break_after_minutes))
    return None


def time_left(policy: WellbeingPolicy, exposure: Exposure, trainer: User,
              level: Sensitivity) -> timedelta | None:
    """How long work of ``level`` started (or continued) now may go on before a limit
    stops it; None for work that is not sensitive. Zero when a limit blocks it now."""
    if level is Sensitivity.NONE:
        return None
    if blocking_limit(policy, exposure, trainer, level) is not None:
        return timedelta(0)
    now = exposure.now
    pause = timedelta(minutes=policy.break_minutes)
    left = [
        timedelta(seconds=policy.weekly_exposure_minutes * 60 - exposure.exposure_week),
        timedelta(seconds=policy.break_after_minutes * 60
                  - exposure.continuous_seconds(pause)),
    ]
    if level is Sensitivity.GRAPHIC:
        left.append(timedelta(seconds=policy.graphic_daily_minutes * 60
                              - exposure.graphic_today))
        cutoff = _cutoff(policy, trainer, now)
        if cutoff is not None:
            left.append(cutoff - now)
    return max(min(left), timedelta(0))


def check_may_start(session: Session, trainer: User, policy: WellbeingPolicy,
                    level: Sensitivity, *, now: datetime | None = None) -> Exposure:
    """Raise ``ExposureLimitReached`` when a limit stops work of ``level`` now."""
    exposure = exposure_of(session, trainer, policy, now=now)
    hit = blocking_limit(policy, exposure, trainer, level)
    if hit is not None:
        raise ExposureLimitReached(hit)
    return exposure


def _cutoff(policy: WellbeingPolicy, trainer: User, now: datetime) -> datetime | None:
    """Today's graphic cut-off (local), as a UTC instant; None without one."""
    if policy.graphic_cutoff_hour is None:
        return None
    today = calendar.local_date(trainer.timezone, now)
    return calendar.at(trainer.timezone, today, time(policy.graphic_cutoff_hour))


def _hours(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if rest:
        return _("%(hours)s hours %(minutes)s minutes", hours=hours, minutes=rest)
    return _("%(hours)s hours", hours=hours)
