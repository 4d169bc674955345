"""Earning events: what a trainer is owed and why, recorded once per source."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.billing.models import EarningEvent, EarningKind
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
    return event


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
