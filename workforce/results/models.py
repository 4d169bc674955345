"""The task template of a project (its versions, each a list of typed answer fields),
and the project's quality-control rules with the restrictions they set."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Text,
    UniqueConstraint,
    and_,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from workforce import clock
from workforce.db import Base, IdMixin, TimestampMixin, json_type, str_enum


class TemplateVersion(IdMixin, Base):
    """One edition of a project's task template; the highest number is current. Work is
    checked and shown with the version in force when it was claimed."""

    __tablename__ = "project_templates"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    number: Mapped[int]
    # The fields as checked on save (``results.fields``), with their defaults filled in.
    fields: Mapped[list[dict[str, Any]]] = mapped_column(json_type())
    change_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


# --- quality-control rules (``results.quality_rules``) ------------------------------------


class RuleKind(StrEnum):
    """What a rule measures over a trainer's last ``sample_size`` samples."""

    GOLD_ACCURACY = "gold_accuracy"  # right gold answers below min_percent
    FAST_SUBMISSIONS = "fast_submissions"  # more than max_fast under min_seconds
    AGREEMENT = "agreement"  # fields equal to the aggregate below min_percent


class QualityRule(IdMixin, TimestampMixin, Base):
    """A project's quality-control rule: which figure, over how many recent samples, and
    how long a trainer it catches is kept from claiming (None: until a manager decides)."""

    __tablename__ = "quality_rules"
    __table_args__ = (
        Index("ix_quality_rules_project_id", "project_id"),
        CheckConstraint("sample_size BETWEEN 1 AND 1000", name="sample_size_range"),
        CheckConstraint("min_percent IS NULL OR min_percent BETWEEN 1 AND 100",
                        name="min_percent_range"),
        CheckConstraint("max_fast IS NULL OR (max_fast >= 0 AND max_fast < sample_size)",
                        name="max_fast_range"),
        CheckConstraint("min_seconds IS NULL OR min_seconds BETWEEN 1 AND 86400",
                        name="min_seconds_range"),
        CheckConstraint("duration_hours IS NULL OR duration_hours BETWEEN 1 AND 8760",
                        name="duration_hours_range"),
        CheckConstraint(
            "(kind = 'fast_submissions' AND max_fast IS NOT NULL AND min_seconds IS NOT NULL"
            " AND min_percent IS NULL) OR (kind <> 'fast_submissions' AND min_percent IS NOT"
            " NULL AND max_fast IS NULL AND min_seconds IS NULL)", name="figures_of_kind"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    kind: Mapped[RuleKind] = mapped_column(str_enum(RuleKind))
    sample_size: Mapped[int]
    min_percent: Mapped[int | None]
    max_fast: Mapped[int | None]
    min_seconds: Mapped[int | None]
    duration_hours: Mapped[int | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))


class RestrictionState(StrEnum):
    RESTRICTED = "restricted"  # as the rule set it
    APPEALED = "appealed"  # the trainer asked for a review; a manager decides
    CONFIRMED = "confirmed"  # a manager kept it as it is
    SHORTENED = "shortened"  # a manager set an earlier end
    LIFTED = "lifted"  # a manager ended it


class QualityRestriction(IdMixin, TimestampMixin, Base):
    """A trainer kept from claiming on a project by a rule, with the figures that caught
    them. In force while not closed and before ``ends_at`` (decided at read time).
    ``closed_at`` is set when a manager lifts it, or when the rule catches the trainer
    again after it ran out: at most one open restriction per rule and trainer (a partial
    unique key), whatever concurrent submissions do."""

    __tablename__ = "quality_restrictions"
    __table_args__ = (
        Index("uq_quality_restrictions_one_open", "rule_id", "trainer_id", unique=True,
              sqlite_where=text("closed_at IS NULL"),
              postgresql_where=text("closed_at IS NULL")),
        Index("ix_quality_restrictions_trainer_id_project_id", "trainer_id", "project_id"),
        Index("ix_quality_restrictions_project_id_created_at", "project_id", "created_at"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
    )

    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quality_rules.id"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    state: Mapped[RestrictionState] = mapped_column(str_enum(RestrictionState))
    # The rule as it was and the figures that caught the trainer (``quality_rules.Figures``).
    figures: Mapped[dict[str, Any]] = mapped_column(json_type())
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    appeal: Mapped[str | None] = mapped_column(Text)
    appealed_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    def in_force_at(self, when: datetime) -> bool:
        return self.closed_at is None and (
            self.ends_at is None or clock.as_utc(self.ends_at) > clock.as_utc(when))

    @property
    def in_force_now(self) -> bool:
        return self.in_force_at(clock.now())

    @classmethod
    def in_force(cls, when: object) -> ColumnElement[bool]:
        """``in_force_at(when)`` as a SQL condition."""
        return and_(cls.closed_at.is_(None), or_(cls.ends_at.is_(None), cls.ends_at > when))
