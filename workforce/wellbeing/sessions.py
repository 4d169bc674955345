"""Stopping running work sessions that reached an exposure limit, for the scheduler.

A heartbeat or a stop closes such a session too (``projects.hourly``); this catches the
sessions whose trainer sends neither, so that a session never runs on, unpaid and
uncounted, past its limit. Either way it is closed at the moment the limit was reached
and paid to that moment when its timesheet is approved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from workforce.accounts.models import User
from workforce.notifications.services import tell
from workforce.notifications.texts import moment
from workforce.projects import hourly
from workforce.projects.models import EntryEndReason, Project, Sensitivity, TimeEntry
from workforce.wellbeing import limits


@dataclass(frozen=True)
class Batch:
    """How many sessions a pass looked at and closed, and where the next one starts."""

    examined: int
    closed: int
    last: tuple[datetime, uuid.UUID] | None


def close_sessions_at_limits(
    session: Session, *, now: datetime, limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Batch:
    """Look at up to ``limit`` running sessions on sensitive projects (by start, after
    ``after``) and close those that reached an exposure limit by ``now``, at that
    moment; the trainer is told. Rows another worker holds (a heartbeat, a second
    scheduler) are skipped (``SKIP LOCKED``)."""
    now = hourly.whole_seconds(now)
    stmt = (
        select(TimeEntry)
        .join(Project, Project.id == TimeEntry.project_id)
        .where(TimeEntry.ended_at.is_(None), Project.sensitivity != Sensitivity.NONE)
        .order_by(TimeEntry.started_at, TimeEntry.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=TimeEntry)
        .execution_options(populate_existing=True)
    )
    if after is not None:
        stmt = stmt.where(tuple_(TimeEntry.started_at, TimeEntry.id) > tuple_(*after))
    entries = list(session.scalars(stmt))
    closed = 0
    for entry in entries:
        project = session.get_one(Project, entry.project_id)
        trainer = session.get_one(User, entry.trainer_id)
        stop = limits.session_stop(session, trainer, project, entry.started_at, now)
        if stop is None:
            continue
        # A cap reached earlier still wins: end_session closes at the first of both.
        hourly.end_session(session, entry, stop.at, EntryEndReason.EXPOSURE_LIMIT)
        closed += 1
        assert entry.ended_at is not None
        tell(
            session, trainer.id, "session.exposure_limit",
            {"project": project.name, "ended_at": moment(entry.ended_at),
             "limit": stop.detail, "resets_at": moment(stop.resets_at)},
            {"entry_id": str(entry.id), "project_id": str(project.id),
             "end_reason": entry.end_reason.value if entry.end_reason else None,
             "ended_at": entry.ended_at.isoformat(), "limit": stop.limit,
             "resets_at": stop.resets_at.isoformat()},
        )
    session.flush()
    last = (entries[-1].started_at, entries[-1].id) if entries else None
    return Batch(len(entries), closed, last)
