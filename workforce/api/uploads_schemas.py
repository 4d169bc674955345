from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import UtcDateTime
from workforce.i18n import lazy_gettext
from workforce.results.fields import MAX_UPLOAD_BYTES
from workforce.uploads.models import DeletionReason, UploadState

SHA256 = validate.Regexp(r"^[0-9a-fA-F]{64}$",
                         error=lazy_gettext("Must be 64 hexadecimal digits."))


class UploadSlotArgs(Schema):
    field = fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={
        "description": "The name of a `recording` or `file` field of the task's template."})
    size = fields.Integer(required=True, validate=validate.Range(1, MAX_UPLOAD_BYTES),
                          metadata={"description": "The file's size in bytes."})
    sha256 = fields.String(required=True, validate=SHA256, metadata={
        "description": "The file's SHA-256, in hexadecimal: the upload must match it."})


class UploadSchema(Schema):
    id = fields.UUID()
    assignment_id = fields.UUID()
    field = fields.String()
    kind = fields.String(metadata={"description": "recording or file"})
    state = fields.Enum(UploadState, by_value=True, metadata={
        "description": "pending (nothing in yet), uploaded (checked and kept), attached "
        "(a submitted answer names it) or deleted."})
    created_at = UtcDateTime()
    expires_at = UtcDateTime(metadata={"description": "When the upload slot stops working."})
    content_type = fields.String(allow_none=True, metadata={
        "description": "The type read from the file's bytes."})
    size_bytes = fields.Integer(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)
    sample_rate = fields.Integer(allow_none=True)
    uploaded_at = UtcDateTime(allow_none=True)
    attached_at = UtcDateTime(allow_none=True)
    delete_after = UtcDateTime(allow_none=True, metadata={
        "description": "When the file is deleted: the project's retention, fixed at upload."})
    deleted_at = UtcDateTime(allow_none=True)
    deletion_reason = fields.Enum(DeletionReason, by_value=True, allow_none=True)


class UploadSlotSchema(UploadSchema):
    method = fields.String(metadata={"description": "Always PUT."})
    url = fields.String(metadata={
        "description": "Where to PUT the file's bytes, once, before `expires_at`."})
    headers = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "Headers to send with the PUT, exactly as given."})


class DownloadLinkSchema(Schema):
    url = fields.String(metadata={"description": "GET it before `expires_at`; audited."})
    expires_at = UtcDateTime()


class RecordingPolicyArgs(Schema):
    what_is_recorded = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                                     metadata={"description": "What trainers record."})
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                            metadata={"description": "What the recordings are used for."})
    retention_days = fields.Integer(required=True, validate=validate.Range(1, 36500),
                                    metadata={"description": "Days a recording is kept."})


class RecordingPolicySchema(RecordingPolicyArgs):
    project_id = fields.UUID()
    updated_at = UtcDateTime()


class RecordingConsentSchema(Schema):
    project_id = fields.UUID()
    consented_at = UtcDateTime()
    withdrawn_at = UtcDateTime(allow_none=True, metadata={
        "description": "Set while withdrawn: no new recordings for this project."})


class RecordingDeletionArgs(Schema):
    project_id = fields.UUID(load_default=None, metadata={
        "description": "Only this project's recordings; all of them when left out."})


class RecordingDeletionSchema(Schema):
    recordings_deleted = fields.Integer()
    answers_withdrawn = fields.Integer(metadata={
        "description": "Answers that named a deleted recording: now withdrawn; what they "
        "earned stays earned."})
