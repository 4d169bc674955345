"""Projects as their organisation's managers run them: creation, settings, required
qualifications, versioned guidelines and pay rates, and activation (draft -> active;
the other moves belong to ``project_states``).

Rules worth knowing:

- The pay model and currency are fixed once the project leaves draft. Changing either
  on a draft drops the draft's rate versions (no work was ever paid at them) and the
  project needs a new rate before it can be activated.
- Sensitivity may only be raised once the project has left draft (a higher level, or
  more content categories): lowering it would silently take away the warnings and
  exposure protections trainers joined under. A raise is announced to the members.
- No rate, old or new, may sit below the organisation's wage floor for the currency:
  an hourly rate is compared with it directly; a per-task rate through its estimated
  hourly rate (rate x 3600 / estimated seconds per task).
- A closed project takes no more changes.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import MANAGERS, User
from workforce.assessments.models import Qualification
from workforce.billing import floors
from workforce.errors import Conflict, IllegalTransition, Invalid, NotFound
from workforce.i18n import _
from workforce.money import Money
from workforce.notifications.services import tell
from workforce.notifications.texts import moment, money
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access, declared_use, events, lifecycle
from workforce.projects.models import (
    ContentCategory,
    GuidelineVersion,
    MembershipState,
    PayModel,
    Project,
    ProjectMember,
    ProjectRate,
    ProjectRequirement,
    ProjectState,
    Sensitivity,
)

SENSITIVITY_LEVEL = {Sensitivity.NONE: 0, Sensitivity.SENSITIVE: 1, Sensitivity.GRAPHIC: 2}
HOURLY_ONLY = ("daily_cap_minutes", "weekly_cap_minutes", "idle_timeout_seconds")
FIXED_ONCE_ACTIVE = ("pay_model", "currency")
# Settings a PATCH may change; the audit log keeps their before and after.
SETTINGS = (
    "name", "description", "capacity", "sensitivity", "content_categories",
    "auto_approve_days", "review_sample_percent", "lease_seconds", "pay_model", "currency",
    "estimated_task_seconds", *HOURLY_ONLY,
)


# --- what a project looks like to its readers ----------------------------------------


@dataclass(frozen=True)
class ProjectView:
    """A project with what its readers need beside its columns; other attributes read
    through to the project."""

    project: Project
    current_rate: ProjectRate | None
    upcoming_rate: ProjectRate | None
    guidelines: GuidelineVersion | None
    active_members: int
    qualifications: Mapping[uuid.UUID, Qualification] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.project, name)

    @property
    def requirements(self) -> list[RequirementView]:
        return [
            RequirementView(requirement, self.qualifications.get(requirement.qualification_id))
            for requirement in self.project.requirements
        ]

    @property
    def estimated_hourly_rate(self) -> Money | None:
        return estimated_hourly(self.project, self.current_rate)

    @property
    def declared_use(self) -> declared_use.DeclaredUse | None:
        return declared_use.DeclaredUse.of(self.project)

    @property
    def places_left(self) -> int:
        return max(0, self.project.capacity - self.active_members)


@dataclass(frozen=True)
class RequirementView:
    requirement: ProjectRequirement
    qualification: Qualification | None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.requirement, name)


def estimated_hourly(project: Project, rate: ProjectRate | None) -> Money | None:
    """A per-task rate as pay per hour at the estimated time per task (rounded once)."""
    if rate is None or project.pay_model is not PayModel.PER_TASK:
        return None
    if not project.estimated_task_seconds:
        return None
    return per_task_as_hourly(rate.amount, rate.currency, project.estimated_task_seconds)


def per_task_as_hourly(amount: int, currency: str, seconds: int) -> Money:
    hourly = Money(amount, currency).to_decimal() * Decimal(3600) / Decimal(seconds)
    return Money.from_decimal(hourly, currency)


def views_of(
    session: Session, projects: Sequence[Project], *, now: datetime | None = None
) -> list[ProjectView]:
    """Views of many projects in a few queries (one per kind of fact, not per project)."""
    now = now or clock.now()
    ids = [p.id for p in projects]
    if not ids:
        return []
    rates: dict[uuid.UUID, list[ProjectRate]] = defaultdict(list)
    for rate in session.scalars(
        select(ProjectRate).where(ProjectRate.project_id.in_(ids))
        .order_by(ProjectRate.effective_from, ProjectRate.number)
    ):
        rates[rate.project_id].append(rate)
    guidelines = access.latest_guidelines(session, ids)
    counts = active_member_counts(session, ids)
    qualification_ids = {r.qualification_id for p in projects for r in p.requirements}
    qualifications = {
        q.id: q for q in session.scalars(
            select(Qualification).where(Qualification.id.in_(qualification_ids))
        )
    } if qualification_ids else {}
    views = []
    for project in projects:
        current, upcoming = _current_and_upcoming(rates[project.id], now)
        views.append(ProjectView(
            project=project, current_rate=current, upcoming_rate=upcoming,
            guidelines=guidelines.get(project.id), active_members=counts.get(project.id, 0),
            qualifications=qualifications,
        ))
    return views


def view_of(session: Session, project: Project) -> ProjectView:
    return views_of(session, [project])[0]


def _current_and_upcoming(
    rates: Sequence[ProjectRate], now: datetime
) -> tuple[ProjectRate | None, ProjectRate | None]:
    """The rate in force (as ``access.rate_at`` picks it) and the next one scheduled.
    ``rates`` come ordered by (effective_from, number)."""
    in_force = [r for r in rates if clock.as_utc(r.effective_from) <= now]
    later = [r for r in rates if clock.as_utc(r.effective_from) > now]
    return (in_force[-1] if in_force else None), (later[0] if later else None)


def active_member_counts(
    session: Session, project_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = session.execute(
        select(ProjectMember.project_id, func.count())
        .where(
            ProjectMember.project_id.in_(list(project_ids)),
            ProjectMember.state == MembershipState.ACTIVE,
        )
        .group_by(ProjectMember.project_id)
    )
    return {project_id: count for project_id, count in rows}


def count_active_members(session: Session, project_id: uuid.UUID) -> int:
    return active_member_counts(session, [project_id]).get(project_id, 0)


def active_member_ids(session: Session, project_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(
        select(ProjectMember.trainer_id).where(
            ProjectMember.project_id == project_id,
            ProjectMember.state == MembershipState.ACTIVE,
        )
    ))


def announce(
    session: Session, project: Project, kind: str, params: dict[str, Any],
    data: dict[str, Any] | None = None,
) -> int:
    """Tell every active member of the project a notice of the registry
    (``notifications.texts``), its ``project`` parameter the project's name; returns how
    many were told."""
    members = active_member_ids(session, project.id)
    for trainer_id in members:
        tell(session, trainer_id, kind, {"project": project.name, **params},
             data={"project_id": str(project.id), **(data or {})})
    return len(members)


def manager_ids(session: Session, organisation_id: uuid.UUID) -> list[uuid.UUID]:
    """The organisation's active vendor managers and admins, who are told of what needs
    a manager (an API key's account is never active)."""
    return list(session.scalars(select(User.id).where(
        User.organisation_id == organisation_id, User.role.in_(sorted(MANAGERS)),
        User.is_active.is_(True))))


def tell_members(
    session: Session, project: Project, kind: str, params: dict[str, Any],
    data: dict[str, Any],
) -> None:
    """Tell every active member a notice of the registry about the project; a project may
    have thousands, so the outbox job sends the e-mails."""
    for trainer_id in active_member_ids(session, project.id):
        tell(session, trainer_id, kind, {"project": project.name, **params},
             {"project_id": str(project.id), **data}, deliver_now=False)


# --- reading -------------------------------------------------------------------------


def get_project_view(session: Session, staff: User, project_id: uuid.UUID) -> ProjectView:
    return view_of(session, access.get_project(session, staff, project_id))


def list_projects(
    session: Session, staff: User, page: PageRequest, *, state: ProjectState | None = None
) -> Page[ProjectView]:
    """The organisation's projects, newest first."""
    stmt = select(Project).where(Project.organisation_id == staff.organisation_id)
    if state is not None:
        stmt = stmt.where(Project.in_state_at([state], clock.now()))
    found = paginate(session, stmt, page, created_at=Project.created_at, row_id=Project.id)
    return Page(views_of(session, found.items), found.next_cursor)


# --- creating ------------------------------------------------------------------------


@dataclass(frozen=True)
class RequirementInput:
    qualification_id: uuid.UUID
    min_score_percent: int = 0
    locale: str | None = None


@dataclass
class _Errors:
    """Field errors gathered so that one answer names every failing field."""

    fields: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)

    def raise_any(self, detail: str | None = None) -> None:
        if self.fields:
            detail = detail or _("The project has invalid fields.")
            raise Invalid(
                _("%(detail)s Check: %(fields)s.",
                  detail=detail, fields=", ".join(sorted(self.fields))), errors=self.fields
            )


def create_project(
    session: Session,
    manager: User,
    *,
    name: str,
    capacity: int,
    pay_model: PayModel,
    currency: str,
    description: str = "",
    sensitivity: Sensitivity = Sensitivity.NONE,
    content_categories: Sequence[ContentCategory] = (),
    auto_approve_days: int = 7,
    review_sample_percent: int = 100,
    lease_seconds: int = 3600,
    estimated_task_seconds: int | None = None,
    daily_cap_minutes: int | None = None,
    weekly_cap_minutes: int | None = None,
    idle_timeout_seconds: int | None = None,
    rate: int | None = None,
    guidelines: str | None = None,
    requirements: Sequence[RequirementInput] = (),
) -> Project:
    """A draft project, with its first rate and guidelines when given (audited)."""
    errors = _Errors()
    categories = _categories(content_categories)
    _check_content(errors, sensitivity, categories)
    values: dict[str, Any] = {
        "pay_model": pay_model, "estimated_task_seconds": estimated_task_seconds,
        "daily_cap_minutes": daily_cap_minutes, "weekly_cap_minutes": weekly_cap_minutes,
        "idle_timeout_seconds": idle_timeout_seconds,
    }
    given = {name for name, value in values.items() if value is not None}
    _check_pay_fields(errors, values, given)
    if rate is not None and rate <= 0:
        errors.add("rate", "Must be a positive number of minor units.")
    _check_requirements(session, manager, errors, requirements)
    errors.raise_any()

    project = Project(
        organisation_id=manager.organisation_id, created_by_id=manager.id,
        state=ProjectState.DRAFT, name=name, description=description, capacity=capacity,
        sensitivity=sensitivity, content_categories=categories,
        auto_approve_days=auto_approve_days, review_sample_percent=review_sample_percent,
        lease_seconds=lease_seconds, pay_model=pay_model, currency=currency,
        estimated_task_seconds=estimated_task_seconds,
        daily_cap_minutes=daily_cap_minutes, weekly_cap_minutes=weekly_cap_minutes,
    )
    if idle_timeout_seconds is not None:
        project.idle_timeout_seconds = idle_timeout_seconds
    if rate is not None:
        check_wage_floor(session, PayTerms.of(project), rate)
    session.add(project)
    session.flush()
    _add_requirements(session, project, requirements)
    now = clock.now()
    if rate is not None:
        session.add(ProjectRate(
            project_id=project.id, number=1, amount=rate, currency=currency,
            effective_from=clock.whole_seconds(now), reason="Initial rate.",
            created_by_id=manager.id,
            created_at=now,
        ))
    if guidelines:
        session.add(GuidelineVersion(
            project_id=project.id, number=1, body=guidelines, change_note="First version.",
            created_by_id=manager.id, created_at=now,
        ))
    session.flush()
    audit.record(
        session, manager, "project.created", object_type="project", object_id=project.id,
        organisation_id=project.organisation_id, before=None,
        after={**_settings(project), "state": project.state, "rate": rate},
    )
    return project


def _categories(categories: Iterable[ContentCategory]) -> list[str]:
    """Each category once, in a stable order."""
    return sorted({ContentCategory(c).value for c in categories})


def _check_content(errors: _Errors, sensitivity: Sensitivity, categories: list[str]) -> None:
    if sensitivity is Sensitivity.NONE and categories:
        errors.add("content_categories", "Must be empty when the sensitivity is none.")
    if sensitivity is not Sensitivity.NONE and not categories:
        errors.add("content_categories",
                   f"Name at least one category for {sensitivity.value} content.")


def _check_pay_fields(errors: _Errors, values: dict[str, Any], given: set[str]) -> None:
    """The fields each pay model needs or refuses; ``given`` are the ones the caller
    sent (a field left over from the other pay model is cleared, not refused)."""
    pay_model = values["pay_model"]
    if pay_model is PayModel.PER_TASK:
        if values.get("estimated_task_seconds") is None:
            errors.add("estimated_task_seconds", "Required for per-task pay.")
        for name in HOURLY_ONLY:
            if name in given and values.get(name) is not None:
                errors.add(name, "Only for hourly projects.")
        return
    if "estimated_task_seconds" in given and values.get("estimated_task_seconds") is not None:
        errors.add("estimated_task_seconds", "Only for per-task projects.")
    daily, weekly = values.get("daily_cap_minutes"), values.get("weekly_cap_minutes")
    if daily is not None and weekly is not None and weekly < daily:
        errors.add("weekly_cap_minutes", "Must be at least the daily cap.")


def _check_requirements(
    session: Session, manager: User, errors: _Errors, requirements: Sequence[RequirementInput]
) -> None:
    seen: set[uuid.UUID] = set()
    for index, requirement in enumerate(requirements):
        where = f"requirements.{index}"
        qualification = session.get(Qualification, requirement.qualification_id)
        if qualification is None or qualification.organisation_id != manager.organisation_id:
            errors.add(f"{where}.qualification_id", "No such qualification.")
        elif requirement.qualification_id in seen:
            errors.add(f"{where}.qualification_id", "Listed twice.")
        seen.add(requirement.qualification_id)
        if not 0 <= requirement.min_score_percent <= 100:
            errors.add(f"{where}.min_score_percent", "Must be between 0 and 100.")


def _add_requirements(
    session: Session, project: Project, requirements: Sequence[RequirementInput]
) -> None:
    for requirement in requirements:
        session.add(ProjectRequirement(
            project_id=project.id, qualification_id=requirement.qualification_id,
            min_score_percent=requirement.min_score_percent, locale=requirement.locale,
        ))
    session.flush()
    session.refresh(project, ["requirements"])


def _settings(project: Project) -> dict[str, Any]:
    return {name: getattr(project, name) for name in SETTINGS}


# --- the wage floor ------------------------------------------------------------------


@dataclass(frozen=True)
class PayTerms:
    """What decides whether an amount meets the wage floor."""

    organisation_id: uuid.UUID
    pay_model: PayModel
    currency: str
    estimated_task_seconds: int | None

    @classmethod
    def of(cls, project: Project, **changes: Any) -> PayTerms:
        values = {
            "organisation_id": project.organisation_id, "pay_model": project.pay_model,
            "currency": project.currency,
            "estimated_task_seconds": project.estimated_task_seconds,
        }
        return cls(**{**values, **{k: v for k, v in changes.items() if k in values}})


def check_wage_floor(
    session: Session, terms: PayTerms, amount: int, *, field_name: str = "rate"
) -> None:
    """Refuse (422, ``below-wage-floor``) a rate below the organisation's floor for the
    currency: directly for hourly pay, through the estimated hourly rate for per-task
    pay. Trainers of any country may take the work, so the currency's highest floor
    applies (``billing.floors``)."""
    floor = floors.binding_floor(session, terms.organisation_id, terms.currency)
    if floor is None:
        return
    hourly_floor = floor.hourly
    if terms.pay_model is PayModel.HOURLY:
        if amount < hourly_floor.amount:
            raise _below_floor(
                f"The hourly rate {Money(amount, terms.currency)} is below the "
                f"organisation's wage floor of {floor.label}.",
                field_name, hourly_floor.amount, floor,
            )
        return
    seconds = terms.estimated_task_seconds or 0
    # Exact in integers: amount * 3600 / seconds < floor  <=>  amount * 3600 < floor * seconds.
    if seconds and amount * 3600 < hourly_floor.amount * seconds:
        minimum = floors.minimum_for(floor, seconds)
        raise _below_floor(
            _("At an estimated %(seconds)s seconds a task, %(amount)s a task pays about "
              "%(hourly)s an hour, below the organisation's wage floor of %(floor)s.",
              seconds=seconds, amount=Money(amount, terms.currency),
              hourly=per_task_as_hourly(amount, terms.currency, seconds), floor=floor.label),
            field_name, minimum, floor,
        )


def _below_floor(detail: str, field_name: str, minimum: int, floor: floors.Floor) -> Invalid:
    hourly = floor.hourly
    return Invalid(
        detail, code="below-wage-floor",
        errors={field_name: [
            _("Below the wage floor of %(hourly)s an hour; at least %(minimum)s (%(money)s).",
              hourly=hourly, minimum=minimum, money=Money(minimum, hourly.currency))
        ]},
        minimum_amount=minimum, currency=hourly.currency, floor_hourly_amount=hourly.amount,
        floor_country=floor.country,
    )


# --- changing settings ---------------------------------------------------------------


def writable_project(session: Session, manager: User, project_id: uuid.UUID) -> Project:
    """The project, locked, unless it is closed (409)."""
    access.get_project(session, manager, project_id)
    project = access.lock_project(session, project_id)
    if project is None:
        raise NotFound(_("No such project."))
    if project.state is ProjectState.CLOSED:
        raise Conflict(_("The project is closed and takes no more changes."),
                       code="project-closed", current_state=project.state.value)
    return project


def update_project(
    session: Session, manager: User, project_id: uuid.UUID, **changes: Any
) -> Project:
    """Change settings (audited). See the module's rules for what is fixed when."""
    project = writable_project(session, manager, project_id)
    before = _settings(project)
    if "content_categories" in changes:
        changes["content_categories"] = _categories(changes["content_categories"])
    errors = _Errors()
    is_draft = project.state is ProjectState.DRAFT
    if not is_draft:
        for name in FIXED_ONCE_ACTIVE:
            if name in changes and changes[name] != before[name]:
                errors.add(name, "Cannot change once the project has been activated.")
    after = {**before, **changes}
    if after["pay_model"] is not before["pay_model"]:
        _clear_other_pay_model(after, set(changes))
    _check_pay_fields(errors, after, set(changes))
    _check_content(errors, after["sensitivity"], after["content_categories"])
    raised = _sensitivity_raised(errors, before, after, is_draft)
    if "capacity" in changes and changes["capacity"] < before["capacity"]:
        active = count_active_members(session, project.id)
        if changes["capacity"] < active:
            errors.add("capacity", f"The project has {active} active members; not below that.")
    errors.raise_any()
    if _floor_matters(before, after):
        _check_rates_against_floor(session, project, after)

    changed = {name: value for name, value in after.items() if value != before[name]}
    if not changed:
        return project
    for name, value in changed.items():
        setattr(project, name, value)
    dropped = []
    if is_draft and ({"pay_model", "currency"} & set(changed)):
        dropped = _drop_draft_rates(session, project)
    session.flush()
    audit.record(
        session, manager, "project.updated", object_type="project", object_id=project.id,
        organisation_id=project.organisation_id,
        before={name: before[name] for name in changed},
        after={**changed, **({"rates_dropped": dropped} if dropped else {})},
    )
    if raised and not is_draft:
        tell_members(
            session, project, "project.content_warning_raised",
            {"level": project.sensitivity.value,
             "categories": ", ".join(project.content_categories)},
            {"sensitivity": project.sensitivity.value,
             "content_categories": list(project.content_categories)},
        )
    return project


def _clear_other_pay_model(after: dict[str, Any], given: set[str]) -> None:
    """A draft moving to the other pay model drops the fields that do not apply."""
    if after["pay_model"] is PayModel.HOURLY and "estimated_task_seconds" not in given:
        after["estimated_task_seconds"] = None
    if after["pay_model"] is PayModel.PER_TASK:
        for name in ("daily_cap_minutes", "weekly_cap_minutes"):
            if name not in given:
                after[name] = None


def _sensitivity_raised(
    errors: _Errors, before: dict[str, Any], after: dict[str, Any], is_draft: bool
) -> bool:
    old_level = SENSITIVITY_LEVEL[before["sensitivity"]]
    new_level = SENSITIVITY_LEVEL[after["sensitivity"]]
    removed = set(before["content_categories"]) - set(after["content_categories"])
    if not is_draft:
        if new_level < old_level:
            errors.add("sensitivity", "May only be raised once the project has been activated.")
        if removed:
            errors.add("content_categories",
                       "Categories may only be added once the project has been activated.")
    added = set(after["content_categories"]) - set(before["content_categories"])
    return new_level > old_level or bool(added)


def _floor_matters(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return after["pay_model"] is PayModel.PER_TASK and (
        after["estimated_task_seconds"] != before["estimated_task_seconds"]
    )


def _check_rates_against_floor(
    session: Session, project: Project, after: dict[str, Any]
) -> None:
    """A longer estimated time per task lowers the estimated hourly rate: the rate in
    force and every scheduled one must still meet the floor."""
    terms = PayTerms.of(project, **after)
    now = clock.now()
    current = access.rate_at(session, project.id, now)
    amounts = [] if current is None else [current.amount]
    amounts += session.scalars(
        select(ProjectRate.amount).where(
            ProjectRate.project_id == project.id, ProjectRate.effective_from > now
        )
    ).all()
    for amount in amounts:
        check_wage_floor(session, terms, amount, field_name="estimated_task_seconds")


def _drop_draft_rates(session: Session, project: Project) -> list[dict[str, Any]]:
    """A draft's rates no longer fit its pay model or currency; nothing was paid at them.
    Returns what was dropped, for the audit log."""
    dropped = []
    for rate in session.scalars(select(ProjectRate).where(ProjectRate.project_id == project.id)):
        dropped.append({"number": rate.number, "amount": rate.amount, "currency": rate.currency})
        session.delete(rate)
    return dropped


def replace_requirements(
    session: Session, manager: User, project_id: uuid.UUID,
    requirements: Sequence[RequirementInput],
) -> Project:
    """Replace the required qualifications (audited). Members already staffed stay;
    the new list applies to applications, invitations and acceptances from now on."""
    project = writable_project(session, manager, project_id)
    errors = _Errors()
    _check_requirements(session, manager, errors, requirements)
    errors.raise_any(_("The requirements are invalid."))
    before = [_requirement_snapshot(r) for r in project.requirements]
    project.requirements.clear()
    # Deletes first: the new list may name the same qualifications (unique per project).
    session.flush()
    _add_requirements(session, project, requirements)
    audit.record(
        session, manager, "project.requirements_replaced", object_type="project",
        object_id=project.id, organisation_id=project.organisation_id,
        before={"requirements": before},
        after={"requirements": [_requirement_snapshot(r) for r in project.requirements]},
    )
    return project


def _requirement_snapshot(requirement: ProjectRequirement) -> dict[str, Any]:
    return {
        "qualification_id": str(requirement.qualification_id),
        "min_score_percent": requirement.min_score_percent, "locale": requirement.locale,
    }


# --- guidelines ----------------------------------------------------------------------


def add_guidelines(
    session: Session, manager: User, project_id: uuid.UUID, *, body: str, change_note: str = ""
) -> GuidelineVersion:
    """The next version of the guidelines (audited); on a project past draft every
    active member is told, with the version number."""
    project = writable_project(session, manager, project_id)
    current = access.current_guidelines(session, project.id)
    number = (current.number if current else 0) + 1
    version = GuidelineVersion(
        project_id=project.id, number=number, body=body, change_note=change_note,
        created_by_id=manager.id, created_at=clock.now(),
    )
    session.add(version)
    session.flush()
    audit.record(
        session, manager, "project.guidelines_changed", object_type="project",
        object_id=project.id, organisation_id=project.organisation_id,
        before={"version": current.number if current else None},
        after={"version": number, "change_note": change_note},
    )
    if project.state is not ProjectState.DRAFT:
        tell_members(
            session, project, "project.guidelines_changed",
            {"version": number, "change_note": change_note}, {"version": number},
        )
    return version


def list_guidelines(
    session: Session, staff: User, project_id: uuid.UUID, page: PageRequest
) -> Page[GuidelineVersion]:
    access.get_project(session, staff, project_id)
    stmt = select(GuidelineVersion).where(GuidelineVersion.project_id == project_id)
    return paginate(
        session, stmt, page, created_at=GuidelineVersion.created_at, row_id=GuidelineVersion.id
    )


# --- rates ---------------------------------------------------------------------------


def add_rate(
    session: Session, manager: User, project_id: uuid.UUID, *, amount: int, reason: str,
    effective_from: datetime | None = None,
) -> ProjectRate:
    """The next rate version, in force from ``effective_from`` (now by default; never
    in the past, so work already done keeps its rate). Audited with the amounts before
    and after; announced to active members."""
    project = writable_project(session, manager, project_id)
    now = clock.now()
    # To the whole second, as work times are: a session started in the rate's first
    # second is paid at it. A time in the current second is not in the past.
    effective = clock.whole_seconds(now if effective_from is None else effective_from)
    if effective < clock.whole_seconds(now):
        raise Invalid(_("A rate cannot start in the past."),
                      errors={"effective_from": [_("Must not be in the past.")]})
    if amount <= 0:
        raise Invalid(_("A rate must be positive."), errors={"amount": [_("Must be positive.")]})
    check_wage_floor(session, PayTerms.of(project), amount, field_name="amount")
    previous = access.rate_at(session, project.id, effective)
    number = (session.scalar(
        select(func.max(ProjectRate.number)).where(ProjectRate.project_id == project.id)
    ) or 0) + 1
    rate = ProjectRate(
        project_id=project.id, number=number, amount=amount, currency=project.currency,
        effective_from=effective, reason=reason, created_by_id=manager.id, created_at=now,
    )
    session.add(rate)
    session.flush()
    audit.record(
        session, manager, "project.rate_changed", object_type="project", object_id=project.id,
        organisation_id=project.organisation_id,
        before=None if previous is None else {
            "amount": previous.amount, "currency": previous.currency, "number": previous.number,
        },
        after={"amount": amount, "currency": rate.currency, "number": number,
               "effective_from": effective, "reason": reason},
    )
    if project.state is not ProjectState.DRAFT:
        _announce_rate(session, project, rate, previous)
    if effective <= now:
        clear_underpriced_if_met(session, project, rate, manager)
    return rate


def clear_underpriced_if_met(
    session: Session, project: Project, rate: ProjectRate | None, actor: audit.Actor
) -> bool:
    """Clear the fair-pay settlement's under-priced mark (``billing.fair_pay``) once the
    rate in force meets the suggested per-task rate (audited). Returns whether it did."""
    suggested = project.suggested_task_rate
    if project.underpriced_at is None or rate is None or suggested is None:
        return False
    if rate.amount < suggested:
        return False
    before = {"underpriced_at": project.underpriced_at, "suggested_task_rate": suggested,
              "measured_median_task_seconds": project.measured_median_task_seconds}
    project.underpriced_at = project.suggested_task_rate = None
    project.measured_median_task_seconds = None
    session.flush()
    audit.record(
        session, actor, "project.underpriced_cleared", object_type="project",
        object_id=project.id, organisation_id=project.organisation_id, before=before,
        after={"rate": rate.amount, "currency": rate.currency, "rate_number": rate.number},
    )
    return True


def _announce_rate(
    session: Session, project: Project, rate: ProjectRate, previous: ProjectRate | None
) -> None:
    new = Money(rate.amount, rate.currency)
    was = Money(previous.amount, previous.currency) if previous else None
    tell_members(session, project, "project.rate_changed", {
        "rate": money(new), "previous_rate": money(was),
        "hourly": project.pay_model is PayModel.HOURLY, "reason": rate.reason,
        "effective_from": moment(rate.effective_from),
    }, {"amount": rate.amount, "currency": rate.currency, "number": rate.number,
        "previous_amount": previous.amount if previous else None,
        "effective_from": rate.effective_from.isoformat()})


def list_rates(
    session: Session, staff: User, project_id: uuid.UUID, page: PageRequest
) -> Page[ProjectRate]:
    access.get_project(session, staff, project_id)
    stmt = select(ProjectRate).where(ProjectRate.project_id == project_id)
    return paginate(session, stmt, page, created_at=ProjectRate.created_at, row_id=ProjectRate.id)


# --- activation ----------------------------------------------------------------------


def activate_project(session: Session, manager: User, project_id: uuid.UUID) -> Project:
    """Draft -> active (audited). Needs a declared use, guidelines and a rate in force
    that meets the wage floor; an illegal move is a 409 naming the current state."""
    access.get_project(session, manager, project_id)
    project = access.lock_project(session, project_id)
    if project is None:
        raise NotFound(_("No such project."))
    before = project.state
    if before is not ProjectState.DRAFT:
        # Paused and suspended projects come back through a resume, not here.
        raise IllegalTransition(
            _("Only a draft is activated; the project is %(state)s.", state=before.value),
            current_state=before.value,
        )
    now = clock.now()
    rate = access.rate_at(session, project.id, now)
    missing = []
    if rate is None:
        missing.append("rate")
    if access.current_guidelines(session, project.id) is None:
        missing.append("guidelines")
    if project.client_kind is None:
        missing.append("declared_use")
    if missing:
        raise Conflict(
            _("The project needs %(missing)s before it can be activated.",
              missing=" and ".join(missing)),
            code="project-incomplete", missing=missing,
        )
    assert rate is not None
    check_wage_floor(session, PayTerms.of(project), rate.amount)
    lifecycle.PROJECTS.move(project, ProjectState.ACTIVE)
    project.activated_at = now
    events.project_state_changed(session, project, "activated", before)
    session.flush()
    audit.record(
        session, manager, "project.activated", object_type="project", object_id=project.id,
        organisation_id=project.organisation_id, before={"state": before},
        after={"state": project.state, "rate": rate.amount, "currency": rate.currency},
    )
    return project
