"""Grading free-text answers through the API: the blind queue, claims, rubric scores,
double grading and adjudication, completion, and grader statistics."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

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
    started,
    submitted,
)
from tests.client import ApiClient, assert_problem
from tests.factories import OrganisationFactory, StaffFactory, UserFactory, free_text_question
from workforce.accounts.models import AuditEvent, Organisation, Role, User
from workforce.assessments.models import (
    AssessmentVersion,
    Attempt,
    AttemptState,
    CloseReason,
    CriterionScore,
    Grading,
    GradingState,
    QualificationStatus,
    TrainerQualification,
)
from workforce.billing.models import EarningEvent
from workforce.notifications.models import Notification

API = "/api/v1"


@pytest.fixture
def org(session: Session) -> Organisation:
    return OrganisationFactory(name="Pearl River Voices")


@pytest.fixture
def graders(session: Session, org: Organisation) -> tuple[User, User, User]:
    return (
        StaffFactory(role=Role.REVIEWER, organisation=org, display_name="Grader A"),
        StaffFactory(role=Role.REVIEWER, organisation=org, display_name="Grader B"),
        StaffFactory(role=Role.VENDOR_MANAGER, organisation=org, display_name="Grader C"),
    )


@pytest.fixture
def trainer(session: Session) -> User:
    return UserFactory(display_name="Wong Siu Ming", email="siu.ming@example.org")


def essay_version(
    organisation: Organisation, *, double: bool = False, essays: int = 1, **fields: Any
) -> AssessmentVersion:
    """A region question (2 points) and ``essays`` free-text questions (10 points each:
    accuracy and clarity, 5 each); margin 10% of the rubric's maximum."""
    version = published_version(
        organisation, title="Describe the accent", double_grading=double,
        grading_margin_percent=10, pass_mark_percent=50, show_feedback=True, **fields,
    )
    region_question(version, position=1)
    for number in range(1, essays + 1):
        free_text_question(version, position=1 + number, prompt=f"Essay {number}",
                           feedback=f"Model answer {number}.")
    return version


def awaiting(
    client: ApiClient, trainer: User, version: AssessmentVersion,
    texts: dict[str, str] | None = None,
) -> str:
    """An attempt handed in with the region right and the essays written."""
    attempt = started(client, trainer, version.assessment_id)
    for question in attempt["questions"]:
        if question["kind"] == "single_choice":
            body: dict[str, Any] = {"option_id": "hk"}
        else:
            text = (texts or {}).get(question["prompt"], f"My answer to {question['prompt']}.")
            if not text:
                continue
            body = {"text": text}
        assert answer(client, trainer, attempt["id"], question["id"], body).status_code == 200
    assert submitted(client, trainer, attempt["id"])["state"] == "awaiting_grading"
    return attempt["id"]


def claim(client: ApiClient, grader: User, attempt_id: str) -> dict[str, Any]:
    response = client.post(f"{API}/grading/attempts/{attempt_id}/claim", as_user=grader)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def scores(grading: dict[str, Any], points: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """One entry per criterion; ``points`` maps an essay's prompt to (accuracy, clarity)."""
    return [
        {"question_id": q["question_id"], "criterion_id": criterion["id"],
         "points": points[q["prompt"]][index], "justification": f"{criterion['name']} seen."}
        for q in grading["questions"]
        for index, criterion in enumerate(q["criteria"])
    ]


def grade(
    client: ApiClient, grader: User, grading: dict[str, Any], points: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    response = client.post(f"{API}/gradings/{grading['id']}/submit", as_user=grader,
                           json={"scores": scores(grading, points)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def queue(client: ApiClient, grader: User) -> list[dict[str, Any]]:
    response = client.get(f"{API}/grading/queue", as_user=grader)
    assert response.status_code == 200
    return response.get_json()["items"]


def attempt_of(session: Session, attempt_id: str) -> Attempt:
    session.expire_all()
    return session.get_one(Attempt, uuid.UUID(attempt_id))


# --- one grader ----------------------------------------------------------------------


def test_a_rubric_graded_attempt_from_queue_to_qualification(
    client: ApiClient, session: Session, org: Organisation, graders: tuple[User, ...],
    trainer: User,
) -> None:
    version = essay_version(org)
    session.commit()
    reviewer = graders[0]
    attempt_id = awaiting(client, trainer, version, {"Essay 1": "Merged n and l; 'lei' for 'nei'."})
    assert session.scalars(select(Notification.kind).where(
        Notification.user_id == trainer.id)).all() == ["attempt.awaiting_grading"]

    [item] = queue(client, reviewer)
    assert item == {
        "attempt_id": attempt_id, "assessment_title": "Describe the accent",
        "version_number": 1, "closed_at": item["closed_at"], "rounds_done": 0,
        "graded_by_you": False,
    }
    grading = claim(client, reviewer, attempt_id)
    assert (grading["round"], grading["state"], grading["total_points"]) == (1, "claimed", None)
    [question] = grading["questions"]
    assert question["prompt"] == "Essay 1" and question["max_points"] == 10
    assert question["answer_text"] == "Merged n and l; 'lei' for 'nei'."
    assert [c["id"] for c in question["criteria"]] == ["accuracy", "clarity"]
    assert question["criteria"][0]["levels"] == [
        {"points": 0, "descriptor": "Missing"}, {"points": 5, "descriptor": "Full"}
    ]
    assert queue(client, graders[1]) == []  # claimed: nobody else is needed
    assert client.get(f"{API}/gradings/{grading['id']}", as_user=reviewer).get_json() == grading

    done = grade(client, reviewer, grading, {"Essay 1": (4, 3)})
    assert (done["state"], done["total_points"]) == ("submitted", 7)
    assert {(s["criterion_id"], s["points"]) for s in done["questions"][0]["scores"]} == {
        ("accuracy", 4), ("clarity", 3)
    }
    attempt = attempt_of(session, attempt_id)
    assert attempt.state is AttemptState.GRADED
    assert (attempt.auto_points, attempt.rubric_points, attempt.max_points) == (2, 7, 12)
    assert attempt.score_percent == Decimal("75.00") and attempt.passed

    result = client.get(f"{ME}/attempts/{attempt_id}", as_user=trainer).get_json()
    assert (result["score_percent"], result["passed"], result["total_points"]) == (
        "75.00", True, 9)
    essay = next(q for q in result["questions"] if q["kind"] == "free_text")
    assert (essay["points"], essay["feedback"]) == (7, "Model answer 1.")
    assert "scores" not in json.dumps(result) and "justification" not in json.dumps(result)

    record = session.scalars(select(TrainerQualification).where(
        TrainerQualification.trainer_id == trainer.id)).one()
    assert record.status is QualificationStatus.GRANTED and record.decided_by_id == reviewer.id
    audited = session.scalars(select(AuditEvent).where(AuditEvent.action == "attempt.graded")).one()
    assert audited.actor_id == reviewer.id and audited.organisation_id == org.id
    assert audited.after["rubric_points"] == 7
    note = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "attempt.graded")).one()
    assert "75.00%" in note.body
    assert queue(client, reviewer) == []


def test_grading_is_blind(
    client: ApiClient, session: Session, org: Organisation, graders: tuple[User, ...],
    trainer: User,
) -> None:
    version = essay_version(org, double=True)
    session.commit()
    attempt_id = awaiting(client, trainer, version)
    responses = [client.get(f"{API}/grading/queue", as_user=graders[0])]
    responses.append(client.post(f"{API}/grading/attempts/{attempt_id}/claim",
                                 as_user=graders[0]))
    first = responses[-1].get_json()
    responses.append(client.get(f"{API}/gradings/{first['id']}", as_user=graders[0]))
    responses.append(client.post(f"{API}/gradings/{first['id']}/submit", as_user=graders[0],
                                 json={"scores": scores(first, {"Essay 1": (5, 5)})}))
    responses.append(client.get(f"{API}/grading/queue", as_user=graders[1]))
    second = claim(client, graders[1], attempt_id)
    responses.append(client.get(f"{API}/gradings/{second['id']}", as_user=graders[1]))
    for response in responses:
        assert response.status_code in (200, 201)
        text = json.dumps(response.get_json(), ensure_ascii=False)
        for secret in (str(trainer.id), trainer.email, trainer.display_name, "trainer"):
            assert secret not in text, (response.request.path, secret)
    # The second grader does not see the first one's scores.
    assert all(q["scores"] == [] for q in responses[-1].get_json()["questions"])
    assert "5 seen" not in json.dumps(responses[-1].get_json())


# --- double grading ------------------------------------------------------------------


def test_double_grading_within_the_margin_takes_the_mean_in_the_trainers_favour(
    client: ApiClient, session: Session, org: Organisation, graders: tuple[User, ...],
    trainer: User,
) -> None:
    version = essay_version(org, double=True, essays=2)  # rubric max 20: margin 2 points
    session.commit()
    a, b, c = graders
    attempt_id = awaiting(client, trainer, version)

    first = claim(client, a, attempt_id)
    assert first["round"] == 1
    [item] = queue(client, a)
    assert item["graded_by_you"] is True and item["rounds_done"] == 0
    refused = client.post(f"{API}/grading/attempts/{attempt_id}/claim", as_user=a)
    assert assert_problem(refused, 409, code="already-graded-by-you")["grading_id"] == first["id"]
    second = claim(client, b, attempt_id)
    assert second["round"] == 2
    assert queue(client, c) == []
    refused = client.post(f"{API}/grading/attempts/{attempt_id}/claim", as_user=c)
    assert_problem(refused, 409, code="no-grading-needed")

    grade(client, a, first, {"Essay 1": (3, 2), "Essay 2": (1, 1)})  # 7
    assert attempt_of(session, attempt_id).state is AttemptState.AWAITING_GRADING
    grade(client, b, second, {"Essay 1": (3, 3), "Essay 2": (1, 1)})  # 8
    attempt = attempt_of(session, attempt_id)
    assert attempt.state is AttemptState.GRADED
    assert attempt.rubric_points == 8  # (7 + 8 + 1) // 2
    result = client.get(f"{ME}/attempts/{attempt_id}", as_user=trainer).get_json()
    essays = {q["prompt"]: q["points"] for q in result["questions"] if q["kind"] == "free_text"}
    assert essays == {"Essay 1": 6, "Essay 2": 2}  # 5.5 rounded up, 2: adds up to 8
    assert result["total_points"] == 10
    assert queue(client, c) == []


def test_double_grading_beyond_the_margin_goes_to_an_adjudicator(
    client: ApiClient, session: Session, org: Organisation, graders: tuple[User, ...],
    trainer: User,
) -> None:
    version = essay_version(org, double=True)  # rubric max 10: margin 1 point
    session.commit()
    a, b, c = graders
    attempt_id = awaiting(client, trainer, version)
    grade(client, a, claim(client, a, attempt_id), {"Essay 1": (1, 1)})  # 2
    grade(client, b, claim(client, b, attempt_id), {"Essay 1": (5, 4)})  # 9
    attempt = attempt_of(session, attempt_id)
    assert attempt.state is AttemptState.AWAITING_GRADING and attempt.rubric_points is None

    [item] = queue(client, c)
    assert item["rounds_done"] == 2 and item["graded_by_you"] is False
    for earlier in (a, b):
        refused = client.post(f"{API}/grading/attempts/{attempt_id}/claim", as_user=earlier)
        assert_problem(refused, 409, code="already-graded-by-you")
    third = claim(client, c, attempt_id)
    assert third["round"] == 3
    assert queue(client, c) == []
    grade(client, c, third, {"Essay 1": (3, 3)})
    attempt = attempt_of(session, attempt_id)
    assert attempt.state is AttemptState.GRADED
    assert attempt.rubric_points == 6  # the adjudicator decides
    assert attempt.score_percent == Decimal("66.67") and attempt.passed
    audited = session.scalars(select(AuditEvent).where(AuditEvent.action == "attempt.graded")).one()
    assert audited.actor_id == c.id


def test_an_unwritten_essay_scores_nothing(
    client: ApiClient, session: Session, org: Organisation, graders: tuple[User, ...],
    trainer: User,
) -> None:
    version = essay_version(org, essays=2)
    session.commit()
    attempt_id = awaiting(client, trainer, version, {"Essay 2": ""})
    grading = claim(client, graders[0], attempt_id)
    unwritten = next(q for q in grading["questions"] if q["prompt"] == "Essay 2")
    assert unwritten["answer_text"] is None
    entries = scores(grading, {"Essay 1": (4, 4), "Essay 2": (1, 0)})
    response = client.post(f"{API}/gradings/{grading['id']}/submit", as_user=graders[0],
                           json={"scores": entries})
    problem = assert_problem(response, 422, code="validation-error")
    [generous] = [i for i, e in enumerate(entries) if e["question_id"] == unwritten["question_id"]
                  and e["points"]]
    assert list(problem["errors"]) == [f"scores.{generous}.points"]
    grade(client, graders[0], grading, {"Essay 1": (4, 4), "Essay 2": (0, 0)})
    assert attempt_of(session, attempt_id).rubric_points == 8


# --- bad input -----------------------------------------------------------------------


@pytest.fixture
def claimed(
    client: ApiClient, session: Session, org: Organisation, graders: tuple[User, ...],
    trainer: User,
) -> dict[str, Any]:
    version = essay_version(org)
    session.commit()
    attempt_id = awaiting(client, trainer, version)
    return claim(client, graders[0], attempt_id)


def _entries(claimed: dict[str, Any]) -> list[dict[str, Any]]:
    return scores(claimed, {"Essay 1": (3, 3)})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e[0].update(points=6), "scores.0.points"),
        (lambda e: e[1].update(points=-1), "scores.1.points"),
        (lambda e: e[0].update(justification="   "), "scores.0.justification"),
        (lambda e: e[1].pop("justification"), "scores.1.justification"),
        (lambda e: e[0].update(criterion_id="fluency"), "scores.0.criterion_id"),
        (lambda e: e[1].update(question_id=str(uuid.uuid4())), "scores.1.question_id"),
        (lambda e: e.pop(), "scores"),
        (lambda e: e.append(dict(e[0])), "scores.2"),
        (lambda e: e[0].update(points="many"), "scores.0.points"),
    ],
)
def test_bad_scores_are_422_naming_the_entry_and_change_nothing(
    client: ApiClient, session: Session, graders: tuple[User, ...], claimed: dict[str, Any],
    change: Any, field: str,
) -> None:
    entries = _entries(claimed)
    change(entries)
    response = client.post(f"{API}/gradings/{claimed['id']}/submit", as_user=graders[0],
                           json={"scores": entries})
    problem = assert_problem(response, 422, code="validation-error")
    assert field in problem["errors"], problem
    session.expire_all()
    grading = session.get_one(Grading, uuid.UUID(claimed["id"]))
    assert grading.state is GradingState.CLAIMED and grading.total_points is None
    assert session.scalar(select(func.count()).select_from(CriterionScore)) == 0
    assert attempt_of(session, claimed["attempt_id"]).state is AttemptState.AWAITING_GRADING


def test_a_grading_is_submitted_once(
    client: ApiClient, session: Session, graders: tuple[User, ...], claimed: dict[str, Any]
) -> None:
    grade(client, graders[0], claimed, {"Essay 1": (3, 3)})
    response = client.post(f"{API}/gradings/{claimed['id']}/submit", as_user=graders[0],
                           json={"scores": scores(claimed, {"Essay 1": (5, 5)})})
    assert_problem(response, 409, code="grading-submitted")
    assert attempt_of(session, claimed["attempt_id"]).rubric_points == 6
    assert session.scalar(select(func.count()).select_from(CriterionScore)) == 2


def test_a_claim_can_be_given_back_until_it_is_submitted(
    client: ApiClient, session: Session, graders: tuple[User, ...], claimed: dict[str, Any]
) -> None:
    a, b, _ = graders
    path = f"{API}/gradings/{claimed['id']}"
    assert_problem(client.delete(path, as_user=b), 404, code="not-found")
    assert client.delete(path, as_user=a).status_code == 204
    assert_problem(client.get(path, as_user=a), 404)
    [item] = queue(client, b)
    assert item["attempt_id"] == claimed["attempt_id"]
    taken = claim(client, b, claimed["attempt_id"])
    assert taken["round"] == 1
    grade(client, b, taken, {"Essay 1": (2, 2)})
    done = client.delete(f"{API}/gradings/{taken['id']}", as_user=b)
    assert_problem(done, 409, code="grading-submitted")
    assert attempt_of(session, claimed["attempt_id"]).rubric_points == 4


# --- who may grade what --------------------------------------------------------------


def test_trainers_and_other_roles_may_not_grade(
    client: ApiClient, session: Session, org: Organisation, claimed: dict[str, Any],
    trainer: User,
) -> None:
    admin = StaffFactory(role=Role.ADMIN, organisation=org)
    finance = StaffFactory(role=Role.FINANCE, organisation=org)
    calls = [
        ("GET", f"{API}/grading/queue", None),
        ("POST", f"{API}/grading/attempts/{claimed['attempt_id']}/claim", None),
        ("GET", f"{API}/gradings/{claimed['id']}", None),
        ("POST", f"{API}/gradings/{claimed['id']}/submit",
         {"scores": _entries(claimed)}),
    ]
    for user in (trainer, admin, finance):
        for method, path, body in calls:
            response = client.request(method, path, as_user=user, json=body)
            assert_problem(response, 403, code="role-forbidden")
    assert_problem(client.get(f"{API}/grading/stats", as_user=trainer), 403)
    session.expire_all()
    assert session.get_one(Grading, uuid.UUID(claimed["id"])).state is GradingState.CLAIMED
    assert session.scalar(select(func.count()).select_from(Grading)) == 1


def test_another_organisations_attempts_and_gradings_are_404(
    client: ApiClient, session: Session, graders: tuple[User, ...], claimed: dict[str, Any],
) -> None:
    outsider = StaffFactory(role=Role.REVIEWER, organisation=OrganisationFactory())
    colleague = graders[1]
    session.commit()
    assert queue(client, outsider) == []
    refused = client.post(f"{API}/grading/attempts/{claimed['attempt_id']}/claim",
                          as_user=outsider)
    assert_problem(refused, 404, code="not-found")
    for user in (outsider, colleague):  # a grading is its grader's alone
        assert_problem(client.get(f"{API}/gradings/{claimed['id']}", as_user=user), 404)
        response = client.post(f"{API}/gradings/{claimed['id']}/submit", as_user=user,
                               json={"scores": _entries(claimed)})
        assert_problem(response, 404, code="not-found")
    unknown = client.post(f"{API}/grading/attempts/{uuid.uuid4()}/claim", as_user=outsider)
    assert_problem(unknown, 404, code="not-found")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Grading)) == 1
    assert session.scalar(select(func.count()).select_from(CriterionScore)) == 0


def test_an_open_or_graded_attempt_needs_no_grader(
    client: ApiClient, session: Session, org: Organisation, graders: tuple[User, ...],
    trainer: User,
) -> None:
    version = essay_version(org)
    session.commit()
    attempt = started(client, trainer, version.assessment_id)
    refused = client.post(f"{API}/grading/attempts/{attempt['id']}/claim", as_user=graders[0])
    assert_problem(refused, 409, code="no-grading-needed")
    assert queue(client, graders[0]) == []


def test_the_queue_is_oldest_first_a_page_at_a_time(
    client: ApiClient, session: Session, org: Organisation, graders: tuple[User, ...],
) -> None:
    version = essay_version(org)
    session.commit()
    ids = [awaiting(client, UserFactory(), version) for _ in range(3)]
    first = client.get(f"{API}/grading/queue?limit=2", as_user=graders[0]).get_json()
    rest = client.get(f"{API}/grading/queue?limit=2&cursor={first['next_cursor']}",
                      as_user=graders[0]).get_json()
    assert [i["attempt_id"] for i in first["items"] + rest["items"]] == ids
    assert rest["next_cursor"] is None


def test_an_essay_past_its_deadline_awaits_grading_before_the_job_closes_it(
    client: ApiClient, session: Session, org: Organisation, graders: tuple[User, ...],
    trainer: User,
) -> None:
    version = essay_version(org, stipend_amount=300, stipend_currency="USD")
    session.commit()
    idle, earlier = UserFactory(), UserFactory()
    sign_in_for_days(client, trainer, idle, earlier, *graders)
    handed_in = awaiting(client, earlier, version)
    attempt = started(client, trainer, version.assessment_id)
    essay = next(q for q in attempt["questions"] if q["kind"] == "free_text")
    answer(client, trainer, attempt["id"], essay["id"], {"text": "Merged n and l."})
    started(client, idle, version.assessment_id)  # nothing written: nothing to grade
    deadline = datetime.fromisoformat(attempt["deadline_at"])

    with time_machine.travel(deadline + timedelta(minutes=5), tick=False):
        items = queue(client, graders[0])
        assert [i["attempt_id"] for i in items] == [handed_in, attempt["id"]]
        assert datetime.fromisoformat(items[1]["closed_at"]) == deadline
        grading = claim(client, graders[0], attempt["id"])  # closes the attempt first
    assert grading["questions"][0]["answer_text"] == "Merged n and l."
    stored = attempt_of(session, attempt["id"])
    assert (stored.state, stored.close_reason) == (AttemptState.AWAITING_GRADING,
                                                   CloseReason.TIME_LIMIT)
    assert stored.closed_at == deadline
    assert session.scalar(select(func.count()).select_from(EarningEvent).where(
        EarningEvent.source_id == stored.id)) == 1


# --- statistics ----------------------------------------------------------------------


def test_grader_statistics(
    client: ApiClient, session: Session, org: Organisation, graders: tuple[User, ...],
) -> None:
    a, b, c = graders
    double = essay_version(org, double=True)
    single = essay_version(org)
    session.commit()
    agreed = awaiting(client, UserFactory(), double)
    grade(client, a, claim(client, a, agreed), {"Essay 1": (4, 3)})  # 7, final 8
    grade(client, b, claim(client, b, agreed), {"Essay 1": (4, 4)})  # 8
    split = awaiting(client, UserFactory(), double)
    grade(client, a, claim(client, a, split), {"Essay 1": (1, 1)})  # 2, final 6
    grade(client, b, claim(client, b, split), {"Essay 1": (5, 4)})  # 9
    grade(client, c, claim(client, c, split), {"Essay 1": (3, 3)})  # adjudicates
    alone = awaiting(client, UserFactory(), single)
    grade(client, c, claim(client, c, alone), {"Essay 1": (2, 2)})
    pending = awaiting(client, UserFactory(), double)
    claim(client, a, pending)  # claimed, not submitted: not counted

    manager = StaffFactory(role=Role.ADMIN, organisation=org)
    StaffFactory(role=Role.REVIEWER, organisation=OrganisationFactory())  # elsewhere
    session.commit()
    for caller in (manager, c):
        response = client.get(f"{API}/grading/stats", as_user=caller)
        assert response.status_code == 200
        assert response.get_json()["graders"] == [
            {"grader_id": str(a.id), "display_name": "Grader A", "role": "reviewer",
             "gradings_submitted": 2, "compared": 2, "agreed": 1, "agreement_percent": "50.00"},
            {"grader_id": str(b.id), "display_name": "Grader B", "role": "reviewer",
             "gradings_submitted": 2, "compared": 2, "agreed": 1, "agreement_percent": "50.00"},
            {"grader_id": str(c.id), "display_name": "Grader C", "role": "vendor_manager",
             "gradings_submitted": 2, "compared": 0, "agreed": 0, "agreement_percent": None},
        ]
    assert_problem(client.get(f"{API}/grading/stats", as_user=a), 403, code="role-forbidden")
