"""Trainers taking assessments (``blp``) and staff grading free-text answers
(``grading_blp``)."""

from __future__ import annotations

import uuid

from workforce import db
from workforce.accounts.models import GRADERS, MANAGERS, Role
from workforce.api.attempts_schemas import (
    AnswerBodySchema,
    AttemptSchema,
    GradingSchema,
    GradingStatsSchema,
    GradingSubmitSchema,
    MarketAssessmentSchema,
    QueueItemSchema,
    SavedAnswerSchema,
)
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.assessments import attempts, grading

blp = Blueprint(
    "attempts", __name__, url_prefix="/api/v1/me",
    description="Assessments open to trainers, and the caller's attempts at them",
)
grading_blp = Blueprint(
    "grading", __name__, url_prefix="/api/v1",
    description="Blind rubric grading of free-text answers, by the organisation's staff",
)


# --- trainers ------------------------------------------------------------------------


@blp.route("/assessments")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(MarketAssessmentSchema))
def list_marketplace(args: dict):
    """Every organisation's published assessments, newest first, with the caller's
    attempts used, whether they may start (`passed`: not again while they hold the
    qualification it granted) and when they may start again."""
    return attempts.list_marketplace(db_session(), current_user(), page_request(args))


@blp.route("/assessments/<uuid:assessment_id>/attempts", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(201, AttemptSchema)
@blp.refuses(404, 409)
def start_attempt(assessment_id: uuid.UUID):
    """Start an attempt on the latest published version; the clock starts now.
    Refused (409) with `already-passed` (the caller passed it and holds its
    qualification: `qualification_id`, and `expires_at` when it may be taken again),
    `attempt-open` (and `attempt_id`), `cooldown` (and `until`) or `attempts-exhausted`."""
    session, trainer = db_session(), current_user()
    # An expired attempt is closed (and committed) first: see save_answer.
    if attempts.close_expired_attempt_of(session, trainer, assessment_id):
        db.commit(session)
    attempt = attempts.start_attempt(session, trainer, assessment_id)
    return attempts.get_attempt(session, trainer, attempt.id)


@blp.route("/attempts")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(AttemptSchema))
def list_attempts(args: dict):
    """The caller's attempts, newest first."""
    return attempts.list_attempts(db_session(), current_user(), page_request(args))


@blp.route("/attempts/<uuid:attempt_id>")
@blp.requires(Role.TRAINER)
@blp.response(200, AttemptSchema)
@blp.refuses(404)
def get_attempt(attempt_id: uuid.UUID):
    """One of the caller's attempts: its questions, saved answers, the stipend (how
    many answers it needs and how many are given) and, once graded, the result (with
    per-question points and feedback if the assessment shows them)."""
    return attempts.get_attempt(db_session(), current_user(), attempt_id)


@blp.route("/attempts/<uuid:attempt_id>/answers/<uuid:question_id>", methods=["PUT"])
@blp.requires(Role.TRAINER)
@blp.arguments(AnswerBodySchema)
@blp.response(200, SavedAnswerSchema)
@blp.refuses(404, 409)
def save_answer(args: dict, attempt_id: uuid.UUID, question_id: uuid.UUID):
    """Save or replace the answer to one question. After the deadline: 409
    `time-limit-passed`, and the attempt is closed with what was saved in time."""
    session, trainer = db_session(), current_user()
    # The close must stand although this request then fails (a 409 rolls back), so it
    # is committed first as a unit of work of its own.
    if attempts.close_if_expired(session, trainer, attempt_id):
        db.commit(session)
    return attempts.save_answer(session, trainer, attempt_id, question_id, args)


@blp.route("/attempts/<uuid:attempt_id>/submit", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(200, AttemptSchema)
@blp.refuses(404)
def submit_attempt(attempt_id: uuid.UUID):
    """Hand the attempt in; choice and short answers are graded at once. Submitting
    again returns the attempt as it stands. After the deadline the attempt closes as
    the time limit would (`close_reason` `time_limit`), with the answers saved in time.
    The stipend is paid only with at least its `min_answers` questions answered;
    `stipend` says whether it was paid, and why not."""
    return attempts.submit_attempt(db_session(), current_user(), attempt_id)


# --- graders -------------------------------------------------------------------------


@grading_blp.route("/grading/queue")
@grading_blp.requires(*GRADERS)
@grading_blp.arguments(PageArgs, location="query")
@grading_blp.response(200, page_of(QueueItemSchema))
def grading_queue(args: dict):
    """The organisation's attempts that still need a grader, oldest first; nothing
    says whose they are. An attempt past its deadline with free text written is listed
    from its deadline (`closed_at`), before the scheduler has closed it."""
    return grading.grading_queue(db_session(), current_user(), page_request(args))


@grading_blp.route("/grading/attempts/<uuid:attempt_id>/claim", methods=["POST"])
@grading_blp.requires(*GRADERS)
@grading_blp.response(201, GradingSchema)
@grading_blp.refuses(404, 409)
def claim(attempt_id: uuid.UUID):
    """Take the attempt's next grading round. Refused (409) with `already-graded-by-you`
    (and `grading_id`) or `no-grading-needed`. An attempt whose deadline has passed is
    closed first, as the scheduler would."""
    session, grader = db_session(), current_user()
    # The close stands whatever the claim then meets (see save_answer).
    if attempts.close_if_expired(session, grader, attempt_id):
        db.commit(session)
    taken = grading.claim(session, grader, attempt_id)
    return grading.get_grading(session, grader, taken.id)


@grading_blp.route("/gradings/<uuid:grading_id>")
@grading_blp.requires(*GRADERS)
@grading_blp.response(200, GradingSchema)
@grading_blp.refuses(404)
def get_grading(grading_id: uuid.UUID):
    """One of the caller's gradings: the free-text answers and each rubric criterion."""
    return grading.get_grading(db_session(), current_user(), grading_id)


@grading_blp.route("/gradings/<uuid:grading_id>/submit", methods=["POST"])
@grading_blp.requires(*GRADERS)
@grading_blp.arguments(GradingSubmitSchema)
@grading_blp.response(200, GradingSchema)
@grading_blp.refuses(404, 409)
def submit_grading(args: dict, grading_id: uuid.UUID):
    """Score every criterion of every free-text question once, each with a
    justification. The round that decides the attempt completes it."""
    return grading.submit_grading(db_session(), current_user(), grading_id, args["scores"])


@grading_blp.route("/gradings/<uuid:grading_id>", methods=["DELETE"])
@grading_blp.requires(*GRADERS)
@grading_blp.response(204)
@grading_blp.refuses(404, 409)
def release_grading(grading_id: uuid.UUID):
    """Give back a claimed, unsubmitted grading; the attempt returns to the queue."""
    grading.release(db_session(), current_user(), grading_id)


@grading_blp.route("/grading/stats")
@grading_blp.requires(*MANAGERS)
@grading_blp.response(200, GradingStatsSchema)
def grading_stats():
    """Per grader: gradings submitted, and how often they agreed (within the margin)
    with the final score of double-graded attempts."""
    return {"graders": grading.grader_stats(db_session(), current_user())}
