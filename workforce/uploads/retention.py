"""Deleting uploaded files: at the end of their retention, when never used, at the
trainer's request and at their erasure.

- ``delete_due`` (the scheduler's ``uploads.delete_expired_files``, hourly, also ``workforce
  jobs run``): files past ``delete_after`` (the retention fixed when they were
  uploaded), and uploads no submitted answer names a day after their slot was made.
  Downloads are refused from the retention's end on, whether or not the job has run.
- ``delete_recordings``: a trainer has their recordings deleted (all, or one
  project's). Each answer that named one is marked withdrawn (``answer_withdrawn_at``);
  what it earned stays earned: no ledger entry is touched. A withdrawn approved answer
  leaves the project's results (exports and aggregation skip it) with a new stamp on
  its task, so an incremental sync sees the change.
- ``erase_uploads``: every upload of a trainer whose erasure is carried out.

The object is deleted before the commit, so a file is never left behind by a row that
says it is gone; a run that rolls back leaves the row for the next run, and deleting
what is not there is not an error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from workforce.accounts import audit
from workforce.accounts.audit import SystemActor
from workforce.accounts.models import User
from workforce.projects.models import Assignment, AssignmentState
from workforce.results import aggregates, templates
from workforce.storage import FileStore
from workforce.uploads.models import UPLOADS, DeletionReason, Upload, UploadState

SCHEDULER = SystemActor("scheduler")
# An upload no submitted answer names is deleted this long after its slot was made.
UNREFERENCED_AFTER = timedelta(days=1)
_KEPT = (UploadState.UPLOADED, UploadState.ATTACHED)


def _delete(store: FileStore, upload: Upload, reason: DeletionReason, now: datetime) -> None:
    if upload.storage_key:
        store.delete(upload.storage_key)
    UPLOADS.move(upload, UploadState.DELETED)
    upload.storage_key, upload.deleted_at, upload.deletion_reason = None, now, reason


def delete_due(session: Session, store: FileStore, *, now: datetime, limit: int) -> int:
    """Delete up to ``limit`` files past their retention or never used; how many."""
    past_retention = and_(Upload.state.in_(_KEPT), Upload.delete_after <= now)
    unreferenced = and_(Upload.state.in_((UploadState.PENDING, UploadState.UPLOADED)),
                        Upload.created_at <= now - UNREFERENCED_AFTER)
    due = session.scalars(select(Upload).where(or_(past_retention, unreferenced))
                          .order_by(Upload.created_at, Upload.id).limit(limit)
                          .with_for_update(skip_locked=True)).all()
    for upload in due:
        # Past a day, an upload no answer names is unreferenced, whatever its retention.
        kept = upload.state is UploadState.ATTACHED
        _delete(store, upload, DeletionReason.RETENTION if kept
                else DeletionReason.UNREFERENCED, now)
        if kept:
            audit.record(session, SCHEDULER, "upload.deleted", object_type="upload",
                         object_id=upload.id, organisation_id=None,
                         after={"reason": DeletionReason.RETENTION.value})
    session.flush()
    return len(due)


@dataclass(frozen=True)
class Deletion:
    recordings_deleted: int
    answers_withdrawn: int


def delete_recordings(session: Session, store: FileStore, trainer: User, now: datetime, *,
                      project_id: uuid.UUID | None = None) -> Deletion:
    """Delete the trainer's recordings (of one project, if given; it must be one they
    may see) at their request; audited."""
    if project_id is not None:
        templates.readable_project(session, trainer, project_id)
    deletion = _delete_uploads(session, store, trainer.id, now, DeletionReason.TRAINER_REQUEST,
                               kind="recording", project_id=project_id)
    audit.record(session, trainer, "recordings.deleted_on_request", object_type="user",
                 object_id=trainer.id, organisation_id=None,
                 after={"project_id": str(project_id) if project_id else None,
                        "recordings_deleted": deletion.recordings_deleted,
                        "answers_withdrawn": deletion.answers_withdrawn})
    return deletion


def erase_uploads(session: Session, store: FileStore, trainer_id: uuid.UUID, now: datetime
                  ) -> Deletion:
    return _delete_uploads(session, store, trainer_id, now, DeletionReason.ERASURE)


def _delete_uploads(session: Session, store: FileStore, trainer_id: uuid.UUID,
                    now: datetime, reason: DeletionReason, *, kind: str | None = None,
                    project_id: uuid.UUID | None = None) -> Deletion:
    stmt = select(Upload).where(Upload.trainer_id == trainer_id,
                                Upload.state != UploadState.DELETED).with_for_update()
    if kind is not None:
        stmt = stmt.where(Upload.kind == kind)
    if project_id is not None:
        stmt = stmt.where(Upload.project_id == project_id)
    uploads = session.scalars(stmt.order_by(Upload.created_at, Upload.id)).all()
    withdrawn: set[uuid.UUID] = set()
    for upload in uploads:
        if upload.state is UploadState.ATTACHED:
            withdrawn.add(upload.assignment_id)
        _delete(store, upload, reason, now)
    results_changed: dict[uuid.UUID, set[uuid.UUID]] = {}
    for assignment in session.scalars(select(Assignment).where(
            Assignment.id.in_(withdrawn), Assignment.answer_withdrawn_at.is_(None))):
        assignment.answer_withdrawn_at = now
        if assignment.state is AssignmentState.APPROVED:
            results_changed.setdefault(assignment.project_id, set()).add(assignment.task_id)
    for project_id in sorted(results_changed):  # the stamps' locks in one order
        aggregates.answers_withdrawn(session, project_id, sorted(results_changed[project_id]),
                                     now)
    session.flush()
    return Deletion(len(uploads), len(withdrawn))
