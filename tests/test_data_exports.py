"""A trainer's export of their own data: asked for through the API, prepared by the
scheduler's job, downloaded by its owner alone for a day, then deleted."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import StaffFactory, UserFactory, token_for
from tests.privacy_helpers import API, archive_files, rich_trainer, run
from workforce.accounts.models import AuditEvent, Role, User
from workforce.cli import main
from workforce.privacy.models import DataExport, ExportState

EXPORTS = f"{API}/me/data-exports"


def _ready_export(client: ApiClient, app: Flask, trainer) -> dict:
    asked = client.post(EXPORTS, as_user=trainer)
    assert asked.status_code == 202, asked.get_data(as_text=True)
    assert asked.get_json()["state"] == "requested"
    assert run(app, "privacy.prepare_data_exports") == "data exports prepared: 1"
    shown = client.get(f"{EXPORTS}/{asked.get_json()['id']}", as_user=trainer).get_json()
    assert shown["state"] == "ready"
    return shown


def test_the_archive_holds_every_kind_of_record_and_nothing_of_anyone_else(
    client: ApiClient, session: Session, app: Flask
) -> None:
    mine = rich_trainer(client, session, "ZEPHYRINE")
    other = rich_trainer(client, session, "QUENTIN", project=mine.project,
                         reviewer=mine.reviewer)
    export = _ready_export(client, app, mine.trainer)

    response = client.get(export["archive_url"], as_user=mine.trainer)
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    files = archive_files(response.data)

    expected = {"profile", "qualifications", "assessment_attempts", "assessment_answers",
                "project_memberships", "task_assignments", "time_entries", "timesheets",
                "earnings", "ledger_accounts", "ledger_lines", "payout_account", "payouts",
                "content_flags", "check_ins", "support_cases", "content_consents",
                "age_attestation", "notifications", "work_preferences", "account_actions",
                "sessions", "second_factor", "recovery_codes", "email_verifications",
                "data_exports"}
    for name in expected:
        rows = json.loads(files[f"{name}.json"])
        assert rows, f"{name} is empty"
        assert files[f"{name}.csv"].count("\n") >= len(rows) + 1, name
    assert set(json.loads(files["manifest.json"])["files"]) >= {f"{n}.csv" for n in expected}
    everything = "\n".join(files.values())
    for record in mine.ids.values():
        assert record in everything
    for words in ("My essay ZEPHYRINE", "Answer ZEPHYRINE", "Flag words ZEPHYRINE",
                  "Feeling ZEPHYRINE", mine.trainer.email):
        assert words in everything, words
    profile = json.loads(files["profile.json"])[0]
    assert profile["email"] == mine.trainer.email and "password_hash" not in profile
    assert profile["email_verified"] is True and profile["second_factor_enrolled"] is True
    _the_rights_records_are_whole(session, files, mine)
    ledger = json.loads(files["ledger_lines.json"])
    assert sum(line["amount"] for line in ledger) == sum(
        account["balance"] for account in json.loads(files["ledger_accounts.json"]))

    # Nothing of the other trainer, of the reviewer or of the answer keys, in any file.
    strangers = [str(other.trainer.id), other.trainer.email, other.trainer.display_name,
                 "QUENTIN", *other.ids.values(), *other.secrets, str(mine.reviewer.id),
                 mine.reviewer.email, mine.reviewer.display_name, "GOLD-ANSWER-KEPT-SECRET"]
    for name, text in files.items():
        found = [value for value in strangers if value in text]
        assert not found, f"{name} holds {found}"


def _the_rights_records_are_whole(session: Session, files: dict[str, str], mine) -> None:
    """The account action with its whole history, the sessions, the second factor and the
    refused uses: theirs alone, and never a secret or a staff member's name."""
    everything = "\n".join(files.values())
    [action] = json.loads(files["account_actions.json"])
    assert (action["id"], action["state"], action["reason"]) == (
        mine.ids["account_action"], "overturned", "quality")
    assert action["response"] == "My response ZEPHYRINE"
    assert action["appeal"] == "My appeal ZEPHYRINE"
    assert (action["decision_note"], action["appeal_note"]) == ("Upheld.", "Overturned.")
    assert action["explanation"] and action["organisation"] == mine.organisation.name
    # The staff ids the trainer sees at GET /me/account-actions; nothing more of them.
    staff = [session.get_one(User, uuid.UUID(action[key]))
             for key in ("created_by_id", "decided_by_id", "appeal_decided_by_id")]
    for person in staff:
        assert person.email not in everything and person.display_name not in everything

    sessions = json.loads(files["sessions.json"])
    login = next(row for row in sessions if row["id"] == mine.ids["session"])
    assert login["user_agent"] == "Browser ZEPHYRINE/1.0" and login["client_address"]
    assert all("token_hash" not in row for row in sessions)
    [factor] = json.loads(files["second_factor.json"])
    assert factor["confirmed_at"] and "secret" not in factor
    codes = json.loads(files["recovery_codes.json"])
    assert len(codes) == 10 and all(set(row) == {"id", "created_at", "used_at"}
                                    for row in codes)
    for secret in mine.secrets:
        assert secret not in everything
    [verification] = json.loads(files["email_verifications.json"])
    assert verification["used_at"]
    assert [row["refused_uses"] for row in json.loads(files["work_preferences.json"])] == [
        ["military", "surveillance"]]


def test_one_export_is_prepared_at_a_time_and_the_job_runs_by_hand(
    client: ApiClient, session: Session, app: Flask
) -> None:
    trainer = UserFactory()
    assert client.post(EXPORTS, as_user=trainer).status_code == 202
    assert_problem(client.post(EXPORTS, as_user=trainer), 409, code="export-pending")
    pending = client.get(EXPORTS, as_user=trainer).get_json()["items"][0]
    assert pending["archive_url"] is None
    assert_problem(client.get(f"{EXPORTS}/{pending['id']}/archive", as_user=trainer), 409,
                   code="export-not-ready")

    result = app.test_cli_runner().invoke(main, ["jobs", "run", "privacy.prepare_data_exports"],
                                          catch_exceptions=False)
    assert result.exit_code == 0 and "data exports prepared: 1" in result.output
    assert run(app, "privacy.prepare_data_exports") == "nothing to do"
    assert client.post(EXPORTS, as_user=trainer).status_code == 202  # the next one
    listed = client.every_item(EXPORTS, as_user=trainer, limit=1)
    assert [item["state"] for item in listed] == ["requested", "ready"]
    session.expire_all()
    actions = set(session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_id.in_([item["id"] for item in listed]))))
    assert actions == {"data_export.requested", "data_export.ready"}


def test_only_the_owner_downloads_and_the_download_is_audited(
    client: ApiClient, session: Session, app: Flask
) -> None:
    owner, stranger = UserFactory(), UserFactory()
    export = _ready_export(client, app, owner)
    for path in (f"{EXPORTS}/{export['id']}", export["archive_url"]):
        assert_problem(client.get(path, as_user=stranger), 404)
    assert client.get(EXPORTS, as_user=stranger).get_json()["items"] == []
    manager = StaffFactory()
    assert_problem(client.get(export["archive_url"], as_user=manager), 403,
                   code="role-forbidden")

    assert client.get(export["archive_url"], as_user=owner).status_code == 200
    downloads = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "data_export.downloaded",
        AuditEvent.object_id == export["id"])).all()
    assert [event.actor_id for event in downloads] == [owner.id]


def test_an_export_expires_after_a_day_and_the_job_deletes_it(
    client: ApiClient, session: Session, app: Flask
) -> None:
    owner = UserFactory()
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        client._tokens[owner.id] = token_for(owner, lifetime=timedelta(days=3))
        export = _ready_export(client, app, owner)
    row = session.get(DataExport, uuid.UUID(export["id"]))
    assert row is not None and row.storage_key
    stored = Path(app.extensions["workforce"].settings.data_export_dir) / row.storage_key
    assert stored.exists()

    with time_machine.travel(start + timedelta(hours=23), tick=False):
        assert client.get(export["archive_url"], as_user=owner).status_code == 200
        assert run(app, "privacy.delete_expired_exports") == "nothing to do"
    with time_machine.travel(start + timedelta(days=1, seconds=1), tick=False):
        # Expired when read, before the job has run.
        assert_problem(client.get(export["archive_url"], as_user=owner), 409,
                       code="export-expired")
        assert client.get(f"{EXPORTS}/{export['id']}", as_user=owner).get_json()["state"] \
            == "expired"
        assert run(app, "privacy.delete_expired_exports") == "expired data exports deleted: 1"
    session.expire_all()
    assert row.state is ExportState.EXPIRED and row.storage_key is None
    assert not stored.exists()


def test_staff_have_no_data_exports(client: ApiClient) -> None:
    for role in (Role.ADMIN, Role.FINANCE):
        assert_problem(client.post(EXPORTS, as_user=StaffFactory(role=role)), 403,
                       code="role-forbidden")


def test_a_trainer_asks_for_a_few_exports_a_day(
    client: ApiClient, session: Session, app: Flask
) -> None:
    """Each export reads all of a trainer's records: three accepted a day (a refusal for
    one still in preparation does not count), then 429 until the day has passed."""
    trainer, other = UserFactory(), UserFactory()
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        client._tokens[trainer.id] = token_for(trainer, lifetime=timedelta(days=3))
        for number in range(3):
            assert client.post(EXPORTS, as_user=trainer).status_code == 202
            if number == 0:
                assert_problem(client.post(EXPORTS, as_user=trainer), 409,
                               code="export-pending")
            assert run(app, "privacy.prepare_data_exports") == "data exports prepared: 1"
        refused = assert_problem(client.post(EXPORTS, as_user=trainer), 429,
                                 code="rate-limited")
        assert refused["detail"]
        assert client.post(EXPORTS, as_user=other).status_code == 202  # their own budget
    assert session.scalar(select(func.count()).select_from(DataExport).where(
        DataExport.user_id == trainer.id)) == 3
    with time_machine.travel(start + timedelta(days=1, minutes=1), tick=False):
        assert client.post(EXPORTS, as_user=trainer).status_code == 202
