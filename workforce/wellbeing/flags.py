"""Flags on disturbing content, their pay, and the managers' triage queue.

- A trainer flags a task they hold or held (their assignment; one flag each): category,
  severity, a note, and "I need support". They may give the task back with the flag
  (the lease is released). The answer carries the organisation's support resources.
- A high-severity flag hides the task from every other trainer (``filters.not_hidden``
  in the claim query) until a manager confirms or dismisses it.
- Pay: on a per-task project the time spent is paid at the project's hourly
  equivalent (the rate in force at the claim over the estimated task time), once per
  assignment, as ``FLAGGED_WORK``: the time held (claim to flag, or to the end of the
  assignment, never past the lease's expiry), up to ``FLAG_PAY_FACTOR`` estimated task
  times. The bound leaves a trainer slower than the estimate, or one who paused before
  flagging, paid for all their time, while a task held idle for a whole lease and then
  flagged pays at most two pieces' worth (a lease, set for logistics and extendable,
  may be many task times long). The pay is made at the flag and stays whatever triage
  decides: a dismissal judges the content, not the trainer. Hourly projects already
  pay the time, and approved work was paid its piece, so nothing more is owed for them.
  The earning's description names the project and the time, not the task or the flag:
  finance and admins see it beside the trainer, and the task would tie it to a flag in
  the triage queue, which never says who flagged.
- Standing: flagged work never lowers the approval rate or quality score
  (``filters.rejection_counts``; gold scores in ``projects.reviews``).
- Triage (vendor managers and admins of the project's organisation): confirm (raising
  the task's or the project's content warning if it was mislabelled; a project is
  raised through ``projects.services.update_project``, which tells its trainers),
  dismiss with a reason, or escalate to the wellbeing contact (else the admins).
  The queue never says who flagged. Every step is audited and the trainer is told.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.billing.models import EarningKind
from workforce.billing.services import record_earning
from workforce.errors import Conflict, Invalid, NotFound
from workforce.i18n import _, lazy_gettext
from workforce.integrations.catalogue import EventType
from workforce.integrations.events import emit, iso
from workforce.lifecycle import Lifecycle
from workforce.money import Money
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access, reviews, services, tasks
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    ContentCategory,
    PayModel,
    Project,
    ProjectRate,
    Sensitivity,
    Task,
)
from workforce.wellbeing import cases
from workforce.wellbeing.exposure import LEVEL, effective_categories, effective_sensitivity
from workforce.wellbeing.policies import policy_for
from workforce.wellbeing.support_models import (
    UNTRIAGED,
    CaseOrigin,
    ContentFlag,
    FlagSeverity,
    FlagState,
    RaiseScope,
    SupportCase,
)

NOTE_MAX = 5000
# Flagged work earns from the assignment, as its approval does.
SOURCE_TYPE = reviews.SOURCE_TYPE
# Flagged time is paid up to this many estimated task times (see the module's notes).
FLAG_PAY_FACTOR = 2

FLAGS = Lifecycle(lazy_gettext("A flag"), {
    FlagState.OPEN: frozenset({FlagState.ESCALATED, FlagState.CONFIRMED, FlagState.DISMISSED}),
    FlagState.ESCALATED: frozenset({FlagState.CONFIRMED, FlagState.DISMISSED}),
    FlagState.CONFIRMED: frozenset(),
    FlagState.DISMISSED: frozenset(),
})

# Flags reach the organisation without a name (the triage queue never shows who), so
# the audit log names no trainer either; the flag's own row keeps who, for pay and
# notices.
FLAGGED_BY = audit.SystemActor("trainer")


@dataclass(frozen=True)
class FlagReceipt:
    """What a trainer gets back: the flag, the support on offer, the case opened (if
    they asked), and what the time was paid."""

    flag: ContentFlag
    assignment: Assignment
    support: dict[str, Any]
    support_case: SupportCase | None
    paid: Money | None


# --- flagging (trainers) -------------------------------------------------------------


def _own_assignment(session: Session, trainer: User, assignment_id: uuid.UUID) -> Assignment:
    """The trainer's assignment, locked; a task they never had is ``NotFound``."""
    assignment = session.scalars(
        select(Assignment).where(Assignment.id == assignment_id)
        .with_for_update().execution_options(populate_existing=True)
    ).one_or_none()
    if assignment is None or assignment.trainer_id != trainer.id:
        raise NotFound(_("No such assignment."))
    return assignment


def flag_task(
    session: Session,
    trainer: User,
    assignment_id: uuid.UUID,
    *,
    category: ContentCategory,
    severity: FlagSeverity,
    note: str = "",
    need_support: bool = False,
    return_task: bool = False,
    support_message: str = "",
) -> FlagReceipt:
    """Flag a task the trainer holds or held. Refused with 409 ``already-flagged``,
    ``not-revealed`` for a task never shown (giving it back unrevealed is the decline),
    and ``return_task`` on a lease that no longer runs with 409 ``not-leased``."""
    assignment = _own_assignment(session, trainer, assignment_id)
    tasks.require_revealed(assignment)
    now = clock.now()
    existing = session.scalars(
        select(ContentFlag.id).where(ContentFlag.assignment_id == assignment.id)
    ).first()
    if existing is not None:
        raise Conflict(_("You already flagged this task."), code="already-flagged",
                       flag_id=str(existing))
    if return_task and not (assignment.state is AssignmentState.LEASED
                            and assignment.lease_expires_at > now):
        raise Conflict(
            _("Only a task you hold now can be given back; this one is %(state_word)s. Flag it "
              "without giving it back.", state_word=_state_word(assignment, now)),
            code="not-leased", current_state=assignment.state.value,
        )
    project, task = assignment.project, assignment.task
    flag = ContentFlag(
        assignment_id=assignment.id, task_id=task.id, project_id=project.id,
        organisation_id=project.organisation_id, trainer_id=trainer.id, category=category,
        severity=severity, note=note, need_support=need_support, returned=return_task,
        state=FlagState.OPEN,
    )
    try:
        with session.begin_nested():
            session.add(flag)
            session.flush()
    except IntegrityError as exc:  # a second flag racing this one
        raise Conflict(_("You already flagged this task."), code="already-flagged") from exc
    if return_task:
        tasks.release_lease(session, trainer, assignment.id)
    paid = _pay_time(session, flag, assignment, now)
    case = None
    if need_support:
        case = cases.open_case(
            session, trainer, project.organisation_id, origin=CaseOrigin.FLAG,
            requested=True, flag_id=flag.id, message=support_message,
            reason=f"asked for support when flagging {severity.value}-severity "
                   f"{category.value.replace('_', ' ')} content on {project.name}",
        )
    audit.record(
        session, FLAGGED_BY, "content_flag.created", object_type="content_flag",
        object_id=flag.id, organisation_id=project.organisation_id,
        after={**_snapshot(flag), "paid_amount": paid.amount if paid else None},
    )
    if severity is FlagSeverity.HIGH:
        _tell_triagers(session, flag, project, task)
        _warn_holders(session, flag, project, task, now)
    policy = policy_for(session, project.organisation_id)
    return FlagReceipt(flag, assignment, cases.support_resources(policy), case, paid)


def _state_word(assignment: Assignment, now: datetime) -> str:
    if assignment.state is AssignmentState.LEASED and assignment.lease_expires_at <= now:
        return "expired"
    return assignment.state.value


def _tell_triagers(session: Session, flag: ContentFlag, project: Project, task: Task) -> None:
    """A hidden task waits on triage: the organisation's managers are told (not who)."""
    for manager_id in services.manager_ids(session, project.organisation_id):
        tell(
            session, manager_id, "content_flag.high",
            {"project": project.name, "task": task.external_id,
             "category": _category(flag)},
            data={"flag_id": str(flag.id), "project_id": str(project.id)},
        )


def _warn_holders(session: Session, flag: ContentFlag, project: Project, task: Task,
                  now: datetime) -> None:
    """Others holding the task now may not have opened it yet: they are warned (not by
    whom) and reminded that they may give it back."""
    holders = session.scalars(select(Assignment.trainer_id).where(
        Assignment.task_id == task.id, Assignment.state == AssignmentState.LEASED,
        Assignment.lease_expires_at > now, Assignment.trainer_id != flag.trainer_id,
    )).all()
    for trainer_id in holders:
        tell(
            session, trainer_id, "content_flag.task_you_hold",
            {"project": project.name, "task": task.external_id,
             "category": _category(flag)},
            data={"task_id": str(task.id), "project_id": str(project.id)},
        )


def _pay_time(
    session: Session, flag: ContentFlag, assignment: Assignment, now: datetime
) -> Money | None:
    """Pay the time held from the claim to the flag (or the end of the assignment,
    never past the lease's expiry), up to ``FLAG_PAY_FACTOR`` estimated task times, at
    the project's hourly equivalent; once per assignment."""
    project = assignment.project
    if project.pay_model is not PayModel.PER_TASK or not project.estimated_task_seconds:
        return None  # hourly work is paid through its time entries
    if assignment.state is AssignmentState.APPROVED:
        return None  # already paid its piece
    # A suspension in force ended the lease at its moment, before the job released it.
    ends = [project.work_stopped_at(now) or now, assignment.lease_expires_at]
    ends += [t for t in (assignment.submitted_at, assignment.released_at) if t is not None]
    held = max(0, int((min(ends) - assignment.claimed_at).total_seconds()))
    seconds = min(held, FLAG_PAY_FACTOR * project.estimated_task_seconds)
    rate = (session.get(ProjectRate, assignment.rate_id) if assignment.rate_id
            else access.rate_at(session, project.id, assignment.claimed_at))
    if rate is None or seconds == 0:
        return None
    hourly = services.per_task_as_hourly(rate.amount, rate.currency,
                                         project.estimated_task_seconds)
    money = _time_pay(rate, project.estimated_task_seconds, seconds)
    flag.paid_seconds = seconds
    if money.amount <= 0:
        return None
    minutes = (Decimal(seconds) / 60).quantize(Decimal("0.1"))
    record_earning(
        session, kind=EarningKind.FLAGGED_WORK, trainer_id=assignment.trainer_id,
        organisation_id=project.organisation_id, money=money, source_type=SOURCE_TYPE,
        source_id=assignment.id, project_id=project.id,
        description=f"Time on {project.name}: {minutes} minutes at {hourly} an hour",
    )
    return money


def _time_pay(rate: ProjectRate, estimated_seconds: int, seconds: int) -> Money:
    """``seconds`` at the per-task rate's hourly equivalent, rounded once (half-even):
    rate * seconds / estimated seconds."""
    per_second = Money(rate.amount, rate.currency).to_decimal() / Decimal(estimated_seconds)
    return Money.from_decimal(per_second * Decimal(seconds), rate.currency)


def list_my_flags(session: Session, trainer: User, page: PageRequest) -> Page[ContentFlag]:
    stmt = (select(ContentFlag).where(ContentFlag.trainer_id == trainer.id)
            .options(joinedload(ContentFlag.task), joinedload(ContentFlag.project)))
    return paginate(session, stmt, page, created_at=ContentFlag.created_at,
                    row_id=ContentFlag.id)


# --- triage (managers) ---------------------------------------------------------------


def list_flags(
    session: Session,
    staff: User,
    page: PageRequest,
    *,
    project_id: uuid.UUID | None = None,
    severity: FlagSeverity | None = None,
    states: tuple[FlagState, ...] = UNTRIAGED,
) -> Page[ContentFlag]:
    """The organisation's flags, newest first: by default those waiting for triage."""
    stmt = (select(ContentFlag)
            .where(ContentFlag.organisation_id == staff.organisation_id,
                   ContentFlag.state.in_(states))
            .options(joinedload(ContentFlag.task), joinedload(ContentFlag.project)))
    if project_id is not None:
        access.get_project(session, staff, project_id)
        stmt = stmt.where(ContentFlag.project_id == project_id)
    if severity is not None:
        stmt = stmt.where(ContentFlag.severity == severity)
    return paginate(session, stmt, page, created_at=ContentFlag.created_at,
                    row_id=ContentFlag.id)


def _staff_flag(session: Session, staff: User, flag_id: uuid.UUID, *, lock: bool = False
                ) -> ContentFlag:
    stmt = select(ContentFlag).where(ContentFlag.id == flag_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    flag = session.scalars(stmt).one_or_none()
    if flag is None or flag.organisation_id != staff.organisation_id:
        raise NotFound(_("No such flag."))
    return flag


def get_flag(session: Session, staff: User, flag_id: uuid.UUID) -> ContentFlag:
    return _staff_flag(session, staff, flag_id)


def _snapshot(flag: ContentFlag) -> dict[str, Any]:
    return {
        "state": flag.state.value, "category": flag.category.value,
        "severity": flag.severity.value, "task_id": str(flag.task_id),
        "project_id": str(flag.project_id), "returned": flag.returned,
        "need_support": flag.need_support,
    }


def confirm_flag(
    session: Session,
    staff: User,
    flag_id: uuid.UUID,
    *,
    scope: RaiseScope = RaiseScope.NONE,
    sensitivity: Sensitivity | None = None,
    content_categories: list[ContentCategory] | None = None,
    note: str = "",
) -> ContentFlag:
    """The flag was right. With ``scope`` ``task`` or ``project`` the content warning
    is raised there: to ``sensitivity`` (default: at least sensitive) with
    ``content_categories`` added (default: the flag's category). It may only go up."""
    flag = _staff_flag(session, staff, flag_id, lock=True)
    before = _snapshot(flag)
    FLAGS.move(flag, FlagState.CONFIRMED)
    if scope is RaiseScope.NONE and (sensitivity is not None or content_categories):
        raise Invalid(_("Say what to relabel: the task or the project."),
                      errors={"scope": [_("Must be task or project to change a content warning.")]})
    raised: dict[str, Any] = {}
    if scope is RaiseScope.TASK:
        raised = _raise_task(session, staff, flag, sensitivity, content_categories)
    elif scope is RaiseScope.PROJECT:
        raised = _raise_project(session, staff, flag, sensitivity, content_categories)
    _decided(flag, staff, note)
    flag.raised_scope = scope
    session.flush()
    _announce_confirmed(session, flag)
    audit.record(session, staff, "content_flag.confirmed", object_type="content_flag",
                 object_id=flag.id, organisation_id=flag.organisation_id, before=before,
                 after={**_snapshot(flag), "scope": scope.value, **raised})
    _tell_flagger(session, flag, {"task_raised": scope is RaiseScope.TASK,
                                  "project_raised": scope is RaiseScope.PROJECT,
                                  "note": note})
    return flag


def _announce_confirmed(session: Session, flag: ContentFlag) -> None:
    """The ``flag.confirmed`` webhook event: what was flagged and decided, never who
    flagged it nor their words."""
    emit(session, flag.organisation_id, EventType.FLAG_CONFIRMED, {
        "flag_id": str(flag.id), "project_id": str(flag.project_id),
        "task_id": str(flag.task_id), "external_id": flag.task.external_id,
        "category": flag.category.value, "severity": flag.severity.value,
        "confirmed_at": iso(flag.triaged_at), "raised": flag.raised_scope.value,
    })


def _raised(current: Sensitivity, current_categories: list[str], flag: ContentFlag,
            sensitivity: Sensitivity | None, categories: list[ContentCategory] | None
            ) -> tuple[Sensitivity, list[str]]:
    """The new level and categories, never below the current ones."""
    target = sensitivity or (current if LEVEL[current] >= LEVEL[Sensitivity.SENSITIVE]
                             else Sensitivity.SENSITIVE)
    errors: dict[str, list[str]] = {}
    if target is Sensitivity.NONE or LEVEL[target] < LEVEL[current]:
        errors["sensitivity"] = [_("May only be raised: it is %(value)s now.", value=current.value)]
    if errors:
        raise Invalid(_("A content warning may only be raised."), errors=errors)
    added = [ContentCategory(c).value for c in (categories or [flag.category])]
    return target, sorted(set(current_categories) | set(added))


def _raise_task(session: Session, staff: User, flag: ContentFlag,
                sensitivity: Sensitivity | None, categories: list[ContentCategory] | None
                ) -> dict[str, Any]:
    task, project = flag.task, flag.project
    current = effective_sensitivity(task, project)
    current_categories = effective_categories(task, project)
    level, new_categories = _raised(current, current_categories, flag, sensitivity, categories)
    before = {"sensitivity": task.sensitivity.value if task.sensitivity else None,
              "content_categories": task.content_categories}
    task.sensitivity, task.content_categories = level, new_categories
    session.flush()
    after = {"sensitivity": level.value, "content_categories": new_categories}
    audit.record(session, staff, "task.content_warning_raised", object_type="task",
                 object_id=task.id, organisation_id=project.organisation_id,
                 before=before, after=after)
    # Whoever holds the task now is told; later claimers see the warning on the task.
    holders = session.scalars(select(Assignment.trainer_id).where(
        Assignment.task_id == task.id, Assignment.state == AssignmentState.LEASED,
        Assignment.trainer_id != flag.trainer_id,
    )).all()
    for trainer_id in holders:
        tell(session, trainer_id, "task.content_warning_raised",
             {"project": project.name, "task": task.external_id, "level": level.value,
              "categories": ", ".join(new_categories)},
             data={"task_id": str(task.id), "project_id": str(project.id)})
    return after


def _raise_project(session: Session, staff: User, flag: ContentFlag,
                   sensitivity: Sensitivity | None, categories: list[ContentCategory] | None
                   ) -> dict[str, Any]:
    project = flag.project
    level, new_categories = _raised(project.sensitivity, list(project.content_categories),
                                    flag, sensitivity, categories)
    # The project path checks, audits and tells every trainer on the project.
    services.update_project(session, staff, project.id, sensitivity=level,
                            content_categories=[ContentCategory(c) for c in new_categories])
    return {"sensitivity": level.value, "content_categories": new_categories}


def _decided(flag: ContentFlag, staff: User, resolution: str) -> None:
    flag.triaged_by_id = staff.id
    flag.triaged_at = clock.now()
    flag.resolution = resolution


def dismiss_flag(session: Session, staff: User, flag_id: uuid.UUID, *, reason: str
                 ) -> ContentFlag:
    """The flag was not borne out (a reason is required, and the trainer sees it). A
    hidden task is offered again. The trainer's pay and standing stay as they were."""
    flag = _staff_flag(session, staff, flag_id, lock=True)
    before = _snapshot(flag)
    FLAGS.move(flag, FlagState.DISMISSED)
    _decided(flag, staff, reason)
    session.flush()
    audit.record(session, staff, "content_flag.dismissed", object_type="content_flag",
                 object_id=flag.id, organisation_id=flag.organisation_id, before=before,
                 after={**_snapshot(flag), "reason": reason})
    _tell_flagger(session, flag, {"reason": reason})
    return flag


def escalate_flag(session: Session, staff: User, flag_id: uuid.UUID, *, note: str
                  ) -> ContentFlag:
    """Hand the flag to the wellbeing contact (else the admins), told in the app and by
    e-mail. A hidden task stays hidden until the flag is confirmed or dismissed."""
    flag = _staff_flag(session, staff, flag_id, lock=True)
    before = _snapshot(flag)
    FLAGS.move(flag, FlagState.ESCALATED)
    flag.escalated_by_id, flag.escalated_at, flag.escalation_note = staff.id, clock.now(), note
    session.flush()
    audit.record(session, staff, "content_flag.escalated", object_type="content_flag",
                 object_id=flag.id, organisation_id=flag.organisation_id, before=before,
                 after={**_snapshot(flag), "note": note})
    cases.tell_handlers(
        session, flag.organisation_id, "content_flag.escalated",
        {"severity": flag.severity.value, "category": _category(flag),
         "task": flag.task.external_id, "project": flag.project.name, "note": note},
        data={"flag_id": str(flag.id), "project_id": str(flag.project_id)},
    )
    return flag


def _tell_flagger(session: Session, flag: ContentFlag, params: dict[str, Any]) -> None:
    tell(session, flag.trainer_id, f"content_flag.{flag.state.value}",
         {"project": flag.project.name, "task": flag.task.external_id, **params},
         data={"flag_id": str(flag.id), "project_id": str(flag.project_id)})


def _category(flag: ContentFlag) -> str:
    return flag.category.value.replace("_", " ")
