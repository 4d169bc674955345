"""Upload slots and download links.

- A trainer holding a lease (or asked for a revision) asks for a slot for one
  ``recording`` or ``file`` field of its template, announcing the file's size and
  SHA-256. A size over the field's ``max_bytes`` is refused at once (422 naming it); a
  recording needs the trainer's consent to the project's recording policy (409
  ``recording-consent-required``). The slot is a one-time URL that expires
  (``WORKFORCE_UPLOAD_SLOT_LIFETIME``): the service's own endpoint with a signed token
  for the local store, a presigned PUT for S3 (length, checksum, encryption and
  "no second upload" are part of its signature).
- At the service's endpoint (``receive``) the bytes are checked and kept, or refused
  with 422 naming the limit and nothing kept; a used slot answers 409
  ``upload-slot-used``, an expired one 409 ``upload-slot-expired``.
- Downloads: the trainer who made the upload and the staff of the project's
  organisation get a short-lived link (``WORKFORCE_DOWNLOAD_LINK_LIFETIME``) to the
  service's own endpoint; anyone else gets 404, and nothing lists the store. Following
  the link is audited (``upload.downloaded``) and then serves the bytes (local) or
  redirects to a presigned GET that works for a minute at most (S3).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import STAFF_ROLES, User
from workforce.errors import Conflict, Invalid, NotFound
from workforce.i18n import _, lazy_gettext
from workforce.projects import tasks
from workforce.projects.models import Assignment, Project
from workforce.results import templates
from workforce.results.fields import UPLOAD_KINDS
from workforce.uploads import attach, consent
from workforce.uploads.content import extension_of
from workforce.uploads.links import FileAccess
from workforce.uploads.models import DeletionReason, Upload, UploadState

# The longest a presigned S3 download URL works, after the service's link was followed.
REDIRECT_LIFETIME = timedelta(minutes=1)


@dataclass(frozen=True)
class UploadSlot:
    upload: Upload
    url: str
    method: str
    headers: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        """The upload's own attributes (``id``, ``state``, ...), for the answer."""
        return getattr(self.upload, name)


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: datetime


def _upload_field(session: Session, assignment: Assignment, name: str
                  ) -> dict[str, Any] | None:
    version = templates.version_for(session, assignment)
    fields = version.fields if version is not None else []
    return next((f for f in fields if f["name"] == name and f["kind"] in UPLOAD_KINDS),
                None)


def request_slot(session: Session, files: FileAccess, trainer: User,
                 assignment_id: uuid.UUID, *, field: str, size: int, sha256: str
                 ) -> UploadSlot:
    assignment = tasks.own_working_assignment(session, trainer, assignment_id)
    spec = _upload_field(session, assignment, field)
    if spec is None:
        raise Invalid(_("The task's template has no such recording or file field."),
                      errors={"field": [_("Not a recording or file field of this task's "
                                          "template.")]})
    if size > spec["settings"]["max_bytes"]:
        raise Invalid(_("The file is larger than the field takes; nothing was kept."),
                      code="upload-refused", errors={"size": [
                          _("At most %(max_bytes)s bytes (max_bytes).",
                            max_bytes=spec["settings"]["max_bytes"])]})
    if spec["kind"] == "recording":
        consent.require_consent(session, trainer, assignment.project_id)
    now = clock.now()
    upload = Upload(id=uuid.uuid4(), project_id=assignment.project_id,
                    assignment_id=assignment.id, trainer_id=trainer.id, field=field,
                    kind=spec["kind"], state=UploadState.PENDING, declared_size=size,
                    declared_sha256=sha256.lower(), created_at=now,
                    expires_at=now + files.slot_lifetime)
    upload.storage_key = f"uploads/{assignment.project_id}/{upload.id}"
    session.add(upload)
    session.flush()
    direct = files.store.direct_upload(upload.storage_key, size=size,
                                       sha256=bytes.fromhex(sha256),
                                       lifetime=files.slot_lifetime)
    if direct is not None:
        return UploadSlot(upload, direct.url, "PUT", direct.headers)
    url = files.upload_url(files.sign("upload", str(upload.id)))
    return UploadSlot(upload, url, "PUT", {"Content-Type": "application/octet-stream"})


def receive(session: Session, files: FileAccess, token: str, data: bytes) -> Upload:
    """The bytes of a slot, at the service's own endpoint (local store)."""
    signed = files.unsign("upload", token)
    upload = session.get(Upload, uuid.UUID(signed), with_for_update=True) if signed else None
    if upload is None:
        raise NotFound(_("No such upload slot."))
    now = clock.now()
    if upload.state is not UploadState.PENDING:
        raise Conflict(_("A file was already uploaded to this slot; ask for a new slot to "
                         "upload another."), code="upload-slot-used")
    if now >= upload.expires_at:
        raise Conflict(_("This upload slot expired at %(expired_at)s; ask for a new one.",
                         expired_at=upload.expires_at.isoformat()),
                       code="upload-slot-expired")
    assignment = session.get_one(Assignment, upload.assignment_id)
    spec = _upload_field(session, assignment, upload.field)
    assert spec is not None  # the slot was made for a field of this version
    problems = attach.take_content(session, files.store, upload, data, spec["settings"],
                                   now, stored=False)
    if problems:
        raise Invalid(_("The file was refused; nothing was kept."), code="upload-refused",
                      errors={"file": problems})
    return upload


# --- reading and downloading ------------------------------------------------------------


def _may_read(session: Session, user: User, upload: Upload) -> bool:
    if upload.trainer_id == user.id:
        return True
    if user.role not in STAFF_ROLES:
        return False
    return session.get_one(Project, upload.project_id).organisation_id == user.organisation_id


def get_upload(session: Session, user: User, upload_id: uuid.UUID) -> Upload:
    """The upload, for the trainer who made it and the staff of its project's
    organisation; ``NotFound`` for anyone else."""
    upload = session.get(Upload, upload_id)
    if upload is None or not _may_read(session, user, upload):
        raise NotFound(_("No such upload."))
    return upload


# Why a file is gone, told whole (None: past its retention, not yet deleted by the job).
_DELETED = {
    None: lazy_gettext("This file has been deleted: its retention period ended."),
    DeletionReason.RETENTION: lazy_gettext("This file has been deleted (retention)."),
    DeletionReason.UNREFERENCED: lazy_gettext("This file has been deleted (unreferenced)."),
    DeletionReason.TRAINER_REQUEST: lazy_gettext(
        "This file has been deleted (trainer request)."),
    DeletionReason.ERASURE: lazy_gettext("This file has been deleted (erasure)."),
}


def _require_kept(upload: Upload, now: datetime) -> None:
    """409 ``file-deleted`` for a file that is gone, or past its retention (decided now,
    whether or not the job has deleted it yet); ``file-not-uploaded`` before it is in."""
    if upload.state is UploadState.DELETED or (
            upload.delete_after is not None and upload.delete_after <= now):
        raise Conflict(str(_DELETED.get(upload.deletion_reason, _DELETED[None])),
                       code="file-deleted")
    if upload.state is UploadState.PENDING:
        raise Conflict(_("Nothing has been uploaded to this slot yet."),
                       code="file-not-uploaded")


def download_link(session: Session, files: FileAccess, user: User, upload_id: uuid.UUID
                  ) -> DownloadLink:
    upload = get_upload(session, user, upload_id)
    now = clock.now()
    _require_kept(upload, now)
    expires_at = now + files.link_lifetime
    token = files.sign("download", {"upload": str(upload.id), "user": str(user.id),
                                    "expires": expires_at.timestamp()})
    return DownloadLink(files.download_url(token), expires_at)


@dataclass(frozen=True)
class Download:
    upload: Upload
    data: bytes | None = None
    redirect: str | None = None

    @property
    def filename(self) -> str:
        return (f"{self.upload.field}-{self.upload.id}."
                f"{extension_of(self.upload.content_type)}")


def follow_link(session: Session, files: FileAccess, token: str) -> Download:
    """What a download link gives, audited: the bytes, or where to fetch them."""
    signed = files.unsign("download", token)
    if not isinstance(signed, dict):
        raise NotFound(_("No such download link."))
    now = clock.now()
    if datetime.fromtimestamp(signed["expires"], now.tzinfo) <= now:
        raise Conflict(_("This download link has expired; ask for a new one."),
                       code="link-expired")
    user = session.get(User, uuid.UUID(signed["user"]))
    if user is None or not user.is_active:
        raise NotFound(_("No such download link."))
    upload = get_upload(session, user, uuid.UUID(signed["upload"]))
    _require_kept(upload, now)
    project = session.get_one(Project, upload.project_id)
    audit.record(session, user, "upload.downloaded", object_type="upload",
                 object_id=upload.id, organisation_id=project.organisation_id,
                 after={"field": upload.field, "trainer_id": str(upload.trainer_id)})
    assert upload.storage_key is not None and upload.content_type is not None
    download = Download(upload)
    redirect = files.store.direct_download(
        upload.storage_key, filename=download.filename, content_type=upload.content_type,
        lifetime=min(REDIRECT_LIFETIME, files.link_lifetime))
    if redirect is not None:
        return Download(upload, redirect=redirect)
    stored = files.store.read(upload.storage_key)
    if stored is None:
        raise Conflict(_("This file has been deleted."), code="file-deleted")
    return Download(upload, data=stored.data)
