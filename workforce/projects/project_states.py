"""Pausing, resuming, suspending (with notice, or kill fees for notice missed) and
closing projects.

A pause is temporary: the reason and expected resume date are shown to trainers,
claims and new sessions are refused (``access.require_open_for_work``) and running
sessions stop at once, paid to that moment. Leases already held may still be
submitted: that work was started under an open project and is paid when approved.

A suspension is announced with a reason and an effective time. Trainers hear of it
at once. Notice shorter than the organisation's ``notice_period_days`` owes every
active trainer a kill fee, recorded when announced (and kept if the suspension is
later cancelled by a resume). It takes effect at its effective time by itself: the
project's row carries that time (``Project.suspension_effective_at``, kept here and
nowhere else), and every rule that asks whether the project is open for work reads it
(``Project.state_at``), so from that moment claims, submissions of leases, session
starts and heartbeats and manual entries after it are refused or closed at it. The job
(``apply_due_suspensions``) only does the follow-up: it moves the state, releases the
leases and closes the sessions at the effective time, and tells the trainers; a
manager's action on the project does the same first. Submitted work and timesheets
are still reviewed and paid by their own jobs, whatever the project's state.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, selectinload

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import Actor
from workforce.accounts.models import Organisation, User
from workforce.billing.models import EarningKind
from workforce.billing.services import record_earning
from workforce.errors import Conflict, IllegalTransition, Invalid
from workforce.i18n import _
from workforce.money import Money, minor_units
from workforce.notifications.services import tell
from workforce.notifications.texts import day, moment, money
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access, events, lifecycle, winddown
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    EntryEndReason,
    KillFee,
    MembershipState,
    PayModel,
    Project,
    ProjectMember,
    ProjectRate,
    ProjectState,
    Suspension,
    TimeEntry,
)
from workforce.projects.services import tell_members

DAY = timedelta(days=1)
# The days of history a kill fee averages over.
HISTORY_DAYS = 14
# How far in the past an effective time (or how short of whole days the notice) may
# be and still count as given: about the time a request takes to arrive.
TOLERANCE = timedelta(minutes=1)
# Work that counts as earnings for a kill fee: submitted and not rejected.
EARNING_STATES = (
    AssignmentState.SUBMITTED,
    AssignmentState.REVISION_REQUESTED,
    AssignmentState.APPROVED,
)
SCHEDULER = audit.SystemActor("scheduler")


# --- pause and resume ----------------------------------------------------------------


def pause_project(
    session: Session,
    actor: User,
    project_id: uuid.UUID,
    *,
    reason: str,
    expected_resume_at: datetime | None = None,
) -> Project:
    """Pause an active project: new work is refused with the reason, running sessions
    stop now (paid to this moment). Leases already held may still be submitted."""
    now = clock.now()
    if expected_resume_at is not None and clock.as_utc(expected_resume_at) <= now:
        raise Invalid(
            _("The expected resume date must be in the future."),
            errors={"expected_resume_at": [_("Must be in the future.")]},
        )
    project = _locked_project(session, actor, project_id)
    before = _state_of(project)
    previous = project.state
    lifecycle.PROJECTS.move(project, ProjectState.PAUSED)
    project.pause_reason = reason
    project.expected_resume_at = clock.as_utc(expected_resume_at) if expected_resume_at else None
    events.project_state_changed(session, project, "paused", previous)
    closed = winddown.close_sessions(session, project.id, at=now, reason=EntryEndReason.PAUSED)
    resume = project.expected_resume_at
    tell_members(
        session, project, "project.paused",
        {"reason": reason, "expected_resume_on": day(resume)},
        {"reason": reason, "expected_resume_at": resume.isoformat() if resume else None},
    )
    audit.record(
        session, actor, "project.paused", object_type="project", object_id=project.id,
        organisation_id=project.organisation_id, before=before,
        after={**_state_of(project), "sessions_closed": len(closed)},
    )
    session.flush()
    return project


def resume_project(session: Session, actor: User, project_id: uuid.UUID) -> Project:
    """Reopen a paused or suspended project. A suspension announced but not yet in
    effect is cancelled (its kill fees, already owed, stand)."""
    now = clock.now()
    project = _locked_project(session, actor, project_id)
    if project.state not in (ProjectState.PAUSED, ProjectState.SUSPENDED):
        # A draft becomes active by activation, with its own checks, not by a resume.
        raise IllegalTransition(
            _("Only a paused or suspended project can be resumed; this one is %(state)s.",
              state=project.state.value),
            current_state=project.state.value,
        )
    before = _state_of(project)
    previous = project.state
    lifecycle.PROJECTS.move(project, ProjectState.ACTIVE)
    project.pause_reason = None
    project.expected_resume_at = None
    cancelled = _cancel_pending(session, project, now)
    project.suspension_effective_at = None  # none pending, none in force
    for suspension in cancelled:
        events.project_state_changed(session, project, "suspension_cancelled", previous,
                                     suspension=suspension)
    events.project_state_changed(session, project, "resumed", previous)
    tell_members(
        session, project, "project.resumed", {"suspension_cancelled": bool(cancelled)},
        {"cancelled_suspension_ids": [str(s.id) for s in cancelled]},
    )
    audit.record(
        session, actor, "project.resumed", object_type="project", object_id=project.id,
        organisation_id=project.organisation_id, before=before,
        after={**_state_of(project), "cancelled_suspension_ids": [s.id for s in cancelled]},
    )
    session.flush()
    return project


# --- suspension ----------------------------------------------------------------------


def announce_suspension(
    session: Session,
    actor: User,
    project_id: uuid.UUID,
    *,
    reason: str,
    effective_at: datetime,
) -> Suspension:
    """Announce that an active or paused project is suspended from ``effective_at``.

    Trainers are told at once. Notice shorter than the organisation's notice period
    owes every active trainer a kill fee (see ``kill_fee_history``). An effective time
    of now (or up to a minute ago) suspends the project in this same unit of work.
    """
    now = clock.now()
    effective_at = clock.as_utc(effective_at)
    if effective_at < now - TOLERANCE:
        raise Invalid(
            _("The effective time must not be in the past."),
            errors={"effective_at": [_("Must be now or later.")]},
        )
    # A time a moment ago means now: a suspension never takes effect retroactively.
    effective_at = max(effective_at, now)
    project = _locked_project(session, actor, project_id)
    lifecycle.PROJECTS.check(project.state, ProjectState.SUSPENDED)
    pending = find_pending_suspension(session, project.id)
    if pending is not None:
        raise Conflict(
            _("A suspension of this project is already announced; cancel it first."),
            code="suspension-pending", suspension_id=str(pending.id),
            effective_at=pending.effective_at.isoformat(),
        )
    organisation = session.get(Organisation, project.organisation_id)
    assert organisation is not None
    suspension = Suspension(
        project_id=project.id, reason=reason, announced_at=now, effective_at=effective_at,
        notice_days=organisation.notice_period_days, created_by_id=actor.id,
    )
    session.add(suspension)
    project.suspension_effective_at = effective_at
    session.flush()  # the kill fees and their earnings refer to its id
    events.project_state_changed(session, project, "suspension_announced", project.state,
                                 suspension=suspension)
    trainer_ids = active_trainer_ids(session, project.id)
    missed = days_missed(suspension.notice_days, now, effective_at)
    fees = _owe_kill_fees(session, project, suspension, trainer_ids, missed) if missed else {}
    for trainer_id in trainer_ids:
        fee = fees.get(trainer_id)
        tell(
            session, trainer_id, "project.suspension_announced",
            {"project": project.name, "effective_at": moment(effective_at), "reason": reason,
             "days_missed": missed, "notice_days": suspension.notice_days,
             "kill_fee": money(Money(fee.amount, fee.currency)) if fee else None},
            {"project_id": str(project.id), "suspension_id": str(suspension.id),
             "reason": reason, "effective_at": effective_at.isoformat(),
             "kill_fee": _fee_data(fee)}, deliver_now=False,
        )
    audit.record(
        session, actor, "project.suspension_announced", object_type="project",
        object_id=project.id, organisation_id=project.organisation_id,
        after={
            "suspension_id": suspension.id, "reason": reason, "effective_at": effective_at,
            "notice_days": suspension.notice_days, "days_missed": missed,
            "currency": project.currency,
            "kill_fees": [
                {"trainer_id": f.trainer_id, "average_daily_amount": f.average_daily_amount,
                 "amount": f.amount} for f in fees.values()
            ],
            "kill_fees_total": sum(f.amount for f in fees.values()),
        },
    )
    if effective_at <= now:
        _apply(session, suspension, project, actor, now=now)
    session.flush()
    return suspension


def cancel_suspension(session: Session, actor: User, project_id: uuid.UUID) -> Suspension:
    """Call off the announced suspension before it takes effect; the project carries on
    as it is (active or paused). Kill fees already owed stand. 409 without one."""
    now = clock.now()
    project = _locked_project(session, actor, project_id)
    cancelled = _cancel_pending(session, project, now)
    if not cancelled:
        raise Conflict(_("No suspension of this project is waiting to take effect."),
                       code="no-pending-suspension", current_state=project.state.value)
    [suspension] = cancelled
    events.project_state_changed(session, project, "suspension_cancelled", project.state,
                                 suspension=suspension)
    tell_members(
        session, project, "project.suspension_cancelled",
        {"effective_at": moment(suspension.effective_at)},
        {"suspension_id": str(suspension.id)},
    )
    audit.record(
        session, actor, "project.suspension_cancelled", object_type="project",
        object_id=project.id, organisation_id=project.organisation_id,
        after={"suspension_id": suspension.id, "state": project.state.value},
    )
    session.flush()
    return suspension


def apply_due_suspensions(session: Session, *, now: datetime, limit: int) -> int:
    """Batch job: suspend the projects whose announced suspension is due.

    Each project row is locked, then its suspension re-read, so a resume (which
    cancels it) or a second scheduler in between is seen; the same lock order as
    ``resume_project`` keeps the two from deadlocking. Returns the rows handled.
    """
    due = session.execute(
        select(Suspension.id, Suspension.project_id)
        .where(
            Suspension.applied_at.is_(None),
            Suspension.cancelled_at.is_(None),
            Suspension.effective_at <= now,
        )
        .order_by(Suspension.effective_at, Suspension.id)
        .limit(limit)
    ).all()
    for suspension_id, project_id in due:
        project = access.lock_project(session, project_id)
        suspension = session.scalars(
            select(Suspension)
            .where(Suspension.id == suspension_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if project is None or suspension.applied_at or suspension.cancelled_at:
            continue
        if not lifecycle.PROJECTS.allows(project.state, ProjectState.SUSPENDED):
            # Cannot happen through the services (a resume cancels, closing needs a
            # suspended project); settle it rather than pick it up on every run.
            suspension.cancelled_at = now
            if project.state is not ProjectState.SUSPENDED:
                project.suspension_effective_at = None
            audit.record(
                session, SCHEDULER, "project.suspension_cancelled", object_type="project",
                object_id=project.id, organisation_id=project.organisation_id,
                after={"suspension_id": suspension.id, "state": project.state.value},
            )
            continue
        _apply(session, suspension, project, SCHEDULER, now=now)
    session.flush()
    return len(due)


def list_suspensions(
    session: Session, staff: User, project_id: uuid.UUID, page: PageRequest
) -> Page[Suspension]:
    """The project's suspensions with their kill fees, newest first."""
    access.get_project(session, staff, project_id)
    stmt = (
        select(Suspension)
        .where(Suspension.project_id == project_id)
        .options(selectinload(Suspension.kill_fees))
    )
    return paginate(session, stmt, page, created_at=Suspension.created_at, row_id=Suspension.id)


def find_pending_suspension(session: Session, project_id: uuid.UUID) -> Suspension | None:
    """The suspension announced and neither applied nor cancelled, if any."""
    return session.scalars(
        select(Suspension)
        .where(
            Suspension.project_id == project_id,
            Suspension.applied_at.is_(None),
            Suspension.cancelled_at.is_(None),
        )
        .order_by(Suspension.announced_at.desc())
        .limit(1)
    ).one_or_none()


def days_missed(notice_days: int, announced_at: datetime, effective_at: datetime) -> int:
    """Whole days of notice missed, rounded up in the trainer's favour; notice short
    of whole days by no more than ``TOLERANCE`` (a request's travel) counts as given."""
    short = timedelta(days=notice_days) - (effective_at - announced_at) - TOLERANCE
    if short <= timedelta(0):
        return 0
    return -(-short // DAY)


def suspension_status(suspension: Suspension) -> str:
    """``applied`` from the effective time on, whether or not the job has run."""
    if suspension.cancelled_at is not None:
        return "cancelled"
    if suspension.applied_at is not None or suspension.effective_at <= clock.now():
        return "applied"
    return "pending"


# --- kill fees -----------------------------------------------------------------------


def kill_fee_history(
    session: Session, project: Project, *, until: datetime
) -> dict[uuid.UUID, Decimal]:
    """Per trainer, the value in minor units (exact) of their work on the project in
    the ``HISTORY_DAYS`` before ``until``, at the rates in force when it was done.

    On a per-task project, tasks submitted in the window and not rejected count at
    their rate version's amount (or, lacking one, the rate in force when submitted);
    closed time entries started in the window count their seconds at their rate
    version's hourly amount (tasks on an hourly project are paid through its time).
    """
    since = until - HISTORY_DAYS * DAY
    totals: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    if project.pay_model is PayModel.PER_TASK:
        for trainer_id, amount in _task_value(session, project, since, until):
            totals[trainer_id] += Decimal(amount or 0)
    for trainer_id, started_at, ended_at, hourly in _time_entries(session, project, since, until):
        seconds = int((ended_at - started_at).total_seconds())
        totals[trainer_id] += Decimal(hourly) * seconds / 3600
    return dict(totals)


def _task_value(
    session: Session, project: Project, since: datetime, until: datetime
) -> Iterable[Any]:
    by_id = aliased(ProjectRate)
    rate_then = (
        select(ProjectRate.amount)
        .where(
            ProjectRate.project_id == Assignment.project_id,
            ProjectRate.effective_from <= Assignment.submitted_at,
        )
        .order_by(ProjectRate.effective_from.desc(), ProjectRate.number.desc())
        .limit(1)
        .correlate(Assignment)
        .scalar_subquery()
    )
    return session.execute(
        select(Assignment.trainer_id, func.sum(func.coalesce(by_id.amount, rate_then)))
        .outerjoin(by_id, by_id.id == Assignment.rate_id)
        .where(
            Assignment.project_id == project.id,
            Assignment.state.in_(EARNING_STATES),
            Assignment.submitted_at >= since,
            Assignment.submitted_at < until,
        )
        .group_by(Assignment.trainer_id)
    )


def _time_entries(
    session: Session, project: Project, since: datetime, until: datetime
) -> Iterable[Any]:
    # Entries are read one by one so their seconds are exact on every backend; the
    # window bounds them to a fortnight's work.
    return session.execute(
        select(TimeEntry.trainer_id, TimeEntry.started_at, TimeEntry.ended_at, ProjectRate.amount)
        .join(ProjectRate, ProjectRate.id == TimeEntry.rate_id)
        .where(
            TimeEntry.project_id == project.id,
            TimeEntry.ended_at.is_not(None),
            TimeEntry.started_at >= since,
            TimeEntry.started_at < until,
        )
    )


def _owe_kill_fees(
    session: Session,
    project: Project,
    suspension: Suspension,
    trainer_ids: list[uuid.UUID],
    missed: int,
) -> dict[uuid.UUID, KillFee]:
    """A ``KillFee`` for every active trainer (zero without recent work), and an
    earning for each that is not zero."""
    history = kill_fee_history(session, project, until=suspension.announced_at)
    scale = minor_units(project.currency)
    fees: dict[uuid.UUID, KillFee] = {}
    for trainer_id in trainer_ids:
        total_minor = history.get(trainer_id, Decimal(0))
        # Rounded once, half-even: the average daily amount is what the fee multiplies.
        average = Money.from_decimal((total_minor / HISTORY_DAYS).scaleb(-scale), project.currency)
        fee = KillFee(
            suspension=suspension, project_id=project.id, trainer_id=trainer_id,
            average_daily_amount=average.amount, days_missed=missed,
            amount=average.amount * missed, currency=project.currency, created_at=clock.now(),
        )
        session.add(fee)
        fees[trainer_id] = fee
    session.flush()  # the earnings refer to the fees' ids
    for fee in fees.values():
        if fee.amount > 0:
            record_earning(
                session, kind=EarningKind.KILL_FEE, trainer_id=fee.trainer_id,
                organisation_id=project.organisation_id,
                money=Money(fee.amount, fee.currency), source_type="project_kill_fee",
                source_id=fee.id, project_id=project.id,
                description=f"Kill fee: {project.name[:200]} suspended at "
                f"{fee.days_missed} day(s) short notice",
            )
    return fees


# --- closing -------------------------------------------------------------------------


def close_project(session: Session, actor: User, project_id: uuid.UUID) -> Project:
    """Close a draft or suspended project for good. A running project is suspended
    first, with its notice (or kill fees)."""
    now = clock.now()
    project = _locked_project(session, actor, project_id)
    if project.state in (ProjectState.ACTIVE, ProjectState.PAUSED):
        raise IllegalTransition(
            _("A %(state)s project cannot be closed directly: suspend it first, with notice to "
              "its trainers, then close it.", state=project.state.value),
            current_state=project.state.value,
        )
    before = _state_of(project)
    previous = project.state
    lifecycle.PROJECTS.move(project, ProjectState.CLOSED)
    project.closed_at = now
    events.project_state_changed(session, project, "closed", previous)
    # Nothing should be left in flight on a suspended project; make sure.
    winddown.end_leases(session, project.id, at=now)
    winddown.close_sessions(session, project.id, at=now, reason=EntryEndReason.SUSPENDED)
    _cancel_pending(session, project, now)
    tell_members(session, project, "project.closed", {}, {})
    audit.record(
        session, actor, "project.closed", object_type="project", object_id=project.id,
        organisation_id=project.organisation_id, before=before, after=_state_of(project),
    )
    session.flush()
    return project


# --- helpers -------------------------------------------------------------------------


def active_trainer_ids(session: Session, project_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(
        select(ProjectMember.trainer_id)
        .where(
            ProjectMember.project_id == project_id,
            ProjectMember.state == MembershipState.ACTIVE,
        )
        .order_by(ProjectMember.trainer_id)
    ))


def _apply(
    session: Session, suspension: Suspension, project: Project, actor: Actor, *, now: datetime
) -> None:
    """The follow-up of a suspension that has taken effect: the state moved, leases
    released and running sessions closed (and paid) at the effective time, trainers
    told."""
    before = _state_of(project)
    previous = project.state
    lifecycle.PROJECTS.move(project, ProjectState.SUSPENDED)
    project.pause_reason = None
    project.expected_resume_at = None
    project.suspension_effective_at = suspension.effective_at
    events.project_state_changed(session, project, "suspended", previous,
                                 suspension=suspension)
    leases = winddown.end_leases(session, project.id, at=suspension.effective_at)
    entries = winddown.close_sessions(
        session, project.id, at=suspension.effective_at, reason=EntryEndReason.SUSPENDED
    )
    suspension.applied_at = now
    tell_members(
        session, project, "project.suspended", {"reason": suspension.reason},
        {"suspension_id": str(suspension.id), "reason": suspension.reason},
    )
    audit.record(
        session, actor, "project.suspended", object_type="project", object_id=project.id,
        organisation_id=project.organisation_id, before=before,
        after={**_state_of(project), "suspension_id": suspension.id,
               "leases_released": len(leases), "sessions_closed": len(entries)},
    )


def _cancel_pending(session: Session, project: Project, now: datetime) -> list[Suspension]:
    pending = list(session.scalars(
        select(Suspension).where(
            Suspension.project_id == project.id,
            Suspension.applied_at.is_(None),
            Suspension.cancelled_at.is_(None),
        )
    ))
    for suspension in pending:
        suspension.cancelled_at = now
    if pending:
        project.suspension_effective_at = None
    return pending


def _locked_project(session: Session, actor: User, project_id: uuid.UUID) -> Project:
    """The project of the actor's organisation (else ``NotFound``), its row locked, with
    a suspension whose moment has passed applied first: the manager acts on the state
    in force, not on what the job has yet to catch up with."""
    access.get_project(session, actor, project_id)
    project = access.lock_project(session, project_id)
    assert project is not None
    now = clock.now()
    due = find_pending_suspension(session, project.id) if (
        project.state_at(now) is not project.state) else None
    if due is not None:
        _apply(session, due, project, SCHEDULER, now=now)
    return project



def _state_of(project: Project) -> dict[str, Any]:
    return {
        "state": project.state.value,
        "pause_reason": project.pause_reason,
        "expected_resume_at": project.expected_resume_at,
    }


def _fee_data(fee: KillFee | None) -> dict[str, Any] | None:
    if fee is None:
        return None
    return {"amount": fee.amount, "currency": fee.currency, "days_missed": fee.days_missed,
            "average_daily_amount": fee.average_daily_amount}
