from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workforce.db import Base, IdMixin, str_enum
from workforce.money import Money


class EarningKind(StrEnum):
    ASSESSMENT_STIPEND = "assessment_stipend"
    TASK_APPROVAL = "task_approval"
    TIMESHEET = "timesheet"
    KILL_FEE = "kill_fee"


class EarningEvent(IdMixin, Base):
    """Money a trainer earned, recorded once per source; the ledger posts from these."""

    __tablename__ = "earning_events"
    __table_args__ = (
        # One source event earns exactly once.
        UniqueConstraint("kind", "source_type", "source_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    kind: Mapped[EarningKind] = mapped_column(str_enum(EarningKind))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id"), index=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    source_type: Mapped[str] = mapped_column(String(50))
    source_id: Mapped[uuid.UUID]
    description: Mapped[str] = mapped_column(String(300))
    occurred_at: Mapped[datetime]

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)
