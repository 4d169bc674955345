"""Recordings and files as answers (issue 17), on both file stores (the local folder and
S3 through moto in server mode): the upload flow, every refusal the issue lists (a
disguised type, too long, too short, too large, an expired slot, someone else's slot, a
second upload to one slot, a missing upload), downloads and their expiry, consent,
retention by the scheduler and a trainer's deletion request (paid work stays paid)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import (
    PASSWORD,
    ProjectFactory,
    StaffFactory,
    TaskFactory,
    UserFactory,
    staff,
    token_for,
)
from tests.payout_helpers import balances
from tests.privacy_helpers import run
from tests.task_helpers import API, answered, claimed
from tests.upload_helpers import (
    PDF,
    consent,
    fetch,
    new_id,
    png,
    put,
    recording_project,
    slot_for,
    wav,
)
from workforce import clock, demo
from workforce.accounts.models import AuditEvent, Role, User
from workforce.projects.models import Project
from workforce.uploads.links import FileAccess


@pytest.fixture
def trainer(session: Session) -> User:
    return UserFactory()


@pytest.fixture
def manager(session: Session) -> User:
    return StaffFactory()


def voice_project(client: ApiClient, manager: User, trainer: User, *, tasks: int = 2,
                  **project: Any) -> Project:
    """A per-task project recording voice, the trainer staffed and consenting."""
    built = ProjectFactory(manager=manager, **project)
    staff(built, trainer)
    for _ in range(tasks):
        TaskFactory(project=built, payload={"prompt": "Read aloud: 我想去旺角"})
    recording_project(client, manager, built)
    consent(client, trainer, built)
    return built


def submit(client: ApiClient, trainer: User, lease_id: str, upload_id: str) -> Any:
    return client.post(f"{API}/me/assignments/{lease_id}/submit", as_user=trainer,
                       json={"answer": {"reading": upload_id}, "active_seconds": 60})


def uploaded(client: ApiClient, files: FileAccess, trainer: User, lease_id: str,
             data: bytes) -> dict:
    slot = slot_for(client, trainer, lease_id, data)
    status, _ = put(client, files, slot, data)
    assert status == 200
    return slot


def refusal(client: ApiClient, files: FileAccess, trainer: User, lease: dict,
            data: bytes) -> tuple[dict, list[str]]:
    """Upload ``data`` and submit it; the messages it was refused with, whichever step
    refused it (the local store checks at the upload, S3's objects at the submit), and
    check that nothing was kept."""
    lease_id = lease["id"]
    slot = slot_for(client, trainer, lease_id, data)
    status, body = put(client, files, slot, data)
    if status == 422:
        assert body["type"].endswith("upload-refused")
        messages = body["errors"]["file"]
        refused = submit(client, trainer, lease_id, slot["id"])
        assert assert_problem(refused, 422, code="answer-invalid")["errors"]["/reading"] \
            == ["Nothing was uploaded to this upload's slot."]
    else:
        assert status == 200
        refused = submit(client, trainer, lease_id, slot["id"])
        messages = assert_problem(refused, 422, code="answer-invalid")["errors"]["/reading"]
    assert files.store.read(f"uploads/{lease['project_id']}/{slot['id']}") is None
    return slot, messages


def long_lived(client: ApiClient, *users: User) -> None:
    """Tokens that outlive the test's travels in time."""
    for user in users:
        client._tokens[user.id] = token_for(user, lifetime=timedelta(days=90))


# --- the flow -----------------------------------------------------------------------------


def test_a_recording_is_uploaded_checked_submitted_and_downloaded(
        client: ApiClient, session: Session, files: FileAccess, manager: User,
        trainer: User) -> None:
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    clip = wav(2.5, rate=22_050)
    slot = slot_for(client, trainer, lease["id"], clip)
    assert slot["state"] == "pending" and slot["method"] == "PUT"
    status, body = put(client, files, slot, clip)
    assert status == 200, body
    done = answered(submit(client, trainer, lease["id"], slot["id"]))
    assert done["state"] in ("submitted", "approved")

    upload = answered(client.get(f"{API}/uploads/{slot['id']}", as_user=trainer))
    assert upload["state"] == "attached"
    assert upload["content_type"] == "audio/wav"
    assert (upload["duration_ms"], upload["sample_rate"]) == (2500, 22_050)
    assert upload["size_bytes"] == len(clip)

    reviewer = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
    for reader in (trainer, reviewer):
        link = answered(client.post(f"{API}/uploads/{slot['id']}/download-link",
                                    as_user=reader))
        assert fetch(client, files, link["url"]) == (200, clip)
    downloads = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "upload.downloaded", AuditEvent.object_id == slot["id"]))
    assert downloads == 2


def test_nobody_else_reads_or_downloads_an_upload(
        client: ApiClient, files: FileAccess, manager: User, trainer: User) -> None:
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    slot = uploaded(client, files, trainer, lease["id"], wav(2))
    outsiders = (UserFactory(), StaffFactory(role=Role.VENDOR_MANAGER),
                 StaffFactory(role=Role.ADMIN))
    for outsider in outsiders:
        assert_problem(client.get(f"{API}/uploads/{slot['id']}", as_user=outsider), 404)
        assert_problem(client.post(f"{API}/uploads/{slot['id']}/download-link",
                                   as_user=outsider), 404)
    # A link we did not make is nobody's.
    assert_problem(client.get(f"{API}/files/not-a-link"), 404)


# --- what the checks refuse ---------------------------------------------------------------


@pytest.mark.parametrize(("data", "limit"), [
    (PDF, "(types)"),
    (wav(6), "(max_seconds)"),
    (wav(0.5), "(min_seconds)"),
    (wav(2, rate=8_000), "(min_sample_rate)"),
], ids=["pdf-named-as-audio", "too-long", "too-short", "low-sample-rate"])
def test_content_that_breaks_a_limit_is_refused_naming_it_and_not_kept(
        client: ApiClient, files: FileAccess, manager: User, trainer: User, data: bytes,
        limit: str) -> None:
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    _, messages = refusal(client, files, trainer, lease, data)
    assert any(limit in message for message in messages), messages
    if data is PDF:
        assert "pdf" in messages[0]
    # The same lease still takes a good recording.
    slot = uploaded(client, files, trainer, lease["id"], wav(2))
    answered(submit(client, trainer, lease["id"], slot["id"]))


def test_a_file_over_the_size_limit_gets_no_slot(
        client: ApiClient, files: FileAccess, manager: User, trainer: User) -> None:
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    big = wav(4, rate=48_000, channels=2)  # 768 kB, the field takes 400 kB
    problem = assert_problem(client.post(
        f"{API}/me/assignments/{lease['id']}/uploads", as_user=trainer,
        json={"field": "reading", "size": len(big), "sha256": "0" * 64}), 422,
        code="upload-refused")
    assert "max_bytes" in problem["errors"]["size"][0]


def test_bytes_other_than_those_announced_are_refused(
        client: ApiClient, files: FileAccess, manager: User, trainer: User) -> None:
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    announced, sent = wav(2), wav(2, rate=16_001)  # same length, other bytes
    slot = slot_for(client, trainer, lease["id"], announced)
    status, body = put(client, files, slot, sent)
    if status == 422:  # the service's own endpoint
        assert any("(sha256)" in m for m in body["errors"]["file"])
    else:  # S3 refuses the checksum itself (moto does not check it: the submit does)
        refused = submit(client, trainer, lease["id"], slot["id"])
        messages = assert_problem(refused, 422)["errors"]["/reading"]
        assert status != 200 or any("(sha256)" in m for m in messages)


def test_an_expired_slot_takes_nothing(
        client: ApiClient, files: FileAccess, manager: User, trainer: User) -> None:
    clip = wav(2)
    with time_machine.travel(clock.now() - timedelta(hours=1), tick=False):
        long_lived(client, manager, trainer)
        project = voice_project(client, manager, trainer, lease_seconds=3 * 3600)
        lease = claimed(client, trainer, project)
        slot = slot_for(client, trainer, lease["id"], clip)
    status, body = put(client, files, slot, clip)
    if status == 409:  # the service's own endpoint says why
        assert body["type"].endswith("upload-slot-expired")
    # S3 refuses an expired presigned PUT (403); where the server takes it anyway the
    # submit refuses a file that arrived after the slot's end.
    refused = assert_problem(submit(client, trainer, lease["id"], slot["id"]), 422)
    assert refused["errors"]["/reading"][0].startswith(
        ("Nothing was uploaded", "The file arrived after the upload slot expired"))


def test_someone_elses_slot_and_upload_are_not_found(
        client: ApiClient, files: FileAccess, manager: User, trainer: User) -> None:
    other = UserFactory()
    project = voice_project(client, manager, trainer)
    staff(project, other)
    consent(client, other, project)
    mine = claimed(client, trainer, project)
    theirs = claimed(client, other, project)
    slot = uploaded(client, files, trainer, mine["id"], wav(2))
    assert_problem(client.post(
        f"{API}/me/assignments/{mine['id']}/uploads", as_user=other,
        json={"field": "reading", "size": 10, "sha256": "0" * 64}), 404)
    refused = assert_problem(submit(client, other, theirs["id"], slot["id"]), 422)
    assert refused["errors"]["/reading"][0].startswith("No upload with this id")
    assert_problem(client.get(f"{API}/uploads/{slot['id']}", as_user=other), 404)


def test_a_second_upload_to_one_slot_is_refused(
        client: ApiClient, files: FileAccess, manager: User, trainer: User) -> None:
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    clip = wav(2)
    slot = uploaded(client, files, trainer, lease["id"], clip)
    status, body = put(client, files, slot, clip)
    # The service: 409 upload-slot-used; S3: 412, the presigned If-None-Match: *.
    assert status in (409, 412)
    if body is not None:
        assert body["type"].endswith("upload-slot-used")
    answered(submit(client, trainer, lease["id"], slot["id"]))


def test_an_answer_naming_a_missing_upload_is_refused(
        client: ApiClient, files: FileAccess, manager: User, trainer: User) -> None:
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    refused = assert_problem(submit(client, trainer, lease["id"], new_id()), 422,
                             code="answer-invalid")
    assert refused["errors"]["/reading"][0].startswith("No upload with this id")
    empty = slot_for(client, trainer, lease["id"], wav(2))
    refused = assert_problem(submit(client, trainer, lease["id"], empty["id"]), 422)
    assert refused["errors"]["/reading"] == ["Nothing was uploaded to this upload's slot."]
    lease_now = answered(client.get(f"{API}/me/assignments/{lease['id']}", as_user=trainer))
    assert lease_now["state"] == "leased"


def test_a_file_field_takes_an_image_and_refuses_audio(
        client: ApiClient, files: FileAccess, manager: User, trainer: User) -> None:
    project = ProjectFactory(manager=manager)
    staff(project, trainer)
    TaskFactory(project=project, payload={"prompt": "Photograph a street sign."})
    answered(client.request("PUT", f"{API}/projects/{project.id}/template", as_user=manager,
                            json={"fields": [{"name": "photo", "label": "Photo",
                                              "kind": "file",
                                              "settings": {"types": ["png", "jpeg"]}}]}),
             201)
    lease = claimed(client, trainer, project)
    clip = wav(2)
    refused = slot_for(client, trainer, lease["id"], clip, field="photo")
    status, body = put(client, files, refused, clip)
    if status == 422:
        assert "(types)" in body["errors"]["file"][0]
    image = png()
    slot = slot_for(client, trainer, lease["id"], image, field="photo")
    assert put(client, files, slot, image)[0] == 200
    done = client.post(f"{API}/me/assignments/{lease['id']}/submit", as_user=trainer,
                       json={"answer": {"photo": slot["id"]}, "active_seconds": 30})
    answered(done)
    shown = answered(client.get(f"{API}/uploads/{slot['id']}", as_user=manager))
    assert (shown["content_type"], shown["duration_ms"]) == ("image/png", None)


def test_recording_settings_are_checked_when_the_template_is_saved(
        client: ApiClient, manager: User) -> None:
    project = ProjectFactory(manager=manager)
    field = {"name": "reading", "label": "Reading", "kind": "recording",
             "settings": {"types": ["wav", "aiff"], "min_seconds": 9, "max_seconds": 5,
                          "min_sample_rate": 10}}
    problem = assert_problem(client.request(
        "PUT", f"{API}/projects/{project.id}/template", as_user=manager,
        json={"fields": [field]}), 422, code="template-invalid")
    assert set(problem["errors"]) == {"/fields/0/settings/types",
                                      "/fields/0/settings/min_seconds",
                                      "/fields/0/settings/min_sample_rate"}


# --- links, consent, retention, deletion ---------------------------------------------------


def test_download_links_expire(client: ApiClient, files: FileAccess, manager: User,
                               trainer: User) -> None:
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    slot = uploaded(client, files, trainer, lease["id"], wav(2))
    answered(submit(client, trainer, lease["id"], slot["id"]))
    link = answered(client.post(f"{API}/uploads/{slot['id']}/download-link",
                                as_user=manager))
    with time_machine.travel(clock.now() + files.link_lifetime + timedelta(seconds=1)):
        status, body = fetch(client, files, link["url"])
    assert status == 409 and b"link-expired" in body


def test_recordings_need_consent_and_withdrawing_it_stops_new_ones(
        client: ApiClient, files: FileAccess, manager: User, trainer: User) -> None:
    project = voice_project(client, manager, trainer)
    # Any trainer who may see the project reads the policy before applying.
    policy = answered(client.get(f"{API}/projects/{project.id}/recording-policy",
                                 as_user=UserFactory()))
    assert policy["retention_days"] == 30 and policy["purpose"].startswith("Training")
    market = answered(client.get(f"{API}/marketplace/projects/{project.id}",
                                 as_user=UserFactory()))
    assert market["recording_policy"] == policy
    lease = claimed(client, trainer, project)
    answered(client.request("DELETE", f"{API}/projects/{project.id}/recording-consent",
                            as_user=trainer))
    refused = client.post(f"{API}/me/assignments/{lease['id']}/uploads", as_user=trainer,
                          json={"field": "reading", "size": 10, "sha256": "0" * 64})
    assert_problem(refused, 409, code="recording-consent-required")
    consent(client, trainer, project)
    uploaded(client, files, trainer, lease["id"], wav(2))


def test_the_refusals_speak_the_readers_language(
        client: ApiClient, app: Flask, manager: User, trainer: User) -> None:
    """The upload's problems, the content's limits (with their numbers), consent and a
    deleted file's reason, in the reader's language; the setting names stay as they are."""
    files = app.extensions["workforce"].files
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    hong_kong, mainland = {"Accept-Language": "zh-HK"}, {"Accept-Language": "zh-CN"}
    big = wav(4, rate=48_000, channels=2)
    too_big = assert_problem(client.post(
        f"{API}/me/assignments/{lease['id']}/uploads", as_user=trainer, headers=hong_kong,
        json={"field": "reading", "size": len(big), "sha256": "0" * 64}), 422,
        code="upload-refused")
    assert too_big["detail"] == "檔案大於此欄位接受的大小；沒有保留任何內容。"
    assert too_big["errors"]["size"] == ["最多 400000 位元組（max_bytes）。"]

    short = wav(0.5)
    slot = slot_for(client, trainer, lease["id"], short)
    status, body = put(client, files, {**slot, "headers": {**slot["headers"], **hong_kong}},
                       short)
    assert status == 422 and body["detail"] == "檔案被拒絕；沒有保留任何內容。"
    assert body["errors"]["file"] == [
        "錄音長 0.5 秒；此欄位需要最少 1 秒（min_seconds）。"]

    slot = uploaded(client, files, trainer, lease["id"], wav(2))
    answered(submit(client, trainer, lease["id"], slot["id"]))
    answered(client.post(f"{API}/me/recordings/deletion", as_user=trainer, json={}))
    gone = assert_problem(client.post(f"{API}/uploads/{slot['id']}/download-link",
                                      as_user=manager, headers=hong_kong), 409,
                          code="file-deleted")
    assert gone["detail"] == "此檔案已刪除（應訓練員要求）。"

    answered(client.request("DELETE", f"{API}/projects/{project.id}/recording-consent",
                            as_user=trainer))
    refused = assert_problem(client.post(
        f"{API}/me/assignments/{claimed(client, trainer, project)['id']}/uploads",
        as_user=trainer, headers=mainland,
        json={"field": "reading", "size": 10, "sha256": "0" * 64}), 409,
        code="recording-consent-required")
    assert refused["detail"].startswith("录音须先获得你对此项目录音政策的同意（GET "
                                        f"/api/v1/projects/{project.id}/recording-policy）")
    assert refused["detail"].endswith("表示同意。你已撤回同意。")


def test_the_scheduler_deletes_files_past_retention_and_unused_uploads(
        app: Flask, client: ApiClient, files: FileAccess, manager: User,
        trainer: User) -> None:
    long_lived(client, manager, trainer)
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    kept = uploaded(client, files, trainer, lease["id"], wav(2))
    unused = uploaded(client, files, trainer, lease["id"], wav(3))
    answered(submit(client, trainer, lease["id"], kept["id"]))
    key = f"uploads/{project.id}/"
    with time_machine.travel(clock.now() + timedelta(days=2)):
        assert run(app, "uploads.delete_expired_files") == "uploaded files deleted: 1"
        assert files.store.read(key + unused["id"]) is None
        assert files.store.read(key + kept["id"]) is not None
    with time_machine.travel(clock.now() + timedelta(days=31)):
        # Refused from the retention's end, before the job has run.
        assert_problem(client.post(f"{API}/uploads/{kept['id']}/download-link",
                                   as_user=trainer), 409, code="file-deleted")
        assert run(app, "uploads.delete_expired_files") == "uploaded files deleted: 1"
        assert run(app, "uploads.delete_expired_files") == "nothing to do"
    assert files.store.read(key + kept["id"]) is None
    gone = answered(client.get(f"{API}/uploads/{kept['id']}", as_user=manager))
    assert (gone["state"], gone["deletion_reason"]) == ("deleted", "retention")


def test_a_trainer_has_their_recordings_deleted_and_paid_work_stays_paid(
        client: ApiClient, session: Session, files: FileAccess, manager: User,
        trainer: User) -> None:
    project = voice_project(client, manager, trainer, review_sample_percent=0)
    lease = claimed(client, trainer, project)
    slot = uploaded(client, files, trainer, lease["id"], wav(2))
    assert answered(submit(client, trainer, lease["id"], slot["id"]))["state"] == "approved"
    paid = balances(session, project.organisation_id, trainer.id)
    assert paid["payable"] == 200
    results = f"{API}/projects/{project.id}/results"
    [before] = client.every_item(results, as_user=manager, limit=10)
    assert [a["answer"] for a in before["answers"]] == [{"reading": slot["id"]}]

    deletion = answered(client.post(f"{API}/me/recordings/deletion", as_user=trainer,
                                    json={"project_id": str(project.id)}))
    assert deletion == {"recordings_deleted": 1, "answers_withdrawn": 1}
    assert balances(session, project.organisation_id, trainer.id) == paid
    work = answered(client.get(f"{API}/me/assignments/{lease['id']}", as_user=trainer))
    assert work["state"] == "approved" and work["answer_withdrawn_at"] is not None
    assert files.store.read(f"uploads/{project.id}/{slot['id']}") is None
    assert_problem(client.post(f"{API}/uploads/{slot['id']}/download-link",
                               as_user=manager), 409, code="file-deleted")
    # The client's results lose the withdrawn answer, and an incremental sync from the
    # last change it read is told of it.
    synced = client.every_item(results, as_user=manager, limit=10,
                               updated_since=before["updated_at"])
    assert [(t["task_id"], t["answers"]) for t in synced] == [(before["task_id"], [])]
    assert synced[0]["updated_at"] > before["updated_at"]


def test_the_demo_read_aloud_task_takes_a_recording(
        client: ApiClient, session: Session, files: FileAccess) -> None:
    assert demo.seed(session) is not None
    session.commit()
    mei = session.scalars(select(User).where(User.email == demo.TRAINERS[0][0])).one()
    project = session.scalars(select(Project).where(
        Project.name == "Cantonese voice recordings: read aloud")).one()
    policy = answered(client.get(f"{API}/projects/{project.id}/recording-policy",
                                 as_user=mei))
    assert policy["retention_days"] == 365
    lease = claimed(client, mei, project)
    assert "旺角" in lease["payload"]["prompt"]
    slot = uploaded(client, files, mei, lease["id"], wav(8))
    answered(submit(client, mei, lease["id"], slot["id"]))


def test_a_data_export_holds_the_trainers_recordings(
        app: Flask, client: ApiClient, files: FileAccess, manager: User,
        trainer: User) -> None:
    project = voice_project(client, manager, trainer)
    lease = claimed(client, trainer, project)
    clip = wav(2)
    slot = uploaded(client, files, trainer, lease["id"], clip)
    answered(submit(client, trainer, lease["id"], slot["id"]))
    export = answered(client.post(f"{API}/me/data-exports", as_user=trainer), 202)
    assert run(app, "privacy.prepare_data_exports") == "data exports prepared: 1"
    archive = client.get(f"{API}/me/data-exports/{export['id']}/archive", as_user=trainer)
    with zipfile.ZipFile(io.BytesIO(archive.get_data())) as opened:
        assert opened.read(f"uploads/{slot['id']}.wav") == clip
        listed = json.loads(opened.read("uploads.json"))
        consents = json.loads(opened.read("recording_consents.json"))
    assert [(u["id"], u["duration_ms"]) for u in listed] == [(slot["id"], 2000)]
    assert [c["project_id"] for c in consents] == [str(project.id)]


def test_an_erasure_deletes_the_trainers_uploads(
        app: Flask, client: ApiClient, files: FileAccess, manager: User,
        trainer: User) -> None:
    long_lived(client, manager, trainer)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        project = voice_project(client, manager, trainer)
        lease = claimed(client, trainer, project)
        slot = uploaded(client, files, trainer, lease["id"], wav(2))
        answered(client.post(f"{API}/me/erasure", as_user=trainer,
                             json={"password": PASSWORD}), 202)
    with time_machine.travel(start + timedelta(days=7, minutes=1), tick=False):
        assert run(app, "privacy.carry_out_erasures") == "accounts erased: 1"
    assert files.store.read(f"uploads/{project.id}/{slot['id']}") is None
    gone = answered(client.get(f"{API}/uploads/{slot['id']}", as_user=manager))
    assert (gone["state"], gone["deletion_reason"]) == ("deleted", "erasure")
