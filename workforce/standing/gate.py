"""What an account action in force forbids, asked at the moment of use (never left to
the scheduler): a restriction stops new work in the organisation (claims, applications,
new memberships, session starts), a deactivation stops all work there (also handing
in, extending or revealing leases held, and logging time)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.errors import Forbidden
from workforce.i18n import _
from workforce.standing.models import AccountAction, ActionKind


def strongest_in_force(
    session: Session, trainer_id: uuid.UUID, organisation_id: uuid.UUID, when: datetime
) -> AccountAction | None:
    """The action in force at ``when`` (a deactivation before a restriction)."""
    found = session.scalars(
        select(AccountAction).where(
            AccountAction.trainer_id == trainer_id,
            AccountAction.organisation_id == organisation_id,
            AccountAction.in_force(when),
        ).order_by(AccountAction.effective_at)
    ).all()
    found = sorted(found, key=lambda a: a.kind is not ActionKind.DEACTIVATE)
    return found[0] if found else None


def require_new_work_allowed(
    session: Session, trainer_id: uuid.UUID, organisation_id: uuid.UUID,
    when: datetime | None = None,
) -> None:
    """403 ``account-restricted`` or ``account-deactivated`` for new work."""
    action = strongest_in_force(session, trainer_id, organisation_id, when or clock.now())
    if action is not None:
        raise _refusal(action)


def require_work_allowed(
    session: Session, trainer_id: uuid.UUID, organisation_id: uuid.UUID,
    when: datetime | None = None,
) -> None:
    """403 ``account-deactivated`` for any work (a restriction lets work held go on)."""
    action = strongest_in_force(session, trainer_id, organisation_id, when or clock.now())
    if action is not None and action.kind is ActionKind.DEACTIVATE:
        raise _refusal(action)


_DONE = {ActionKind.RESTRICT: "restricted", ActionKind.DEACTIVATE: "deactivated"}


def _refusal(action: AccountAction) -> Forbidden:
    what = ("restricted: no new work" if action.kind is ActionKind.RESTRICT
            else "deactivated: no work")
    return Forbidden(
        _("Your account is %(what)s with this organisation since %(effective_at)s (%(reason)s). "
          "See /api/v1/me/account-actions/%(id)s. Money you earned is still paid.",
          what=what, effective_at=action.effective_at.isoformat(), reason=action.reason.value,
          id=action.id),
        code=f"account-{_DONE[action.kind]}",
        action_id=str(action.id), effective_at=action.effective_at.isoformat(),
    )
