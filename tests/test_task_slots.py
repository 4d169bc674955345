"""The slot invariant, over random sequences of claims, releases, expiries, submissions,
reviews, revisions and appeals: a task's ``open_slots`` is always its redundancy less
the assignments holding a slot, never below zero (an overturned rejection holds one
again, and fills the next slot given back if another trainer had taken its own)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import ProjectFactory, StaffFactory, TaskFactory, UserFactory, staff
from workforce import clock
from workforce.accounts.models import User
from workforce.errors import Conflict
from workforce.projects import reviews
from workforce.projects import tasks as tasks_service
from workforce.projects.models import (
    SLOT_STATES,
    Appeal,
    AppealState,
    Assignment,
    AssignmentState,
    Project,
    RejectionCategory,
    Task,
)
from workforce.projects.reviews import AppealDecision, ReviewDecision

# Claims and submissions come more often: most other steps need them first.
OPERATIONS = ("claim", "claim", "claim", "submit", "submit", "release", "approve", "reject",
              "reject", "revise", "resubmit", "appeal_overturn", "appeal_uphold",
              "expire_leases", "auto_approve")
TRAINERS = 4


def _pick(session: Session, project: Project, state: AssignmentState,
          who: int) -> Assignment | None:
    """One of the project's assignments in ``state`` (whoever's), chosen by ``who``."""
    found = list(session.scalars(
        select(Assignment).where(Assignment.project_id == project.id,
                                 Assignment.state == state)
        .order_by(Assignment.claimed_at, Assignment.id)
    ))
    return found[who % len(found)] if found else None


def _step(session: Session, project: Project, manager: User, trainers: list[User],
          op: str, who: int) -> None:
    far = clock.now() + timedelta(days=365)
    if op == "claim":
        tasks_service.claim_next(session, trainers[who], project.id)
        return
    if op == "expire_leases":
        tasks_service.expire_leases(session, now=far, limit=100)
        return
    if op == "auto_approve":
        reviews.auto_approve_submissions(session, now=far, limit=100)
        return
    wanted = {
        "release": AssignmentState.LEASED, "submit": AssignmentState.LEASED,
        "approve": AssignmentState.SUBMITTED, "reject": AssignmentState.SUBMITTED,
        "revise": AssignmentState.SUBMITTED, "resubmit": AssignmentState.REVISION_REQUESTED,
        "appeal_overturn": AssignmentState.REJECTED, "appeal_uphold": AssignmentState.REJECTED,
    }[op]
    found = _pick(session, project, wanted, who)
    if found is None:
        return
    event(f"did {op}")
    trainer = next(t for t in trainers if t.id == found.trainer_id)
    if op == "release":
        tasks_service.release_lease(session, trainer, found.id)
    elif op in ("submit", "resubmit"):
        tasks_service.submit(session, trainer, found.id, answer="x", active_seconds=1)
    elif op in ("approve", "reject", "revise"):
        decision = {"approve": ReviewDecision.APPROVE, "reject": ReviewDecision.REJECT,
                    "revise": ReviewDecision.REQUEST_REVISION}[op]
        reviews.review(
            session, manager, found.id, decision=decision,
            rejection_category=RejectionCategory.OTHER if op == "reject" else None,
            message=None if op == "approve" else "Because.",
        )
    else:
        appeal = reviews.appeal(session, trainer, found.id, "Please.")
        decision = AppealDecision.OVERTURN if op == "appeal_overturn" else (
            AppealDecision.UPHOLD)
        reviews.decide_appeal(session, manager, appeal.id, decision=decision, note="Ok.")


def _check(session: Session, project: Project) -> None:
    session.expire_all()
    overturned = set(session.scalars(
        select(Appeal.assignment_id).where(Appeal.project_id == project.id,
                                           Appeal.state == AppealState.OVERTURNED)
    ))
    assignments = list(session.scalars(
        select(Assignment).where(Assignment.project_id == project.id)))
    for task in session.scalars(select(Task).where(Task.project_id == project.id)):
        holding = [a for a in assignments if a.task_id == task.id and a.state in SLOT_STATES]
        assert task.open_slots == max(0, task.redundancy - len(holding)), (
            task.external_id, holding)
        # Only an overturn leaves a task with more answers than it needs.
        surplus = len(holding) - task.redundancy
        assert surplus <= len([a for a in holding if a.id in overturned])
        if surplus > 0:
            event("over-answered task")
    leased = [a.trainer_id for a in assignments if a.state is AssignmentState.LEASED]
    assert len(leased) == len(set(leased))  # one live lease per trainer and project
    pairs = [(a.task_id, a.trainer_id) for a in assignments]
    assert len(pairs) == len(set(pairs))


@pytest.mark.slow
@settings(max_examples=75, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    redundancies=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    steps=st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, TRAINERS - 1)),
                   min_size=10, max_size=60),
)
def test_open_slots_always_match_the_assignments_holding_them(
    session: Session, redundancies: list[int], steps: list[tuple[str, int]]
) -> None:
    # A fresh project per example: the database is shared by every example.
    manager = StaffFactory()
    project = ProjectFactory(manager=manager, review_sample_percent=100)
    trainers = [UserFactory() for _ in range(TRAINERS)]
    staff(project, *trainers)
    for redundancy in redundancies:
        TaskFactory(project=project, redundancy=redundancy)

    for op, who in steps:
        # A step refused (no task left, a second appeal) rolls back, as a request would.
        with contextlib.suppress(Conflict), session.begin_nested():
            _step(session, project, manager, trainers, op, who)
        _check(session, project)


def test_a_task_the_trainer_already_had_is_not_taken_again_and_keeps_its_slot(
    session: Session,
) -> None:
    """The unique key (task, trainer) behind the claim query: were the query ever to
    offer a task the trainer had, the insert does nothing and the slot goes back."""
    project = ProjectFactory()
    task = TaskFactory(project=project, redundancy=2)
    trainer = UserFactory()
    staff(project, trainer)
    view, _ = tasks_service.claim_next(session, trainer, project.id)
    assert view.task.id == task.id
    session.flush()
    session.refresh(task)
    assert task.open_slots == 1
    # A second take of the same task by the same trainer, as a racing claim would try.
    again = tasks_service._try_take(session, trainer, project, task.id, clock.now())
    assert again is None
    session.refresh(task)
    assert task.open_slots == 1
    assert session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.task_id == task.id)) == 1
