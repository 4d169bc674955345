"""Files as answers: upload slots and the service's own upload endpoint, downloads,
recording policies and consent, and deleting one's recordings."""

from __future__ import annotations

import uuid

from flask import Response, current_app, redirect, request

from workforce.accounts.models import MANAGERS, STAFF_ROLES, Role
from workforce.api.bodies import raw_body
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.api.uploads_schemas import (
    DownloadLinkSchema,
    RecordingConsentSchema,
    RecordingDeletionArgs,
    RecordingDeletionSchema,
    RecordingPolicyArgs,
    RecordingPolicySchema,
    UploadSchema,
    UploadSlotArgs,
    UploadSlotSchema,
)
from workforce.clock import now
from workforce.integrations.scopes import Scope
from workforce.results.fields import MAX_UPLOAD_BYTES
from workforce.uploads import consent, retention, slots
from workforce.uploads.links import FileAccess

blp = Blueprint("uploads", __name__, url_prefix="/api/v1",
                description="Files as answers: recordings, images and PDFs; consent to "
                "recordings")

UPLOAD_BODY = {"required": True, "description": "The file's bytes, exactly as announced.",
               "content": {"application/octet-stream": {
                   "schema": {"type": "string", "format": "binary"}}}}
FILE_ANSWER = {"description": "The file's bytes (local store), or a redirect to them.",
               "content": {"application/octet-stream": {
                   "schema": {"type": "string", "format": "binary"}}}}


def _files() -> FileAccess:
    files = current_app.extensions["workforce"].files
    assert files is not None  # create_app builds it
    return files


@blp.route("/me/assignments/<uuid:assignment_id>/uploads", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(UploadSlotArgs)
@blp.response(201, UploadSlotSchema)
@blp.refuses(404, 409)
def request_slot(args: dict, assignment_id: uuid.UUID):
    """Ask for a slot to upload one file for a `recording` or `file` field of the task
    you are working on, announcing its size and SHA-256. PUT the bytes to `url` with
    `headers`, once, before `expires_at` (WORKFORCE_UPLOAD_SLOT_LIFETIME); then submit
    the answer with the upload's `id` as the field's value. A size over the field's
    `max_bytes` is refused (422). A recording needs your consent to the project's
    recording policy (409 `recording-consent-required`); a lease that ran out, 409 as
    submit."""
    return slots.request_slot(db_session(), _files(), current_user(), assignment_id,
                              field=args["field"], size=args["size"], sha256=args["sha256"])


@blp.route("/upload-slots/<string:token>", methods=["PUT"])
@blp.public
@blp.doc(requestBody=UPLOAD_BODY)
@blp.response(200, UploadSchema)
@blp.refuses(404, 409, 413, 415, 422)
@raw_body("application/octet-stream")
def upload(token: str):
    """The service's own upload endpoint (local file store): the slot's `url`. The
    signed token in the URL is the permission; it works once (409 `upload-slot-used`)
    and until the slot expires (409 `upload-slot-expired`). The content is checked: the
    type read from the bytes (not a name), the size and SHA-256 announced, and a
    recording's duration and sample rate against the field's limits: 422
    `upload-refused` naming each limit, and nothing is kept."""
    request.max_content_length = MAX_UPLOAD_BYTES
    return slots.receive(db_session(), _files(), token, request.get_data(cache=True))


@blp.route("/uploads/<uuid:upload_id>")
@blp.requires(Role.TRAINER, *STAFF_ROLES, scope=Scope.RESULTS_READ)
@blp.response(200, UploadSchema)
@blp.refuses(404)
def get_upload(upload_id: uuid.UUID):
    """An upload: for the trainer who made it and the staff of the project's
    organisation (anyone else: 404)."""
    return slots.get_upload(db_session(), current_user(), upload_id)


@blp.route("/uploads/<uuid:upload_id>/download-link", methods=["POST"])
@blp.requires(Role.TRAINER, *STAFF_ROLES, scope=Scope.RESULTS_READ)
@blp.response(200, DownloadLinkSchema)
@blp.refuses(404, 409)
def download_link(upload_id: uuid.UUID):
    """A short-lived link (WORKFORCE_DOWNLOAD_LINK_LIFETIME) to the file, for the
    trainer who made it and the staff of the project's organisation (anyone else: 404).
    Following it is audited. 409 `file-deleted` once the file is gone or its retention
    has ended."""
    return slots.download_link(db_session(), _files(), current_user(), upload_id)


@blp.route("/files/<string:token>")
@blp.public
@blp.doc(responses={"200": FILE_ANSWER, "302": {"description": "Fetch it from the "
                                                 "object store (a link that works a "
                                                 "minute at most)."}})
@blp.refuses(404, 409)
def download(token: str):
    """A download link: audited (`upload.downloaded`), then the file (local store) or a
    redirect to it (S3). 409 `link-expired` after its time, `file-deleted` once the file
    is gone; 404 for a link we did not make or a person who may no longer read it."""
    found = slots.follow_link(db_session(), _files(), token)
    if found.redirect is not None:
        return redirect(found.redirect, code=302)
    assert found.upload.content_type is not None
    return Response(found.data, mimetype=found.upload.content_type, headers={
        "Content-Disposition": f'attachment; filename="{found.filename}"'})


@blp.route("/projects/<uuid:project_id>/recording-policy", methods=["PUT"])
@blp.requires(*MANAGERS, scope=Scope.PROJECTS_WRITE)
@blp.arguments(RecordingPolicyArgs)
@blp.response(200, RecordingPolicySchema)
@blp.refuses(404, 409)
def set_policy(args: dict, project_id: uuid.UUID):
    """Declare what the project records, for what use and for how many days (audited).
    Trainers see it before they apply and consent; a recording is kept for the days in
    force when it was uploaded."""
    return consent.set_policy(db_session(), current_user(), project_id, **args)


@blp.route("/projects/<uuid:project_id>/recording-policy")
@blp.requires(Role.TRAINER, *STAFF_ROLES, scope=Scope.PROJECTS_READ)
@blp.response(200, RecordingPolicySchema)
@blp.refuses(404)
def get_policy(project_id: uuid.UUID):
    """What the project records, for what use and how long it is kept (404: it records
    no voice)."""
    return consent.get_policy(db_session(), current_user(), project_id)


@blp.route("/projects/<uuid:project_id>/recording-consent", methods=["PUT"])
@blp.requires(Role.TRAINER)
@blp.response(200, RecordingConsentSchema)
@blp.refuses(404)
def give_consent(project_id: uuid.UUID):
    """Consent to the project's recordings as its policy describes them (audited)."""
    return consent.give_consent(db_session(), current_user(), project_id)


@blp.route("/projects/<uuid:project_id>/recording-consent")
@blp.requires(Role.TRAINER)
@blp.response(200, RecordingConsentSchema)
@blp.refuses(404)
def get_consent(project_id: uuid.UUID):
    """Your consent to the project's recordings (404 if never given)."""
    return consent.get_consent(db_session(), current_user(), project_id)


@blp.route("/projects/<uuid:project_id>/recording-consent", methods=["DELETE"])
@blp.requires(Role.TRAINER)
@blp.response(200, RecordingConsentSchema)
@blp.refuses(404, 409)
def withdraw_consent(project_id: uuid.UUID):
    """Withdraw your consent: no new recordings for this project (slots are refused).
    Recordings already made stay for the declared days unless you have them deleted
    (POST /me/recordings/deletion)."""
    return consent.withdraw_consent(db_session(), current_user(), project_id)


@blp.route("/me/recordings/deletion", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.arguments(RecordingDeletionArgs)
@blp.response(200, RecordingDeletionSchema)
@blp.refuses(404)
def delete_recordings(args: dict):
    """Have your recordings deleted now (one project's, or all). Each answer that named
    one is marked withdrawn; what it earned stays earned. Audited."""
    return retention.delete_recordings(db_session(), _files().store, current_user(), now(),
                                       project_id=args["project_id"])
