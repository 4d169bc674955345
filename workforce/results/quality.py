"""Each trainer's quality on one project (issue 16): gold accuracy with its Wilson
interval, agreement with the aggregate, the aggregation model's skill estimate and the
median active time per task. Trainers read their own (``GET /me/quality``), managers
everyone's on their projects (``GET /projects/{id}/quality``).

How each figure is computed is stated in ``DEFINITIONS``, which the API returns with
the figures, so a trainer can check what is said about them.
"""

from __future__ import annotations

import math
import statistics
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce.accounts.models import User
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access
from workforce.projects.models import Assignment, AssignmentState, Project
from workforce.projects.reviews import GoldTally, with_flagged
from workforce.results.aggregates import ProjectAggregation, TaskAggregate
from workforce.results.methods import SKILL_MEANING
from workforce.wellbeing import filters as wellbeing_filters

Z95 = 1.959963984540054
CHOICE_KINDS = ("single_choice", "multi_choice")
DONE = (AssignmentState.SUBMITTED, AssignmentState.REVISION_REQUESTED,
        AssignmentState.APPROVED, AssignmentState.REJECTED)
DEFINITIONS = {
    "gold_accuracy": "Gold tasks answered correctly over gold tasks scored on this project "
                     "(a wrong answer to a task you flagged is not scored), with the 95% "
                     "Wilson score interval (gold_low, gold_high), which stays honest for "
                     "few tasks.",
    "agreement": "Of your approved answers to choice fields of tasks that have an aggregate, "
                 "the share equal to the aggregated label.",
    "skill": "The aggregation model's estimate of you, from the project's last "
             "aggregation, per field: " + "; ".join(f"{m}: {text}" for m, text in
                                                    SKILL_MEANING.items()) + ".",
    "median_active_seconds": "The median of the active seconds recorded with your "
                             "submissions on this project (submitted, approved, rejected "
                             "or sent back for revision).",
}


def wilson(correct: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (None without trials)."""
    if not total:
        return None
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) \
        / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class ProjectQuality:
    project_id: uuid.UUID
    project_name: str
    trainer_id: uuid.UUID
    gold_scored: int
    gold_correct: int
    gold_accuracy: float | None
    gold_low: float | None
    gold_high: float | None
    agreement_compared: int
    agreement: float | None
    skills: list[dict[str, Any]]
    median_active_seconds: float | None


def _gold(session: Session, project_id: uuid.UUID, trainer_id: uuid.UUID) -> tuple[int, int]:
    """Gold tasks scored and those right in every field scored (a score of 1), so the
    accuracy is a proportion and its Wilson interval applies. As in the quality score,
    work the trainer flagged never lowers it (``reviews.with_flagged``)."""
    rows = session.execute(select(Assignment.gold_score, wellbeing_filters.flagged(
        Assignment.id)).where(
        Assignment.project_id == project_id, Assignment.trainer_id == trainer_id,
        Assignment.gold_score.is_not(None))).all()
    tally = GoldTally()
    for score, flagged in rows:
        if not flagged:
            tally = tally.add(Decimal(str(score)))
    tally = with_flagged(tally, [Decimal(str(score)) for score, flagged in rows if flagged])
    return tally.scored, tally.correct


def _agreement(session: Session, project_id: uuid.UUID,
               trainer_id: uuid.UUID) -> tuple[int, int]:
    rows = session.execute(
        select(Assignment.answer, TaskAggregate.field, TaskAggregate.kind,
               TaskAggregate.value)
        .join(TaskAggregate, TaskAggregate.task_id == Assignment.task_id)
        .where(Assignment.project_id == project_id, Assignment.trainer_id == trainer_id,
               Assignment.state == AssignmentState.APPROVED,
               TaskAggregate.kind.in_(CHOICE_KINDS)))
    compared = equal = 0
    for answer, name, kind, value in rows:
        same = agrees(answer, name, kind, value)
        if same is not None:
            compared += 1
            equal += same
    return compared, equal


def agrees(answer: Any, name: str, kind: str, value: str) -> bool | None:
    """Whether the answer's field ``name`` equals the aggregated label ``value`` (None
    when the answer has no such field)."""
    given = answer.get(name) if isinstance(answer, dict) else None
    if given is None:
        return None
    label = ",".join(sorted(given)) if kind == "multi_choice" else str(given)
    return label == value


def _median_seconds(session: Session, project_id: uuid.UUID,
                    trainer_id: uuid.UUID) -> float | None:
    values = list(session.scalars(select(Assignment.active_seconds).where(
        Assignment.project_id == project_id, Assignment.trainer_id == trainer_id,
        Assignment.state.in_(DONE), Assignment.active_seconds.is_not(None))))
    return float(statistics.median(values)) if values else None


def _skills(row: ProjectAggregation | None, trainer_id: uuid.UUID) -> list[dict[str, Any]]:
    summary = (row.summary or {}) if row else {}
    fields = summary.get("fields", {})
    found = []
    for name, by_worker in sorted(summary.get("skills", {}).items()):
        skill = by_worker.get(str(trainer_id))
        if skill is not None:
            method = fields.get(name, {}).get("method")
            found.append({"field": name, "method": method, "skill": skill})
    return found


def _quality(session: Session, project: Project, trainer_id: uuid.UUID) -> ProjectQuality:
    scored, correct = _gold(session, project.id, trainer_id)
    interval = wilson(correct, scored)
    compared, equal = _agreement(session, project.id, trainer_id)
    return ProjectQuality(
        project_id=project.id, project_name=project.name, trainer_id=trainer_id,
        gold_scored=scored, gold_correct=correct,
        gold_accuracy=correct / scored if scored else None,
        gold_low=interval[0] if interval else None, gold_high=interval[1] if interval else None,
        agreement_compared=compared, agreement=equal / compared if compared else None,
        skills=_skills(session.get(ProjectAggregation, project.id), trainer_id),
        median_active_seconds=_median_seconds(session, project.id, trainer_id))


def my_quality(session: Session, trainer: User) -> list[ProjectQuality]:
    """The caller's figures on every project they have submitted work to, by name."""
    projects = session.scalars(
        select(Project).where(Project.id.in_(
            select(Assignment.project_id).where(Assignment.trainer_id == trainer.id,
                                                Assignment.state.in_(DONE))))
        .order_by(Project.name, Project.id))
    return [_quality(session, project, trainer.id) for project in projects]


def project_quality(session: Session, staff: User, project_id: uuid.UUID,
                    page: PageRequest) -> Page[ProjectQuality]:
    """Every trainer who has submitted work to the project, by trainer id."""
    project = access.get_project(session, staff, project_id)
    worked = select(Assignment.trainer_id).where(Assignment.project_id == project.id,
                                                 Assignment.state.in_(DONE))
    found = paginate(session, select(User.id).where(User.id.in_(worked)), page,
                     order=(User.id,))
    return Page(items=_each(session, project, found.items), next_cursor=found.next_cursor)


def _each(session: Session, project: Project,
          trainer_ids: Iterable[uuid.UUID]) -> list[ProjectQuality]:
    return [_quality(session, project, trainer_id) for trainer_id in trainer_ids]
