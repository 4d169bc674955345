"""Flags on disturbing content, support cases and check-ins.

- ``ContentFlag``: a trainer's flag on a task they hold or held (one per assignment). A
  high-severity flag hides the task from every other trainer until staff triage it.
- ``SupportCase``: "I need support" (on a flag or a check-in) or a low check-in score,
  for the organisation's wellbeing contact (else its admins). ``SupportCaseNote``: the
  handlers' notes, and messages between them and the trainer.
- ``CheckIn``: mood 1 to 5, a private note, a support request. ``CheckInPrompt``: the
  one notification that a check-in is due, once per trainer and period between
  check-ins (a unique key, so two schedulers never send it twice).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workforce.db import Base, IdMixin, TimestampMixin, str_enum
from workforce.projects.models import Assignment, ContentCategory, Project, Task


class FlagSeverity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class FlagState(StrEnum):
    OPEN = "open"
    ESCALATED = "escalated"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


# Flags still waiting for a decision; a high-severity one hides its task meanwhile.
UNTRIAGED = (FlagState.OPEN, FlagState.ESCALATED)


class RaiseScope(StrEnum):
    """What a confirmed flag relabels: nothing, the one task, or the whole project."""

    NONE = "none"
    TASK = "task"
    PROJECT = "project"


class ContentFlag(IdMixin, TimestampMixin, Base):
    __tablename__ = "content_flags"
    __table_args__ = (
        Index("ix_content_flags_organisation_id_state", "organisation_id", "state"),
        Index("ix_content_flags_task_id_state", "task_id", "state"),
        Index("ix_content_flags_project_id_created_at", "project_id", "created_at"),
        Index("ix_content_flags_trainer_id_created_at", "trainer_id", "created_at"),
        CheckConstraint("paid_seconds IS NULL OR paid_seconds >= 0",
                        name="paid_seconds_not_negative"),
    )

    # One flag per assignment: a trainer flags a task they had once.
    assignment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("task_assignments.id"), unique=True
    )
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    category: Mapped[ContentCategory] = mapped_column(str_enum(ContentCategory))
    severity: Mapped[FlagSeverity] = mapped_column(str_enum(FlagSeverity))
    # What the trainer saw, in their words; the triage queue shows it (not who wrote it).
    note: Mapped[str] = mapped_column(Text, default="")
    need_support: Mapped[bool] = mapped_column(default=False)
    # The trainer gave the task back with the flag (their lease was released).
    returned: Mapped[bool] = mapped_column(default=False)
    state: Mapped[FlagState] = mapped_column(str_enum(FlagState), default=FlagState.OPEN)
    # Seconds paid as flagged work (claim to flag or return, within the lease, up to
    # ``flags.FLAG_PAY_FACTOR`` estimated task times); fair pay counts them as time. Null
    # when nothing extra was owed (hourly projects, work already approved).
    paid_seconds: Mapped[int | None]
    triaged_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    triaged_at: Mapped[datetime | None]
    # The confirmation note or the reason for dismissal (the trainer sees it).
    resolution: Mapped[str | None] = mapped_column(Text)
    raised_scope: Mapped[RaiseScope | None] = mapped_column(str_enum(RaiseScope))
    escalated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    escalated_at: Mapped[datetime | None]
    escalation_note: Mapped[str | None] = mapped_column(Text)

    assignment: Mapped[Assignment] = relationship()
    task: Mapped[Task] = relationship()
    project: Mapped[Project] = relationship()


class CaseState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class CaseOrigin(StrEnum):
    FLAG = "flag"
    CHECK_IN = "check_in"


class SupportCase(IdMixin, TimestampMixin, Base):
    """A trainer's call for support (or a low check-in score) for one organisation's
    wellbeing contact. ``requested`` says the trainer asked: only then do the handlers
    see the trainer's own words (``message``)."""

    __tablename__ = "support_cases"
    __table_args__ = (
        Index("ix_support_cases_organisation_id_state", "organisation_id", "state"),
        Index("ix_support_cases_trainer_id_created_at", "trainer_id", "created_at"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    origin: Mapped[CaseOrigin] = mapped_column(str_enum(CaseOrigin))
    # At most one case per flag and per check-in, whatever retries.
    flag_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("content_flags.id"), unique=True
    )
    check_in_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("check_ins.id"), unique=True
    )
    requested: Mapped[bool]
    # Why the case was opened, for the handlers, without private words.
    reason: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[CaseState] = mapped_column(str_enum(CaseState), default=CaseState.OPEN)
    # The wellbeing contact when the case was opened (null: the organisation's admins).
    contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None]
    closed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]

    notes: Mapped[list[SupportCaseNote]] = relationship(
        back_populates="case", order_by="SupportCaseNote.created_at"
    )


class SupportCaseNote(IdMixin, Base):
    """A note on a case: a handler's (internal unless shared with the trainer) or the
    trainer's own (always seen by the handlers: the trainer wrote to them)."""

    __tablename__ = "support_case_notes"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("support_cases.id"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    by_trainer: Mapped[bool]
    body: Mapped[str] = mapped_column(Text)
    shared_with_trainer: Mapped[bool]
    created_at: Mapped[datetime]

    case: Mapped[SupportCase] = relationship(back_populates="notes")


class CheckIn(IdMixin, Base):
    """How a trainer feels, addressed to an organisation they did sensitive work for.
    ``project_id`` is that organisation's project they last did sensitive work on (for
    the per-project aggregates). The note is private unless ``share_note``."""

    __tablename__ = "check_ins"
    __table_args__ = (
        Index("ix_check_ins_trainer_id_created_at", "trainer_id", "created_at"),
        Index("ix_check_ins_project_id_created_at", "project_id", "created_at"),
        CheckConstraint("mood BETWEEN 1 AND 5", name="mood_range"),
        CheckConstraint("exposure_seconds >= 0", name="exposure_not_negative"),
    )

    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id"))
    mood: Mapped[int]
    note: Mapped[str] = mapped_column(Text, default="")
    share_note: Mapped[bool] = mapped_column(default=False)
    need_support: Mapped[bool] = mapped_column(default=False)
    # Exposure since the previous check-in (within the look-back), for context.
    exposure_seconds: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class CheckInPrompt(IdMixin, Base):
    """The notification that a check-in is due, sent once per period: ``period`` is
    the id of the check-in the period follows, or ``first``."""

    __tablename__ = "check_in_prompts"
    __table_args__ = (UniqueConstraint("trainer_id", "period"),)

    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    period: Mapped[str] = mapped_column(String(36))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    exposure_seconds: Mapped[int]
    created_at: Mapped[datetime]
