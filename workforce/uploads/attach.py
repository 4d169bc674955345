"""Taking an upload's bytes in, and attaching uploads to a submitted answer.

``take_content`` checks what arrived (``uploads.content``: the type from the bytes,
size, checksum, duration and sample rate against the field's limits) and keeps it only
if it fits: a refused file is never kept. The local backend calls it when the bytes
reach the service's upload endpoint; for a direct upload (S3) the submit that names the
upload reads the object and calls it then, deleting a refused object at once.

``attach_answer`` runs inside a submit: every recording and file field of the answer
must name an upload of this assignment, for that field, whose content is in and fits.
Problems are reported by JSON pointer into the answer, like the template's (422
``answer-invalid``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from workforce.errors import Invalid
from workforce.i18n import _
from workforce.projects.models import Assignment, Project
from workforce.results.fields import UPLOAD_KINDS, pointer
from workforce.storage import FileStore
from workforce.uploads import content
from workforce.uploads.models import UPLOADS, RecordingPolicy, Upload, UploadState


def retention_of(session: Session, upload: Upload) -> timedelta | None:
    """How long the upload's file is kept: the recording policy's days for a recording,
    the project's declared answer retention for other files (None: as long as the
    answer)."""
    if upload.kind == "recording":
        policy = session.get(RecordingPolicy, upload.project_id)
        days = policy.retention_days if policy is not None else None
    else:
        days = session.get_one(Project, upload.project_id).answer_retention_days
    return timedelta(days=days) if days else None


def take_content(session: Session, store: FileStore, upload: Upload, data: bytes,
                 settings: dict[str, Any], now: datetime, *, stored: bool) -> list[str]:
    """Check ``data`` against the field's ``settings``; keep it (``stored``: it is in the
    store already) and mark the upload ``uploaded``, or return why not, having kept
    nothing."""
    found = content.read(data)
    problems = content.problems(found, upload.kind, settings,
                                declared_size=upload.declared_size,
                                declared_sha256=upload.declared_sha256)
    key = upload.storage_key
    assert key is not None  # a slot's key lives until the upload is deleted
    if problems:
        if stored:
            store.delete(key)
        return problems
    if not stored:
        store.write(key, data, content_type=found.media_type)
    UPLOADS.move(upload, UploadState.UPLOADED)
    upload.content_type, upload.size_bytes = found.media_type, found.size
    upload.duration_ms, upload.sample_rate = found.duration_ms, found.sample_rate
    upload.uploaded_at = now
    retention = retention_of(session, upload)
    upload.delete_after = now + retention if retention is not None else None
    session.flush()
    return []


def attach_answer(session: Session, store: FileStore | None, assignment: Assignment,
                  fields: list[dict[str, Any]], answer: Any, now: datetime) -> None:
    if not isinstance(answer, dict):
        return
    errors: dict[str, list[str]] = {}
    for field in fields:
        if field["kind"] in UPLOAD_KINDS and field["name"] in answer:
            problems = _attach(session, store, assignment, field, answer[field["name"]], now)
            if problems:
                errors[pointer(field["name"])] = problems
    if errors:
        raise Invalid(_("The answer names uploads that cannot be used (%(count)s fields); "
                        "nothing was saved.", count=len(errors)),
                      code="answer-invalid", errors=errors)


def _attach(session: Session, store: FileStore | None, assignment: Assignment,
            field: dict[str, Any], value: str, now: datetime) -> list[str]:
    upload = session.get(Upload, uuid.UUID(value), with_for_update=True)
    if upload is None or upload.assignment_id != assignment.id \
            or upload.field != field["name"]:
        return [_("No upload with this id was made for this field of this assignment: ask "
                  "for a slot (POST /api/v1/me/assignments/%(assignment_id)s/uploads) and "
                  "upload the file first.", assignment_id=assignment.id)]
    if upload.state is UploadState.DELETED:
        return [_("This upload was deleted; upload the file again.")]
    if upload.state is UploadState.PENDING:
        problems = _take_direct(session, store, upload, field, now)
        if problems:
            return problems
    if upload.state is UploadState.UPLOADED:
        UPLOADS.move(upload, UploadState.ATTACHED)
        upload.attached_at = now
    return []


def _take_direct(session: Session, store: FileStore | None, upload: Upload,
                 field: dict[str, Any], now: datetime) -> list[str]:
    """A direct upload's object, read and checked now."""
    stored = store.read(upload.storage_key) if store is not None and upload.storage_key \
        else None
    if stored is None:
        return [_("Nothing was uploaded to this upload's slot.")]
    if stored.modified_at > upload.expires_at:
        store.delete(upload.storage_key)  # type: ignore[union-attr, arg-type]
        return [_("The file arrived after the upload slot expired (%(expired_at)s); ask "
                  "for a new slot.", expired_at=upload.expires_at.isoformat())]
    return take_content(session, store, upload, stored.data,  # type: ignore[arg-type]
                        field["settings"], now, stored=True)
