"""The webhook events of the projects package, written where the change happens (in its
transaction): answers approved and rejected, tasks completed, projects changing state,
imports finished. Their schemas are documented in the OpenAPI document
(``api/webhook_endpoints_schemas.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.integrations.catalogue import EventType
from workforce.integrations.events import emit, iso, money
from workforce.money import Money
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    Project,
    ProjectState,
    Suspension,
    Task,
    TaskImport,
)


def _work(assignment: Assignment) -> dict[str, Any]:
    return {"assignment_id": str(assignment.id), "task_id": str(assignment.task_id),
            "external_id": assignment.task.external_id,
            "project_id": str(assignment.project_id)}


def assignment_approved(session: Session, assignment: Assignment, pay: Money | None,
                        how: str) -> None:
    """``how``: reviewed, automatic, unsampled or appeal. Then the task, if this was its
    last answer."""
    emit(session, assignment.project.organisation_id, EventType.ASSIGNMENT_APPROVED, {
        **_work(assignment), "approved_at": iso(assignment.reviewed_at or clock.now()),
        "how": how, "pay": money(pay.amount, pay.currency) if pay else None,
    })
    _task_completed(session, assignment)


def assignment_rejected(session: Session, assignment: Assignment) -> None:
    category = assignment.rejection_category
    emit(session, assignment.project.organisation_id, EventType.ASSIGNMENT_REJECTED, {
        **_work(assignment), "rejected_at": iso(assignment.reviewed_at or clock.now()),
        "rejection_category": category.value if category else "",
    })


def _task_completed(session: Session, assignment: Assignment) -> None:
    """``task.completed`` once the task has as many approved answers as its redundancy:
    under the task's row lock, so that of two approvals of its last answers committing
    side by side, the second sees the first (and the event is written once)."""
    redundancy = session.scalar(
        select(Task.redundancy).where(Task.id == assignment.task_id).with_for_update())
    is_approved = (Assignment.task_id == assignment.task_id,
                   Assignment.state == AssignmentState.APPROVED)
    # Most approvals leave the task short of its answers: a count, not the answers.
    if redundancy is None or session.scalar(
            select(func.count()).where(*is_approved)) < redundancy:
        return
    approved = session.scalars(
        select(Assignment).where(*is_approved).order_by(Assignment.reviewed_at, Assignment.id)
    ).all()
    task = assignment.task
    emit(session, assignment.project.organisation_id, EventType.TASK_COMPLETED, {
        "task_id": str(task.id), "external_id": task.external_id,
        "project_id": str(task.project_id), "redundancy": redundancy,
        "completed_at": iso(clock.now()),
        "answers": [{"assignment_id": str(a.id), "answer": a.answer,
                     "approved_at": iso(a.reviewed_at or clock.now())} for a in approved],
        "aggregate": None,
    }, once_key=f"task.completed:{task.id}")


def project_state_changed(
    session: Session, project: Project, change: str, previous_state: ProjectState, *,
    suspension: Suspension | None = None,
) -> None:
    """``change``: activated, paused, resumed, suspension_announced,
    suspension_cancelled, suspended or closed."""
    reason = suspension.reason if suspension is not None else project.pause_reason
    emit(session, project.organisation_id, EventType.PROJECT_STATE_CHANGED, {
        "project_id": str(project.id), "name": project.name, "change": change,
        "previous_state": previous_state.value, "state": project.state.value,
        "reason": reason, "expected_resume_at": iso(project.expected_resume_at),
        "suspension_id": str(suspension.id) if suspension is not None else None,
        "effective_at": iso(suspension.effective_at) if suspension is not None else None,
    })


def import_finished(session: Session, project: Project, record: TaskImport) -> None:
    emit(session, project.organisation_id, EventType.IMPORT_FINISHED, {
        "import_id": str(record.id), "project_id": str(project.id),
        "format": record.format, "rows": record.rows, "created": record.created,
        "duplicates": record.duplicates, "invalid": record.invalid,
        "finished_at": iso(clock.now()),
    })
