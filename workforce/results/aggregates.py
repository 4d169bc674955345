"""The aggregated answer of each task, per template field, and each project's aggregation
settings and watermark (issue 16).

``task_aggregates`` holds one row per task and field: the label (or number, or preferred
side) the project's method concluded from the task's final answers, with its confidence.
The aggregation job (``results.aggregation``) writes it; every reader goes through
:func:`for_tasks`. ``project_aggregations`` holds a project's choices (method per field,
confidence target, maximum redundancy) and what the job last did, so that it recomputes
only projects with new final answers (``answers_seen_at``) or a manager's request
(``requested_at``).

This module stays light (no crowd-kit, no pandas): the models are imported everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workforce.db import Base, IdMixin, json_type

METHODS = ("majority_vote", "dawid_skene", "glad", "mace", "mean_ci", "median_ci",
           "bradley_terry", "noisy_bt")


class TaskAggregate(IdMixin, Base):
    """One task's aggregate for one field. ``value`` is the label (choices), the number
    with its interval ({"mean", "median", "ci_low", "ci_high", "n"}) or the pairwise
    verdict ({"preferred": "A"|"B"|"tie", "probability": p, "scores": {...}});
    ``confidence`` the label's posterior probability (null where the value carries its
    own interval)."""

    __tablename__ = "task_aggregates"
    __table_args__ = (
        UniqueConstraint("task_id", "field"),
        CheckConstraint("answers_count >= 0", name="answers_count_not_negative"),
        CheckConstraint("confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
                        name="confidence_probability"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"))
    # Denormalised from the task: the job and the exports scan one project at a time.
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(32))
    value: Mapped[Any] = mapped_column(json_type())
    confidence: Mapped[float | None] = mapped_column(Float)
    answers_count: Mapped[int]
    template_version: Mapped[int]
    computed_at: Mapped[datetime]


class ProjectAggregation(Base):
    """A project's aggregation settings and the job's watermark for it.

    ``methods`` maps a template field's name to its method (unset fields use their
    kind's default); ``confidence_target`` and ``max_redundancy`` turn on dynamic overlap.
    ``answers_seen_at`` is the latest approval the last computation included;
    ``requested_at`` a manager's request not yet served when it is after
    ``computed_at``. ``summary`` is what the last run found (counts per field, methods).
    """

    __tablename__ = "project_aggregations"
    __table_args__ = (
        CheckConstraint("confidence_target IS NULL OR "
                        "(confidence_target > 0 AND confidence_target <= 1)",
                        name="confidence_target_probability"),
        CheckConstraint("max_redundancy IS NULL OR max_redundancy >= 1",
                        name="max_redundancy_positive"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"),
                                                  primary_key=True)
    methods: Mapped[dict[str, str]] = mapped_column(json_type(), default=dict)
    confidence_target: Mapped[float | None] = mapped_column(Float)
    max_redundancy: Mapped[int | None]
    requested_at: Mapped[datetime | None]
    answers_seen_at: Mapped[datetime | None]
    computed_at: Mapped[datetime | None]
    summary: Mapped[dict[str, Any] | None] = mapped_column(json_type())


@dataclass(frozen=True)
class Aggregate:
    """What readers (results, exports) get for one task and field."""

    field: str
    kind: str
    method: str
    value: Any
    confidence: float | None
    answers_count: int
    computed_at: datetime


def for_tasks(session: Session,
              task_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[str, Aggregate]]:
    """The aggregates of the given tasks: {task id: {field: Aggregate}}; a task without
    any is absent."""
    ids = list(task_ids)
    found: dict[uuid.UUID, dict[str, Aggregate]] = {}
    if not ids:
        return found
    rows = session.scalars(select(TaskAggregate).where(TaskAggregate.task_id.in_(ids))
                           .order_by(TaskAggregate.task_id, TaskAggregate.field))
    for row in rows:
        found.setdefault(row.task_id, {})[row.field] = Aggregate(
            field=row.field, kind=row.kind, method=row.method, value=row.value,
            confidence=row.confidence, answers_count=row.answers_count,
            computed_at=row.computed_at)
    return found
