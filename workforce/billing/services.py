"""Earning events: what a trainer is owed and why, recorded once per source and posted
to the ledger in the same transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts.models import Organisation
from workforce.billing import ledger
from workforce.billing.models import (
    AccountKind,
    EarningEvent,
    EarningKind,
    SourceType,
)
from workforce.money import Money


def record_earning(
    session: Session,
    *,
    kind: EarningKind,
    trainer_id: uuid.UUID,
    organisation_id: uuid.UUID,
    money: Money,
    source_type: str,
    source_id: uuid.UUID,
    description: str,
    project_id: uuid.UUID | None = None,
) -> EarningEvent:
    """Record that ``money`` is owed for a source event; the same source never earns twice.

    A second call for the same (kind, source) returns the first event unchanged, even
    when two transactions race: the unique key decides.
    """
    existing = _find(session, kind, source_type, source_id)
    if existing is not None:
        post_earning(session, existing)
        return existing
    event = EarningEvent(
        kind=kind, trainer_id=trainer_id, organisation_id=organisation_id,
        amount=money.amount, currency=money.currency, source_type=source_type,
        source_id=source_id, description=description, occurred_at=clock.now(),
        project_id=project_id,
    )
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        found = _find(session, kind, source_type, source_id)
        if found is None:
            raise
        return found
    post_earning(session, event)
    return event


def post_earning(session: Session, event: EarningEvent) -> uuid.UUID:
    """Post an earning: the organisation's expense against the trainer's payable,
    available once the organisation's hold period has passed. Once per event."""
    organisation = session.get(Organisation, event.organisation_id)
    assert organisation is not None
    available_at = event.occurred_at + timedelta(days=organisation.payout_hold_days)
    expense = ledger.organisation_account(
        session, event.organisation_id, AccountKind.EXPENSE, event.currency
    )
    payable = ledger.trainer_account(
        session, event.organisation_id, event.trainer_id, AccountKind.PAYABLE, event.currency
    )
    return ledger.post_entry(
        session, source_type=SourceType(event.kind.value), source_id=event.source_id,
        reason=event.description, organisation_id=event.organisation_id,
        trainer_id=event.trainer_id, project_id=event.project_id,
        occurred_at=event.occurred_at,
        legs=[ledger.Leg(expense, event.amount),
              ledger.Leg(payable, -event.amount, available_at=available_at)],
    )


def _find(
    session: Session, kind: EarningKind, source_type: str, source_id: uuid.UUID
) -> EarningEvent | None:
    return session.scalars(
        select(EarningEvent).where(
            EarningEvent.kind == kind,
            EarningEvent.source_type == source_type,
            EarningEvent.source_id == source_id,
        )
    ).one_or_none()
