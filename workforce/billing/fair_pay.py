"""Fair pay on per-task projects: the measured hourly rate, weekly top-ups to the wage
floor, under-priced projects, and the pay-transparency view.

It lives in billing because it decides money owed (and posts it only through
``services.record_earning``); it reads the projects' work but changes nothing there
except the project's under-priced mark.

How it measures:

- **The week** is the trainer's local week (Monday 00:00 to Monday 00:00 in their time
  zone, as timesheets). A task belongs to the week it was *claimed* in: the claim never
  moves, whereas a revision moves the submission, so a task can never hop from a week
  already settled into another.
- **The measured rate** of a trainer's week on a project is the pay over the time of
  the same work: approved tasks (their task-approval earnings, over
  ``Assignment.active_seconds`` bounded again by claim-to-submission, as submission
  bounds it) and flagged work (its ``flagged_work`` earnings, over the seconds that
  pay covered, ``ContentFlag.paid_seconds``), whatever became of the flagged task. A
  task flagged and then submitted has both: its pay is the sum, its time the longer
  of the two, since both run from the claim and the flagged span ends by the
  submission (the same minutes are never counted, or topped up, twice). Rejected work
  counts in neither, beyond the time already paid as flagged work: a rejection says
  the work was not done to the guidelines, and an appeal that overturns it brings its
  pay and its time in together. Hourly projects are not measured: their rate is
  checked against the floor directly and paid by the hour.
- **The median per project** (the transparency view) is the median over trainers'
  weekly rates (complete local weeks in the last four), not over single tasks: it
  answers "what does a typical trainer earn an hour here", and a few prolific
  trainers cannot outweigh everyone else. It is suppressed under the wellbeing
  policy's ``min_group_size`` trainers, since it would disclose individual pay. The
  under-priced suggestion, by contrast, uses the median *task time* (approved tasks
  over the last four weeks), because a per-task rate is paid per task.

How a week is settled (daily, ``settle_due_weeks``):

- A week is settled once it has ended in the trainer's zone *and* its review period
  has passed (three lease lengths for the last claims to be submitted, then the
  project's ``auto_approve_days`` and an hour for the auto-approval job), so nearly all
  its work has been approved or rejected by then.
- Its measurement and the floor it was held to (the trainer's country's floor in the
  project's currency, else the default, as it stood at settlement) are kept in a
  ``PayWeek`` row, unique per trainer, project and week. The top-up is the difference
  between the floor times the measured time, **rounded up** to the minor unit, and the
  measured pay; it is a ``TopUp`` row whose id is the earning's source.
- Work approved or flagged after settlement (an overturned appeal, a late revision, a
  late flag) is found from the task-approval and flagged-work earnings recorded since
  the week was last measured. The week is measured again and only the *remaining*
  difference is posted, as a further ``TopUp`` (the next sequence number, its own
  source key). Top-ups are never taken back: a later approval that raises the
  measured rate leaves the earlier top-up paid.
- Exactly once, with any number of schedulers: the week row is locked (``SKIP
  LOCKED``) or inserted under its unique key, and each top-up's (week, sequence) key is
  unique, as is the earning's source.
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from workforce import calendar, clock
from workforce.accounts import audit
from workforce.accounts.models import Organisation, Role, User
from workforce.billing import floors
from workforce.billing.models import EarningEvent, EarningKind, PayWeek, TopUp
from workforce.billing.services import record_earning
from workforce.errors import NotFound
from workforce.i18n import gettext
from workforce.money import Money
from workforce.notifications import texts
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access, eligibility
from workforce.projects.models import (
    OPEN_MEMBERSHIP_STATES,
    Assignment,
    AssignmentState,
    PayModel,
    Project,
    ProjectMember,
    ProjectState,
)
from workforce.projects.reviews import SOURCE_TYPE as TASK_SOURCE
from workforce.projects.services import (
    clear_underpriced_if_met,
    estimated_hourly,
    manager_ids,
    per_task_as_hourly,
)
from workforce.projects.tasks import MAX_LEASE_FACTOR
from workforce.wellbeing.figures import Figure
from workforce.wellbeing.flags import SOURCE_TYPE as FLAG_SOURCE
from workforce.wellbeing.policies import policy_for
from workforce.wellbeing.support_models import ContentFlag

SCHEDULER = audit.SystemActor("scheduler")
TOP_UP_SOURCE = "pay_top_up"
MEASURE_WINDOW = timedelta(weeks=4)
# The auto-approval job runs every 15 minutes; an hour leaves it room.
SETTLE_GRACE = timedelta(hours=1)
# Approvals recorded this close to a measurement are looked at again on the next run:
# a transaction still open when the week was measured may commit them afterwards.
RECHECK_MARGIN = timedelta(minutes=10)
# How long a scheduler may be down and still settle every week it missed.
DOWNTIME_ALLOWANCE = timedelta(days=30)


# --- measuring -----------------------------------------------------------------------


@dataclass(frozen=True)
class WorkDone:
    """One task's work that counts in a measured rate: who, when claimed, its time and
    its pay, and whether it was approved (a task time for pricing) or only flagged."""

    trainer_id: uuid.UUID
    claimed_at: datetime
    seconds: int
    paid: int
    approved: bool = True

    @staticmethod
    def of(
        trainer_id: uuid.UUID, claimed_at: datetime, submitted_at: datetime | None,
        active_seconds: int | None, *, approval: int | None = None,
        flagged_seconds: int | None = None, flagged_pay: int | None = None,
    ) -> WorkDone:
        """An assignment's measured work: the approved piece with its active time
        (bounded again by claim to submission), and the time paid as flagged work with
        that pay. Both spans start at the claim and the flagged one ends by the
        submission, so they overlap: the time is the longer of the two, never their sum."""
        claimed_at = clock.as_utc(claimed_at)
        approved = 0
        if approval is not None:
            window = (clock.as_utc(submitted_at) - claimed_at).total_seconds() \
                if submitted_at else 0
            approved = max(0, min(active_seconds or 0, int(window)))
        return WorkDone(trainer_id, claimed_at, max(approved, flagged_seconds or 0),
                        (approval or 0) + (flagged_pay or 0), approval is not None)


@dataclass(frozen=True)
class Measure:
    tasks: int
    active_seconds: int
    paid: int
    currency: str

    @property
    def hourly(self) -> Money | None:
        """Pay per hour of active time, rounded once (half-even)."""
        if self.active_seconds <= 0:
            return None
        return per_task_as_hourly(self.paid, self.currency, self.active_seconds)

    @staticmethod
    def of(work: Iterable[WorkDone], currency: str) -> Measure:
        items = list(work)
        return Measure(len(items), sum(w.seconds for w in items), sum(w.paid for w in items),
                       currency)


def measured_work(
    session: Session, project_id: uuid.UUID, since: datetime, until: datetime,
    *, trainer_id: uuid.UUID | None = None,
) -> list[WorkDone]:
    """The project's work claimed in [since, until) that a measured rate counts: approved,
    paid tasks, and time paid as flagged work (whatever became of the task then)."""
    approval, flagged = aliased(EarningEvent), aliased(EarningEvent)
    stmt = (
        select(Assignment.trainer_id, Assignment.claimed_at, Assignment.submitted_at,
               Assignment.active_seconds, approval.amount, ContentFlag.paid_seconds,
               flagged.amount)
        .outerjoin(approval, and_(
            approval.source_id == Assignment.id, approval.kind == EarningKind.TASK_APPROVAL,
            approval.source_type == TASK_SOURCE, Assignment.state == AssignmentState.APPROVED,
        ))
        .outerjoin(ContentFlag, ContentFlag.assignment_id == Assignment.id)
        .outerjoin(flagged, and_(
            flagged.source_id == Assignment.id, flagged.kind == EarningKind.FLAGGED_WORK,
            flagged.source_type == FLAG_SOURCE,
        ))
        .where(
            Assignment.project_id == project_id,
            Assignment.claimed_at >= since, Assignment.claimed_at < until,
            or_(approval.id.is_not(None), ContentFlag.paid_seconds.is_not(None)),
        )
    )
    if trainer_id is not None:
        stmt = stmt.where(Assignment.trainer_id == trainer_id)
    return [
        WorkDone.of(trainer, claimed, submitted, active, approval=piece,
                    flagged_seconds=flag_seconds, flagged_pay=flag_pay)
        for trainer, claimed, submitted, active, piece, flag_seconds, flag_pay
        in session.execute(stmt)
    ]


def top_up_due(floor_hourly: int, active_seconds: int, paid: int) -> int:
    """What tops ``paid`` up to the floor for ``active_seconds``: the floor's pay rounded
    up to the minor unit (in the trainer's favour), less the pay; never negative."""
    if active_seconds <= 0:
        return 0
    return max(0, -(-floor_hourly * active_seconds // 3600) - paid)


def settles_at(project: Project, week_ends_at: datetime) -> datetime:
    """When a week's review period has passed: its last claims submitted (three lease
    lengths) and left unreviewed for ``auto_approve_days`` (then auto-approved)."""
    return (week_ends_at + timedelta(seconds=MAX_LEASE_FACTOR * project.lease_seconds)
            + timedelta(days=project.auto_approve_days) + SETTLE_GRACE)


# --- settling weeks ------------------------------------------------------------------


@dataclass(frozen=True)
class WeekKey:
    trainer_id: uuid.UUID
    project_id: uuid.UUID
    week_start: date


def due_weeks(session: Session, *, now: datetime) -> list[WeekKey]:
    """Weeks to settle now: per-task work approved or paid as flagged work (recently
    enough to be looked at) in a week whose review period has passed, and not measured
    since that pay was recorded."""
    longest = session.scalar(
        select(func.max(Project.auto_approve_days)).where(Project.pay_model == PayModel.PER_TASK)
    )
    if longest is None:
        return []
    horizon = now - timedelta(days=7 + longest + 2) - DOWNTIME_ALLOWANCE
    measured = exists().where(
        PayWeek.trainer_id == Assignment.trainer_id,
        PayWeek.project_id == Assignment.project_id,
        PayWeek.starts_at <= Assignment.claimed_at, PayWeek.ends_at > Assignment.claimed_at,
        PayWeek.measured_at >= EarningEvent.occurred_at,
    )
    rows = session.execute(
        select(Assignment.trainer_id, Assignment.project_id, Assignment.claimed_at)
        .join(EarningEvent, and_(EarningEvent.source_id == Assignment.id, or_(
            and_(EarningEvent.kind == EarningKind.TASK_APPROVAL,
                 EarningEvent.source_type == TASK_SOURCE),
            and_(EarningEvent.kind == EarningKind.FLAGGED_WORK,
                 EarningEvent.source_type == FLAG_SOURCE),
        )))
        .join(Project, Project.id == Assignment.project_id)
        .where(Project.pay_model == PayModel.PER_TASK, EarningEvent.occurred_at >= horizon,
               ~measured)
    ).all()
    trainers = _by_id(session, User, {r.trainer_id for r in rows})
    projects = _by_id(session, Project, {r.project_id for r in rows})
    keys: set[WeekKey] = set()
    for trainer_id, project_id, claimed in rows:
        monday, _, ends = calendar.week_of(trainers[trainer_id].timezone, claimed)
        if settles_at(projects[project_id], ends) <= now:
            keys.add(WeekKey(trainer_id, project_id, monday))
    return sorted(keys, key=lambda k: (k.week_start, str(k.project_id), str(k.trainer_id)))


def _by_id(session: Session, model: Any, ids: set[uuid.UUID]) -> dict[uuid.UUID, Any]:
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))}


def settle_week(session: Session, key: WeekKey, *, now: datetime) -> TopUp | None:
    """Measure the week and post what tops it up to the floor, if anything is left to
    post. Returns the top-up posted, or None (nothing owed, no floor, or the week is
    being settled by another scheduler right now)."""
    project = session.get_one(Project, key.project_id)
    trainer = session.get_one(User, key.trainer_id)
    week = _claim_week(session, key, project, trainer, now)
    if week is None:
        return None
    measure = Measure.of(
        measured_work(session, project.id, week.starts_at, week.ends_at, trainer_id=trainer.id),
        project.currency,
    )
    week.tasks, week.active_seconds, week.paid_amount = (
        measure.tasks, measure.active_seconds, measure.paid)
    week.measured_at = now - RECHECK_MARGIN
    session.flush()
    if week.floor_hourly_amount is None:
        return None
    remaining = top_up_due(week.floor_hourly_amount, measure.active_seconds, measure.paid)
    remaining -= week.topped_up_amount
    if remaining <= 0:
        return None
    top_up = _post_top_up(session, project, trainer, week, measure, remaining, now)
    _alert_managers(session, project, week, top_up, _review_pricing(session, project, now))
    return top_up


def _claim_week(
    session: Session, key: WeekKey, project: Project, trainer: User, now: datetime
) -> PayWeek | None:
    """The week's row, locked; a new one when it has none. None when another scheduler
    holds it or inserted it first (that one settles it)."""
    week = session.scalars(
        select(PayWeek)
        .where(PayWeek.trainer_id == key.trainer_id, PayWeek.project_id == key.project_id,
               PayWeek.week_start == key.week_start)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if week is not None:
        return week
    _, starts, ends = calendar.week_of(
        trainer.timezone, calendar.local_midnight(trainer.timezone, key.week_start))
    floor = floors.floor_for_trainer(session, project.organisation_id, project.currency,
                                     trainer.country)
    week = PayWeek(
        organisation_id=project.organisation_id, project_id=project.id, trainer_id=trainer.id,
        week_start=key.week_start, starts_at=starts, ends_at=ends, currency=project.currency,
        floor_country=floor.country if floor else None,
        floor_hourly_amount=floor.hourly.amount if floor else None,
        topped_up_amount=0, tasks=0, active_seconds=0, paid_amount=0,
        measured_at=now, created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(week)
            session.flush()
    except IntegrityError:
        # Locked, or just inserted, by another scheduler: it settles this week.
        return None
    return week


def _post_top_up(
    session: Session, project: Project, trainer: User, week: PayWeek, measure: Measure,
    amount: int, now: datetime,
) -> TopUp:
    assert week.floor_hourly_amount is not None
    floor = Money(week.floor_hourly_amount, week.currency)
    measured = measure.hourly
    hours = _hours(measure.active_seconds)
    where = f" ({week.floor_country})" if week.floor_country else ""
    reason = (
        f"Wage-floor top-up, {project.name[:80]}, week of {week.week_start.isoformat()}: "
        f"{hours} h of active time paid {Money(measure.paid, week.currency)} "
        f"({measured} an hour), under the floor of {floor} an hour{where}."
    )[:300]
    top_up = TopUp(
        pay_week_id=week.id, trainer_id=trainer.id, sequence=len(week.top_ups) + 1,
        amount=amount, currency=week.currency, active_seconds=measure.active_seconds,
        paid_amount=measure.paid, floor_country=week.floor_country,
        floor_hourly_amount=week.floor_hourly_amount, reason=reason, created_at=now,
    )
    session.add(top_up)
    session.flush()
    record_earning(
        session, kind=EarningKind.TOP_UP, trainer_id=trainer.id,
        organisation_id=project.organisation_id, money=Money(amount, week.currency),
        source_type=TOP_UP_SOURCE, source_id=top_up.id, description=reason,
        project_id=project.id,
    )
    week.topped_up_amount += amount
    session.flush()
    audit.record(
        session, SCHEDULER, "pay.top_up_posted", object_type="pay_top_up",
        object_id=top_up.id, organisation_id=project.organisation_id, before=None,
        after={"trainer_id": str(trainer.id), "project_id": str(project.id),
               "week_start": week.week_start.isoformat(), "sequence": top_up.sequence,
               "amount": amount, "currency": week.currency,
               "active_seconds": measure.active_seconds, "paid_amount": measure.paid,
               "floor_hourly_amount": week.floor_hourly_amount,
               "floor_country": week.floor_country},
    )
    tell(session, trainer.id, "pay.top_up", {
        "project": project.name, "week_start": texts.day(week.week_start), "hours": hours,
        "paid": texts.money(Money(measure.paid, week.currency)), "floor": texts.money(floor),
        "amount": texts.money(Money(amount, week.currency)), "again": top_up.sequence > 1,
    }, {
        "top_up_id": str(top_up.id), "project_id": str(project.id),
        "week_start": week.week_start.isoformat(), "amount": amount,
        "currency": week.currency,
    })
    return top_up


def _hours(seconds: int) -> str:
    return f"{Decimal(seconds) / Decimal(3600):.2f}"


# --- under-priced projects -----------------------------------------------------------


@dataclass(frozen=True)
class Pricing:
    """The project's per-task rate against the floor at the measured median task time."""

    median_seconds: int
    suggested: Money
    current: Money | None

    @property
    def underpriced(self) -> bool:
        return self.current is None or self.current.amount < self.suggested.amount


def median_task_seconds(session: Session, project: Project, now: datetime) -> int | None:
    """The median active time of the project's approved tasks claimed in the last
    four weeks (whole seconds, rounded up)."""
    work = [w for w in measured_work(session, project.id, now - MEASURE_WINDOW, now)
            if w.approved]
    if not work:
        return None
    return int(-(-Decimal(statistics.median(w.seconds for w in work)) // 1))


def _review_pricing(session: Session, project: Project, now: datetime) -> Pricing | None:
    """Mark the project under-priced (or clear the mark) from the median task time and
    the currency's highest floor, the one its rates are checked against."""
    floor = floors.binding_floor(session, project.organisation_id, project.currency)
    median = median_task_seconds(session, project, now)
    if floor is None or not median:
        return None
    project = access.lock_project(session, project.id) or project
    rate = access.rate_at(session, project.id, now)
    pricing = Pricing(
        median, Money(floors.minimum_for(floor, median), project.currency),
        Money(rate.amount, rate.currency) if rate else None,
    )
    if not pricing.underpriced:
        clear_underpriced_if_met(session, project, rate, SCHEDULER)
        return pricing
    before = _mark(project)
    project.underpriced_at = project.underpriced_at or now
    project.suggested_task_rate = pricing.suggested.amount
    project.measured_median_task_seconds = median
    if _mark(project) != before:
        audit.record(
            session, SCHEDULER, "project.marked_underpriced", object_type="project",
            object_id=project.id, organisation_id=project.organisation_id,
            before=before, after={**_mark(project),
                                  "floor_hourly_amount": floor.hourly.amount,
                                  "floor_country": floor.country},
        )
    session.flush()
    return pricing


def _mark(project: Project) -> dict[str, Any]:
    return {"underpriced_at": project.underpriced_at,
            "suggested_task_rate": project.suggested_task_rate,
            "measured_median_task_seconds": project.measured_median_task_seconds}


def _alert_managers(
    session: Session, project: Project, week: PayWeek, top_up: TopUp, pricing: Pricing | None
) -> None:
    """Tell the organisation's vendor managers and admins, without naming the trainer
    (their pay is theirs; finance sees it in the ledger). The week, hours, rates and
    amount are told only when at least the wellbeing policy's ``min_group_size``
    trainers had measured work on the project in that week, as the transparency view's
    median is: with fewer (and the members and their countries known) they would point
    at one person, so the alert says only that a top-up was posted."""
    group = Figure(
        len({w.trainer_id
             for w in measured_work(session, project.id, week.starts_at, week.ends_at)}),
        policy_for(session, project.organisation_id).min_group_size,
    )
    data: dict[str, Any] = {"project_id": str(project.id), "suppressed": group.suppressed}
    params: dict[str, Any] = {"project": project.name, "suppressed": group.suppressed,
                              "min_group_size": group.min_group_size}
    if not group.suppressed:
        params |= _top_up_figures(week, top_up)
        data |= {"week_start": week.week_start.isoformat(), "amount": top_up.amount,
                 "currency": top_up.currency}
    if pricing is not None and pricing.underpriced:
        params |= {"underpriced": True, "median_seconds": pricing.median_seconds,
                   "suggested": texts.money(pricing.suggested),
                   "current": texts.money(pricing.current)}
    data |= {"underpriced": bool(pricing and pricing.underpriced),
             "suggested_task_rate": pricing.suggested.amount if pricing else None}
    for user_id in manager_ids(session, project.organisation_id):
        tell(session, user_id, "pay.top_up_posted", params, data)


def _top_up_figures(week: PayWeek, top_up: TopUp) -> dict[str, Any]:
    """The week, hours, rates and amount of a top-up, as the managers' alert says them."""
    measured = per_task_as_hourly(top_up.paid_amount, top_up.currency,
                                  top_up.active_seconds) if top_up.active_seconds else None
    return {"week_start": texts.day(week.week_start), "measured": texts.money(measured),
            "hours": _hours(top_up.active_seconds),
            "floor": texts.money(Money(top_up.floor_hourly_amount, top_up.currency)),
            "amount": texts.money(Money(top_up.amount, top_up.currency))}


def review_underpriced(session: Session, *, now: datetime) -> int:
    """Clear the mark of every under-priced project whose rate in force now meets the
    suggested rate (a rate scheduled earlier took effect). Returns how many."""
    cleared = 0
    for project in session.scalars(
        select(Project).where(Project.underpriced_at.is_not(None))
        .with_for_update(skip_locked=True, key_share=True)
    ):
        rate = access.rate_at(session, project.id, now)
        cleared += clear_underpriced_if_met(session, project, rate, SCHEDULER)
    return cleared


# --- what trainers see ---------------------------------------------------------------


@dataclass(frozen=True)
class TopUpView:
    top_up: TopUp
    week: PayWeek
    project: Project

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.top_up, name)

    @property
    def week_start(self) -> date:
        return self.week.week_start

    @property
    def project_name(self) -> str:
        return self.project.name

    @property
    def hours(self) -> str:
        return _hours(self.top_up.active_seconds)

    @property
    def measured_hourly_rate(self) -> Money | None:
        t = self.top_up
        return per_task_as_hourly(t.paid_amount, t.currency, t.active_seconds) \
            if t.active_seconds else None

    @property
    def floor(self) -> Money:
        return Money(self.top_up.floor_hourly_amount, self.top_up.currency)


def list_my_top_ups(session: Session, trainer: User, page: PageRequest) -> Page[TopUpView]:
    """The trainer's top-ups, newest first, with the measurement behind each."""
    found = paginate(session, select(TopUp).where(TopUp.trainer_id == trainer.id), page,
                     created_at=TopUp.created_at, row_id=TopUp.id)
    weeks = _by_id(session, PayWeek, {t.pay_week_id for t in found.items})
    projects = _by_id(session, Project, {w.project_id for w in weeks.values()})
    return Page([TopUpView(t, weeks[t.pay_week_id], projects[weeks[t.pay_week_id].project_id])
                 for t in found.items], found.next_cursor)


# --- the pay-transparency view -------------------------------------------------------


@dataclass(frozen=True)
class MeasuredRate:
    median_hourly_rate: Money | None
    trainers: int | None
    suppressed: bool
    since: datetime
    until: datetime


@dataclass(frozen=True)
class Transparency:
    project: Project
    organisation: Organisation
    rate: Money | None
    estimated_hourly_rate: Money | None
    measured: MeasuredRate | None
    wage_floor: floors.Floor | None
    for_staff: bool

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.project, name)

    @property
    def project_id(self) -> uuid.UUID:
        return self.project.id

    @property
    def review_policy(self) -> dict[str, int]:
        return {"auto_approve_days": self.project.auto_approve_days,
                "review_sample_percent": self.project.review_sample_percent}

    @property
    def payout_hold_days(self) -> int:
        return self.organisation.payout_hold_days

    @property
    def notice_period_days(self) -> int:
        return self.organisation.notice_period_days

    @property
    def underpriced(self) -> dict[str, Any] | None:
        project = self.project
        if not self.for_staff or project.underpriced_at is None:
            return None
        return {"since": project.underpriced_at,
                "suggested_task_rate": Money(project.suggested_task_rate or 0, project.currency),
                "measured_median_task_seconds": project.measured_median_task_seconds}


def transparency(
    session: Session, user: User, project_id: uuid.UUID, *, now: datetime | None = None
) -> Transparency:
    """How a project pays, for the organisation's staff and for trainers who may see
    it (eligible for it while it is active, or on it now or before); anyone else gets
    ``NotFound``. The wage floor shown is the caller's: a trainer's own (their country's,
    else the default), for staff the highest (what rates are checked against)."""
    now = now or clock.now()
    if user.role is Role.TRAINER:
        project = _visible_to_trainer(session, user, project_id, now)
        floor = floors.floor_for_trainer(session, project.organisation_id, project.currency,
                                         user.country)
    else:
        project = access.get_project(session, user, project_id)
        floor = floors.binding_floor(session, project.organisation_id, project.currency)
    rate = access.rate_at(session, project.id, now)
    per_task = project.pay_model is PayModel.PER_TASK
    return Transparency(
        project=project, organisation=session.get_one(Organisation, project.organisation_id),
        rate=Money(rate.amount, rate.currency) if rate else None,
        estimated_hourly_rate=estimated_hourly(project, rate),
        measured=measured_median(session, project, now) if per_task else None,
        wage_floor=floor, for_staff=user.role is not Role.TRAINER,
    )


def _visible_to_trainer(
    session: Session, trainer: User, project_id: uuid.UUID, now: datetime
) -> Project:
    project = session.get(Project, project_id)
    if project is None or project.state is ProjectState.DRAFT:
        raise NotFound(gettext("No such project."))
    involved = session.scalar(select(exists().where(
        ProjectMember.project_id == project.id, ProjectMember.trainer_id == trainer.id,
        or_(ProjectMember.joined_at.is_not(None),
            ProjectMember.state.in_(OPEN_MEMBERSHIP_STATES)),
    )))
    if involved:
        return project
    if project.state_at(now) is not ProjectState.ACTIVE or eligibility.unmet_requirements(
        session, trainer, project, now=now
    ):
        raise NotFound(gettext("No such project."))
    return project


def measured_median(session: Session, project: Project, now: datetime) -> MeasuredRate:
    """The median of trainers' weekly measured rates over their complete local weeks
    that ended in the last four weeks; suppressed under the policy's minimum group."""
    since = now - MEASURE_WINDOW
    # Weeks ending after ``since`` started at most a week (and a day of zones) earlier.
    work = measured_work(session, project.id, since - timedelta(days=8), now)
    trainers = _by_id(session, User, {w.trainer_id for w in work})
    weeks: defaultdict[tuple[uuid.UUID, date], list[WorkDone]] = defaultdict(list)
    for item in work:
        monday, _, ends = calendar.week_of(trainers[item.trainer_id].timezone, item.claimed_at)
        if since < ends <= now:
            weeks[(item.trainer_id, monday)].append(item)
    rates = [
        Decimal(m.paid) * 3600 / Decimal(m.active_seconds)
        for m in (Measure.of(items, project.currency) for items in weeks.values())
        if m.active_seconds > 0
    ]
    people = len({trainer_id for trainer_id, _ in weeks})
    minimum = policy_for(session, project.organisation_id).min_group_size
    if not rates or people < minimum:
        return MeasuredRate(None, None, True, since, now)
    median = Decimal(statistics.median(rates))
    rate = Money.from_decimal(median * Money(1, project.currency).to_decimal(),
                              project.currency)
    return MeasuredRate(rate, people, False, since, now)

