"""Trainers taking assessments through the API: the marketplace, starting, answering,
submitting, auto-grading, time limits, cooldowns, stipends and what is never shown."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.attempt_helpers import (
    ME,
    answer,
    published_version,
    region_question,
    sign_in_for_days,
    start,
    started,
    submit,
    submitted,
)
from tests.client import ApiClient, assert_problem
from tests.factories import (
    AssessmentFactory,
    AssessmentVersionFactory,
    OrganisationFactory,
    QuestionFactory,
    StaffFactory,
    UserFactory,
    free_text_question,
)
from workforce import clock
from workforce.accounts.models import AuditEvent, Organisation, User
from workforce.assessments import attempts as attempts_service
from workforce.assessments import jobs as assessments_jobs
from workforce.assessments.models import (
    AssessmentState,
    AssessmentVersion,
    Attempt,
    AttemptAnswer,
    AttemptState,
    CloseReason,
    PartialCredit,
    QualificationStatus,
    QuestionKind,
    TrainerQualification,
)
from workforce.billing.models import EarningEvent
from workforce.db import Database
from workforce.errors import Conflict
from workforce.notifications.models import Notification
from workforce.notifications.senders import MemorySender


@pytest.fixture
def trainer(session: Session) -> User:
    return UserFactory(display_name="Chan Tai Man")


@pytest.fixture
def listening(session: Session) -> AssessmentVersion:
    """A paid Cantonese listening test: one audio question and one short answer."""
    organisation = OrganisationFactory(name="Pearl River Voices")
    version = published_version(
        organisation, title="Cantonese accents: Hong Kong or Guangzhou?", validity_days=365,
        instructions="Use headphones. Each clip plays as often as you like.",
        time_limit_seconds=1200, expected_duration_seconds=600, pass_mark_percent=75,
        stipend_amount=450, stipend_currency="USD", show_feedback=True, max_attempts=2,
    )
    qualification = version.assessment.qualification
    qualification.code, qualification.name = "yue-hk-listening", "Hong Kong Cantonese listening"
    region_question(version, position=1)
    QuestionFactory(
        version=version, position=2, kind=QuestionKind.SHORT_ANSWER, options=[],
        prompt="Which district does the speaker name?", points=2,
        answer_key={"accepted": ["Sham Shui Po", "深水埗"]},
    )
    session.commit()
    return version


def _questions_by_kind(attempt: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {q["kind"]: q for q in attempt["questions"]}


def _record_id(session: Session, trainer: User) -> uuid.UUID:
    return session.scalars(
        select(TrainerQualification.id).where(TrainerQualification.trainer_id == trainer.id)
    ).one()


def _count(session: Session, model: type, *conditions: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


# --- the whole listening test --------------------------------------------------------


def test_listening_test_from_marketplace_to_qualification(
    client: ApiClient, session: Session, trainer: User, listening: AssessmentVersion
) -> None:
    assessment = listening.assessment
    market = client.get(f"{ME}/assessments", as_user=trainer)
    assert market.status_code == 200
    [entry] = [e for e in market.get_json()["items"] if e["id"] == str(assessment.id)]
    assert entry == {
        "id": str(assessment.id),
        "title": "Cantonese accents: Hong Kong or Guangzhou?",
        "organisation": {"id": str(assessment.organisation_id), "name": "Pearl River Voices"},
        "qualification": {
            "id": str(assessment.qualification_id), "code": "yue-hk-listening",
            "name": "Hong Kong Cantonese listening", "locale": "yue-HK",
        },
        "version_number": 1,
        "instructions": "Use headphones. Each clip plays as often as you like.",
        "time_limit_seconds": 1200, "expected_duration_seconds": 600,
        "questions_per_attempt": 20, "pass_mark_percent": 75,
        "stipend": {"amount": 450, "currency": "USD"}, "stipend_min_answers": 1,
        "attempts_used": 0, "max_attempts": 2, "availability": "available",
        "open_attempt_id": None, "next_start_at": None,
    }

    attempt = started(client, trainer, assessment.id)
    assert attempt["state"] == "open" and attempt["number"] == 1
    assert attempt["version_number"] == 1
    started_at = datetime.fromisoformat(attempt["started_at"])
    assert datetime.fromisoformat(attempt["deadline_at"]) == started_at + timedelta(seconds=1200)
    assert attempt["max_points"] == 4
    questions = _questions_by_kind(attempt)
    region = questions["single_choice"]
    assert region == {
        "id": region["id"], "kind": "single_choice",
        "prompt": "Which region is this speaker from?",
        "media_url": "https://media.example.org/yue/clip-017.mp3", "media_kind": "audio",
        "options": [{"id": "hk", "text": "Hong Kong"}, {"id": "gz", "text": "Guangzhou"}],
        "max_points": 2, "answer": None, "saved_at": None, "points": None, "feedback": None,
    }

    saved = answer(client, trainer, attempt["id"], region["id"], {"option_id": "hk"})
    assert saved.status_code == 200
    assert saved.get_json()["answer"] == {"option_id": "hk"}
    district = questions["short_answer"]
    assert answer(client, trainer, attempt["id"], district["id"],
                  {"text": "  sham shui   PO "}).status_code == 200
    # Overwriting keeps one answer per question.
    assert answer(client, trainer, attempt["id"], region["id"],
                  {"option_id": "hk"}).status_code == 200
    again = client.get(f"{ME}/attempts/{attempt['id']}", as_user=trainer).get_json()
    assert _questions_by_kind(again)["single_choice"]["answer"] == {"option_id": "hk"}
    assert again["score_percent"] is None and again["passed"] is None
    assert again["stipend"] == {
        "amount": 450, "currency": "USD", "min_answers": 1, "answered": 2, "status": "pending",
        "message": "You have answered 2 questions, enough for the stipend of 4.50 USD; it is "
                   "paid when the attempt closes.",
    }

    result = submitted(client, trainer, attempt["id"])
    assert result["state"] == "graded" and result["close_reason"] == "submitted"
    assert result["score_percent"] == "100.00" and result["passed"] is True
    assert result["total_points"] == 4
    graded = _questions_by_kind(result)
    assert graded["single_choice"]["points"] == 2
    assert graded["single_choice"]["feedback"].startswith("Listen for the merged")
    assert graded["short_answer"]["points"] == 2
    assert (result["stipend"]["status"], result["stipend"]["message"]) == (
        "paid", "Paid: 4.50 USD.")

    record = session.scalars(
        select(TrainerQualification).where(TrainerQualification.trainer_id == trainer.id)
    ).one()
    assert record.status is QualificationStatus.GRANTED
    assert record.qualification_id == assessment.qualification_id
    assert record.score_percent == Decimal("100.00")
    assert record.attempt_id == uuid.UUID(attempt["id"])
    assert record.expires_at == record.granted_at + timedelta(days=365)

    [note] = session.scalars(
        select(Notification).where(
            Notification.user_id == trainer.id, Notification.kind == "attempt.graded"
        )
    ).all()
    assert "100.00%" in note.body and note.data["passed"] is True
    actions = set(session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.organisation_id == assessment.organisation_id,
            AuditEvent.actor_label == "assessments",
        )
    ))
    assert actions == {"attempt.graded", "qualification.granted"}
    [earning] = session.scalars(
        select(EarningEvent).where(EarningEvent.source_id == uuid.UUID(attempt["id"]))
    ).all()
    assert (earning.amount, earning.currency, earning.trainer_id) == (450, "USD", trainer.id)

    # Passed, and the qualification is held: the assessment is not offered again.
    market = client.get(f"{ME}/assessments", as_user=trainer).get_json()
    [entry] = [e for e in market["items"] if e["id"] == str(assessment.id)]
    assert (entry["attempts_used"], entry["availability"]) == (1, "passed")
    assert datetime.fromisoformat(entry["next_start_at"]) == record.expires_at


def test_a_wrong_answer_fails_but_is_paid_and_recorded_as_failed(
    client: ApiClient, session: Session, trainer: User, listening: AssessmentVersion
) -> None:
    attempt = started(client, trainer, listening.assessment_id)
    region = _questions_by_kind(attempt)["single_choice"]
    answer(client, trainer, attempt["id"], region["id"], {"option_id": "gz"})
    result = submitted(client, trainer, attempt["id"])
    assert (result["score_percent"], result["passed"]) == ("0.00", False)
    record = session.scalars(
        select(TrainerQualification).where(TrainerQualification.trainer_id == trainer.id)
    ).one()
    assert record.status is QualificationStatus.FAILED and record.expires_at is None
    assert _count(session, EarningEvent, EarningEvent.trainer_id == trainer.id) == 1


# --- nothing the trainer must not see ------------------------------------------------

SECRET_ACCEPTED = "zebra-crossing-7781"
SECRET_DESCRIPTOR = "Names all four tones unprompted"
OTHER_TRAINERS_TEXT = "another trainer's essay, private"
KEY_FIELDS = {"answer_key", "correct", "accepted", "tolerance", "numeric", "rubric",
              "levels", "descriptor", "partial_credit", "trainer_id", "email"}


def _keys(value: Any) -> set[str]:
    """Every object key anywhere in a JSON document."""
    if isinstance(value, dict):
        return set(value).union(*(_keys(inner) for inner in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(inner) for inner in value))
    return set()


def test_no_trainer_response_carries_an_answer_key_or_another_trainers_answer(
    client: ApiClient, session: Session, trainer: User
) -> None:
    version = published_version(show_feedback=True, pass_mark_percent=10)
    region_question(version, position=1)
    QuestionFactory(
        version=version, position=2, kind=QuestionKind.MULTIPLE_CHOICE,
        options=[{"id": "tone", "text": "Tones"}, {"id": "final", "text": "Finals"},
                 {"id": "stop", "text": "Stops", "correct": True}],
        answer_key={"correct": ["tone", "stop"]}, partial_credit=PartialCredit.PROPORTIONAL,
        points=4,
    )
    QuestionFactory(
        version=version, position=3, kind=QuestionKind.SHORT_ANSWER, options=[],
        answer_key={"accepted": [SECRET_ACCEPTED], "numeric": False},
    )
    free_text_question(version, position=4, rubric=[{
        "id": "tones", "name": "Tones", "max_points": 3,
        "levels": [{"points": 3, "descriptor": SECRET_DESCRIPTOR}],
    }])
    session.commit()
    other = UserFactory()
    theirs = started(client, other, version.assessment_id)
    free = _questions_by_kind(theirs)["free_text"]
    answer(client, other, theirs["id"], free["id"], {"text": OTHER_TRAINERS_TEXT})

    bodies = [client.get(f"{ME}/assessments", as_user=trainer)]
    bodies.append(start(client, trainer, version.assessment_id))
    attempt = bodies[-1].get_json()
    by_kind = _questions_by_kind(attempt)
    for kind, body in (("single_choice", {"option_id": "gz"}),
                       ("multiple_choice", {"option_ids": ["tone"]}),
                       ("short_answer", {"text": "no idea"}),
                       ("free_text", {"text": ""})):
        bodies.append(answer(client, trainer, attempt["id"], by_kind[kind]["id"], body))
    bodies.append(client.get(f"{ME}/attempts/{attempt['id']}", as_user=trainer))
    bodies.append(client.get(f"{ME}/attempts", as_user=trainer))
    bodies.append(submit(client, trainer, attempt["id"]))
    bodies.append(client.get(f"{ME}/attempts/{attempt['id']}", as_user=trainer))
    bodies.append(client.get(f"{ME}/attempts/{theirs['id']}", as_user=trainer))  # 404

    final = bodies[-2].get_json()
    assert final["state"] == "graded" and final["passed"] is True  # 2 of 10 points
    assert _questions_by_kind(final)["multiple_choice"]["points"] == 2  # one of two right
    assert _questions_by_kind(final)["multiple_choice"]["options"][2] == {
        "id": "stop", "text": "Stops"
    }
    for response in bodies:
        assert response.status_code in (200, 201, 404), response.get_data(as_text=True)
        keys = _keys(response.get_json())
        assert not keys & KEY_FIELDS, (response.request.path, keys & KEY_FIELDS)
        text = json.dumps(response.get_json(), ensure_ascii=False)
        for secret in (SECRET_ACCEPTED, SECRET_DESCRIPTOR, OTHER_TRAINERS_TEXT, str(other.id)):
            assert secret not in text, (response.request.path, secret)


# --- starting ------------------------------------------------------------------------


def test_refusals_to_start_name_their_reason(
    client: ApiClient, session: Session, trainer: User
) -> None:
    version = published_version(max_attempts=2, cooldown_seconds=3600)
    region_question(version)
    session.commit()
    sign_in_for_days(client, trainer)
    assessment_id = version.assessment_id

    first = started(client, trainer, assessment_id)
    body = assert_problem(start(client, trainer, assessment_id), 409, code="attempt-open")
    assert body["attempt_id"] == first["id"]

    closed = submitted(client, trainer, first["id"])
    until = datetime.fromisoformat(closed["closed_at"]) + timedelta(seconds=3600)
    body = assert_problem(start(client, trainer, assessment_id), 409, code="cooldown")
    assert datetime.fromisoformat(body["until"]) == until
    entry = client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"][0]
    assert entry["availability"] == "cooldown"
    assert datetime.fromisoformat(entry["next_start_at"]) == until

    with time_machine.travel(until - timedelta(seconds=1), tick=False):
        assert_problem(start(client, trainer, assessment_id), 409, code="cooldown")
    with time_machine.travel(until, tick=False):
        second = started(client, trainer, assessment_id)
        assert second["number"] == 2
        submitted(client, trainer, second["id"])
    with time_machine.travel(until + timedelta(days=30), tick=False):
        body = assert_problem(start(client, trainer, assessment_id), 409,
                              code="attempts-exhausted")
        assert (body["attempts_used"], body["max_attempts"]) == (2, 2)
        entry = client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"][0]
        assert (entry["availability"], entry["attempts_used"]) == ("exhausted", 2)
    assert _count(session, Attempt, Attempt.trainer_id == trainer.id) == 2


def test_only_published_assessments_can_be_started(
    client: ApiClient, session: Session, trainer: User
) -> None:
    draft = published_version(published_at=None)
    draft.assessment.state = AssessmentState.DRAFT
    archived = published_version()
    archived.assessment.state = AssessmentState.ARCHIVED
    unpublished = published_version(published_at=None)  # published state, no version out
    for version in (draft, archived, unpublished):
        region_question(version)
    session.commit()
    for assessment_id in (draft.assessment_id, archived.assessment_id,
                          unpublished.assessment_id, uuid.uuid4()):
        assert_problem(start(client, trainer, assessment_id), 404, code="not-found")
    listed = {e["id"] for e in client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"]}
    assert not listed & {str(v.assessment_id) for v in (draft, archived, unpublished)}
    assert _count(session, Attempt) == 0


def test_an_attempt_draws_its_questions_at_random_from_the_pool(
    client: ApiClient, session: Session
) -> None:
    version = published_version(questions_per_attempt=3, max_attempts=50)
    pool = {str(QuestionFactory(version=version, points=n).id): n for n in range(1, 7)}
    small = published_version(questions_per_attempt=5)
    small_pool = {str(QuestionFactory(version=small).id) for _ in range(2)}
    session.commit()
    orders = set()
    for _ in range(8):
        trainer = UserFactory()
        attempt = started(client, trainer, version.assessment_id)
        ids = [q["id"] for q in attempt["questions"]]
        assert len(ids) == len(set(ids)) == 3 and set(ids) <= set(pool)
        assert attempt["max_points"] == sum(pool[i] for i in ids)
        stored = session.get(Attempt, uuid.UUID(attempt["id"]))
        assert stored.question_ids == ids  # served in the stored order
        orders.add(tuple(ids))
        whole = started(client, trainer, small.assessment_id)
        assert {q["id"] for q in whole["questions"]} == small_pool
    assert len(orders) > 1  # 120 possible draws; eight identical ones would not be random


def test_two_starts_racing_past_the_checks_meet_the_unique_index(
    session: Session, trainer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = published_version()
    region_question(version)
    session.commit()
    # Both requests passed the "no open attempt" check before either wrote.
    monkeypatch.setattr(attempts_service, "_check_may_start", lambda *_: None)
    first = attempts_service.start_attempt(session, trainer, version.assessment_id)
    with pytest.raises(Conflict) as refused:
        attempts_service.start_attempt(session, trainer, version.assessment_id)
    assert refused.value.code == "attempt-open"
    assert refused.value.extra["attempt_id"] == str(first.id)
    session.commit()
    assert _count(session, Attempt, Attempt.trainer_id == trainer.id) == 1


def test_a_new_version_does_not_change_an_open_attempt(
    client: ApiClient, session: Session, trainer: User
) -> None:
    v1 = published_version(max_attempts=5)
    old_question = region_question(v1)
    session.commit()
    attempt = started(client, trainer, v1.assessment_id)

    v2 = AssessmentVersionFactory(assessment=v1.assessment, number=2, max_attempts=5)
    new_question = region_question(v2, prompt="Which city is this speaker from?")
    AssessmentVersionFactory(assessment=v1.assessment, number=3, published_at=None)  # a draft
    session.commit()

    now = client.get(f"{ME}/attempts/{attempt['id']}", as_user=trainer).get_json()
    assert now["version_number"] == 1
    assert [q["id"] for q in now["questions"]] == [str(old_question.id)]
    assert answer(client, trainer, attempt["id"], old_question.id,
                  {"option_id": "hk"}).status_code == 200
    assert_problem(answer(client, trainer, attempt["id"], new_question.id, {"option_id": "hk"}),
                   404, code="not-found")
    result = submitted(client, trainer, attempt["id"])
    assert result["version_number"] == 1 and result["passed"] is True
    # A pass closes the assessment to the trainer while the qualification holds.
    session.get(TrainerQualification, _record_id(session, trainer)).expires_at = clock.now()
    session.commit()

    market = client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"][0]
    assert market["version_number"] == 2
    following = started(client, trainer, v1.assessment_id)
    assert following["version_number"] == 2
    assert [q["id"] for q in following["questions"]] == [str(new_question.id)]
    assert session.get(Attempt, uuid.UUID(following["id"])).version_id == v2.id


# --- answering -----------------------------------------------------------------------


@pytest.fixture
def mixed(session: Session) -> AssessmentVersion:
    version = published_version()
    region_question(version, position=1)
    QuestionFactory(
        version=version, position=2, kind=QuestionKind.MULTIPLE_CHOICE,
        options=[{"id": "a", "text": "A"}, {"id": "b", "text": "B"}, {"id": "c", "text": "C"}],
        answer_key={"correct": ["a", "c"]},
    )
    QuestionFactory(version=version, position=3, kind=QuestionKind.SHORT_ANSWER, options=[],
                    answer_key={"accepted": ["42"], "numeric": True, "tolerance": "0.5"})
    free_text_question(version, position=4)
    session.commit()
    return version


@pytest.mark.parametrize(
    ("kind", "body", "fields"),
    [
        ("single_choice", {"option_id": "tokyo"}, {"option_id"}),
        ("single_choice", {"text": "Hong Kong"}, {"option_id", "text"}),
        ("single_choice", {}, {"option_id"}),
        ("single_choice", {"option_id": 7}, {"option_id"}),
        ("multiple_choice", {"option_ids": ["a", "a"]}, {"option_ids"}),
        ("multiple_choice", {"option_ids": ["a", "z"]}, {"option_ids"}),
        ("multiple_choice", {"option_id": "a"}, {"option_id", "option_ids"}),
        ("short_answer", {"text": "x" * 1001}, {"text"}),
        ("short_answer", {"option_ids": []}, {"text", "option_ids"}),
        ("free_text", {"text": "x" * 20_001}, {"text"}),
        ("free_text", {"text": "ok", "colour": "red"}, {"colour"}),
    ],
)
def test_an_answer_that_does_not_fit_its_question_is_422(
    client: ApiClient, session: Session, trainer: User, mixed: AssessmentVersion,
    kind: str, body: dict, fields: set[str],
) -> None:
    attempt = started(client, trainer, mixed.assessment_id)
    question = _questions_by_kind(attempt)[kind]
    problem = assert_problem(answer(client, trainer, attempt["id"], question["id"], body), 422)
    assert set(problem["errors"]) == fields, problem
    assert _count(session, AttemptAnswer) == 0


def test_answers_of_every_kind_are_saved_and_graded(
    client: ApiClient, session: Session, trainer: User, mixed: AssessmentVersion
) -> None:
    attempt = started(client, trainer, mixed.assessment_id)
    by_kind = _questions_by_kind(attempt)
    for kind, body in (("single_choice", {"option_id": "hk"}),
                       ("multiple_choice", {"option_ids": ["c", "a"]}),
                       ("short_answer", {"text": "\uff14\uff12.\uff14"}),
                       ("free_text", {"text": "  The speaker merges n and l.  "})):
        response = answer(client, trainer, attempt["id"], by_kind[kind]["id"], body)
        assert response.status_code == 200, response.get_data(as_text=True)
    result = submitted(client, trainer, attempt["id"])
    assert result["state"] == "awaiting_grading"
    stored = session.get(Attempt, uuid.UUID(attempt["id"]))
    assert stored.auto_points == 4  # 2 + 1 + 1; the free text waits for graders
    free = session.scalars(select(AttemptAnswer).where(
        AttemptAnswer.question_id == uuid.UUID(by_kind["free_text"]["id"]))).one()
    assert free.response == {"text": "The speaker merges n and l."} and free.points is None


def test_a_question_outside_the_attempt_is_404(
    client: ApiClient, session: Session, trainer: User
) -> None:
    version = published_version(questions_per_attempt=1)
    first, second = region_question(version), region_question(version)
    session.commit()
    attempt = started(client, trainer, version.assessment_id)
    undrawn = second.id if attempt["questions"][0]["id"] == str(first.id) else first.id
    elsewhere = region_question(published_version())
    session.commit()
    for question_id in (undrawn, elsewhere.id, uuid.uuid4()):
        response = answer(client, trainer, attempt["id"], question_id, {"option_id": "hk"})
        assert_problem(response, 404, code="not-found")
    assert _count(session, AttemptAnswer) == 0


def test_another_trainers_attempt_is_404(
    client: ApiClient, session: Session, trainer: User, listening: AssessmentVersion
) -> None:
    other = UserFactory()
    theirs = started(client, other, listening.assessment_id)
    question = theirs["questions"][0]["id"]
    path = f"{ME}/attempts/{theirs['id']}"
    assert_problem(client.get(path, as_user=trainer), 404, code="not-found")
    assert_problem(answer(client, trainer, theirs["id"], question, {"option_id": "gz"}), 404)
    assert_problem(submit(client, trainer, theirs["id"]), 404, code="not-found")
    assert client.get(f"{ME}/attempts", as_user=trainer).get_json()["items"] == []
    stored = session.get(Attempt, uuid.UUID(theirs["id"]))
    assert stored.state is AttemptState.OPEN and _count(session, AttemptAnswer) == 0


def test_a_submitted_attempt_takes_no_more_answers(
    client: ApiClient, session: Session, trainer: User, listening: AssessmentVersion
) -> None:
    attempt = started(client, trainer, listening.assessment_id)
    region = _questions_by_kind(attempt)["single_choice"]
    answer(client, trainer, attempt["id"], region["id"], {"option_id": "gz"})
    submitted(client, trainer, attempt["id"])
    response = answer(client, trainer, attempt["id"], region["id"], {"option_id": "hk"})
    assert_problem(response, 409, code="attempt-closed")
    saved = session.scalars(select(AttemptAnswer)).one()
    assert saved.response == {"option_id": "gz"}


def test_attempts_are_listed_newest_first_a_page_at_a_time(
    client: ApiClient, session: Session, trainer: User
) -> None:
    version = published_version(max_attempts=5)
    region_question(version)
    session.commit()
    ids = []
    for _ in range(3):
        attempt = started(client, trainer, version.assessment_id)
        submitted(client, trainer, attempt["id"])
        ids.append(attempt["id"])
    page = client.get(f"{ME}/attempts?limit=2", as_user=trainer).get_json()
    rest = client.get(f"{ME}/attempts?limit=2&cursor={page['next_cursor']}",
                      as_user=trainer).get_json()
    assert [a["id"] for a in page["items"] + rest["items"]] == ids[::-1]
    assert rest["next_cursor"] is None
    assert page["items"][0]["questions"][0]["prompt"] == "Which region is this speaker from?"


# --- time limits ---------------------------------------------------------------------


def test_an_answer_after_the_deadline_is_refused_and_closes_the_attempt(
    client: ApiClient, session: Session, trainer: User, listening: AssessmentVersion
) -> None:
    sign_in_for_days(client, trainer)
    attempt = started(client, trainer, listening.assessment_id)
    region = _questions_by_kind(attempt)["single_choice"]
    answer(client, trainer, attempt["id"], region["id"], {"option_id": "hk"})
    deadline = datetime.fromisoformat(attempt["deadline_at"])

    with time_machine.travel(deadline + timedelta(minutes=5), tick=False):
        late = answer(client, trainer, attempt["id"], region["id"], {"option_id": "gz"})
        body = assert_problem(late, 409, code="time-limit-passed")
        assert datetime.fromisoformat(body["deadline_at"]) == deadline
        again = answer(client, trainer, attempt["id"], region["id"], {"option_id": "gz"})
        assert_problem(again, 409, code="time-limit-passed")
        seen = client.get(f"{ME}/attempts/{attempt['id']}", as_user=trainer).get_json()

    assert seen["close_reason"] == "time_limit" and seen["state"] == "graded"
    assert datetime.fromisoformat(seen["closed_at"]) == deadline  # not when it was noticed
    assert seen["total_points"] == 2  # the answer saved in time counts
    assert session.scalars(select(AttemptAnswer)).one().response == {"option_id": "hk"}
    assert _count(session, EarningEvent, EarningEvent.source_id == uuid.UUID(attempt["id"])) == 1


def test_submitting_after_the_deadline_closes_by_time_limit_with_the_saved_work(
    client: ApiClient, session: Session, trainer: User, listening: AssessmentVersion
) -> None:
    sign_in_for_days(client, trainer)
    attempt = started(client, trainer, listening.assessment_id)
    region = _questions_by_kind(attempt)["single_choice"]
    answer(client, trainer, attempt["id"], region["id"], {"option_id": "hk"})
    deadline = datetime.fromisoformat(attempt["deadline_at"])
    with time_machine.travel(deadline, tick=False):
        result = submitted(client, trainer, attempt["id"])
    assert result["close_reason"] == "time_limit"
    assert (result["total_points"], result["passed"]) == (2, False)  # 2 of 4 < 75%


def test_the_job_closes_expired_attempts_and_only_those(
    client: ApiClient, database: Database, session: Session, listening: AssessmentVersion
) -> None:
    early, late, diligent = UserFactory(), UserFactory(), UserFactory()
    sign_in_for_days(client, early, late, diligent)
    expired = started(client, early, listening.assessment_id)
    region = _questions_by_kind(expired)["single_choice"]
    answer(client, early, expired["id"], region["id"], {"option_id": "hk"})
    deadline = datetime.fromisoformat(expired["deadline_at"])
    with time_machine.travel(deadline - timedelta(minutes=10), tick=False):
        open_still = started(client, late, listening.assessment_id)
    done = started(client, diligent, listening.assessment_id)
    answer(client, diligent, done["id"], region["id"], {"option_id": "gz"})
    submitted(client, diligent, done["id"])

    with time_machine.travel(deadline + timedelta(seconds=30), tick=False):
        assessments_jobs.close_expired_attempts(database)
        assessments_jobs.close_expired_attempts(database)  # a second scheduler: no-op
    session.expire_all()
    closed = session.get(Attempt, uuid.UUID(expired["id"]))
    assert closed.close_reason is CloseReason.TIME_LIMIT and closed.closed_at == deadline
    assert closed.state is AttemptState.GRADED and closed.auto_points == 2
    assert session.get(Attempt, uuid.UUID(open_still["id"])).state is AttemptState.OPEN
    assert session.get(Attempt, uuid.UUID(done["id"])).close_reason is CloseReason.SUBMITTED
    assert _count(session, EarningEvent) == 2  # the expired and the submitted one
    with time_machine.travel(deadline + timedelta(seconds=30), tick=False):
        late_answer = answer(client, early, expired["id"], region["id"], {"option_id": "gz"})
    assert_problem(late_answer, 409, code="time-limit-passed")


def test_an_attempt_past_its_deadline_reads_closed_before_anything_closes_it(
    client: ApiClient, database: Database, session: Session, trainer: User,
    listening: AssessmentVersion,
) -> None:
    idle = UserFactory()
    sign_in_for_days(client, trainer, idle)
    attempt = started(client, trainer, listening.assessment_id)
    region = _questions_by_kind(attempt)["single_choice"]
    answer(client, trainer, attempt["id"], region["id"], {"option_id": "hk"})
    blank = started(client, idle, listening.assessment_id)
    deadline = datetime.fromisoformat(attempt["deadline_at"])

    with time_machine.travel(deadline + timedelta(minutes=5), tick=False):
        one = client.get(f"{ME}/attempts/{attempt['id']}", as_user=trainer).get_json()
        [listed] = client.get(f"{ME}/attempts", as_user=trainer).get_json()["items"]
        [entry] = client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"]
        idle_view = client.get(f"{ME}/attempts/{blank['id']}", as_user=idle).get_json()
    for seen in (one, listed):
        assert seen["state"] == "awaiting_grading"  # closed; the result is not out yet
        assert seen["close_reason"] == "time_limit"
        assert datetime.fromisoformat(seen["closed_at"]) == deadline
        assert (seen["stipend"]["answered"], seen["stipend"]["status"]) == (1, "pending")
        assert seen["stipend"]["message"] == (
            "The attempt closed with 1 question answered, enough for the stipend of 4.50 "
            "USD; it is paid as the attempt is processed.")
    assert (entry["availability"], entry["open_attempt_id"]) == ("available", None)
    assert idle_view["state"] == "awaiting_grading"
    assert idle_view["stipend"]["status"] == "withheld"  # nothing answered by the deadline
    # Reading decided it; nothing was written.
    session.expire_all()
    assert session.get(Attempt, uuid.UUID(attempt["id"])).state is AttemptState.OPEN
    assert _count(session, EarningEvent) == 0

    with time_machine.travel(deadline + timedelta(minutes=6), tick=False):
        assessments_jobs.close_expired_attempts(database)
        after = client.get(f"{ME}/attempts/{attempt['id']}", as_user=trainer).get_json()
    assert (after["state"], after["closed_at"]) == ("graded", one["closed_at"])
    assert after["stipend"]["status"] == "paid"


def test_starting_again_closes_an_expired_attempt_first(
    client: ApiClient, session: Session, trainer: User
) -> None:
    version = published_version(cooldown_seconds=600, time_limit_seconds=900)
    region_question(version)
    session.commit()
    sign_in_for_days(client, trainer)
    attempt = started(client, trainer, version.assessment_id)
    deadline = datetime.fromisoformat(attempt["deadline_at"])
    with time_machine.travel(deadline + timedelta(minutes=1), tick=False):
        # Not in progress any more: the cooldown runs from the deadline, closed or not.
        entry = client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"][0]
        body = assert_problem(start(client, trainer, version.assessment_id), 409, code="cooldown")
    assert (entry["availability"], entry["open_attempt_id"]) == ("cooldown", None)
    assert entry["next_start_at"] == body["until"]
    assert datetime.fromisoformat(body["until"]) == deadline + timedelta(minutes=10)
    stored = session.get(Attempt, uuid.UUID(attempt["id"]))
    assert stored.close_reason is CloseReason.TIME_LIMIT


# --- stipends ------------------------------------------------------------------------


def test_the_stipend_is_recorded_once_whatever_happens_twice(
    client: ApiClient, database: Database, session: Session, trainer: User,
    listening: AssessmentVersion,
) -> None:
    attempt = started(client, trainer, listening.assessment_id)
    region = _questions_by_kind(attempt)["single_choice"]
    answer(client, trainer, attempt["id"], region["id"], {"option_id": "gz"})
    first = submitted(client, trainer, attempt["id"])
    second = submitted(client, trainer, attempt["id"])
    assert first == second
    with time_machine.travel(clock.now() + timedelta(hours=2), tick=False):
        assessments_jobs.close_expired_attempts(database)
    session.expire_all()
    events = session.scalars(select(EarningEvent).where(EarningEvent.trainer_id == trainer.id))
    assert [(e.source_type, e.source_id, e.amount) for e in events] == [
        ("attempt", uuid.UUID(attempt["id"]), 450)
    ]
    graded = session.scalars(select(AuditEvent).where(AuditEvent.action == "attempt.graded"))
    assert len(graded.all()) == 1
    notes = session.scalars(select(Notification).where(Notification.user_id == trainer.id))
    assert sorted(n.kind for n in notes) == ["attempt.graded", "earnings.stipend"]


def _stipends(session: Session, trainer: User) -> list[int]:
    session.expire_all()
    return list(session.scalars(select(EarningEvent.amount).where(
        EarningEvent.trainer_id == trainer.id)))


def _notes(session: Session, trainer: User, kind: str) -> list[Notification]:
    return list(session.scalars(select(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == kind)))


def test_a_passed_assessment_is_not_taken_again_while_its_qualification_holds(
    client: ApiClient, session: Session, trainer: User
) -> None:
    """The farm: pass with cooldown 0, then start again and submit blank for another
    stipend, up to the attempt limit. A pass closes the assessment instead."""
    version = published_version(cooldown_seconds=0, max_attempts=5, validity_days=30,
                                stipend_amount=450, stipend_currency="USD")
    region_question(version)
    session.commit()
    sign_in_for_days(client, trainer)
    assessment_id = version.assessment_id
    attempt = started(client, trainer, assessment_id)
    answer(client, trainer, attempt["id"], attempt["questions"][0]["id"], {"option_id": "hk"})
    assert submitted(client, trainer, attempt["id"])["passed"] is True
    record = session.scalars(
        select(TrainerQualification).where(TrainerQualification.trainer_id == trainer.id)
    ).one()

    body = assert_problem(start(client, trainer, assessment_id), 409, code="already-passed")
    assert body["qualification_id"] == str(version.assessment.qualification_id)
    assert datetime.fromisoformat(body["expires_at"]) == record.expires_at
    entry = client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"][0]
    assert (entry["availability"], entry["attempts_used"]) == ("passed", 1)
    assert datetime.fromisoformat(entry["next_start_at"]) == record.expires_at
    assert _count(session, Attempt, Attempt.trainer_id == trainer.id) == 1
    assert _stipends(session, trainer) == [450]

    # Revoked: offered again (and a blank attempt still earns nothing).
    manager = StaffFactory(
        organisation=session.get(Organisation, version.assessment.organisation_id))
    revoked = client.post(
        f"/api/v1/qualifications/{version.assessment.qualification_id}/revocations",
        as_user=manager, json={"trainer_id": str(trainer.id), "reason": "Shared answers"})
    assert revoked.status_code == 201, revoked.get_json()
    entry = client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"][0]
    assert (entry["availability"], entry["next_start_at"]) == ("available", None)
    retake = started(client, trainer, assessment_id)
    assert submitted(client, trainer, retake["id"])["stipend"]["status"] == "withheld"
    assert _stipends(session, trainer) == [450]


def test_a_passed_assessment_is_offered_again_once_its_qualification_expires(
    client: ApiClient, session: Session, trainer: User
) -> None:
    version = published_version(max_attempts=5, validity_days=30)
    region_question(version)
    session.commit()
    sign_in_for_days(client, trainer)
    attempt = started(client, trainer, version.assessment_id)
    answer(client, trainer, attempt["id"], attempt["questions"][0]["id"], {"option_id": "hk"})
    submitted(client, trainer, attempt["id"])
    expires_at = session.scalars(select(TrainerQualification.expires_at)).one()
    with time_machine.travel(expires_at - timedelta(seconds=1), tick=False):
        assert_problem(start(client, trainer, version.assessment_id), 409,
                       code="already-passed")
    with time_machine.travel(expires_at, tick=False):
        entry = client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"][0]
        assert entry["availability"] == "available"
        assert started(client, trainer, version.assessment_id)["number"] == 2


def test_a_blank_attempt_earns_no_stipend_and_the_trainer_is_told_why(
    client: ApiClient, session: Session, trainer: User, listening: AssessmentVersion
) -> None:
    attempt = started(client, trainer, listening.assessment_id)
    assert attempt["stipend"] == {
        "amount": 450, "currency": "USD", "min_answers": 1, "answered": 0,
        "status": "pending",
        "message": "Answer at least 1 question to earn the stipend of 4.50 USD; you have "
                   "answered 0.",
    }
    # Saved but blank: answers nothing.
    district = _questions_by_kind(attempt)["short_answer"]
    answer(client, trainer, attempt["id"], district["id"], {"text": "   "})
    seen = client.get(f"{ME}/attempts/{attempt['id']}", as_user=trainer).get_json()
    assert (seen["stipend"]["answered"], seen["stipend"]["status"]) == (0, "pending")

    result = submitted(client, trainer, attempt["id"])
    assert result["stipend"] == {
        "amount": 450, "currency": "USD", "min_answers": 1, "answered": 0,
        "status": "withheld",
        "message": "No stipend: the attempt closed with 0 questions answered, and the "
                   "stipend of 4.50 USD needs at least 1.",
    }
    assert _stipends(session, trainer) == []
    [note] = _notes(session, trainer, "earnings.stipend_withheld")
    assert note.body == (
        "Attempt 1 at Cantonese accents: Hong Kong or Guangzhou? closed with 0 questions "
        "answered; the stipend of $4.50 needs at least 1, so nothing was paid for it.")
    assert (note.data["answered"], note.data["min_answers"]) == (0, 1)
    assert _notes(session, trainer, "earnings.stipend") == []
    listed = client.get(f"{ME}/attempts", as_user=trainer).get_json()["items"]
    assert listed[0]["stipend"]["status"] == "withheld"


def test_the_stipend_needs_the_answers_the_assessment_sets(
    client: ApiClient, session: Session, trainer: User, mail: MemorySender
) -> None:
    version = published_version(stipend_amount=300, stipend_currency="EUR",
                                stipend_min_answers=2, max_attempts=3)
    region_question(version, position=1)
    QuestionFactory(version=version, position=2, kind=QuestionKind.MULTIPLE_CHOICE,
                    options=[{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
                    answer_key={"correct": ["a"]})
    session.commit()
    entry = client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"][0]
    assert entry["stipend_min_answers"] == 2

    first = started(client, trainer, version.assessment_id)
    by_kind = _questions_by_kind(first)
    answer(client, trainer, first["id"], by_kind["single_choice"]["id"], {"option_id": "gz"})
    answer(client, trainer, first["id"], by_kind["multiple_choice"]["id"], {"option_ids": []})
    seen = client.get(f"{ME}/attempts/{first['id']}", as_user=trainer).get_json()
    assert seen["stipend"]["message"] == (
        "Answer at least 2 questions to earn the stipend of 3.00 EUR; you have answered 1.")
    assert submitted(client, trainer, first["id"])["stipend"]["status"] == "withheld"
    assert _stipends(session, trainer) == []

    second = started(client, trainer, version.assessment_id)
    by_kind = _questions_by_kind(second)
    answer(client, trainer, second["id"], by_kind["single_choice"]["id"], {"option_id": "gz"})
    answer(client, trainer, second["id"], by_kind["multiple_choice"]["id"],
           {"option_ids": ["b"]})
    seen = client.get(f"{ME}/attempts/{second['id']}", as_user=trainer).get_json()
    assert seen["stipend"]["message"] == (
        "You have answered 2 questions, enough for the stipend of 3.00 EUR; it is paid when "
        "the attempt closes.")
    result = submitted(client, trainer, second["id"])
    assert (result["passed"], result["stipend"]["status"]) == (False, "paid")  # pass or fail
    assert _stipends(session, trainer) == [300]
    [note] = _notes(session, trainer, "earnings.stipend")
    assert (note.title, note.data["attempt_id"]) == ("A stipend of €3.00", second["id"])
    assert note.body == (f"You earned a stipend of €3.00 for attempt 2 at "
                         f"{version.assessment.title}.")
    # A stipend is money: e-mailed too, in the trainer's language (English here).
    assert any(m.subject == "A stipend of €3.00" for m in mail.sent if m.to == trainer.email)


def test_a_pass_tells_the_trainer_the_qualification_they_now_hold(
    client: ApiClient, session: Session, trainer: User, listening: AssessmentVersion
) -> None:
    attempt = started(client, trainer, listening.assessment_id)
    by_kind = _questions_by_kind(attempt)
    region = by_kind["single_choice"]
    answer(client, trainer, attempt["id"], region["id"], {"option_id": "hk"})
    answer(client, trainer, attempt["id"], by_kind["short_answer"]["id"],
           {"text": "Sham Shui Po"})
    assert submitted(client, trainer, attempt["id"])["passed"] is True
    record = session.scalars(select(TrainerQualification)).one()
    [note] = _notes(session, trainer, "qualification.granted")
    # The day in the trainer's own time zone (from 16:00 UTC it is tomorrow in Hong Kong).
    valid_until = record.expires_at.astimezone(ZoneInfo(trainer.timezone))
    assert note.title == "Qualification granted: Hong Kong Cantonese listening"
    assert note.body == (
        "You passed Cantonese accents: Hong Kong or Guangzhou? and hold the qualification "
        f"Hong Kong Cantonese listening. It is valid until {valid_until:%b %-d, %Y}.")
    assert note.data["qualification_id"] == str(record.qualification_id)
    assert note.data["attempt_id"] == attempt["id"]
    # A failure grants nothing, and says nothing of a qualification.
    other = UserFactory()
    theirs = started(client, other, listening.assessment_id)
    answer(client, other, theirs["id"], region["id"], {"option_id": "gz"})
    submitted(client, other, theirs["id"])
    assert _notes(session, other, "qualification.granted") == []


def test_an_unpaid_assessment_records_no_earning(
    client: ApiClient, session: Session, trainer: User
) -> None:
    version = published_version()
    region_question(version)
    session.commit()
    attempt = started(client, trainer, version.assessment_id)
    submitted(client, trainer, attempt["id"])
    assert client.get(f"{ME}/assessments", as_user=trainer).get_json()["items"][0][
        "stipend"] is None
    assert _count(session, EarningEvent) == 0


# --- results and the qualification ---------------------------------------------------


def test_feedback_and_per_question_points_only_when_the_version_shows_them(
    client: ApiClient, session: Session, trainer: User
) -> None:
    version = published_version(show_feedback=False)
    region_question(version)
    session.commit()
    attempt = started(client, trainer, version.assessment_id)
    result = submitted(client, trainer, attempt["id"])
    assert result["score_percent"] == "0.00" and result["passed"] is False
    assert result["questions"][0]["points"] is None
    assert result["questions"][0]["feedback"] is None


def test_a_failed_retake_never_takes_away_a_valid_qualification(
    client: ApiClient, session: Session, trainer: User
) -> None:
    version = published_version(max_attempts=5, validity_days=30)
    region_question(version)
    # A second assessment that grants the same qualification.
    other = AssessmentVersionFactory(
        assessment=AssessmentFactory(qualification=version.assessment.qualification),
        max_attempts=5,
    )
    region_question(other)
    session.commit()
    sign_in_for_days(client, trainer)

    def take(option: str, taken: AssessmentVersion = version) -> dict:
        attempt = started(client, trainer, taken.assessment_id)
        answer(client, trainer, attempt["id"], attempt["questions"][0]["id"],
               {"option_id": option})
        return submitted(client, trainer, attempt["id"])

    def record() -> TrainerQualification:
        session.expire_all()
        return session.scalars(
            select(TrainerQualification).where(TrainerQualification.trainer_id == trainer.id)
        ).one()

    passed = take("hk")
    take("gz", other)
    kept = record()
    assert kept.status is QualificationStatus.GRANTED
    assert kept.attempt_id == uuid.UUID(passed["id"])
    first_expiry = kept.expires_at
    with time_machine.travel(first_expiry + timedelta(days=1), tick=False):
        take("gz", other)  # the grant has lapsed: a failure now counts
        assert record().status is QualificationStatus.FAILED
        take("hk")  # and the assessment passed before is offered again
        renewed = record()
    assert renewed.status is QualificationStatus.GRANTED
    assert renewed.expires_at == renewed.granted_at + timedelta(days=30) > first_expiry


def test_an_assessment_with_only_unwritten_free_text_completes_without_graders(
    client: ApiClient, session: Session, trainer: User
) -> None:
    version = published_version()
    region_question(version, position=1)
    free_text_question(version, position=2)
    session.commit()
    attempt = started(client, trainer, version.assessment_id)
    by_kind = _questions_by_kind(attempt)
    answer(client, trainer, attempt["id"], by_kind["single_choice"]["id"], {"option_id": "hk"})
    answer(client, trainer, attempt["id"], by_kind["free_text"]["id"], {"text": "   "})
    result = submitted(client, trainer, attempt["id"])
    # Nothing written for a grader to read: the blank answer scores 0 on every criterion.
    assert result["state"] == "graded" and result["total_points"] == 2
    assert result["score_percent"] == "16.67"
    stored = session.get(Attempt, uuid.UUID(attempt["id"]))
    assert stored.rubric_points == 0
