"""Driving hourly work through the API for the session, entry and timesheet tests.

Time is frozen (time-machine) in the week of Monday 2030-01-07; trainers live in
Hong Kong (UTC+8, no daylight saving) unless a test says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.client import ApiClient
from tests.factories import token_for
from workforce.accounts.models import User
from workforce.projects.models import Project, TimeEntry, Timesheet

HK = ZoneInfo("Asia/Hong_Kong")
ME = "/api/v1/me"


def hk(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in January 2030, Hong Kong time (the 7th is a Monday)."""
    return datetime(2030, 1, day, hour, minute, second, tzinfo=HK)


def iso(when: datetime) -> str:
    return when.isoformat()


@pytest.fixture
def clock_at() -> Iterator[time_machine.Coordinates]:
    """Time frozen at Monday 2030-01-07 08:00 in Hong Kong; ``move_to`` moves it."""
    with time_machine.travel(hk(7, 8), tick=False) as traveller:
        yield traveller


def sign_in(client: ApiClient, *users: User) -> None:
    """Tokens that outlive the days these tests travel through."""
    for user in users:
        client._tokens[user.id] = token_for(user, lifetime=timedelta(days=90))


def start(client: ApiClient, trainer: User, project: Project) -> TestResponse:
    return client.post(f"/api/v1/projects/{project.id}/sessions", as_user=trainer)


def started(client: ApiClient, trainer: User, project: Project) -> dict[str, Any]:
    response = start(client, trainer, project)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def beat(client: ApiClient, trainer: User, entry_id: Any) -> TestResponse:
    return client.post(f"{ME}/sessions/{entry_id}/heartbeat", as_user=trainer)


def stop(client: ApiClient, trainer: User, entry_id: Any) -> TestResponse:
    return client.post(f"{ME}/sessions/{entry_id}/stop", as_user=trainer)


def manual(
    client: ApiClient, trainer: User, project: Project, started_at: datetime,
    ended_at: datetime, note: str = "Relabelled the clips flagged by QA.",
) -> TestResponse:
    return client.post(
        f"/api/v1/projects/{project.id}/time-entries", as_user=trainer,
        json={"started_at": iso(started_at), "ended_at": iso(ended_at), "note": note},
    )


def logged(
    client: ApiClient, trainer: User, project: Project, started_at: datetime,
    ended_at: datetime,
) -> dict[str, Any]:
    response = manual(client, trainer, project, started_at, ended_at)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def counts(session: Session) -> tuple[int, int]:
    """(time entries, timesheets) in the database."""
    return (
        session.scalar(select(func.count()).select_from(TimeEntry)) or 0,
        session.scalar(select(func.count()).select_from(Timesheet)) or 0,
    )
