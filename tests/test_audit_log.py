"""The audit log is append-only in the database: UPDATE and DELETE fail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from tests.client import ApiClient
from tests.factories import OrganisationFactory, StaffFactory
from workforce.accounts import audit
from workforce.accounts.audit import SystemActor
from workforce.accounts.models import AuditEvent, Role


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


def test_events_written_at_one_time_keep_the_order_they_were_written_in(
    client: ApiClient, session: Session
) -> None:
    """A request writes its events at one ``now`` (a decision and its taking effect);
    their ids increase as they are made (``db.OrderedIdMixin``), so the log's order by
    (time, id) is the order they happened in, not a coin toss per tie."""
    admin = StaffFactory(role=Role.ADMIN)
    actions = [f"step.{n:02d}" for n in range(12)]
    with time_machine.travel(datetime(2030, 1, 7, 8, tzinfo=UTC), tick=False):
        for action in actions:
            audit.record(session, SystemActor("test"), action, object_type="organisation",
                         object_id=admin.organisation_id,
                         organisation_id=admin.organisation_id)
        session.commit()
    listed = client.get("/api/v1/audit-events", as_user=admin,
                        query_string={"object_type": "organisation"}).get_json()["items"]
    # Newest first.
    assert [item["action"] for item in listed] == actions[::-1]
