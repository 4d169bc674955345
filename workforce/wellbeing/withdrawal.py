"""Withdrawing consent to a content category, and everything it ends at once.

The trainer leaves every project that needs the category (through
``staffing.leave``, as if they had left themselves: their live leases there end and a
running session closes, paid to that moment); open applications to such projects are
withdrawn and invitations declined; leases on single tasks carrying the category on
other projects are released. Work already submitted stays: it is still reviewed or
auto-approved, and paid. Nothing about the trainer's standing changes: a membership
that ends as "left" counts against nothing (approval rate, quality score and
eligibility are computed from reviewed work and qualifications only).

The trainer's row is locked first, as every claim and session start does, so a claim
running at the same moment either finished before (and its lease is released here) or
sees the consent gone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.errors import NotFound
from workforce.i18n import _
from workforce.notifications.services import tell
from workforce.projects import access, staffing, tasks
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    ContentCategory,
    MembershipState,
    Project,
    ProjectMember,
    Sensitivity,
)
from workforce.wellbeing import consent
from workforce.wellbeing.exposure import effective_categories, effective_sensitivity
from workforce.wellbeing.models import ContentConsent


@dataclass
class Withdrawal:
    """What a withdrawal ended."""

    category: ContentCategory
    left_projects: list[Project] = field(default_factory=list)
    applications_withdrawn: list[uuid.UUID] = field(default_factory=list)
    invitations_declined: list[uuid.UUID] = field(default_factory=list)
    leases_released: list[uuid.UUID] = field(default_factory=list)


def update_consent(
    session: Session, trainer: User, *, confirm_age: bool, categories: list[ContentCategory]
) -> list[Withdrawal]:
    """Make ``categories`` the trainer's consents: attest their age if they say so, opt
    in to the new ones (409 ``age-attestation-required`` without an attestation, and
    nothing is written), and withdraw the ones left out, with what that ends."""
    if confirm_age:
        consent.attest_age(session, trainer)
    consent.give(session, trainer, categories)
    keep = {ContentCategory(c) for c in categories}
    return [withdraw(session, trainer, live.category)
            for live in consent.live_consents(session, trainer.id)
            if live.category not in keep]


def withdraw(session: Session, trainer: User, category: ContentCategory) -> Withdrawal:
    """Withdraw consent to ``category`` now (404 when there is none to withdraw), and
    end what needs it. Audited; the trainer is told what ended."""
    access.lock_trainer(session, trainer.id)
    live = session.scalars(
        select(ContentConsent)
        .where(ContentConsent.trainer_id == trainer.id, ContentConsent.category == category,
               ContentConsent.withdrawn_at.is_(None))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if live is None:
        raise NotFound(_("You have not consented to %(category)s content.",
                         category=category.value))
    now = clock.now()
    live.withdrawn_at = now
    session.flush()
    reason = f"Consent to {category.value} content withdrawn."
    done = Withdrawal(category)
    for member in _open_memberships(session, trainer.id, category):
        _end_membership(session, trainer, member, reason, done)
    _release_task_leases(session, trainer, category, done)
    audit.record(
        session, trainer, "wellbeing.consent_withdrawn", object_type="user",
        object_id=trainer.id, organisation_id=None,
        before={"category": category.value, "given_at": live.given_at.isoformat()},
        after={"category": category.value, "withdrawn_at": now.isoformat(),
               "left_projects": [str(p.id) for p in done.left_projects],
               "applications_withdrawn": [str(i) for i in done.applications_withdrawn],
               "invitations_declined": [str(i) for i in done.invitations_declined],
               "leases_released": [str(i) for i in done.leases_released]},
    )
    _tell(session, trainer, done)
    return done


def _open_memberships(
    session: Session, trainer_id: uuid.UUID, category: ContentCategory
) -> list[ProjectMember]:
    """The trainer's open memberships (applied, invited, active) on projects whose
    warning names the category."""
    rows = session.scalars(
        select(ProjectMember)
        .join(Project, Project.id == ProjectMember.project_id)
        .where(
            ProjectMember.trainer_id == trainer_id,
            ProjectMember.state.in_((MembershipState.APPLIED, MembershipState.INVITED,
                                     MembershipState.ACTIVE)),
            Project.sensitivity != Sensitivity.NONE,
        )
        .order_by(ProjectMember.created_at, ProjectMember.id)
    ).all()
    return [m for m in rows if category.value in (m.project.content_categories or [])]


def _end_membership(session: Session, trainer: User, member: ProjectMember, reason: str,
                    done: Withdrawal) -> None:
    # Staffing locks and re-reads the row: act on the state it has by then (an
    # invitation accepted a moment ago is left, not declined).
    current = session.scalars(
        select(ProjectMember.state).where(ProjectMember.id == member.id).with_for_update()
    ).one()
    if current is MembershipState.ACTIVE:
        staffing.leave(session, trainer, member.id, reason=reason)
        done.left_projects.append(member.project)
    elif current is MembershipState.APPLIED:
        staffing.withdraw_application(session, trainer, member.id)
        done.applications_withdrawn.append(member.id)
    elif current is MembershipState.INVITED:
        staffing.decline_invitation(session, trainer, member.id, reason=reason)
        done.invitations_declined.append(member.id)


def _release_task_leases(session: Session, trainer: User, category: ContentCategory,
                         done: Withdrawal) -> None:
    """Live leases on tasks whose own warning names the category (projects that need
    it were left above, and their leases ended with the membership)."""
    leases = session.scalars(
        select(Assignment).where(Assignment.trainer_id == trainer.id,
                                 Assignment.state == AssignmentState.LEASED)
    ).all()
    for lease in leases:
        level = effective_sensitivity(lease.task, lease.project)
        if level is not Sensitivity.NONE and category.value in effective_categories(
                lease.task, lease.project):
            tasks.release_lease(session, trainer, lease.id)
            done.leases_released.append(lease.id)


def _tell(session: Session, trainer: User, done: Withdrawal) -> None:
    left = ", ".join(p.name for p in done.left_projects)
    counts = {"applications": len(done.applications_withdrawn),
              "invitations": len(done.invitations_declined),
              "tasks": len(done.leases_released)}
    tell(
        session, trainer.id, "wellbeing.consent_withdrawn",
        {"category": done.category.value, "left": left, **counts,
         "nothing": not left and not any(counts.values())},
        {"category": done.category.value,
         "left_projects": [str(p.id) for p in done.left_projects],
         "leases_released": [str(i) for i in done.leases_released]},
    )
