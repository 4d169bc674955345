"""Building published assessments and driving attempts through the API, for the
attempt and grading tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from werkzeug.test import TestResponse

from tests.client import ApiClient
from tests.factories import (
    AssessmentFactory,
    AssessmentVersionFactory,
    QualificationFactory,
    QuestionFactory,
    token_for,
)
from workforce.accounts.models import Organisation, User
from workforce.assessments.models import AssessmentVersion, MediaKind, Question, QuestionKind

ME = "/api/v1/me"


def sign_in_for_days(client: ApiClient, *users: User) -> None:
    """Tokens that outlive the hours these tests travel through."""
    for user in users:
        client._tokens[user.id] = token_for(user, lifetime=timedelta(days=60))


def published_version(
    organisation: Organisation | None = None, *, title: str = "An assessment",
    validity_days: int | None = None, **version_fields: Any,
) -> AssessmentVersion:
    qualification_fields: dict[str, Any] = {"validity_days": validity_days}
    if organisation is not None:
        qualification_fields["organisation"] = organisation
    qualification = QualificationFactory(**qualification_fields)
    assessment = AssessmentFactory(qualification=qualification, title=title)
    return AssessmentVersionFactory(assessment=assessment, **version_fields)


def region_question(version: AssessmentVersion, **kwargs: Any) -> Question:
    """The listening question: which region is this Cantonese speaker from?"""
    fields: dict[str, Any] = {
        "kind": QuestionKind.SINGLE_CHOICE,
        "prompt": "Which region is this speaker from?",
        "media_url": "https://media.example.org/yue/clip-017.mp3",
        "media_kind": MediaKind.AUDIO,
        "options": [{"id": "hk", "text": "Hong Kong"}, {"id": "gz", "text": "Guangzhou"}],
        "answer_key": {"correct": ["hk"]},
        "points": 2,
        "feedback": "Listen for the merged n/l initials typical of Hong Kong speech.",
    }
    return QuestionFactory(version=version, **{**fields, **kwargs})


def start(client: ApiClient, trainer: User, assessment_id: Any) -> TestResponse:
    return client.post(f"{ME}/assessments/{assessment_id}/attempts", as_user=trainer)


def started(client: ApiClient, trainer: User, assessment_id: Any) -> dict[str, Any]:
    response = start(client, trainer, assessment_id)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def answer(
    client: ApiClient, trainer: User, attempt_id: Any, question_id: Any, body: dict[str, Any]
) -> TestResponse:
    return client.request(
        "PUT", f"{ME}/attempts/{attempt_id}/answers/{question_id}", as_user=trainer, json=body
    )


def submit(client: ApiClient, trainer: User, attempt_id: Any) -> TestResponse:
    return client.post(f"{ME}/attempts/{attempt_id}/submit", as_user=trainer)


def submitted(client: ApiClient, trainer: User, attempt_id: Any) -> dict[str, Any]:
    response = submit(client, trainer, attempt_id)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()
