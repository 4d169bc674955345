"""Helpers for the aggregation tests: a project with a template, and approved answers
written straight into the database (as a review would leave them)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from tests.factories import ProjectFactory, TaskFactory, UserFactory
from workforce import clock
from workforce.accounts.models import User
from workforce.projects.models import Assignment, AssignmentState, Project, Task
from workforce.results import aggregates
from workforce.results.models import TemplateVersion

OPTIONS = [{"value": "yue-HK", "label": "Hong Kong"}, {"value": "yue-CN", "label": "Guangzhou"}]
ACCENT = {"name": "accent", "label": "Accent", "kind": "single_choice",
          "settings": {"options": OPTIONS, "none_of_these": False}}
MOS = {"name": "naturalness", "label": "Naturalness", "kind": "rating",
       "settings": {"min": 1, "max": 5, "step": 1, "min_label": None, "max_label": None,
                    "gold_tolerance": 0}}
VERDICT = {"name": "verdict", "label": "Which is better?", "kind": "pairwise",
           "settings": {"allow_tie": True, "strength": None, "reason_required": False,
                        "reason_min_length": 0}}
NOTE = {"name": "note", "label": "Note", "kind": "text",
        "settings": {"min_length": 0, "max_length": 100, "language": None}}

_clock = itertools.count()


def templated_project(session: Session, *fields: dict[str, Any], **kwargs: Any) -> Project:
    project = ProjectFactory(**kwargs)
    session.add(TemplateVersion(project_id=project.id, number=1, fields=list(fields),
                                created_by_id=project.created_by_id,
                                created_at=clock.now() - timedelta(days=2)))
    session.commit()
    return project


def trainers(count: int) -> list[User]:
    return [UserFactory() for _ in range(count)]


def answered_task(session: Session, project: Project, answers: list[tuple[User, Any]], *,
                  payload: dict[str, Any] | None = None, open_slots: int = 0,
                  **task: Any) -> Task:
    """A task whose every slot was approved with these answers ({field: value} each)."""
    made = TaskFactory(project=project, redundancy=task.pop("redundancy", len(answers)),
                       open_slots=open_slots,
                       payload=payload or {"prompt": "Which accent is this?"}, **task)
    for trainer, answer in answers:
        approve(session, made, trainer, answer)
    return made


def approve(session: Session, task: Task, trainer: User, answer: Any, *,
            state: AssignmentState = AssignmentState.APPROVED,
            gold_correct: bool | None = None, active_seconds: int = 60,
            claimed_at: datetime | None = None) -> Assignment:
    now = clock.now()
    # Each approval a little later than the one before: the job's watermark orders them.
    reviewed = now + timedelta(microseconds=next(_clock))
    claimed = claimed_at or now - timedelta(hours=1)
    assignment = Assignment(
        task_id=task.id, project_id=task.project_id, trainer_id=trainer.id, state=state,
        claimed_at=claimed, revealed_at=claimed, lease_expires_at=claimed + timedelta(hours=2),
        submitted_at=claimed + timedelta(minutes=5), answer=answer,
        active_seconds=active_seconds,
        gold_score=None if gold_correct is None else Decimal(int(gold_correct)),
        reviewed_at=reviewed if state is AssignmentState.APPROVED else None)
    session.add(assignment)
    if state is AssignmentState.APPROVED:
        # What the approving service does in its transaction (``reviews._approve``).
        aggregates.answer_approved(session, task.project_id, task.id, reviewed)
    session.commit()
    return assignment
