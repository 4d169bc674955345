"""Helpers for the flag, support-case, check-in and wellbeing-figure tests.

Time is frozen (time-machine) on Wednesday 2031-03-12 09:00 UTC; ``later`` moves it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.attempt_helpers import sign_in_for_days
from tests.client import ApiClient
from tests.factories import ProjectFactory, StaffFactory, TaskFactory, consenting, staff
from tests.task_helpers import working
from workforce.accounts.models import AuditEvent, Organisation, Role, User
from workforce.notifications.models import Notification
from workforce.projects.models import ContentCategory, Project, Sensitivity

API = "/api/v1"
NOW = datetime(2031, 3, 12, 9, 0, tzinfo=UTC)


def frozen() -> Iterator[time_machine.Coordinates]:
    """The body of each test module's ``clock_at`` fixture."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def later(traveller: time_machine.Coordinates, **delta: float) -> None:
    from workforce import clock

    traveller.move_to(clock.now() + timedelta(**delta))


def sensitive_project(*trainers: User, **fields: Any) -> Project:
    """A per-task project (3.00 USD a task, 10 minutes estimated: 18.00 USD an hour)
    with violent content, the trainers staffed and signed in by the caller."""
    defaults: dict[str, Any] = {
        "sensitivity": Sensitivity.SENSITIVE,
        "content_categories": [ContentCategory.VIOLENCE.value],
        "estimated_task_seconds": 600, "rate": 300,
    }
    project = ProjectFactory(**{**defaults, **fields})
    staffed_with_consent(project, *trainers)
    return project


def staffed_with_consent(project: Project, *trainers: User) -> None:
    """Staff the trainers, who consented to the project's content first (as joining
    a sensitive project requires)."""
    for trainer in trainers:
        consenting(trainer, *project.content_categories)
    staff(project, *trainers)


def tasks(project: Project, count: int = 1, **fields: Any) -> list[Any]:
    return [TaskFactory(project=project, **fields) for _ in range(count)]


def _organisation(session: Session, project: Project) -> Organisation:
    found = session.get(Organisation, project.organisation_id)
    assert found is not None
    return found


def admin_of(session: Session, project: Project) -> User:
    return StaffFactory(role=Role.ADMIN, organisation=_organisation(session, project))


def staff_of(session: Session, project: Project, role: Role = Role.VENDOR_MANAGER) -> User:
    return StaffFactory(role=role, organisation=_organisation(session, project))


def sign_in(client: ApiClient, *users: User) -> None:
    sign_in_for_days(client, *users)


def claimed(client: ApiClient, trainer: User, project: Project) -> dict[str, Any]:
    """A new lease, its task revealed: the trainer saw what they may flag."""
    return working(client, trainer, project)


def flag(client: ApiClient, trainer: User, assignment_id: Any, **body: Any) -> TestResponse:
    payload = {"category": "violence", "severity": "high", "note": "A beating, close up."}
    return client.post(f"{API}/me/assignments/{assignment_id}/flag", as_user=trainer,
                       json={**payload, **body})


def flagged(client: ApiClient, trainer: User, assignment_id: Any, **body: Any
            ) -> dict[str, Any]:
    response = flag(client, trainer, assignment_id, **body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def notifications(session: Session, user: User, kind: str | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user.id)
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    return list(session.scalars(stmt.order_by(Notification.created_at, Notification.id)))


def audited(session: Session, action: str, object_id: Any) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.object_id == str(object_id))))


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def set_policy(client: ApiClient, admin: User, **fields: Any) -> None:
    body = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in fields.items()}
    response = client.patch(f"{API}/organisation/wellbeing-policy", as_user=admin, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
