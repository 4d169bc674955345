"""Uploads (files trainers hand in as answers), and what a project that records voice
declares and each trainer consents to.

- ``Upload``: one slot asked for by a trainer holding a lease, for one ``recording`` or
  ``file`` field. ``pending`` until its bytes are in and checked, ``uploaded`` then,
  ``attached`` once a submitted answer names it, ``deleted`` when its file is gone
  (retention, never used, the trainer's request, erasure): the row stays as the record
  of what was held and why it went. ``delete_after`` is fixed when the bytes arrive,
  from the retention the trainer was shown.
- ``RecordingPolicy``: what a project records, for what use and for how many days;
  shown before a trainer applies or consents.
- ``RecordingConsent``: a trainer's consent to a project's recordings; withdrawing it
  stops new recordings (upload slots are refused), consenting again resumes them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workforce.db import Base, IdMixin, str_enum
from workforce.lifecycle import Lifecycle


class UploadState(StrEnum):
    PENDING = "pending"
    UPLOADED = "uploaded"
    ATTACHED = "attached"
    DELETED = "deleted"


UPLOADS = Lifecycle("An upload", {
    UploadState.PENDING: frozenset({UploadState.UPLOADED, UploadState.ATTACHED,
                                    UploadState.DELETED}),
    UploadState.UPLOADED: frozenset({UploadState.ATTACHED, UploadState.DELETED}),
    UploadState.ATTACHED: frozenset({UploadState.DELETED}),
    UploadState.DELETED: frozenset(),
})


class DeletionReason(StrEnum):
    RETENTION = "retention"
    UNREFERENCED = "unreferenced"
    TRAINER_REQUEST = "trainer_request"
    ERASURE = "erasure"


class Upload(IdMixin, Base):
    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_assignment_id", "assignment_id"),
        Index("ix_uploads_trainer_id_created_at", "trainer_id", "created_at"),
        Index("ix_uploads_state_created_at", "state", "created_at"),
        Index("ix_uploads_delete_after", "delete_after"),
        CheckConstraint("declared_size >= 1", name="declared_size_positive"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), index=True)
    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task_assignments.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    field: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[UploadState] = mapped_column(str_enum(UploadState),
                                               default=UploadState.PENDING)
    storage_key: Mapped[str | None] = mapped_column(String(255))
    # What the trainer said they would upload; the bytes must match both.
    declared_size: Mapped[int]
    declared_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # What the checks read from the bytes.
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None]
    duration_ms: Mapped[int | None]
    sample_rate: Mapped[int | None]
    uploaded_at: Mapped[datetime | None]
    attached_at: Mapped[datetime | None]
    delete_after: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    deletion_reason: Mapped[DeletionReason | None] = mapped_column(str_enum(DeletionReason))


class RecordingPolicy(Base):
    __tablename__ = "recording_policies"
    __table_args__ = (
        CheckConstraint("retention_days BETWEEN 1 AND 36500", name="retention_days_range"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    what_is_recorded: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    retention_days: Mapped[int]
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))


class RecordingConsent(IdMixin, Base):
    __tablename__ = "recording_consents"
    __table_args__ = (UniqueConstraint("project_id", "trainer_id"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    trainer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    consented_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
