"""Work in flight when a project pauses: a running session is closed at that moment,
or at the moment a cap was reached if that came first (never paid past a cap)."""

from __future__ import annotations

import uuid

import time_machine
from sqlalchemy.orm import Session

from tests.client import ApiClient
from tests.factories import UserFactory, hourly_project, staff
from tests.hourly_helpers import clock_at, hk, sign_in, started
from workforce.accounts.models import User
from workforce.projects.models import EntryEndReason, Project, TimeEntry

__all__ = ["clock_at"]  # the fixture, imported for pytest


def _running_session(
    client: ApiClient, session: Session, **project_fields: object
) -> tuple[Project, User, TimeEntry]:
    trainer = UserFactory()
    project = hourly_project(idle_timeout_seconds=7200, **project_fields)
    staff(project, trainer)
    manager = session.get(User, project.created_by_id)
    sign_in(client, trainer, manager)
    entry = started(client, trainer, project)
    return project, manager, session.get(TimeEntry, uuid.UUID(entry["id"]))


def _pause(client: ApiClient, project: Project, manager: User) -> None:
    response = client.post(
        f"/api/v1/projects/{project.id}/pause", as_user=manager,
        json={"reason": "The next batch of clips is late."},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_pause_closes_a_running_session_at_the_pause(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    project, manager, entry = _running_session(client, session, daily_cap_minutes=120)

    clock_at.move_to(hk(7, 9))
    _pause(client, project, manager)

    session.refresh(entry)
    assert (entry.ended_at, entry.end_reason) == (hk(7, 9), EntryEndReason.PAUSED)


def test_a_pause_after_the_cap_closes_the_session_at_the_cap(
    client: ApiClient, session: Session, clock_at: time_machine.Coordinates
) -> None:
    project, manager, entry = _running_session(client, session, daily_cap_minutes=60)

    # No heartbeat noticed the cap (08:00 + 60 minutes); the pause must not pay past it.
    clock_at.move_to(hk(7, 9, 30))
    _pause(client, project, manager)

    session.refresh(entry)
    assert (entry.ended_at, entry.end_reason) == (hk(7, 9), EntryEndReason.CAP)
