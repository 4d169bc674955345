from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workforce.db import Base, IdMixin, TimestampMixin, json_type, str_enum


class Qualification(IdMixin, TimestampMixin, Base):
    """A named skill an organisation relies on when staffing."""

    __tablename__ = "qualifications"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str | None] = mapped_column(String(35))
    validity_days: Mapped[int | None]


class QualificationStatus(StrEnum):
    GRANTED = "granted"
    FAILED = "failed"
    REVOKED = "revoked"


class QualificationSource(StrEnum):
    ATTEMPT = "attempt"
    MANUAL = "manual"


class TrainerQualification(IdMixin, TimestampMixin, Base):
    """A trainer's standing in one qualification: the latest decision, with its source."""

    __tablename__ = "trainer_qualifications"
    __table_args__ = (UniqueConstraint("qualification_id", "trainer_id"),)

    qualification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("qualifications.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[QualificationStatus] = mapped_column(str_enum(QualificationStatus))
    score_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    granted_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    source: Mapped[QualificationSource] = mapped_column(str_enum(QualificationSource))
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("attempts.id"))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)

    qualification: Mapped[Qualification] = relationship()


# Answered questions an attempt needs for its stipend unless the version says more.
STIPEND_MIN_ANSWERS = 1


class AssessmentState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Assessment(IdMixin, TimestampMixin, Base):
    """An onboarding test; its content lives in numbered versions."""

    __tablename__ = "assessments"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    qualification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("qualifications.id"))
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[AssessmentState] = mapped_column(
        str_enum(AssessmentState), default=AssessmentState.DRAFT
    )

    qualification: Mapped[Qualification] = relationship()
    versions: Mapped[list[AssessmentVersion]] = relationship(
        back_populates="assessment", order_by="AssessmentVersion.number"
    )


class AssessmentVersion(IdMixin, TimestampMixin, Base):
    """One frozen edition of an assessment once published; attempts point at it."""

    __tablename__ = "assessment_versions"
    __table_args__ = (
        UniqueConstraint("assessment_id", "number"),
        CheckConstraint("pass_mark_percent BETWEEN 1 AND 100", name="pass_mark_range"),
        CheckConstraint("stipend_amount >= 0", name="stipend_not_negative"),
        CheckConstraint(
            "stipend_amount = 0 OR stipend_currency IS NOT NULL", name="stipend_has_currency"
        ),
        CheckConstraint("questions_per_attempt >= 1", name="draws_a_question"),
        CheckConstraint("stipend_min_answers >= 1", name="stipend_needs_an_answer"),
    )

    assessment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessments.id"))
    number: Mapped[int]
    instructions: Mapped[str] = mapped_column(Text, default="")
    time_limit_seconds: Mapped[int]
    pass_mark_percent: Mapped[int]
    max_attempts: Mapped[int]
    cooldown_seconds: Mapped[int] = mapped_column(default=0)
    expected_duration_seconds: Mapped[int]
    stipend_amount: Mapped[int] = mapped_column(default=0)
    stipend_currency: Mapped[str | None] = mapped_column(String(3))
    # Questions an attempt must answer to earn the stipend: a blank attempt never does.
    stipend_min_answers: Mapped[int] = mapped_column(default=STIPEND_MIN_ANSWERS)
    show_feedback: Mapped[bool] = mapped_column(default=False)
    questions_per_attempt: Mapped[int]
    double_grading: Mapped[bool] = mapped_column(default=False)
    grading_margin_percent: Mapped[int] = mapped_column(default=10)
    published_at: Mapped[datetime | None]

    assessment: Mapped[Assessment] = relationship(back_populates="versions")
    questions: Mapped[list[Question]] = relationship(
        back_populates="version", order_by="Question.position"
    )


class QuestionKind(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    SHORT_ANSWER = "short_answer"
    FREE_TEXT = "free_text"


class PartialCredit(StrEnum):
    """How a multiple-choice answer scores: all or nothing, or in proportion to the
    correct options chosen less the wrong ones chosen (never below zero)."""

    ALL_OR_NOTHING = "all_or_nothing"
    PROPORTIONAL = "proportional"


class MediaKind(StrEnum):
    AUDIO = "audio"
    IMAGE = "image"


class Question(IdMixin, TimestampMixin, Base):
    """A question in a version's pool.

    ``options`` is ``[{"id", "text"}]``; ``answer_key`` holds what is never served
    to trainers (correct option ids, accepted answers); ``rubric`` is the free-text
    criteria ``[{"id", "name", "max_points", "levels": [{"points", "descriptor"}]}]``.
    """

    __tablename__ = "questions"
    __table_args__ = (
        # A draft's copy of a question is found by its position.
        UniqueConstraint("version_id", "position"),
        CheckConstraint("points >= 0", name="points_not_negative"),
    )

    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessment_versions.id"), index=True)
    position: Mapped[int]
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind))
    prompt: Mapped[str] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(String(2048))
    media_kind: Mapped[MediaKind | None] = mapped_column(str_enum(MediaKind))
    options: Mapped[list[dict[str, Any]]] = mapped_column(json_type(), default=list)
    answer_key: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    partial_credit: Mapped[PartialCredit] = mapped_column(
        str_enum(PartialCredit), default=PartialCredit.ALL_OR_NOTHING
    )
    points: Mapped[int] = mapped_column(default=1)
    rubric: Mapped[list[dict[str, Any]]] = mapped_column(json_type(), default=list)
    feedback: Mapped[str] = mapped_column(Text, default="")

    version: Mapped[AssessmentVersion] = relationship(back_populates="questions")

    @property
    def max_points(self) -> int:
        if self.kind is QuestionKind.FREE_TEXT:
            return sum(int(c["max_points"]) for c in self.rubric)
        return self.points


class AttemptState(StrEnum):
    OPEN = "open"
    AWAITING_GRADING = "awaiting_grading"
    GRADED = "graded"


class CloseReason(StrEnum):
    SUBMITTED = "submitted"
    TIME_LIMIT = "time_limit"


class Attempt(IdMixin, TimestampMixin, Base):
    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_assessment_id_trainer_id", "assessment_id", "trainer_id"),
        # At most one open attempt per trainer and assessment, whatever races.
        Index(
            "uq_attempts_one_open",
            "assessment_id",
            "trainer_id",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        Index("ix_attempts_state_deadline_at", "state", "deadline_at"),
        Index("ix_attempts_organisation_id_state", "organisation_id", "state"),
    )

    assessment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessments.id"))
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessment_versions.id"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    number: Mapped[int]
    state: Mapped[AttemptState] = mapped_column(str_enum(AttemptState), default=AttemptState.OPEN)
    question_ids: Mapped[list[str]] = mapped_column(json_type())
    started_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[CloseReason | None] = mapped_column(str_enum(CloseReason))
    auto_points: Mapped[int | None]
    rubric_points: Mapped[int | None]
    max_points: Mapped[int]
    score_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    passed: Mapped[bool | None]
    graded_at: Mapped[datetime | None]

    version: Mapped[AssessmentVersion] = relationship()
    assessment: Mapped[Assessment] = relationship()
    answers: Mapped[list[AttemptAnswer]] = relationship(back_populates="attempt")


class AttemptAnswer(IdMixin, Base):
    __tablename__ = "attempt_answers"
    __table_args__ = (UniqueConstraint("attempt_id", "question_id"),)

    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempts.id"))
    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("questions.id"))
    response: Mapped[dict[str, Any]] = mapped_column(json_type())
    saved_at: Mapped[datetime]
    points: Mapped[int | None]

    attempt: Mapped[Attempt] = relationship(back_populates="answers")


class GradingState(StrEnum):
    CLAIMED = "claimed"
    SUBMITTED = "submitted"


class Grading(IdMixin, TimestampMixin, Base):
    """One grader's scoring of an attempt's free-text answers (round 3 adjudicates)."""

    __tablename__ = "gradings"
    __table_args__ = (
        UniqueConstraint("attempt_id", "grader_id"),
        UniqueConstraint("attempt_id", "round"),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempts.id"), index=True)
    grader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    round: Mapped[int]
    state: Mapped[GradingState] = mapped_column(
        str_enum(GradingState), default=GradingState.CLAIMED
    )
    claimed_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    total_points: Mapped[int | None]

    attempt: Mapped[Attempt] = relationship()
    scores: Mapped[list[CriterionScore]] = relationship(back_populates="grading")


class CriterionScore(IdMixin, Base):
    __tablename__ = "criterion_scores"
    __table_args__ = (
        UniqueConstraint("grading_id", "question_id", "criterion_id"),
        CheckConstraint("points >= 0", name="points_not_negative"),
    )

    grading_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gradings.id"))
    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("questions.id"))
    criterion_id: Mapped[str] = mapped_column(String(64))
    points: Mapped[int]
    justification: Mapped[str] = mapped_column(Text)

    grading: Mapped[Grading] = relationship(back_populates="scores")
