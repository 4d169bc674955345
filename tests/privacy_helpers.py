"""A trainer with a record of every kind, built through the API and the factories, for
the data-export and erasure tests; and the archive read back."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from flask import Flask
from sqlalchemy.orm import Session

from tests import attempt_helpers, factories, hourly_helpers, support_helpers, task_helpers
from tests.client import ApiClient
from tests.factories import StaffFactory, UserFactory
from workforce.accounts.models import Organisation, Role, User
from workforce.assessments.models import QuestionKind
from workforce.jobs import run_job
from workforce.projects.models import Project

API = "/api/v1"


@dataclass
class Rich:
    """A trainer who did a bit of everything, and the markers of what they wrote."""

    trainer: User
    organisation: Organisation
    project: Project
    reviewer: User
    marker: str
    ids: dict[str, str] = field(default_factory=dict)
    # What is shown once and must never be kept readable: a login token, the TOTP
    # secret and the recovery codes.
    secrets: list[str] = field(default_factory=list)


def rich_trainer(client: ApiClient, session: Session, marker: str, *,
                 project: Project | None = None, reviewer: User | None = None,
                 version: Any = None, hourly: Project | None = None) -> Rich:
    """A trainer with an assessment attempt (a free-text answer holding ``marker``),
    reviewed and paid task work, a flag and a check-in, logged hours, a payout, consents
    and notifications. Passing another ``Rich``'s project, reviewer, version and hourly
    project puts a second trainer beside the first on the same work."""
    trainer = UserFactory(display_name=f"Name {marker}", email=f"{marker.lower()}@example.org")
    project = project or support_helpers.sensitive_project(review_sample_percent=100)
    support_helpers.staffed_with_consent(project, trainer)
    organisation = session.get_one(Organisation, project.organisation_id)
    reviewer = reviewer or StaffFactory(role=Role.REVIEWER, organisation=organisation)
    attempt_helpers.sign_in_for_days(client, trainer, reviewer)
    rich = Rich(trainer, organisation, project, reviewer, marker)

    version = version or _assessment(organisation)
    attempt = attempt_helpers.started(client, trainer, version.assessment_id)
    question = attempt["questions"][0]["id"]
    saved = attempt_helpers.answer(client, trainer, attempt["id"], question,
                                   {"text": f"My essay {marker}"})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    attempt_helpers.submitted(client, trainer, attempt["id"])
    rich.ids["attempt"] = attempt["id"]
    factories.grant(trainer, version.assessment.qualification)

    support_helpers.tasks(project, 2, gold_answer={"label": "GOLD-ANSWER-KEPT-SECRET"})
    done = support_helpers.claimed(client, trainer, project)
    task_helpers.submitted(client, trainer, done["id"], answer=f"Answer {marker}")
    reviewed = task_helpers.review(client, reviewer, done["id"], "approve")
    assert reviewed.status_code == 200, reviewed.get_data(as_text=True)
    flagged = support_helpers.claimed(client, trainer, project)
    support_helpers.flagged(client, trainer, flagged["id"], note=f"Flag words {marker}",
                            need_support=True)
    checked = client.post(f"{API}/me/check-ins", as_user=trainer, json={
        "organisation_id": str(organisation.id), "mood": 2, "note": f"Feeling {marker}"})
    assert checked.status_code == 201, checked.get_data(as_text=True)
    rich.ids.update(assignment=done["id"], flagged=flagged["id"])

    hourly = hourly or factories.hourly_project(manager=StaffFactory(organisation=organisation))
    factories.staff(hourly, trainer)
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    entry = hourly_helpers.logged(client, trainer, hourly, ended - timedelta(hours=1), ended)
    rich.ids["time_entry"] = entry["id"]

    factories.payout_account(trainer)
    factories.earned(trainer, organisation.id, 1500, project=project)
    rich.ids["payout"] = str(factories.paid_out(trainer, organisation.id, 1000).id)
    _signed_in_with_rights(client, rich)
    return rich


VERIFY_TOKEN = re.compile(r"wfv_[A-Za-z0-9_-]{43}")


def _signed_in_with_rights(client: ApiClient, rich: Rich) -> None:
    """The trainer's sign-in records (a verified address, a login from a named browser,
    an authenticator with recovery codes), refused uses, and an account action taken
    through its whole due process (response, decision, appeal, overturned)."""
    trainer, marker = rich.trainer, rich.marker
    _verified_by_mail(client, trainer)
    login = client.post(f"{API}/auth/login", headers={"User-Agent": f"Browser {marker}/1.0"},
                        json={"email": trainer.email, "password": factories.PASSWORD})
    assert login.status_code == 200, login.get_data(as_text=True)
    rich.ids["session"] = login.get_json()["token_id"]
    started = client.post(f"{API}/me/mfa/totp", as_user=trainer, json={})
    assert started.status_code == 201, started.get_data(as_text=True)
    secret = started.get_json()["secret"]
    confirmed = client.post(f"{API}/me/mfa/totp/confirm", as_user=trainer,
                            json={"code": pyotp.TOTP(secret).now()})
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    rich.secrets += [login.get_json()["token"], secret, *confirmed.get_json()["recovery_codes"]]
    refused = client.request("PUT", f"{API}/me/work-preferences", as_user=trainer,
                         json={"refused_uses": ["military", "surveillance"]})
    assert refused.status_code == 200, refused.get_data(as_text=True)
    rich.ids["account_action"] = _overturned_action(client, rich)


def _verified_by_mail(client: ApiClient, trainer: User) -> None:
    session = client.session
    trainer.email_verified_at = None
    session.commit()
    sender = client.client.application.extensions["workforce"].outbox.sender
    assert client.post(f"{API}/me/email-verification", as_user=trainer, json={}
                       ).status_code == 202
    token = next(t for email in reversed(sender.sent) if email.to == trainer.email
                 for t in VERIFY_TOKEN.findall(email.body))
    assert client.post(f"{API}/auth/email-verification/confirm", json={"token": token}
                       ).status_code == 204


def _overturned_action(client: ApiClient, rich: Rich) -> str:
    manager = StaffFactory(organisation=rich.organisation)
    admin = StaffFactory(role=Role.ADMIN, organisation=rich.organisation)
    announced = client.post(f"{API}/account-actions", as_user=manager, json={
        "trainer_id": str(rich.trainer.id), "kind": "restrict", "reason": "quality",
        "explanation": "Your answers disagreed with the gold set."})
    assert announced.status_code == 201, announced.get_data(as_text=True)
    action = announced.get_json()["id"]
    mine, staff = f"{API}/me/account-actions/{action}", f"{API}/account-actions/{action}"
    steps = [
        (f"{mine}/response", rich.trainer, {"response": f"My response {rich.marker}"}),
        (f"{staff}/decision", manager, {"outcome": "uphold", "note": "Upheld."}),
        (f"{mine}/appeal", rich.trainer, {"appeal": f"My appeal {rich.marker}"}),
        (f"{staff}/appeal-decision", admin, {"outcome": "overturn", "note": "Overturned."}),
    ]
    for url, who, body in steps:
        answer = client.post(url, as_user=who, json=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    return action


def _assessment(organisation: Organisation) -> Any:
    version = attempt_helpers.published_version(organisation, questions_per_attempt=1)
    factories.free_text_question(version, kind=QuestionKind.FREE_TEXT)
    return version


def run(app: Flask, name: str) -> str:
    return run_job(name, app.extensions["workforce"])


def archive_files(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}
