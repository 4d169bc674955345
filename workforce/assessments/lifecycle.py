"""What attempts and grading share: the attempt's state machine, row locks, and the
questions an attempt drew. Kept apart so that ``attempts`` (which completes machine-graded
attempts through ``grading``) and ``grading`` need not import each other."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce.assessments.models import (
    Attempt,
    AttemptAnswer,
    AttemptState,
    GradingState,
    Question,
    QuestionKind,
)
from workforce.i18n import lazy_gettext
from workforce.lifecycle import Lifecycle

ATTEMPTS = Lifecycle(lazy_gettext("An attempt"), {
    AttemptState.OPEN: frozenset({AttemptState.AWAITING_GRADING, AttemptState.GRADED}),
    AttemptState.AWAITING_GRADING: frozenset({AttemptState.GRADED}),
    AttemptState.GRADED: frozenset(),
})

GRADINGS = Lifecycle(lazy_gettext("A grading"), {
    GradingState.CLAIMED: frozenset({GradingState.SUBMITTED}),
    GradingState.SUBMITTED: frozenset(),
}, code="grading-submitted")


def lock_attempt(session: Session, attempt_id: uuid.UUID) -> Attempt | None:
    """The attempt, its row locked until the transaction ends (PostgreSQL; SQLite
    serialises writers anyway), and re-read so a change committed while we waited
    for the lock is seen."""
    return session.scalars(
        select(Attempt)
        .where(Attempt.id == attempt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def drawn_questions(session: Session, attempt: Attempt) -> list[Question]:
    """The attempt's questions in the order they were drawn (and are served)."""
    return questions_by_id(session, [attempt])[attempt.id]


def questions_by_id(
    session: Session, attempts: Iterable[Attempt]
) -> dict[uuid.UUID, list[Question]]:
    """Each attempt's drawn questions, in its order, loaded in one query."""
    attempts = list(attempts)
    ids = {uuid.UUID(q) for attempt in attempts for q in attempt.question_ids}
    loaded = {q.id: q for q in session.scalars(select(Question).where(Question.id.in_(ids)))}
    return {
        attempt.id: [loaded[uuid.UUID(q)] for q in attempt.question_ids] for attempt in attempts
    }


def answers_of(session: Session, attempt: Attempt) -> dict[uuid.UUID, AttemptAnswer]:
    """The attempt's saved answers by question, read from the database (not from a
    collection loaded earlier in the session, which would miss answers saved since)."""
    stmt = select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id)
    return {a.question_id: a for a in session.scalars(stmt)}


def is_free_text(question: Question) -> bool:
    return question.kind is QuestionKind.FREE_TEXT


def is_answered(answer: AttemptAnswer | None) -> bool:
    """An answer that says something: an option chosen, or text that is not blank (an
    empty choice or blank text is saved, yet answers nothing)."""
    if answer is None:
        return False
    value = next(iter(answer.response.values()), None)
    return bool(value.strip()) if isinstance(value, str) else bool(value)
