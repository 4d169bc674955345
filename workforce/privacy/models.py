"""Data exports (a trainer's archive of their own data) and erasure requests.

- ``DataExport``: asked for by a trainer, prepared by the scheduler into one zip archive
  kept in the export store (``privacy.storage``) until ``expires_at``; the job deletes
  the file after that and marks the row ``expired``. Rows stay as the history of what
  was handed out.
- ``ErasureRequest``: a trainer's request to be forgotten. ``scheduled`` during the grace
  period (cancellable), then ``waiting`` while money is still owed to them (the account
  is closed: nothing new is earned) and ``completed`` once personal data is erased and
  ``pseudonym`` stands for the person in what is kept. At most one open request per
  trainer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from workforce import clock
from workforce.db import Base, IdMixin, json_type, str_enum
from workforce.lifecycle import Lifecycle


class ExportState(StrEnum):
    REQUESTED = "requested"
    READY = "ready"
    EXPIRED = "expired"


EXPORTS = Lifecycle("A data export", {
    # A requested export is given up when its owner is erased before it is prepared.
    ExportState.REQUESTED: frozenset({ExportState.READY, ExportState.EXPIRED}),
    ExportState.READY: frozenset({ExportState.EXPIRED}),
    ExportState.EXPIRED: frozenset(),
})


class DataExport(IdMixin, Base):
    __tablename__ = "data_exports"
    __table_args__ = (
        Index("ix_data_exports_user_id_requested_at", "user_id", "requested_at"),
        Index("ix_data_exports_state_requested_at", "state", "requested_at"),
        # One export in preparation per trainer, whatever races.
        Index("uq_data_exports_one_requested", "user_id", unique=True,
              sqlite_where=text("state = 'requested'"),
              postgresql_where=text("state = 'requested'")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    state: Mapped[ExportState] = mapped_column(str_enum(ExportState),
                                               default=ExportState.REQUESTED)
    requested_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    # Where the archive is in the export store, while it is there.
    storage_key: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int | None]
    # {file name: rows} of the archive, for the trainer's list.
    files: Mapped[dict[str, Any] | None] = mapped_column(json_type())

    @property
    def current_state(self) -> ExportState:
        """The state in force now: a ready export past its expiry is expired, whether or
        not the job has deleted its archive yet."""
        if self.state is ExportState.READY and self.expires_at is not None \
                and self.expires_at <= clock.now():
            return ExportState.EXPIRED
        return self.state


class ErasureState(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    WAITING = "waiting"
    COMPLETED = "completed"


OPEN_ERASURE_STATES = (ErasureState.SCHEDULED, ErasureState.WAITING)

ERASURES = Lifecycle("An erasure request", {
    ErasureState.SCHEDULED: frozenset({ErasureState.CANCELLED, ErasureState.WAITING,
                                       ErasureState.COMPLETED}),
    ErasureState.WAITING: frozenset({ErasureState.COMPLETED}),
    ErasureState.CANCELLED: frozenset(),
    ErasureState.COMPLETED: frozenset(),
})


class ErasureRequest(IdMixin, Base):
    __tablename__ = "erasure_requests"
    __table_args__ = (
        Index("ix_erasure_requests_state_effective_at", "state", "effective_at"),
        Index("uq_erasure_requests_one_open", "user_id", unique=True,
              sqlite_where=text("state IN ('scheduled', 'waiting')"),
              postgresql_where=text("state IN ('scheduled', 'waiting')")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[ErasureState] = mapped_column(str_enum(ErasureState),
                                                default=ErasureState.SCHEDULED)
    requested_at: Mapped[datetime]
    # The end of the grace period: from then on the erasure is carried out.
    effective_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    # When the account was closed (signed out, deactivated, work in flight ended).
    closed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # Why it waits (money still owed), shown to the trainer until it is completed.
    waiting_reason: Mapped[str | None] = mapped_column(Text)
    pseudonym: Mapped[str | None] = mapped_column(String(64), unique=True)
