"""What managers see of a project's running (throughput, review backlog, approval
rate, staffing, hours, cost), and what trainers see of the projects they work on.

The manager's report is a handful of aggregate queries, whatever the project's size.
Days and weeks are UTC: the last seven calendar days (today included) and the week
starting Monday 00:00.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, extract, func, select
from sqlalchemy.orm import Session, selectinload

from workforce import calendar, clock
from workforce.accounts.models import User
from workforce.billing.models import EarningEvent
from workforce.errors import NotFound
from workforce.i18n import gettext
from workforce.money import Money
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access
from workforce.projects.models import (
    SLOT_STATES,
    Assignment,
    AssignmentState,
    GuidelineVersion,
    KillFee,
    MembershipState,
    Project,
    ProjectMember,
    ProjectRate,
    ProjectState,
    Suspension,
    Task,
    TimeEntry,
)
from workforce.results import aggregates

REPORT_DAYS = 7
# Membership states of someone who is, or was, staffed on a project.
WAS_MEMBER = (MembershipState.ACTIVE, MembershipState.LEFT, MembershipState.REMOVED)
_WITH_SUSPENSION = selectinload(KillFee.suspension).selectinload(Suspension.project)


# --- managers ------------------------------------------------------------------------


@dataclass(frozen=True)
class DayFigures:
    day: date
    submitted: int
    approved: int


@dataclass(frozen=True)
class ProjectReport:
    project: Project
    as_of: datetime
    days: list[DayFigures]
    submitted_last_7_days: int
    approved_last_7_days: int
    pending_review: int
    approved_total: int
    rejected_total: int
    approval_rate: Decimal | None
    active_trainers: int
    open_tasks: int
    open_slots: int
    over_answered_tasks: int
    week_start: datetime
    logged_seconds_this_week: int
    logged_seconds_total: int
    cost_to_date: list[Money]
    # Dynamic overlap (issue 16): the slots added to unsure tasks, at the current rate.
    extra_slots_cost: Money | None


def project_report(session: Session, staff: User, project_id: uuid.UUID) -> ProjectReport:
    """The project's figures as of now. Approval rate is approved / (approved +
    rejected) over all reviewed work, null before any review; an approval counts on
    the day it was reviewed (or submitted, when approved without review)."""
    project = access.get_project(session, staff, project_id)
    now = clock.now()
    today, _ = calendar.day_bounds("UTC", now)
    starts = [today - timedelta(days=REPORT_DAYS - 1 - i) for i in range(REPORT_DAYS)]
    bounds = [*starts[1:], now + timedelta(microseconds=1)]
    approved_at = func.coalesce(Assignment.reviewed_at, Assignment.submitted_at)
    is_approved = Assignment.state == AssignmentState.APPROVED

    columns: list[Any] = []
    for start, end in zip(starts, bounds, strict=True):
        columns.append(_count_if(and_(Assignment.submitted_at >= start,
                                      Assignment.submitted_at < end)))
        columns.append(_count_if(and_(is_approved, approved_at >= start, approved_at < end)))
    columns += [
        _count_if(Assignment.state == AssignmentState.SUBMITTED),
        _count_if(is_approved),
        _count_if(Assignment.state == AssignmentState.REJECTED),
    ]
    work = session.execute(select(*columns).where(Assignment.project_id == project.id)).one()
    days = [
        DayFigures(start.date(), int(work[2 * i] or 0), int(work[2 * i + 1] or 0))
        for i, start in enumerate(starts)
    ]
    pending, approved, rejected = (int(v or 0) for v in work[2 * REPORT_DAYS:])

    active_trainers = session.scalar(
        select(func.count()).select_from(ProjectMember).where(
            ProjectMember.project_id == project.id,
            ProjectMember.state == MembershipState.ACTIVE,
        )
    ) or 0
    open_tasks, open_slots = session.execute(
        select(func.count(), func.coalesce(func.sum(Task.open_slots), 0))
        .where(Task.project_id == project.id, Task.open_slots > 0)
    ).one()
    over_answered = _over_answered_tasks(session, project.id)

    week_start = calendar.week_of("UTC", now).starts_at
    seconds = _entry_seconds(session)
    week_seconds, total_seconds = session.execute(
        select(
            func.sum(case((TimeEntry.started_at >= week_start, seconds), else_=0)),
            func.sum(seconds),
        ).where(TimeEntry.project_id == project.id, TimeEntry.ended_at.is_not(None))
    ).one()

    cost = [
        Money(int(amount), currency)
        for currency, amount in session.execute(
            select(EarningEvent.currency, func.sum(EarningEvent.amount))
            .where(EarningEvent.project_id == project.id)
            .group_by(EarningEvent.currency)
            .order_by(EarningEvent.currency)
        )
    ]
    reviewed = approved + rejected
    return ProjectReport(
        project=project, as_of=now, days=days,
        submitted_last_7_days=sum(d.submitted for d in days),
        approved_last_7_days=sum(d.approved for d in days),
        pending_review=pending, approved_total=approved, rejected_total=rejected,
        approval_rate=(
            (Decimal(approved) / Decimal(reviewed)).quantize(Decimal("0.0001"))
            if reviewed else None
        ),
        active_trainers=int(active_trainers), open_tasks=int(open_tasks),
        open_slots=int(open_slots), over_answered_tasks=over_answered, week_start=week_start,
        logged_seconds_this_week=_whole(week_seconds), logged_seconds_total=_whole(total_seconds),
        cost_to_date=cost, extra_slots_cost=aggregates.extra_slots_cost(session, project.id),
    )


def _over_answered_tasks(session: Session, project_id: uuid.UUID) -> int:
    """Tasks held or answered by more trainers than their redundancy: a rejection was
    overturned after another trainer had taken the slot it gave back."""
    holding = (
        select(Assignment.task_id, func.count().label("holding"))
        .where(Assignment.project_id == project_id, Assignment.state.in_(SLOT_STATES))
        .group_by(Assignment.task_id)
        .subquery()
    )
    return session.scalar(
        select(func.count()).select_from(holding)
        .join(Task, Task.id == holding.c.task_id)
        .where(holding.c.holding > Task.redundancy)
    ) or 0


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _entry_seconds(session: Session) -> Any:
    """An entry's length in seconds, as SQL: PostgreSQL subtracts timestamps; SQLite
    (no time type) subtracts Julian day numbers."""
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", TimeEntry.ended_at - TimeEntry.started_at)
    return (func.julianday(TimeEntry.ended_at) - func.julianday(TimeEntry.started_at)) * 86400


def _whole(seconds: Any) -> int:
    # SQLite's Julian days are floats: round the sum, do not truncate it.
    return round(Decimal(str(seconds))) if seconds is not None else 0


# --- trainers ------------------------------------------------------------------------


@dataclass(frozen=True)
class MyProject:
    """A project as one trainer sees it: never another trainer's kill fees."""

    project: Project
    membership: ProjectMember
    rate: ProjectRate | None
    guidelines: GuidelineVersion | None
    # The suspension announced and pending, or the one in force while suspended/closed.
    suspension: Suspension | None
    kill_fees: list[KillFee]


def list_my_projects(
    session: Session, trainer: User, page: PageRequest, *, include_past: bool = False
) -> Page[MyProject]:
    """The projects the trainer is an active member of (with ``include_past``, also
    those they left or were removed from), newest project first."""
    states = WAS_MEMBER if include_past else (MembershipState.ACTIVE,)
    member_of = select(ProjectMember.project_id).where(
        ProjectMember.trainer_id == trainer.id, ProjectMember.state.in_(states)
    )
    projects = paginate(
        session, select(Project).where(Project.id.in_(member_of)), page,
        created_at=Project.created_at, row_id=Project.id,
    )
    return Page(_views(session, trainer, projects.items), projects.next_cursor)


def get_my_project(session: Session, trainer: User, project_id: uuid.UUID) -> MyProject:
    """One project the trainer is or was a member of; ``NotFound`` otherwise."""
    member = session.scalar(
        select(ProjectMember.id).where(
            ProjectMember.trainer_id == trainer.id,
            ProjectMember.project_id == project_id,
            ProjectMember.state.in_(WAS_MEMBER),
        ).limit(1)
    )
    project = session.get(Project, project_id) if member else None
    if project is None:
        raise NotFound(gettext("No such project."))
    return _views(session, trainer, [project])[0]


def list_my_kill_fees(session: Session, trainer: User, page: PageRequest) -> Page[KillFee]:
    """The trainer's own kill fees, newest first (with their suspension and project)."""
    stmt = select(KillFee).where(KillFee.trainer_id == trainer.id).options(_WITH_SUSPENSION)
    return paginate(session, stmt, page, created_at=KillFee.created_at, row_id=KillFee.id)


def _views(session: Session, trainer: User, projects: list[Project]) -> list[MyProject]:
    """The trainer's view of a page of projects, a few queries for the whole page."""
    if not projects:
        return []
    ids = [p.id for p in projects]
    now = clock.now()
    memberships: dict[uuid.UUID, ProjectMember] = {}
    for member in session.scalars(
        select(ProjectMember)
        .where(ProjectMember.trainer_id == trainer.id, ProjectMember.project_id.in_(ids),
               ProjectMember.state.in_(WAS_MEMBER))
        .order_by(ProjectMember.created_at)
    ):
        memberships[member.project_id] = member  # the latest row wins
    rates: dict[uuid.UUID, ProjectRate] = {}
    for rate in session.scalars(
        select(ProjectRate)
        .where(ProjectRate.project_id.in_(ids), ProjectRate.effective_from <= now)
        .order_by(ProjectRate.effective_from, ProjectRate.number)
    ):
        rates[rate.project_id] = rate
    guidelines = access.latest_guidelines(session, ids)
    suspensions: dict[uuid.UUID, Suspension] = {}
    for suspension in session.scalars(
        select(Suspension)
        .where(Suspension.project_id.in_(ids), Suspension.cancelled_at.is_(None))
        .order_by(Suspension.announced_at)
    ):
        suspensions[suspension.project_id] = suspension
    fees: dict[uuid.UUID, list[KillFee]] = {}
    for fee in session.scalars(
        select(KillFee)
        .where(KillFee.trainer_id == trainer.id, KillFee.project_id.in_(ids))
        .options(_WITH_SUSPENSION)
        .order_by(KillFee.created_at.desc())
    ):
        fees.setdefault(fee.project_id, []).append(fee)
    return [
        MyProject(
            project=p, membership=memberships[p.id], rate=rates.get(p.id),
            guidelines=guidelines.get(p.id),
            suspension=_shown_suspension(p, suspensions.get(p.id), now),
            kill_fees=fees.get(p.id, []),
        )
        for p in projects
    ]


def _shown_suspension(
    project: Project, latest: Suspension | None, now: datetime
) -> Suspension | None:
    if latest is None:
        return None
    if latest.applied_at is None:
        return latest
    in_force = project.state_at(now) in (ProjectState.SUSPENDED, ProjectState.CLOSED)
    return latest if in_force else None
