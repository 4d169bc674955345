"""Finance, as the payouts see it: who may act for an organisation's payouts, and telling
its finance users what happened."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce.accounts.models import FINANCE_STAFF, Role, User
from workforce.accounts.validation import normalise_email
from workforce.errors import Forbidden
from workforce.i18n import _
from workforce.notifications.services import tell


def finance_actor(session: Session, email: str, organisation_id: uuid.UUID) -> User:
    """The active finance user (or admin) of the organisation with this e-mail address,
    acting from outside the API (the CLI's ``--by``); ``Forbidden`` for anyone else."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if (user is None or user.organisation_id != organisation_id
            or user.role not in FINANCE_STAFF or not user.is_active):
        raise Forbidden(_("%(email)s is not an active finance user or admin of the run's "
                          "organisation", email=email))
    return user


def finance_user_ids(session: Session, organisation_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(
        select(User.id).where(
            User.organisation_id == organisation_id, User.role == Role.FINANCE,
            User.is_active.is_(True),
        )
    ))


def notify_finance(
    session: Session, organisation_id: uuid.UUID, kind: str, params: dict[str, Any],
    data: dict[str, Any], *, except_user: uuid.UUID | None = None,
) -> int:
    """Tell every active finance user of the organisation a notice of the registry
    (``notifications.texts``); returns how many."""
    told = 0
    for user_id in finance_user_ids(session, organisation_id):
        if user_id != except_user:
            tell(session, user_id, kind, params, data)
            told += 1
    return told
