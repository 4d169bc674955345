"""Claiming tasks under a lease, extending and releasing leases, and submitting answers.

A task needs ``redundancy`` answers from different trainers; ``open_slots`` counts how
many more trainers may take it now. A claim takes a slot with a conditional UPDATE
(``open_slots > 0``), so no task is ever given to more trainers than it needs, and the
unique key (task, trainer) means no trainer gets a task twice, whatever races.

- A trainer holds at most one live lease per project. Claiming again while it runs
  returns that lease instead of a new one (a double click, a retry, a second tab).
- On PostgreSQL the next task is picked with ``FOR UPDATE SKIP LOCKED``, so concurrent
  claimers take different tasks instead of queueing on one; if every candidate is
  locked, the claim waits on the conditional UPDATE instead of giving up while slots
  may remain. SQLite serialises writers, and the same statements stay correct. On plain
  work the first try picks the task and takes its slot in one statement (one task
  locked, one round trip); only when it finds none free do the rounds of candidates
  begin.
- A claim share-locks the project row and locks the trainer's membership: a pause,
  suspension or removal (which lock them for update) either sees the new lease and
  ends it, or happens first and the claim is refused.
- A lease lasts ``project.lease_seconds``; it may be extended while it runs, up to
  ``MAX_LEASE_FACTOR`` times that from the claim. Released and expired leases give
  their slot back (``expire_leases`` is the scheduler's job).
- Wellbeing (``wellbeing.limits``): a claim hands out only tasks the trainer may take
  now (no exposure limit reached for the task's level, consent to its categories). A
  claim locks the trainer's row, so a consent withdrawal and the trainer's other claims
  and sessions see it (or it sees them).
- A quality restriction in force (``results.restrictions``) refuses a new claim on its
  project (403 ``quality-restricted``, with the rule's figures); whether one is in force
  is read with the membership (no statement more), and a lease held is handed back and
  may be submitted as usual.
- Sensitive and graphic work is revealed in a second step: the claim hands out the
  lease with the content warning, the categories and the estimated time, and the task's
  content only once the trainer reveals it (``reveal``), which passes the claim's gate
  again at that moment and starts the exposure (counted from ``revealed_at``). The lease
  runs from the claim either way; at the reveal it is cut to the moment a limit would be
  reached, and a reveal that a limit would end at once is refused. Giving the task back
  unrevealed (``release_lease``) is the decline: nothing was shown or counted, and a
  release never touches quality or approval rate. Work without a warning is revealed
  at the claim (the lease's insert carries it: no extra statement on the plain path).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, not_, select, update
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload, load_only
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from workforce import clock, db
from workforce.accounts import verification
from workforce.accounts.models import User
from workforce.errors import Conflict, Invalid, NotFound
from workforce.i18n import gettext
from workforce.money import Money
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import (
    access,
    budgets,
    declared_use,
    eligibility,
    lifecycle,
    reviews,
    winddown,
)
from workforce.projects.models import (
    Appeal,
    Assignment,
    AssignmentState,
    GuidelineVersion,
    MembershipState,
    PayModel,
    Project,
    ProjectMember,
    ProjectRate,
    ProjectState,
    Sensitivity,
    Task,
    WorkPreferences,
)
from workforce.results import quality_rules, restrictions, templates
from workforce.results.models import QualityRestriction, QualityRule, TemplateVersion
from workforce.standing import gate as standing_gate
from workforce.standing.models import AccountAction
from workforce.storage import FileStore
from workforce.uploads import attach
from workforce.wellbeing import filters as wellbeing_filters
from workforce.wellbeing import limits
from workforce.wellbeing.exposure import (
    effective_categories,
    effective_sensitivity,
)

# A lease may be extended up to this many lease lengths from the claim.
MAX_LEASE_FACTOR = 3
# Tasks tried per round of a claim, and rounds before giving up while others claim.
CANDIDATES = 5
ROUNDS = 10


# --- what a trainer sees -------------------------------------------------------------


@dataclass(frozen=True)
class AssignmentView:
    """One of a trainer's assignments with its task (never the gold answer), its review
    feedback, its appeal, and what it pays once approved: ``pay`` is fixed at the first
    submission (``access.task_pay_rate``); before it, a lease shows the rate in force at
    its claim, the least it will pay."""

    assignment: Assignment
    task: Task
    project: Project
    appeal: Appeal | None
    pay: Money | None
    guidelines: GuidelineVersion | None = None
    # On a claim of sensitive work when rotation is due: where ordinary work waits.
    rotation: limits.RotationHint | None = None
    # The task template version in force at the claim (None: any JSON answer).
    template: TemplateVersion | None = None

    @property
    def payload(self) -> dict[str, Any] | None:
        """The task's content, once revealed (sensitive and graphic work waits for the
        trainer's reveal)."""
        return self.task.payload if self.assignment.revealed_at is not None else None

    @property
    def pay_fixed(self) -> bool:
        return self.assignment.rate_id is not None

    @property
    def content_warning(self) -> dict[str, Any]:
        """The task's own warning, else its project's."""
        return {"sensitivity": effective_sensitivity(self.task, self.project),
                "content_categories": effective_categories(self.task, self.project)}


def _views(
    session: Session, assignments: list[Assignment], *, guidelines: bool = False,
    claim_rates: dict[uuid.UUID, ProjectRate] | None = None,
    template_versions: dict[uuid.UUID, TemplateVersion | None] | None = None,
) -> list[AssignmentView]:
    # Only reviewed work can have been appealed: a claim or a first submission asks for
    # no appeals.
    ids = [a.id for a in assignments if a.reviewed_at is not None]
    appeals = {
        appeal.assignment_id: appeal
        for appeal in session.scalars(select(Appeal).where(Appeal.assignment_id.in_(ids)))
    } if ids else {}
    rates = _rates(session, {a.rate_id for a in assignments if a.rate_id is not None})
    if claim_rates is None:
        claim_rates = _claim_rates(session, [a for a in assignments if _pay_not_fixed(a)])
    if template_versions is None:
        template_versions = templates.versions_for(session, assignments)
    views = []
    for a in assignments:
        rate = rates.get(a.rate_id) if a.rate_id else None
        if _pay_not_fixed(a):
            rate = claim_rates.get(a.id)
        views.append(AssignmentView(
            assignment=a, task=a.task, project=a.project, appeal=appeals.get(a.id),
            pay=Money(rate.amount, rate.currency) if rate else None,
            guidelines=access.current_guidelines(session, a.project_id) if guidelines else None,
            template=template_versions[a.id],
        ))
    return views


def _pay_not_fixed(assignment: Assignment) -> bool:
    """A per-task lease not yet submitted: it pays at least the rate at its claim."""
    return (assignment.rate_id is None and assignment.state is AssignmentState.LEASED
            and assignment.project.pay_model is PayModel.PER_TASK)


def _claim_rates(
    session: Session, assignments: list[Assignment]
) -> dict[uuid.UUID, ProjectRate]:
    """The rate in force at each assignment's claim, by assignment id."""
    if not assignments:
        return {}
    rows = session.execute(
        select(Assignment.id, ProjectRate)
        .join(ProjectRate, ProjectRate.id == access.rate_in_force_id(
            Assignment.project_id, Assignment.claimed_at))
        .where(Assignment.id.in_([a.id for a in assignments]))
    )
    return {assignment_id: rate for assignment_id, rate in rows}


def _rates(session: Session, rate_ids: set[uuid.UUID]) -> dict[uuid.UUID, ProjectRate]:
    """The rates by id; those already in the session (a submit just read the rate in
    force) are not read again."""
    rates = {}
    for rate_id in rate_ids:
        known = session.identity_map.get(identity_key(ProjectRate, rate_id))
        if known is not None:
            rates[rate_id] = known
    missing = rate_ids - rates.keys()
    if missing:
        rates.update((rate.id, rate) for rate in session.scalars(
            select(ProjectRate).where(ProjectRate.id.in_(missing))))
    return rates


def _own_assignment_stmt(assignment_id: Any, *, lock: bool, narrow: bool = False) -> Any:
    # Every caller goes on to the task and the project: one round trip for all three.
    # ``narrow``: only the columns a submit and its answer read (``_HOT``), the task and
    # the project joined by name, so that the caller's conditions may name them.
    stmt = select(Assignment).where(Assignment.id == assignment_id)
    if narrow:
        stmt = stmt.join(Assignment.task).join(Assignment.project).options(
            contains_eager(Assignment.task).load_only(*_HOT[Task]),
            contains_eager(Assignment.project).load_only(*_HOT[Project]))
    else:
        stmt = stmt.options(joinedload(Assignment.task, innerjoin=True),
                            joinedload(Assignment.project, innerjoin=True))
    if lock:
        # Re-read under the lock: a submit, release or expiry that committed while we
        # waited must be seen.
        stmt = stmt.with_for_update(of=Assignment).execution_options(populate_existing=True)
    return stmt


def _own_assignment(
    session: Session, trainer: User, assignment_id: uuid.UUID, *, lock: bool = False
) -> Assignment:
    assignment = session.scalars(_own_assignment_stmt(assignment_id, lock=lock)).one_or_none()
    if assignment is None or assignment.trainer_id != trainer.id:
        raise NotFound(gettext("No such assignment."))
    return assignment


def get_assignment(session: Session, trainer: User, assignment_id: uuid.UUID) -> AssignmentView:
    """One of the trainer's assignments, with the project's current guidelines."""
    assignment = _own_assignment(session, trainer, assignment_id)
    return _views(session, [assignment], guidelines=True)[0]


def list_assignments(
    session: Session,
    trainer: User,
    page: PageRequest,
    *,
    state: AssignmentState | None = None,
    project_id: uuid.UUID | None = None,
) -> Page[AssignmentView]:
    """The trainer's assignments, newest claim first, optionally by state and project."""
    stmt = (
        select(Assignment)
        .where(Assignment.trainer_id == trainer.id)
        .options(joinedload(Assignment.task), joinedload(Assignment.project))
    )
    if state is not None:
        stmt = stmt.where(Assignment.state == state)
    if project_id is not None:
        stmt = stmt.where(Assignment.project_id == project_id)
    found = paginate(session, stmt, page, created_at=Assignment.created_at, row_id=Assignment.id)
    return Page(_views(session, found.items), found.next_cursor)


# --- claiming ------------------------------------------------------------------------


def claim_next(
    session: Session, trainer: User, project_id: uuid.UUID
) -> tuple[AssignmentView, bool]:
    """Lease the highest-priority task (then the oldest) that still needs answers and
    that the trainer has never had. Returns the assignment and whether it is new: a
    trainer already holding a live lease on the project gets that one back.

    Refused on projects not open for work (``access.require_open_for_work``), when the
    trainer is not staffed (403 ``not-staffed``), and with 409 ``no-task-available``.
    """
    now = clock.now()
    locked = _lock_for_claim(session, trainer, project_id, now)
    verification.require_verified(trainer)
    project = locked.project
    access.require_open_for_work(project, now)
    if locked.account_action:  # read with the membership; the gate says which and why
        standing_gate.require_new_work_allowed(session, trainer.id, project.organisation_id, now)
    if declared_use.refused_by(locked.refused_uses, project):
        declared_use.require_not_refused(session, trainer, project)
    held = _live_lease(session, trainer.id, project_id, now)
    if held is None and locked.quality_restricted:  # read with the membership
        restrictions.require_claim_allowed(session, trainer.id, project_id, now)
    if held is None:  # without a budget (read with the project's row): no statement
        budgets.require_room_for_claim(session, project, now)
    # The trainer's limits and consent matter only where sensitive work could be
    # handed out: on a plain project with no sensitive task open, the claim looks at
    # plain work alone and skips the four queries that measure them.
    gate = None
    if project.sensitivity is not Sensitivity.NONE or locked.sensitive_open:
        gate = limits.gate_for(session, trainer, project.organisation_id, now=now)
    rotation = limits.rotation_hint(session, gate, project) if gate is not None else None
    assignment = held or _take_next_task(session, trainer, project, now, gate)
    # A new lease was claimed now: the rate read with the project is the one at its
    # claim (a lease held from before reads its own).
    claim_rates = None
    if held is None:
        claim_rates = {assignment.id: locked.rate} if locked.rate else {}
    template = templates.version_for_given(session, assignment, locked.template)
    view = _views(session, [assignment], claim_rates=claim_rates,
                  template_versions={assignment.id: template})[0]
    return replace(view, guidelines=locked.guidelines, rotation=rotation), held is None


@dataclass(frozen=True)
class _ClaimedProject:
    project: Project
    sensitive_open: bool  # an open task is sensitive on its own
    guidelines: GuidelineVersion | None  # the current version, for the answer
    rate: ProjectRate | None  # in force now, the least a lease claimed now pays
    template: TemplateVersion | None  # the current task template
    # Read with the membership, so that the hot path costs no statement more: whether
    # an account action of the organisation is in force, and the uses the trainer
    # refuses (``standing.gate`` and ``declared_use`` have the last word).
    account_action: bool
    refused_uses: list[str]
    # A quality restriction of the project in force (``results.restrictions`` says which).
    quality_restricted: bool


def _lock_for_claim(
    session: Session, trainer: User, project_id: uuid.UUID, now: datetime
) -> _ClaimedProject:
    """Share-lock the project, then lock the trainer's row and membership (the order
    everything else takes them in), re-reading the project so a change committed while
    we waited is seen; with it, whether an open task of the project is sensitive on its
    own, its current guidelines and task template, and its rate in force ``now``. A
    project the trainer may not see is 404, one they are not staffed on 403
    ``not-staffed``
    (``eligibility.staffed_project``'s rule).

    The membership lock serialises one trainer's claims on a project (one live lease at
    a time), and makes a concurrent removal wait for the claim and then end its lease;
    the trainer's lock does the same for a consent withdrawal."""
    row = session.execute(_project_stmt(), {"project_id": project_id, "now": now}
                          ).one_or_none()
    if row is None or row[0].state is ProjectState.DRAFT:
        raise NotFound(gettext("No such project."))
    access.lock_trainer(session, trainer.id)
    member = session.execute(_membership_stmt(), {
        "project_id": project_id, "trainer_id": trainer.id, "now": now,
        "organisation_id": row[0].organisation_id}).one_or_none()
    if member is None:
        raise eligibility.not_staffed(session, trainer, project_id)
    return _ClaimedProject(row[0], bool(row[1]), row[2], row[3], row[4], bool(member[1]),
                           member[2] or [], bool(member[3]))


def _live_lease(
    session: Session, trainer_id: uuid.UUID, project_id: uuid.UUID, now: datetime
) -> Assignment | None:
    """The trainer's running lease on the project. One that ran out but that the
    scheduler has not expired yet is expired here, so the trainer can move on."""
    leases = session.scalars(
        _leases_stmt(), {"trainer_id": trainer_id, "project_id": project_id}).all()
    live = None
    for lease in leases:
        if lease.lease_expires_at > now:
            live = lease
        else:
            _end_lease(session, lease, AssignmentState.EXPIRED, lease.lease_expires_at)
    return live


def _candidates(
    session: Session, trainer_id: uuid.UUID, project_id: uuid.UUID, *, skip_locked: bool,
    allowed: ColumnElement[bool] | None = None,
) -> list[uuid.UUID]:
    """The next few tasks the trainer may take, in claim order; ``allowed`` None means
    plain work only (``limits.plain_work``)."""
    params = {"trainer_id": trainer_id, "project_id": project_id}
    if allowed is None:
        return list(session.scalars(_plain_candidates_stmt(skip_locked), params))
    return list(session.scalars(_candidates_stmt(skip_locked).where(allowed), params))


def _candidates_stmt(skip_locked: bool, project_key: str = "project_id") -> Any:
    # ``project_key``: the project's parameter (an UPDATE of tasks may not use a column's
    # name for one).
    trainer_id, project_id = bindparam("trainer_id"), bindparam(project_key)
    had_it = exists().where(Assignment.task_id == Task.id, Assignment.trainer_id == trainer_id)
    stmt = (
        select(Task.id)
        .where(Task.project_id == project_id, Task.open_slots > db.inline(0), ~had_it)
        .where(wellbeing_filters.not_hidden(Task.id))  # high-severity flag, untriaged
        .order_by(Task.priority.desc(), Task.created_at, Task.id)
        .limit(db.inline(CANDIDATES))
    )
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True, of=Task)
    return stmt


def _take_next_task(
    session: Session, trainer: User, project: Project, now: datetime,
    gate: limits.Gate | None,
) -> Assignment:
    """Without a ``gate`` (a plain project with no sensitive task open as the claim
    began) only plain work is looked at; if none is left, the claim looks again with
    the trainer's limits and consent, so a sensitive task imported meanwhile is handed
    out or named in the refusal as always."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if gate is None:
        # The common case in one statement: the first plain candidate nobody else holds,
        # its slot taken. Only when there is none does the claim go round the candidates.
        assignment = _take_first_plain(session, trainer, project, now)
        if assignment is not None:
            return assignment
    # Tasks the trainer may not take now (a limit, no consent) are left out here, so
    # they never stand in the way of ones they may take.
    allowed = limits.claimable(session, gate, project) if gate is not None else None
    for _ in range(ROUNDS):
        task_ids = _candidates(session, trainer.id, project.id, skip_locked=True,
                               allowed=allowed)
        if not task_ids and postgres:
            # Every candidate is locked by another claim in flight: wait on the
            # conditional UPDATE below (it re-checks the slots once they commit)
            # rather than answer "nothing left" while slots may remain.
            task_ids = _candidates(session, trainer.id, project.id, skip_locked=False,
                                   allowed=allowed)
        if not task_ids:
            break
        for task_id in task_ids:
            assignment = _try_take(session, trainer, project, task_id, now)
            if assignment is not None:
                return assignment
    if gate is None:
        # Nothing plain is left. Only if a sensitive task was imported since the claim
        # began is the trainer measured, and the project looked at again with their
        # limits and consent; an empty queue is answered at once.
        if not session.scalar(_sensitive_open_stmt(), {"project_id": project.id}):
            raise _no_task()
        gate = limits.gate_for(session, trainer, project.organisation_id, now=now)
        return _take_next_task(session, trainer, project, now, gate)
    skipped = _candidates(session, trainer.id, project.id, skip_locked=False,
                          allowed=not_(allowed))
    if skipped:
        # Work is left, but none the trainer may take now: say why.
        raise limits.refusal(session, gate, session.get_one(Task, skipped[0]), project)
    raise _no_task()


def _no_task() -> Conflict:
    return Conflict(
        gettext("No task on this project needs your answer right now; try again later."),
        code="no-task-available",
    )


def _try_take(
    session: Session, trainer: User, project: Project, task_id: uuid.UUID, now: datetime
) -> Assignment | None:
    task = session.scalars(_take_slot_stmt(), {"task_id": task_id, "updated_at": now}
                           ).one_or_none()
    return _lease(session, trainer, project, task, now) if task is not None else None


def _take_first_plain(
    session: Session, trainer: User, project: Project, now: datetime
) -> Assignment | None:
    """The first plain candidate's slot taken in the statement that picks it (one round
    trip, one task locked), and its lease; None when no plain candidate is free now
    (none left, or every one held by a claim in flight)."""
    task = session.scalars(_take_first_plain_stmt(), {
        "trainer_id": trainer.id, "of_project": project.id, "updated_at": now,
    }).one_or_none()
    return _lease(session, trainer, project, task, now) if task is not None else None


def _lease(
    session: Session, trainer: User, project: Project, task: Task, now: datetime
) -> Assignment | None:
    """The trainer's lease on ``task``, whose slot the caller took."""
    task_id = task.id
    # Work with a content warning waits for the trainer's reveal (``reveal``), which
    # also bounds its lease by the exposure limits; plain work is shown at once.
    plain = effective_sensitivity(task, project) is Sensitivity.NONE
    # The unique key (task, trainer) is the last line of defence: should the trainer
    # already have had the task, nothing is inserted and the slot goes back.
    assignment = session.scalars(_lease_stmt(session.get_bind().dialect.name), {
        "id": uuid.uuid4(), "task_id": task_id, "project_id": project.id,
        "trainer_id": trainer.id, "claimed_at": now, "revealed_at": now if plain else None,
        "lease_expires_at": now + timedelta(seconds=project.lease_seconds),
        "created_at": now, "updated_at": now,
    }).one_or_none()
    if assignment is None:
        winddown.give_back_slot(session, task_id)
        return None
    # The task the UPDATE returned: the session holds it only weakly, and the answer
    # must not read its row again.
    set_committed_value(assignment, "task", task)
    return assignment


# The claim's statements, built once with bound parameters: a claim is the hottest path
# there is, and building a statement and its cache key costs more than running it.

# The columns of each row that a claim, a submit and their answer read (``load_only``):
# the database builds, sends and frees every column it returns on every run, a cost
# that grows with the statement's width (bench/RESULTS.md, items 30 and 38). Another
# reader of a row first loaded here gets a column left out on first use (one statement
# more); the locked re-reads refresh these columns, so a rule that reads the row under
# its lock must read one of them. The claim's and the submit's statement tests fail if
# the hot path loads a column after its statements. A column a statement writes is
# returned, so the session never holds its old value (the task's ``updated_at``).
_HOT: dict[type, tuple[Any, ...]] = {
    Project: (Project.organisation_id, Project.name, Project.state, Project.sensitivity,
              Project.content_categories, Project.review_sample_percent,
              Project.lease_seconds, Project.pay_model, Project.currency,
              Project.estimated_task_seconds, Project.pause_reason,
              Project.expected_resume_at, Project.suspension_effective_at,
              Project.data_uses, Project.restricted_uses, Project.budget_amount,
              Project.budget_warned_at, Project.budget_exhausted_at,
              Project.answer_retention_days),
    Task: (Task.project_id, Task.external_id, Task.payload, Task.gold_answer,
           Task.open_slots, Task.sensitivity, Task.content_categories, Task.updated_at),
    GuidelineVersion: (GuidelineVersion.number, GuidelineVersion.body,
                       GuidelineVersion.created_at),
    ProjectRate: (ProjectRate.amount, ProjectRate.currency),
    TemplateVersion: (TemplateVersion.project_id, TemplateVersion.number,
                      TemplateVersion.fields, TemplateVersion.created_at),
}


def _hot(entity: Any, columns: type | None = None) -> Any:
    """``load_only`` of the hot columns of ``columns`` (the mapped class), on ``entity``
    (the class or an alias of it)."""
    names = [column.key for column in _HOT[columns or entity]]
    return load_only(*(getattr(entity, name) for name in names))


@functools.cache
def _project_stmt() -> Any:
    project_id = bindparam("project_id")
    return (
        select(Project, limits.sensitive_tasks_open(project_id), GuidelineVersion, ProjectRate,
               TemplateVersion)
        .select_from(Project)
        .outerjoin(GuidelineVersion, and_(
            GuidelineVersion.project_id == Project.id,
            GuidelineVersion.number == access.latest_guidelines_number(Project.id),
        ))
        .outerjoin(ProjectRate, ProjectRate.id == access.rate_in_force_id(
            Project.id, bindparam("now")))
        .outerjoin(TemplateVersion, and_(
            TemplateVersion.project_id == Project.id,
            TemplateVersion.number == templates.latest_number(Project.id),
        ))
        .where(Project.id == project_id)
        .with_for_update(read=True, of=Project)
        .options(_hot(Project), _hot(GuidelineVersion), _hot(ProjectRate),
                 _hot(TemplateVersion))
        .execution_options(populate_existing=True)
    )


@functools.cache
def _sensitive_open_stmt() -> Any:
    return select(limits.sensitive_tasks_open(bindparam("project_id")))


@functools.cache
def _membership_stmt() -> Any:
    # On the table, not the mapped class: no entity is loaded, so the ORM has nothing
    # to do with the row.
    members = ProjectMember.__table__.c
    trainer_id = bindparam("trainer_id")
    in_force = exists().where(
        AccountAction.trainer_id == trainer_id,
        # The project's, read just before: a parameter rather than a subquery of its own.
        AccountAction.organisation_id == bindparam("organisation_id"),
        AccountAction.in_force(bindparam("now")),
    )
    refused = (select(WorkPreferences.refused_uses)
               .where(WorkPreferences.trainer_id == trainer_id).scalar_subquery())
    restricted = exists().where(
        QualityRestriction.trainer_id == trainer_id,
        QualityRestriction.project_id == bindparam("project_id"),
        QualityRestriction.in_force(bindparam("now")),
    )
    return (
        select(members.id, in_force, refused, restricted)
        .where(
            members.project_id == bindparam("project_id"),
            members.trainer_id == bindparam("trainer_id"),
            # Written into the text: the one open membership's unique partial index
            # (its predicate names the states) serves the generic plan too.
            members.state == db.inline(MembershipState.ACTIVE, members.state.type),
        )
        .with_for_update()
    )


@functools.cache
def _leases_stmt() -> Any:
    return (
        select(Assignment)
        .where(
            Assignment.trainer_id == bindparam("trainer_id"),
            Assignment.project_id == bindparam("project_id"),
            # Written into the text: sent as a parameter, the state hid from the generic
            # plan how few rows are leased, and PostgreSQL planned the statement again on
            # every claim (bench/RESULTS.md, item 42).
            Assignment.state == db.inline(AssignmentState.LEASED, Assignment.state.type),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


@functools.cache
def _plain_candidates_stmt(skip_locked: bool, project_key: str = "project_id") -> Any:
    return _candidates_stmt(skip_locked, project_key).where(limits.plain_work())


@functools.cache
def _take_slot_stmt() -> Any:
    return _slot_taken(Task.id == bindparam("task_id"))


@functools.cache
def _take_first_plain_stmt() -> Any:
    # The candidates' statement for one task (locked, others' locks skipped) as the
    # UPDATE's condition: PostgreSQL runs it once, then takes that task's slot.
    # Not correlated: its ``tasks`` is its own, not the updated row.
    first = _plain_candidates_stmt(True, "of_project").limit(db.inline(1)).correlate(None)
    return _slot_taken(Task.id == first.scalar_subquery())


def _slot_taken(which: ColumnElement[bool]) -> Any:
    # The task comes back with its new slot count (one round trip, and a Task already
    # in the session is not left stale).
    return (
        update(Task)
        .where(which, Task.open_slots > 0)
        .values(open_slots=Task.open_slots - 1, updated_at=bindparam("updated_at"))
        .returning(Task)
        .options(_hot(Task))
        .execution_options(synchronize_session=False, populate_existing=True)
    )


@functools.cache
def _lease_stmt(dialect: str) -> Any:
    insert = db.insert_for(dialect)
    names = ("id", "task_id", "project_id", "trainer_id", "claimed_at", "revealed_at",
             "lease_expires_at", "created_at", "updated_at")
    return (
        insert(Assignment)
        .values(state=AssignmentState.LEASED, auto_approved=False, revisions=0,
                **{name: bindparam(name) for name in names})
        .on_conflict_do_nothing(index_elements=[Assignment.task_id, Assignment.trainer_id])
        .returning(Assignment)
    )


def _limit_stop(session: Session, trainer: User, assignment: Assignment,
                until: datetime) -> limits.LimitStop | None:
    """When an exposure limit stops work on the assignment's task that began at its
    reveal and went on to ``until`` (the lease, flushed, counts as held to its end)."""
    level = effective_sensitivity(assignment.task, assignment.project)
    return limits.stop_moment(session, trainer, assignment.project.organisation_id, level,
                              require_revealed(assignment), until)


# --- the lease -----------------------------------------------------------------------


def _end_lease(
    session: Session, assignment: Assignment, state: AssignmentState, at: datetime
) -> None:
    lifecycle.ASSIGNMENTS.move(assignment, state)
    assignment.released_at = at
    winddown.give_back_slot(session, assignment.task_id)


def _require_live(assignment: Assignment, now: datetime) -> None:
    """409 unless the assignment is a lease that still runs: leases end when their
    project's suspension takes effect, before the job releases them."""
    state = assignment.state
    if state in (AssignmentState.LEASED, AssignmentState.RELEASED):
        access.require_not_suspended(assignment.project, now)
    if state is AssignmentState.LEASED and assignment.lease_expires_at <= now:
        raise Conflict(
            gettext("Your lease on this task ran out at %(lease_expires_at)s; the task may be "
                    "someone else's now.",
                    lease_expires_at=assignment.lease_expires_at.isoformat()),
            code="lease-expired", current_state="expired",
            lease_expired_at=assignment.lease_expires_at.isoformat(),
        )
    if state is AssignmentState.EXPIRED:
        raise Conflict(
            gettext("Your lease on this task ran out; the task may be someone else's now."),
            code="lease-expired", current_state=state.value,
            lease_expired_at=assignment.lease_expires_at.isoformat(),
        )
    if state is AssignmentState.RELEASED:
        raise Conflict(
            gettext("You released this task; it is no longer yours."),
            code="lease-released", current_state=state.value,
        )
    if state is not AssignmentState.LEASED:
        raise Conflict(
            gettext("This assignment is %(state)s, not a running lease.", state=state.value),
            code="not-leased", current_state=state.value,
        )


def require_revealed(assignment: Assignment) -> datetime:
    """When the assignment's task was revealed; 409 ``not-revealed`` before that (work
    with a content warning waits for the trainer's reveal)."""
    if assignment.revealed_at is None:
        raise Conflict(
            gettext("You have not revealed this task yet: reveal it "
                    "(/api/v1/me/assignments/%(id)s/reveal) to work on it, or give it back "
                    "unrevealed (release), which nothing counts against you.", id=assignment.id),
            code="not-revealed",
        )
    return assignment.revealed_at


def reveal(session: Session, trainer: User, assignment_id: uuid.UUID) -> AssignmentView:
    """Show the task of a lease that waits for its reveal (sensitive and graphic work),
    starting its exposure now. The claim's gate is passed again at this moment: 409
    ``consent-required`` for categories not consented to (a warning raised since the
    claim), ``exposure-limit-reached`` when a limit stops the work now; otherwise the
    lease is cut to the moment a limit would be reached. Only a lease that still runs
    (409 ``lease-expired``, ``lease-released``, ``not-leased``); revealing a task
    already shown changes nothing."""
    # The trainer's row first, then the lease: the order a claim takes them in.
    access.lock_trainer(session, trainer.id)
    assignment = _own_assignment(session, trainer, assignment_id, lock=True)
    if assignment.revealed_at is None:
        now = clock.now()
        _require_live(assignment, now)
        standing_gate.require_work_allowed(
            session, trainer.id, assignment.project.organisation_id, now)
        limits.require_consent(session, trainer, assignment.task, assignment.project)
        assignment.revealed_at = now
        session.flush()  # the exposure measured below counts the lease from now
        stop = _limit_stop(session, trainer, assignment, assignment.lease_expires_at)
        if stop is not None:
            if stop.at <= now:
                # Never a lease that a limit ends as it starts: refuse, show nothing.
                raise stop.refusal()
            assignment.lease_expires_at = stop.at
            session.flush()
    return _views(session, [assignment], guidelines=True)[0]


def extend_lease(session: Session, trainer: User, assignment_id: uuid.UUID) -> AssignmentView:
    """Run the lease for another ``lease_seconds`` from now, while it still runs, up to
    ``MAX_LEASE_FACTOR`` lease lengths from the claim (409 ``lease-limit-reached``),
    once its task was revealed (409 ``not-revealed``)."""
    assignment = _own_assignment(session, trainer, assignment_id, lock=True)
    now = clock.now()
    _require_live(assignment, now)
    standing_gate.require_work_allowed(session, trainer.id, assignment.project.organisation_id, now)
    require_revealed(assignment)
    length = timedelta(seconds=assignment.project.lease_seconds)
    limit = assignment.claimed_at + MAX_LEASE_FACTOR * length
    extended = min(now + length, limit)
    if extended <= assignment.lease_expires_at:
        raise Conflict(
            gettext("A lease runs at most %(max_lease_factor)s lease lengths from the claim; this "
                    "one cannot be extended further.", max_lease_factor=MAX_LEASE_FACTOR),
            code="lease-limit-reached", lease_expires_at=assignment.lease_expires_at.isoformat(),
        )
    _extend_within_limits(session, trainer, assignment, extended)
    return _views(session, [assignment])[0]


def _extend_within_limits(
    session: Session, trainer: User, assignment: Assignment, extended: datetime
) -> None:
    """Extend to ``extended``, or to the moment an exposure limit would be reached if
    that comes first; 409 ``exposure-limit-reached`` when that gains nothing."""
    access.lock_trainer(session, trainer.id)
    current = assignment.lease_expires_at
    assignment.lease_expires_at = extended
    session.flush()  # the exposure measured below holds the lease to its new end
    stop = _limit_stop(session, trainer, assignment, extended)
    if stop is None:
        return
    if stop.at <= current:
        raise stop.refusal()
    assignment.lease_expires_at = stop.at
    session.flush()


def release_lease(session: Session, trainer: User, assignment_id: uuid.UUID) -> AssignmentView:
    """Give the task back; another trainer may claim it (this trainer never again)."""
    assignment = _own_assignment(session, trainer, assignment_id, lock=True)
    if assignment.state is not AssignmentState.LEASED:
        _require_live(assignment, clock.now())
    _end_lease(session, assignment, AssignmentState.RELEASED, clock.now())
    return _views(session, [assignment])[0]


def expire_leases(session: Session, *, now: datetime, limit: int) -> int:
    """Expire up to ``limit`` leases that ran out, giving their slots back; returns how
    many. Rows another process holds (a submit right now, a second scheduler) are
    skipped (``SKIP LOCKED``), and a lease submitted in time is never expired."""
    due = session.scalars(
        select(Assignment)
        .where(Assignment.state == AssignmentState.LEASED, Assignment.lease_expires_at <= now)
        .order_by(Assignment.lease_expires_at, Assignment.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    for assignment in due:
        _end_lease(session, assignment, AssignmentState.EXPIRED, assignment.lease_expires_at)
    return len(due)


# --- submitting ----------------------------------------------------------------------


def submit(
    session: Session,
    trainer: User,
    assignment_id: uuid.UUID,
    *,
    answer: Any,
    active_seconds: int,
    files: FileStore | None = None,
) -> AssignmentView:
    """Hand in the answer of a running lease, or a revision that was asked for.

    ``active_seconds`` is bounded by the time since the task was revealed (the claim,
    for work without a content warning) or since the revision was asked for, so a
    lease never reports more work than it could hold. A lease that ran out or was
    released, or whose task was never revealed, is refused (409) and nothing is
    written. On a project with a task template the answer must fit the version in force
    at the claim (``results.templates.check_submission``: 422 ``answer-invalid``, nothing
    written), and the uploads its recording and file fields name must be this lease's,
    with content that fits (``uploads.attach``, reading from ``files``). Gold tasks are
    scored at once; work not sampled for review is approved (and paid) at once. The
    project's speed and gold quality rules are evaluated then, in the same transaction
    (``results.quality_rules``).
    """
    if answer is None or not reviews.is_finite_json(answer):
        raise Invalid(gettext("The answer must be a JSON value (not null, NaN or infinite)."),
                      errors={"answer": [gettext("Must be JSON: not null, NaN or infinite.")]})
    now = clock.now()
    assignment, rate, locked = _locked_for_submit(session, trainer, assignment_id, now)
    project = assignment.project
    if locked.account_action:  # read with the assignment; the gate says which and why
        standing_gate.require_work_allowed(session, trainer.id, project.organisation_id, now)
    if assignment.state is AssignmentState.REVISION_REQUESTED:
        asked = assignment.reviewed_at or assignment.submitted_at or assignment.claimed_at
        window = min(
            _seconds_between(asked, now), MAX_LEASE_FACTOR * project.lease_seconds
        )
        worked = (assignment.active_seconds or 0) + min(active_seconds, window)
    else:
        _require_live(assignment, now)
        worked = min(active_seconds, _seconds_between(require_revealed(assignment), now))
    if project.pay_model is not PayModel.PER_TASK or assignment.rate_id is not None:
        rate = None  # hourly work is paid through its time; a revision keeps its rate
    elif rate is None:
        raise Conflict(
            gettext("The project has no pay rate in force; ask its manager to set one."),
            code="no-rate-in-force",
        )
    template = templates.check_submission(assignment, answer, locked.template)
    if template is not None:
        attach.attach_answer(session, files, assignment, template.fields, answer, now)
    lifecycle.ASSIGNMENTS.move(assignment, AssignmentState.SUBMITTED)
    assignment.answer = answer
    assignment.active_seconds = worked
    assignment.submitted_at = now
    if assignment.sampled is None:
        # Decided here rather than in on_submitted: one UPDATE of the row, not two.
        assignment.sampled = reviews.is_sampled(assignment.id, project.review_sample_percent)
    if rate is not None:
        # Fixed at the first submission: never less than the rate at the claim.
        assignment.rate_id = rate.id
    session.flush()
    reviews.on_submitted(session, assignment, now)
    if locked.quality_rules:
        quality_rules.after_submission(session, assignment, now)
    return _views(session, [assignment], template_versions={assignment.id: template})[0]


@dataclass(frozen=True)
class _SubmitReads:
    # Read with the assignment, so that a submit costs no statement more: whether an
    # account action of the organisation is in force (``standing.gate`` has the last
    # word), the task template version of the claim, and whether the project has quality
    # rules to evaluate (``results.quality_rules``: most projects have none).
    account_action: bool
    template: TemplateVersion | None
    quality_rules: bool


def _locked_for_submit(
    session: Session, trainer: User, assignment_id: uuid.UUID, now: datetime
) -> tuple[Assignment, ProjectRate | None, _SubmitReads]:
    """``_own_assignment`` under its lock, with what a first submission ``now`` would
    pay (``access.task_pay_rate``): the rates in force at the claim and ``now`` come in
    the same round trip, and so do the ``_SubmitReads``."""
    row = session.execute(_submit_stmt(), {"assignment_id": assignment_id, "now": now}
                          ).one_or_none()
    if row is None or row[0].trainer_id != trainer.id:
        raise NotFound(gettext("No such assignment."))
    return (row[0], access.task_pay_rate(at_claim=row[1], at_submission=row[2]),
            _SubmitReads(bool(row[3]), row[4], bool(row[5])))


@functools.cache
def _submit_stmt() -> Any:
    at_claim = aliased(ProjectRate)
    in_force = exists().where(
        AccountAction.trainer_id == Assignment.trainer_id,
        AccountAction.organisation_id == Project.organisation_id,  # the project joined
        AccountAction.in_force(bindparam("now")),
    )
    has_rules = exists().where(QualityRule.project_id == Assignment.project_id,
                               QualityRule.enabled.is_(True))
    return (
        _own_assignment_stmt(bindparam("assignment_id"), lock=True, narrow=True)
        .add_columns(at_claim, ProjectRate, in_force, TemplateVersion, has_rules)
        .options(_hot(at_claim, ProjectRate), _hot(ProjectRate), _hot(TemplateVersion))
        .outerjoin_from(Assignment, at_claim, at_claim.id == access.rate_in_force_id(
            Assignment.project_id, Assignment.claimed_at))
        .outerjoin_from(Assignment, ProjectRate, ProjectRate.id == access.rate_in_force_id(
            Assignment.project_id, bindparam("now")))
        .outerjoin_from(Assignment, TemplateVersion, and_(
            TemplateVersion.project_id == Assignment.project_id,
            TemplateVersion.number == templates.number_at(Assignment.project_id,
                                                          Assignment.claimed_at)))
    )


def own_working_assignment(
    session: Session, trainer: User, assignment_id: uuid.UUID
) -> Assignment:
    """The trainer's assignment if they may work on its answer now: a running lease whose
    task was revealed, or a revision asked for. ``NotFound`` for anyone else's; 409 as
    ``submit`` refuses otherwise (an upload slot asks this first)."""
    assignment = _own_assignment(session, trainer, assignment_id)
    if assignment.state is not AssignmentState.REVISION_REQUESTED:
        _require_live(assignment, clock.now())
        require_revealed(assignment)
    return assignment


def _seconds_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


# --- what staff see ------------------------------------------------------------------


@dataclass(frozen=True)
class TaskView:
    """A task as the project's staff see it (gold answer included), with how many of
    its assignments are in each state."""

    task: Task
    answers: dict[str, int]


def list_tasks(
    session: Session,
    staff: User,
    project_id: uuid.UUID,
    page: PageRequest,
    *,
    external_id: str | None = None,
    open_only: bool = False,
) -> Page[TaskView]:
    """The project's tasks, newest first; ``open_only``: those that still have slots."""
    access.get_project(session, staff, project_id)
    stmt = select(Task).where(Task.project_id == project_id)
    if external_id is not None:
        stmt = stmt.where(Task.external_id == external_id)
    if open_only:
        stmt = stmt.where(Task.open_slots > 0)
    found = paginate(session, stmt, page, created_at=Task.created_at, row_id=Task.id)
    counts: dict[uuid.UUID, dict[str, int]] = {t.id: {} for t in found.items}
    if counts:
        rows = session.execute(
            select(Assignment.task_id, Assignment.state, func.count())
            .where(Assignment.task_id.in_(counts))
            .group_by(Assignment.task_id, Assignment.state)
        )
        for task_id, state, count in rows:
            counts[task_id][state.value] = count
    return Page(
        [TaskView(task, {s.value: counts[task.id].get(s.value, 0) for s in AssignmentState})
         for task in found.items],
        found.next_cursor,
    )
