"""Claiming the next task across every project a trainer is staffed on, with rotation.

Normally the projects are tried in the order of their best open task (priority, then
age), as a claim on one project orders its tasks. When rotation is due under a
project's organisation (``rotation_after_minutes`` of exposure in a row), that
organisation's sensitive projects go after every non-sensitive one, so the trainer is
offered ordinary work first where they have any. Each project is tried as a claim on it
would be (``tasks.claim_next``: its own locks, limits and consent), inside a savepoint,
so a refusal on one project leaves nothing behind before the next is tried.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts.models import User
from workforce.errors import Conflict, DomainError
from workforce.i18n import _
from workforce.projects import tasks
from workforce.projects.models import (
    Assignment,
    AssignmentState,
    MembershipState,
    Project,
    ProjectMember,
    ProjectState,
    Sensitivity,
    Task,
)
from workforce.projects.tasks import AssignmentView
from workforce.wellbeing import limits

# Refusals that mean "not here, try the next project" (a pause or a removal may land
# between listing the projects and claiming on one).
PASSABLE = ("no-task-available", "exposure-limit-reached", "consent-required",
            "project-paused", "project-suspended", "project-closed", "not-staffed")


def _staffed(session: Session, trainer_id: uuid.UUID) -> list[Project]:
    return list(session.scalars(
        select(Project)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(ProjectMember.trainer_id == trainer_id,
               ProjectMember.state == MembershipState.ACTIVE,
               Project.in_state_at([ProjectState.ACTIVE], clock.now()))
    ))


def _held(session: Session, trainer_id: uuid.UUID, project_ids: list[uuid.UUID]
          ) -> Assignment | None:
    """The trainer's oldest lease still running on one of the projects."""
    return session.scalars(
        select(Assignment)
        .where(Assignment.trainer_id == trainer_id, Assignment.state == AssignmentState.LEASED,
               Assignment.project_id.in_(project_ids),
               Assignment.lease_expires_at > clock.now())
        .order_by(Assignment.claimed_at, Assignment.id)
        .limit(1)
    ).first()


def _best_tasks(session: Session, project_ids: list[uuid.UUID]
                ) -> dict[uuid.UUID, tuple[int, object]]:
    """Per project, the (priority, creation time) of its best open task."""
    top = (
        select(Task.project_id, func.max(Task.priority).label("priority"))
        .where(Task.project_id.in_(project_ids), Task.open_slots > 0)
        .group_by(Task.project_id)
        .subquery()
    )
    rows = session.execute(
        select(Task.project_id, Task.priority, func.min(Task.created_at))
        .join(top, (top.c.project_id == Task.project_id) & (top.c.priority == Task.priority))
        .where(Task.open_slots > 0)
        .group_by(Task.project_id, Task.priority)
    )
    return {project_id: (priority, created) for project_id, priority, created in rows}


def order(session: Session, trainer: User, projects: list[Project]) -> list[Project]:
    """The projects with open tasks, in the order to try them."""
    best = _best_tasks(session, [p.id for p in projects])
    due = {
        organisation_id: limits.gate_for(session, trainer, organisation_id).rotation_due
        for organisation_id in {p.organisation_id for p in projects}
    }
    with_work = [p for p in projects if p.id in best]

    def key(project: Project) -> tuple:
        put_back = due[project.organisation_id] and project.sensitivity is not Sensitivity.NONE
        priority, created = best[project.id]
        return (put_back, -priority, created, str(project.id))

    return sorted(with_work, key=key)


def claim_any(session: Session, trainer: User) -> tuple[AssignmentView, bool]:
    """Lease the next task across the trainer's staffed projects (see the module's
    docstring); a lease still running on any of them is returned instead (``False``).

    Refused with 409 ``no-task-available`` when no project has a task for them; when
    every project with work refused for a limit or for consent, with the first of
    those refusals."""
    projects = _staffed(session, trainer.id)
    if not projects:
        raise Conflict(_("You are not staffed on any active project, so there is no task for "
                         "you."), code="no-task-available")
    held = _held(session, trainer.id, [p.id for p in projects])
    if held is not None:
        return tasks.claim_next(session, trainer, held.project_id)
    refusals: list[DomainError] = []
    for project in order(session, trainer, projects):
        try:
            with session.begin_nested():
                return tasks.claim_next(session, trainer, project.id)
        except DomainError as exc:
            if exc.code not in PASSABLE:
                raise
            refusals.append(exc)
    telling = [r for r in refusals if r.code != "no-task-available"]
    if telling:
        raise telling[0]
    raise Conflict(_("No task on your projects needs your answer right now; try again later."),
                   code="no-task-available")
