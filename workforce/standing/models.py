"""Account actions: an organisation restricts or deactivates a trainer's account with
it, with due process (``standing.services``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ColumnElement, ForeignKey, Index, Text, and_, or_
from sqlalchemy.orm import Mapped, mapped_column

from workforce import clock
from workforce.db import Base, IdMixin, TimestampMixin, str_enum


class ActionKind(StrEnum):
    RESTRICT = "restrict"  # no new claims, applications or memberships in the organisation
    DEACTIVATE = "deactivate"  # no work at all in the organisation


class ActionReason(StrEnum):
    QUALITY = "quality"
    POLICY_BREACH = "policy_breach"
    INACTIVITY = "inactivity"
    FRAUD = "fraud"
    SAFETY = "safety"
    OTHER = "other"


# Reasons that act at once, without notice (and say so); the trainer may still respond.
IMMEDIATE_REASONS = frozenset({ActionReason.FRAUD, ActionReason.SAFETY})


class ActionState(StrEnum):
    NOTICE = "notice"  # announced; the trainer may respond until ``respond_by``
    RESPONDED = "responded"  # the trainer responded; a staff member decides
    UPHELD = "upheld"  # the response was decided against the trainer; appealable once
    WITHDRAWN = "withdrawn"  # the response was decided for the trainer: no effect
    APPEALED = "appealed"  # the trainer appealed; another staff member decides
    APPEAL_UPHELD = "appeal_upheld"  # final: the action stands
    OVERTURNED = "overturned"  # final: the action ends


# States in which the action has its effect from ``effective_at``. A response to an
# action with notice holds its effect until it is decided (an immediate one acts
# throughout, ``IMMEDIATE_HOLDS``).
IN_FORCE_STATES = (ActionState.NOTICE, ActionState.UPHELD, ActionState.APPEALED,
                   ActionState.APPEAL_UPHELD)
ENDED_STATES = (ActionState.WITHDRAWN, ActionState.OVERTURNED)


class AccountAction(IdMixin, TimestampMixin, Base):
    """One restriction or deactivation of a trainer by an organisation, with its
    whole history: the response, the decision, the appeal and its decision (each at
    most once)."""

    __tablename__ = "account_actions"
    __table_args__ = (
        Index("ix_account_actions_trainer_id_organisation_id", "trainer_id", "organisation_id"),
        Index("ix_account_actions_organisation_id_created_at", "organisation_id", "created_at"),
        CheckConstraint("effective_at >= announced_at", name="effective_after_announced"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[ActionKind] = mapped_column(str_enum(ActionKind))
    reason: Mapped[ActionReason] = mapped_column(str_enum(ActionReason))
    explanation: Mapped[str] = mapped_column(Text)
    immediate: Mapped[bool]
    state: Mapped[ActionState] = mapped_column(str_enum(ActionState))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    announced_at: Mapped[datetime]
    effective_at: Mapped[datetime]
    respond_by: Mapped[datetime]
    response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    appeal: Mapped[str | None] = mapped_column(Text)
    appealed_at: Mapped[datetime | None]
    appeal_note: Mapped[str | None] = mapped_column(Text)
    appeal_decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    appeal_decided_at: Mapped[datetime | None]
    # When the job (or a staff action) released the trainer's work in the organisation
    # and told them the action is in effect.
    followed_up_at: Mapped[datetime | None]

    def in_force_at(self, when: datetime) -> bool:
        """Whether the action has its effect at ``when`` (decided at read time)."""
        if self.effective_at > when:
            return False
        return self.state in IN_FORCE_STATES or (
            self.state is ActionState.RESPONDED and self.immediate)

    @property
    def in_force_now(self) -> bool:
        return self.in_force_at(clock.now())

    @classmethod
    def in_force(cls, when: object) -> ColumnElement[bool]:
        """``in_force_at(when)`` as a SQL condition."""
        return and_(
            cls.effective_at <= when,
            or_(cls.state.in_(IN_FORCE_STATES),
                and_(cls.state == ActionState.RESPONDED, cls.immediate.is_(True))),
        )
