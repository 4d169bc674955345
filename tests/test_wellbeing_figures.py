"""Aggregated, de-identified wellbeing figures per project: groups under the
organisation's threshold are suppressed, and nothing names a trainer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import StaffFactory, UserFactory, worked_task
from tests.support_helpers import (
    API,
    admin_of,
    frozen,
    sensitive_project,
    set_policy,
    sign_in,
    staff_of,
)
from workforce.accounts.models import User
from workforce.projects.models import ContentCategory, Project
from workforce.wellbeing.support_models import CheckIn, ContentFlag, FlagSeverity

# The frozen clock is Wednesday 2031-03-12; the last complete week starts Monday the 3rd.
LAST_WEEK = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)
WEEK_BEFORE = LAST_WEEK - timedelta(weeks=1)


@pytest.fixture
def clock_at() -> Iterator[time_machine.Coordinates]:
    yield from frozen()


def exposed(project: Project, trainer: User, at: datetime, minutes: int = 30) -> object:
    return worked_task(project, trainer, claimed_at=at,
                       submitted_at=at + timedelta(minutes=minutes))


def flag_on(session: Session, project: Project, trainer: User, at: datetime,
            category: ContentCategory) -> None:
    assignment = exposed(project, trainer, at, minutes=5)
    session.add(ContentFlag(
        assignment_id=assignment.id, task_id=assignment.task_id, project_id=project.id,
        organisation_id=project.organisation_id, trainer_id=trainer.id, category=category,
        severity=FlagSeverity.LOW, note="private to triage", created_at=at,
    ))
    session.commit()


def checked_in(session: Session, project: Project, trainer: User, at: datetime, mood: int,
               note: str = "", share: bool = False) -> None:
    session.add(CheckIn(trainer_id=trainer.id, organisation_id=project.organisation_id,
                        project_id=project.id, mood=mood, note=note, share_note=share,
                        created_at=at))
    session.commit()


def figures(client: ApiClient, user: User, project: Project, query: str = "") -> dict:
    response = client.get(f"{API}/projects/{project.id}/wellbeing{query}", as_user=user)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_groups_under_the_threshold_are_suppressed_and_nothing_names_a_trainer(
    client: ApiClient, session: Session, clock_at
) -> None:
    trainers = [UserFactory() for _ in range(3)]
    project = sensitive_project(*trainers)
    admin = admin_of(session, project)
    manager = staff_of(session, project)
    sign_in(client, admin, manager)
    set_policy(client, admin, min_group_size=3)

    for i, trainer in enumerate(trainers):
        exposed(project, trainer, LAST_WEEK + timedelta(hours=i), minutes=30)
        flag_on(session, project, trainer, LAST_WEEK + timedelta(hours=5 + i),
                ContentCategory.VIOLENCE)
    flag_on(session, project, trainers[0], LAST_WEEK + timedelta(hours=9), ContentCategory.HATE)
    exposed(project, trainers[0], WEEK_BEFORE, minutes=45)  # one trainer that week
    checked_in(session, project, trainers[0], LAST_WEEK, 2, "Too much.", share=True)
    checked_in(session, project, trainers[1], LAST_WEEK, 4, "Fine, secret.")

    body = figures(client, manager, project, "?weeks=2")
    assert body["min_group_size"] == 3
    last, before = body["weeks"]
    assert (last["start"], last["end"]) == ("2031-03-03T00:00:00+00:00",
                                            "2031-03-10T00:00:00+00:00")
    # Exposure: 3 trainers x (30 minutes of work + 5 minutes per flagged task), and
    # one more flagged task of 5 minutes.
    assert last["exposure"] == {"suppressed": False, "suppressed_reason": None,
                                "trainers": 3, "hours": "1.83"}
    assert before["exposure"]["suppressed"] is True
    assert before["exposure"]["hours"] is None and before["exposure"]["trainers"] is None
    assert "Fewer than 3 trainers" in before["exposure"]["suppressed_reason"]

    by_category = {c["category"]: c for c in last["flags_by_category"]}
    assert (by_category["violence"]["suppressed"], by_category["violence"]["flags"]) == (
        False, 3)
    assert (by_category["hate"]["suppressed"], by_category["hate"]["flags"]) == (True, None)
    assert (by_category["self_harm"]["suppressed"], by_category["self_harm"]["flags"]) == (
        False, 0)

    # Two trainers checked in: the whole distribution is hidden, notes included.
    assert last["check_ins"] == {
        "suppressed": True, "suppressed_reason": last["check_ins"]["suppressed_reason"],
        "check_ins": None, "distribution": None, "mean_mood": None, "shared_notes": []}
    text = str(body)
    for trainer in trainers:
        assert str(trainer.id) not in text and trainer.email not in text
    assert "private to triage" not in text and "Fine, secret." not in text

    # A third trainer checks in: the distribution shows, with the one shared note only.
    checked_in(session, project, trainers[2], LAST_WEEK + timedelta(days=1), 3)
    moods = figures(client, admin, project)["weeks"][0]["check_ins"]
    assert moods["suppressed"] is False
    assert moods["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 1, "5": 0}
    assert (moods["check_ins"], moods["mean_mood"]) == (3, "3.00")
    assert moods["shared_notes"] == ["Too much."]


def test_the_current_week_is_never_shown(client: ApiClient, session: Session, clock_at
                                         ) -> None:
    trainers = [UserFactory() for _ in range(5)]
    project = sensitive_project(*trainers)
    manager = staff_of(session, project)
    sign_in(client, manager)
    for trainer in trainers:  # this week: still filling up, so not reported yet
        checked_in(session, project, trainer, datetime(2031, 3, 11, 8, tzinfo=UTC), 1)
    weeks = figures(client, manager, project)["weeks"]
    assert len(weeks) == 4
    assert all(w["check_ins"]["check_ins"] == 0 for w in weeks)


def test_bad_requests_and_other_organisations(client: ApiClient, session: Session, clock_at
                                              ) -> None:
    trainer = UserFactory()
    project = sensitive_project(trainer)
    manager = staff_of(session, project)
    stranger = StaffFactory()
    sign_in(client, manager, stranger, trainer)
    assert_problem(client.get(f"{API}/projects/{project.id}/wellbeing", as_user=stranger), 404)
    assert_problem(client.get(f"{API}/projects/{project.id}/wellbeing", as_user=trainer), 403)
    for query in ("?weeks=0", "?weeks=53", "?weeks=many"):
        problem = assert_problem(client.get(f"{API}/projects/{project.id}/wellbeing{query}",
                                            as_user=manager), 422)
        assert "weeks" in problem["errors"]
