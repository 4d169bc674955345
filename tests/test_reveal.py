"""The reveal step for sensitive and graphic work, through the API: the claim hands out
the warning, the categories and the estimated time but not the task; the reveal shows
it and starts the exposure (and passes the claim's gate again); submitting, extending
or flagging needs it; giving the task back unrevealed (the decline) costs nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    ProjectFactory,
    TaskFactory,
    UserFactory,
    consenting,
    staff,
    wellbeing_policy,
    worked_task,
)
from tests.hourly_helpers import sign_in
from tests.task_helpers import claim, claimed, reveal, revealed, submit, submitted
from workforce.accounts.models import User
from workforce.projects.models import Assignment, AssignmentState, Project, Sensitivity, Task

API = "/api/v1"
HK = ZoneInfo("Asia/Hong_Kong")
VIOLENCE = "violence"
NOW = datetime(2030, 1, 8, 9, tzinfo=HK)  # a Tuesday


@pytest.fixture
def travel() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def graphic(**fields: Any) -> Project:
    project = ProjectFactory(sensitivity=Sensitivity.GRAPHIC, content_categories=[VIOLENCE],
                             estimated_task_seconds=300, **fields)
    TaskFactory(project=project, priority=1, payload={"prompt": "Label the clip.",
                                          "media_urls": ["https://media.example/1.mp4"]})
    TaskFactory(project=project)
    return project


def trainer_on(client: ApiClient, project: Project) -> User:
    """A trainer staffed on the project, consenting to its content, signed in."""
    trainer = UserFactory(timezone="Asia/Hong_Kong")
    consenting(trainer, VIOLENCE)
    staff(project, trainer)
    sign_in(client, trainer)
    return trainer


def holding(client: ApiClient, project: Project) -> tuple[User, dict[str, Any]]:
    """A trainer on the project and the lease they just claimed there."""
    trainer = trainer_on(client, project)
    return trainer, claimed(client, trainer, project)


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def exposure(client: ApiClient, trainer: User) -> dict[str, Any]:
    return client.get(f"{API}/me/exposure", as_user=trainer).get_json()


def one(client: ApiClient, trainer: User, assignment_id: str) -> dict[str, Any]:
    return client.get(f"{API}/me/assignments/{assignment_id}", as_user=trainer).get_json()


def test_the_claim_gives_the_warning_and_the_reveal_the_task(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    project = graphic(lease_seconds=3600)
    trainer, lease = holding(client, project)
    assert lease["payload"] is None and lease["revealed_at"] is None
    assert lease["content_warning"] == {"sensitivity": "graphic",
                                        "content_categories": [VIOLENCE]}
    assert lease["estimated_task_seconds"] == 300
    assert when(lease["lease_expires_at"]) == NOW + timedelta(hours=1)
    # Nowhere else either: one assignment, the list, a repeated claim.
    assert one(client, trainer, lease["id"])["payload"] is None
    [listed] = client.get(f"{API}/me/assignments", as_user=trainer).get_json()["items"]
    assert listed["payload"] is None
    again = claim(client, trainer, project)
    assert again.status_code == 200 and again.get_json()["payload"] is None

    # Nothing is done with a task not seen: no submit, no extension, no flag.
    travel.move_to(NOW + timedelta(minutes=5))
    before = session.get(Assignment, uuid.UUID(lease["id"]))
    assert_problem(submit(client, trainer, lease["id"]), 409, code="not-revealed")
    assert_problem(client.post(f"{API}/me/assignments/{lease['id']}/extend", as_user=trainer),
                   409, code="not-revealed")
    assert_problem(client.post(f"{API}/me/assignments/{lease['id']}/flag", as_user=trainer,
                               json={"category": VIOLENCE, "severity": "high"}),
                   409, code="not-revealed")
    session.refresh(before)
    assert (before.state, before.answer, before.submitted_at) == (
        AssignmentState.LEASED, None, None)
    # Holding the warning is no exposure.
    assert exposure(client, trainer)["exposure_today_seconds"] == 0

    shown = revealed(client, trainer, lease["id"])
    assert shown["payload"] == {"prompt": "Label the clip.",
                                "media_urls": ["https://media.example/1.mp4"]}
    assert when(shown["revealed_at"]) == NOW + timedelta(minutes=5)
    assert shown["guidelines"]["number"] == 1
    assert when(shown["lease_expires_at"]) == NOW + timedelta(hours=1)
    assert one(client, trainer, lease["id"])["payload"] == shown["payload"]

    # The exposure counts from the reveal, and so does the work's time.
    travel.move_to(NOW + timedelta(minutes=15))
    assert exposure(client, trainer)["exposure_today_seconds"] == 10 * 60
    assert revealed(client, trainer, lease["id"])["revealed_at"] == shown["revealed_at"]
    done = submitted(client, trainer, lease["id"], active_seconds=20 * 60)
    assert done["active_seconds"] == 10 * 60
    assert exposure(client, trainer)["exposure_today_seconds"] == 10 * 60


def test_declining_before_the_reveal_costs_nothing(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    project = graphic()
    trainer, other = trainer_on(client, project), trainer_on(client, project)
    # One approved answer already, so the trainer has a standing to keep.
    worked_task(project, trainer, submitted_at=NOW - timedelta(days=1),
                state=AssignmentState.APPROVED, reviewed_at=NOW - timedelta(days=1))
    quality = client.get(f"{API}/me/quality", as_user=trainer).get_json()

    lease = claimed(client, trainer, project)
    travel.move_to(NOW + timedelta(minutes=20))
    declined = client.post(f"{API}/me/assignments/{lease['id']}/release", as_user=trainer)
    assert declined.status_code == 200, declined.get_json()
    assert declined.get_json()["state"] == "released"
    assert declined.get_json()["payload"] is None

    # The slot is open again: another trainer gets the same task.
    task = session.get(Task, uuid.UUID(lease["task_id"]))
    session.refresh(task)
    assert task.open_slots == 1
    assert claimed(client, other, project)["task_id"] == lease["task_id"]
    # No exposure, no run, and the same standing.
    mine = exposure(client, trainer)
    assert (mine["exposure_today_seconds"], mine["continuous_seconds"]) == (0, 0)
    assert client.get(f"{API}/me/quality", as_user=trainer).get_json() == quality
    # A declined task cannot be revealed afterwards.
    assert_problem(reveal(client, trainer, lease["id"]), 409, code="lease-released")


def test_plain_work_is_shown_at_the_claim(
    client: ApiClient, travel: time_machine.Coordinates
) -> None:
    project = ProjectFactory()
    TaskFactory(project=project, payload={"prompt": "Which accent is this?"})
    trainer = UserFactory()
    staff(project, trainer)
    lease = claimed(client, trainer, project)
    assert lease["payload"] == {"prompt": "Which accent is this?"}
    assert lease["revealed_at"] == lease["claimed_at"]
    # Revealing it again changes nothing.
    assert revealed(client, trainer, lease["id"])["revealed_at"] == lease["claimed_at"]


def claimed_after_a_run(client: ApiClient, minutes: int) -> tuple[User, dict[str, Any]]:
    """A lease claimed now on a graphic project (an hour's lease), by a trainer who
    has just worked ``minutes`` in a row there."""
    project = graphic(lease_seconds=3600)
    trainer = trainer_on(client, project)
    worked_task(project, trainer, claimed_at=NOW - timedelta(minutes=minutes),
                submitted_at=NOW)
    return trainer, claimed(client, trainer, project)


def test_the_reveal_passes_the_claims_limits_again_and_bounds_the_lease(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    trainer, lease = claimed_after_a_run(client, 50)  # allowed: 10 minutes left

    # Eight minutes later, the pause counts: 58 minutes, so two are left.
    travel.move_to(NOW + timedelta(minutes=8))
    shown = revealed(client, trainer, lease["id"])
    assert when(shown["lease_expires_at"]) == NOW + timedelta(minutes=10)


def test_a_reveal_a_limit_would_end_at_once_is_refused_and_shows_nothing(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    trainer, lease = claimed_after_a_run(client, 55)

    travel.move_to(NOW + timedelta(minutes=6))  # a 61-minute run: a break is due
    problem = assert_problem(reveal(client, trainer, lease["id"]), 409,
                             code="exposure-limit-reached")
    assert problem["limit"] == "break"
    assert when(problem["resets_at"]) == NOW + timedelta(minutes=10)
    assert "payload" not in problem
    after = one(client, trainer, lease["id"])
    assert (after["payload"], after["revealed_at"]) == (None, None)
    assert when(after["lease_expires_at"]) == NOW + timedelta(hours=1)

    travel.move_to(NOW + timedelta(minutes=10))  # the break is taken
    shown = revealed(client, trainer, lease["id"])
    assert shown["payload"] is not None
    assert when(shown["lease_expires_at"]) == NOW + timedelta(hours=1)


def test_a_warning_raised_after_the_claim_needs_consent_at_the_reveal(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    project = graphic()
    wellbeing_policy(project.organisation_id)
    trainer, lease = holding(client, project)
    task = session.get(Task, uuid.UUID(lease["task_id"]))
    task.sensitivity = Sensitivity.GRAPHIC
    task.content_categories = [VIOLENCE, "self_harm"]
    session.commit()

    problem = assert_problem(reveal(client, trainer, lease["id"]), 409,
                             code="consent-required")
    assert problem["missing_categories"] == ["self_harm"]
    assert one(client, trainer, lease["id"])["payload"] is None
    consenting(trainer, "self_harm")
    assert revealed(client, trainer, lease["id"])["payload"] is not None


def test_only_a_running_lease_is_revealed(
    client: ApiClient, session: Session, travel: time_machine.Coordinates
) -> None:
    project = graphic(lease_seconds=600)
    trainer, lease = holding(client, project)
    travel.move_to(NOW + timedelta(minutes=10))
    assert_problem(reveal(client, trainer, lease["id"]), 409, code="lease-expired")
    stranger = trainer_on(client, project)
    assert_problem(reveal(client, stranger, lease["id"]), 404)
    assert session.scalars(select(Assignment.revealed_at).where(
        Assignment.id == uuid.UUID(lease["id"]))).one() is None


def test_a_declined_task_is_no_sensitive_work_to_check_in_about(
    client: ApiClient, travel: time_machine.Coordinates
) -> None:
    project = graphic()
    trainer, lease = holding(client, project)
    client.post(f"{API}/me/assignments/{lease['id']}/release", as_user=trainer)
    status = client.get(f"{API}/me/check-in", as_user=trainer).get_json()
    assert status["organisation"] is None and status["exposure_minutes"] == 0
    assert_problem(client.post(f"{API}/me/check-ins", as_user=trainer, json={"mood": 3}),
                   409, code="no-sensitive-work")
