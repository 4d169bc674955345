"""Projects, staffing, tasks and their assignments, hourly work, and suspensions.

Money columns are integer minor units of the project's ``currency``. Pay rates are
versioned (``ProjectRate``): work is paid at the rate in force when it was done, and
every paid row remembers which rate version that was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from workforce import clock
from workforce.accounts.models import User
from workforce.db import Base, IdMixin, TimestampMixin, json_type, str_enum


class ProjectState(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class PayModel(StrEnum):
    PER_TASK = "per_task"
    HOURLY = "hourly"


class Sensitivity(StrEnum):
    NONE = "none"
    SENSITIVE = "sensitive"
    GRAPHIC = "graphic"


class ContentCategory(StrEnum):
    VIOLENCE = "violence"
    SEXUAL_CONTENT = "sexual_content"
    SELF_HARM = "self_harm"
    HATE = "hate"
    CHILD_SAFETY = "child_safety"
    OTHER = "other"


class ClientKind(StrEnum):
    """Who the work is for, declared to trainers before they apply."""

    AI_LAB = "ai_lab"
    E_COMMERCE = "e_commerce"
    GOVERNMENT = "government"
    ACADEMIC = "academic"
    NON_PROFIT = "non_profit"
    OTHER = "other"


class DataUse(StrEnum):
    """What the trainers' answers will be used for."""

    TRAINING = "training"
    EVALUATION = "evaluation"
    RED_TEAMING = "red_teaming"
    SAFETY = "safety"
    RESEARCH = "research"


class RestrictedUse(StrEnum):
    """Uses a project must say yes or no to, explicitly."""

    MILITARY = "military"
    SURVEILLANCE = "surveillance"
    LAW_ENFORCEMENT = "law_enforcement"


# Every use a trainer may refuse to work on.
REFUSABLE_USES = tuple(u.value for u in DataUse) + tuple(u.value for u in RestrictedUse)


class Project(IdMixin, TimestampMixin, Base):
    """A body of paid work run by one organisation.

    ``pay_model`` decides which columns matter: per-task projects have
    ``estimated_task_seconds``; hourly projects have the caps (minutes of logged work
    per trainer per local day and week) and ``idle_timeout_seconds`` (a work session
    without a heartbeat for that long is closed at its last heartbeat).
    """

    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_organisation_id_state", "organisation_id", "state"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("auto_approve_days >= 1", name="auto_approve_days_positive"),
        CheckConstraint(
            "review_sample_percent BETWEEN 0 AND 100", name="review_sample_percent_range"
        ),
        CheckConstraint("lease_seconds >= 60", name="lease_seconds_minimum"),
        CheckConstraint(
            "pay_model <> 'per_task' OR estimated_task_seconds >= 1",
            name="per_task_has_estimate",
        ),
        CheckConstraint(
            "daily_cap_minutes IS NULL OR daily_cap_minutes BETWEEN 1 AND 1440",
            name="daily_cap_range",
        ),
        CheckConstraint(
            "weekly_cap_minutes IS NULL OR weekly_cap_minutes BETWEEN 1 AND 10080",
            name="weekly_cap_range",
        ),
        CheckConstraint("idle_timeout_seconds >= 60", name="idle_timeout_minimum"),
        CheckConstraint(
            "answer_retention_days IS NULL OR answer_retention_days BETWEEN 1 AND 36500",
            name="answer_retention_days_range",
        ),
        CheckConstraint("budget_amount IS NULL OR budget_amount >= 1",
                        name="budget_amount_positive"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[ProjectState] = mapped_column(
        str_enum(ProjectState), default=ProjectState.DRAFT
    )
    capacity: Mapped[int]
    sensitivity: Mapped[Sensitivity] = mapped_column(
        str_enum(Sensitivity), default=Sensitivity.NONE
    )
    content_categories: Mapped[list[str]] = mapped_column(json_type(), default=list)
    auto_approve_days: Mapped[int] = mapped_column(default=7)
    review_sample_percent: Mapped[int] = mapped_column(default=100)
    lease_seconds: Mapped[int] = mapped_column(default=3600)
    pay_model: Mapped[PayModel] = mapped_column(str_enum(PayModel))
    currency: Mapped[str] = mapped_column(String(3))
    estimated_task_seconds: Mapped[int | None]
    daily_cap_minutes: Mapped[int | None]
    weekly_cap_minutes: Mapped[int | None]
    idle_timeout_seconds: Mapped[int] = mapped_column(default=900)
    # Why the project is paused, and when it is expected to resume (shown to trainers).
    pause_reason: Mapped[str | None] = mapped_column(Text)
    expected_resume_at: Mapped[datetime | None]
    # The effective time of the suspension announced (pending) or in force (suspended,
    # or closed after one); cleared when a pending one is cancelled or the project
    # resumes. Kept here, beside the state, by ``projects.project_states`` alone, so that every
    # rule reads it with the project's row (``state_at``).
    suspension_effective_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    activated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Per-task projects found under-priced by the fair-pay settlement: a trainer's
    # measured week fell under their wage floor and the rate in force does not meet
    # the floor at the measured median time per task. ``suggested_task_rate`` would;
    # all three are cleared once a rate in force meets it (``billing.fair_pay``).
    underpriced_at: Mapped[datetime | None]
    suggested_task_rate: Mapped[int | None]
    measured_median_task_seconds: Mapped[int | None]
    # What the work is for (``projects.declared_use``): required before activation,
    # shown to trainers before they apply. ``restricted_uses`` lists the restricted
    # uses the project allows (the others are declared "no").
    client_kind: Mapped[ClientKind | None] = mapped_column(str_enum(ClientKind))
    data_uses: Mapped[list[str] | None] = mapped_column(json_type())
    restricted_uses: Mapped[list[str] | None] = mapped_column(json_type())
    answer_retention_days: Mapped[int | None]
    # When the declaration last changed after activation: its members may leave
    # without penalty (and are told so) for ``declared_use.LEAVE_WINDOW`` after it.
    declared_use_changed_at: Mapped[datetime | None]
    # An optional budget in the project's currency (minor units), and its state as
    # ``projects.budgets`` last found it: when spent and committed money reached 80% of
    # it (managers were warned; cleared below, so a new crossing warns again) and 100%
    # (claims are refused while set). Read with the project's row, so a claim costs no
    # statement more.
    budget_amount: Mapped[int | None]
    budget_warned_at: Mapped[datetime | None]
    budget_exhausted_at: Mapped[datetime | None]

    requirements: Mapped[list[ProjectRequirement]] = relationship(
        back_populates="project", cascade="all, delete-orphan",
        order_by="ProjectRequirement.created_at",
    )

    # A suspension takes effect at its moment, whatever the scheduler has done: the job
    # that applies it (``states.apply_due_suspensions``) only does the follow-up. Every
    # rule that asks whether a project is open for work, and every answer that shows its
    # state, reads the state through these two, in Python and in SQL.

    def state_at(self, when: datetime) -> ProjectState:
        """The state in force at ``when``: suspended once an announced suspension's
        effective time has passed, even before the job has applied it."""
        if self.state in _SUSPENDABLE and self.work_stopped_at(when) is not None:
            return ProjectState.SUSPENDED
        return self.state

    @classmethod
    def in_state_at(cls, states: Iterable[ProjectState], when: Any) -> ColumnElement[bool]:
        """``state_at(when) in states`` as a SQL condition (``when`` a value or a bound
        parameter)."""
        wanted = set(states)
        passed = and_(cls.suspension_effective_at.is_not(None),
                      cls.suspension_effective_at <= when)
        conditions = []
        if running := sorted(wanted & _SUSPENDABLE):
            conditions.append(and_(cls.state.in_(running), ~passed))
        if ProjectState.SUSPENDED in wanted:
            conditions.append(and_(cls.state.in_(sorted(_SUSPENDABLE)), passed))
        if others := sorted(wanted - _SUSPENDABLE):
            conditions.append(cls.state.in_(others))
        return or_(*conditions)

    @property
    def current_state(self) -> ProjectState:
        """``state_at`` now: what readers are shown."""
        return self.state_at(clock.now())

    def work_stopped_at(self, when: datetime) -> datetime | None:
        """When a suspension in force at ``when`` stopped work on the project (its
        effective time), or ``None``."""
        at = self.suspension_effective_at
        return at if at is not None and at <= when else None


# States a suspension moves a project out of.
_SUSPENDABLE = frozenset({ProjectState.ACTIVE, ProjectState.PAUSED})


class ProjectRequirement(IdMixin, TimestampMixin, Base):
    """A qualification a trainer must hold, with a minimum score (and a locale)."""

    __tablename__ = "project_requirements"
    __table_args__ = (
        UniqueConstraint("project_id", "qualification_id"),
        CheckConstraint("min_score_percent BETWEEN 0 AND 100", name="min_score_range"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    qualification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("qualifications.id"))
    min_score_percent: Mapped[int] = mapped_column(default=0)
    # A BCP 47 tag the trainer must list among their languages, e.g. "yue-HK".
    locale: Mapped[str | None] = mapped_column(String(35))

    project: Mapped[Project] = relationship(back_populates="requirements")


class GuidelineVersion(IdMixin, Base):
    """One edition of a project's guidelines; the highest number is current."""

    __tablename__ = "project_guidelines"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    number: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    change_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class ProjectRate(IdMixin, Base):
    """A pay rate in force from ``effective_from``: per approved task, or per hour.

    ``effective_from`` is kept to the whole second, the precision of session starts and
    time entries, so work started in a rate's first second is paid at it."""

    __tablename__ = "project_rates"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        Index("ix_project_rates_project_id_effective_from", "project_id", "effective_from"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    number: Mapped[int]
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    effective_from: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    @validates("effective_from")
    def _whole_second(self, _key: str, value: datetime) -> datetime:
        return clock.whole_seconds(value)


# --- staffing ------------------------------------------------------------------------


class MembershipState(StrEnum):
    APPLIED = "applied"
    INVITED = "invited"
    ACTIVE = "active"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    REMOVED = "removed"
    LEFT = "left"


OPEN_MEMBERSHIP_STATES = (MembershipState.APPLIED, MembershipState.INVITED, MembershipState.ACTIVE)


class MembershipOrigin(StrEnum):
    APPLICATION = "application"
    INVITATION = "invitation"


class ProjectMember(IdMixin, TimestampMixin, Base):
    """A trainer's application, invitation or membership of a project.

    Rows are history: a trainer who left and comes back gets a new row. At most one
    row per trainer and project is open (applied, invited or active), whatever races.
    """

    __tablename__ = "project_members"
    __table_args__ = (
        Index(
            "uq_project_members_one_open", "project_id", "trainer_id", unique=True,
            sqlite_where=text("state IN ('applied', 'invited', 'active')"),
            postgresql_where=text("state IN ('applied', 'invited', 'active')"),
        ),
        Index("ix_project_members_project_id_state", "project_id", "state"),
        Index("ix_project_members_trainer_id_state", "trainer_id", "state"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    state: Mapped[MembershipState] = mapped_column(str_enum(MembershipState))
    origin: Mapped[MembershipOrigin] = mapped_column(str_enum(MembershipOrigin))
    # The trainer's application note, or the manager's invitation note.
    message: Mapped[str] = mapped_column(Text, default="")
    # Why it was declined or removed (the trainer sees it), or why they left.
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    joined_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship()
    trainer: Mapped[User] = relationship(foreign_keys=[trainer_id])


class WorkPreferences(TimestampMixin, Base):
    """The uses a trainer will not work on: projects declaring one of them are not
    offered to them (``eligibility``), and refusing never counts against them."""

    __tablename__ = "trainer_work_preferences"

    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    refused_uses: Mapped[list[str]] = mapped_column(json_type(), default=list)


# --- tasks ---------------------------------------------------------------------------


class Task(IdMixin, TimestampMixin, Base):
    """A unit of work that ``redundancy`` different trainers must complete.

    ``open_slots`` is how many more trainers may take it now: redundancy less the
    assignments that hold or used a slot (leased, submitted, in revision, approved).
    Claims take a slot with a conditional UPDATE, so it never goes below zero.
    ``gold_answer`` is never shown to trainers. ``sensitivity`` and
    ``content_categories``, when set, override the project's for this one task (a
    single graphic clip in an otherwise ordinary project).
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("project_id", "external_id"),
        CheckConstraint("redundancy >= 1", name="redundancy_positive"),
        CheckConstraint("open_slots >= 0", name="open_slots_not_negative"),
        CheckConstraint("open_slots <= redundancy", name="open_slots_within_redundancy"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(json_type())
    redundancy: Mapped[int] = mapped_column(default=1)
    priority: Mapped[int] = mapped_column(default=0)
    gold_answer: Mapped[Any | None] = mapped_column(json_type())
    open_slots: Mapped[int]
    import_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("task_imports.id"))
    sensitivity: Mapped[Sensitivity | None] = mapped_column(str_enum(Sensitivity))
    content_categories: Mapped[list[str] | None] = mapped_column(json_type())
    # When the task's results last changed: ``results.aggregates.TaskResult``.

    project: Mapped[Project] = relationship()


# Claim next: a project's open tasks in the exact order a claim takes them (highest
# priority, then oldest, then id), so the claim reads the first few index entries instead
# of sorting every open task of the project (revision 0009).
Index(
    "ix_tasks_claimable", Task.project_id, Task.priority.desc(), Task.created_at, Task.id,
    sqlite_where=text("open_slots > 0"), postgresql_where=text("open_slots > 0"),
)
# Open tasks more sensitive than plain work on their own: a claim on a plain project
# asks whether there is any, to skip the trainer's limits when there is not (0010).
SENSITIVE_OPEN = "open_slots > 0 AND sensitivity IN ('sensitive', 'graphic')"
Index(
    "ix_tasks_sensitive_open", Task.project_id,
    sqlite_where=text(SENSITIVE_OPEN), postgresql_where=text(SENSITIVE_OPEN),
)


class TaskImport(IdMixin, Base):
    """The record of one bulk import: who, what format, and the counts it reported."""

    __tablename__ = "task_imports"

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), index=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    format: Mapped[str] = mapped_column(String(10))
    rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    invalid: Mapped[int] = mapped_column(default=0)


class AssignmentState(StrEnum):
    LEASED = "leased"
    SUBMITTED = "submitted"
    REVISION_REQUESTED = "revision_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    RELEASED = "released"
    EXPIRED = "expired"


# States in which an assignment holds (or has used) one of its task's slots.
SLOT_STATES = (
    AssignmentState.LEASED,
    AssignmentState.SUBMITTED,
    AssignmentState.REVISION_REQUESTED,
    AssignmentState.APPROVED,
)


class RejectionCategory(StrEnum):
    INCORRECT = "incorrect"
    INCOMPLETE = "incomplete"
    GUIDELINES_NOT_FOLLOWED = "guidelines_not_followed"
    LOW_EFFORT = "low_effort"
    OTHER = "other"


class Assignment(IdMixin, TimestampMixin, Base):
    """One trainer's claim of one task: the lease, the answer, and its review.

    A trainer gets a task at most once (unique key), whatever races. ``revealed_at`` is
    when the task's content was first shown: at the claim for work without a content
    warning, at the trainer's reveal for sensitive and graphic work (null until then;
    exposure counts from it, and nothing is submitted before it).
    """

    __tablename__ = "task_assignments"
    __table_args__ = (
        UniqueConstraint("task_id", "trainer_id"),
        Index("ix_task_assignments_state_lease_expires_at", "state", "lease_expires_at"),
        Index("ix_task_assignments_project_id_state", "project_id", "state"),
        Index("ix_task_assignments_trainer_id_state", "trainer_id", "state"),
        Index("ix_task_assignments_state_submitted_at", "state", "submitted_at"),
        CheckConstraint("active_seconds IS NULL OR active_seconds >= 0",
                        name="active_seconds_not_negative"),
        CheckConstraint("submitted_at IS NULL OR revealed_at IS NOT NULL",
                        name="submitted_after_reveal"),
        CheckConstraint("gold_score IS NULL OR (gold_score >= 0 AND gold_score <= 1)",
                        name="gold_score_within_0_1"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    state: Mapped[AssignmentState] = mapped_column(
        str_enum(AssignmentState), default=AssignmentState.LEASED
    )
    claimed_at: Mapped[datetime]
    revealed_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    answer: Mapped[Any | None] = mapped_column(json_type())
    active_seconds: Mapped[int | None]
    # Fixed at the first submission: the higher of the rates in force at the claim and
    # then (``access.task_pay_rate``), what an approval pays.
    rate_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("project_rates.id"))
    # False: not sampled for review, approved on submission.
    sampled: Mapped[bool | None]
    # A gold task's score, 0 to 1 (``results.gold``): the mean of the fields scored, or
    # 1/0 for a project without a template. Null: no gold answer, or nothing in it that
    # is scored automatically (text, rubric).
    gold_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    # Per field: {name: "0.5000", or null for a field a person judges}.
    gold_scores: Mapped[dict[str, str | None] | None] = mapped_column(json_type())
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    auto_approved: Mapped[bool] = mapped_column(default=False)
    rejection_category: Mapped[RejectionCategory | None] = mapped_column(
        str_enum(RejectionCategory)
    )
    review_message: Mapped[str | None] = mapped_column(Text)
    revisions: Mapped[int] = mapped_column(default=0)
    # When the trainer had the recordings in the answer deleted (``uploads.retention``):
    # the answer stands withdrawn; what it earned stays earned.
    answer_withdrawn_at: Mapped[datetime | None]

    task: Mapped[Task] = relationship()
    project: Mapped[Project] = relationship()

    @property
    def gold_correct(self) -> bool | None:
        """Every scored field of a gold task right; ``None`` when nothing was scored."""
        return None if self.gold_score is None else self.gold_score == 1


class AppealState(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    OVERTURNED = "overturned"


class Appeal(IdMixin, TimestampMixin, Base):
    """A trainer's one appeal against a rejection (unique per assignment)."""

    __tablename__ = "task_appeals"
    __table_args__ = (Index("ix_task_appeals_project_id_state", "project_id", "state"),)

    assignment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("task_assignments.id"), unique=True
    )
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    message: Mapped[str] = mapped_column(Text)
    state: Mapped[AppealState] = mapped_column(str_enum(AppealState), default=AppealState.OPEN)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]

    assignment: Mapped[Assignment] = relationship()


# --- hourly work ---------------------------------------------------------------------


class EntrySource(StrEnum):
    SESSION = "session"
    MANUAL = "manual"


class EntryEndReason(StrEnum):
    STOPPED = "stopped"
    IDLE = "idle"
    CAP = "cap"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    LEFT = "left"
    # Closed when a wellbeing exposure limit was reached (``wellbeing.limits``).
    EXPOSURE_LIMIT = "exposure_limit"


class TimeEntry(IdMixin, TimestampMixin, Base):
    """Logged work on an hourly project: a work session (open while ``ended_at`` is
    null) or a manual entry with a note. A trainer's entries never overlap, across all
    projects; each belongs to the timesheet of the local week it started in."""

    __tablename__ = "time_entries"
    __table_args__ = (
        Index("ix_time_entries_trainer_id_started_at", "trainer_id", "started_at"),
        Index("ix_time_entries_project_id_started_at", "project_id", "started_at"),
        # One running session per trainer, whatever races.
        Index(
            "uq_time_entries_one_running", "trainer_id", unique=True,
            sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL"),
        ),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    timesheet_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("timesheets.id"), index=True)
    source: Mapped[EntrySource] = mapped_column(str_enum(EntrySource))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    end_reason: Mapped[EntryEndReason | None] = mapped_column(str_enum(EntryEndReason))
    note: Mapped[str] = mapped_column(Text, default="")
    # The rate in force when the entry started.
    rate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project_rates.id"))

    @property
    def seconds(self) -> int | None:
        if self.ended_at is None:
            return None
        return int((self.ended_at - self.started_at).total_seconds())


class TimesheetState(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    APPROVED = "approved"


class Timesheet(IdMixin, TimestampMixin, Base):
    """A trainer's week (Monday, in their time zone) of entries on one project."""

    __tablename__ = "timesheets"
    __table_args__ = (
        UniqueConstraint("project_id", "trainer_id", "week_start"),
        Index("ix_timesheets_state_submitted_at", "state", "submitted_at"),
        CheckConstraint("approved_seconds IS NULL OR approved_seconds >= 0",
                        name="approved_seconds_not_negative"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    week_start: Mapped[date] = mapped_column(Date)
    state: Mapped[TimesheetState] = mapped_column(
        str_enum(TimesheetState), default=TimesheetState.OPEN
    )
    submitted_at: Mapped[datetime | None]
    logged_seconds: Mapped[int | None]
    approved_seconds: Mapped[int | None]
    # Set when a manager approved fewer seconds than logged; the trainer sees it.
    adjustment_reason: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3))
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    auto_approved: Mapped[bool] = mapped_column(default=False)

    project: Mapped[Project] = relationship()


# --- pause and suspension ------------------------------------------------------------


class Suspension(IdMixin, TimestampMixin, Base):
    """A suspension announced with a reason and an effective time.

    ``notice_days`` is the organisation's notice period when announced; notice given
    short of it owes every active trainer a kill fee (``KillFee``).
    """

    __tablename__ = "project_suspensions"
    __table_args__ = (Index("ix_project_suspensions_effective_at", "applied_at", "effective_at"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    announced_at: Mapped[datetime]
    effective_at: Mapped[datetime]
    notice_days: Mapped[int]
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    # When the scheduler (or the announcement, if effective at once) applied it.
    applied_at: Mapped[datetime | None]
    # A suspension cancelled before it took effect (the project resumed).
    cancelled_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship()
    kill_fees: Mapped[list[KillFee]] = relationship(back_populates="suspension")


class KillFee(IdMixin, Base):
    """What one trainer is owed for notice missed: average daily earnings on the project
    over the 14 days before the announcement, times the days of notice missed."""

    __tablename__ = "project_kill_fees"
    __table_args__ = (
        UniqueConstraint("suspension_id", "trainer_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    suspension_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project_suspensions.id"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    average_daily_amount: Mapped[int]
    days_missed: Mapped[int]
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]

    suspension: Mapped[Suspension] = relationship(back_populates="kill_fees")
