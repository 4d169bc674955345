"""Reviewing submitted work, appeals, gold scoring, quality and auto-approval.

- On submission a gold task (one with a ``gold_answer``) is scored at once, and the
  assignment is sampled for review with the project's ``review_sample_percent``
  (deterministically from its id, so a retry decides the same). Work not sampled is
  approved at once.
- Reviewers (and managers) of the project's organisation approve, reject (with a
  category and a message) or ask for a revision (with a message). A rejection gives
  the task's slot back, since the task still needs an answer.
- A bulk review (``review_many``) approves, or rejects with one category and message,
  up to ``BULK_MAX`` assignments, each through the same rule as a single review in its
  own savepoint, answering each id with its outcome; asked again, an id already decided
  as asked is answered again and nothing is paid twice.
- A trainer may appeal a rejection once; a manager upholds or overturns it. An
  overturned rejection pays as an approval, and its answer counts again: the slot given
  back when it was rejected is closed. If another trainer took that slot meanwhile
  (holding it or having answered), the task ends with more answers than it needed,
  which is cheaper than making anyone's work disappear; the manager is told, and the
  project report counts such tasks.
- Every approval (manual, automatic, unsampled, overturned) records one earning at
  the rate fixed at the work's first submission (``access.task_pay_rate``: the higher
  of the rates in force at the claim and at that submission); the earning's unique
  source key makes a second approval path pay nothing more.
- Work nobody reviews within ``auto_approve_days`` is approved by the scheduler
  (``auto_approve_submissions``) whatever the project's state, so unreviewed work is
  always paid; a revision the trainer never sends back expires and frees its slot.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload, selectinload

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import Actor
from workforce.accounts.models import Organisation, User
from workforce.billing.models import EarningKind
from workforce.billing.services import record_earning
from workforce.errors import Conflict, DomainError, IllegalTransition, Invalid, NotFound
from workforce.i18n import _
from workforce.money import Money
from workforce.notifications import texts
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access, events, lifecycle, winddown
from workforce.projects.models import (
    Appeal,
    AppealState,
    Assignment,
    AssignmentState,
    Project,
    ProjectRate,
    RejectionCategory,
    Task,
)
from workforce.results import aggregates, gold, templates
from workforce.results.answers import rendered
from workforce.results.models import TemplateVersion
from workforce.wellbeing import filters as wellbeing_filters

SCHEDULER = audit.SystemActor("scheduler")
# Who approves work that was not sampled for review.
SAMPLING = audit.SystemActor("review-sampling")
SOURCE_TYPE = "task_assignment"
MESSAGE_MAX = 5000
# Assignments one bulk review decides at most.
BULK_MAX = 500
RATIO = Decimal("0.0001")


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_REVISION = "request_revision"


class AppealDecision(StrEnum):
    UPHOLD = "uphold"
    OVERTURN = "overturn"


# --- gold answers and sampling -------------------------------------------------------


def _normalised(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().casefold()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_normalised(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _normalised(item) for key, item in value.items()}
    return value


def canonical(value: Any) -> str:
    """JSON text that equal answers share: keys sorted, strings trimmed and case-folded,
    ``1.0`` written as ``1``."""
    return json.dumps(_normalised(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def gold_matches(answer: Any, gold: Any) -> bool:
    return canonical(answer) == canonical(gold)


def is_finite_json(value: Any) -> bool:
    """False for NaN and infinities, which Python's JSON parser lets through but
    JSON (and PostgreSQL's jsonb) does not have."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(is_finite_json(item) for item in value)
    if isinstance(value, dict):
        return all(is_finite_json(item) for item in value.values())
    return True


def is_sampled(assignment_id: uuid.UUID, percent: int) -> bool:
    """Whether the assignment goes to review: the same answer for the same id, and over
    many ids close to ``percent`` of them."""
    bucket = int.from_bytes(hashlib.sha256(assignment_id.bytes).digest()[:8], "big") % 100
    return bucket < percent


def on_submitted(session: Session, assignment: Assignment, now: datetime) -> None:
    """Score a gold answer with the template version of the claim, decide sampling once
    (work whose gold a person must judge is always reviewed), and approve work not
    sampled."""
    if assignment.task.gold_answer is not None:
        version = templates.version_for(session, assignment)
        if _score_gold(assignment, version.fields if version else None):
            assignment.sampled = True
    if assignment.sampled is None:
        assignment.sampled = is_sampled(assignment.id, assignment.project.review_sample_percent)
    if not assignment.sampled:
        _approve(session, SAMPLING, assignment, now, auto=True, action="task.approved")
    session.flush()


def _score_gold(assignment: Assignment, fields: Sequence[dict[str, Any]] | None) -> bool:
    """Store the gold score (per field with a template; the whole answer equal to the
    gold one, 1 or 0, without). True when a person must judge part of it."""
    gold_answer = assignment.task.gold_answer
    if fields is None:
        assignment.gold_score = Decimal(gold_matches(assignment.answer, gold_answer))
        assignment.gold_scores = None
        return False
    scored = gold.score_answer(fields, assignment.answer, gold_answer)
    assignment.gold_score, assignment.gold_scores = scored.score, scored.stored_fields()
    return scored.needs_review


# --- approval and pay ----------------------------------------------------------------


def _pay(session: Session, assignment: Assignment) -> Money | None:
    """Record the approval's earning (once per assignment); nothing on hourly projects,
    whose time is paid through timesheets."""
    if assignment.rate_id is None:
        return None
    rate = session.get(ProjectRate, assignment.rate_id)
    assert rate is not None
    project, task = assignment.project, assignment.task
    money = Money(rate.amount, rate.currency)
    record_earning(
        session, kind=EarningKind.TASK_APPROVAL, trainer_id=assignment.trainer_id,
        organisation_id=project.organisation_id, money=money, source_type=SOURCE_TYPE,
        source_id=assignment.id, project_id=project.id,
        description=f"Task {task.external_id} approved on {project.name}"[:300],
    )
    return money


def _approve(
    session: Session,
    actor: Actor,
    assignment: Assignment,
    now: datetime,
    *,
    auto: bool,
    action: str,
) -> Money | None:
    before = _snapshot(assignment)
    # Before the task is written: an aggregation run takes the project's stamp lock
    # before it writes tasks too (the same order, so no deadlock).
    aggregates.answer_approved(session, assignment.project_id, assignment.task_id, now)
    lifecycle.ASSIGNMENTS.move(assignment, AssignmentState.APPROVED)
    assignment.auto_approved = auto
    if assignment.reviewed_at is None or auto:
        assignment.reviewed_at = now
    money = _pay(session, assignment)
    events.assignment_approved(session, assignment, money, _HOW[action] if not (
        auto and action == "task.approved") else "unsampled")
    audit.record(
        session, actor, action, object_type="task_assignment", object_id=assignment.id,
        organisation_id=assignment.project.organisation_id, before=before,
        after={**_snapshot(assignment),
               "amount": money.amount if money else None,
               "currency": money.currency if money else None},
    )
    return money


# How an approval came about, as the assignment.approved event says it.
_HOW = {"task.approved": "reviewed", "task.auto_approved": "automatic",
        "task.appeal_overturned": "appeal"}


def _snapshot(assignment: Assignment) -> dict[str, Any]:
    return {
        "state": assignment.state.value,
        "trainer_id": str(assignment.trainer_id),
        "task_id": str(assignment.task_id),
        "rejection_category": (
            assignment.rejection_category.value if assignment.rejection_category else None
        ),
    }


def _task(assignment: Assignment, project: Project, **params: Any) -> dict[str, Any]:
    """The parameters of a notice about the assignment's task."""
    return {"task": assignment.task.external_id, "project": project.name, **params}


# --- reviewing -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewItem:
    """Submitted work waiting for review: the task (with its gold answer) and the
    answer, without who wrote it."""

    assignment: Assignment
    task: Task
    # The answer field by field (``results.answers.rendered``) with the template version
    # in force at the claim; None when the project had no template then.
    template_version: int | None = None
    fields: list[dict[str, Any]] | None = None


def _locked_assignment(session: Session, assignment_id: uuid.UUID) -> Assignment | None:
    return session.scalars(
        select(Assignment)
        .where(Assignment.id == assignment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _staff_assignment(session: Session, staff: User, assignment_id: uuid.UUID) -> Assignment:
    assignment = _locked_assignment(session, assignment_id)
    if assignment is None or assignment.project.organisation_id != staff.organisation_id:
        raise NotFound(_("No such assignment."))
    return assignment


def review_queue(
    session: Session, staff: User, project_id: uuid.UUID, page: PageRequest
) -> Page[ReviewItem]:
    """The project's submitted work waiting for review, oldest submission first."""
    access.get_project(session, staff, project_id)
    stmt = (
        select(Assignment)
        .where(Assignment.project_id == project_id,
               Assignment.state == AssignmentState.SUBMITTED)
        .options(joinedload(Assignment.task))
    )
    found = paginate(
        session, stmt, page, order=(Assignment.submitted_at.nulls_last(), Assignment.id)
    )
    versions = templates.versions_for(session, found.items)
    return Page([_review_item(a, versions[a.id]) for a in found.items], found.next_cursor)


def _review_item(assignment: Assignment, version: TemplateVersion | None) -> ReviewItem:
    if version is None:
        return ReviewItem(assignment, assignment.task)
    return ReviewItem(assignment, assignment.task, version.number,
                      rendered(version.fields, assignment.answer))


def _check_review(
    decision: ReviewDecision, category: RejectionCategory | None, message: str | None
) -> None:
    errors: dict[str, list[str]] = {}
    if decision is ReviewDecision.REJECT and category is None:
        errors["rejection_category"] = [_("A rejection needs a category.")]
    if decision is not ReviewDecision.REJECT and category is not None:
        errors["rejection_category"] = [_("Only a rejection has a category.")]
    if decision is not ReviewDecision.APPROVE and not (message or "").strip():
        errors["message"] = [_("Tell the trainer why: a message is required.")]
    if message is not None and len(message) > MESSAGE_MAX:
        errors["message"] = [_("At most %(message_max)s characters.", message_max=MESSAGE_MAX)]
    if errors:
        raise Invalid(_("The review is incomplete."), errors=errors)


def review(
    session: Session,
    staff: User,
    assignment_id: uuid.UUID,
    *,
    decision: ReviewDecision,
    rejection_category: RejectionCategory | None = None,
    message: str | None = None,
) -> Assignment:
    """Approve (pays), reject (a category and a message; the task's slot goes back) or
    ask for a revision (a message; the trainer resubmits) a submitted assignment of the
    staff member's organisation. The trainer is told; the decision is audited."""
    _check_review(decision, rejection_category, message)
    assignment = _staff_assignment(session, staff, assignment_id)
    _decide(session, staff, assignment, decision, rejection_category, message)
    return assignment


def _decide(
    session: Session,
    staff: User,
    assignment: Assignment,
    decision: ReviewDecision,
    rejection_category: RejectionCategory | None,
    message: str | None,
) -> None:
    """The one review rule, for a checked decision on an assignment locked by the
    caller: single and bulk reviews both come here."""
    if assignment.state is not AssignmentState.SUBMITTED:
        raise IllegalTransition(
            _("Only submitted work is reviewed; this assignment is %(state)s.",
              state=assignment.state.value),
            current_state=assignment.state.value,
        )
    now = clock.now()
    message = (message or "").strip() or None
    project = assignment.project
    before = _snapshot(assignment)
    assignment.reviewed_at, assignment.reviewed_by_id = now, staff.id
    assignment.review_message = message
    data = {"assignment_id": str(assignment.id), "project_id": str(project.id)}
    if decision is ReviewDecision.APPROVE:
        money = _approve(session, staff, assignment, now, auto=False, action="task.approved")
        tell(session, assignment.trainer_id, "task.approved",
             _task(assignment, project, earned=texts.money(money), feedback=message), data)
        session.flush()
        return
    if decision is ReviewDecision.REJECT:
        lifecycle.ASSIGNMENTS.move(assignment, AssignmentState.REJECTED)
        assignment.rejection_category = rejection_category
        winddown.give_back_slot(session, assignment.task_id)
        events.assignment_rejected(session, assignment)
        tell(session, assignment.trainer_id, "task.rejected",
             _task(assignment, project, category=str(rejection_category), message=message),
             {**data, "rejection_category": str(rejection_category)})
        action = "task.rejected"
    else:
        lifecycle.ASSIGNMENTS.move(assignment, AssignmentState.REVISION_REQUESTED)
        assignment.revisions += 1
        tell(session, assignment.trainer_id, "task.revision_requested",
             _task(assignment, project, message=message, days=project.auto_approve_days), data)
        action = "task.revision_requested"
    audit.record(
        session, staff, action, object_type="task_assignment", object_id=assignment.id,
        organisation_id=project.organisation_id, before=before,
        after={**_snapshot(assignment), "message": message},
    )
    session.flush()


# --- bulk review ---------------------------------------------------------------------


class BulkDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class BulkOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    ERROR = "error"


@dataclass(frozen=True)
class BulkResult:
    """What became of one id of a bulk review. ``repeated``: the assignment was already
    decided as asked (a repeat of the request, or another reviewer's same decision), so
    nothing was done or paid again. ``problem``: why an id was not decided."""

    assignment_id: uuid.UUID
    outcome: BulkOutcome
    state: AssignmentState | None = None
    repeated: bool = False
    problem: DomainError | None = None


def review_many(
    session: Session,
    staff: User,
    project_id: uuid.UUID,
    assignment_ids: Sequence[uuid.UUID],
    *,
    decision: BulkDecision,
    rejection_category: RejectionCategory | None = None,
    message: str | None = None,
) -> list[BulkResult]:
    """Approve, or reject with one category and message, up to ``BULK_MAX`` submitted
    assignments of a project of the staff member's organisation, each exactly as
    ``review`` would (pay, notice, audit; a rejection may be appealed) and in its own
    savepoint: one that fails is left untouched and does not undo the others. Ids of
    other projects or organisations are ``not-found``. An id already decided as asked
    is answered again (``repeated``) without doing or paying anything twice."""
    _check_bulk(assignment_ids)
    single = ReviewDecision(decision.value)
    _check_review(single, rejection_category, message)
    access.get_project(session, staff, project_id)
    found = _locked_in_project(session, project_id, assignment_ids)
    return [
        _review_one(session, staff, assignment_id, found.get(assignment_id), single,
                    rejection_category, message)
        for assignment_id in assignment_ids
    ]


def _check_bulk(assignment_ids: Sequence[uuid.UUID]) -> None:
    problems = []
    if not 1 <= len(assignment_ids) <= BULK_MAX:
        problems.append(_("Between 1 and %(most)s ids.", most=BULK_MAX))
    repeated = sorted(str(i) for i, n in Counter(assignment_ids).items() if n > 1)
    if repeated:
        problems.append(_("Each id at most once; repeated: %(ids)s.",
                          ids=", ".join(repeated[:10])))
    if problems:
        raise Invalid(_("The ids to review are not a list of 1 to 500 different ids."),
                      errors={"assignment_ids": problems})


def _locked_in_project(
    session: Session, project_id: uuid.UUID, assignment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Assignment]:
    """The project's assignments among the ids, locked in id order (two bulk reviews
    of overlapping ids then queue instead of deadlocking), with their tasks."""
    return {a.id: a for a in session.scalars(
        select(Assignment)
        .where(Assignment.id.in_(assignment_ids), Assignment.project_id == project_id)
        .order_by(Assignment.id)
        .options(selectinload(Assignment.task))
        .with_for_update()
        .execution_options(populate_existing=True)
    )}


def _review_one(
    session: Session, staff: User, assignment_id: uuid.UUID, assignment: Assignment | None,
    decision: ReviewDecision, rejection_category: RejectionCategory | None,
    message: str | None,
) -> BulkResult:
    done = (BulkOutcome.APPROVED if decision is ReviewDecision.APPROVE
            else BulkOutcome.REJECTED)
    if assignment is None:
        return BulkResult(assignment_id, BulkOutcome.ERROR,
                          problem=NotFound(_("No such assignment in this project.")))
    if _decided_as_asked(assignment, decision, rejection_category):
        return BulkResult(assignment_id, done, assignment.state, repeated=True)
    try:
        with session.begin_nested():
            _decide(session, staff, assignment, decision, rejection_category, message)
    except DomainError as refused:
        return BulkResult(assignment_id, BulkOutcome.ERROR, assignment.state,
                          problem=refused)
    return BulkResult(assignment_id, done, assignment.state)


def _decided_as_asked(
    assignment: Assignment, decision: ReviewDecision, category: RejectionCategory | None
) -> bool:
    if decision is ReviewDecision.APPROVE:
        return assignment.state is AssignmentState.APPROVED
    return (assignment.state is AssignmentState.REJECTED
            and assignment.rejection_category == category)


# --- appeals -------------------------------------------------------------------------


@dataclass(frozen=True)
class AppealView:
    appeal: Appeal
    assignment: Assignment
    task: Task
    # After an overturn: another trainer had taken the slot the rejection gave back, so
    # the task has more answers than its redundancy.
    task_over_answered: bool = False

    @property
    def slot_note(self) -> str | None:
        if not self.task_over_answered:
            return None
        return ("Another trainer had already taken the slot this rejection gave back (they "
                "hold the task or answered it), so the task has more answers than its "
                f"redundancy of {self.task.redundancy}.")


def appeal(session: Session, trainer: User, assignment_id: uuid.UUID, message: str) -> Appeal:
    """Appeal a rejection, once (409 ``appeal-exists`` on a second)."""
    message = message.strip()
    if not message or len(message) > MESSAGE_MAX:
        raise Invalid(_("Say why the rejection is wrong."),
                      errors={"message": [_("Between 1 and %(message_max)s characters.",
                                            message_max=MESSAGE_MAX)]})
    assignment = _locked_assignment(session, assignment_id)
    if assignment is None or assignment.trainer_id != trainer.id:
        raise NotFound(_("No such assignment."))
    existing = session.scalars(
        select(Appeal).where(Appeal.assignment_id == assignment.id)
    ).one_or_none()
    if existing is not None:
        raise Conflict(_("A rejection may be appealed once; this one was."),
                       code="appeal-exists", appeal_id=str(existing.id))
    if assignment.state is not AssignmentState.REJECTED:
        raise Conflict(_("Only a rejection can be appealed; this is %(state)s.",
                         state=assignment.state.value),
                       code="not-rejected", current_state=assignment.state.value)
    created = Appeal(
        assignment_id=assignment.id, project_id=assignment.project_id,
        trainer_id=trainer.id, message=message,
    )
    try:
        with session.begin_nested():
            session.add(created)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(_("A rejection may be appealed once; this one was."),
                       code="appeal-exists") from exc
    audit.record(
        session, trainer, "task.appealed", object_type="task_appeal", object_id=created.id,
        organisation_id=assignment.project.organisation_id, before=None,
        after={"assignment_id": str(assignment.id), "message": message},
    )
    session.flush()
    return created


def list_appeals(
    session: Session,
    staff: User,
    project_id: uuid.UUID,
    page: PageRequest,
    *,
    state: AppealState | None = None,
) -> Page[AppealView]:
    """The project's appeals, oldest first (open ones are a queue)."""
    access.get_project(session, staff, project_id)
    stmt = (
        select(Appeal)
        .where(Appeal.project_id == project_id)
        .options(joinedload(Appeal.assignment).joinedload(Assignment.task))
    )
    if state is not None:
        stmt = stmt.where(Appeal.state == state)
    found = paginate(session, stmt, page, order=(Appeal.created_at, Appeal.id))
    return Page(
        [AppealView(a, a.assignment, a.assignment.task) for a in found.items],
        found.next_cursor,
    )


def decide_appeal(
    session: Session, staff: User, appeal_id: uuid.UUID, *, decision: AppealDecision, note: str
) -> AppealView:
    """Uphold the rejection, or overturn it: the work is approved and paid (once)."""
    note = note.strip()
    if not note or len(note) > MESSAGE_MAX:
        raise Invalid(_("Explain the decision to the trainer."),
                      errors={"note": [_("Between 1 and %(message_max)s characters.",
                                         message_max=MESSAGE_MAX)]})
    found = session.get(Appeal, appeal_id)
    project = session.get(Project, found.project_id) if found else None
    if found is None or project is None or project.organisation_id != staff.organisation_id:
        raise NotFound(_("No such appeal."))
    # The assignment first, then the appeal: the order a new appeal takes them in.
    assignment = _locked_assignment(session, found.assignment_id)
    assert assignment is not None
    appeal_row = session.scalars(
        select(Appeal).where(Appeal.id == appeal_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if appeal_row.state is not AppealState.OPEN:
        raise Conflict(_("This appeal was %(state)s already.", state=appeal_row.state.value),
                       code="appeal-decided", current_state=appeal_row.state.value)
    now = clock.now()
    before = {"state": appeal_row.state.value, "assignment_state": assignment.state.value}
    appeal_row.decided_by_id, appeal_row.decision_note, appeal_row.decided_at = (
        staff.id, note, now
    )
    data = {"assignment_id": str(assignment.id), "appeal_id": str(appeal_row.id)}
    money = None
    over_answered = None
    if decision is AppealDecision.OVERTURN:
        appeal_row.state = AppealState.OVERTURNED
        money = _approve(session, staff, assignment, now, auto=False,
                         action="task.appeal_overturned")
        # The answer counts again: close the slot its rejection gave back, unless
        # another trainer took it meanwhile (under the task's row lock, as claims do).
        holding = winddown.recount_slots(session, assignment.task_id)
        over_answered = holding > assignment.task.redundancy
        tell(session, assignment.trainer_id, "task.appeal_overturned",
             _task(assignment, project, note=note, earned=texts.money(money)), data)
    else:
        appeal_row.state = AppealState.UPHELD
        tell(session, assignment.trainer_id, "task.appeal_upheld",
             _task(assignment, project, note=note), data)
    audit.record(
        session, staff, "task.appeal_decided", object_type="task_appeal",
        object_id=appeal_row.id, organisation_id=project.organisation_id, before=before,
        after={"state": appeal_row.state.value, "assignment_state": assignment.state.value,
               "note": note, "amount": money.amount if money else None,
               "slot_closed": None if over_answered is None else not over_answered},
    )
    session.flush()
    return AppealView(appeal_row, assignment, assignment.task, bool(over_answered))


# --- the scheduler -------------------------------------------------------------------


def auto_approve_submissions(session: Session, *, now: datetime, limit: int) -> int:
    """Approve (and pay) up to ``limit`` submissions left unreviewed for their project's
    ``auto_approve_days``, whatever the project's state, and expire up to ``limit``
    revisions the trainer left alone as long (their slots go back). Returns how many
    assignments were handled. Rows locked elsewhere (a reviewer deciding right now,
    another scheduler) are skipped."""
    days = sorted(session.scalars(select(Project.auto_approve_days).distinct()))
    if not days:
        return 0

    def overdue(column: InstrumentedAttribute[Any]) -> Any:
        # One cut-off per distinct policy: portable, and no date arithmetic in SQL.
        return or_(*(
            and_(Project.auto_approve_days == d, column <= now - timedelta(days=d))
            for d in days
        ))

    def due(state: AssignmentState, column: InstrumentedAttribute[Any]) -> Sequence[Assignment]:
        return session.scalars(
            select(Assignment)
            .join(Project, Project.id == Assignment.project_id)
            .where(Assignment.state == state, overdue(column))
            .order_by(column, Assignment.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Assignment)
            .execution_options(populate_existing=True)
        ).all()

    approved = due(AssignmentState.SUBMITTED, Assignment.submitted_at)
    # Project by project: each approval locks its project's results stamp (see
    # ``_approve``), and two schedulers taking them in the same order never deadlock.
    for assignment in sorted(approved, key=lambda a: str(a.project_id)):
        money = _approve(session, SCHEDULER, assignment, now, auto=True,
                         action="task.auto_approved")
        project = assignment.project
        tell(session, assignment.trainer_id, "task.approved",
             _task(assignment, project, auto=True, days=project.auto_approve_days,
                   earned=texts.money(money)),
             {"assignment_id": str(assignment.id), "project_id": str(project.id)})
    expired = due(AssignmentState.REVISION_REQUESTED, Assignment.reviewed_at)
    for assignment in expired:
        lifecycle.ASSIGNMENTS.move(assignment, AssignmentState.EXPIRED)
        assignment.released_at = now
        winddown.give_back_slot(session, assignment.task_id)
        project = assignment.project
        tell(session, assignment.trainer_id, "task.revision_expired",
             _task(assignment, project, days=project.auto_approve_days),
             {"assignment_id": str(assignment.id), "project_id": str(project.id)})
    session.flush()
    return len(approved) + len(expired)


# --- quality -------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(RATIO) if whole else None


def _org_assignments(trainer_id: uuid.UUID, organisation_id: uuid.UUID) -> list[Any]:
    return [
        Assignment.trainer_id == trainer_id,
        Assignment.project_id.in_(
            select(Project.id).where(Project.organisation_id == organisation_id)
        ),
    ]


@dataclass(frozen=True)
class GoldTally:
    """The gold tasks that count in a trainer's quality score with one organisation."""

    scored: int = 0
    correct: int = 0
    total: Decimal = Decimal(0)

    @property
    def score(self) -> Decimal | None:
        return (self.total / self.scored).quantize(RATIO) if self.scored else None

    def add(self, score: Decimal) -> GoldTally:
        return GoldTally(self.scored + 1, self.correct + (score == 1), self.total + score)


def _gold_tallies(
    session: Session, trainer_id: uuid.UUID, organisation_id: uuid.UUID | None = None
) -> dict[uuid.UUID, GoldTally]:
    """Per organisation: the trainer's gold scores that count. Work the trainer flagged
    never lowers the score (``with_flagged``)."""
    where = [Assignment.trainer_id == trainer_id, Assignment.gold_score.is_not(None)]
    if organisation_id is not None:
        where.append(Project.organisation_id == organisation_id)
    flagged = wellbeing_filters.flagged(Assignment.id)
    counted = session.execute(
        select(Project.organisation_id, func.count(), func.sum(Assignment.gold_score),
               func.sum(case((Assignment.gold_score == 1, 1), else_=0)))
        .join(Project, Project.id == Assignment.project_id)
        .where(*where, ~flagged)
        .group_by(Project.organisation_id)
    ).all()
    tallies = {org_id: GoldTally(int(n), int(correct), _decimal(total))
               for org_id, n, total, correct in counted}
    flagged_scores: dict[uuid.UUID, list[Decimal]] = {}
    for org_id, score in session.execute(
        select(Project.organisation_id, Assignment.gold_score)
        .join(Project, Project.id == Assignment.project_id)
        .where(*where, flagged)
    ).all():
        flagged_scores.setdefault(org_id, []).append(_decimal(score))
    for org_id, scores in flagged_scores.items():
        tallies[org_id] = with_flagged(tallies.get(org_id, GoldTally()), scores)
    return tallies


def with_flagged(tally: GoldTally, flagged: Iterable[Decimal]) -> GoldTally:
    """Add the flagged gold scores that do not lower the mean: a full score always, any
    other one when it is above the mean so far. Best first, so the mean is the highest
    any choice of them gives."""
    for value in sorted(flagged, reverse=True):
        if value == 1 or (tally.scored and value * tally.scored > tally.total):
            tally = tally.add(value)
    return tally


def _decimal(value: Any) -> Decimal:
    # SQLite hands NUMERIC back as a float.
    return Decimal(str(value)).quantize(RATIO)


def quality_score(
    session: Session, trainer_id: uuid.UUID, organisation_id: uuid.UUID
) -> Decimal | None:
    """The mean gold score (``results.gold``; 1 or 0 per task on a project without a
    template) over the gold tasks scored on the organisation's projects (0 to 1, four
    places); ``None`` before any gold task."""
    tally = _gold_tallies(session, trainer_id, organisation_id).get(organisation_id)
    return tally.score if tally else None


def approval_rate(
    session: Session, trainer_id: uuid.UUID, organisation_id: uuid.UUID
) -> Decimal | None:
    """Approved over approved and rejected assignments on the organisation's projects
    (0 to 1, four places); ``None`` before any decision."""
    approved, rejected = _decided(session, trainer_id, organisation_id)
    return _ratio(approved, approved + rejected)


def _decided(
    session: Session, trainer_id: uuid.UUID, organisation_id: uuid.UUID
) -> tuple[int, int]:
    rows = dict(session.execute(
        select(Assignment.state, func.count())
        .where(*_org_assignments(trainer_id, organisation_id),
               Assignment.state.in_((AssignmentState.APPROVED, AssignmentState.REJECTED)),
               wellbeing_filters.rejection_counts())
        .group_by(Assignment.state)
    ).all())
    return rows.get(AssignmentState.APPROVED, 0), rows.get(AssignmentState.REJECTED, 0)


@dataclass(frozen=True)
class TrainerQuality:
    """A trainer's standing with one organisation they have worked for."""

    organisation_id: uuid.UUID
    organisation_name: str
    gold_scored: int
    gold_correct: int
    quality_score: Decimal | None
    approved: int
    rejected: int
    approval_rate: Decimal | None


def trainer_quality(session: Session, trainer: User) -> list[TrainerQuality]:
    """The trainer's quality score and approval rate with each organisation they have
    worked for, by organisation name."""
    approved = func.sum(case((Assignment.state == AssignmentState.APPROVED, 1), else_=0))
    # Flagged work never counts against the trainer (``wellbeing.filters``).
    rejected = func.sum(case((and_(Assignment.state == AssignmentState.REJECTED,
                                   wellbeing_filters.rejection_counts()), 1), else_=0))
    rows = session.execute(
        select(Organisation.id, Organisation.name, approved, rejected)
        .select_from(Assignment)
        .join(Project, Project.id == Assignment.project_id)
        .join(Organisation, Organisation.id == Project.organisation_id)
        .where(Assignment.trainer_id == trainer.id)
        .group_by(Organisation.id, Organisation.name)
        .order_by(Organisation.name, Organisation.id)
    ).all()
    tallies = _gold_tallies(session, trainer.id)
    return [
        TrainerQuality(
            organisation_id=org_id, organisation_name=name,
            gold_scored=tallies.get(org_id, GoldTally()).scored,
            gold_correct=tallies.get(org_id, GoldTally()).correct,
            quality_score=tallies.get(org_id, GoldTally()).score,
            approved=int(n_approved or 0), rejected=int(n_rejected or 0),
            approval_rate=_ratio(int(n_approved or 0),
                                 int(n_approved or 0) + int(n_rejected or 0)),
        )
        for org_id, name, n_approved, n_rejected in rows
    ]
