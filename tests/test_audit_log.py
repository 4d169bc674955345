"""The audit log is append-only in the database: UPDATE and DELETE fail."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from tests.factories import OrganisationFactory
from workforce.accounts import audit
from workforce.accounts.audit import SystemActor
from workforce.accounts.models import AuditEvent


@pytest.fixture
def event(session: Session) -> AuditEvent:
    organisation = OrganisationFactory()
    event = audit.record(
        session, SystemActor("test"), "organisation.renamed", object_type="organisation",
        object_id=organisation.id, organisation_id=organisation.id,
        before={"name": "Old"}, after={"name": "New"},
    )
    session.commit()
    return event


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_audit_events_cannot_be_changed(
    session: Session, event: AuditEvent, statement: str
) -> None:
    stmt = (
        update(AuditEvent).where(AuditEvent.id == event.id).values(action="forged")
        if statement == "update"
        else delete(AuditEvent).where(AuditEvent.id == event.id)
    )
    with pytest.raises(DatabaseError, match="append-only"), session.begin_nested():
        session.execute(stmt)
    session.expire_all()
    assert session.get(AuditEvent, event.id).action == "organisation.renamed"
