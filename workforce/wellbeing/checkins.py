"""Check-ins: how a trainer is doing after a stretch of sensitive work.

- A check-in is due once the trainer's exposure since their last check-in (looking
  back at most ``LOOKBACK``) reaches ``checkin_after_minutes`` of the organisation they
  last did sensitive work for. ``status`` says so; the scheduler
  (``prompt_due_check_ins``) sends one notification when it becomes due, once per
  period between check-ins (a unique key, so two schedulers send it once).
- A check-in (mood 1 to 5, an optional private note, a support request) goes to an
  organisation the trainer did sensitive work for, by default the latest. A request, or
  a mood of ``LOW_MOOD`` or less, opens a support case at once. The note stays private
  unless the trainer asked for support or chose to share it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts.models import Organisation, User
from workforce.errors import Conflict, Invalid
from workforce.i18n import _
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects.models import Assignment, Project, Sensitivity, Task, TimeEntry
from workforce.wellbeing import cases, exposure
from workforce.wellbeing.policies import policy_for
from workforce.wellbeing.support_models import (
    CaseOrigin,
    CheckIn,
    CheckInPrompt,
    SupportCase,
)

# Exposure older than this does not make a check-in due (the policy's threshold is at
# most a week of minutes).
LOOKBACK = timedelta(days=7)
LOW_MOOD = 2
FIRST_PERIOD = "first"


@dataclass(frozen=True)
class WorkedFor:
    organisation_id: uuid.UUID
    organisation_name: str
    project_id: uuid.UUID
    last_at: datetime


def sensitive_work(session: Session, trainer_id: uuid.UUID) -> list[WorkedFor]:
    """Per organisation the trainer did sensitive work for (tasks whose own or project's
    sensitivity is not none, once revealed; time on sensitive projects): the project of
    the latest such work and when it started. Latest first."""
    level = func.coalesce(Task.sensitivity, Project.sensitivity)
    tasks = (
        select(Project.organisation_id, Project.id, func.max(Assignment.revealed_at))
        .join(Task, Task.id == Assignment.task_id)
        .join(Project, Project.id == Assignment.project_id)
        # A task given back unrevealed was no sensitive work: nothing was shown.
        .where(Assignment.trainer_id == trainer_id, level != Sensitivity.NONE,
               Assignment.revealed_at.is_not(None))
        .group_by(Project.organisation_id, Project.id)
    )
    hours = (
        select(Project.organisation_id, Project.id, func.max(TimeEntry.started_at))
        .join(Project, Project.id == TimeEntry.project_id)
        .where(TimeEntry.trainer_id == trainer_id, Project.sensitivity != Sensitivity.NONE)
        .group_by(Project.organisation_id, Project.id)
    )
    latest: dict[uuid.UUID, tuple[datetime, uuid.UUID]] = {}
    for stmt in (tasks, hours):
        for organisation_id, project_id, at in session.execute(stmt):
            at = clock.as_utc(at)
            if organisation_id not in latest or at > latest[organisation_id][0]:
                latest[organisation_id] = (at, project_id)
    names = dict(session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(latest))
    ).all()) if latest else {}
    found = [WorkedFor(org, names[org], project_id, at)
             for org, (at, project_id) in latest.items()]
    return sorted(found, key=lambda w: (w.last_at, str(w.organisation_id)), reverse=True)


def last_check_in(session: Session, trainer_id: uuid.UUID) -> CheckIn | None:
    return session.scalars(
        select(CheckIn).where(CheckIn.trainer_id == trainer_id)
        .order_by(CheckIn.created_at.desc(), CheckIn.id.desc()).limit(1)
    ).one_or_none()


@dataclass(frozen=True)
class CheckInStatus:
    check_in_due: bool
    exposure_seconds: int
    threshold_minutes: int | None
    last_check_in_at: datetime | None
    organisation: WorkedFor | None
    organisations: list[WorkedFor]


def _exposure_since_last(session: Session, trainer_id: uuid.UUID, last: CheckIn | None,
                         now: datetime) -> int:
    since = now - LOOKBACK
    if last is not None:
        since = max(since, clock.as_utc(last.created_at))
    return exposure.exposure_seconds(session, trainer_id, since, now, now=now)


def status(session: Session, trainer: User, *, now: datetime | None = None) -> CheckInStatus:
    """Whether a check-in is due, with the exposure since the last one and the
    organisations the trainer may address it to (the default first)."""
    now = now or clock.now()
    work = sensitive_work(session, trainer.id)
    last = last_check_in(session, trainer.id)
    seconds = _exposure_since_last(session, trainer.id, last, now)
    default = work[0] if work else None
    threshold = (policy_for(session, default.organisation_id).checkin_after_minutes
                 if default else None)
    return CheckInStatus(
        check_in_due=threshold is not None and seconds >= threshold * 60,
        exposure_seconds=seconds, threshold_minutes=threshold,
        last_check_in_at=last.created_at if last else None,
        organisation=default, organisations=work,
    )


@dataclass(frozen=True)
class CheckInReceipt:
    check_in: CheckIn
    support: dict[str, object]
    support_case: SupportCase | None


def check_in(
    session: Session,
    trainer: User,
    *,
    mood: int,
    note: str = "",
    share_note: bool = False,
    need_support: bool = False,
    organisation_id: uuid.UUID | None = None,
) -> CheckInReceipt:
    """Record a check-in; a support request or a low mood opens a case at once.

    409 ``no-sensitive-work`` for a trainer who did none (there is no one to address
    it to); 422 on ``organisation_id`` for an organisation they did none for."""
    if not 1 <= mood <= 5:
        raise Invalid(_("Mood is 1 to 5."), errors={"mood": [_("Must be between 1 and 5.")]})
    work = sensitive_work(session, trainer.id)
    if not work:
        raise Conflict(_("Check-ins follow sensitive work, and you have done none yet."),
                       code="no-sensitive-work")
    chosen = work[0]
    if organisation_id is not None:
        matches = [w for w in work if w.organisation_id == organisation_id]
        if not matches:
            raise Invalid(_("You did no sensitive work for that organisation."),
                          errors={"organisation_id": [
                              _("Not an organisation you did sensitive work for.")]})
        chosen = matches[0]
    now = clock.now()
    seconds = _exposure_since_last(session, trainer.id, last_check_in(session, trainer.id), now)
    entry = CheckIn(
        trainer_id=trainer.id, organisation_id=chosen.organisation_id,
        project_id=chosen.project_id, mood=mood, note=note, share_note=share_note,
        need_support=need_support, exposure_seconds=seconds, created_at=now,
    )
    session.add(entry)
    session.flush()
    case = None
    if need_support or mood <= LOW_MOOD:
        reason = f"check-in mood {mood} of 5" + (", asked for support" if need_support else "")
        case = cases.open_case(
            session, trainer, chosen.organisation_id, origin=CaseOrigin.CHECK_IN,
            requested=need_support, reason=reason, check_in_id=entry.id,
            message=note if (need_support or share_note) else "",
        )
    policy = policy_for(session, chosen.organisation_id)
    return CheckInReceipt(entry, cases.support_resources(policy), case)


def list_my_check_ins(session: Session, trainer: User, page: PageRequest) -> Page[CheckIn]:
    stmt = select(CheckIn).where(CheckIn.trainer_id == trainer.id)
    return paginate(session, stmt, page, created_at=CheckIn.created_at, row_id=CheckIn.id)


# --- the scheduler's prompt ----------------------------------------------------------


def _recently_exposed(session: Session, since: datetime) -> list[uuid.UUID]:
    """Trainers with sensitive work that overlaps [since, now]."""
    level = func.coalesce(Task.sensitivity, Project.sensitivity)
    by_task = (
        select(Assignment.trainer_id)
        .join(Task, Task.id == Assignment.task_id)
        .join(Project, Project.id == Assignment.project_id)
        .where(level != Sensitivity.NONE, Assignment.lease_expires_at > since)
    )
    by_time = (
        select(TimeEntry.trainer_id)
        .join(Project, Project.id == TimeEntry.project_id)
        .where(Project.sensitivity != Sensitivity.NONE,
               or_(TimeEntry.ended_at.is_(None), TimeEntry.ended_at > since))
    )
    ids = set(session.scalars(by_task)) | set(session.scalars(by_time))
    return sorted(ids, key=str)


def prompt_due_check_ins(session: Session, *, now: datetime) -> int:
    """Tell every trainer whose check-in became due, once per period between check-ins;
    returns how many were told. A second scheduler meets the unique key and skips."""
    told = 0
    for trainer_id in _recently_exposed(session, now - LOOKBACK):
        trainer = session.get(User, trainer_id)
        if trainer is None or not trainer.is_active:
            continue
        last = last_check_in(session, trainer_id)
        period = str(last.id) if last else FIRST_PERIOD
        if session.scalars(select(CheckInPrompt.id).where(
                CheckInPrompt.trainer_id == trainer_id, CheckInPrompt.period == period)).first():
            continue
        found = status(session, trainer, now=now)
        if not found.check_in_due or found.organisation is None:
            continue
        prompt = CheckInPrompt(trainer_id=trainer_id, period=period,
                               organisation_id=found.organisation.organisation_id,
                               exposure_seconds=found.exposure_seconds, created_at=now)
        try:
            with session.begin_nested():
                session.add(prompt)
                session.flush()
        except IntegrityError:
            continue
        tell(
            session, trainer_id, "wellbeing.check_in_due",
            {"hours": f"{found.exposure_seconds / 3600:.1f}"},
            data={"organisation_id": str(found.organisation.organisation_id)},
        )
        told += 1
    return told
