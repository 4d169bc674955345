"""The counselling allowance: money towards counselling once a trainer's exposure to
sensitive work for an organisation passes its mark in a calendar month.

- The organisation sets it in its wellbeing policy (``counselling_after_minutes``,
  ``counselling_amount``, ``counselling_currency``); unset, there is none.
- Exposure is measured as everywhere else (``wellbeing.exposure.intervals``: sensitive
  claims bounded by the lease, time on sensitive projects, overlaps once), but only on
  *that organisation's* projects: each organisation pays for the exposure its own work
  caused. The month is the trainer's calendar month in their time zone.
- Once the exposure passes the mark the amount is posted to the trainer's earnings
  (``EarningKind.COUNSELLING_ALLOWANCE``), once per trainer, organisation and month:
  the ``CounsellingAllowance`` row is unique on the three and is the earning's source.
  The trainer is told in the app and by e-mail.
- The scheduler looks every hour at the current month and, for three days after it
  ended, at the previous one (in each trainer's zone), so a month's last hours count
  even if the scheduler was briefly down.
- The amount and mark in force when the allowance is posted apply; changing the
  policy later changes nothing already posted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import calendar
from workforce.accounts import audit
from workforce.accounts.models import Organisation, User
from workforce.billing.models import CounsellingAllowance, EarningKind
from workforce.billing.services import record_earning
from workforce.money import Money
from workforce.notifications import texts
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects.models import Assignment, Project, TimeEntry
from workforce.wellbeing.exposure import intervals, union_seconds
from workforce.wellbeing.models import WellbeingPolicy

SCHEDULER = audit.SystemActor("scheduler")
SOURCE_TYPE = "counselling_allowance"
# How long after a month ends its last hours are still looked at.
LATE_DAYS = 3
# Work claimed or started this long ago may still fall in a month looked at.
LOOKBACK = timedelta(days=31 + LATE_DAYS + 2)


@dataclass(frozen=True)
class AllowanceKey:
    trainer_id: uuid.UUID
    organisation_id: uuid.UUID
    month: date


def months_to_check(trainer: User, now: datetime) -> list[date]:
    """This local month, and the previous one for ``LATE_DAYS`` after it ended."""
    zone = calendar.zone_of(trainer.timezone)
    current = calendar.local_date(zone, now).replace(day=1)
    earlier = calendar.local_date(zone, now - timedelta(days=LATE_DAYS)).replace(day=1)
    return sorted({current, earlier})


def candidates(session: Session, *, now: datetime) -> list[AllowanceKey]:
    """Trainers who worked for an organisation with an allowance recently, with each
    month to look at that has no allowance yet."""
    policies = {
        p.organisation_id: p for p in session.scalars(
            select(WellbeingPolicy).where(WellbeingPolicy.counselling_after_minutes.is_not(None))
        )
    }
    if not policies:
        return []
    since = now - LOOKBACK
    in_orgs = Project.organisation_id.in_(list(policies))
    pairs = set(session.execute(
        select(Assignment.trainer_id, Project.organisation_id)
        .join(Project, Project.id == Assignment.project_id)
        .where(in_orgs, Assignment.claimed_at >= since)
        .distinct()
    ).all())
    pairs |= set(session.execute(
        select(TimeEntry.trainer_id, Project.organisation_id)
        .join(Project, Project.id == TimeEntry.project_id)
        .where(in_orgs, or_(TimeEntry.ended_at.is_(None), TimeEntry.ended_at >= since))
        .distinct()
    ).all())
    if not pairs:
        return []
    trainers = {u.id: u for u in session.scalars(
        select(User).where(User.id.in_({t for t, _ in pairs})))}
    granted = set(session.execute(
        select(CounsellingAllowance.trainer_id, CounsellingAllowance.organisation_id,
               CounsellingAllowance.month)
        .where(CounsellingAllowance.trainer_id.in_(list(trainers)),
               CounsellingAllowance.month >= (now - LOOKBACK).date().replace(day=1))
    ).all())
    keys = [
        AllowanceKey(trainer_id, organisation_id, month)
        for trainer_id, organisation_id in pairs
        for month in months_to_check(trainers[trainer_id], now)
        if (trainer_id, organisation_id, month) not in granted
    ]
    return sorted(keys, key=lambda k: (k.month, str(k.organisation_id), str(k.trainer_id)))


def organisation_exposure(
    session: Session, trainer: User, organisation_id: uuid.UUID, since: datetime,
    until: datetime, *, now: datetime,
) -> int:
    """Seconds of exposure (wall time) on the organisation's projects in [since, until)."""
    found = intervals(session, trainer.id, since, until, now=now)
    if not found:
        return 0
    ours = set(session.scalars(select(Project.id).where(
        and_(Project.organisation_id == organisation_id,
             Project.id.in_({i.project_id for i in found}))
    )))
    return union_seconds([i for i in found if i.project_id in ours])


def grant_if_due(
    session: Session, key: AllowanceKey, *, now: datetime
) -> CounsellingAllowance | None:
    """Post the month's allowance if the exposure has passed the mark and none was
    posted; None otherwise (or when another scheduler is posting it right now)."""
    policy = session.get(WellbeingPolicy, key.organisation_id)
    if policy is None or policy.counselling_after_minutes is None:
        return None
    assert policy.counselling_amount is not None and policy.counselling_currency is not None
    trainer = session.get_one(User, key.trainer_id)
    starts, ends = calendar.month_bounds(trainer.timezone, key.month)
    seconds = organisation_exposure(session, trainer, key.organisation_id, starts,
                                    min(ends, now), now=now)
    if seconds < policy.counselling_after_minutes * 60:
        return None
    allowance = CounsellingAllowance(
        trainer_id=trainer.id, organisation_id=key.organisation_id, month=key.month,
        amount=policy.counselling_amount, currency=policy.counselling_currency,
        threshold_minutes=policy.counselling_after_minutes, exposure_seconds=seconds,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(allowance)
            session.flush()
    except IntegrityError:
        return None  # posted already (by another scheduler)
    _post(session, trainer, allowance)
    return allowance


def _post(session: Session, trainer: User, allowance: CounsellingAllowance) -> None:
    organisation = session.get_one(Organisation, allowance.organisation_id)
    money = Money(allowance.amount, allowance.currency)
    month = allowance.month.strftime("%B %Y")
    hours = _hours(allowance.threshold_minutes)
    reason = (
        f"Counselling allowance from {organisation.name[:100]} for {month}: more than "
        f"{hours} of sensitive work for it this month."
    )[:300]
    record_earning(
        session, kind=EarningKind.COUNSELLING_ALLOWANCE, trainer_id=trainer.id,
        organisation_id=allowance.organisation_id, money=money, source_type=SOURCE_TYPE,
        source_id=allowance.id, description=reason,
    )
    audit.record(
        session, SCHEDULER, "wellbeing.counselling_allowance_posted",
        object_type="counselling_allowance", object_id=allowance.id,
        organisation_id=allowance.organisation_id, before=None,
        after={"trainer_id": str(trainer.id), "month": allowance.month.isoformat(),
               "amount": allowance.amount, "currency": allowance.currency,
               "threshold_minutes": allowance.threshold_minutes,
               "exposure_seconds": allowance.exposure_seconds},
    )
    tell(session, trainer.id, "wellbeing.counselling_allowance", {
        "organisation": organisation.name, "month": texts.month(allowance.month),
        "hours": _decimal_hours(allowance.threshold_minutes), "amount": texts.money(money),
    }, {
        "counselling_allowance_id": str(allowance.id),
        "organisation_id": str(allowance.organisation_id),
        "month": allowance.month.isoformat(), "amount": allowance.amount,
        "currency": allowance.currency,
    })


def _hours(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} hours" + (f" {rest} minutes" if rest else "")


def _decimal_hours(minutes: int) -> str:
    """``90`` -> ``"1.5"``, ``600`` -> ``"10"``: hours for any language."""
    hours = (Decimal(minutes) / 60).quantize(Decimal("0.01")).normalize()
    return format(hours, "f")


def list_my_allowances(
    session: Session, trainer: User, page: PageRequest
) -> Page[CounsellingAllowance]:
    return paginate(
        session, select(CounsellingAllowance).where(CounsellingAllowance.trainer_id == trainer.id),
        page, created_at=CounsellingAllowance.created_at, row_id=CounsellingAllowance.id,
    )
