"""Check-ins through the API: due after the organisation's threshold of exposure (and
not before), the scheduler's one prompt, low scores and support requests opening cases,
and bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import ProjectFactory, UserFactory
from tests.support_helpers import (
    API,
    admin_of,
    claimed,
    count,
    frozen,
    later,
    notifications,
    sensitive_project,
    set_policy,
    sign_in,
    staffed_with_consent,
    tasks,
)
from workforce.accounts.models import User
from workforce.db import Database
from workforce.projects.models import Project
from workforce.wellbeing import jobs as wellbeing_jobs
from workforce.wellbeing.support_models import CheckIn, CheckInPrompt, SupportCase

STATUS = f"{API}/me/check-in"
CHECK_INS = f"{API}/me/check-ins"


@pytest.fixture
def clock_at() -> Iterator[time_machine.Coordinates]:
    yield from frozen()


def work(client: ApiClient, trainer: User, project: Project, clock_at, minutes: int) -> None:
    """Claim a task and submit it ``minutes`` later."""
    held = claimed(client, trainer, project)
    later(clock_at, minutes=minutes)
    response = client.post(f"{API}/me/assignments/{held['id']}/submit", as_user=trainer,
                           json={"answer": "hk", "active_seconds": minutes * 60})
    assert response.status_code == 200, response.get_data(as_text=True)


def status(client: ApiClient, trainer: User) -> dict:
    response = client.get(STATUS, as_user=trainer)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def prompts(session: Session, trainer: User) -> int:
    return len(notifications(session, trainer, "wellbeing.check_in_due"))


def test_a_check_in_is_due_after_the_threshold_and_not_before(
    client: ApiClient, session: Session, database: Database, clock_at
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    admin = admin_of(session, project)
    sign_in(client, ana, admin)
    # Long runs are allowed here: the break rule would end the last lease at the mark.
    set_policy(client, admin, checkin_after_minutes=60, break_after_minutes=240)
    tasks(project, 4)

    work(client, ana, project, clock_at, 50)
    later(clock_at, minutes=20)  # a break; ordinary time does not count
    found = status(client, ana)
    assert (found["check_in_due"], found["exposure_minutes"], found["threshold_minutes"]) == (
        False, 50, 60)
    assert found["organisation"]["organisation_id"] == str(project.organisation_id)
    assert wellbeing_jobs.prompt_due_check_ins(database) == 0
    assert prompts(session, ana) == 0

    work(client, ana, project, clock_at, 10)
    assert status(client, ana)["check_in_due"] is True
    assert wellbeing_jobs.prompt_due_check_ins(database) == 1
    assert wellbeing_jobs.prompt_due_check_ins(database) == 0  # a second pass, or scheduler
    assert prompts(session, ana) == 1
    assert count(session, CheckInPrompt) == 1

    response = client.post(CHECK_INS, as_user=ana, json={"mood": 4})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["support_case_id"] is None
    assert response.get_json()["check_in"]["exposure_minutes"] == 60
    assert status(client, ana)["check_in_due"] is False
    assert status(client, ana)["exposure_minutes"] == 0
    assert count(session, SupportCase) == 0

    # Exposure counts afresh from the check-in; the next prompt comes once it is due.
    later(clock_at, minutes=15)  # a break, so no break rule stands in the way
    work(client, ana, project, clock_at, 59)
    assert wellbeing_jobs.prompt_due_check_ins(database) == 0
    work(client, ana, project, clock_at, 1)
    assert wellbeing_jobs.prompt_due_check_ins(database) == 1
    assert prompts(session, ana) == 2


def test_ordinary_work_never_makes_a_check_in_due(
    client: ApiClient, session: Session, database: Database, clock_at
) -> None:
    ana = UserFactory()
    project = ProjectFactory()
    staffed_with_consent(project, ana)
    sign_in(client, ana)
    tasks(project)
    work(client, ana, project, clock_at, 55)
    found = status(client, ana)
    assert (found["check_in_due"], found["exposure_minutes"], found["organisation"]) == (
        False, 0, None)
    assert wellbeing_jobs.prompt_due_check_ins(database) == 0
    problem = assert_problem(client.post(CHECK_INS, as_user=ana, json={"mood": 3}), 409,
                             code="no-sensitive-work")
    assert problem["detail"]
    assert count(session, CheckIn) == 0


@pytest.mark.parametrize(("body", "requested", "message_seen"), [
    ({"mood": 2, "note": "Rough week."}, False, None),
    ({"mood": 1, "note": "Rough week.", "share_note": True}, False, "Rough week."),
    ({"mood": 4, "note": "Rough week.", "need_support": True}, True, "Rough week."),
])
def test_a_low_score_or_a_request_opens_a_case_and_notes_stay_private_unless_shared(
    client: ApiClient, session: Session, clock_at, body: dict, requested: bool,
    message_seen: str | None,
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    admin = admin_of(session, project)
    sign_in(client, ana, admin)
    tasks(project)
    work(client, ana, project, clock_at, 30)

    response = client.post(CHECK_INS, as_user=ana, json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    receipt = response.get_json()
    assert receipt["support"]["text"]
    case_id = receipt["support_case_id"]
    assert case_id is not None
    [told] = notifications(session, admin, "support_case.opened")
    assert "Rough week" not in told.body
    case = client.get(f"{API}/support-cases/{case_id}", as_user=admin).get_json()
    assert (case["origin"], case["requested"], case["message"]) == (
        "check_in", requested, message_seen)
    assert f"mood {body['mood']} of 5" in case["reason"]
    # The trainer always sees their own words.
    mine = client.get(f"{API}/me/check-ins", as_user=ana).get_json()["items"]
    assert [c["note"] for c in mine] == ["Rough week."]


def test_a_middling_score_opens_no_case(client: ApiClient, session: Session, clock_at) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    sign_in(client, ana)
    tasks(project)
    work(client, ana, project, clock_at, 30)
    response = client.post(CHECK_INS, as_user=ana, json={"mood": 3, "note": "Tired."})
    assert response.status_code == 201
    assert response.get_json()["support_case_id"] is None
    assert count(session, SupportCase) == 0


def test_a_check_in_goes_to_the_organisation_chosen_or_the_latest(
    client: ApiClient, session: Session, clock_at
) -> None:
    ana = UserFactory()
    older, newer = sensitive_project(ana), sensitive_project(ana)
    sign_in(client, ana)
    tasks(older)
    tasks(newer)
    work(client, ana, older, clock_at, 10)
    later(clock_at, minutes=30)
    work(client, ana, newer, clock_at, 10)
    found = status(client, ana)
    assert [o["organisation_id"] for o in found["organisations"]] == [
        str(newer.organisation_id), str(older.organisation_id)]

    default = client.post(CHECK_INS, as_user=ana, json={"mood": 5}).get_json()
    assert default["check_in"]["organisation_id"] == str(newer.organisation_id)
    chosen = client.post(CHECK_INS, as_user=ana, json={
        "mood": 5, "organisation_id": str(older.organisation_id)}).get_json()
    assert chosen["check_in"]["organisation_id"] == str(older.organisation_id)
    problem = assert_problem(client.post(CHECK_INS, as_user=ana, json={
        "mood": 5, "organisation_id": str(ProjectFactory().organisation_id)}), 422)
    assert "organisation_id" in problem["errors"]
    assert count(session, CheckIn) == 2


@pytest.mark.parametrize("body", [
    {"mood": 0}, {"mood": 6}, {"mood": "3"}, {"mood": 3.5}, {"mood": None}, {},
    {"mood": 3, "need_support": "please"}, {"mood": 3, "note": "x" * 5001},
])
def test_invalid_check_ins_are_422_and_write_nothing(
    client: ApiClient, session: Session, clock_at, body: dict
) -> None:
    ana = UserFactory()
    project = sensitive_project(ana)
    sign_in(client, ana)
    tasks(project)
    work(client, ana, project, clock_at, 30)
    problem = assert_problem(client.post(CHECK_INS, as_user=ana, json=body), 422)
    assert set(problem["errors"]) & {"mood", "need_support", "note"}
    assert count(session, CheckIn) == 0
    assert count(session, SupportCase) == 0


def test_staff_cannot_check_in_or_read_check_in_status(
    client: ApiClient, session: Session
) -> None:
    project = sensitive_project()
    admin = admin_of(session, project)
    sign_in(client, admin)
    assert_problem(client.get(STATUS, as_user=admin), 403)
    assert_problem(client.post(CHECK_INS, as_user=admin, json={"mood": 3}), 403)
