"""Review, revisions, appeals, auto-approval, gold scoring and pay, through the API."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.attempt_helpers import sign_in_for_days
from tests.client import ApiClient, assert_problem
from tests.factories import (
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    hourly_project,
    staff,
)
from tests.task_helpers import (
    API,
    claimed,
    import_file,
    jsonl,
    review,
    row,
    staffed_project,
    submitted,
)
from workforce import clock
from workforce.accounts.models import AuditEvent, Role, User
from workforce.billing.models import EarningEvent, EarningKind
from workforce.notifications.models import Notification
from workforce.projects import reviews
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    Project,
    ProjectRate,
    ProjectState,
    Task,
)

ME = f"{API}/me/assignments"


def earnings(session: Session, trainer: User) -> list[EarningEvent]:
    return list(session.scalars(
        select(EarningEvent).where(EarningEvent.trainer_id == trainer.id)
        .order_by(EarningEvent.occurred_at)
    ))


def notices(session: Session, user: User, kind: str) -> list[Notification]:
    return list(session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
    ))


def stored(session: Session, assignment_id: str) -> Assignment:
    found = session.get(Assignment, uuid.UUID(assignment_id))
    session.refresh(found)
    return found


def slots(session: Session, task_id: str) -> int:
    found = session.get(Task, uuid.UUID(task_id))
    session.refresh(found)
    return found.open_slots


def work(client: ApiClient, trainer: User, project: Project, **kwargs: object) -> dict:
    """Claim and submit the next task; the submitted assignment."""
    return submitted(client, trainer, claimed(client, trainer, project)["id"], **kwargs)


# --- from import to pay --------------------------------------------------------------


def test_a_per_task_project_from_import_to_approved_pay(
    client: ApiClient, session: Session, manager: User, reviewer: User, trainer: User,
    project: Project,
) -> None:
    imported = import_file(client, manager, project, jsonl([
        row("clip-1", "Which accent?", media_urls=["https://cdn.example.org/1.mp3"]),
    ]))
    assert imported.status_code == 201

    lease = claimed(client, trainer, project)
    assert lease["external_id"] == "clip-1"
    done = submitted(client, trainer, lease["id"], answer={"accent": "Hong Kong"})
    assert done["state"] == "submitted" and earnings(session, trainer) == []

    queue = client.get(f"{API}/projects/{project.id}/reviews", as_user=reviewer).get_json()
    assert [item["assignment_id"] for item in queue["items"]] == [lease["id"]]
    assert "trainer" not in str(queue)
    response = review(client, reviewer, lease["id"], "approve", message="Clean work.")

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["state"] == "approved"
    [earning] = earnings(session, trainer)
    assert (earning.kind, earning.amount, earning.currency) == (
        EarningKind.TASK_APPROVAL, 200, "USD")
    assert (earning.source_type, earning.source_id) == ("task_assignment", uuid.UUID(lease["id"]))
    assert earning.project_id == project.id
    assert earning.organisation_id == project.organisation_id
    [notice] = notices(session, trainer, "task.approved")
    assert "$2.00" in notice.body and "Clean work." in notice.body
    assert session.scalars(select(AuditEvent).where(
        AuditEvent.action == "task.approved", AuditEvent.object_id == lease["id"]
    )).one().actor_id == reviewer.id
    mine = client.get(f"{ME}/{lease['id']}", as_user=trainer).get_json()
    assert mine["state"] == "approved" and mine["review_message"] == "Clean work."
    assert mine["pay"] == {"amount": 200, "currency": "USD"}
    assert client.get(f"{API}/projects/{project.id}/reviews",
                      as_user=reviewer).get_json()["items"] == []


def test_a_raise_between_claim_and_submit_is_paid(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project
) -> None:
    sign_in_for_days(client, trainer, manager)
    TaskFactory(project=project)
    start = clock.now()
    session.add(ProjectRate(
        project_id=project.id, number=2, amount=350, currency="USD",
        effective_from=start + timedelta(minutes=30), created_by_id=manager.id,
        created_at=start,
    ))
    session.commit()
    with time_machine.travel(start, tick=False):
        lease = claimed(client, trainer, project)
    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        assert submitted(client, trainer, lease["id"])["pay"]["amount"] == 350
    # A rate change after the submission does not change what it pays.
    session.add(ProjectRate(
        project_id=project.id, number=3, amount=500, currency="USD",
        effective_from=start + timedelta(hours=2), created_by_id=manager.id, created_at=start,
    ))
    session.commit()
    with time_machine.travel(start + timedelta(hours=3), tick=False):
        assert review(client, manager, lease["id"], "approve").status_code == 200
    assert [e.amount for e in earnings(session, trainer)] == [350]


def test_unsampled_work_is_approved_and_paid_at_once(
    client: ApiClient, session: Session, manager: User, trainer: User
) -> None:
    project = staffed_project(trainer, manager=manager, review_sample_percent=0)
    TaskFactory(project=project)

    done = work(client, trainer, project)

    assert done["state"] == "approved" and done["auto_approved"] is True
    assert [e.amount for e in earnings(session, trainer)] == [200]
    assignment = stored(session, done["id"])
    assert assignment.sampled is False and assignment.reviewed_at is not None
    assert client.get(f"{API}/projects/{project.id}/reviews",
                      as_user=manager).get_json()["items"] == []


def test_sampling_is_deterministic_and_close_to_the_share() -> None:
    ids = [uuid.uuid5(uuid.NAMESPACE_OID, str(n)) for n in range(4000)]
    sampled = sum(reviews.is_sampled(i, 25) for i in ids)
    assert 800 <= sampled <= 1200
    assert all(reviews.is_sampled(i, 100) for i in ids[:100])
    assert not any(reviews.is_sampled(i, 0) for i in ids[:100])
    assert [reviews.is_sampled(i, 50) for i in ids[:50]] == [
        reviews.is_sampled(i, 50) for i in ids[:50]]


def test_hourly_projects_pay_tasks_through_timesheets_not_approvals(
    client: ApiClient, session: Session, manager: User, trainer: User
) -> None:
    project = hourly_project(manager=manager)
    staff(project, trainer)
    TaskFactory(project=project)
    done = work(client, trainer, project)
    assert done["pay"] is None
    assert review(client, manager, done["id"], "approve").status_code == 200
    assert earnings(session, trainer) == []


# --- reviews -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"decision": "reject", "message": "Wrong."}, {"rejection_category"}),
        ({"decision": "reject", "rejection_category": "incorrect"}, {"message"}),
        ({"decision": "reject", "rejection_category": "incorrect", "message": "  "},
         {"message"}),
        ({"decision": "request_revision"}, {"message"}),
        ({"decision": "approve", "rejection_category": "incorrect"}, {"rejection_category"}),
        ({"decision": "reject", "rejection_category": "sloppy", "message": "x"},
         {"rejection_category"}),
        ({"decision": "maybe"}, {"decision"}),
        ({}, {"decision"}),
    ],
)
def test_an_incomplete_review_is_refused_and_changes_nothing(
    client: ApiClient, session: Session, reviewer: User, trainer: User, project: Project,
    body: dict, fields: set[str],
) -> None:
    TaskFactory(project=project)
    done = work(client, trainer, project)

    response = client.post(f"{API}/assignments/{done['id']}/review", as_user=reviewer,
                           json=body)

    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == fields
    assert stored(session, done["id"]).state is AssignmentState.SUBMITTED


def test_a_rejection_frees_the_slot_and_tells_the_trainer(
    client: ApiClient, session: Session, reviewer: User, trainer: User, project: Project
) -> None:
    made = TaskFactory(project=project)
    done = work(client, trainer, project)
    assert slots(session, str(made.id)) == 0

    response = review(client, reviewer, done["id"], "reject", rejection_category="incorrect",
                      message="The speaker is from Guangzhou.")

    assert response.status_code == 200
    assert slots(session, str(made.id)) == 1
    mine = client.get(f"{ME}/{done['id']}", as_user=trainer).get_json()
    assert mine["state"] == "rejected" and mine["rejection_category"] == "incorrect"
    assert mine["review_message"] == "The speaker is from Guangzhou."
    [notice] = notices(session, trainer, "task.rejected")
    assert "Guangzhou" in notice.body
    assert earnings(session, trainer) == []
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "task.rejected"))
    assert audit.one().after["rejection_category"] == "incorrect"
    # Decided: a second review is a conflict.
    assert_problem(review(client, reviewer, done["id"], "approve"), 409,
                   code="illegal-transition")


def test_a_revision_goes_back_to_the_trainer_and_is_resubmitted(
    client: ApiClient, session: Session, reviewer: User, trainer: User, project: Project
) -> None:
    sign_in_for_days(client, trainer, reviewer)
    made = TaskFactory(project=project)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        done = work(client, trainer, project, active_seconds=0)
        response = review(client, reviewer, done["id"], "request_revision",
                          message="Name the district too.")
        assert response.status_code == 200 and response.get_json()["revisions"] == 1
    assert notices(session, trainer, "task.revision_requested")
    mine = client.get(f"{ME}/{done['id']}", as_user=trainer).get_json()
    assert mine["state"] == "revision_requested"
    assert mine["review_message"] == "Name the district too."
    assert slots(session, str(made.id)) == 0  # still the trainer's

    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        again = submitted(client, trainer, done["id"], answer="Hong Kong, Sham Shui Po",
                          active_seconds=9999)
    assert again["state"] == "submitted" and again["active_seconds"] == 600
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        assert review(client, reviewer, done["id"], "approve").status_code == 200
    assert [e.amount for e in earnings(session, trainer)] == [200]


def test_reviews_stay_within_the_organisation(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project
) -> None:
    TaskFactory(project=project)
    done = work(client, trainer, project)
    outsider = StaffFactory(role=Role.REVIEWER)

    assert_problem(review(client, outsider, done["id"], "approve"), 404)
    assert_problem(client.get(f"{API}/projects/{project.id}/reviews", as_user=outsider), 404)
    assert_problem(review(client, trainer, done["id"], "approve"), 403, code="role-forbidden")
    finance = StaffFactory(role=Role.FINANCE, organisation=manager.organisation)
    assert_problem(review(client, finance, done["id"], "approve"), 403, code="role-forbidden")
    assert_problem(review(client, manager, str(uuid.uuid4()), "approve"), 404)
    assert stored(session, done["id"]).state is AssignmentState.SUBMITTED
    assert earnings(session, trainer) == []


def test_the_review_queue_is_oldest_first_and_shows_gold(
    client: ApiClient, session: Session, manager: User, reviewer: User
) -> None:
    trainers = [UserFactory() for _ in range(3)]
    project = staffed_project(*trainers, manager=manager)
    TaskFactory(project=project, redundancy=3, gold_answer={"accent": "HK"})
    sign_in_for_days(client, *trainers)
    start = clock.now()
    done = []
    for minutes, t in enumerate(trainers):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            done.append(work(client, t, project, answer={"accent": "hk "}))

    first = client.get(f"{API}/projects/{project.id}/reviews?limit=2",
                       as_user=reviewer).get_json()
    rest = client.get(f"{API}/projects/{project.id}/reviews?cursor={first['next_cursor']}",
                      as_user=reviewer).get_json()

    assert [i["assignment_id"] for i in first["items"] + rest["items"]] == [
        d["id"] for d in done]
    assert rest["next_cursor"] is None
    item = first["items"][0]
    assert item["gold_answer"] == {"accent": "HK"} and item["gold_correct"] is True
    assert item["answer"] == {"accent": "hk "}


# --- appeals -------------------------------------------------------------------------


def rejected(client: ApiClient, reviewer: User, trainer: User, project: Project) -> dict:
    done = work(client, trainer, project)
    response = review(client, reviewer, done["id"], "reject",
                      rejection_category="guidelines_not_followed", message="Read 2.1.")
    assert response.status_code == 200
    return done


def test_an_overturned_appeal_pays_once(
    client: ApiClient, session: Session, manager: User, reviewer: User, trainer: User,
    project: Project,
) -> None:
    made = TaskFactory(project=project)
    done = rejected(client, reviewer, trainer, project)

    response = client.post(f"{ME}/{done['id']}/appeal", as_user=trainer,
                           json={"message": "  2.1 allows this.  "})
    assert response.status_code == 201, response.get_data(as_text=True)
    appeal = response.get_json()
    assert appeal["state"] == "open" and appeal["message"] == "2.1 allows this."
    assert_problem(client.post(f"{ME}/{done['id']}/appeal", as_user=trainer,
                               json={"message": "Again"}), 409, code="appeal-exists")
    queue = client.get(f"{API}/projects/{project.id}/appeals?state=open",
                       as_user=manager).get_json()
    assert [a["id"] for a in queue["items"]] == [appeal["id"]]
    assert queue["items"][0]["rejection_category"] == "guidelines_not_followed"
    # Reviewers review; managers judge appeals.
    decision = {"decision": "overturn", "note": "Agreed, 2.1 allows it."}
    assert_problem(client.post(f"{API}/appeals/{appeal['id']}/decision", as_user=reviewer,
                               json=decision), 403)

    response = client.post(f"{API}/appeals/{appeal['id']}/decision", as_user=manager,
                           json=decision)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["state"] == "overturned"
    assert response.get_json()["assignment_state"] == "approved"
    assert [e.amount for e in earnings(session, trainer)] == [200]
    assert_problem(client.post(f"{API}/appeals/{appeal['id']}/decision", as_user=manager,
                               json=decision), 409, code="appeal-decided")
    assert [e.amount for e in earnings(session, trainer)] == [200]
    [notice] = notices(session, trainer, "task.appeal_overturned")
    assert "Agreed" in notice.body and "$2.00" in notice.body
    mine = client.get(f"{ME}/{done['id']}", as_user=trainer).get_json()
    assert mine["state"] == "approved" and mine["appeal"]["state"] == "overturned"
    assert mine["appeal"]["decision_note"] == "Agreed, 2.1 allows it."
    # The answer counts again: the slot given back at the rejection is closed.
    assert slots(session, str(made.id)) == 0
    assert response.get_json()["task_over_answered"] is False
    actions = set(session.scalars(select(AuditEvent.action).where(
        AuditEvent.organisation_id == project.organisation_id)))
    assert {"task.appealed", "task.appeal_decided", "task.appeal_overturned"} <= actions


def overturn(client: ApiClient, manager: User, trainer: User, done: dict):
    appeal = client.post(f"{ME}/{done['id']}/appeal", as_user=trainer,
                         json={"message": "It is right."}).get_json()
    return client.post(f"{API}/appeals/{appeal['id']}/decision", as_user=manager,
                       json={"decision": "overturn", "note": "Agreed."})


@pytest.fixture
def rejected_once(client: ApiClient, reviewer: User, trainer: User, project: Project
                  ) -> tuple[Task, dict]:
    """A task needing one answer, answered by the trainer and rejected: its slot is
    open again."""
    made = TaskFactory(project=project, redundancy=1)
    return made, rejected(client, reviewer, trainer, project)


def test_an_overturn_closes_the_slot_its_rejection_reopened(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project,
    rejected_once: tuple[Task, dict],
) -> None:
    made, done = rejected_once
    assert slots(session, str(made.id)) == 1

    response = overturn(client, manager, trainer, done)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["task_over_answered"] is False
    assert slots(session, str(made.id)) == 0
    # Nobody answers (or is paid for) the task a second time.
    other = UserFactory()
    staff(project, other)
    assert_problem(client.post(f"{API}/projects/{project.id}/claims", as_user=other), 409,
                   code="no-task-available")
    report = client.get(f"{API}/projects/{project.id}/report", as_user=manager).get_json()
    assert (report["open_tasks"], report["open_slots"]) == (0, 0)
    assert report["over_answered_tasks"] == 0
    [event] = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "task.appeal_decided"))
    assert event.after["slot_closed"] is True


def test_an_overturn_after_another_trainer_took_the_slot_says_so(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project,
    rejected_once: tuple[Task, dict],
) -> None:
    made, done = rejected_once
    second, third = UserFactory(), UserFactory()
    staff(project, second, third)
    holding = claimed(client, second, project)
    assert holding["task_id"] == str(made.id)

    response = overturn(client, manager, trainer, done)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["state"] == "overturned" and body["task_over_answered"] is True
    assert "Another trainer" in body["slot_note"]
    report = client.get(f"{API}/projects/{project.id}/report", as_user=manager).get_json()
    assert (report["open_tasks"], report["over_answered_tasks"]) == (0, 1)
    # The other trainer gives the task back: the overturned answer fills it, so the
    # slot stays closed and a third trainer is not given it.
    assert client.post(f"{ME}/{holding['id']}/release", as_user=second).status_code == 200
    assert slots(session, str(made.id)) == 0
    assert_problem(client.post(f"{API}/projects/{project.id}/claims", as_user=third), 409,
                   code="no-task-available")
    report = client.get(f"{API}/projects/{project.id}/report", as_user=manager).get_json()
    assert (report["open_tasks"], report["over_answered_tasks"]) == (0, 0)


def test_an_upheld_appeal_pays_nothing_and_cannot_be_repeated(
    client: ApiClient, session: Session, manager: User, reviewer: User, trainer: User,
    project: Project,
) -> None:
    TaskFactory(project=project)
    done = rejected(client, reviewer, trainer, project)
    appeal = client.post(f"{ME}/{done['id']}/appeal", as_user=trainer,
                         json={"message": "Please look again."}).get_json()

    assert_problem(client.post(f"{API}/appeals/{appeal['id']}/decision", as_user=manager,
                               json={"decision": "uphold", "note": " "}), 422)
    response = client.post(f"{API}/appeals/{appeal['id']}/decision", as_user=manager,
                           json={"decision": "uphold", "note": "Section 2.1 is clear."})

    assert response.status_code == 200 and response.get_json()["state"] == "upheld"
    assert earnings(session, trainer) == []
    assert notices(session, trainer, "task.appeal_upheld")
    assert stored(session, done["id"]).state is AssignmentState.REJECTED
    assert_problem(client.post(f"{ME}/{done['id']}/appeal", as_user=trainer,
                               json={"message": "One more time"}), 409, code="appeal-exists")


def test_appeals_need_a_rejection_of_ones_own_and_stay_in_the_organisation(
    client: ApiClient, session: Session, manager: User, reviewer: User, trainer: User,
    project: Project,
) -> None:
    TaskFactory.create_batch(2, project=project)
    approved = work(client, trainer, project)
    review(client, reviewer, approved["id"], "approve")
    assert_problem(client.post(f"{ME}/{approved['id']}/appeal", as_user=trainer,
                               json={"message": "Why not?"}), 409, code="not-rejected")
    done = rejected(client, reviewer, trainer, project)
    assert_problem(client.post(f"{ME}/{done['id']}/appeal", as_user=UserFactory(),
                               json={"message": "Mine?"}), 404)
    assert_problem(client.post(f"{ME}/{done['id']}/appeal", as_user=trainer,
                               json={"message": ""}), 422)
    appeal = client.post(f"{ME}/{done['id']}/appeal", as_user=trainer,
                         json={"message": "Look again."}).get_json()
    outsider = StaffFactory()
    assert_problem(client.post(f"{API}/appeals/{appeal['id']}/decision", as_user=outsider,
                               json={"decision": "overturn", "note": "Sure."}), 404)
    assert_problem(client.get(f"{API}/projects/{project.id}/appeals", as_user=outsider), 404)
    assert [e.source_id for e in earnings(session, trainer)] == [uuid.UUID(approved["id"])]


# --- auto-approval -------------------------------------------------------------------


def test_unreviewed_work_is_approved_after_the_policy_and_paid_once(
    client: ApiClient, session: Session, manager: User, trainer: User
) -> None:
    project = staffed_project(trainer, manager=manager, auto_approve_days=3)
    slow = staffed_project(trainer, manager=manager, auto_approve_days=10)
    TaskFactory(project=project)
    TaskFactory(project=slow)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        done = work(client, trainer, project)
        waiting = work(client, trainer, slow)
    # The project is suspended meanwhile: its submitted work is still paid.
    project.state = ProjectState.SUSPENDED
    session.commit()

    almost = start + timedelta(days=3) - timedelta(seconds=1)
    assert reviews.auto_approve_submissions(session, now=almost, limit=50) == 0
    due = start + timedelta(days=3, seconds=1)
    with time_machine.travel(due, tick=False):
        assert reviews.auto_approve_submissions(session, now=due, limit=50) == 1
        session.commit()
        assert reviews.auto_approve_submissions(session, now=due, limit=50) == 0

    approved = stored(session, done["id"])
    assert approved.state is AssignmentState.APPROVED and approved.auto_approved
    assert stored(session, waiting["id"]).state is AssignmentState.SUBMITTED
    assert [e.amount for e in earnings(session, trainer)] == [200]
    assert notices(session, trainer, "task.approved")
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "task.auto_approved"))
    event = audit.one()
    assert event.actor_id is None and event.actor_label == "scheduler"
    assert event.after["amount"] == 200


def test_revisions_left_alone_expire_and_free_their_slot(
    client: ApiClient, session: Session, reviewer: User, trainer: User, project: Project
) -> None:
    made = TaskFactory(project=project)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        done = work(client, trainer, project)
        review(client, reviewer, done["id"], "request_revision", message="More detail.")

    later = start + timedelta(days=project.auto_approve_days, seconds=1)
    assert reviews.auto_approve_submissions(session, now=later, limit=50) == 1
    session.commit()

    assert stored(session, done["id"]).state is AssignmentState.EXPIRED
    assert slots(session, str(made.id)) == 1
    assert notices(session, trainer, "task.revision_expired")
    assert earnings(session, trainer) == []


# --- gold and quality ----------------------------------------------------------------


def test_canonical_answers_compare_as_people_would() -> None:
    assert reviews.gold_matches({"b": [" Yes ", 1.0], "a": "HONG kong"},
                                {"a": "hong kong", "b": ["yes", 1]})
    assert not reviews.gold_matches({"a": "hong kong"}, {"a": "guangzhou"})
    assert not reviews.gold_matches(["a", "b"], ["b", "a"])
    assert not reviews.gold_matches(True, 1)
    assert reviews.gold_matches("  Straße ", "STRASSE")


def test_gold_tasks_are_scored_and_feed_the_quality_score(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project
) -> None:
    TaskFactory(project=project, gold_answer="Hong Kong", priority=3)
    TaskFactory(project=project, gold_answer={"district": "Sham Shui Po"}, priority=2)
    TaskFactory(project=project, priority=1)
    TaskFactory(project=project, gold_answer="Macau", priority=0)
    assert reviews.quality_score(session, trainer.id, project.organisation_id) is None

    work(client, trainer, project, answer="  hong KONG ")
    work(client, trainer, project, answer={"district": "sham shui po"})
    work(client, trainer, project, answer="no gold here")
    last = work(client, trainer, project, answer="Hong Kong")

    scored = session.scalars(select(Assignment).where(
        Assignment.trainer_id == trainer.id).order_by(Assignment.claimed_at)).all()
    # Without a template the whole answer is right (1) or wrong (0).
    assert sorted((a.gold_score, a.gold_correct, a.gold_scores) for a in scored
                  if a.gold_score is not None) == [
        (0, False, None), (1, True, None), (1, True, None)]
    assert [a.gold_correct for a in scored].count(None) == 1
    assert reviews.quality_score(session, trainer.id, project.organisation_id) == (
        Decimal("0.6667"))
    assert "gold" not in str(last)
    # Another organisation knows nothing of it.
    assert reviews.quality_score(session, trainer.id, uuid.uuid4()) is None

    review(client, manager, last["id"], "reject", rejection_category="incorrect",
           message="Macau.")
    for item in client.get(f"{API}/projects/{project.id}/reviews",
                           as_user=manager).get_json()["items"][:2]:
        review(client, manager, item["assignment_id"], "approve")
    assert reviews.approval_rate(session, trainer.id, project.organisation_id) == (
        Decimal("0.6667"))

    quality = client.get(f"{API}/me/quality", as_user=trainer).get_json()["organisations"]
    assert quality == [{
        "organisation_id": str(project.organisation_id),
        "organisation_name": manager.organisation.name, "gold_scored": 3, "gold_correct": 2,
        "quality_score": "0.6667", "approved": 2, "rejected": 1, "approval_rate": "0.6667",
    }]
    nobody = client.get(f"{API}/me/quality", as_user=UserFactory()).get_json()
    assert (nobody["organisations"], nobody["projects"]) == ([], [])


def test_project_factory_default_rate(session: Session) -> None:
    # The amounts above lean on the factory's default per-task rate.
    project = ProjectFactory()
    rate = session.scalars(select(ProjectRate).where(ProjectRate.project_id == project.id))
    assert rate.one().amount == 200
    assert session.scalar(select(func.count()).select_from(Task)
                          .where(Task.project_id == project.id)) == 0


SCORES = st.lists(st.decimals(min_value=0, max_value=1, places=4), max_size=8)


def tally(scores: list[Decimal]) -> reviews.GoldTally:
    counted = reviews.GoldTally()
    for score in scores:
        counted = counted.add(score)
    return counted


@given(SCORES, SCORES)
def test_flagged_gold_never_lowers_the_quality_score(
    plain: list[Decimal], flagged: list[Decimal]
) -> None:
    """Whatever the flagged work scored, the score is at least what it would be with that
    work counted, and at least what it is without it. Flagged work below a full score
    alone gives no score yet, as a wrong answer to flagged gold did before."""
    counted = reviews.with_flagged(tally(plain), flagged)
    if counted.score is None:
        assert not plain and Decimal(1) not in flagged
        return
    for other in (tally(plain + flagged), tally(plain)):
        assert other.score is None or counted.score >= other.score
    # A full score always counts; the counts stay whole numbers of tasks.
    assert counted.scored >= len(plain) + flagged.count(Decimal(1))
    assert counted.correct == (plain + flagged).count(Decimal(1))


@given(st.lists(st.sampled_from([Decimal(0), Decimal(1)]), max_size=8),
       st.lists(st.sampled_from([Decimal(0), Decimal(1)]), max_size=8))
def test_right_or_wrong_flagged_gold_counts_as_before(
    plain: list[Decimal], flagged: list[Decimal]
) -> None:
    # Before scores per field: a flagged gold task counted when right, never when wrong.
    assert reviews.with_flagged(tally(plain), flagged) == tally(
        plain + [s for s in flagged if s == 1])
