from __future__ import annotations

from marshmallow import Schema, fields

from workforce.api.schemas import UtcDateTime, password_field
from workforce.privacy.models import ErasureState, ExportState


class DataExportSchema(Schema):
    id = fields.UUID()
    state = fields.Enum(ExportState, by_value=True, attribute="current_state", metadata={
        "description": "requested (being prepared), ready (download it until "
        "`expires_at`) or expired (deleted)."})
    requested_at = UtcDateTime()
    ready_at = UtcDateTime(allow_none=True)
    expires_at = UtcDateTime(allow_none=True)
    size_bytes = fields.Integer(allow_none=True)
    files = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True,
                        metadata={"description": "The archive's files and their rows."})
    archive_url = fields.Method("_archive_url", allow_none=True, metadata={
        "type": "string", "description": "Where to download the archive while it is ready."})

    def _archive_url(self, export: object) -> str | None:
        if getattr(export, "current_state", None) is not ExportState.READY:
            return None
        return f"/api/v1/me/data-exports/{export.id}/archive"  # type: ignore[attr-defined]


class ErasureArgs(Schema):
    password = password_field(new=False, metadata={
        "description": "Your current password, to confirm."})


class ErasureRequestSchema(Schema):
    id = fields.UUID()
    state = fields.Enum(ErasureState, by_value=True, metadata={
        "description": "scheduled (can be cancelled until `effective_at`), waiting (the "
        "account is closed; erased once nothing more is owed), cancelled or completed."})
    requested_at = UtcDateTime()
    effective_at = UtcDateTime()
    cancelled_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    completed_at = UtcDateTime(allow_none=True)
    waiting_reason = fields.String(allow_none=True)
