"""Concurrent claims, releases, reviews and appeal decisions between real PostgreSQL
connections (skipped on SQLite): no task over-assigned, nobody paid twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import assert_problem
from tests.factories import ProjectFactory, StaffFactory, TaskFactory, UserFactory, staff, token_for
from tests.races import bearer, race
from workforce import clock
from workforce.accounts.models import AuditEvent, Role, User
from workforce.billing.models import EarningEvent
from workforce.db import Database
from workforce.projects import reviews
from workforce.projects import tasks as tasks_service
from workforce.projects.models import (
    SLOT_STATES,
    Appeal,
    Assignment,
    AssignmentState,
    Project,
    Task,
)

API = "/api/v1"


def post(path: str, token: str, json: Any = None) -> Callable[[FlaskClient], Any]:
    return lambda client: client.post(path, headers=bearer(token), json=json)


def assignments_of(session: Session, project: Project) -> list[Assignment]:
    session.expire_all()
    return list(session.scalars(select(Assignment).where(Assignment.project_id == project.id)))


def assert_slots_add_up(session: Session, project: Project) -> None:
    session.expire_all()
    for task in session.scalars(select(Task).where(Task.project_id == project.id)):
        live = session.scalar(
            select(func.count()).select_from(Assignment)
            .where(Assignment.task_id == task.id, Assignment.state.in_(SLOT_STATES))
        )
        assert task.open_slots == task.redundancy - live, task.external_id


def test_thirty_trainers_claiming_ten_slots_at_once(live_app: Flask, live_session: Session) -> None:
    project = ProjectFactory()
    trainers = [UserFactory() for _ in range(30)]
    staff(project, *trainers)
    TaskFactory.create_batch(5, project=project, redundancy=2)
    tokens = [token_for(t) for t in trainers]

    results = race(live_app, [post(f"{API}/projects/{project.id}/claims", t) for t in tokens])

    statuses = Counter(r.status_code for r in results)
    assert statuses == {201: 10, 409: 20}, [r.get_data(as_text=True) for r in results][:3]
    assert {r.get_json()["type"] for r in results if r.status_code == 409} == {
        "urn:workforce:problem:no-task-available"}
    made = assignments_of(live_session, project)
    assert len(made) == 10
    assert Counter(a.task_id for a in made) == {task_id: 2 for task_id in {a.task_id
                                                                           for a in made}}
    assert len({a.trainer_id for a in made}) == 10
    open_slots = live_session.scalars(select(Task.open_slots).where(Task.project_id == project.id))
    assert list(open_slots) == [0] * 5
    assert_slots_add_up(live_session, project)


def test_a_claim_passes_over_a_task_another_claim_holds_and_waits_when_only_held_ones_remain(
    live_app: Flask, live_session: Session, live_database: Database
) -> None:
    """The first try of a plain claim picks and takes a task in one statement, skipping
    one another transaction holds; when every task left is held, the claim does not
    answer "none left" but waits for the holder, and takes the task it gives back."""
    project = ProjectFactory()
    first_trainer, second_trainer = UserFactory(), UserFactory()
    staff(project, first_trainer, second_trainer)
    held = TaskFactory(project=project, priority=1)  # the first in claim order
    other = TaskFactory(project=project)
    tokens = token_for(first_trainer), token_for(second_trainer)
    live_session.commit()
    url = f"{API}/projects/{project.id}/claims"
    with live_database.engine.connect() as holder:
        holder.execute(select(Task.id).where(Task.id == held.id).with_for_update())
        taken = live_app.test_client().post(url, headers=bearer(tokens[0]))
        assert taken.status_code == 201 and taken.get_json()["task_id"] == str(other.id)

        answers: list[Any] = []
        waiting = threading.Thread(target=lambda: answers.append(
            live_app.test_client().post(url, headers=bearer(tokens[1]))))
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive() and answers == []  # waits on the held task
        holder.rollback()  # the other claim gives its task back untaken
    waiting.join(timeout=30)
    assert answers[0].status_code == 201, answers[0].get_data(as_text=True)
    assert answers[0].get_json()["task_id"] == str(held.id)
    assert_slots_add_up(live_session, project)


def test_one_trainer_claiming_ten_times_at_once_gets_one_lease(
    live_app: Flask, live_session: Session
) -> None:
    trainer = UserFactory()
    project = ProjectFactory()
    staff(project, trainer)
    TaskFactory.create_batch(5, project=project, redundancy=3)
    token = token_for(trainer)

    results = race(live_app, [post(f"{API}/projects/{project.id}/claims", token)
                              for _ in range(10)])

    assert sorted(r.status_code for r in results) == [200] * 9 + [201]
    assert len({r.get_json()["id"] for r in results}) == 1
    made = assignments_of(live_session, project)
    assert len(made) == 1
    assert_slots_add_up(live_session, project)


def test_releases_and_claims_at_once_keep_the_slots_right(
    live_app: Flask, live_session: Session
) -> None:
    holders = [UserFactory() for _ in range(8)]
    newcomers = [UserFactory() for _ in range(8)]
    project = ProjectFactory()
    staff(project, *holders, *newcomers)
    TaskFactory.create_batch(4, project=project, redundancy=2)
    leases = []
    for holder in holders:
        view, _ = tasks_service.claim_next(live_session, holder, project.id)
        leases.append(view.assignment.id)
    live_session.commit()

    calls = [post(f"{API}/me/assignments/{lease}/release", token_for(holder))
             for lease, holder in zip(leases, holders, strict=True)]
    calls += [post(f"{API}/projects/{project.id}/claims", token_for(n)) for n in newcomers]
    results = race(live_app, calls)

    assert all(r.status_code == 200 for r in results[:8])
    assert all(r.status_code in (201, 409) for r in results[8:])
    assert_slots_add_up(live_session, project)
    live = [a for a in assignments_of(live_session, project)
            if a.state is AssignmentState.LEASED]
    assert len(live) == sum(r.status_code == 201 for r in results[8:]) <= 8


def _submitted_assignment(session: Session, project: Project) -> tuple[User, Assignment]:
    trainer = UserFactory()
    staff(project, trainer)
    TaskFactory(project=project)
    view, _ = tasks_service.claim_next(session, trainer, project.id)
    tasks_service.submit(session, trainer, view.assignment.id, answer="HK", active_seconds=5)
    session.commit()
    return trainer, view.assignment


def test_two_reviewers_deciding_at_once_pay_once(live_app: Flask, live_session: Session) -> None:
    manager = StaffFactory()
    project = ProjectFactory(manager=manager)
    reviewers = [StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
                 for _ in range(6)]
    trainer, assignment = _submitted_assignment(live_session, project)

    results = race(live_app, [
        post(f"{API}/assignments/{assignment.id}/review", token_for(r), {"decision": "approve"})
        for r in reviewers
    ])

    assert sorted(r.status_code for r in results) == [200] + [409] * 5
    live_session.expire_all()
    paid = live_session.scalar(select(func.count()).select_from(EarningEvent)
                               .where(EarningEvent.trainer_id == trainer.id))
    assert paid == 1


def test_overturning_an_appeal_twice_at_once_pays_once(
    live_app: Flask, live_session: Session, live_database: Database
) -> None:
    manager = StaffFactory()
    project = ProjectFactory(manager=manager)
    managers = [StaffFactory(organisation=manager.organisation) for _ in range(5)]
    trainer, assignment = _submitted_assignment(live_session, project)
    reviews.review(live_session, manager, assignment.id, decision=reviews.ReviewDecision.REJECT,
                   rejection_category=reviews.RejectionCategory.INCORRECT, message="No.")
    appeal = reviews.appeal(live_session, trainer, assignment.id, "Yes it is.")
    live_session.commit()
    body = {"decision": "overturn", "note": "Fair point."}

    results = race(live_app, [post(f"{API}/appeals/{appeal.id}/decision", token_for(m), body)
                              for m in managers])
    # And the auto-approval job, for good measure, finds nothing left to pay.
    with live_database.unit_of_work() as session:
        later = clock.now() + timedelta(days=30)
        reviews.auto_approve_submissions(session, now=later, limit=100)

    assert sorted(r.status_code for r in results) == [200] + [409] * 4
    live_session.expire_all()
    assert live_session.get(Appeal, appeal.id).state.value == "overturned"
    paid = live_session.scalar(select(func.count()).select_from(EarningEvent)
                               .where(EarningEvent.trainer_id == trainer.id))
    assert paid == 1


def test_an_overturn_racing_claims_for_the_slot_it_closes(
    live_app: Flask, live_session: Session
) -> None:
    """The rejection gave the task's one slot back; the overturn closes it while trainers
    claim it: exactly one of them gets it, and the overturn says whether it was too late."""
    manager = StaffFactory()
    project = ProjectFactory(manager=manager)
    trainer, assignment = _submitted_assignment(live_session, project)
    reviews.review(live_session, manager, assignment.id, decision=reviews.ReviewDecision.REJECT,
                   rejection_category=reviews.RejectionCategory.INCORRECT, message="No.")
    appeal = reviews.appeal(live_session, trainer, assignment.id, "Yes it is.")
    claimers = [UserFactory() for _ in range(4)]
    staff(project, *claimers)
    live_session.commit()
    body = {"decision": "overturn", "note": "Fair point."}

    results = race(live_app, [
        post(f"{API}/appeals/{appeal.id}/decision", token_for(manager), body),
        *(post(f"{API}/projects/{project.id}/claims", token_for(c)) for c in claimers),
    ])

    decided, claims = results[0], results[1:]
    assert decided.status_code == 200, decided.get_json()
    won = [r for r in claims if r.status_code == 201]
    for refused in (r for r in claims if r.status_code != 201):
        assert_problem(refused, 409, code="no-task-available")
    # One slot, one taker: the overturn closed it, or a claim took it first and the
    # overturn says the task is over-answered.
    assert len(won) + (not decided.get_json()["task_over_answered"]) == 1
    live_session.expire_all()
    [task] = live_session.scalars(select(Task).where(Task.project_id == project.id))
    assert task.open_slots == 0


def test_review_racing_the_auto_approval_job_pays_once(
    live_app: Flask, live_session: Session, live_database: Database
) -> None:
    manager = StaffFactory()
    project = ProjectFactory(manager=manager, auto_approve_days=1)
    trainer, assignment = _submitted_assignment(live_session, project)
    later = clock.now() + timedelta(days=2)

    def job(_client: FlaskClient) -> int:
        with live_database.unit_of_work() as session:
            return reviews.auto_approve_submissions(session, now=later, limit=100)

    token = token_for(manager)
    results = race(live_app, [
        job, post(f"{API}/assignments/{assignment.id}/review", token, {"decision": "approve"}),
    ])

    live_session.expire_all()
    assert live_session.get(Assignment, assignment.id).state is AssignmentState.APPROVED
    # Either the job approved it (and the review met a decided assignment), or the
    # review did (and the job skipped or found nothing).
    assert (results[0], results[1].status_code) in {(1, 409), (0, 200)}
    paid = live_session.scalar(select(func.count()).select_from(EarningEvent)
                               .where(EarningEvent.trainer_id == trainer.id))
    assert paid == 1


def _earnings_of(session: Session, trainer: User) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(EarningEvent)
                          .where(EarningEvent.trainer_id == trainer.id))


def _decisions(session: Session, assignment: Assignment) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_id == str(assignment.id),
        AuditEvent.action.in_(("task.approved", "task.rejected"))))


def test_bulk_reviews_racing_single_reviews_decide_each_assignment_once(
    live_app: Flask, live_session: Session
) -> None:
    """Two bulk approvals of overlapping ids (sent in opposite orders), a bulk rejection
    and single approvals, all at once on the same assignments: each is decided once and
    paid at most once, and every answer tells the truth about it."""
    manager = StaffFactory()
    project = ProjectFactory(manager=manager)
    reviewer = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
    pairs = [_submitted_assignment(live_session, project) for _ in range(4)]
    live_session.commit()
    ids = [str(a.id) for _, a in pairs]
    url = f"{API}/projects/{project.id}/reviews/bulk"
    approve = {"decision": "approve"}
    reject = {"decision": "reject", "rejection_category": "incorrect", "message": "No."}

    results = race(live_app, [
        post(url, token_for(manager), {"assignment_ids": ids, **approve}),
        post(url, token_for(reviewer), {"assignment_ids": ids[::-1], **approve}),
        post(url, token_for(reviewer), {"assignment_ids": ids[:2], **reject}),
        *(post(f"{API}/assignments/{i}/review", token_for(manager), approve) for i in ids),
    ])

    bulks, singles = [r.get_json() for r in results[:3]], results[3:]
    assert all(r.status_code == 200 for r in results[:3]), bulks
    assert all(r.status_code in (200, 409) for r in singles)
    live_session.expire_all()
    for (trainer, assignment), single in zip(pairs, singles, strict=True):
        final = live_session.get(Assignment, assignment.id).state
        assert final in (AssignmentState.APPROVED, AssignmentState.REJECTED)
        assert _decisions(live_session, assignment) == 1
        assert _earnings_of(live_session, trainer) == (final is AssignmentState.APPROVED)
        outcomes = [by_id[str(assignment.id)] for by_id in (
            {i["assignment_id"]: i for i in b["results"]} for b in bulks)
            if str(assignment.id) in by_id]
        # Each answer agrees with what happened: the decision made, the same decision
        # met again (repeated), or the other one met (an error naming it).
        for item in outcomes:
            if item["outcome"] == "error":
                assert item["problem"]["current_state"] == final.value
            else:
                assert item["state"] == final.value
        made = [item for item in outcomes if item["outcome"] != "error"
                and not item["repeated"]] + ([single] if single.status_code == 200 else [])
        assert len(made) == 1


def test_a_bulk_approval_racing_an_appeal_decision_pays_once(
    live_app: Flask, live_session: Session
) -> None:
    """A rejected, appealed assignment in a bulk approval while a manager overturns the
    rejection: the overturn decides it (the bulk meets a rejection or an approval, never
    submitted work), and it is paid once."""
    manager = StaffFactory()
    project = ProjectFactory(manager=manager)
    trainer, assignment = _submitted_assignment(live_session, project)
    other_trainer, other = _submitted_assignment(live_session, project)
    reviews.review(live_session, manager, assignment.id, decision=reviews.ReviewDecision.REJECT,
                   rejection_category=reviews.RejectionCategory.INCORRECT, message="No.")
    appeal = reviews.appeal(live_session, trainer, assignment.id, "Yes it is.")
    live_session.commit()

    results = race(live_app, [
        post(f"{API}/projects/{project.id}/reviews/bulk", token_for(manager),
             {"assignment_ids": [str(assignment.id), str(other.id)], "decision": "approve"}),
        post(f"{API}/appeals/{appeal.id}/decision", token_for(manager),
             {"decision": "overturn", "note": "Fair point."}),
    ])

    assert [r.status_code for r in results] == [200, 200]
    appealed, plain = results[0].get_json()["results"]
    assert plain["outcome"] == "approved"
    assert (appealed["outcome"], appealed["state"] or appealed["problem"]["current_state"]) in {
        ("error", "rejected"), ("approved", "approved")}
    live_session.expire_all()
    assert live_session.get(Assignment, assignment.id).state is AssignmentState.APPROVED
    assert _earnings_of(live_session, trainer) == 1
    assert _earnings_of(live_session, other_trainer) == 1


def test_two_imports_of_the_same_ids_at_once_create_each_task_once(
    live_app: Flask, live_session: Session
) -> None:
    manager = StaffFactory()
    project = ProjectFactory(manager=manager)
    body = "".join(
        f'{{"external_id": "same-{n}", "payload": {{"prompt": "Clip {n}"}}}}\n'
        for n in range(2500)
    ).encode()
    tokens = [token_for(manager), token_for(StaffFactory(organisation=manager.organisation))]

    results = race(live_app, [
        lambda client, token=token: client.post(
            f"{API}/projects/{project.id}/tasks/import", data=body,
            headers={**bearer(token), "Content-Type": "application/x-ndjson"},
        )
        for token in tokens
    ])

    assert [r.status_code for r in results] == [201, 201]
    reports = [r.get_json() for r in results]
    assert sum(r["created"] for r in reports) == 2500
    assert all(r["created"] + r["duplicates"] == 2500 for r in reports)
    live_session.expire_all()
    assert live_session.scalar(select(func.count()).select_from(Task)
                               .where(Task.project_id == project.id)) == 2500
