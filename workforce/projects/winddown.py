"""Stopping work in flight: leases given back and running sessions closed.

Used when a trainer leaves or is removed, when a project is paused (sessions only)
and when a suspension takes effect. Work already submitted is left alone: it is
still reviewed or auto-approved, and paid.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from workforce.projects import hourly
from workforce.projects.models import (
    SLOT_STATES,
    Assignment,
    AssignmentState,
    EntryEndReason,
    Task,
    TimeEntry,
)


def give_back_slot(session: Session, task_id: uuid.UUID) -> None:
    """An assignment stopped holding one of its task's slots: the task may be claimed
    again, unless the slot is filled by an overturned rejection's answer meanwhile."""
    recount_slots(session, task_id)


def recount_slots(session: Session, task_id: uuid.UUID) -> int:
    """Set the task's open slots to its redundancy less the assignments holding one
    (never below zero), and return how many hold one: more than the redundancy when an
    overturned rejection's slot had been taken by another trainer.

    The task's row is locked first and the count is a statement of its own, so on
    PostgreSQL (read committed) it sees every claim committed before the lock was
    granted (a claim takes its slot under that lock and inserts its assignment in the
    same transaction), and no claim can take a slot until this transaction ends."""
    session.flush()  # this transaction's own changes of state count
    redundancy = session.scalar(
        select(Task.redundancy).where(Task.id == task_id).with_for_update()
    )
    holding = session.scalar(
        select(func.count()).select_from(Assignment)
        .where(Assignment.task_id == task_id, Assignment.state.in_(SLOT_STATES))
    ) or 0
    session.execute(
        update(Task)
        .where(Task.id == task_id)
        .values(open_slots=max(0, (redundancy or 0) - holding))
        .execution_options(synchronize_session=False)
    )
    # The counter changed in SQL: a Task already in the session is stale. One that is
    # not will be read fresh when first used.
    task = session.identity_map.get(identity_key(Task, task_id))
    if task is not None:
        session.refresh(task)
    return holding


def end_leases(
    session: Session,
    project_id: uuid.UUID,
    *,
    at: datetime,
    trainer_id: uuid.UUID | None = None,
    state: AssignmentState = AssignmentState.RELEASED,
) -> list[Assignment]:
    """End every live lease on the project (or one trainer's), returning the slots.

    Rows are locked and re-read (``SKIP LOCKED`` is not used: a lease being submitted
    right now must be waited for, not skipped)."""
    stmt = (
        select(Assignment)
        .where(Assignment.project_id == project_id, Assignment.state == AssignmentState.LEASED)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if trainer_id is not None:
        stmt = stmt.where(Assignment.trainer_id == trainer_id)
    ended = list(session.scalars(stmt))
    for assignment in ended:
        assignment.state = state
        assignment.released_at = at
        give_back_slot(session, assignment.task_id)
    session.flush()
    return ended


def close_sessions(
    session: Session,
    project_id: uuid.UUID,
    *,
    at: datetime,
    reason: EntryEndReason,
    trainer_id: uuid.UUID | None = None,
) -> list[TimeEntry]:
    """Close the running work sessions on the project (or one trainer's) at ``at``, or
    where a cap was reached before it: they are paid to that moment when their
    timesheet is approved."""
    stmt = (
        select(TimeEntry)
        .where(TimeEntry.project_id == project_id, TimeEntry.ended_at.is_(None))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if trainer_id is not None:
        stmt = stmt.where(TimeEntry.trainer_id == trainer_id)
    closed = list(session.scalars(stmt))
    for entry in closed:
        hourly.end_session(session, entry, at, reason)
    session.flush()
    return closed
