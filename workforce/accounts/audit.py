"""The audit log: every change to roles, staffing, project state, pay and money."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock, context
from workforce.accounts.models import AuditEvent, User
from workforce.pagination import Page, PageRequest, paginate


@dataclass(frozen=True)
class SystemActor:
    """Who acts when no person does: the scheduler, a CLI command, a webhook."""

    label: str


Actor = User | SystemActor


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    object_type: str,
    object_id: uuid.UUID | str,
    organisation_id: uuid.UUID | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    is_user = isinstance(actor, User)
    event = AuditEvent(
        created_at=clock.now(),
        actor_id=actor.id if is_user else None,
        actor_label=_label(actor),
        organisation_id=organisation_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=_jsonable(before),
        after=_jsonable(after),
        request_id=context.request_id.get(),
    )
    session.add(event)
    return event


def _label(actor: Actor) -> str:
    """A person by role; an API key (whose account shares its id) by its name."""
    if isinstance(actor, SystemActor):
        return actor.label
    if actor.is_api_key:
        return f"api_key:{actor.display_name}"
    return f"user:{actor.role}"


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_events(
    session: Session, admin: User, filters: AuditFilter, page: PageRequest
) -> Page[AuditEvent]:
    """The audit events of the admin's organisation, newest first."""
    stmt = select(AuditEvent).where(AuditEvent.organisation_id == admin.organisation_id)
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.object_type:
        stmt = stmt.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id:
        stmt = stmt.where(AuditEvent.object_id == filters.object_id)
    if filters.actor_id:
        stmt = stmt.where(AuditEvent.actor_id == filters.actor_id)
    if filters.since:
        stmt = stmt.where(AuditEvent.created_at >= filters.since)
    if filters.until:
        stmt = stmt.where(AuditEvent.created_at < filters.until)
    return paginate(
        session, stmt, page, created_at=AuditEvent.created_at, row_id=AuditEvent.id
    )


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {key: _plain(value) for key, value in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
