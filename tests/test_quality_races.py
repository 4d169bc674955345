"""Concurrent submissions that a quality rule catches, and concurrent claims on the last
of a project's budget, between real PostgreSQL connections (skipped on SQLite): one
restriction per rule and trainer, and no claim beyond the budget."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import ProjectFactory, TaskFactory, UserFactory, staff, token_for
from tests.races import bearer, race
from workforce import clock
from workforce.notifications.models import Notification
from workforce.projects.models import Assignment, AssignmentState
from workforce.results.models import QualityRestriction, QualityRule, RuleKind

API = "/api/v1"


def test_submissions_caught_at_once_restrict_the_trainer_once(
    live_app: Flask, live_session: Session
) -> None:
    """Six revisions handed in together, each of which the rule catches on its own."""
    trainer = UserFactory()
    project = ProjectFactory(review_sample_percent=0)
    staff(project, trainer)
    rule = QualityRule(project_id=project.id, kind=RuleKind.FAST_SUBMISSIONS, sample_size=1,
                       max_fast=0, min_seconds=600, duration_hours=24,
                       created_by_id=project.created_by_id)
    live_session.add(rule)
    now = clock.now()
    ids = []
    for _ in range(6):
        task = TaskFactory(project=project, open_slots=0)
        assignment = Assignment(
            task_id=task.id, project_id=project.id, trainer_id=trainer.id,
            state=AssignmentState.REVISION_REQUESTED, claimed_at=now, revealed_at=now,
            lease_expires_at=now + timedelta(hours=1), submitted_at=now, reviewed_at=now,
            answer="first", sampled=False)
        live_session.add(assignment)
        live_session.flush()
        ids.append(assignment.id)
    live_session.commit()
    token = token_for(trainer)

    results = race(live_app, [
        lambda client, i=i: client.post(f"{API}/me/assignments/{i}/submit",
                                        headers=bearer(token),
                                        json={"answer": "second", "active_seconds": 5})
        for i in ids])

    assert Counter(r.status_code for r in results) == {200: 6}
    live_session.expire_all()
    made = live_session.scalars(select(QualityRestriction).where(
        QualityRestriction.trainer_id == trainer.id)).all()
    assert len(made) == 1 and made[0].figures["hits"] == 1
    told = live_session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "quality.restricted"))
    assert told == 1


def test_claims_at_once_never_take_the_project_over_its_budget(
    live_app: Flask, live_session: Session
) -> None:
    """A budget of 500 at 200 a task: two leases fit (400), a third would make 600."""
    project = ProjectFactory()
    project.budget_amount = 500
    trainers = [UserFactory() for _ in range(8)]
    staff(project, *trainers)
    TaskFactory.create_batch(8, project=project)
    live_session.commit()
    tokens = [token_for(t) for t in trainers]

    results = race(live_app, [
        lambda client, t=t: client.post(f"{API}/projects/{project.id}/claims",
                                        headers=bearer(t)) for t in tokens])

    statuses = Counter(r.status_code for r in results)
    assert statuses == {201: 2, 409: 6}, [r.get_data(as_text=True) for r in results][:3]
    assert {r.get_json()["type"] for r in results if r.status_code == 409} == {
        "urn:workforce:problem:budget-spent"}
    live_session.expire_all()
    leased = live_session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.project_id == project.id))
    assert leased == 2
