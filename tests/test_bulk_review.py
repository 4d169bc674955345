"""Bulk review through the API: each id decided as a single review would decide it, on
its own, with every id answered; a repeat pays nothing twice."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.client import ApiClient, assert_problem
from tests.factories import StaffFactory, TaskFactory, UserFactory, staff
from tests.task_helpers import API, answered, claimed, review, staffed_project, submitted
from workforce.accounts.models import AuditEvent, Role, User
from workforce.billing.models import EarningEvent
from workforce.errors import Conflict
from workforce.notifications.models import Notification
from workforce.projects import reviews
from workforce.projects.models import Assignment, AssignmentState, Project, Task

ME = f"{API}/me/assignments"


def work(client: ApiClient, trainer: User, project: Project, n: int) -> list[str]:
    """``n`` tasks claimed and submitted by the trainer; their assignment ids."""
    TaskFactory.create_batch(n, project=project)
    return [submitted(client, trainer, claimed(client, trainer, project)["id"])["id"]
            for _ in range(n)]


def bulk(client: ApiClient, user: User, project: Project, ids: list[Any],
         decision: str = "approve", **body: Any) -> TestResponse:
    return client.post(f"{API}/projects/{project.id}/reviews/bulk", as_user=user,
                       json={"assignment_ids": [str(i) for i in ids], "decision": decision,
                             **body})


def by_id(body: dict) -> dict[str, dict]:
    return {item["assignment_id"]: item for item in body["results"]}


def count(session: Session, model: Any, *where: Any) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def earned(session: Session, trainer: User) -> list[tuple[uuid.UUID, int]]:
    session.expire_all()
    return sorted((e.source_id, e.amount) for e in session.scalars(
        select(EarningEvent).where(EarningEvent.trainer_id == trainer.id)))


def state_of(session: Session, assignment_id: Any) -> AssignmentState:
    session.expire_all()
    return session.get(Assignment, uuid.UUID(str(assignment_id))).state


def test_a_mix_of_good_and_bad_ids_is_answered_id_by_id(
    client: ApiClient, session: Session, manager: User, reviewer: User, trainer: User,
    project: Project,
) -> None:
    good = work(client, trainer, project, 3)
    rejected = work(client, trainer, project, 1)[0]
    TaskFactory(project=project)
    holder = UserFactory()
    staff(project, holder)
    leased = claimed(client, holder, project)["id"]
    assert review(client, reviewer, rejected, "reject", rejection_category="incorrect",
                  message="Wrong accent.").status_code == 200
    sibling = staffed_project(trainer, manager=manager)  # same organisation
    elsewhere = work(client, trainer, sibling, 1)[0]
    outsider_project = staffed_project(trainer)  # another organisation
    foreign = work(client, trainer, outsider_project, 1)[0]
    unknown = str(uuid.uuid4())
    ids = [good[0], leased, good[1], rejected, elsewhere, foreign, unknown, good[2]]

    body = answered(bulk(client, reviewer, project, ids))

    assert [item["assignment_id"] for item in body["results"]] == ids
    assert (body["approved"], body["rejected"], body["errors"]) == (3, 0, 5)
    items = by_id(body)
    for done in good:
        assert items[done] == {"assignment_id": done, "outcome": "approved",
                               "state": "approved", "repeated": False, "problem": None}
    for missing in (elsewhere, foreign, unknown):
        # Ids outside the project are not found, whoever's they are: nothing leaks.
        assert items[missing]["state"] is None and items[missing]["outcome"] == "error"
        assert items[missing]["problem"]["type"] == "urn:workforce:problem:not-found"
        assert items[missing]["problem"]["status"] == 404
    assert items[leased]["problem"]["current_state"] == "leased"
    assert items[rejected]["problem"]["current_state"] == "rejected"
    assert items[rejected]["problem"]["type"] == "urn:workforce:problem:illegal-transition"
    assert items[rejected]["problem"]["detail"]
    # Each approval paid once, at the task's fixed rate; nothing else changed.
    assert earned(session, trainer) == sorted((uuid.UUID(i), 200) for i in good)
    assert state_of(session, leased) is AssignmentState.LEASED
    assert state_of(session, elsewhere) is AssignmentState.SUBMITTED
    assert state_of(session, foreign) is AssignmentState.SUBMITTED
    # As single reviews: the trainer told and the decisions audited, one each.
    assert count(session, Notification, Notification.user_id == trainer.id,
                 Notification.kind == "task.approved") == 3
    assert count(session, AuditEvent, AuditEvent.action == "task.approved",
                 AuditEvent.actor_id == reviewer.id) == 3


def test_a_bulk_rejection_frees_the_slots_tells_the_trainers_and_may_be_appealed(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project,
) -> None:
    other = UserFactory()
    staff(project, other)
    ids = work(client, trainer, project, 1) + work(client, other, project, 1)

    body = answered(bulk(client, manager, project, ids, "reject",
                         rejection_category="incorrect", message="The clips are yue-CN."))

    assert (body["approved"], body["rejected"], body["errors"]) == (0, 2, 0)
    assert {item["state"] for item in body["results"]} == {"rejected"}
    session.expire_all()
    tasks = session.scalars(select(Task).where(Task.project_id == project.id)).all()
    assert [t.open_slots for t in tasks] == [1, 1]
    for who, assignment_id in ((trainer, ids[0]), (other, ids[1])):
        [notice] = session.scalars(select(Notification).where(
            Notification.user_id == who.id, Notification.kind == "task.rejected"))
        assert "yue-CN" in notice.body
        mine = answered(client.get(f"{ME}/{assignment_id}", as_user=who))
        assert mine["rejection_category"] == "incorrect"
    answered(client.post(f"{ME}/{ids[0]}/appeal", as_user=trainer,
                         json={"message": "Listen again."}), 201)
    assert earned(session, trainer) == []


def test_the_same_request_again_answers_the_same_outcomes_and_pays_nothing_more(
    client: ApiClient, session: Session, reviewer: User, trainer: User, project: Project,
) -> None:
    ids = work(client, trainer, project, 2)
    first = answered(bulk(client, reviewer, project, ids, message="Good."))

    again = answered(bulk(client, reviewer, project, ids, message="Good."))

    assert [(i["outcome"], i["state"]) for i in again["results"]] == [
        (i["outcome"], i["state"]) for i in first["results"]] == [("approved", "approved")] * 2
    assert [i["repeated"] for i in again["results"]] == [True, True]
    assert again["approved"] == 2 and again["errors"] == 0
    assert len(earned(session, trainer)) == 2
    assert count(session, AuditEvent, AuditEvent.action == "task.approved") == 2
    assert count(session, Notification, Notification.user_id == trainer.id,
                 Notification.kind == "task.approved") == 2
    # Asking for the other decision now is an error per id, not a second decision.
    other = answered(bulk(client, reviewer, project, ids, "reject",
                          rejection_category="incorrect", message="No."))
    assert [i["problem"]["current_state"] for i in other["results"]] == ["approved"] * 2
    assert len(earned(session, trainer)) == 2


def test_a_repeated_rejection_is_answered_again_and_decided_once(
    client: ApiClient, session: Session, reviewer: User, trainer: User, project: Project,
) -> None:
    ids = work(client, trainer, project, 1)
    body = {"rejection_category": "incomplete", "message": "Half done."}
    answered(bulk(client, reviewer, project, ids, "reject", **body))

    again = answered(bulk(client, reviewer, project, ids, "reject", **body))
    other_category = answered(bulk(client, reviewer, project, ids, "reject",
                                   rejection_category="incorrect", message="No."))

    assert again["results"][0]["outcome"] == "rejected" and again["results"][0]["repeated"]
    assert other_category["results"][0]["outcome"] == "error"
    assert count(session, AuditEvent, AuditEvent.action == "task.rejected") == 1
    session.expire_all()
    [made] = session.scalars(select(Task).where(Task.project_id == project.id))
    assert made.open_slots == 1  # given back once


def test_a_failure_inside_one_decision_leaves_it_untouched_and_the_others_done(
    client: ApiClient, session: Session, reviewer: User, trainer: User, project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = work(client, trainer, project, 3)
    real_tell = reviews.tell

    def tell(session: Session, user_id: Any, kind: str, params: dict, data: dict,
             **options: Any) -> Any:
        # After the move, the earning and its ledger entry: the savepoint must undo them.
        if data.get("assignment_id") == ids[1]:
            raise Conflict("The trainer's inbox is unavailable.", code="inbox-unavailable")
        return real_tell(session, user_id, kind, params, data, **options)

    monkeypatch.setattr(reviews, "tell", tell)
    body = answered(bulk(client, reviewer, project, ids))

    assert [i["outcome"] for i in body["results"]] == ["approved", "error", "approved"]
    failed = body["results"][1]
    assert failed["state"] == "submitted"
    assert failed["problem"]["type"] == "urn:workforce:problem:inbox-unavailable"
    assert failed["problem"]["status"] == 409
    assert state_of(session, ids[1]) is AssignmentState.SUBMITTED
    assert [source for source, _ in earned(session, trainer)] == sorted(
        uuid.UUID(i) for i in (ids[0], ids[2]))
    assert count(session, AuditEvent, AuditEvent.action == "task.approved",
                 AuditEvent.object_id == ids[1]) == 0
    # The one left is reviewed normally afterwards.
    monkeypatch.undo()
    assert review(client, reviewer, ids[1], "approve").status_code == 200
    assert len(earned(session, trainer)) == 3


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"assignment_ids": [], "decision": "approve"}, {"assignment_ids"}),
        ({"assignment_ids": "many", "decision": "approve"}, {"assignment_ids"}),
        ({"assignment_ids": ["not-a-uuid"], "decision": "approve"}, {"assignment_ids.0"}),
        ({"decision": "approve"}, {"assignment_ids"}),
        ({"assignment_ids": ["ID"], "decision": "request_revision", "message": "Redo."},
         {"decision"}),
        ({"assignment_ids": ["ID"], "decision": "reject", "message": "No."},
         {"rejection_category"}),
        ({"assignment_ids": ["ID"], "decision": "reject", "rejection_category": "incorrect"},
         {"message"}),
        ({"assignment_ids": ["ID"], "decision": "approve", "rejection_category": "incorrect"},
         {"rejection_category"}),
        ({"assignment_ids": ["ID", "ID"], "decision": "approve"}, {"assignment_ids"}),
    ],
)
def test_a_bad_body_is_refused_whole_and_decides_nothing(
    client: ApiClient, session: Session, reviewer: User, trainer: User, project: Project,
    body: dict, fields: set[str],
) -> None:
    [done] = work(client, trainer, project, 1)
    ids = body.get("assignment_ids")
    if isinstance(ids, list):
        body = {**body, "assignment_ids": [done if i == "ID" else i for i in ids]}

    response = client.post(f"{API}/projects/{project.id}/reviews/bulk", as_user=reviewer,
                           json=body)

    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == fields
    assert state_of(session, done) is AssignmentState.SUBMITTED
    assert earned(session, trainer) == []


def test_up_to_500_ids_are_taken_and_501_refused(
    client: ApiClient, session: Session, reviewer: User, trainer: User, project: Project,
) -> None:
    [done] = work(client, trainer, project, 1)
    others = [str(uuid.uuid4()) for _ in range(500)]

    assert_problem(bulk(client, reviewer, project, [done, *others]), 422)
    assert state_of(session, done) is AssignmentState.SUBMITTED

    body = answered(bulk(client, reviewer, project, [done, *others[:499]]))
    assert (body["approved"], body["errors"]) == (1, 499)
    assert earned(session, trainer) == [(uuid.UUID(done), 200)]


def test_only_reviewers_of_the_organisation_review_in_bulk(
    client: ApiClient, session: Session, manager: User, trainer: User, project: Project,
) -> None:
    [done] = work(client, trainer, project, 1)
    outsider = StaffFactory(role=Role.REVIEWER)
    finance = StaffFactory(role=Role.FINANCE, organisation=manager.organisation)

    assert_problem(bulk(client, outsider, project, [done]), 404)
    assert_problem(bulk(client, finance, project, [done]), 403)
    assert_problem(bulk(client, trainer, project, [done]), 403)
    assert state_of(session, done) is AssignmentState.SUBMITTED
