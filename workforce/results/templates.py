"""A project's task template, versioned like its guidelines: publishing a version,
reading versions and the answer's JSON Schema, and which version an assignment answers
to.

Rules worth knowing:

- Work answers to the version in force when it was claimed: the highest version
  created at or before the claim. A lease claimed before a new version is still
  checked (and shown) with its own; a project that had no template then accepts any
  JSON answer, as before templates existed.
- Publishing takes the project's row lock, which a claim shares: a claim sees either
  the version before or the new one, whole.
- Staff of the project's organisation read the template; so do trainers who may see the
  project (the marketplace's rule, ``eligibility.visible``). Others get ``NotFound``.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import Role, User
from workforce.errors import Invalid, NotFound
from workforce.i18n import gettext, ngettext
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access, eligibility, services
from workforce.projects.models import Assignment, Project, ProjectState
from workforce.results.answers import check_answer
from workforce.results.fields import check_fields
from workforce.results.models import TemplateVersion
from workforce.results.schema import answer_schema

NO_TEMPLATE = "Any JSON value but null: this project has no task template."


@dataclass(frozen=True)
class TemplateState:
    """A project's current template, or none (any JSON answer is accepted)."""

    project_id: uuid.UUID
    version: TemplateVersion | None

    def __getattr__(self, name: str) -> Any:
        """``number``, ``fields``, ``change_note``, ``created_at`` of the version; None
        without one."""
        if name not in ("number", "fields", "change_note", "created_at"):
            raise AttributeError(name)
        return getattr(self.version, name) if self.version is not None else None

    @property
    def accepts(self) -> str:
        if self.version is None:
            return NO_TEMPLATE
        return (f"Answers that fit version {self.version.number} of the template "
                "(GET .../template/schema), checked against the version in force when "
                "the work was claimed.")


# --- publishing -----------------------------------------------------------------------


def publish(
    session: Session, manager: User, project_id: uuid.UUID, *, fields: Any,
    change_note: str = "",
) -> TemplateVersion:
    """The next version of the template (audited); checked first (422
    ``template-invalid``, every problem by JSON pointer, nothing written). On a project
    past draft every active member is told, with the version number."""
    checked = check_fields(fields)
    project = services.writable_project(session, manager, project_id)
    current = current_version(session, project.id)
    number = (current.number if current else 0) + 1
    version = TemplateVersion(
        project_id=project.id, number=number, fields=checked, change_note=change_note,
        created_by_id=manager.id, created_at=clock.now(),
    )
    session.add(version)
    session.flush()
    audit.record(
        session, manager, "project.template_changed", object_type="project",
        object_id=project.id, organisation_id=project.organisation_id,
        before={"version": current.number if current else None},
        after={"version": number, "change_note": change_note,
               "fields": [f["name"] for f in checked]},
    )
    if project.state is not ProjectState.DRAFT:
        services.announce(session, project, "project.template_changed",
                          {"version": number, "change_note": change_note},
                          data={"version": number})
    return version


# --- which version ----------------------------------------------------------------------


def current_version(session: Session, project_id: uuid.UUID) -> TemplateVersion | None:
    return session.scalars(
        select(TemplateVersion).where(TemplateVersion.project_id == project_id)
        .order_by(TemplateVersion.number.desc()).limit(1)
    ).one_or_none()


def version_at(session: Session, project_id: uuid.UUID, when: datetime
               ) -> TemplateVersion | None:
    """The version in force at ``when``: the highest created at or before it."""
    return session.scalars(
        select(TemplateVersion)
        .where(TemplateVersion.project_id == project_id, TemplateVersion.created_at <= when)
        .order_by(TemplateVersion.number.desc()).limit(1)
    ).one_or_none()


def version_for(session: Session, assignment: Assignment) -> TemplateVersion | None:
    """The version the assignment answers to: the one in force when it was claimed."""
    return version_at(session, assignment.project_id, assignment.claimed_at)


def version_for_given(
    session: Session, assignment: Assignment, current: TemplateVersion | None
) -> TemplateVersion | None:
    """``version_for``, knowing the project's current version (a claim reads it with
    the project): that one, unless it came after the claim, which costs a query."""
    if current is None or current.created_at <= assignment.claimed_at:
        return current
    return version_for(session, assignment)


def latest_number(project_id: Any) -> Any:
    """The current version's number (the highest) as a scalar subquery; ``project_id``
    may be a value or a column of the enclosing query."""
    versions = aliased(TemplateVersion)
    return (select(func.max(versions.number)).where(versions.project_id == project_id)
            .scalar_subquery())


def versions_for(
    session: Session, assignments: Iterable[Assignment]
) -> dict[uuid.UUID, TemplateVersion | None]:
    """``version_for`` of many assignments, by assignment id, in one query."""
    assignments = list(assignments)
    project_ids = {a.project_id for a in assignments}
    by_project: dict[uuid.UUID, list[TemplateVersion]] = {p: [] for p in project_ids}
    if project_ids:
        for version in session.scalars(
            select(TemplateVersion).where(TemplateVersion.project_id.in_(project_ids))
            .order_by(TemplateVersion.number)
        ):
            by_project[version.project_id].append(version)
    found = {}
    for a in assignments:
        versions = by_project[a.project_id]
        # Numbers grow with creation times: the last one created by the claim.
        index = bisect.bisect_right([v.created_at for v in versions], a.claimed_at)
        found[a.id] = versions[index - 1] if index else None
    return found


# --- submissions ------------------------------------------------------------------------


def number_at(project_id: Any, when: Any) -> Any:
    """The number of the version in force at ``when`` (``version_at``) as a scalar
    subquery; both may be columns of the enclosing query (a submit reads the version of
    its claim with the assignment)."""
    versions = aliased(TemplateVersion)
    return (select(func.max(versions.number))
            .where(versions.project_id == project_id, versions.created_at <= when)
            .scalar_subquery())


def check_submission(
    assignment: Assignment, answer: Any, version: TemplateVersion | None
) -> TemplateVersion | None:
    """``version``, the one the assignment answers to (``number_at`` its claim; None
    when the project had no template then: any answer goes); ``Invalid`` (422
    ``answer-invalid``) with every problem by JSON pointer into the answer when it does
    not fit."""
    if version is None:
        return None
    problems = check_answer(version.fields, answer, assignment.task.payload)
    if not problems:
        return version
    errors: dict[str, list[str]] = {}
    for at, message in problems:
        errors.setdefault(at, []).append(message)
    raise Invalid(
        ngettext("The answer does not fit version %(number)s of the task template "
                 "(%(num)d problem); nothing was saved.",
                 "The answer does not fit version %(number)s of the task template "
                 "(%(num)d problems); nothing was saved.", len(problems),
                 number=version.number),
        code="answer-invalid", errors=errors, template_version=version.number,
    )


# --- reading ----------------------------------------------------------------------------


def readable_project(session: Session, user: User, project_id: uuid.UUID) -> Project:
    """The project, for its organisation's staff and the trainers who may see it."""
    if user.role is Role.TRAINER:
        project, _ = eligibility.visible(session, user, project_id)
        return project
    return access.get_project(session, user, project_id)


def get_template(session: Session, user: User, project_id: uuid.UUID) -> TemplateState:
    project = readable_project(session, user, project_id)
    return TemplateState(project.id, current_version(session, project.id))


def list_versions(
    session: Session, user: User, project_id: uuid.UUID, page: PageRequest
) -> Page[TemplateVersion]:
    """Every version, newest first."""
    project = readable_project(session, user, project_id)
    stmt = select(TemplateVersion).where(TemplateVersion.project_id == project.id)
    order = (TemplateVersion.number.desc(), TemplateVersion.id.desc())
    return paginate(session, stmt, page, order=order)


def get_version(
    session: Session, user: User, project_id: uuid.UUID, number: int | None = None
) -> TemplateVersion:
    """One version (the current one when ``number`` is None); ``NotFound`` when there
    is none."""
    project = readable_project(session, user, project_id)
    if number is None:
        version = current_version(session, project.id)
    else:
        version = session.scalars(select(TemplateVersion).where(
            TemplateVersion.project_id == project.id, TemplateVersion.number == number,
        )).one_or_none()
    if version is None:
        raise NotFound(gettext("The project has no such template version.") if number is not None
                       else gettext("The project has no task template: any JSON answer is "
                                    "accepted."), code="not-found")
    return version


def schema_of(
    session: Session, user: User, project_id: uuid.UUID, number: int | None = None
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an answer to a version (the current one by
    default)."""
    version = get_version(session, user, project_id, number)
    schema = answer_schema(version.fields, title=f"Answer to template version "
                           f"{version.number}")
    return {"$id": f"urn:workforce:project:{version.project_id}:template:{version.number}",
            **schema}
