"""What every part of the projects package looks up: a project within the caller's
reach, its row lock, a trainer's memberships, and the rate in force at a moment."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, aliased

from workforce.accounts.models import User
from workforce.db import inline
from workforce.errors import Conflict, NotFound
from workforce.i18n import _
from workforce.projects.models import (
    GuidelineVersion,
    MembershipState,
    Project,
    ProjectMember,
    ProjectRate,
    ProjectState,
)


def get_project(session: Session, staff: User, project_id: uuid.UUID) -> Project:
    """A project of the staff member's organisation; anything else is ``NotFound``."""
    project = session.get(Project, project_id)
    if project is None or project.organisation_id != staff.organisation_id:
        raise NotFound(_("No such project."))
    return project


def lock_project(session: Session, project_id: uuid.UUID) -> Project | None:
    """The project, its row locked until the transaction ends (PostgreSQL; SQLite
    serialises writers), re-read so a change committed while we waited is seen.
    Staffing takes this lock before counting members against capacity.

    ``FOR NO KEY UPDATE``: rows that merely reference the project (claims, sessions)
    take ``FOR KEY SHARE`` on it, which this lock does not block."""
    return session.scalars(
        select(Project)
        .where(Project.id == project_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one_or_none()


def lock_trainer(session: Session, trainer_id: uuid.UUID) -> None:
    """Serialise what one trainer starts (claims, sessions, entries) and what ends it
    (a consent withdrawal): each locks the trainer's row first (PostgreSQL; SQLite
    serialises writers anyway), so its checks see the others' results."""
    session.execute(_lock_trainer_stmt(), {"trainer_id": trainer_id})


@functools.cache
def _lock_trainer_stmt() -> Any:
    # Built once: every claim, session start and entry takes this lock.
    # On the table, not the mapped class: no entity is loaded.
    users = User.__table__.c
    return select(users.id).where(users.id == bindparam("trainer_id")).with_for_update()


def find_active_membership(
    session: Session, trainer_id: uuid.UUID, project_id: uuid.UUID
) -> ProjectMember | None:
    return session.scalars(
        select(ProjectMember).where(
            ProjectMember.project_id == project_id,
            ProjectMember.trainer_id == trainer_id,
            ProjectMember.state == MembershipState.ACTIVE,
        )
    ).one_or_none()


def latest_memberships(
    session: Session, trainer_id: uuid.UUID, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ProjectMember]:
    """The trainer's newest membership row per project (rows are history)."""
    latest: dict[uuid.UUID, ProjectMember] = {}
    if not project_ids:
        return latest
    for member in session.scalars(
        select(ProjectMember)
        .where(ProjectMember.trainer_id == trainer_id, ProjectMember.project_id.in_(project_ids))
        .order_by(ProjectMember.created_at, ProjectMember.id)
    ):
        latest[member.project_id] = member
    return latest


def rate_at(session: Session, project_id: uuid.UUID, when: datetime) -> ProjectRate | None:
    """The rate in force at ``when``: the latest version effective by then."""
    return session.scalars(_in_force(select(ProjectRate), project_id, when)).one_or_none()


def task_pay_rate(
    at_claim: ProjectRate | None, at_submission: ProjectRate | None
) -> ProjectRate | None:
    """The rate a per-task assignment is paid, fixed at its first submission: the higher
    of the rates in force at its claim and at that submission, so a rate cut during a
    lease never cuts its pay and a raise during it is paid. Rates in two currencies are
    not compared: the one in force at the submission is paid."""
    if at_claim is None or at_submission is None or at_claim.currency != at_submission.currency:
        return at_submission
    return at_claim if at_claim.amount > at_submission.amount else at_submission


def rate_in_force_id(project_id: Any, when: Any) -> Any:
    """``rate_at`` as a scalar subquery of the rate's id, for a query that reads the
    rate along with what it pays for (``project_id`` and ``when`` may be a column and a
    bound parameter)."""
    return (_in_force(select(ProjectRate.id), project_id, when)
            .correlate_except(ProjectRate).scalar_subquery())


def _in_force(stmt: Any, project_id: Any, when: Any) -> Any:
    """``stmt`` over ``ProjectRate``, narrowed to the latest version effective by
    ``when``."""
    return (
        stmt.where(ProjectRate.project_id == project_id, ProjectRate.effective_from <= when)
        .order_by(ProjectRate.effective_from.desc(), ProjectRate.number.desc())
        .limit(inline(1))
    )


def current_guidelines(session: Session, project_id: uuid.UUID) -> GuidelineVersion | None:
    return latest_guidelines(session, [project_id]).get(project_id)


def latest_guidelines_number(project_id: Any) -> Any:
    """The current guidelines' number (the highest) as a scalar subquery, the one
    definition of "current": ``project_id`` may be a value or a column of the enclosing
    query, such as its project's id or its own guidelines' project."""
    versions = aliased(GuidelineVersion)
    return (
        select(func.max(versions.number))
        .where(versions.project_id == project_id)
        .scalar_subquery()
    )


def latest_guidelines(
    session: Session, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, GuidelineVersion]:
    """``current_guidelines`` for many projects, in one query."""
    stmt = select(GuidelineVersion).where(
        GuidelineVersion.project_id.in_(project_ids),
        GuidelineVersion.number == latest_guidelines_number(GuidelineVersion.project_id),
    )
    return {g.project_id: g for g in session.scalars(stmt)}


def require_open_for_work(project: Project, now: datetime) -> None:
    """Refuse new work (claims, sessions, applications) unless the project is active
    at ``now`` (``Project.state_at``: a suspension is in effect from its moment), with
    why. A paused project's answer carries its reason and expected resume date."""
    state = project.state_at(now)
    if state is ProjectState.ACTIVE:
        return
    if state is ProjectState.PAUSED:
        resume = project.expected_resume_at
        raise Conflict(
            _("The project is paused: %(reason)s It is expected to resume on %(resume_on)s.",
              reason=project.pause_reason, resume_on=resume.date().isoformat())
            if resume else _("The project is paused: %(reason)s", reason=project.pause_reason),
            code="project-paused", current_state=state.value,
            pause_reason=project.pause_reason,
            expected_resume_at=resume.isoformat() if resume else None,
        )
    raise Conflict(
        _("The project is %(state)s and takes no new work.", state=state.value),
        code=f"project-{state.value}", current_state=state.value,
    )


def require_not_suspended(project: Project, now: datetime) -> None:
    """Refuse to go on with work held on the project (a lease) once a suspension in
    force at ``now`` ended it: at its effective time, whatever the job has done."""
    stopped = project.work_stopped_at(now)
    if stopped is None:
        return
    state = project.state_at(now)
    raise Conflict(
        _("The project was suspended at %(stopped)s; work held then ended with it. Work submitted "
          "before is still reviewed and paid.", stopped=stopped.isoformat()),
        code=f"project-{state.value}", current_state=state.value,
        suspended_at=stopped.isoformat(),
    )
