"""A project's optional budget (issue 16): what is spent, committed and projected
against it, the managers' warning at 80% and the stop of claims at 100%.

Rules worth knowing:

- The budget is money in the project's currency (minor units); figures in another
  currency (a rate or a posting of another currency) are left out of it.
- **Spent** is what the ledger records as the organisation's cost of the project:
  approved work, bonuses, wage-floor top-ups, kill fees, net of reversals, as they are
  posted. **Committed** is work that will be paid unless it is rejected: per-task leases
  (at the higher of the rates at their claim and now, which is what their submission
  will fix) and submitted work awaiting review (at its fixed rate); hourly time logged in
  weeks not yet approved (at each entry's rate). **Projected** is the open slots of the
  project's tasks at the current per-task rate (hourly projects project nothing).
  **Remaining** is the budget less spent and committed; **shortfall** what the
  projected work would need beyond it.
- **The claim decides the stop** (``require_room_for_claim``): no claim takes a
  budgeted project over its budget. A new lease commits the current per-task rate, so
  a claim is refused (409 ``budget-spent``) when spent + committed + that rate would
  exceed the budget (on an hourly project, once spent + committed reach it). Claims on
  a budgeted project are serialised by a transaction-scoped advisory lock on the
  project (PostgreSQL; SQLite serialises writers), taken after the claim's row locks,
  so two claims never both take the last of the budget; claims on other projects, and
  the project's other work, do not wait for it. A project without a budget pays
  nothing for this: its budget is read with its row, which the claim reads anyway.
  What is leased is paid as usual; **dynamic overlap** (``extra_slots``) shows what the
  slots the aggregation added cost at the current rate, on its own line.
- When spent and committed reach 80% of the budget, the organisation's managers are
  told once; the mark is cleared when the figure falls back under (a raised budget),
  so the next crossing tells them again. The 100% mark is set when no further claim
  fits (``Budget.exhausted``), and the managers are told. The marks live on the
  project's row and are brought up to date when the budget is set and by the
  scheduler every minute (``refresh_budgets``: money moves in many places a claim does
  not see, such as bonuses, top-ups, rejections and rate changes). The trainers'
  marketplace shows the 100% mark as unmet ``budget-spent``; the claim itself never
  relies on the mark.
"""

from __future__ import annotations

import bisect
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import SystemActor
from workforce.accounts.models import User
from workforce.billing.models import AccountKind, JournalEntry, LedgerAccount, OwnerType, Posting
from workforce.db import Database
from workforce.errors import Conflict
from workforce.i18n import lazy_gettext
from workforce.money import Money
from workforce.notifications.services import tell
from workforce.notifications.texts import money
from workforce.projects import access, services
from workforce.projects.eligibility import Unmet
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    PayModel,
    Project,
    ProjectRate,
    ProjectState,
    Task,
    TimeEntry,
    Timesheet,
    TimesheetState,
)
from workforce.results.aggregates import ProjectAggregation

WARN_PERCENT = 80
BUDGET_SPENT = "budget-spent"
SCHEDULER = SystemActor("scheduler:budgets")


@dataclass(frozen=True)
class Budget:
    project_id: uuid.UUID
    currency: str
    amount: int | None  # the budget; None: the project has none
    spent: int
    committed: int
    projected: int
    warned_at: datetime | None
    exhausted_at: datetime | None
    # What a new claim commits: the current per-task rate (0 on hourly projects).
    claim_amount: int = 0
    # Slots added by dynamic overlap, and what they cost at the current per-task rate.
    overlap_slots: int = 0

    @property
    def overlap_cost(self) -> int:
        return self.overlap_slots * self.claim_amount

    @property
    def used(self) -> int:
        return self.spent + self.committed

    @property
    def remaining(self) -> int | None:
        return None if self.amount is None else self.amount - self.used

    @property
    def shortfall(self) -> int | None:
        if self.amount is None:
            return None
        return max(0, self.used + self.projected - self.amount)

    @property
    def used_percent(self) -> float | None:
        return None if self.amount is None else round(100 * self.used / self.amount, 2)

    @property
    def exhausted(self) -> bool:
        """No further claim fits: a new lease would take the figures over the budget
        (hourly: they reached it)."""
        if self.amount is None:
            return False
        if self.claim_amount:
            return self.used + self.claim_amount > self.amount
        return self.used >= self.amount


# --- figures ---------------------------------------------------------------------------


def figures(session: Session, project: Project, now: datetime | None = None, *,
            projected: bool = True) -> Budget:
    """The project's figures; without ``projected`` (the claim's check), the open
    slots and dynamic overlap are not counted."""
    now = now or clock.now()
    rates = list(session.scalars(select(ProjectRate).where(
        ProjectRate.project_id == project.id).order_by(ProjectRate.effective_from)))
    current = _in_force(rates, now)
    hourly = project.pay_model is PayModel.HOURLY
    if hourly:
        committed = _hourly_committed(session, project, now)
    else:
        committed = _task_committed(session, project, rates, current, now)
    claim_amount = 0 if hourly else _amount(current, project.currency)
    ahead = projected and not hourly
    return Budget(project.id, project.currency, project.budget_amount,
                  _spent(session, project), committed,
                  _projected(session, project, current) if ahead else 0,
                  project.budget_warned_at, project.budget_exhausted_at, claim_amount,
                  _overlap_slots(session, project) if ahead else 0)


def _in_force(rates: list[ProjectRate], when: datetime) -> ProjectRate | None:
    index = bisect.bisect_right([clock.as_utc(r.effective_from) for r in rates],
                                clock.as_utc(when))
    return rates[index - 1] if index else None


def _amount(rate: ProjectRate | None, currency: str) -> int:
    return rate.amount if rate is not None and rate.currency == currency else 0


def _spent(session: Session, project: Project) -> int:
    """The organisation's expense postings of the project (costs net of reversals). The
    expense accounts are looked up once (a subquery, not a join): their rows are updated
    by every posting, and probing them once per entry walked their versions."""
    accounts = select(LedgerAccount.id).where(
        LedgerAccount.organisation_id == project.organisation_id,
        LedgerAccount.owner_type == OwnerType.ORGANISATION,
        LedgerAccount.kind == AccountKind.EXPENSE,
        LedgerAccount.currency == project.currency)
    total = session.scalar(
        select(func.sum(Posting.amount))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(JournalEntry.project_id == project.id, Posting.account_id.in_(accounts)))
    return int(total or 0)


def _task_committed(session: Session, project: Project, rates: list[ProjectRate],
                    current: ProjectRate | None, now: datetime) -> int:
    awaiting = session.scalar(
        select(func.sum(ProjectRate.amount))
        .join(Assignment, Assignment.rate_id == ProjectRate.id)
        .where(Assignment.project_id == project.id,
               Assignment.state.in_((AssignmentState.SUBMITTED,
                                     AssignmentState.REVISION_REQUESTED)),
               ProjectRate.currency == project.currency)) or 0
    leases = session.scalars(select(Assignment.claimed_at).where(
        Assignment.project_id == project.id, Assignment.state == AssignmentState.LEASED,
        Assignment.lease_expires_at > now))
    now_amount = _amount(current, project.currency)
    leased = sum(max(_amount(_in_force(rates, claimed), project.currency), now_amount)
                 for claimed in leases)
    return int(awaiting) + leased


def _hourly_committed(session: Session, project: Project, now: datetime) -> int:
    rows = session.execute(
        select(TimeEntry.started_at, TimeEntry.ended_at, ProjectRate.amount)
        .join(Timesheet, Timesheet.id == TimeEntry.timesheet_id)
        .join(ProjectRate, ProjectRate.id == TimeEntry.rate_id)
        .where(TimeEntry.project_id == project.id,
               Timesheet.state != TimesheetState.APPROVED,
               ProjectRate.currency == project.currency))
    total = Decimal(0)
    for started, ended, hourly in rows:
        seconds = (clock.as_utc(ended or now) - clock.as_utc(started)).total_seconds()
        total += Decimal(hourly) * Decimal(int(seconds)) / 3600
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _projected(session: Session, project: Project, current: ProjectRate | None) -> int:
    slots = session.scalar(select(func.sum(Task.open_slots)).where(
        Task.project_id == project.id)) or 0
    return int(slots) * _amount(current, project.currency)


def _overlap_slots(session: Session, project: Project) -> int:
    slots = session.scalar(select(ProjectAggregation.extra_slots).where(
        ProjectAggregation.project_id == project.id))
    return int(slots or 0)


# --- reading and setting ---------------------------------------------------------------


def get_budget(session: Session, staff: User, project_id: uuid.UUID) -> Budget:
    return figures(session, access.get_project(session, staff, project_id))


def set_budget(session: Session, manager: User, project_id: uuid.UUID, amount: int | None
               ) -> Budget:
    """Set (or with None remove) the budget, audited; the marks follow at once."""
    project = services.writable_project(session, manager, project_id)
    before = project.budget_amount
    project.budget_amount = amount
    audit.record(session, manager, "project.budget_set", object_type="project",
                 object_id=project.id, organisation_id=project.organisation_id,
                 before={"budget_amount": before, "currency": project.currency},
                 after={"budget_amount": amount, "currency": project.currency})
    return refresh(session, project)


def refresh(session: Session, project: Project, now: datetime | None = None) -> Budget:
    """Bring the project's 80% and 100% marks up to date with its figures, telling the
    managers of each crossing upwards once."""
    now = now or clock.now()
    found = figures(session, project, now)
    def over(percent: int) -> bool:
        return found.amount is not None and found.used * 100 >= found.amount * percent

    if over(WARN_PERCENT) and project.budget_warned_at is None:
        project.budget_warned_at = now
        _tell_managers(session, project, found, "project.budget_warning")
    elif not over(WARN_PERCENT):
        project.budget_warned_at = None
    if found.exhausted and project.budget_exhausted_at is None:
        project.budget_exhausted_at = now
        _tell_managers(session, project, found, "project.budget_spent")
    elif not found.exhausted:
        project.budget_exhausted_at = None
    session.flush()  # the marks, for the claims that read them with the project
    return replace(found, warned_at=project.budget_warned_at,
                   exhausted_at=project.budget_exhausted_at)


def _tell_managers(session: Session, project: Project, found: Budget, kind: str) -> None:
    params = {"project": project.name, "percent": found.used_percent,
              "used": money(Money(found.used, found.currency)),
              "amount": money(Money(found.amount or 0, found.currency))}
    for manager_id in services.manager_ids(session, project.organisation_id):
        tell(session, manager_id, kind, params,
             data={"project_id": str(project.id), "budget_amount": found.amount,
                   "spent": found.spent, "committed": found.committed})


def refresh_budgets(database: Database, now: datetime | None = None) -> int:
    """The scheduler's pass: every running project with a budget, each in a unit of work
    of its own under its row lock. Returns how many marks changed."""
    with database.unit_of_work() as session:
        ids = list(session.scalars(select(Project.id).where(
            Project.budget_amount.is_not(None),
            Project.state.in_((ProjectState.ACTIVE, ProjectState.PAUSED)))))
    return sum(database.run(_refresh_one, project_id, now) for project_id in ids)


def _refresh_one(session: Session, project_id: uuid.UUID, now: datetime | None) -> int:
    project = access.lock_project(session, project_id)
    if project is None:
        return 0
    marks = (project.budget_warned_at, project.budget_exhausted_at)
    refresh(session, project, now)
    return int(marks != (project.budget_warned_at, project.budget_exhausted_at))


# --- the claim's check -----------------------------------------------------------------


def require_room_for_claim(session: Session, project: Project, now: datetime) -> None:
    """Refuse a new claim that would take a budgeted project over its budget (409
    ``budget-spent``). Without a budget (read with the project's row) nothing is run.
    Claims on the project wait for each other here (an advisory lock for the rest of the
    transaction, on PostgreSQL), so each sees what the one before it committed."""
    if project.budget_amount is None:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"space": BUDGET_LOCK_SPACE,
                                "project": _lock_key(project.id)})
    found = figures(session, project, now, projected=False)
    if found.exhausted:
        raise Conflict(str(SPENT_MESSAGE), code=BUDGET_SPENT, remaining=found.remaining,
                       task_amount=found.claim_amount, currency=found.currency)


# The two-key form, in a space of its own: the aggregation's run holds a one-key lock on
# the project for minutes, which a claim must never wait for.
_LOCK = text("SELECT pg_advisory_xact_lock(:space, :project)")
BUDGET_LOCK_SPACE = 0x62756467  # "budg"


def _lock_key(project_id: uuid.UUID) -> int:
    return int.from_bytes(project_id.bytes[:4], "big", signed=True)


def unmet(project: Project) -> list[Unmet]:
    """What the marketplace shows a trainer while the project's budget is used up."""
    if project.budget_exhausted_at is None:
        return []
    return [Unmet(None, BUDGET_SPENT, str(SPENT_MESSAGE))]


SPENT_MESSAGE = lazy_gettext("The project's budget is used up: what is left does not pay for "
                             "another task, so no new tasks can be claimed until the client "
                             "adds more. Work you hold is paid as usual.")
