"""Grading free-text answers with rubrics, and completing attempts.

An attempt with free-text answers waits (``awaiting_grading``) for graders of its
organisation (reviewers and vendor managers). Each grader *claims* the attempt, which
creates their ``Grading`` for the next round, and submits one score per rubric
criterion with a justification. Graders work blind: they see the answers, never who
wrote them, nor another grader's scores.

- One round, unless the version asks for double grading: then two graders score
  independently. If their totals differ by more than the version's margin (a share
  of the rubric's maximum), a third grader adjudicates and their total decides;
  otherwise the rubric points are the mean of the two, rounded in the trainer's
  favour.
- Completing an attempt fixes its score and pass/fail, updates the trainer's standing
  in the assessment's qualification (a failed retake never takes away a qualification
  that is still valid), audits the decision and tells the trainer.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import Actor
from workforce.accounts.models import GRADERS, Role, User
from workforce.assessments import scoring
from workforce.assessments.lifecycle import (
    ATTEMPTS,
    GRADINGS,
    answers_of,
    drawn_questions,
    is_free_text,
    lock_attempt,
)
from workforce.assessments.models import (
    Assessment,
    AssessmentVersion,
    Attempt,
    AttemptAnswer,
    AttemptState,
    CriterionScore,
    Grading,
    GradingState,
    QualificationSource,
    QualificationStatus,
    Question,
    QuestionKind,
    TrainerQualification,
)
from workforce.assessments.services import find_record, record_snapshot
from workforce.errors import Conflict, Invalid, NotFound
from workforce.i18n import gettext
from workforce.notifications.services import tell
from workforce.notifications.texts import day
from workforce.pagination import Page, PageRequest, paginate

ADJUDICATION_ROUND = 3

# --- the queue -----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    """An attempt waiting for a grader, without anything that identifies the trainer."""

    attempt_id: uuid.UUID
    assessment_title: str
    version_number: int
    closed_at: datetime
    rounds_done: int
    graded_by_you: bool


def _grading_count(*conditions: Any) -> Any:
    return (
        select(func.count(Grading.id))
        .where(Grading.attempt_id == Attempt.id, *conditions)
        .scalar_subquery()
    )


def grading_queue(session: Session, staff: User, page: PageRequest) -> Page[QueueItem]:
    """The organisation's attempts that still need a grader, oldest first.

    An attempt needs one while fewer gradings exist than the version plans (one, or
    two with double grading), or when both double-grading rounds are in and it is
    still waiting: agreeing rounds complete the attempt at once, so that means they
    disagreed and an adjudicator is needed. Claimed, unsubmitted rounds count as taken.
    An attempt whose deadline has passed with free text written awaits grading from
    its deadline, whether or not the job has closed it yet (a claim closes it first).
    """
    taken = _grading_count()
    done = _grading_count(Grading.state == GradingState.SUBMITTED)
    double = AssessmentVersion.double_grading == true()
    planned = case((double, 2), else_=1)
    mine = exists().where(Grading.attempt_id == Attempt.id, Grading.grader_id == staff.id)
    stmt = (
        select(Attempt, Assessment.title, AssessmentVersion.number, done, mine)
        .join(AssessmentVersion, AssessmentVersion.id == Attempt.version_id)
        .join(Assessment, Assessment.id == Attempt.assessment_id)
        .where(
            Attempt.organisation_id == staff.organisation_id,
            or_(Attempt.state == AttemptState.AWAITING_GRADING, _expired_with_text(clock.now())),
            or_(taken < planned, and_(double, taken == 2, done == 2)),
        )
    )
    # An attempt not closed yet counts as closed at its deadline (so never NULL).
    closed_at = func.coalesce(Attempt.closed_at, Attempt.deadline_at).nulls_last()
    found = paginate(session, stmt, page, order=(closed_at, Attempt.id))
    return Page(
        [
            QueueItem(
                attempt_id=attempt.id, assessment_title=title, version_number=number,
                closed_at=attempt.closed_at or attempt.deadline_at, rounds_done=rounds,
                graded_by_you=bool(by_me),
            )
            for attempt, title, number, rounds, by_me in found.items
        ],
        found.next_cursor,
    )


def _expired_with_text(now: datetime) -> Any:
    """SQL: still open past its deadline, with a free-text answer written (what closing
    it will hand to graders)."""
    written = (
        select(AttemptAnswer.id)
        .join(Question, Question.id == AttemptAnswer.question_id)
        .where(
            AttemptAnswer.attempt_id == Attempt.id, Question.kind == QuestionKind.FREE_TEXT,
            func.trim(AttemptAnswer.response["text"].as_string()) != "",
        )
        .exists()
    )
    return and_(Attempt.state == AttemptState.OPEN, Attempt.deadline_at <= now, written)


# --- claiming ------------------------------------------------------------------------


def _staff_attempt(session: Session, staff: User, attempt_id: uuid.UUID) -> Attempt:
    attempt = lock_attempt(session, attempt_id)
    if attempt is None or attempt.organisation_id != staff.organisation_id:
        raise NotFound(gettext("No such attempt."))
    return attempt


def _gradings(session: Session, attempt_id: uuid.UUID) -> list[Grading]:
    return list(
        session.scalars(
            select(Grading)
            .where(Grading.attempt_id == attempt_id)
            .order_by(Grading.round)
            .execution_options(populate_existing=True)
        )
    )


def rubric_max(questions: Sequence[Question]) -> int:
    return sum(q.max_points for q in questions if is_free_text(q))


def next_round(attempt: Attempt, gradings: Sequence[Grading], rubric_maximum: int) -> int | None:
    """The round a new grader would take, or ``None`` when no grader is needed."""
    if attempt.state is not AttemptState.AWAITING_GRADING:
        return None
    rounds = {g.round for g in gradings}
    planned = 2 if attempt.version.double_grading else 1
    for candidate in range(1, planned + 1):
        if candidate not in rounds:
            return candidate
    if planned == 2 and ADJUDICATION_ROUND not in rounds:
        totals = [g.total_points for g in gradings if g.state is GradingState.SUBMITTED]
        margin = attempt.version.grading_margin_percent
        if len(totals) == 2 and not scoring.within_margin(*totals, rubric_maximum, margin):
            return ADJUDICATION_ROUND
    return None


def claim(session: Session, grader: User, attempt_id: uuid.UUID) -> Grading:
    """Take the next grading round of an attempt; graders of one attempt are distinct."""
    attempt = _staff_attempt(session, grader, attempt_id)  # locked: claims queue up here
    gradings = _gradings(session, attempt.id)
    mine = next((g for g in gradings if g.grader_id == grader.id), None)
    if mine is not None:
        raise Conflict(
            gettext("You have graded (or claimed) this attempt already; each round needs another "
                    "grader."), code="already-graded-by-you", grading_id=str(mine.id),
        )
    round_ = next_round(attempt, gradings, rubric_max(drawn_questions(session, attempt)))
    if round_ is None:
        raise Conflict(gettext("This attempt needs no further grading."), code="no-grading-needed")
    grading = Grading(
        attempt_id=attempt.id, grader_id=grader.id, round=round_, claimed_at=clock.now()
    )
    try:
        # The unique keys (attempt, round) and (attempt, grader) settle any race the
        # row lock did not (SQLite takes no row locks).
        with session.begin_nested():
            session.add(grading)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            gettext("Another grader took this round a moment ago."), code="no-grading-needed"
        ) from exc
    return grading


def release(session: Session, grader: User, grading_id: uuid.UUID) -> None:
    """Give back a claimed round one cannot finish, so that the attempt (and the
    trainer's result) does not wait on it: the round returns to the queue."""
    grading = _own_grading(session, grader, grading_id)
    lock_attempt(session, grading.attempt_id)  # not while a submit of it settles
    session.refresh(grading)
    if grading.state is GradingState.SUBMITTED:
        raise Conflict(gettext("A submitted grading stands."), code="grading-submitted")
    session.delete(grading)
    session.flush()


# --- reading and scoring a grading ---------------------------------------------------


@dataclass(frozen=True)
class GradedQuestion:
    question_id: uuid.UUID
    prompt: str
    media_url: str | None
    media_kind: str | None
    max_points: int
    answer_text: str | None
    criteria: list[dict[str, Any]]
    scores: list[CriterionScore]


@dataclass(frozen=True)
class GradingView:
    """A grader's own grading: the free-text answers to score, blind to the trainer."""

    id: uuid.UUID
    attempt_id: uuid.UUID
    assessment_title: str
    version_number: int
    round: int
    state: GradingState
    claimed_at: datetime
    submitted_at: datetime | None
    total_points: int | None
    questions: list[GradedQuestion]


def _own_grading(session: Session, grader: User, grading_id: uuid.UUID) -> Grading:
    grading = session.get(Grading, grading_id, populate_existing=True)
    if grading is None or grading.grader_id != grader.id:
        raise NotFound(gettext("No such grading."))
    return grading


def get_grading(session: Session, grader: User, grading_id: uuid.UUID) -> GradingView:
    return _view(session, _own_grading(session, grader, grading_id))


def _view(session: Session, grading: Grading) -> GradingView:
    attempt = grading.attempt
    answers = answers_of(session, attempt)
    scores: dict[uuid.UUID, list[CriterionScore]] = defaultdict(list)
    for score in grading.scores:
        scores[score.question_id].append(score)
    questions = [
        GradedQuestion(
            question_id=q.id, prompt=q.prompt, media_url=q.media_url,
            media_kind=q.media_kind.value if q.media_kind else None, max_points=q.max_points,
            answer_text=_text_of(answers.get(q.id)), criteria=_criteria(q), scores=scores[q.id],
        )
        for q in drawn_questions(session, attempt) if is_free_text(q)
    ]
    return GradingView(
        id=grading.id, attempt_id=attempt.id, assessment_title=attempt.assessment.title,
        version_number=attempt.version.number, round=grading.round, state=grading.state,
        claimed_at=grading.claimed_at, submitted_at=grading.submitted_at,
        total_points=grading.total_points, questions=questions,
    )


def _text_of(answer: AttemptAnswer | None) -> str | None:
    text = (answer.response.get("text") or "") if answer is not None else ""
    return text if text.strip() else None


def _criteria(question: Question) -> list[dict[str, Any]]:
    return [
        {
            "id": str(c["id"]), "name": c.get("name", ""), "max_points": int(c["max_points"]),
            "levels": [
                {"points": int(level["points"]), "descriptor": level["descriptor"]}
                for level in c.get("levels") or []
            ],
        }
        for c in question.rubric
    ]


def submit_grading(
    session: Session, grader: User, grading_id: uuid.UUID, scores: Sequence[dict[str, Any]]
) -> GradingView:
    """Record one score per criterion of every free-text question, then settle the
    attempt if this round decides it."""
    grading = _own_grading(session, grader, grading_id)
    attempt = lock_attempt(session, grading.attempt_id)  # rounds settle one at a time
    assert attempt is not None
    session.refresh(grading)
    if grading.state is GradingState.SUBMITTED:
        raise Conflict(gettext("This grading has been submitted already."),
                       code="grading-submitted")
    if attempt.state is not AttemptState.AWAITING_GRADING:
        raise Conflict(gettext("This attempt needs no further grading."), code="no-grading-needed")
    questions = [q for q in drawn_questions(session, attempt) if is_free_text(q)]
    answered = {qid for qid, a in answers_of(session, attempt).items() if _text_of(a) is not None}
    checked = check_scores(questions, answered, scores)
    for entry in checked:
        session.add(CriterionScore(grading_id=grading.id, **entry))
    GRADINGS.move(grading, GradingState.SUBMITTED)
    grading.submitted_at = clock.now()
    grading.total_points = sum(entry["points"] for entry in checked)
    session.flush()  # the new scores are read back when the attempt is settled
    session.refresh(grading, ["scores"])
    _settle(session, attempt, grader, questions)
    return _view(session, grading)


def check_scores(
    questions: Sequence[Question], answered: set[uuid.UUID], scores: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every criterion of every free-text question exactly once, within its maximum,
    justified; an unanswered question earns nothing. Every failing entry is named."""
    criteria = {
        (str(q.id), str(c["id"])): int(c["max_points"]) for q in questions for c in q.rubric
    }
    errors: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    checked = []
    for index, entry in enumerate(scores):
        where = f"scores.{index}"
        key = (str(entry["question_id"]), str(entry["criterion_id"]))
        if key[0] not in {k[0] for k in criteria}:
            errors[f"{where}.question_id"] = [gettext("Not a free-text question of this attempt.")]
            continue
        if key not in criteria:
            errors[f"{where}.criterion_id"] = [
                gettext("Not a criterion of this question's rubric.")]
            continue
        if key in seen:
            errors[where] = [gettext("This criterion is scored twice.")]
            continue
        seen.add(key)
        points, maximum = int(entry["points"]), criteria[key]
        if not 0 <= points <= maximum:
            errors[f"{where}.points"] = [gettext("Between 0 and %(maximum)s.", maximum=maximum)]
        elif points and uuid.UUID(key[0]) not in answered:
            errors[f"{where}.points"] = [gettext("The trainer gave no answer: 0 points.")]
        if not str(entry.get("justification") or "").strip():
            errors[f"{where}.justification"] = [gettext("Say why these points.")]
        checked.append({
            "question_id": uuid.UUID(key[0]), "criterion_id": key[1], "points": points,
            "justification": str(entry.get("justification") or "").strip(),
        })
    missing = sorted(f"{q}/{c}" for q, c in set(criteria) - seen)
    if missing:
        errors["scores"] = ["Every criterion needs a score; missing: " + ", ".join(missing)]
    if errors:
        raise Invalid(gettext("The scores are incomplete or out of range."), errors=errors)
    return checked


# --- settling an attempt -------------------------------------------------------------


def _settle(
    session: Session, attempt: Attempt, grader: User, questions: Sequence[Question]
) -> None:
    submitted = {
        g.round: g for g in _gradings(session, attempt.id) if g.state is GradingState.SUBMITTED
    }
    decision = decide(attempt.version, submitted, questions)
    if decision is None:
        return  # waiting for the other round, or for an adjudicator
    rubric_points, per_question = decision
    for question_id, answer in answers_of(session, attempt).items():
        if question_id in per_question:
            answer.points = per_question[question_id]
    complete_attempt(session, attempt, rubric_points=rubric_points, actor=grader)


def decide(
    version: AssessmentVersion, submitted: dict[int, Grading], questions: Sequence[Question]
) -> tuple[int, dict[uuid.UUID, int]] | None:
    """The rubric points and per-question points the submitted rounds settle on, if any."""
    ids = [q.id for q in questions]
    if ADJUDICATION_ROUND in submitted:
        return _as_decided(submitted[ADJUDICATION_ROUND], ids)
    if not version.double_grading:
        return _as_decided(submitted[1], ids) if 1 in submitted else None
    if 1 not in submitted or 2 not in submitted:
        return None
    first, second = submitted[1], submitted[2]
    assert first.total_points is not None and second.total_points is not None
    if not scoring.within_margin(
        first.total_points, second.total_points, rubric_max(questions),
        version.grading_margin_percent,
    ):
        return None
    a, b = _per_question(first, ids), _per_question(second, ids)
    means = scoring.split_mean([a[i] for i in ids], [b[i] for i in ids])
    total = scoring.mean_in_trainers_favour(first.total_points, second.total_points)
    return total, dict(zip(ids, means, strict=True))


def _per_question(grading: Grading, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    points = dict.fromkeys(ids, 0)
    for score in grading.scores:
        points[score.question_id] += score.points
    return points


def _as_decided(grading: Grading, ids: Sequence[uuid.UUID]) -> tuple[int, dict[uuid.UUID, int]]:
    assert grading.total_points is not None
    return grading.total_points, _per_question(grading, ids)


def complete_attempt(
    session: Session, attempt: Attempt, *, rubric_points: int | None, actor: Actor
) -> None:
    """Fix the result, update the qualification, audit it and tell the trainer."""
    before = {"state": attempt.state}
    total = (attempt.auto_points or 0) + (rubric_points or 0)
    version = attempt.version
    now = clock.now()
    attempt.rubric_points = rubric_points
    attempt.score_percent = scoring.score_percent(total, attempt.max_points)
    attempt.passed = scoring.passed(total, attempt.max_points, version.pass_mark_percent)
    attempt.graded_at = now
    ATTEMPTS.move(attempt, AttemptState.GRADED)
    standing = _update_qualification(session, attempt, actor, now)
    audit.record(
        session, actor, "attempt.graded", object_type="attempt", object_id=attempt.id,
        organisation_id=attempt.organisation_id, before=before,
        after={
            "state": attempt.state, "auto_points": attempt.auto_points,
            "rubric_points": rubric_points, "max_points": attempt.max_points,
            "score_percent": str(attempt.score_percent), "passed": attempt.passed,
            "qualification_status": standing.status,
        },
    )
    _tell_trainer(session, attempt, total)
    session.flush()


def _tell_trainer(session: Session, attempt: Attempt, total: int) -> None:
    tell(
        session, attempt.trainer_id, "attempt.graded",
        {"assessment": attempt.assessment.title, "score": f"{attempt.score_percent}%",
         "points": total, "max_points": attempt.max_points,
         "pass_mark": f"{attempt.version.pass_mark_percent}%", "passed": attempt.passed},
        data={
            "attempt_id": str(attempt.id), "score_percent": str(attempt.score_percent),
            "passed": attempt.passed,
        },
    )


def is_valid_grant(record: TrainerQualification | None, now: datetime) -> bool:
    """Granted and not expired: the trainer holds the qualification now."""
    return (
        record is not None
        and record.status is QualificationStatus.GRANTED
        and (record.expires_at is None or record.expires_at > now)
    )


def _update_qualification(
    session: Session, attempt: Attempt, actor: Actor, now: datetime
) -> TrainerQualification:
    """Pass: granted (again), with a fresh validity. Fail: failed, unless the trainer
    holds a valid grant (a failed retake takes nothing away) or a person revoked the
    qualification (their decision and reason stand)."""
    qualification = attempt.assessment.qualification
    record = find_record(session, qualification.id, attempt.trainer_id)
    keep = record is not None and (
        is_valid_grant(record, now) or record.status is QualificationStatus.REVOKED
    )
    if not attempt.passed and keep:
        assert record is not None
        return record
    before = record_snapshot(record)
    if record is None:
        record = TrainerQualification(
            qualification_id=qualification.id, trainer_id=attempt.trainer_id
        )
    _apply_result(record, attempt, actor, now, qualification.validity_days)
    record = _save_record(session, record)
    verb = "granted" if attempt.passed else "failed"
    audit.record(
        session, actor, f"qualification.{verb}", object_type="trainer_qualification",
        object_id=record.id, organisation_id=qualification.organisation_id,
        before=before, after=record_snapshot(record),
    )
    if attempt.passed:
        _tell_granted(session, attempt, record)
    return record


def _tell_granted(session: Session, attempt: Attempt, record: TrainerQualification) -> None:
    qualification = attempt.assessment.qualification
    tell(
        session, record.trainer_id, "qualification.granted",
        {"qualification": qualification.name, "assessment": attempt.assessment.title,
         "expires_on": day(record.expires_at)},
        data={"qualification_id": str(qualification.id), "status": record.status.value,
              "attempt_id": str(attempt.id),
              "expires_at": record.expires_at.isoformat() if record.expires_at else None},
    )


def _apply_result(
    record: TrainerQualification, attempt: Attempt, actor: Actor, now: datetime,
    validity_days: int | None,
) -> None:
    record.status = QualificationStatus.GRANTED if attempt.passed else QualificationStatus.FAILED
    record.score_percent = attempt.score_percent
    record.granted_at = now if attempt.passed else None
    record.expires_at = (
        now + timedelta(days=validity_days) if attempt.passed and validity_days else None
    )
    record.source = QualificationSource.ATTEMPT
    record.attempt_id = attempt.id
    record.decided_by_id = actor.id if isinstance(actor, User) else None
    record.reason = None


def _save_record(session: Session, record: TrainerQualification) -> TrainerQualification:
    """Insert or update; two attempts of one trainer (on two assessments for the same
    qualification) completing at once meet at the unique key, and the later one
    updates the row the earlier one made."""
    if record in session:
        session.flush()
        return record
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        existing = find_record(session, record.qualification_id, record.trainer_id)
        if existing is None:
            raise
        for name in ("status", "score_percent", "granted_at", "expires_at", "source",
                     "attempt_id", "decided_by_id", "reason"):
            setattr(existing, name, getattr(record, name))
        session.flush()
        return existing
    return record


# --- statistics ----------------------------------------------------------------------


@dataclass(frozen=True)
class GraderStats:
    grader_id: uuid.UUID
    display_name: str
    role: Role
    gradings_submitted: int
    compared: int
    agreed: int

    @property
    def agreement_percent(self) -> Decimal | None:
        return scoring.score_percent(self.agreed, self.compared) if self.compared else None


def grader_stats(session: Session, manager: User) -> list[GraderStats]:
    """Per grader of the organisation: gradings submitted, and how often their round-1/2
    total fell within the version's margin of the final rubric points of a double-graded,
    completed attempt. A sole grader's total is the final score by definition, so
    single-graded attempts would only inflate the rate and are not compared."""
    rows = session.execute(
        select(Grading, Attempt, AssessmentVersion)
        .join(Attempt, Attempt.id == Grading.attempt_id)
        .join(AssessmentVersion, AssessmentVersion.id == Attempt.version_id)
        .where(
            Attempt.organisation_id == manager.organisation_id,
            Grading.state == GradingState.SUBMITTED,
        )
    ).all()
    maxima = _rubric_maxima(session, {version.id for _, _, version in rows})
    counts: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0, 0])
    for grading, attempt, version in rows:
        tally = counts[grading.grader_id]
        tally[0] += 1
        if _comparable(grading, attempt, version):
            rubric_maximum = sum(maxima.get(uuid.UUID(q), 0) for q in attempt.question_ids)
            tally[1] += 1
            assert grading.total_points is not None and attempt.rubric_points is not None
            tally[2] += scoring.within_margin(
                grading.total_points, attempt.rubric_points, rubric_maximum,
                version.grading_margin_percent,
            )
    graders = session.scalars(
        select(User)
        .where(
            User.organisation_id == manager.organisation_id,
            or_(User.role.in_(GRADERS), User.id.in_(list(counts))),
        )
        .order_by(User.display_name, User.id)
    )
    return [
        GraderStats(user.id, user.display_name, user.role, *counts.get(user.id, [0, 0, 0]))
        for user in graders
    ]


def _comparable(grading: Grading, attempt: Attempt, version: AssessmentVersion) -> bool:
    return (
        version.double_grading
        and grading.round in (1, 2)
        and attempt.state is AttemptState.GRADED
        and attempt.rubric_points is not None
    )


def _rubric_maxima(session: Session, version_ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
    questions = session.scalars(
        select(Question).where(
            Question.version_id.in_(version_ids), Question.kind == QuestionKind.FREE_TEXT
        )
    )
    return {q.id: q.max_points for q in questions}
