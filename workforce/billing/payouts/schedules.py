"""Payout schedules: a weekly moment in a time zone with a minimum per currency, and the
moments a schedule is due."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import calendar
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.billing.corrections import MAX_AMOUNT
from workforce.billing.models import PayoutSchedule
from workforce.errors import Invalid, NotFound
from workforce.i18n import _
from workforce.money import check_currency
from workforce.pagination import Page, PageRequest, paginate

# The least paid out in a currency without a minimum of its own: anything owed.
DEFAULT_MINIMUM = 1


def _check_schedule(
    *, weekday: int, hour: int, minute: int, timezone: str, minimums: dict[str, int]
) -> dict[str, int]:
    errors: dict[str, list[str]] = {}
    if not 0 <= weekday <= 6:
        errors["weekday"] = [_("Must be 0 (Monday) to 6 (Sunday).")]
    if not 0 <= hour <= 23:
        errors["hour"] = [_("Must be 0 to 23.")]
    if not 0 <= minute <= 59:
        errors["minute"] = [_("Must be 0 to 59.")]
    try:
        calendar.zone_name(timezone)
    except ValueError as exc:
        errors["timezone"] = [str(exc)]
    checked: dict[str, int] = {}
    for currency, amount in minimums.items():
        try:
            code = check_currency(currency)
        except ValueError as exc:
            errors.setdefault("minimums", []).append(str(exc))
            continue
        if isinstance(amount, bool) or not isinstance(amount, int) or not (
            0 <= amount <= MAX_AMOUNT
        ):
            errors.setdefault("minimums", []).append(
                _("%(currency)s: a whole number of minor units, from 0 to %(max_amount)s.",
                  currency=currency, max_amount=MAX_AMOUNT)
            )
            continue
        checked[code] = amount
    if errors:
        raise Invalid(_("The payout schedule is not valid."), errors=errors)
    return checked


def create_schedule(
    session: Session,
    actor: User,
    *,
    name: str,
    weekday: int,
    hour: int,
    minute: int = 0,
    timezone: str,
    minimums: dict[str, int] | None = None,
    auto_approve: bool = False,
    active: bool = True,
) -> PayoutSchedule:
    """A weekly payout moment for the actor's organisation."""
    checked = _check_schedule(
        weekday=weekday, hour=hour, minute=minute, timezone=timezone, minimums=minimums or {}
    )
    schedule = PayoutSchedule(
        organisation_id=actor.organisation_id, name=name, weekday=weekday, hour=hour,
        minute=minute, timezone=timezone, minimums=checked, auto_approve=auto_approve,
        active=active,
    )
    session.add(schedule)
    session.flush()  # the id the audit record names
    audit.record(
        session, actor, "payout_schedule.created", object_type="payout_schedule",
        object_id=schedule.id, organisation_id=schedule.organisation_id,
        after=_schedule_state(schedule),
    )
    return schedule


def update_schedule(
    session: Session, actor: User, schedule_id: uuid.UUID, **changes: Any
) -> PayoutSchedule:
    """Change any of a schedule's fields; runs already created keep their period."""
    schedule = get_schedule(session, actor, schedule_id)
    before = _schedule_state(schedule)
    merged = {**before, **{k: v for k, v in changes.items() if k in before}}
    merged["minimums"] = _check_schedule(
        weekday=merged["weekday"], hour=merged["hour"], minute=merged["minute"],
        timezone=merged["timezone"], minimums=merged["minimums"] or {},
    )
    for key, value in merged.items():
        setattr(schedule, key, value)
    session.flush()
    after = _schedule_state(schedule)
    if after != before:
        audit.record(
            session, actor, "payout_schedule.updated", object_type="payout_schedule",
            object_id=schedule.id, organisation_id=schedule.organisation_id,
            before=before, after=after,
        )
    return schedule


def get_schedule(session: Session, staff: User, schedule_id: uuid.UUID) -> PayoutSchedule:
    schedule = session.get(PayoutSchedule, schedule_id)
    if schedule is None or schedule.organisation_id != staff.organisation_id:
        raise NotFound(_("No such payout schedule."))
    return schedule


def list_schedules(session: Session, staff: User, page: PageRequest) -> Page[PayoutSchedule]:
    stmt = select(PayoutSchedule).where(PayoutSchedule.organisation_id == staff.organisation_id)
    return paginate(
        session, stmt, page, created_at=PayoutSchedule.created_at, row_id=PayoutSchedule.id
    )


def _schedule_state(schedule: PayoutSchedule) -> dict[str, Any]:
    return {
        "name": schedule.name, "weekday": schedule.weekday, "hour": schedule.hour,
        "minute": schedule.minute, "timezone": schedule.timezone,
        "minimums": dict(schedule.minimums or {}), "auto_approve": schedule.auto_approve,
        "active": schedule.active,
    }


def latest_due(schedule: PayoutSchedule, now: datetime) -> datetime:
    """The schedule's latest weekly moment at or before ``now``, in UTC: wall-clock time
    in the schedule's zone, read as ``calendar`` reads it across daylight-saving changes."""
    return calendar.latest_weekly(schedule.timezone, schedule.weekday,
                                  time(schedule.hour, schedule.minute), now)


def next_due(schedule: PayoutSchedule, now: datetime) -> datetime:
    """The schedule's first weekly moment after ``now``, in UTC: when its next run is
    built."""
    return calendar.next_weekly(schedule.timezone, schedule.weekday,
                                time(schedule.hour, schedule.minute), now)


def minimum_for(schedule: PayoutSchedule, currency: str) -> int:
    """The least the schedule pays out in ``currency`` (anything owed without one)."""
    return max(DEFAULT_MINIMUM, (schedule.minimums or {}).get(currency, DEFAULT_MINIMUM))
