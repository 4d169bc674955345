"""Account actions with due process.

- A manager (``MANAGERS``) of an organisation restricts or deactivates a trainer who
  has worked for it, applied to it or been invited by it (anyone else is 404), with a
  reason from ``ActionReason`` and a written explanation.
- It takes effect after the organisation's notice period (``notice_period_days``, the
  same setting as suspensions' notice, default 7), except for fraud and safety, which
  take effect at once and say so. The trainer may respond once, in writing, until
  ``respond_by`` (the end of the notice; for an immediate action, the notice period
  after it). A response to an action with notice holds its effect until it is
  decided.
- A manager decides the response: ``uphold`` (the action takes effect at its time, or
  now if that passed) or ``withdraw`` (it never takes, or stops having, effect). The
  trainer may appeal an upheld decision once; another manager than the one who decided
  decides the appeal (``uphold`` or ``overturn``).
- The effect is decided at the moment of use (``standing.gate``): nothing waits for
  the scheduler. The job (``follow_up_due``) only releases the leases and closes the
  sessions of a deactivated trainer in the organisation, at the effective time, and
  tells the trainer the action is in effect.
- Money already earned is always paid: no action touches the ledger, earnings or
  payouts, and work submitted is still reviewed or auto-approved.
- Every step is audited (``object_type="account_action"``), and the trainer is told of
  each in the app and by e-mail.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import Actor
from workforce.accounts.models import Organisation, Role, User
from workforce.errors import Conflict, NotFound
from workforce.i18n import _
from workforce.notifications.services import tell
from workforce.notifications.texts import moment
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import winddown
from workforce.projects.models import EntryEndReason, Project, ProjectMember
from workforce.standing.lifecycle import ACTIONS
from workforce.standing.models import (
    IMMEDIATE_REASONS,
    AccountAction,
    ActionKind,
    ActionReason,
    ActionState,
)

SCHEDULER = audit.SystemActor("scheduler")


class Outcome(StrEnum):
    UPHOLD = "uphold"
    WITHDRAW = "withdraw"


class AppealOutcome(StrEnum):
    UPHOLD = "uphold"
    OVERTURN = "overturn"


# --- taking an action ------------------------------------------------------------------


def create_action(
    session: Session, staff: User, *, trainer_id: uuid.UUID, kind: ActionKind,
    reason: ActionReason, explanation: str,
) -> AccountAction:
    """Announce a restriction or deactivation (audited; the trainer is told). Fraud and
    safety act at once."""
    assert staff.organisation_id is not None
    trainer = _trainer_of(session, staff.organisation_id, trainer_id)
    organisation = session.get_one(Organisation, staff.organisation_id)
    now = clock.now()
    notice = timedelta(days=organisation.notice_period_days)
    immediate = reason in IMMEDIATE_REASONS
    action = AccountAction(
        organisation_id=organisation.id, trainer_id=trainer.id, kind=kind, reason=reason,
        explanation=explanation, immediate=immediate, state=ActionState.NOTICE,
        created_by_id=staff.id, announced_at=now,
        effective_at=now if immediate else now + notice, respond_by=now + notice,
    )
    session.add(action)
    session.flush()
    _audit(session, staff, action, "created", None)
    verb = "restrict" if kind is ActionKind.RESTRICT else "deactivate"
    _tell(session, trainer, action, "account_action.announced", {
        "organisation": organisation.name, "restrict": kind is ActionKind.RESTRICT,
        f"{verb}_{'now' if immediate else 'later'}": True, "reason": reason.value,
        "explanation": explanation, "effective_at": moment(action.effective_at),
        "respond_by": moment(action.respond_by),
        "response_path": f"/api/v1/me/account-actions/{action.id}/response",
    })
    if immediate:
        _follow_up(session, action, staff)
    return action


def _trainer_of(session: Session, organisation_id: uuid.UUID, trainer_id: uuid.UUID) -> User:
    """A trainer who has had anything to do with the organisation's projects."""
    trainer = session.get(User, trainer_id)
    known = session.scalar(select(exists().where(
        ProjectMember.trainer_id == trainer_id, ProjectMember.project_id == Project.id,
        Project.organisation_id == organisation_id,
    )))
    if trainer is None or trainer.role is not Role.TRAINER or not known:
        raise NotFound(_("No such trainer."))
    return trainer


# --- the trainer's side ----------------------------------------------------------------


def respond(
    session: Session, trainer: User, action_id: uuid.UUID, *, response: str
) -> AccountAction:
    """The trainer's one written response, until ``respond_by``."""
    action = _own(session, trainer, action_id, lock=True)
    now = clock.now()
    ACTIONS.check(action.state, ActionState.RESPONDED)
    if now > action.respond_by:
        raise Conflict(
            _("The time to respond ended at %(respond_by)s.",
              respond_by=action.respond_by.isoformat()),
            code="response-closed", respond_by=action.respond_by.isoformat(),
        )
    ACTIONS.move(action, ActionState.RESPONDED)
    action.response, action.responded_at = response, now
    session.flush()
    _audit(session, trainer, action, "responded", ActionState.NOTICE)
    _tell(session, trainer, action, "account_action.responded", {"held": not action.immediate})
    return action


def appeal(session: Session, trainer: User, action_id: uuid.UUID, *, text: str) -> AccountAction:
    """Appeal an upheld decision, once; another staff member decides it."""
    action = _own(session, trainer, action_id, lock=True)
    ACTIONS.move(action, ActionState.APPEALED)
    action.appeal, action.appealed_at = text, clock.now()
    session.flush()
    _audit(session, trainer, action, "appealed", ActionState.UPHELD)
    _tell(session, trainer, action, "account_action.appealed", {})
    return action


def list_mine(session: Session, trainer: User, page: PageRequest) -> Page[AccountAction]:
    """Every action taken on the trainer, by any organisation, newest first."""
    stmt = select(AccountAction).where(AccountAction.trainer_id == trainer.id)
    return paginate(session, stmt, page, created_at=AccountAction.created_at,
                    row_id=AccountAction.id)


def _own(session: Session, trainer: User, action_id: uuid.UUID, *, lock: bool = False
         ) -> AccountAction:
    action = _get(session, action_id, lock=lock)
    if action is None or action.trainer_id != trainer.id:
        raise NotFound(_("No such account action."))
    return action


def get_mine(session: Session, trainer: User, action_id: uuid.UUID) -> AccountAction:
    return _own(session, trainer, action_id)


# --- the staff's side ------------------------------------------------------------------


def decide(
    session: Session, staff: User, action_id: uuid.UUID, *, outcome: Outcome, note: str
) -> AccountAction:
    """Decide the trainer's response: uphold (the action takes effect at its time, or
    now if that has passed) or withdraw it."""
    action = _of_organisation(session, staff, action_id, lock=True)
    target = ActionState.UPHELD if outcome is Outcome.UPHOLD else ActionState.WITHDRAWN
    ACTIONS.move(action, target)
    now = clock.now()
    action.decision_note, action.decided_by_id, action.decided_at = note, staff.id, now
    if target is ActionState.UPHELD:
        action.effective_at = max(action.effective_at, now)
    session.flush()
    _audit(session, staff, action, "decided", ActionState.RESPONDED)
    _tell(session, _trainer(session, action), action, "account_action.decided", {
        "upheld": target is ActionState.UPHELD, "note": note,
        "effective_at": moment(action.effective_at),
        "appeal_path": f"/api/v1/me/account-actions/{action.id}/appeal",
    })
    if target is ActionState.UPHELD and action.effective_at <= now:
        _follow_up(session, action, staff)
    return action


def decide_appeal(
    session: Session, staff: User, action_id: uuid.UUID, *, outcome: AppealOutcome, note: str
) -> AccountAction:
    """Decide an appeal: by a staff member other than the one who decided the
    response (409 ``another-staff-member-required``)."""
    action = _of_organisation(session, staff, action_id, lock=True)
    target = (ActionState.APPEAL_UPHELD if outcome is AppealOutcome.UPHOLD
              else ActionState.OVERTURNED)
    ACTIONS.check(action.state, target)
    if action.decided_by_id == staff.id:
        raise Conflict(
            _("An appeal is decided by another staff member than the one who decided the "
              "response."),
            code="another-staff-member-required",
        )
    ACTIONS.move(action, target)
    action.appeal_note, action.appeal_decided_by_id = note, staff.id
    action.appeal_decided_at = clock.now()
    session.flush()
    _audit(session, staff, action, "appeal_decided", ActionState.APPEALED)
    _tell(session, _trainer(session, action), action, "account_action.appeal_decided",
          {"upheld": target is ActionState.APPEAL_UPHELD, "note": note})
    return action


def list_for_organisation(
    session: Session, staff: User, page: PageRequest, *, trainer_id: uuid.UUID | None = None
) -> Page[AccountAction]:
    stmt = select(AccountAction).where(AccountAction.organisation_id == staff.organisation_id)
    if trainer_id is not None:
        stmt = stmt.where(AccountAction.trainer_id == trainer_id)
    return paginate(session, stmt, page, created_at=AccountAction.created_at,
                    row_id=AccountAction.id)


def get_for_staff(session: Session, staff: User, action_id: uuid.UUID) -> AccountAction:
    return _of_organisation(session, staff, action_id)


def _of_organisation(
    session: Session, staff: User, action_id: uuid.UUID, *, lock: bool = False
) -> AccountAction:
    action = _get(session, action_id, lock=lock)
    if action is None or action.organisation_id != staff.organisation_id:
        raise NotFound(_("No such account action."))
    return action


def _get(session: Session, action_id: uuid.UUID, *, lock: bool) -> AccountAction | None:
    stmt = select(AccountAction).where(AccountAction.id == action_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).one_or_none()


# --- the follow-up -----------------------------------------------------------------------


def follow_up_due(session: Session, *, now: datetime, limit: int) -> int:
    """For up to ``limit`` actions in force and not yet followed up: release a
    deactivated trainer's leases and close their sessions in the organisation at the
    effective time, and tell the trainer. Rows another process holds are skipped."""
    due = session.scalars(
        select(AccountAction)
        .where(AccountAction.in_force(now), AccountAction.followed_up_at.is_(None))
        .order_by(AccountAction.effective_at, AccountAction.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for action in due:
        _follow_up(session, action, SCHEDULER)
    return len(due)


def _follow_up(session: Session, action: AccountAction, actor: Actor) -> None:
    released = closed = 0
    if action.kind is ActionKind.DEACTIVATE:
        project_ids = session.scalars(
            select(Project.id).where(Project.organisation_id == action.organisation_id)
        ).all()
        for project_id in project_ids:
            released += len(winddown.end_leases(
                session, project_id, at=action.effective_at, trainer_id=action.trainer_id))
            # Sessions end as a suspension ends them: work stopped by the organisation.
            closed += len(winddown.close_sessions(
                session, project_id, at=action.effective_at, reason=EntryEndReason.SUSPENDED,
                trainer_id=action.trainer_id))
    action.followed_up_at = clock.now()
    session.flush()
    audit.record(
        session, actor, "account_action.in_effect", object_type="account_action",
        object_id=action.id, organisation_id=action.organisation_id,
        after={"leases_released": released, "sessions_closed": closed},
    )
    _tell(session, _trainer(session, action), action, "account_action.in_effect",
          {"restrict": action.kind is ActionKind.RESTRICT,
           "effective_at": moment(action.effective_at)})


# --- shared ------------------------------------------------------------------------------


def _trainer(session: Session, action: AccountAction) -> User:
    return session.get_one(User, action.trainer_id)


def _tell(session: Session, trainer: User, action: AccountAction, kind: str,
          params: dict[str, Any]) -> None:
    tell(session, trainer.id, kind, params,
         data={"account_action_id": str(action.id), "state": action.state.value})


def _audit(session: Session, actor: User, action: AccountAction, verb: str,
           before: ActionState | None) -> None:
    audit.record(
        session, actor, f"account_action.{verb}", object_type="account_action",
        object_id=action.id, organisation_id=action.organisation_id,
        before=None if before is None else {"state": before},
        after={"state": action.state, "trainer_id": action.trainer_id, "kind": action.kind,
               "reason": action.reason, "effective_at": action.effective_at},
    )
