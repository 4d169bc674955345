"""Hourly work: work sessions (start, heartbeat, stop), manual entries, and the caps.

A trainer has at most one running session across all projects (a unique partial index
decides races), and their entries never overlap, across all projects. Every write of
a trainer's entries first locks the trainer's row, so the overlap and cap checks see
everything committed before them.

Caps are per project and trainer: minutes of work per local day and per local week
(Monday), in the trainer's time zone. An entry counts towards each day and week by
the time it actually spent in it (it is split exactly at local midnight), and a
running session counts up to now. A session is closed at the moment a cap is reached:
by its next heartbeat, its stop, or the idle job, whichever comes first; it is never
paid past that moment. Sessions on sensitive projects are stopped the same way at the
moment an exposure limit is reached (``wellbeing.limits``; end reason
``exposure_limit``), and may not start while one is.

Times are kept to whole seconds, so that entries, caps and pay add up exactly; rates
start at whole seconds too, so a session started in a rate's first second is paid at it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import calendar, clock
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.clock import whole_seconds
from workforce.errors import Conflict, Invalid, NotFound
from workforce.i18n import _, lazy_gettext
from workforce.notifications.services import tell
from workforce.notifications.texts import moment
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access, declared_use, eligibility, timesheets
from workforce.projects.models import (
    EntryEndReason,
    EntrySource,
    PayModel,
    Project,
    ProjectRate,
    ProjectState,
    TimeEntry,
    TimesheetState,
)
from workforce.standing import gate
from workforce.wellbeing import limits
from workforce.wellbeing.limits import LimitStop

MANUAL_ENTRY_MAX = timedelta(hours=24)
MANUAL_ENTRY_MAX_AGE = timedelta(days=14)
NOTE_MAX = 2_000
# How far ahead a running session's cap moment is looked for (shown to the trainer).
CAP_LOOKAHEAD = timedelta(days=8)


def _now() -> datetime:
    return whole_seconds(clock.now())


# --- caps ------------------------------------------------------------------------------


class CapKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class Caps:
    zone: ZoneInfo
    daily_minutes: int | None
    weekly_minutes: int | None


@dataclass(frozen=True)
class CapHit:
    """The moment a cap is (or would be) reached, and when that cap resets."""

    kind: CapKind
    minutes: int
    at: datetime
    resets_at: datetime


Interval = tuple[datetime, datetime]


def caps_of(project: Project, trainer: User) -> Caps:
    return Caps(calendar.zone_of(trainer.timezone), project.daily_cap_minutes,
                project.weekly_cap_minutes)


def used_between(intervals: list[Interval], low: datetime, high: datetime) -> timedelta:
    """How much of ``[low, high)`` the intervals cover (they do not overlap each other)."""
    total = timedelta()
    for start, end in intervals:
        overlap = min(end, high) - max(start, low)
        if overlap > timedelta():
            total += overlap
    return total


def first_cap_hit(
    caps: Caps, others: list[Interval], start: datetime, until: datetime
) -> CapHit | None:
    """The first moment in ``[start, until]`` at which work from ``start`` onwards,
    added to the ``others`` on the same project, reaches a cap; ``None`` if none does.

    Walks local day by local day (every week boundary is a day boundary): in each day,
    the day's budget and the week's are what the cap leaves after the other entries
    and after this work's own earlier part of the week.
    """
    moment = start
    while True:
        day_start, day_end = calendar.day_bounds(caps.zone, moment)
        hits: list[CapHit] = []
        if caps.daily_minutes is not None:
            budget = (
                timedelta(minutes=caps.daily_minutes)
                - used_between(others, day_start, day_end)
                - (moment - max(start, day_start))
            )
            hits.append(CapHit(
                CapKind.DAILY, caps.daily_minutes, moment + max(budget, timedelta()), day_end
            ))
        if caps.weekly_minutes is not None:
            week_begins, week_end = calendar.week_bounds(caps.zone, moment)
            budget = (
                timedelta(minutes=caps.weekly_minutes)
                - used_between(others, week_begins, week_end)
                - (moment - max(start, week_begins))
            )
            hits.append(CapHit(
                CapKind.WEEKLY, caps.weekly_minutes, moment + max(budget, timedelta()), week_end
            ))
        # A budget lasting to midnight or beyond is looked at again in the next day.
        within = [hit for hit in hits if hit.at < day_end and hit.at <= until]
        if within:
            return min(within, key=lambda hit: (hit.at, hit.kind != CapKind.WEEKLY))
        if not hits or day_end > until:
            return None
        moment = day_end


def _other_intervals(
    session: Session, trainer_id: uuid.UUID, project_id: uuid.UUID, low: datetime,
    high: datetime, now: datetime, *, exclude: uuid.UUID | None = None,
) -> list[Interval]:
    """The trainer's other entries on the project that touch ``[low, high)``; a running
    session counts up to now."""
    stmt = select(TimeEntry.started_at, TimeEntry.ended_at).where(
        TimeEntry.trainer_id == trainer_id,
        TimeEntry.project_id == project_id,
        TimeEntry.started_at < high,
        or_(TimeEntry.ended_at.is_(None), TimeEntry.ended_at > low),
    )
    if exclude is not None:
        stmt = stmt.where(TimeEntry.id != exclude)
    return [
        (started, ended if ended is not None else max(now, started))
        for started, ended in session.execute(stmt)
    ]


def cap_hit_for(
    session: Session, project: Project, trainer: User, start: datetime, until: datetime,
    *, now: datetime, exclude: uuid.UUID | None = None,
) -> CapHit | None:
    """``first_cap_hit`` for work from ``start`` on the project, against the trainer's
    other entries there."""
    caps = caps_of(project, trainer)
    if caps.daily_minutes is None and caps.weekly_minutes is None:
        return None
    low = calendar.week_bounds(caps.zone, start)[0]
    high = calendar.week_bounds(caps.zone, until)[1]
    others = _other_intervals(
        session, trainer.id, project.id, low, high, now, exclude=exclude
    )
    return first_cap_hit(caps, others, start, until)


# Whole sentences for each cap, for an entry that would cross it or a session that met it.
_CAP_TEXTS = {
    (True, CapKind.DAILY): lazy_gettext(
        "This entry would go past the daily cap of %(minutes)s minutes per day on this "
        "project (reached at %(reached_at)s). It resets at %(resets_at)s."),
    (True, CapKind.WEEKLY): lazy_gettext(
        "This entry would go past the weekly cap of %(minutes)s minutes per week on this "
        "project (reached at %(reached_at)s). It resets at %(resets_at)s."),
    (False, CapKind.DAILY): lazy_gettext(
        "You have reached the daily cap of %(minutes)s minutes per day on this project. "
        "It resets at %(resets_at)s."),
    (False, CapKind.WEEKLY): lazy_gettext(
        "You have reached the weekly cap of %(minutes)s minutes per week on this project. "
        "It resets at %(resets_at)s."),
}


def _cap_conflict(hit: CapHit, *, entry: bool = False) -> Conflict:
    return Conflict(
        _CAP_TEXTS[entry, hit.kind] % {"minutes": hit.minutes, "reached_at": hit.at.isoformat(),
                                       "resets_at": hit.resets_at.isoformat()},
        code=f"{hit.kind.value}-cap-reached", cap=hit.kind.value, cap_minutes=hit.minutes,
        reached_at=hit.at.isoformat(), resets_at=hit.resets_at.isoformat(),
    )


# --- shared checks ---------------------------------------------------------------------


def _require_hourly(project: Project) -> None:
    if project.pay_model is not PayModel.HOURLY:
        raise Conflict(
            _("This project pays per task; time is logged on hourly projects only."),
            code="not-hourly", pay_model=project.pay_model.value,
        )


def _lock_trainer(session: Session, trainer_id: uuid.UUID) -> None:
    """Serialise the writes of one trainer's entries (PostgreSQL; SQLite serialises
    writers anyway), so that overlap and cap checks see each other's results."""
    access.lock_trainer(session, trainer_id)


def _rate_at(session: Session, project: Project, when: datetime) -> ProjectRate:
    rate = access.rate_at(session, project.id, when)
    if rate is None:
        raise Conflict(
            _("The project had no pay rate in force at %(when)s.",
              when=when.isoformat()), code="no-rate"
        )
    return rate


def find_running(session: Session, trainer_id: uuid.UUID) -> TimeEntry | None:
    return session.scalars(
        select(TimeEntry).where(TimeEntry.trainer_id == trainer_id, TimeEntry.ended_at.is_(None))
    ).one_or_none()


def _session_running(running: TimeEntry) -> Conflict:
    return Conflict(
        _("You already have a running work session; stop it first."),
        code="session-running", entry_id=str(running.id), project_id=str(running.project_id),
        started_at=running.started_at.isoformat(),
    )


def find_overlap(
    session: Session, trainer_id: uuid.UUID, start: datetime, end: datetime,
    *, exclude: uuid.UUID | None = None,
) -> TimeEntry | None:
    """An entry of the trainer, on any project, sharing time with ``[start, end)``; a
    running session reaches into the future. Empty entries overlap nothing."""
    stmt = (
        select(TimeEntry)
        .where(
            TimeEntry.trainer_id == trainer_id,
            TimeEntry.started_at < end,
            or_(
                TimeEntry.ended_at.is_(None),
                and_(TimeEntry.ended_at > start, TimeEntry.ended_at > TimeEntry.started_at),
            ),
        )
        .order_by(TimeEntry.started_at)
        .limit(1)
    )
    if exclude is not None:
        stmt = stmt.where(TimeEntry.id != exclude)
    return session.scalars(stmt).first()


# --- sessions --------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionView:
    """A work session and its cap: for a running one, the moment a cap would close it
    if it ran on (``None`` without caps); for one a cap closed, that cap. The same for
    exposure limits on sensitive projects (``exposure_limit``)."""

    entry: TimeEntry
    cap: CapHit | None
    exposure_limit: LimitStop | None = None


def _first_stop(
    cap: CapHit | None, limit: LimitStop | None, by: datetime
) -> tuple[datetime, EntryEndReason] | None:
    """What closes a session by ``by``: a cap or an exposure limit reached by then,
    whichever came first."""
    found = []
    if cap is not None and cap.at <= by:
        found.append((cap.at, EntryEndReason.CAP))
    if limit is not None and limit.at <= by:
        found.append((limit.at, EntryEndReason.EXPOSURE_LIMIT))
    return min(found, key=lambda stop: stop[0]) if found else None


def start_session(session: Session, trainer: User, project_id: uuid.UUID) -> SessionView:
    """Start a work session now on an hourly project the trainer is staffed on.

    Refused (409) on a project not open for work, while another session runs
    (``session-running``), when a cap is reached (``daily-cap-reached`` /
    ``weekly-cap-reached`` with ``resets_at``), or when this week's timesheet was
    already submitted (``timesheet-submitted``).
    """
    project = eligibility.staffed_project(session, trainer, project_id)
    _require_hourly(project)
    now = _now()
    access.require_open_for_work(project, now)
    gate.require_new_work_allowed(session, trainer.id, project.organisation_id, now)
    declared_use.require_not_refused(session, trainer, project)
    _lock_trainer(session, trainer.id)
    running = find_running(session, trainer.id)
    if running is not None:
        raise _session_running(running)
    limits.check_session_start(session, trainer, project, now=now)
    rate = _rate_at(session, project, now)
    sheet = timesheets.open_timesheet_for(session, project, trainer, now)
    hit = cap_hit_for(session, project, trainer, now, now + CAP_LOOKAHEAD, now=now)
    if hit is not None and hit.at <= now:
        raise _cap_conflict(hit)
    entry = TimeEntry(
        project_id=project.id, trainer_id=trainer.id, timesheet_id=sheet.id,
        source=EntrySource.SESSION, started_at=now, rate_id=rate.id,
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        # The unique index on running sessions: another start won the race.
        running = find_running(session, trainer.id)
        if running is None:
            raise
        raise _session_running(running) from None
    stop = limits.session_stop(session, trainer, project, now, now + CAP_LOOKAHEAD)
    return SessionView(entry, hit, stop)


def _lock_own_session(session: Session, trainer: User, entry_id: uuid.UUID) -> TimeEntry:
    entry = session.scalars(
        select(TimeEntry)
        .where(TimeEntry.id == entry_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if entry is None or entry.trainer_id != trainer.id or entry.source is not EntrySource.SESSION:
        raise NotFound(_("No such work session."))
    return entry


def _last_seen(entry: TimeEntry) -> datetime:
    return entry.last_heartbeat_at or entry.started_at


def _close(entry: TimeEntry, at: datetime, reason: EntryEndReason) -> None:
    entry.ended_at = max(entry.started_at, at)
    entry.end_reason = reason


def end_session(
    session: Session, entry: TimeEntry, at: datetime, reason: EntryEndReason
) -> None:
    """Close a running session at ``at`` for ``reason`` (a pause, a suspension, the
    trainer leaving), or earlier, at the moment a cap or an exposure limit was reached:
    work is never paid past either."""
    project = session.get(Project, entry.project_id)
    trainer = session.get(User, entry.trainer_id)
    assert project is not None and trainer is not None
    at = whole_seconds(at)
    hit = cap_hit_for(session, project, trainer, entry.started_at, at, now=at, exclude=entry.id)
    stop = limits.session_stop(session, trainer, project, entry.started_at, at)
    first = _first_stop(hit, stop, at)
    _close(entry, *(first or (at, reason)))


def _close_lapsed(
    session: Session, entry: TimeEntry, project: Project, trainer: User, now: datetime
) -> CapHit | LimitStop | None:
    """Close a session that missed its heartbeats at its last sign of life, or at the
    moment a cap or an exposure limit was reached before that."""
    last_seen = _last_seen(entry)
    hit = cap_hit_for(
        session, project, trainer, entry.started_at, last_seen, now=now, exclude=entry.id
    )
    stop = limits.session_stop(session, trainer, project, entry.started_at, last_seen)
    first = _first_stop(hit, stop, last_seen)
    if first is not None:
        _close(entry, *first)
        return hit if first[1] is EntryEndReason.CAP else stop
    _close(entry, last_seen, EntryEndReason.IDLE)
    return None


def _is_lapsed(entry: TimeEntry, project: Project, now: datetime) -> bool:
    return now - _last_seen(entry) > timedelta(seconds=project.idle_timeout_seconds)


def close_if_lapsed(session: Session, trainer: User, entry_id: uuid.UUID) -> bool:
    """Close the trainer's running session if it has had no heartbeat for the project's
    idle timeout (as the idle job would); ``True`` if it did. Called before a heartbeat
    or stop, and committed on its own, so that a late heartbeat cannot revive it."""
    entry = _lock_own_session(session, trainer, entry_id)
    if entry.ended_at is not None:
        return False
    project = session.get(Project, entry.project_id)
    assert project is not None
    now = _now()
    if not _is_lapsed(entry, project, now):
        return False
    _close_lapsed(session, entry, project, trainer, now)
    session.flush()
    return True


def _require_running(entry: TimeEntry) -> None:
    if entry.ended_at is not None:
        reason = entry.end_reason.value if entry.end_reason else None
        raise Conflict(
            _("This work session was closed (%(reason)s) at %(ended_at)s; start a new one to go "
              "on working.", reason=reason, ended_at=entry.ended_at.isoformat()),
            code="session-closed", end_reason=reason, ended_at=entry.ended_at.isoformat(),
        )


def _end_if_suspended(
    session: Session, entry: TimeEntry, project: Project, now: datetime
) -> bool:
    """Close a session the project's suspension ended, at its effective time (or where a
    cap or an exposure limit was reached before), whatever the job has done."""
    stopped = project.work_stopped_at(now)
    if stopped is None:
        return False
    end_session(session, entry, stopped, EntryEndReason.SUSPENDED)
    session.flush()
    return True


def heartbeat(session: Session, trainer: User, entry_id: uuid.UUID) -> SessionView:
    """Record that the trainer is still working. If a cap or an exposure limit has
    been reached, or the project's suspension has taken effect, the session is closed
    at the moment it was (``end_reason`` ``cap``, ``exposure_limit`` or ``suspended``)
    and the answer says so. A closed session answers 409 ``session-closed``."""
    entry = _lock_own_session(session, trainer, entry_id)
    _require_running(entry)
    project = session.get(Project, entry.project_id)
    assert project is not None
    now = _now()
    if _end_if_suspended(session, entry, project, now):
        return SessionView(entry, None)
    hit = cap_hit_for(
        session, project, trainer, entry.started_at, now + CAP_LOOKAHEAD, now=now,
        exclude=entry.id,
    )
    stop = limits.session_stop(session, trainer, project, entry.started_at,
                               now + CAP_LOOKAHEAD)
    first = _first_stop(hit, stop, now)
    if first is not None:
        _close(entry, *first)
    else:
        entry.last_heartbeat_at = now
    session.flush()
    return SessionView(entry, hit, stop)


def stop_session(session: Session, trainer: User, entry_id: uuid.UUID) -> SessionView:
    """Stop the session now, or at the moment a cap was reached or the project's
    suspension took effect if that came first. Stopping a closed session changes
    nothing and answers with it."""
    entry = _lock_own_session(session, trainer, entry_id)
    project = session.get(Project, entry.project_id)
    assert project is not None
    if entry.ended_at is not None:
        return SessionView(entry, None)
    now = _now()
    if _end_if_suspended(session, entry, project, now):
        return SessionView(entry, None)
    hit = cap_hit_for(
        session, project, trainer, entry.started_at, now, now=now, exclude=entry.id
    )
    stop = limits.session_stop(session, trainer, project, entry.started_at, now)
    _close(entry, *(_first_stop(hit, stop, now) or (now, EntryEndReason.STOPPED)))
    session.flush()
    return SessionView(entry, hit, stop)


def close_idle_sessions(session: Session, *, now: datetime, limit: int) -> int:
    """Close running sessions without a heartbeat (or, never heartbeated, since their
    start) for longer than their project's ``idle_timeout_seconds``: at the last
    heartbeat (``idle``), or at the cap moment if a cap was reached before it (``cap``).
    Rows another worker holds are skipped (``SKIP LOCKED``). Returns how many closed."""
    now = whole_seconds(now)
    timeouts = list(session.scalars(
        select(Project.idle_timeout_seconds)
        .join(TimeEntry, TimeEntry.project_id == Project.id)
        .where(TimeEntry.ended_at.is_(None))
        .distinct()
    ))
    if not timeouts:
        return 0
    last_seen = func.coalesce(TimeEntry.last_heartbeat_at, TimeEntry.started_at)
    # One condition per timeout in use: portable, and the list stays short.
    idle = or_(*(
        and_(Project.idle_timeout_seconds == seconds, last_seen < now - timedelta(seconds=seconds))
        for seconds in timeouts
    ))
    entries = list(session.scalars(
        select(TimeEntry)
        .join(Project, Project.id == TimeEntry.project_id)
        .where(TimeEntry.ended_at.is_(None), idle)
        .order_by(TimeEntry.started_at, TimeEntry.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=TimeEntry)
        .execution_options(populate_existing=True)
    ))
    for entry in entries:
        project = session.get(Project, entry.project_id)
        trainer = session.get(User, entry.trainer_id)
        assert project is not None and trainer is not None
        hit = _close_lapsed(session, entry, project, trainer, now)
        assert entry.ended_at is not None
        cap = hit.kind.value if isinstance(hit, CapHit) else None
        tell(
            session, trainer.id, "session.closed",
            {"project": project.name, "ended_at": moment(entry.ended_at), "cap": cap,
             "limit": hit.detail if hit is not None and cap is None else None,
             "idle": hit is None, "minutes": project.idle_timeout_seconds // 60},
            {"entry_id": str(entry.id), "project_id": str(project.id),
             "end_reason": entry.end_reason.value if entry.end_reason else None,
             "ended_at": entry.ended_at.isoformat()},
        )
    session.flush()
    return len(entries)


# --- manual entries --------------------------------------------------------------------


def _check_manual_times(started_at: datetime, ended_at: datetime, now: datetime) -> None:
    errors: dict[str, list[str]] = {}
    if ended_at <= started_at:
        errors["ended_at"] = [_("Must be after started_at.")]
    elif ended_at - started_at > MANUAL_ENTRY_MAX:
        errors["ended_at"] = [_("An entry covers at most 24 hours.")]
    if ended_at > now:
        errors.setdefault("ended_at", []).append(_("Must not be in the future."))
    if started_at < now - MANUAL_ENTRY_MAX_AGE:
        errors["started_at"] = [
            _("Must be within the last %(days)s days.", days=MANUAL_ENTRY_MAX_AGE.days)
        ]
    if errors:
        rules = " ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        raise Invalid(_("The entry's times break a rule: %(rules)s", rules=rules),
                      errors=errors)


def _require_loggable(project: Project, ended_at: datetime, now: datetime) -> None:
    """Manual entries are taken on active and paused projects; on a suspended or closed
    one (a suspension is in force from its moment), only for time before the suspension
    took effect."""
    state = project.state_at(now)
    if state in (ProjectState.ACTIVE, ProjectState.PAUSED):
        return
    stopped = project.work_stopped_at(now)
    if stopped is not None and ended_at <= stopped:
        return
    detail = (
        _("The project is %(state)s since %(stopped_at)s; time after that cannot be logged.",
          state=state.value, stopped_at=stopped.isoformat()) if stopped is not None else
        _("The project is %(state)s; time after that cannot be logged.", state=state.value))
    raise Conflict(
        detail,
        code=f"project-{state.value}", current_state=state.value,
        work_stopped_at=stopped.isoformat() if stopped is not None else None,
    )


def add_manual_entry(
    session: Session,
    trainer: User,
    project_id: uuid.UUID,
    *,
    started_at: datetime,
    ended_at: datetime,
    note: str,
) -> TimeEntry:
    """Log past work with a note: at most 24 hours, ending by now, starting within the
    last 14 days, in a week whose timesheet is still open, overlapping none of the
    trainer's entries on any project (a running session included), and within the caps.
    Each refusal names its rule and writes nothing."""
    project = eligibility.staffed_project(session, trainer, project_id)
    _require_hourly(project)
    now = _now()
    started_at, ended_at = whole_seconds(started_at), whole_seconds(ended_at)
    _check_manual_times(started_at, ended_at, now)
    gate.require_work_allowed(session, trainer.id, project.organisation_id, now)
    _require_loggable(project, ended_at, now)
    _lock_trainer(session, trainer.id)
    overlap = find_overlap(session, trainer.id, started_at, ended_at)
    if overlap is not None:
        until = overlap.ended_at.isoformat() if overlap.ended_at else "now (running)"
        raise Conflict(
            _("The entry overlaps your %(source)s entry from %(started_at)s to %(until)s; entries "
              "never overlap, across all projects.",
              source=overlap.source.value, started_at=overlap.started_at.isoformat(), until=until),
            code="entry-overlap", entry_id=str(overlap.id),
            project_id=str(overlap.project_id), started_at=overlap.started_at.isoformat(),
            ended_at=overlap.ended_at.isoformat() if overlap.ended_at else None,
        )
    rate = _rate_at(session, project, started_at)
    sheet = timesheets.open_timesheet_for(session, project, trainer, started_at)
    hit = cap_hit_for(session, project, trainer, started_at, ended_at, now=now)
    if hit is not None and hit.at < ended_at:
        raise _cap_conflict(hit, entry=True)
    entry = TimeEntry(
        project_id=project.id, trainer_id=trainer.id, timesheet_id=sheet.id,
        source=EntrySource.MANUAL, started_at=started_at, ended_at=ended_at, note=note,
        rate_id=rate.id,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session, trainer, "time_entry.added", object_type="time_entry", object_id=entry.id,
        organisation_id=project.organisation_id,
        after={"project_id": str(project.id), "timesheet_id": str(sheet.id),
               "started_at": started_at.isoformat(), "ended_at": ended_at.isoformat(),
               "seconds": entry.seconds, "note": note},
    )
    return entry


def delete_manual_entry(session: Session, trainer: User, entry_id: uuid.UUID) -> None:
    """Remove one of the trainer's manual entries while its timesheet is open."""
    entry = session.get(TimeEntry, entry_id)
    if entry is None or entry.trainer_id != trainer.id:
        raise NotFound(_("No such time entry."))
    if entry.source is not EntrySource.MANUAL:
        raise Conflict(
            _("Only manual entries can be deleted; a work session is stopped."),
            code="not-manual",
        )
    sheet = timesheets.lock_timesheet(session, entry.timesheet_id)
    if sheet is None or sheet.state is not TimesheetState.OPEN:
        raise Conflict(
            _("The entry's timesheet was already submitted; it can no longer change."),
            code="timesheet-submitted",
            current_state=sheet.state.value if sheet is not None else None,
        )
    project = session.get(Project, entry.project_id)
    audit.record(
        session, trainer, "time_entry.deleted", object_type="time_entry", object_id=entry.id,
        organisation_id=project.organisation_id if project is not None else None,
        before={"project_id": str(entry.project_id), "timesheet_id": str(sheet.id),
                "started_at": entry.started_at.isoformat(),
                "ended_at": entry.ended_at.isoformat() if entry.ended_at else None,
                "seconds": entry.seconds, "note": entry.note},
    )
    session.delete(entry)
    session.flush()


def list_entries(
    session: Session,
    trainer: User,
    page: PageRequest,
    *,
    project_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[TimeEntry]:
    """The trainer's entries (sessions and manual), latest start first; ``since`` and
    ``until`` bound the start time (``[since, until)``)."""
    stmt = select(TimeEntry).where(TimeEntry.trainer_id == trainer.id)
    if project_id is not None:
        stmt = stmt.where(TimeEntry.project_id == project_id)
    if since is not None:
        stmt = stmt.where(TimeEntry.started_at >= since)
    if until is not None:
        stmt = stmt.where(TimeEntry.started_at < until)
    return paginate(session, stmt, page, created_at=TimeEntry.started_at, row_id=TimeEntry.id)
