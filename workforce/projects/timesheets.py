"""Weekly timesheets: a trainer's entries on one project in one local week, submitted
by the trainer and approved (in full or adjusted, with a reason the trainer sees) by
the project's organisation, or approved in full by the scheduler once the project's
review period has passed.

Weeks start on Monday at midnight in the trainer's time zone (``user.timezone``); an
entry belongs to the week it started in. Approval pays each entry at the rate that
was in force when it started: the entries are taken in chronological order until the
approved total is reached, the seconds are summed per rate version, and the sum of
``rate x hours`` over the versions is rounded once (half-even) into minor units. That
amount becomes one earning event per timesheet, whatever retries or races.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import calendar, clock
from workforce.accounts import audit
from workforce.accounts.audit import Actor, SystemActor
from workforce.accounts.models import User
from workforce.billing.models import EarningKind
from workforce.billing.services import record_earning
from workforce.errors import Conflict, Invalid, NotFound
from workforce.i18n import _
from workforce.money import Money
from workforce.notifications import texts
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access
from workforce.projects.lifecycle import TIMESHEETS
from workforce.projects.models import (
    Project,
    ProjectRate,
    TimeEntry,
    Timesheet,
    TimesheetState,
)

SCHEDULER = SystemActor("scheduler")
ADJUSTMENT_REASON_MAX = 2_000

# --- pay: seconds per rate version, rounded once ---------------------------------------


@dataclass(frozen=True)
class PayPart:
    """Seconds paid at one rate version."""

    rate_id: uuid.UUID
    hourly: Money
    seconds: int


def split_by_rate(
    entries: Iterable[tuple[uuid.UUID, int]], approved_seconds: int
) -> list[tuple[uuid.UUID, int]]:
    """``(rate_id, seconds)`` per rate version, in order of first use, for entries given
    in chronological order, cut once ``approved_seconds`` are reached."""
    totals: dict[uuid.UUID, int] = {}
    remaining = max(approved_seconds, 0)
    for rate_id, seconds in entries:
        if remaining <= 0:
            break
        taken = min(max(seconds, 0), remaining)
        if taken:
            totals[rate_id] = totals.get(rate_id, 0) + taken
            remaining -= taken
    return list(totals.items())


def amount_for(parts: Sequence[tuple[Money, int]], currency: str) -> Money:
    """What ``seconds`` at each hourly rate earn together: the exact sum of the parts,
    rounded once, half-even (a single part equals ``money.rate_for``)."""
    exact = Decimal(0)
    for hourly, seconds in parts:
        if hourly.currency != currency:
            raise Conflict(
                _("A rate in %(currency)s cannot pay a timesheet in %(currency2)s.",
                  currency=hourly.currency, currency2=currency),
                code="currency-mismatch",
            )
        exact += hourly.to_decimal() * Decimal(seconds) / Decimal(3600)
    return Money.from_decimal(exact, currency)


# --- what trainers and managers see ----------------------------------------------------


@dataclass(frozen=True)
class TimesheetView:
    """A timesheet with its figures. Until approval, ``logged_seconds`` counts a running
    session up to now and ``amount`` is what approving everything would pay; once
    approved, ``amount`` is what was paid."""

    timesheet: Timesheet
    project_name: str
    logged_seconds: int
    amount: Money
    parts: list[PayPart]
    trainer: User | None = None
    entries: list[TimeEntry] | None = None

    @property
    def week_end(self) -> date:
        return self.timesheet.week_start + timedelta(days=6)

    @property
    def amount_is_final(self) -> bool:
        return self.timesheet.state is TimesheetState.APPROVED


def entry_seconds(entry: TimeEntry, now: datetime) -> int:
    """Whole seconds of the entry; a running session counts up to ``now``."""
    end = entry.ended_at if entry.ended_at is not None else max(now, entry.started_at)
    return int((end - entry.started_at).total_seconds())


def _views(
    session: Session,
    timesheets: Sequence[Timesheet],
    *,
    with_entries: bool = False,
    with_trainers: bool = False,
) -> list[TimesheetView]:
    """Views of a page of timesheets, with three queries whatever its length."""
    if not timesheets:
        return []
    now = clock.now()
    ids = [t.id for t in timesheets]
    by_sheet: dict[uuid.UUID, list[TimeEntry]] = defaultdict(list)
    for entry in session.scalars(
        select(TimeEntry)
        .where(TimeEntry.timesheet_id.in_(ids))
        .order_by(TimeEntry.started_at, TimeEntry.id)
    ):
        by_sheet[entry.timesheet_id].append(entry)
    rate_ids = {e.rate_id for entries in by_sheet.values() for e in entries}
    rates = {
        r.id: r for r in session.scalars(select(ProjectRate).where(ProjectRate.id.in_(rate_ids)))
    } if rate_ids else {}
    names: dict[uuid.UUID, str] = {
        project_id: name for project_id, name in session.execute(
            select(Project.id, Project.name)
            .where(Project.id.in_({t.project_id for t in timesheets}))
        )
    }
    trainers: dict[uuid.UUID, User] = {}
    if with_trainers:
        trainers = {
            u.id: u for u in session.scalars(
                select(User).where(User.id.in_({t.trainer_id for t in timesheets}))
            )
        }
    views = []
    for sheet in timesheets:
        entries = by_sheet.get(sheet.id, [])
        logged = (
            sheet.logged_seconds if sheet.logged_seconds is not None
            else sum(entry_seconds(e, now) for e in entries)
        )
        paid = sheet.approved_seconds if sheet.approved_seconds is not None else logged
        parts = _parts(entries, rates, paid, now)
        amount = (
            Money(sheet.amount, sheet.currency) if sheet.amount is not None
            else amount_for([(p.hourly, p.seconds) for p in parts], sheet.currency)
        )
        views.append(TimesheetView(
            timesheet=sheet, project_name=names.get(sheet.project_id, ""),
            logged_seconds=logged, amount=amount, parts=parts,
            trainer=trainers.get(sheet.trainer_id),
            entries=entries if with_entries else None,
        ))
    return views


def _parts(
    entries: Sequence[TimeEntry], rates: dict[uuid.UUID, ProjectRate], seconds: int,
    now: datetime,
) -> list[PayPart]:
    split = split_by_rate(((e.rate_id, entry_seconds(e, now)) for e in entries), seconds)
    return [
        PayPart(rate_id, Money(rates[rate_id].amount, rates[rate_id].currency), taken)
        for rate_id, taken in split
    ]


def _view(session: Session, sheet: Timesheet, *, staff_view: bool = False) -> TimesheetView:
    return _views(session, [sheet], with_entries=True, with_trainers=staff_view)[0]


# --- finding and opening -------------------------------------------------------------


def lock_timesheet(session: Session, timesheet_id: uuid.UUID) -> Timesheet | None:
    return session.scalars(
        select(Timesheet)
        .where(Timesheet.id == timesheet_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _find_week(
    session: Session, project_id: uuid.UUID, trainer_id: uuid.UUID, monday: date
) -> Timesheet | None:
    return session.scalars(
        select(Timesheet)
        .where(
            Timesheet.project_id == project_id,
            Timesheet.trainer_id == trainer_id,
            Timesheet.week_start == monday,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def open_timesheet_for(
    session: Session, project: Project, trainer: User, started_at: datetime
) -> Timesheet:
    """The trainer's open timesheet for the local week ``started_at`` falls in, created
    if needed and row-locked (so a submission waits for the entry being added).
    ``Conflict`` (``timesheet-submitted``) once that week was submitted."""
    monday = calendar.week_start(trainer.timezone, started_at)
    sheet = _find_week(session, project.id, trainer.id, monday)
    if sheet is None:
        try:
            with session.begin_nested():
                sheet = Timesheet(
                    project_id=project.id, trainer_id=trainer.id, week_start=monday,
                    currency=project.currency,
                )
                session.add(sheet)
                session.flush()
        except IntegrityError:
            # Created by a concurrent request: use that one.
            sheet = _find_week(session, project.id, trainer.id, monday)
            if sheet is None:
                raise
    if sheet.state is not TimesheetState.OPEN:
        raise Conflict(
            _("Your timesheet for the week of %(monday)s was already %(state)s; it takes no more "
              "entries.", monday=monday.isoformat(), state=sheet.state.value),
            code="timesheet-submitted", timesheet_id=str(sheet.id),
            week_start=monday.isoformat(), current_state=sheet.state.value,
        )
    return sheet


# --- trainers --------------------------------------------------------------------------


def list_my_timesheets(
    session: Session,
    trainer: User,
    page: PageRequest,
    *,
    project_id: uuid.UUID | None = None,
    state: TimesheetState | None = None,
) -> Page[TimesheetView]:
    """The trainer's timesheets, newest first."""
    stmt = select(Timesheet).where(Timesheet.trainer_id == trainer.id)
    if project_id is not None:
        stmt = stmt.where(Timesheet.project_id == project_id)
    if state is not None:
        stmt = stmt.where(Timesheet.state == state)
    found = paginate(session, stmt, page, created_at=Timesheet.created_at, row_id=Timesheet.id)
    return Page(_views(session, found.items), found.next_cursor)


def _own(session: Session, trainer: User, timesheet: Timesheet | None) -> Timesheet:
    if timesheet is None or timesheet.trainer_id != trainer.id:
        raise NotFound(_("No such timesheet."))
    return timesheet


def get_my_timesheet(session: Session, trainer: User, timesheet_id: uuid.UUID) -> TimesheetView:
    """One of the trainer's timesheets with its entries and what it pays (or would)."""
    return _view(session, _own(session, trainer, session.get(Timesheet, timesheet_id)))


def submit_timesheet(session: Session, trainer: User, timesheet_id: uuid.UUID) -> TimesheetView:
    """Hand the week in for approval: no session of it may still run, and it needs at
    least one entry. Allowed whatever the project's state (suspended and closed projects
    still settle)."""
    sheet = _own(session, trainer, lock_timesheet(session, timesheet_id))
    TIMESHEETS.move(sheet, TimesheetState.SUBMITTED)
    entries = list(session.scalars(select(TimeEntry).where(TimeEntry.timesheet_id == sheet.id)))
    running = [e for e in entries if e.ended_at is None]
    if running:
        raise Conflict(
            _("A work session of this week is still running; stop it first."),
            code="session-running", entry_id=str(running[0].id),
        )
    if not entries:
        raise Conflict(_("The timesheet has no entries to submit."), code="timesheet-empty")
    sheet.logged_seconds = sum(e.seconds or 0 for e in entries)
    sheet.submitted_at = clock.now()
    session.flush()
    return _view(session, sheet)


# --- managers --------------------------------------------------------------------------


def list_project_timesheets(
    session: Session,
    staff: User,
    project_id: uuid.UUID,
    page: PageRequest,
    *,
    state: TimesheetState | None = None,
) -> Page[TimesheetView]:
    """A project's timesheets (of the staff member's organisation), newest first."""
    project = access.get_project(session, staff, project_id)
    stmt = select(Timesheet).where(Timesheet.project_id == project.id)
    if state is not None:
        stmt = stmt.where(Timesheet.state == state)
    found = paginate(session, stmt, page, created_at=Timesheet.created_at, row_id=Timesheet.id)
    return Page(_views(session, found.items, with_trainers=True), found.next_cursor)


def _of_organisation(session: Session, staff: User, timesheet: Timesheet | None) -> Timesheet:
    if timesheet is None:
        raise NotFound(_("No such timesheet."))
    project = session.get(Project, timesheet.project_id)
    if project is None or project.organisation_id != staff.organisation_id:
        raise NotFound(_("No such timesheet."))
    return timesheet


def get_timesheet(session: Session, staff: User, timesheet_id: uuid.UUID) -> TimesheetView:
    """A timesheet of the staff member's organisation, with its entries."""
    sheet = _of_organisation(session, staff, session.get(Timesheet, timesheet_id))
    return _view(session, sheet, staff_view=True)


def approve_timesheet(
    session: Session,
    staff: User,
    timesheet_id: uuid.UUID,
    *,
    approved_seconds: int | None = None,
    reason: str | None = None,
) -> TimesheetView:
    """Approve a submitted timesheet in full, or fewer seconds with a reason the trainer
    sees; more than logged is refused. Pays once (one earning event), notifies the
    trainer and is audited."""
    sheet = _of_organisation(session, staff, lock_timesheet(session, timesheet_id))
    logged = sheet.logged_seconds or 0
    if sheet.state is TimesheetState.SUBMITTED:
        if approved_seconds is not None and approved_seconds > logged:
            raise Invalid(
                _("At most the %(logged)s seconds logged can be approved.", logged=logged),
                errors={"approved_seconds": [_("Must not exceed the %(logged)s seconds logged.",
                                               logged=logged)]},
            )
        if approved_seconds is not None and approved_seconds < logged and not reason:
            raise Invalid(
                _("Approving less than was logged needs a reason, which the trainer sees."),
                errors={"reason": [_("Required when approving less than was logged.")]},
            )
    _approve(
        session, staff, sheet, logged if approved_seconds is None else approved_seconds,
        reason=reason, now=clock.now(), auto=False,
    )
    return _view(session, sheet, staff_view=True)


def _approve(
    session: Session,
    actor: Actor,
    sheet: Timesheet,
    approved_seconds: int,
    *,
    reason: str | None,
    now: datetime,
    auto: bool,
) -> None:
    TIMESHEETS.move(sheet, TimesheetState.APPROVED)
    project = session.get(Project, sheet.project_id)
    assert project is not None
    entries = list(session.scalars(
        select(TimeEntry)
        .where(TimeEntry.timesheet_id == sheet.id)
        .order_by(TimeEntry.started_at, TimeEntry.id)
    ))
    rates = {
        r.id: r for r in session.scalars(
            select(ProjectRate).where(ProjectRate.id.in_({e.rate_id for e in entries}))
        )
    }
    logged = sheet.logged_seconds or 0
    full = amount_for(
        [(p.hourly, p.seconds) for p in _parts(entries, rates, logged, now)], sheet.currency
    )
    paid = amount_for(
        [(p.hourly, p.seconds) for p in _parts(entries, rates, approved_seconds, now)],
        sheet.currency,
    )
    adjusted = approved_seconds < logged
    sheet.approved_seconds = approved_seconds
    sheet.adjustment_reason = reason if adjusted else None
    sheet.amount = paid.amount
    sheet.reviewed_at = now
    sheet.reviewed_by_id = actor.id if isinstance(actor, User) else None
    sheet.auto_approved = auto
    week = sheet.week_start.isoformat()
    if paid.amount > 0:
        record_earning(
            session, kind=EarningKind.TIMESHEET, trainer_id=sheet.trainer_id,
            organisation_id=project.organisation_id, money=paid, source_type="timesheet",
            source_id=sheet.id, project_id=project.id,
            description=f"Timesheet, week of {week}, {_hours(approved_seconds)}: "
            f"{project.name}"[:300],
        )
    audit.record(
        session, actor, "timesheet.approved", object_type="timesheet", object_id=sheet.id,
        organisation_id=project.organisation_id,
        before={"state": TimesheetState.SUBMITTED.value, "seconds": logged,
                "amount": full.amount, "currency": sheet.currency},
        after={"state": sheet.state.value, "seconds": approved_seconds,
               "amount": paid.amount, "currency": sheet.currency,
               "adjustment_reason": sheet.adjustment_reason, "auto_approved": auto},
    )
    tell(
        session, sheet.trainer_id, "timesheet.approved",
        {"project": project.name, "week_start": texts.day(sheet.week_start),
         "approved": _hours(approved_seconds), "amount": texts.money(paid),
         "adjusted": adjusted, "logged": _hours(logged), "reason": reason},
        {"timesheet_id": str(sheet.id), "project_id": str(project.id),
         "logged_seconds": logged, "approved_seconds": approved_seconds,
         "amount": paid.amount, "currency": paid.currency,
         "adjustment_reason": sheet.adjustment_reason},
    )
    session.flush()


def _hours(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" + (f" {secs:02d}s" if secs else "")


# --- the scheduler ---------------------------------------------------------------------


def auto_approve_timesheets(session: Session, *, now: datetime, limit: int) -> int:
    """Approve in full, as the scheduler, the submitted timesheets whose project's
    review period (``auto_approve_days``) has passed; returns how many. Rows another
    worker holds are skipped (``SKIP LOCKED`` on PostgreSQL), and an approved timesheet
    is never approved (or paid) again."""
    periods = list(session.scalars(
        select(Project.auto_approve_days)
        .join(Timesheet, Timesheet.project_id == Project.id)
        .where(Timesheet.state == TimesheetState.SUBMITTED)
        .distinct()
    ))
    if not periods:
        return 0
    # One condition per review period in use: portable, and the list stays short.
    due = or_(*(
        and_(
            Project.auto_approve_days == days,
            Timesheet.submitted_at <= now - timedelta(days=days),
        )
        for days in periods
    ))
    sheets = list(session.scalars(
        select(Timesheet)
        .join(Project, Project.id == Timesheet.project_id)
        .where(Timesheet.state == TimesheetState.SUBMITTED, due)
        .order_by(Timesheet.submitted_at, Timesheet.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Timesheet)
        .execution_options(populate_existing=True)
    ))
    for sheet in sheets:
        _approve(
            session, SCHEDULER, sheet, sheet.logged_seconds or 0, reason=None, now=now,
            auto=True,
        )
    return len(sheets)
