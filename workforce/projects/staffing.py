"""Staffing: the trainers' marketplace, applications, invitations, memberships, and the
managers' ranked list of candidates.

Rules worth knowing:

- Trainers see (and apply to) active projects they are eligible for
  (``eligibility``). A project they are or were a member of stays visible to them in
  any state but draft.
- Applications need an active project. Invitations and acceptances work while the
  project is active or paused (a pause is temporary: staffing up for the resume is
  fine); a suspended or closed project takes nobody new.
- Capacity is never exceeded: every path that makes a member active locks the
  project row first (``access.lock_project``), then counts the active members, so
  concurrent acceptances queue behind each other and the one that finds the project
  full gets 409 ``capacity-reached``. Eligibility is checked again at acceptance.
- At most one open (applied, invited or active) row per trainer and project; the
  database's partial unique index settles races (409 ``membership-open``).
- Leaving or removal ends the member's leases and closes their running work session
  at that moment; submitted work stays and is still reviewed and paid.
- A sensitive or graphic project takes only trainers who consented to each of its
  content categories (``wellbeing.consent``): checked when they apply and again when
  they become members (409 ``consent-required`` naming the missing categories). The
  marketplace lists it all the same, not eligible, with what is missing as ``unmet``.
- A former member who left because they withdrew consent is told so when they try
  to work on the project (``eligibility.not_staffed``), not merely that they are not
  staffed.
- Every change is audited (``object_type="project_member"``); the trainer is notified
  of what others decide (accepted, declined with the reason, invited, invitation
  withdrawn, removed with the reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from workforce import clock
from workforce.accounts import audit, verification
from workforce.accounts.models import Organisation, Role, User
from workforce.assessments.models import Qualification, TrainerQualification
from workforce.errors import Conflict, IllegalTransition, NotFound
from workforce.i18n import _
from workforce.notifications.services import tell
from workforce.pagination import Page, PageRequest, paginate, paginate_sorted
from workforce.projects import access, budgets, declared_use, eligibility, lifecycle, winddown
from workforce.projects.eligibility import Unmet
from workforce.projects.models import (
    OPEN_MEMBERSHIP_STATES,
    Assignment,
    AssignmentState,
    EntryEndReason,
    MembershipOrigin,
    MembershipState,
    Project,
    ProjectMember,
    ProjectRequirement,
    ProjectState,
    Sensitivity,
    WorkPreferences,
)
from workforce.projects.services import ProjectView, count_active_members, views_of
from workforce.results import restrictions
from workforce.standing import gate
from workforce.uploads.models import RecordingPolicy
from workforce.wellbeing import consent
from workforce.wellbeing import filters as wellbeing_filters

STAFFABLE = (ProjectState.ACTIVE, ProjectState.PAUSED)

# --- the marketplace -----------------------------------------------------------------


@dataclass(frozen=True)
class MarketEntry:
    """A project as a trainer sees it before (or while) working on it; other
    attributes read through to the project's view."""

    view: ProjectView
    organisation: Organisation
    membership: ProjectMember | None
    unmet: list[Unmet] = field(default_factory=list)
    # What a project that records voice records, for what, and for how long (issue 17).
    recording_policy: RecordingPolicy | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.view, name)

    @property
    def content_warning(self) -> dict[str, Any]:
        project = self.view.project
        return {"sensitivity": project.sensitivity,
                "content_categories": list(project.content_categories)}

    @property
    def review_policy(self) -> dict[str, int]:
        project = self.view.project
        return {"auto_approve_days": project.auto_approve_days,
                "review_sample_percent": project.review_sample_percent}

    @property
    def eligible(self) -> bool:
        return not self.unmet


def list_marketplace(session: Session, trainer: User, page: PageRequest) -> Page[MarketEntry]:
    """Active projects the trainer is qualified for, newest first; those whose content
    warning they have not consented to carry that as ``unmet``."""
    now = clock.now()
    stmt = (
        select(Project)
        .where(
            Project.in_state_at([ProjectState.ACTIVE], now),
            eligibility.holds_every_qualification(trainer.id, Project.id, now),
        )
        .options(selectinload(Project.requirements))
    )
    # The SQL pre-filter leaves out only locales.
    found = paginate(session, stmt, page, created_at=Project.created_at, row_id=Project.id,
                     keep=lambda batch: _eligible(session, trainer, batch, now))
    return Page(_entries(session, trainer, found.items), found.next_cursor)


def _eligible(
    session: Session, trainer: User, projects: Sequence[Project], now: datetime
) -> list[Project]:
    qualification_ids = {r.qualification_id for p in projects for r in p.requirements}
    records = eligibility.records_of(session, [trainer.id], qualification_ids)[trainer.id]
    languages = trainer.languages or []
    refused = declared_use.refused_uses(session, trainer.id)
    # A project with a use the trainer refuses is not offered at all (not merely marked).
    return [p for p in projects
            if not eligibility.unmet(p.requirements, records, languages, now)
            and not declared_use.refused_by(refused, p)]


def _entries(
    session: Session, trainer: User, projects: Sequence[Project],
    unmet: dict[uuid.UUID, list[Unmet]] | None = None,
) -> list[MarketEntry]:
    owners = {p.organisation_id for p in projects}
    organisations = {
        o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(owners)))
    } if owners else {}
    memberships = access.latest_memberships(session, trainer.id, [p.id for p in projects])
    unconsented = _consent_unmet(session, trainer, projects)
    restricted = restrictions.unmet(session, trainer.id, [p.id for p in projects],
                                    clock.now())
    policies = {policy.project_id: policy for policy in session.scalars(
        select(RecordingPolicy).where(RecordingPolicy.project_id.in_(
            [p.id for p in projects])))} if projects else {}
    unverified = [] if verification.is_verified(trainer) else [
        Unmet(None, verification.UNVERIFIED, verification.unverified_message(trainer))]
    return [
        MarketEntry(
            view=view, organisation=organisations[view.project.organisation_id],
            membership=memberships.get(view.project.id),
            unmet=unverified + (unmet or {}).get(view.project.id, [])
            + unconsented.get(view.project.id, []) + budgets.unmet(view.project)
            + restricted.get(view.project.id, []),
            recording_policy=policies.get(view.project.id),
        )
        for view in views_of(session, projects)
    ]


def _consent_unmet(
    session: Session, trainer: User, projects: Sequence[Project]
) -> dict[uuid.UUID, list[Unmet]]:
    """What the trainer must do before joining each project with a content warning:
    attest their age, and opt in to the categories they have not (``consent``)."""
    warned = [p for p in projects if p.sensitivity is not Sensitivity.NONE]
    if not warned:
        return {}
    granted = consent.consented(session, trainer.id)
    attested = consent.attestation_of(session, trainer.id) is not None
    found: dict[uuid.UUID, list[Unmet]] = {}
    for project in warned:
        lacking = consent.lacking_for_project(granted, project)
        if not lacking:
            continue
        reasons = [] if attested else [Unmet(
            None, "age-attestation",
            _("Attest that you are 18 or over at /api/v1/me/content-consent: the project carries "
              "a %(sensitivity)s content warning.", sensitivity=project.sensitivity.value),
        )]
        message = consent.consent_message(
            _("The project %(name)s", name=project.name), lacking, attested)
        found[project.id] = [*reasons, Unmet(None, "consent", message, tuple(lacking))]
    return found


def get_market_project(session: Session, trainer: User, project_id: uuid.UUID) -> MarketEntry:
    """One project the trainer may see: active and eligible, or one they are or were a
    member of (in any state but draft). Anything else is ``NotFound``."""
    project, unmet = eligibility.visible(session, trainer, project_id)
    return _entries(session, trainer, [project], {project.id: unmet})[0]


def apply(
    session: Session, trainer: User, project_id: uuid.UUID, *, message: str = ""
) -> ProjectMember:
    """Apply to an active project (audited). Capacity is checked at acceptance."""
    project, unmet = eligibility.visible(session, trainer, project_id)
    verification.require_verified(trainer)
    access.require_open_for_work(project, clock.now())
    if unmet:
        raise _not_eligible(unmet)
    gate.require_new_work_allowed(session, trainer.id, project.organisation_id)
    consent.require_for_project(session, trainer.id, project)
    _no_open_membership(session, project.id, trainer.id)
    member = ProjectMember(
        project_id=project.id, trainer_id=trainer.id, state=MembershipState.APPLIED,
        origin=MembershipOrigin.APPLICATION, message=message,
    )
    _insert(session, member)
    _audit(session, trainer, member, project, "applied", None, message=message)
    return member


def _not_eligible(unmet: Sequence[Unmet]) -> Conflict:
    return Conflict(
        _("The trainer does not meet the project's requirements: %(reasons)s",
          reasons=" ".join(u.message for u in unmet)),
        code="not-eligible", reasons=[u.as_dict() for u in unmet],
    )


def _open_membership(
    session: Session, project_id: uuid.UUID, trainer_id: uuid.UUID
) -> ProjectMember | None:
    return session.scalars(
        select(ProjectMember).where(
            ProjectMember.project_id == project_id, ProjectMember.trainer_id == trainer_id,
            ProjectMember.state.in_(OPEN_MEMBERSHIP_STATES),
        )
    ).one_or_none()


def _no_open_membership(session: Session, project_id: uuid.UUID, trainer_id: uuid.UUID) -> None:
    found = _open_membership(session, project_id, trainer_id)
    if found is not None:
        raise _membership_open(found)


def _membership_open(member: ProjectMember) -> Conflict:
    return Conflict(
        _("There is an open membership already (%(state)s).", state=member.state.value),
        code="membership-open", membership_id=str(member.id),
        membership_state=member.state.value,
    )


def _insert(session: Session, member: ProjectMember) -> None:
    """Add the row; two requests racing past the check meet at the unique index."""
    try:
        with session.begin_nested():
            session.add(member)
            session.flush()
    except IntegrityError as exc:
        found = _open_membership(session, member.project_id, member.trainer_id)
        if found is None:
            raise  # not the race this handles
        raise _membership_open(found) from exc


# --- a trainer's memberships ---------------------------------------------------------


def list_my_memberships(
    session: Session, trainer: User, page: PageRequest, *, state: MembershipState | None = None
) -> Page[ProjectMember]:
    stmt = (
        select(ProjectMember)
        .where(ProjectMember.trainer_id == trainer.id)
        .options(selectinload(ProjectMember.project))
    )
    if state is not None:
        stmt = stmt.where(ProjectMember.state == state)
    return paginate(
        session, stmt, page, created_at=ProjectMember.created_at, row_id=ProjectMember.id
    )


def _my_membership(session: Session, trainer: User, member_id: uuid.UUID) -> ProjectMember:
    member = session.get(ProjectMember, member_id)
    if member is None or member.trainer_id != trainer.id:
        raise NotFound(_("No such membership."))
    return member


def accept_invitation(session: Session, trainer: User, member_id: uuid.UUID) -> ProjectMember:
    """Accept an invitation: eligibility and capacity are checked again (audited)."""
    member = _my_membership(session, trainer, member_id)
    return _activate(session, trainer, member, expected=MembershipState.INVITED)


def decline_invitation(
    session: Session, trainer: User, member_id: uuid.UUID, *, reason: str | None = None
) -> ProjectMember:
    member = _my_membership(session, trainer, member_id)
    return _end(session, trainer, member, MembershipState.INVITED, MembershipState.DECLINED,
                reason=reason)


def withdraw_application(session: Session, trainer: User, member_id: uuid.UUID) -> ProjectMember:
    member = _my_membership(session, trainer, member_id)
    return _end(session, trainer, member, MembershipState.APPLIED, MembershipState.WITHDRAWN)


def leave(
    session: Session, trainer: User, member_id: uuid.UUID, *, reason: str | None = None
) -> ProjectMember:
    """Leave a project, at any time and without penalty: live leases end and a running
    session closes. Within ``declared_use.LEAVE_WINDOW`` of a change of the project's
    declared use, the audit records the departure as caused by it."""
    member = _my_membership(session, trainer, member_id)
    return _end(session, trainer, member, MembershipState.ACTIVE, MembershipState.LEFT,
                reason=reason)


def _left_for_declared_use(project: Project, target: MembershipState) -> dict[str, Any]:
    if target is MembershipState.LEFT and declared_use.left_in_window(project, clock.now()):
        return {"after_declared_use_change": True}
    return {}


# --- the managers' side --------------------------------------------------------------


def list_members(
    session: Session, staff: User, project_id: uuid.UUID, page: PageRequest, *,
    state: MembershipState | None = None,
) -> Page[ProjectMember]:
    access.get_project(session, staff, project_id)
    stmt = (
        select(ProjectMember)
        .where(ProjectMember.project_id == project_id)
        .options(selectinload(ProjectMember.trainer))
    )
    if state is not None:
        stmt = stmt.where(ProjectMember.state == state)
    return paginate(
        session, stmt, page, created_at=ProjectMember.created_at, row_id=ProjectMember.id
    )


def _project_membership(
    session: Session, staff: User, project_id: uuid.UUID, member_id: uuid.UUID
) -> ProjectMember:
    access.get_project(session, staff, project_id)
    member = session.get(ProjectMember, member_id)
    if member is None or member.project_id != project_id:
        raise NotFound(_("No such membership."))
    return member


def accept_application(
    session: Session, manager: User, project_id: uuid.UUID, member_id: uuid.UUID
) -> ProjectMember:
    """Accept an application: eligibility and capacity are checked again (audited; the
    trainer is told)."""
    member = _project_membership(session, manager, project_id, member_id)
    return _activate(session, manager, member, expected=MembershipState.APPLIED)


def decline_application(
    session: Session, manager: User, project_id: uuid.UUID, member_id: uuid.UUID, *,
    reason: str,
) -> ProjectMember:
    member = _project_membership(session, manager, project_id, member_id)
    return _end(session, manager, member, MembershipState.APPLIED, MembershipState.DECLINED,
                reason=reason)


def withdraw_invitation(
    session: Session, manager: User, project_id: uuid.UUID, member_id: uuid.UUID, *,
    reason: str | None = None,
) -> ProjectMember:
    member = _project_membership(session, manager, project_id, member_id)
    return _end(session, manager, member, MembershipState.INVITED, MembershipState.WITHDRAWN,
                reason=reason)


def remove_member(
    session: Session, manager: User, project_id: uuid.UUID, member_id: uuid.UUID, *,
    reason: str,
) -> ProjectMember:
    """Remove an active member with a reason the trainer sees; live leases end and a
    running session closes."""
    member = _project_membership(session, manager, project_id, member_id)
    return _end(session, manager, member, MembershipState.ACTIVE, MembershipState.REMOVED,
                reason=reason)


# --- changing a membership -----------------------------------------------------------


def _lock_member(session: Session, member_id: uuid.UUID) -> ProjectMember:
    """The row locked and re-read: a change committed while we waited is seen."""
    return session.scalars(
        select(ProjectMember)
        .where(ProjectMember.id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _expect(member: ProjectMember, expected: MembershipState, target: MembershipState) -> None:
    if member.state is not expected:
        raise IllegalTransition(
            _("Only a membership that is %(expected)s can become %(target)s; this one is "
              "%(state)s.", expected=expected.value, target=target.value,
              state=member.state.value),
            current_state=member.state.value,
        )


def require_staffable(project: Project) -> None:
    """Invitations and acceptances need an active or paused project (a suspension is in
    force from its moment)."""
    state = project.current_state
    if state not in STAFFABLE:
        raise Conflict(
            _("The project is %(state)s and takes no new members.", state=state.value),
            code=f"project-{state.value}", current_state=state.value,
        )


def _activate(
    session: Session, actor: User, member: ProjectMember, *, expected: MembershipState
) -> ProjectMember:
    # The project's lock first, always: it is what makes the capacity count exact.
    project = access.lock_project(session, member.project_id)
    assert project is not None
    member = _lock_member(session, member.id)
    _expect(member, expected, MembershipState.ACTIVE)
    require_staffable(project)
    trainer = session.get_one(User, member.trainer_id)
    verification.require_verified(trainer)
    unmet = eligibility.unmet_requirements(session, trainer, project)
    if unmet:
        raise _not_eligible(unmet)
    consent.require_for_project(session, trainer.id, project)
    gate.require_new_work_allowed(session, trainer.id, project.organisation_id)
    active = count_active_members(session, project.id)
    if active >= project.capacity:
        raise Conflict(
            _("The project is full: %(active)s of %(capacity)s places are taken.",
              active=active, capacity=project.capacity),
            code="capacity-reached", capacity=project.capacity, active_members=active,
        )
    before = member.state
    lifecycle.MEMBERSHIPS.move(member, MembershipState.ACTIVE)
    member.joined_at = clock.now()
    member.decided_by_id = actor.id
    session.flush()
    _audit(session, actor, member, project, "accepted", before)
    if actor.id != member.trainer_id:
        tell(session, member.trainer_id, "project.application_accepted",
             {"project": project.name}, data=_data(member))
    return member


# Verbs for the audit log, by target state.
_ENDINGS: dict[MembershipState, str] = {
    MembershipState.DECLINED: "declined",
    MembershipState.WITHDRAWN: "withdrawn",
    MembershipState.REMOVED: "removed",
    MembershipState.LEFT: "left",
}


def _end(
    session: Session, actor: User, member: ProjectMember, expected: MembershipState,
    target: MembershipState, *, reason: str | None = None,
) -> ProjectMember:
    member = _lock_member(session, member.id)
    _expect(member, expected, target)
    project = session.get_one(Project, member.project_id)
    now = clock.now()
    before = member.state
    lifecycle.MEMBERSHIPS.move(member, target)
    member.reason = reason or None
    member.ended_at = now
    if actor.id != member.trainer_id:
        member.decided_by_id = actor.id
    if before is MembershipState.ACTIVE:
        winddown.end_leases(session, project.id, at=now, trainer_id=member.trainer_id)
        winddown.close_sessions(
            session, project.id, at=now, reason=EntryEndReason.LEFT, trainer_id=member.trainer_id
        )
    session.flush()
    _audit(session, actor, member, project, _ENDINGS[target], before, reason=reason,
           **_left_for_declared_use(project, target))
    if actor.id != member.trainer_id:
        tell(session, member.trainer_id, f"project.{_kind(target)}",
             {"project": project.name, "reason": reason},
             data={**_data(member), "reason": reason})
    return member


def _kind(target: MembershipState) -> str:
    return {
        MembershipState.DECLINED: "application_declined",
        MembershipState.WITHDRAWN: "invitation_withdrawn",
        MembershipState.REMOVED: "member_removed",
    }[target]


def _data(member: ProjectMember) -> dict[str, Any]:
    return {"project_id": str(member.project_id), "membership_id": str(member.id),
            "state": member.state.value}


def _audit(
    session: Session, actor: User, member: ProjectMember, project: Project, verb: str,
    before: MembershipState | None, **after: Any,
) -> None:
    audit.record(
        session, actor, f"project_member.{verb}", object_type="project_member",
        object_id=member.id, organisation_id=project.organisation_id,
        before=None if before is None else {"state": before},
        after={"state": member.state, "project_id": project.id,
               "trainer_id": member.trainer_id, "origin": member.origin, **after},
    )


# --- invitations ---------------------------------------------------------------------


class InvitationOutcome(StrEnum):
    INVITED = "invited"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class InvitationResult:
    trainer_id: uuid.UUID
    outcome: InvitationOutcome
    membership_id: uuid.UUID | None = None
    # Why a trainer was skipped: not-a-trainer, membership-open or not-eligible.
    reason: str | None = None
    detail: str | None = None
    unmet: list[dict[str, str]] = field(default_factory=list)


def invite(
    session: Session, manager: User, project_id: uuid.UUID, *,
    trainer_ids: Sequence[uuid.UUID], message: str = "",
) -> list[InvitationResult]:
    """Invite each eligible trainer, answering for each (invited, or skipped and why).
    Each invitation is audited and the trainer told."""
    project = access.get_project(session, manager, project_id)
    require_staffable(project)
    ids = list(dict.fromkeys(trainer_ids))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
    records = eligibility.records_of(
        session, ids, [r.qualification_id for r in project.requirements]
    )
    now = clock.now()
    return [
        _invite_one(session, manager, project, users.get(trainer_id), trainer_id,
                    records.get(trainer_id, {}), message, now)
        for trainer_id in ids
    ]


def _invite_one(
    session: Session, manager: User, project: Project, user: User | None,
    trainer_id: uuid.UUID, records: dict[uuid.UUID, TrainerQualification], message: str,
    now: datetime,
) -> InvitationResult:
    def skipped(reason: str, detail: str, **more: Any) -> InvitationResult:
        return InvitationResult(trainer_id, InvitationOutcome.SKIPPED, reason=reason,
                                detail=detail, **more)

    if user is None or user.role is not Role.TRAINER or not user.is_active:
        return skipped("not-a-trainer", "Not an active trainer.")
    if not verification.is_verified(user):
        return skipped(verification.UNVERIFIED, "The trainer has not verified their e-mail "
                       "address yet.")
    unmet = eligibility.unmet(project.requirements, records, user.languages or [], now)
    unmet += eligibility.refused_use(declared_use.refused_uses(session, user.id), project)
    if unmet:
        return skipped("not-eligible", " ".join(u.message for u in unmet),
                       unmet=[u.as_dict() for u in unmet])
    member = ProjectMember(
        project_id=project.id, trainer_id=user.id, state=MembershipState.INVITED,
        origin=MembershipOrigin.INVITATION, message=message, decided_by_id=manager.id,
    )
    try:
        _no_open_membership(session, project.id, user.id)
        _insert(session, member)
    except Conflict as exc:
        return skipped("membership-open", exc.detail,
                       membership_id=uuid.UUID(exc.extra["membership_id"]))
    _audit(session, manager, member, project, "invited", None, message=message)
    tell(session, user.id, "project.invited", {"project": project.name, "message": message},
         data=_data(member))
    return InvitationResult(trainer_id, InvitationOutcome.INVITED, membership_id=member.id)


# --- candidates ----------------------------------------------------------------------

# Weights of the rank score; each component is in [0, 1].
QUALIFICATION_WEIGHT = Decimal("0.5")
APPROVAL_WEIGHT = Decimal("0.3")
LOCALE_WEIGHT = Decimal("0.2")
NEUTRAL = Decimal("0.5")


@dataclass(frozen=True)
class Candidate:
    """An eligible trainer with the components of their rank.

    ``rank_score = 0.5 * Q + 0.3 * A + 0.2 * L`` where
    Q is the mean score of the required qualifications / 100 (0.5 when none has a score),
    A is the approval rate smoothed with one approval and one rejection,
    ``(approved + 1) / (approved + rejected + 2)`` (0.5 with no reviewed work, so that
    one lucky approval does not outrank a long good record), and
    L is the share of the project's locales (requirements' locales, else their
    qualifications' locales) the trainer speaks (0.5 when the project names none).
    Ties go to more approved work, then to the earlier sign-up.
    """

    trainer: User
    qualification_score: Decimal | None
    approved: int
    rejected: int
    locale_match: Decimal | None
    rank_score: Decimal
    rank: int = 0

    @property
    def approval_rate(self) -> Decimal | None:
        reviewed = self.approved + self.rejected
        if not reviewed:
            return None
        return (Decimal(self.approved) / Decimal(reviewed)).quantize(Decimal("0.0001"))


def candidates(
    session: Session, manager: User, project_id: uuid.UUID, page: PageRequest
) -> Page[Candidate]:
    """Eligible, active trainers without an open membership, best first (ranked in Python,
    so each page ranks the whole pool)."""
    project = access.get_project(session, manager, project_id)
    now = clock.now()
    open_row = select(ProjectMember.id).where(
        ProjectMember.project_id == project.id, ProjectMember.trainer_id == User.id,
        ProjectMember.state.in_(OPEN_MEMBERSHIP_STATES),
    )
    pool = select(User).where(
        User.role == Role.TRAINER, User.is_active.is_(True), ~exists(open_row),
        eligibility.holds_every_qualification(User.id, project.id, now),
    )
    trainers = list(session.scalars(pool))
    pool_ids = pool.with_only_columns(User.id)
    requirements = list(project.requirements)
    records = eligibility.records_of(
        session, pool_ids, [r.qualification_id for r in requirements]
    )
    reviews = _review_counts(session, manager.organisation_id, pool_ids)
    refusals = dict(session.execute(
        select(WorkPreferences.trainer_id, WorkPreferences.refused_uses)
        .where(WorkPreferences.trainer_id.in_(pool_ids))
    ).all())
    locales = _locales(session, project)
    ranked = []
    for trainer in trainers:
        mine = records.get(trainer.id, {})
        if eligibility.unmet(requirements, mine, trainer.languages or [], now):
            continue
        if declared_use.refused_by(refusals.get(trainer.id, ()), project):
            continue  # not offered: the trainer will not work on a use it declares
        approved, rejected = reviews.get(trainer.id, (0, 0))
        ranked.append(_candidate(trainer, requirements, mine, approved, rejected, locales))
    ranked.sort(key=_best_first)
    return paginate_sorted(
        [replace(c, rank=i) for i, c in enumerate(ranked, start=1)], page, key=_best_first,
        kinds=(Decimal, int, datetime, uuid.UUID),
    )


def _best_first(c: Candidate) -> tuple[Decimal, int, datetime, uuid.UUID]:
    return -c.rank_score, -c.approved, c.trainer.created_at, c.trainer.id


def _review_counts(
    session: Session, organisation_id: uuid.UUID | None, trainer_ids: Select[Any]
) -> dict[uuid.UUID, tuple[int, int]]:
    """Approved and rejected assignments per trainer on the organisation's projects."""
    approved = func.sum(case((Assignment.state == AssignmentState.APPROVED, 1), else_=0))
    rejected = func.sum(case((Assignment.state == AssignmentState.REJECTED, 1), else_=0))
    rows = session.execute(
        select(Assignment.trainer_id, approved, rejected)
        .join(Project, Project.id == Assignment.project_id)
        .where(
            Project.organisation_id == organisation_id,
            wellbeing_filters.rejection_counts(),  # flagged work never counts against
            Assignment.trainer_id.in_(trainer_ids),
            Assignment.state.in_((AssignmentState.APPROVED, AssignmentState.REJECTED)),
        )
        .group_by(Assignment.trainer_id)
    )
    return {trainer_id: (int(a or 0), int(r or 0)) for trainer_id, a, r in rows}


def _locales(session: Session, project: Project) -> list[str]:
    """The locales the project asks for: each requirement's, else its qualification's."""
    ids = [r.qualification_id for r in project.requirements if not r.locale]
    fallback = dict(session.execute(
        select(Qualification.id, Qualification.locale).where(Qualification.id.in_(ids))
    ).all()) if ids else {}
    found = [r.locale or fallback.get(r.qualification_id) for r in project.requirements]
    return list(dict.fromkeys(locale for locale in found if locale))


def _candidate(
    trainer: User, requirements: Sequence[ProjectRequirement],
    records: dict[uuid.UUID, TrainerQualification],
    approved: int, rejected: int, locales: Sequence[str],
) -> Candidate:
    scores = [
        records[r.qualification_id].score_percent for r in requirements
        if r.qualification_id in records and records[r.qualification_id].score_percent is not None
    ]
    quality = (
        (sum(scores, Decimal(0)) / len(scores)).quantize(Decimal("0.01")) if scores else None
    )
    locale_match = None
    if locales:
        spoken = sum(1 for locale in locales if eligibility.speaks(trainer.languages or [], locale))
        locale_match = (Decimal(spoken) / Decimal(len(locales))).quantize(Decimal("0.0001"))
    q = quality / 100 if quality is not None else NEUTRAL
    a = Decimal(approved + 1) / Decimal(approved + rejected + 2)
    loc = locale_match if locale_match is not None else NEUTRAL
    score = QUALIFICATION_WEIGHT * q + APPROVAL_WEIGHT * a + LOCALE_WEIGHT * loc
    return Candidate(
        trainer=trainer, qualification_score=quality, approved=approved, rejected=rejected,
        locale_match=locale_match, rank_score=score.quantize(Decimal("0.0001")),
    )
