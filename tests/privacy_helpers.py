"""A trainer with a record of every kind, built through the API and the factories, for
the data-export and erasure tests; and the archive read back."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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
    return rich


def _assessment(organisation: Organisation) -> Any:
    version = attempt_helpers.published_version(organisation, questions_per_attempt=1)
    factories.free_text_question(version, kind=QuestionKind.FREE_TEXT)
    return version


def run(app: Flask, name: str) -> str:
    return run_job(name, app.extensions["workforce"])


def archive_files(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}
