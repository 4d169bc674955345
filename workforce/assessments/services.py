"""Qualifications, manual grants and revocations, and assessment authoring.

Authoring works on an assessment's *editable version*: the draft if there is one;
otherwise (the latest version is published) a new draft copied from it, so that a
published version, and every attempt taken on it, never changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import Organisation, Role, User
from workforce.assessments.models import (
    STIPEND_MIN_ANSWERS,
    Assessment,
    AssessmentState,
    AssessmentVersion,
    PartialCredit,
    Qualification,
    QualificationSource,
    QualificationStatus,
    Question,
    QuestionKind,
    TrainerQualification,
)
from workforce.billing import floors
from workforce.errors import Conflict, IllegalTransition, Invalid, NotFound
from workforce.i18n import _
from workforce.money import rate_for
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects.eligibility import speaks

# --- qualifications ------------------------------------------------------------------


def create_qualification(session: Session, manager: User, **fields: Any) -> Qualification:
    _unique_code(session, manager.organisation_id, fields["code"])
    qualification = Qualification(organisation_id=manager.organisation_id, **fields)
    session.add(qualification)
    session.flush()
    return qualification


def _unique_code(session: Session, organisation_id: uuid.UUID | None, code: str) -> None:
    taken = session.scalar(
        select(Qualification.id).where(
            Qualification.organisation_id == organisation_id, Qualification.code == code
        )
    )
    if taken:
        raise Conflict(_("The qualification code %(code)r is in use.",
                         code=code), code="code-taken")


def get_qualification(
    session: Session, staff: User, qualification_id: uuid.UUID
) -> Qualification:
    qualification = session.get(Qualification, qualification_id)
    if qualification is None or qualification.organisation_id != staff.organisation_id:
        raise NotFound(_("No such qualification."))
    return qualification


def update_qualification(
    session: Session, manager: User, qualification_id: uuid.UUID, **changes: Any
) -> Qualification:
    qualification = get_qualification(session, manager, qualification_id)
    if "code" in changes and changes["code"] != qualification.code:
        _unique_code(session, manager.organisation_id, changes["code"])
    for name, value in changes.items():
        setattr(qualification, name, value)
    session.flush()
    return qualification


def list_qualifications(session: Session, staff: User, page: PageRequest) -> Page[Qualification]:
    stmt = select(Qualification).where(Qualification.organisation_id == staff.organisation_id)
    return paginate(
        session, stmt, page, created_at=Qualification.created_at, row_id=Qualification.id
    )


def list_holders(
    session: Session, staff: User, qualification_id: uuid.UUID, page: PageRequest
) -> Page[TrainerQualification]:
    get_qualification(session, staff, qualification_id)
    stmt = select(TrainerQualification).where(
        TrainerQualification.qualification_id == qualification_id
    )
    return paginate(
        session, stmt, page,
        created_at=TrainerQualification.created_at, row_id=TrainerQualification.id,
    )


def list_my_qualifications(
    session: Session, trainer: User, page: PageRequest
) -> Page[TrainerQualification]:
    stmt = select(TrainerQualification).where(TrainerQualification.trainer_id == trainer.id)
    return paginate(
        session, stmt, page,
        created_at=TrainerQualification.created_at, row_id=TrainerQualification.id,
    )


def _trainer(session: Session, trainer_id: uuid.UUID) -> User:
    trainer = session.get(User, trainer_id)
    if trainer is None or trainer.role is not Role.TRAINER or not trainer.is_active:
        raise Invalid(_("No such trainer."), errors={"trainer_id": [_("Not an active trainer.")]})
    return trainer


def record_snapshot(record: TrainerQualification | None) -> dict[str, Any] | None:
    """A trainer's standing as the audit log keeps it, before and after a change."""
    if record is None:
        return None
    return {
        "status": record.status, "score_percent": _plain_decimal(record.score_percent),
        "expires_at": record.expires_at, "source": record.source,
        "attempt_id": record.attempt_id,
    }


def _plain_decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class GrantWarning:
    """Something the manager should know about a grant that stands all the same."""

    code: str
    message: str


@dataclass(frozen=True)
class Grant:
    """A manual grant as the manager sees it: the trainer's record (its attributes read
    through), and warnings."""

    record: TrainerQualification
    warnings: list[GrantWarning]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.record, name)


def grant_qualification(
    session: Session,
    manager: User,
    qualification_id: uuid.UUID,
    *,
    trainer_id: uuid.UUID,
    reason: str,
    score_percent: Decimal | None = None,
    expires_at: datetime | None = None,
) -> Grant:
    """A manual grant, with a written reason; audited, and the trainer is told. The
    manager is warned when the trainer does not speak the qualification's locale: the
    grant stands, but projects requiring it stay closed to them (``eligibility``)."""
    qualification = get_qualification(session, manager, qualification_id)
    trainer = _trainer(session, trainer_id)
    now = clock.now()
    if expires_at is None and qualification.validity_days:
        expires_at = now + timedelta(days=qualification.validity_days)
    if expires_at is not None and expires_at <= now:
        raise Invalid(
            _("The expiry is in the past."), errors={"expires_at": [_("Must be in the future.")]}
        )
    record = find_record(session, qualification.id, trainer.id)
    before = record_snapshot(record)
    if record is None:
        record = TrainerQualification(qualification_id=qualification.id, trainer_id=trainer.id)
        session.add(record)
    record.status = QualificationStatus.GRANTED
    record.score_percent = score_percent
    record.granted_at = now
    record.expires_at = expires_at
    record.source = QualificationSource.MANUAL
    record.attempt_id = None
    record.decided_by_id = manager.id
    record.reason = reason
    session.flush()
    _audit_and_notify(session, manager, qualification, record, before, "granted", reason)
    return Grant(record, _grant_warnings(qualification, trainer))


def _grant_warnings(qualification: Qualification, trainer: User) -> list[GrantWarning]:
    languages = trainer.languages or []
    if qualification.locale is None or speaks(languages, qualification.locale):
        return []
    listed = ", ".join(languages) if languages else "none"
    return [GrantWarning(
        "locale-not-spoken",
        f"The trainer does not list {qualification.locale}, the qualification's locale, among "
        f"their languages (they list {listed}). The grant stands, but projects that require "
        "this qualification stay closed to them until they list it.",
    )]


def revoke_qualification(
    session: Session, manager: User, qualification_id: uuid.UUID, *, trainer_id: uuid.UUID,
    reason: str,
) -> TrainerQualification:
    qualification = get_qualification(session, manager, qualification_id)
    record = find_record(session, qualification.id, trainer_id)
    if record is None or record.status is not QualificationStatus.GRANTED:
        raise Conflict(
            _("The trainer does not hold this qualification."), code="not-granted"
        )
    before = record_snapshot(record)
    record.status = QualificationStatus.REVOKED
    record.source = QualificationSource.MANUAL
    record.decided_by_id = manager.id
    record.reason = reason
    session.flush()
    _audit_and_notify(session, manager, qualification, record, before, "revoked", reason)
    return record


def find_record(
    session: Session, qualification_id: uuid.UUID, trainer_id: uuid.UUID
) -> TrainerQualification | None:
    """The trainer's standing, its row locked for the change about to be made (a manual
    grant and a completing attempt may meet) and re-read after waiting for the lock."""
    return session.scalars(
        select(TrainerQualification)
        .where(
            TrainerQualification.qualification_id == qualification_id,
            TrainerQualification.trainer_id == trainer_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _audit_and_notify(
    session: Session, manager: User, qualification: Qualification,
    record: TrainerQualification, before: dict[str, Any] | None, verb: str, reason: str,
) -> None:
    audit.record(
        session, manager, f"qualification.{verb}", object_type="trainer_qualification",
        object_id=record.id, organisation_id=qualification.organisation_id,
        before=before, after={**(record_snapshot(record) or {}), "reason": reason},
    )
    tell(
        session, record.trainer_id, f"qualification.{verb}",
        {"qualification": qualification.name, "reason": reason},
        data={"qualification_id": str(qualification.id), "status": record.status.value},
    )


# --- assessments ---------------------------------------------------------------------

VERSION_FIELDS = (
    "instructions", "time_limit_seconds", "pass_mark_percent", "max_attempts",
    "cooldown_seconds", "expected_duration_seconds", "stipend_amount", "stipend_currency",
    "stipend_min_answers", "show_feedback", "questions_per_attempt", "double_grading",
    "grading_margin_percent",
)


def create_assessment(
    session: Session, manager: User, *, title: str, qualification_id: uuid.UUID,
    **version_fields: Any,
) -> Assessment:
    qualification = _qualification_for(session, manager, qualification_id)
    assessment = Assessment(
        organisation_id=manager.organisation_id, qualification_id=qualification.id, title=title
    )
    session.add(assessment)
    session.flush()
    version = AssessmentVersion(
        assessment_id=assessment.id, number=1,
        **{"stipend_min_answers": STIPEND_MIN_ANSWERS, **version_fields},
    )
    _check_version(version)
    session.add(version)
    session.flush()
    return assessment


def _qualification_for(
    session: Session, manager: User, qualification_id: uuid.UUID
) -> Qualification:
    try:
        return get_qualification(session, manager, qualification_id)
    except NotFound as exc:
        raise Invalid(
            _("No such qualification."), errors={"qualification_id": [_("No such qualification.")]}
        ) from exc


def get_assessment(session: Session, staff: User, assessment_id: uuid.UUID) -> Assessment:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None or assessment.organisation_id != staff.organisation_id:
        raise NotFound(_("No such assessment."))
    return assessment


@dataclass(frozen=True)
class AssessmentFilter:
    state: AssessmentState | None = None


def list_assessments(
    session: Session, staff: User, filters: AssessmentFilter, page: PageRequest
) -> Page[Assessment]:
    stmt = select(Assessment).where(Assessment.organisation_id == staff.organisation_id)
    if filters.state is not None:
        stmt = stmt.where(Assessment.state == filters.state)
    return paginate(session, stmt, page, created_at=Assessment.created_at, row_id=Assessment.id)


def latest_version(assessment: Assessment) -> AssessmentVersion:
    return assessment.versions[-1]


def latest_published_version(assessment: Assessment) -> AssessmentVersion | None:
    published = [v for v in assessment.versions if v.published_at is not None]
    return published[-1] if published else None


def get_version(
    session: Session, staff: User, assessment_id: uuid.UUID, number: int
) -> AssessmentVersion:
    assessment = get_assessment(session, staff, assessment_id)
    for version in assessment.versions:
        if version.number == number:
            return version
    raise NotFound(_("No such version."))


def update_assessment(
    session: Session, manager: User, assessment_id: uuid.UUID, **changes: Any
) -> Assessment:
    """Change the title, qualification or settings; settings go into the editable version."""
    assessment = _editable_assessment(session, manager, assessment_id)
    if "title" in changes:
        assessment.title = changes.pop("title")
    if "qualification_id" in changes:
        qualification = _qualification_for(session, manager, changes.pop("qualification_id"))
        if qualification.id != assessment.qualification_id and latest_published_version(
            assessment
        ):
            # Attempts already taken granted the old one; create a new assessment instead.
            raise Conflict(
                _("A published assessment keeps the qualification it grants."),
                code="qualification-fixed",
            )
        assessment.qualification_id = qualification.id
    if changes:
        version = editable_version(session, assessment)
        for name, value in changes.items():
            setattr(version, name, value)
        _check_version(version)
    session.flush()
    return assessment


def _editable_assessment(
    session: Session, manager: User, assessment_id: uuid.UUID
) -> Assessment:
    assessment = get_assessment(session, manager, assessment_id)
    if assessment.state is AssessmentState.ARCHIVED:
        raise IllegalTransition(
            _("An archived assessment cannot be edited."), current_state=assessment.state.value
        )
    return assessment


def editable_version(session: Session, assessment: Assessment) -> AssessmentVersion:
    """The draft version; a new one copied from the latest if that is published."""
    latest = latest_version(assessment)
    if latest.published_at is None:
        return latest
    draft = AssessmentVersion(
        assessment_id=assessment.id, number=latest.number + 1,
        **{name: getattr(latest, name) for name in VERSION_FIELDS},
    )
    session.add(draft)
    session.flush()
    for question in latest.questions:
        session.add(_copy_question(question, draft.id))
    session.flush()
    session.refresh(assessment, ["versions"])
    session.refresh(draft, ["questions"])
    return draft


QUESTION_FIELDS = (
    "position", "kind", "prompt", "media_url", "media_kind", "options", "answer_key",
    "partial_credit", "points", "rubric", "feedback",
)


def _copy_question(question: Question, version_id: uuid.UUID) -> Question:
    return Question(version_id=version_id, **{n: getattr(question, n) for n in QUESTION_FIELDS})


def _check_version(version: AssessmentVersion) -> None:
    errors: dict[str, list[str]] = {}
    if (version.stipend_amount or 0) > 0 and not version.stipend_currency:
        errors["stipend_currency"] = [_("Required with a stipend.")]
    if version.expected_duration_seconds > version.time_limit_seconds:
        errors["expected_duration_seconds"] = [_("Must not exceed the time limit.")]
    if version.stipend_min_answers > version.questions_per_attempt:
        errors["stipend_min_answers"] = [
            _("At most the %(questions_per_attempt)s questions an attempt draws.",
              questions_per_attempt=version.questions_per_attempt)
        ]
    if errors:
        raise Invalid(_("The assessment settings do not fit together."), errors=errors)


# --- questions -----------------------------------------------------------------------


def add_question(
    session: Session, manager: User, assessment_id: uuid.UUID, **fields: Any
) -> Question:
    assessment = _editable_assessment(session, manager, assessment_id)
    version = editable_version(session, assessment)
    position = fields.pop("position", None)
    if position is None:
        position = max((q.position for q in version.questions), default=0) + 1
    if any(q.position == position for q in version.questions):
        raise Conflict(_("Position %(position)s is taken in this version.",
                         position=position), code="position-taken")
    question = Question(position=position, **fields)
    check_question(question)
    # Through the relationship, so the version's collection stays current in this session.
    version.questions.append(question)
    session.flush()
    return question


def update_question(
    session: Session, manager: User, assessment_id: uuid.UUID, question_id: uuid.UUID,
    **changes: Any,
) -> Question:
    question = _draft_question(session, manager, assessment_id, question_id)
    position = changes.get("position", question.position)
    if any(q.position == position and q.id != question.id for q in question.version.questions):
        raise Conflict(_("Position %(position)s is taken in this version.",
                         position=position), code="position-taken")
    for name, value in changes.items():
        setattr(question, name, value)
    check_question(question)
    session.flush()
    return question


def remove_question(
    session: Session, manager: User, assessment_id: uuid.UUID, question_id: uuid.UUID
) -> None:
    question = _draft_question(session, manager, assessment_id, question_id)
    question.version.questions.remove(question)
    session.delete(question)
    session.flush()


def _draft_question(
    session: Session, manager: User, assessment_id: uuid.UUID, question_id: uuid.UUID
) -> Question:
    """The question as it stands in the editable version (copied there if need be).

    ``question_id`` may name the question in the latest published version: its copy
    in the new draft is the one that changes (matched by position).
    """
    assessment = _editable_assessment(session, manager, assessment_id)
    question = session.get(Question, question_id)
    versions = {v.id for v in assessment.versions}
    if question is None or question.version_id not in versions:
        raise NotFound(_("No such question in this assessment."))
    draft = editable_version(session, assessment)
    if question.version_id == draft.id:
        return question
    copied_from = assessment.versions[-2] if len(assessment.versions) > 1 else None
    if copied_from is None or question.version_id != copied_from.id:
        raise NotFound(_("No such question in the current version."))
    return next(q for q in draft.questions if q.position == question.position)


def list_versions(
    session: Session, staff: User, assessment_id: uuid.UUID, page: PageRequest
) -> Page[AssessmentVersion]:
    """Every version, oldest first."""
    get_assessment(session, staff, assessment_id)
    stmt = select(AssessmentVersion).where(AssessmentVersion.assessment_id == assessment_id)
    return paginate(session, stmt, page, order=(AssessmentVersion.number, AssessmentVersion.id))


def list_questions(
    session: Session, staff: User, assessment_id: uuid.UUID, page: PageRequest,
    number: int | None = None,
) -> Page[Question]:
    """The question pool of the latest version (or version ``number``), in order."""
    assessment = get_assessment(session, staff, assessment_id)
    version = (
        latest_version(assessment) if number is None
        else get_version(session, staff, assessment_id, number)
    )
    stmt = select(Question).where(Question.version_id == version.id)
    return paginate(session, stmt, page, order=(Question.position, Question.id))


def check_question(question: Question) -> None:
    """The question's content fits its kind; every problem is named by field."""
    errors: dict[str, list[str]] = {}
    option_ids = [str(o.get("id", "")) for o in question.options]
    key = question.answer_key or {}
    choice = question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)
    if choice:
        if len(option_ids) < 2 or len(set(option_ids)) != len(option_ids) or "" in option_ids:
            errors["options"] = [_("At least two options, each with a unique id.")]
        correct = key.get("correct")
        known = isinstance(correct, list) and set(map(str, correct)) <= set(option_ids)
        if not correct or not known:
            errors["answer_key.correct"] = [_("The ids of the correct options, among the options.")]
        elif question.kind is QuestionKind.SINGLE_CHOICE and len(correct) != 1:
            errors["answer_key.correct"] = [_("Exactly one correct option.")]
    elif question.options:
        errors["options"] = [_("Only choice questions have options.")]
    if question.kind is QuestionKind.SHORT_ANSWER:
        _check_short_answer_key(key, errors)
    if question.kind is QuestionKind.FREE_TEXT:
        _check_rubric(question.rubric, errors)
    elif question.rubric:
        errors["rubric"] = [_("Only free-text questions have a rubric.")]
    if question.kind is not QuestionKind.MULTIPLE_CHOICE and (
        question.partial_credit is PartialCredit.PROPORTIONAL
    ):
        errors["partial_credit"] = [_("Partial credit applies to multiple choice only.")]
    if (question.media_url is None) != (question.media_kind is None):
        errors["media_kind"] = [_("A media prompt needs both media_url and media_kind.")]
    if errors:
        raise Invalid(_("The question is not complete or not consistent."), errors=errors)


def _check_short_answer_key(key: dict[str, Any], errors: dict[str, list[str]]) -> None:
    accepted = key.get("accepted")
    if not isinstance(accepted, list) or not accepted or not all(
        isinstance(a, str) and a.strip() for a in accepted
    ):
        errors["answer_key.accepted"] = [_("At least one accepted answer.")]
    if key.get("numeric"):
        try:
            [Decimal(a) for a in accepted or []]
            tolerance = Decimal(str(key.get("tolerance", "0")))
            if tolerance < 0:
                raise ValueError
        except (ArithmeticError, ValueError, TypeError):
            errors["answer_key"] = [_("Numeric answers and a non-negative tolerance.")]


def _check_rubric(rubric: list[dict[str, Any]], errors: dict[str, list[str]]) -> None:
    ids = [str(c.get("id", "")) for c in rubric]
    if not rubric or "" in ids or len(set(ids)) != len(ids):
        errors["rubric"] = [_("At least one criterion, each with a unique id.")]
        return
    for index, criterion in enumerate(rubric):
        maximum = criterion.get("max_points")
        levels = criterion.get("levels") or []
        if not isinstance(maximum, int) or maximum < 1:
            errors[f"rubric.{index}.max_points"] = [_("A positive whole number.")]
            continue
        if not levels or any(
            not isinstance(level.get("points"), int) or not 0 <= level["points"] <= maximum
            or not str(level.get("descriptor", "")).strip()
            for level in levels
        ):
            errors[f"rubric.{index}.levels"] = [
                _("Levels with points between 0 and max_points and a descriptor each.")
            ]


# --- publishing ----------------------------------------------------------------------


def publish(session: Session, manager: User, assessment_id: uuid.UUID) -> Assessment:
    """Freeze the draft version and open the assessment to trainers."""
    assessment = _editable_assessment(session, manager, assessment_id)
    draft = latest_version(assessment)
    if draft.published_at is not None:
        raise IllegalTransition(
            _("There is no draft to publish; edit the assessment first."),
            code="nothing-to-publish", current_state=assessment.state.value,
        )
    _check_publishable(session, assessment, draft)
    draft.published_at = clock.now()
    before = assessment.state
    assessment.state = AssessmentState.PUBLISHED
    audit.record(
        session, manager, "assessment.published", object_type="assessment",
        object_id=assessment.id, organisation_id=assessment.organisation_id,
        before={"state": before}, after={"state": assessment.state, "version": draft.number},
    )
    session.flush()
    return assessment


def _check_publishable(session: Session, assessment: Assessment, draft: AssessmentVersion) -> None:
    if not draft.questions:
        raise Invalid(_("An assessment needs questions."), errors={"questions": [_("None yet.")]})
    organisation = session.get_one(Organisation, assessment.organisation_id)
    if organisation.requires_paid_assessments and draft.stipend_amount <= 0:
        raise Invalid(
            _("The organisation requires a stipend for every assessment."), code="stipend-required",
            errors={"stipend_amount": [_("Required by the organisation.")]},
        )
    if draft.stipend_amount > 0:
        _check_stipend_reachable(draft)
        _check_wage_floor(session, assessment, draft)


def _check_stipend_reachable(draft: AssessmentVersion) -> None:
    """An attempt draws at most the pool: a minimum above it would never be paid."""
    drawn = min(draft.questions_per_attempt, len(draft.questions))
    if draft.stipend_min_answers > drawn:
        raise Invalid(
            _("No attempt could earn the stipend: it needs %(stipend_min_answers)s answers and an "
              "attempt draws %(drawn)s questions.",
              stipend_min_answers=draft.stipend_min_answers, drawn=drawn),
            errors={"stipend_min_answers": [_("At most the %(drawn)s questions an attempt draws.",
                                              drawn=drawn)]},
        )


def _check_wage_floor(session: Session, assessment: Assessment, draft: AssessmentVersion) -> None:
    """Any trainer may take the assessment: the stipend must meet the currency's highest
    floor over the expected duration (``billing.floors``)."""
    assert draft.stipend_currency is not None
    floor = floors.binding_floor(session, assessment.organisation_id, draft.stipend_currency)
    if floor is None:
        return
    minimum = rate_for(floor.hourly, draft.expected_duration_seconds)
    if draft.stipend_amount < minimum.amount:
        raise Invalid(
            _("The stipend is below the wage floor: %(minimum)s for %(minutes)s minutes at "
              "%(label)s.",
              minimum=minimum, minutes=draft.expected_duration_seconds // 60, label=floor.label),
            code="below-wage-floor",
            errors={"stipend_amount": [_("At least %(amount)s (%(minimum)s).",
                                         amount=minimum.amount, minimum=minimum)]},
            minimum_amount=minimum.amount, currency=minimum.currency,
            floor_country=floor.country,
        )


def archive(session: Session, manager: User, assessment_id: uuid.UUID) -> Assessment:
    assessment = get_assessment(session, manager, assessment_id)
    if assessment.state is AssessmentState.ARCHIVED:
        raise IllegalTransition(
            _("The assessment is archived already."), current_state=assessment.state.value
        )
    before = assessment.state
    assessment.state = AssessmentState.ARCHIVED
    audit.record(
        session, manager, "assessment.archived", object_type="assessment",
        object_id=assessment.id, organisation_id=assessment.organisation_id,
        before={"state": before}, after={"state": assessment.state},
    )
    session.flush()
    return assessment

