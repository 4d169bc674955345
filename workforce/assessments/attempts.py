"""Trainers taking assessments: the marketplace, starting, answering, submitting, and
closing attempts whose time is up.

An attempt lives on the version that was the latest published one when it started,
with the questions it drew then; later versions never change it. It is ``open`` until
the trainer submits or its deadline passes (whichever comes first: saved answers count
either way). An attempt whose deadline has passed is shown closed from then on, before
anything has processed it (``shown_state``). Closing grades what a machine can grade,
pays the stipend (pass or fail, once, and only for at least ``stipend_min_answers``
answered questions), and completes the attempt at once or hands it to graders
(``grading``). A trainer who passed an assessment and holds its qualification may not
take it again until the qualification expires or is revoked.

Answer keys never leave this module except as points.
"""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts.audit import SystemActor
from workforce.accounts.models import Organisation, User
from workforce.assessments import grading, scoring
from workforce.assessments.lifecycle import (
    ATTEMPTS,
    answers_of,
    drawn_questions,
    is_answered,
    is_free_text,
    lock_attempt,
    questions_by_id,
)
from workforce.assessments.models import (
    Assessment,
    AssessmentState,
    AssessmentVersion,
    Attempt,
    AttemptAnswer,
    AttemptState,
    CloseReason,
    Qualification,
    Question,
    QuestionKind,
    TrainerQualification,
)
from workforce.assessments.services import latest_published_version
from workforce.billing.models import EarningEvent, EarningKind
from workforce.billing.services import record_earning
from workforce.errors import Conflict, Invalid, NotFound
from workforce.i18n import _
from workforce.money import Money
from workforce.notifications import texts
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate

AUTO_GRADER = SystemActor("assessments")
SHORT_ANSWER_MAX = 1_000
FREE_TEXT_MAX = 20_000
CLOSE_BATCH = 200

# --- standing: may the trainer start? ------------------------------------------------


class Availability(StrEnum):
    AVAILABLE = "available"
    IN_PROGRESS = "in_progress"
    PASSED = "passed"
    COOLDOWN = "cooldown"
    EXHAUSTED = "exhausted"


@dataclass(frozen=True)
class Standing:
    """A trainer's position on one assessment under the rules of its current version.

    Attempts count across versions: publishing a new version does not hand out new tries.
    ``passed`` holds the qualification the trainer passed the assessment for, while it
    is valid: the assessment is not taken again until it expires or is revoked.
    """

    attempts_used: int
    max_attempts: int
    open_attempt_id: uuid.UUID | None
    cooldown_until: datetime | None
    passed: TrainerQualification | None = None

    @property
    def availability(self) -> Availability:
        if self.open_attempt_id is not None:
            return Availability.IN_PROGRESS
        if self.passed is not None:
            return Availability.PASSED
        if self.attempts_used >= self.max_attempts:
            return Availability.EXHAUSTED
        if self.cooldown_until is not None:
            return Availability.COOLDOWN
        return Availability.AVAILABLE

    @property
    def next_start_at(self) -> datetime | None:
        """When the trainer may start again: a cooldown's end, or the expiry of the
        qualification they passed for (if tries are left)."""
        if self.passed is not None:
            left = self.attempts_used < self.max_attempts
            return self.passed.expires_at if left else None
        return self.cooldown_until


def standing_of(
    version: AssessmentVersion, attempts: Sequence[Attempt], now: datetime,
    record: TrainerQualification | None = None,
) -> Standing:
    """``record`` is the trainer's standing in the assessment's qualification."""
    open_ids = [a.id for a in attempts if shown_state(a, now) is AttemptState.OPEN]
    closed = [c for c in (shown_closed_at(a, now) for a in attempts) if c is not None]
    until = max(closed) + timedelta(seconds=version.cooldown_seconds) if closed else None
    passed = any(a.passed for a in attempts) and grading.is_valid_grant(record, now)
    return Standing(
        attempts_used=len(attempts), max_attempts=version.max_attempts,
        open_attempt_id=open_ids[0] if open_ids else None,
        cooldown_until=until if until is not None and until > now else None,
        passed=record if passed else None,
    )


def _check_may_start(standing: Standing, qualification: Qualification) -> None:
    availability = standing.availability
    if availability is Availability.PASSED:
        assert standing.passed is not None
        expires_at = standing.passed.expires_at
        raise Conflict(
            _("You passed this assessment and hold %(qualification)s until %(expires_on)s; it "
              "can be taken again once the qualification expires or is revoked.",
              qualification=qualification.name, expires_on=expires_at.strftime("%Y-%m-%d"))
            if expires_at else
            _("You passed this assessment and hold %(qualification)s; it can be taken again "
              "once the qualification expires or is revoked.", qualification=qualification.name),
            code="already-passed", qualification_id=str(qualification.id),
            expires_at=expires_at.isoformat() if expires_at else None,
        )
    if availability is Availability.IN_PROGRESS:
        raise Conflict(
            _("You have an attempt in progress; finish it first."), code="attempt-open",
            attempt_id=str(standing.open_attempt_id),
        )
    if availability is Availability.EXHAUSTED:
        raise Conflict(
            _("You have used all %(max_attempts)s attempts at this assessment.",
              max_attempts=standing.max_attempts),
            code="attempts-exhausted", attempts_used=standing.attempts_used,
            max_attempts=standing.max_attempts,
        )
    if availability is Availability.COOLDOWN:
        assert standing.cooldown_until is not None
        raise Conflict(
            _("You can try again once the waiting time after your last attempt is over."),
            code="cooldown", until=standing.cooldown_until.isoformat(),
        )


# --- the marketplace -----------------------------------------------------------------


@dataclass(frozen=True)
class MarketEntry:
    """A published assessment as a trainer sees it: its rules, never its questions."""

    assessment: Assessment
    version: AssessmentVersion
    organisation: Organisation
    qualification: Qualification
    standing: Standing

    @property
    def stipend(self) -> Money | None:
        return stipend_of(self.version)


def stipend_of(version: AssessmentVersion) -> Money | None:
    if version.stipend_amount <= 0 or version.stipend_currency is None:
        return None
    return Money(version.stipend_amount, version.stipend_currency)


def _published_versions(session: Session, assessment_ids: Sequence[uuid.UUID]) -> Any:
    return session.scalars(
        select(AssessmentVersion).where(
            AssessmentVersion.assessment_id.in_(assessment_ids),
            AssessmentVersion.published_at.is_not(None),
        )
    )


def _latest_published(
    session: Session, assessment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, AssessmentVersion]:
    """``services.latest_published_version`` for a page of assessments, in one query."""
    latest: dict[uuid.UUID, AssessmentVersion] = {}
    for version in _published_versions(session, assessment_ids):
        current = latest.get(version.assessment_id)
        if current is None or version.number > current.number:
            latest[version.assessment_id] = version
    return latest


def list_marketplace(session: Session, trainer: User, page: PageRequest) -> Page[MarketEntry]:
    """Every organisation's published assessments, newest first."""
    has_published = (
        select(AssessmentVersion.id)
        .where(
            AssessmentVersion.assessment_id == Assessment.id,
            AssessmentVersion.published_at.is_not(None),
        )
        .exists()
    )
    stmt = select(Assessment).where(Assessment.state == AssessmentState.PUBLISHED, has_published)
    found = paginate(session, stmt, page, created_at=Assessment.created_at, row_id=Assessment.id)
    ids = [a.id for a in found.items]
    versions = _latest_published(session, ids)
    attempts = _attempts_by_assessment(session, trainer.id, ids)
    records = _records(session, trainer.id, {a.qualification_id for a in found.items})
    owners = {a.organisation_id for a in found.items}
    organisations = {
        o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(owners)))
    }
    now = clock.now()
    entries = [
        MarketEntry(
            assessment=a, version=versions[a.id], organisation=organisations[a.organisation_id],
            qualification=a.qualification,
            standing=standing_of(versions[a.id], attempts[a.id], now,
                                 records.get(a.qualification_id)),
        )
        for a in found.items
    ]
    return Page(entries, found.next_cursor)


def _records(
    session: Session, trainer_id: uuid.UUID, qualification_ids: set[uuid.UUID]
) -> dict[uuid.UUID, TrainerQualification]:
    """The trainer's standing in each qualification, by qualification."""
    if not qualification_ids:
        return {}
    return {
        r.qualification_id: r for r in session.scalars(
            select(TrainerQualification).where(
                TrainerQualification.trainer_id == trainer_id,
                TrainerQualification.qualification_id.in_(qualification_ids),
            )
        )
    }


def _attempts_by_assessment(
    session: Session, trainer_id: uuid.UUID, assessment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Attempt]]:
    grouped: dict[uuid.UUID, list[Attempt]] = defaultdict(list)
    for attempt in session.scalars(
        select(Attempt).where(
            Attempt.trainer_id == trainer_id, Attempt.assessment_id.in_(assessment_ids)
        )
    ):
        grouped[attempt.assessment_id].append(attempt)
    return grouped


# --- starting ------------------------------------------------------------------------


def _startable(session: Session, assessment_id: uuid.UUID) -> tuple[Assessment, AssessmentVersion]:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None or assessment.state is not AssessmentState.PUBLISHED:
        raise NotFound(_("No such assessment."))
    version = latest_published_version(assessment)
    if version is None:
        raise NotFound(_("No such assessment."))
    return assessment, version


def start_attempt(session: Session, trainer: User, assessment_id: uuid.UUID) -> Attempt:
    """A new attempt on the latest published version, with freshly drawn questions."""
    assessment, version = _startable(session, assessment_id)
    now = clock.now()
    previous = _attempts_by_assessment(session, trainer.id, [assessment.id])[assessment.id]
    _close_expired(session, previous, now)
    record = _records(session, trainer.id, {assessment.qualification_id})
    standing = standing_of(version, previous, now, record.get(assessment.qualification_id))
    _check_may_start(standing, assessment.qualification)
    questions = _draw(version)
    attempt = Attempt(
        assessment_id=assessment.id, version_id=version.id,
        organisation_id=assessment.organisation_id, trainer_id=trainer.id,
        number=len(previous) + 1, state=AttemptState.OPEN,
        question_ids=[str(q.id) for q in questions], started_at=now,
        deadline_at=now + timedelta(seconds=version.time_limit_seconds),
        max_points=sum(q.max_points for q in questions),
    )
    try:
        # Two starts racing past the checks above meet at uq_attempts_one_open.
        with session.begin_nested():
            session.add(attempt)
            session.flush()
    except IntegrityError as exc:
        open_id = _open_attempt_id(session, trainer.id, assessment.id)
        if open_id is None:
            raise  # not the race this handles
        raise Conflict(
            _("You have an attempt in progress; finish it first."), code="attempt-open",
            attempt_id=str(open_id),
        ) from exc
    return attempt


def close_expired_attempt_of(session: Session, trainer: User, assessment_id: uuid.UUID) -> bool:
    """Close the trainer's open attempt at the assessment if its time ran out, as the job
    would; says whether it did. The API commits this on its own before starting, so the
    close stands even when the start is then refused (by the cooldown it began)."""
    previous = _attempts_by_assessment(session, trainer.id, [assessment_id])[assessment_id]
    return _close_expired(session, previous, clock.now())


def _close_expired(session: Session, attempts: Sequence[Attempt], now: datetime) -> bool:
    # The trainer then meets the cooldown rather than a stale "attempt in progress".
    due = [a for a in attempts if is_expired(a, now)]
    return any([_close_locked(session, a.id, now) for a in due])


def _draw(version: AssessmentVersion) -> list[Question]:
    """``questions_per_attempt`` questions (all, if the pool is smaller), in random order,
    from the operating system's randomness so nobody can predict a draw."""
    pool = list(version.questions)
    count = min(version.questions_per_attempt, len(pool))
    return secrets.SystemRandom().sample(pool, count)


def _open_attempt_id(
    session: Session, trainer_id: uuid.UUID, assessment_id: uuid.UUID
) -> uuid.UUID | None:
    return session.scalar(
        select(Attempt.id).where(
            Attempt.trainer_id == trainer_id, Attempt.assessment_id == assessment_id,
            Attempt.state == AttemptState.OPEN,
        )
    )


# --- reading attempts ----------------------------------------------------------------


@dataclass(frozen=True)
class ServedQuestion:
    """A question as a trainer sees it; the answer key is not among its fields."""

    id: uuid.UUID
    kind: QuestionKind
    prompt: str
    media_url: str | None
    media_kind: str | None
    options: list[dict[str, str]]
    max_points: int
    answer: dict[str, Any] | None
    saved_at: datetime | None
    points: int | None  # only after grading, and only with show_feedback
    feedback: str | None  # likewise


class StipendStatus(StrEnum):
    PENDING = "pending"  # not paid yet: the attempt is open, or closed and not processed
    PAID = "paid"
    WITHHELD = "withheld"  # closed with fewer answered questions than the stipend needs


@dataclass(frozen=True)
class StipendView:
    """The attempt's stipend as the trainer sees it, before and after submitting."""

    money: Money
    min_answers: int
    answered: int
    status: StipendStatus
    closed: bool

    @property
    def message(self) -> str:
        money, needed, given = self.money, self.min_answers, self.answered
        if self.status is StipendStatus.PAID:
            return f"Paid: {money}."
        if self.status is StipendStatus.WITHHELD:
            return (f"No stipend: the attempt closed with {_questions(given)} answered, and "
                    f"the stipend of {money} needs at least {needed}.")
        if self.closed:
            return (f"The attempt closed with {_questions(given)} answered, enough for the "
                    f"stipend of {money}; it is paid as the attempt is processed.")
        if given < needed:
            return (f"Answer at least {_questions(needed)} to earn the stipend of {money}; "
                    f"you have answered {given}.")
        return (f"You have answered {_questions(given)}, enough for the stipend of {money}; "
                "it is paid when the attempt closes.")


def _questions(count: int) -> str:
    return f"{count} question" if count == 1 else f"{count} questions"


@dataclass(frozen=True)
class AttemptView:
    id: uuid.UUID
    assessment_id: uuid.UUID
    assessment_title: str
    version_number: int
    number: int
    instructions: str
    state: AttemptState
    started_at: datetime
    deadline_at: datetime
    closed_at: datetime | None
    close_reason: CloseReason | None
    max_points: int
    total_points: int | None
    score_percent: Decimal | None
    passed: bool | None
    graded_at: datetime | None
    stipend: StipendView | None
    questions: list[ServedQuestion]


def is_expired(attempt: Attempt, now: datetime) -> bool:
    """Still open in the database, though its deadline has passed."""
    return attempt.state is AttemptState.OPEN and now >= attempt.deadline_at


def shown_state(attempt: Attempt, now: datetime) -> AttemptState:
    """The attempt's state as of ``now``: one whose deadline has passed is closed then,
    whether or not anything has processed it yet; until it is, its result is pending
    (``awaiting_grading``)."""
    if is_expired(attempt, now):
        return AttemptState.AWAITING_GRADING
    return attempt.state


def shown_closed_at(attempt: Attempt, now: datetime) -> datetime | None:
    if is_expired(attempt, now):
        return attempt.deadline_at
    return attempt.closed_at


def _shown_close_reason(attempt: Attempt, now: datetime) -> CloseReason | None:
    if is_expired(attempt, now):
        return CloseReason.TIME_LIMIT
    return attempt.close_reason


def _own_attempt(
    session: Session, trainer: User, attempt_id: uuid.UUID, *, lock: bool = False
) -> Attempt:
    attempt = lock_attempt(session, attempt_id) if lock else session.get(Attempt, attempt_id)
    if attempt is None or attempt.trainer_id != trainer.id:
        raise NotFound(_("No such attempt."))
    return attempt


def get_attempt(session: Session, trainer: User, attempt_id: uuid.UUID) -> AttemptView:
    return attempt_views(session, [_own_attempt(session, trainer, attempt_id)])[0]


def list_attempts(session: Session, trainer: User, page: PageRequest) -> Page[AttemptView]:
    stmt = select(Attempt).where(Attempt.trainer_id == trainer.id)
    found = paginate(session, stmt, page, created_at=Attempt.created_at, row_id=Attempt.id)
    return Page(attempt_views(session, found.items), found.next_cursor)


def attempt_views(session: Session, attempts: Sequence[Attempt]) -> list[AttemptView]:
    """Views of several attempts with their questions, answers and stipends, in a few
    queries, as of now."""
    ids = [a.id for a in attempts]
    questions = questions_by_id(session, attempts)
    answers: dict[uuid.UUID, dict[uuid.UUID, AttemptAnswer]] = defaultdict(dict)
    for answer in session.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id.in_(ids))):
        answers[answer.attempt_id][answer.question_id] = answer
    paid = set(session.scalars(
        select(EarningEvent.source_id).where(
            EarningEvent.kind == EarningKind.ASSESSMENT_STIPEND,
            EarningEvent.source_type == "attempt", EarningEvent.source_id.in_(ids),
        )
    ))
    now = clock.now()
    return [_view(a, questions[a.id], answers[a.id], a.id in paid, now) for a in attempts]


def _view(
    attempt: Attempt, questions: Sequence[Question],
    answers: Mapping[uuid.UUID, AttemptAnswer], paid: bool, now: datetime,
) -> AttemptView:
    state = shown_state(attempt, now)
    graded = state is AttemptState.GRADED
    feedback = graded and attempt.version.show_feedback
    total = (attempt.auto_points or 0) + (attempt.rubric_points or 0)
    return AttemptView(
        id=attempt.id, assessment_id=attempt.assessment_id,
        assessment_title=attempt.assessment.title, version_number=attempt.version.number,
        number=attempt.number, instructions=attempt.version.instructions, state=state,
        started_at=attempt.started_at, deadline_at=attempt.deadline_at,
        closed_at=shown_closed_at(attempt, now),
        close_reason=_shown_close_reason(attempt, now),
        max_points=attempt.max_points, total_points=total if graded else None,
        score_percent=attempt.score_percent if graded else None,
        passed=attempt.passed if graded else None, graded_at=attempt.graded_at,
        stipend=_stipend_view(attempt, state, answers, paid),
        questions=[_served(q, answers.get(q.id), feedback) for q in questions],
    )


def _stipend_view(
    attempt: Attempt, state: AttemptState, answers: Mapping[uuid.UUID, AttemptAnswer],
    paid: bool,
) -> StipendView | None:
    money = stipend_of(attempt.version)
    if money is None:
        return None
    answered = answered_count(attempt, answers)
    needed = attempt.version.stipend_min_answers
    closed = state is not AttemptState.OPEN
    if paid:
        status = StipendStatus.PAID
    elif closed and answered < needed:
        status = StipendStatus.WITHHELD
    else:
        status = StipendStatus.PENDING
    return StipendView(money=money, min_answers=needed, answered=answered, status=status,
                       closed=closed)


def answered_count(attempt: Attempt, answers: Mapping[uuid.UUID, AttemptAnswer]) -> int:
    """The attempt's questions with an answer that says something (``is_answered``)."""
    return sum(1 for q in attempt.question_ids if is_answered(answers.get(uuid.UUID(q))))


def _served(question: Question, answer: AttemptAnswer | None, feedback: bool) -> ServedQuestion:
    earned = (answer.points or 0) if answer is not None else 0  # unanswered: nothing
    return ServedQuestion(
        id=question.id, kind=question.kind, prompt=question.prompt,
        media_url=question.media_url,
        media_kind=question.media_kind.value if question.media_kind else None,
        # Only id and text: whatever else an author stored on an option stays here.
        options=[{"id": str(o["id"]), "text": str(o.get("text", ""))} for o in question.options],
        max_points=question.max_points,
        answer=answer.response if answer is not None else None,
        saved_at=answer.saved_at if answer is not None else None,
        points=earned if feedback else None,
        feedback=question.feedback if feedback else None,
    )


# --- answering -----------------------------------------------------------------------

RESPONSE_FIELD = {
    QuestionKind.SINGLE_CHOICE: "option_id",
    QuestionKind.MULTIPLE_CHOICE: "option_ids",
    QuestionKind.SHORT_ANSWER: "text",
    QuestionKind.FREE_TEXT: "text",
}


def close_if_expired(session: Session, user: User, attempt_id: uuid.UUID) -> bool:
    """Close the attempt if its deadline has passed and it is still open, as the job
    would; says whether it did. ``user`` is its trainer, or a grader of its organisation
    about to claim it. The API commits this on its own, before the request goes on (an
    answer that arrived too late is then refused)."""
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        return False
    staff = user.organisation_id is not None and user.organisation_id == attempt.organisation_id
    if attempt.trainer_id != user.id and not staff:
        return False
    return _close_locked(session, attempt_id, clock.now())


def save_answer(
    session: Session,
    trainer: User,
    attempt_id: uuid.UUID,
    question_id: uuid.UUID,
    body: Mapping[str, Any],
) -> AttemptAnswer:
    """Save (or overwrite) the trainer's answer to one of the attempt's questions."""
    attempt = _own_attempt(session, trainer, attempt_id, lock=True)
    _check_open(attempt, clock.now())
    if str(question_id) not in attempt.question_ids:
        raise NotFound(_("This question is not part of the attempt."))
    question = session.get_one(Question, question_id)
    response = _response_for(question, body)
    answer = session.scalars(
        select(AttemptAnswer).where(
            AttemptAnswer.attempt_id == attempt.id, AttemptAnswer.question_id == question.id
        )
    ).one_or_none()
    if answer is None:
        # Unique per (attempt, question); the attempt's row lock serialises writers.
        answer = AttemptAnswer(attempt_id=attempt.id, question_id=question.id)
        session.add(answer)
    answer.response = response
    answer.saved_at = clock.now()
    session.flush()
    return answer


def _check_open(attempt: Attempt, now: datetime) -> None:
    if attempt.state is AttemptState.OPEN and now < attempt.deadline_at:
        return
    if now >= attempt.deadline_at and attempt.close_reason is not CloseReason.SUBMITTED:
        raise Conflict(
            _("The time limit has passed; the attempt is closed with the answers saved before "
              "it."),
            code="time-limit-passed", deadline_at=attempt.deadline_at.isoformat(),
        )
    raise Conflict(_("The attempt is closed."), code="attempt-closed")


def _response_for(question: Question, body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer in the shape its question's kind takes; each misfit is named by field."""
    field = RESPONSE_FIELD[question.kind]
    kind = question.kind.value
    errors = {
        name: [f"Not part of an answer to a {kind} question."] for name in body if name != field
    }
    value = body.get(field)
    if value is None:
        errors[field] = [_("Required in an answer to a %(kind)s question.", kind=kind)]
    else:
        problem = _value_problem(question, value)
        if problem:
            errors[field] = [problem]
    if errors:
        raise Invalid(_("The answer does not fit the question."), errors=errors)
    return {field: value}


def _value_problem(question: Question, value: Any) -> str | None:
    options = {str(o["id"]) for o in question.options}
    kind = question.kind
    if kind is QuestionKind.SINGLE_CHOICE:
        if not isinstance(value, str) or value not in options:
            return "Not one of the question's options."
    elif kind is QuestionKind.MULTIPLE_CHOICE:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "A list of option ids."
        if len(set(value)) != len(value):
            return "Each option at most once."
        unknown = sorted(set(value) - options)
        if unknown:
            return "Not options of the question: " + ", ".join(unknown)
    else:
        limit = SHORT_ANSWER_MAX if kind is QuestionKind.SHORT_ANSWER else FREE_TEXT_MAX
        if not isinstance(value, str):
            return "Text."
        if len(value) > limit:
            return f"At most {limit} characters."
    return None


# --- closing -------------------------------------------------------------------------


def submit_attempt(session: Session, trainer: User, attempt_id: uuid.UUID) -> AttemptView:
    """Hand the attempt in. Submitting again returns it as it stands: nothing is graded
    or paid twice. Past the deadline it closes as the time limit would (``time_limit``),
    with every answer saved in time."""
    attempt = _own_attempt(session, trainer, attempt_id, lock=True)
    if attempt.state is AttemptState.OPEN:
        now = clock.now()
        reason = CloseReason.SUBMITTED if now < attempt.deadline_at else CloseReason.TIME_LIMIT
        close_attempt(session, attempt, reason, now)
    return attempt_views(session, [attempt])[0]


def close_expired_attempts(session: Session, *, limit: int = CLOSE_BATCH) -> int:
    """Close up to ``limit`` open attempts whose deadline has passed; returns how many.

    Rows another process has locked are skipped (``SKIP LOCKED``), so two schedulers
    close each attempt once between them; a trainer submitting at the same moment holds
    the row lock, and the attempt is skipped here and closed by the submit.
    """
    now = clock.now()
    due = session.scalars(
        select(Attempt)
        .where(Attempt.state == AttemptState.OPEN, Attempt.deadline_at <= now)
        .order_by(Attempt.deadline_at, Attempt.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    for attempt in due:
        close_attempt(session, attempt, CloseReason.TIME_LIMIT, now)
    return len(due)


def _close_locked(session: Session, attempt_id: uuid.UUID, now: datetime) -> bool:
    attempt = lock_attempt(session, attempt_id)
    if attempt is None or attempt.state is not AttemptState.OPEN or now < attempt.deadline_at:
        return False
    close_attempt(session, attempt, CloseReason.TIME_LIMIT, now)
    return True


def close_attempt(
    session: Session, attempt: Attempt, reason: CloseReason, now: datetime
) -> None:
    """Leave ``open`` (the caller holds the row lock): grade what a machine can, pay the
    stipend, then complete the attempt or queue it for graders."""
    # A time-limit close happened at the deadline, however late the job noticed it;
    # the cooldown counts from then.
    attempt.closed_at = min(now, attempt.deadline_at)
    attempt.close_reason = reason
    questions = drawn_questions(session, attempt)
    answers = answers_of(session, attempt)
    attempt.auto_points = _auto_grade(questions, answers)
    _pay_stipend(session, attempt, answered_count(attempt, answers))
    free_text = [q for q in questions if is_free_text(q)]
    if any(_has_text(answers.get(q.id)) for q in free_text):
        ATTEMPTS.move(attempt, AttemptState.AWAITING_GRADING)
        session.flush()
        _tell_awaiting(session, attempt)
        return
    # No free text, or none written: nothing for a grader to read, and blank answers
    # score 0 on every criterion.
    for question in free_text:
        if question.id in answers:
            answers[question.id].points = 0
    grading.complete_attempt(
        session, attempt, rubric_points=0 if free_text else None, actor=AUTO_GRADER
    )


def _has_text(answer: AttemptAnswer | None) -> bool:
    return answer is not None and bool(str(answer.response.get("text") or "").strip())


def _auto_grade(questions: Sequence[Question], answers: Mapping[uuid.UUID, AttemptAnswer]) -> int:
    total = 0
    for question in questions:
        if is_free_text(question):
            continue
        answer = answers.get(question.id)
        points = scoring.auto_points(
            question.kind, question.points, question.answer_key, question.partial_credit,
            answer.response if answer is not None else None,
        )
        if answer is not None:
            answer.points = points
        total += points
    return total


def _pay_stipend(session: Session, attempt: Attempt, answered: int) -> None:
    """Taking the assessment is work: paid on closing, pass or fail, once per attempt
    (the earning's unique source key holds that against any retry or race), if the
    trainer answered at least the version's minimum; a blank attempt is not work. The
    trainer is told either way."""
    money = stipend_of(attempt.version)
    if money is None:
        return
    title, number = attempt.assessment.title, attempt.number
    needed = attempt.version.stipend_min_answers
    data = {"attempt_id": str(attempt.id), "amount": money.amount,
            "currency": money.currency, "answered": answered, "min_answers": needed}
    if answered < needed:
        tell(
            session, attempt.trainer_id, "earnings.stipend_withheld",
            {"assessment": title, "attempt": number, "answered": answered,
             "amount": texts.money(money), "needed": needed},
            data=data,
        )
        return
    record_earning(
        session, kind=EarningKind.ASSESSMENT_STIPEND, trainer_id=attempt.trainer_id,
        organisation_id=attempt.organisation_id, money=money,
        source_type="attempt", source_id=attempt.id,
        description=f"Assessment stipend: {title} (attempt {number})",
    )
    tell(
        session, attempt.trainer_id, "earnings.stipend",
        {"amount": texts.money(money), "attempt": number, "assessment": title}, data=data,
    )


def _tell_awaiting(session: Session, attempt: Attempt) -> None:
    tell(
        session, attempt.trainer_id, "attempt.awaiting_grading",
        {"assessment": attempt.assessment.title,
         "submitted": attempt.close_reason is CloseReason.SUBMITTED},
        data={"attempt_id": str(attempt.id)},
    )
