"""What the work is for: a project's declared use, and the uses trainers refuse.

- A project declares, before it can be activated: the kind of client, what the answers
  are used for (``DataUse``), whether each restricted use (``RestrictedUse``: military,
  surveillance, law enforcement) is allowed, and how many days the trainers' answers
  are kept. Trainers see it in the marketplace and the project's views before they
  apply. A manager may change it in any state but closed (audited).
- A change after activation tells every active member (in the app and by e-mail)
  what changed, and that they may leave without penalty. Leaving never carries one
  (nothing reads a departure against a trainer: quality, approval rate and ranking
  count reviewed work only); a departure within ``LEAVE_WINDOW`` of the change is
  audited as one for that reason.
- A trainer lists the uses they will not work on (any data use or restricted use).
  A project with such a use (a data use it declares, or a restricted use it allows) is
  not offered to them: the marketplace leaves it out, a direct look is 404 unless they
  are already involved (then it shows ``unmet`` ``refused-use``), applications,
  acceptances and claims are refused, and managers' candidate lists and invitations
  skip them. Nothing else changes: their quality, approval rate and rank elsewhere are
  untouched, since none of those reads the preference.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.errors import Conflict, Invalid
from workforce.i18n import _
from workforce.notifications.services import tell
from workforce.notifications.texts import moment
from workforce.projects import access
from workforce.projects.models import (
    ClientKind,
    DataUse,
    MembershipState,
    Project,
    ProjectMember,
    ProjectState,
    RestrictedUse,
    WorkPreferences,
)

# How long after a change of declared use a departure is recorded as caused by it.
LEAVE_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class DeclaredUse:
    client_kind: ClientKind
    data_uses: tuple[DataUse, ...]
    restricted_uses: dict[str, bool]
    answer_retention_days: int

    @classmethod
    def of(cls, project: Project) -> DeclaredUse | None:
        if project.client_kind is None:
            return None
        allowed = set(project.restricted_uses or [])
        return cls(
            client_kind=project.client_kind,
            data_uses=tuple(DataUse(u) for u in project.data_uses or []),
            restricted_uses={u.value: u.value in allowed for u in RestrictedUse},
            answer_retention_days=project.answer_retention_days or 0,
        )

    def as_dict(self) -> dict[str, Any]:
        return {"client_kind": self.client_kind.value,
                "data_uses": [u.value for u in self.data_uses],
                "restricted_uses": dict(self.restricted_uses),
                "answer_retention_days": self.answer_retention_days}


def uses_of(project: Project) -> set[str]:
    """Every use the project declares: its data uses and the restricted uses it allows."""
    return set(project.data_uses or []) | set(project.restricted_uses or [])


def refused_by(refused: Iterable[str], project: Project) -> list[str]:
    """The uses of the project that the trainer refuses, in a stable order."""
    return sorted(set(refused) & uses_of(project))


def declare(
    session: Session, manager: User, project_id: uuid.UUID, *, client_kind: ClientKind,
    data_uses: Sequence[DataUse], restricted_uses: dict[str, bool],
    answer_retention_days: int,
) -> Project:
    """Set the project's declared use (audited). A change on a project that was
    activated tells its active members, who may leave without penalty."""
    access.get_project(session, manager, project_id)
    project = access.lock_project(session, project_id)
    assert project is not None
    if project.state is ProjectState.CLOSED:
        raise Conflict(_("A closed project's declared use is kept as it was."),
                       code="project-closed", current_state=project.state.value)
    if not data_uses:
        raise Invalid(_("Declare at least one data use."),
                      errors={"data_uses": [_("Declare at least one use.")]})
    before = DeclaredUse.of(project)
    project.client_kind = client_kind
    project.data_uses = sorted({u.value for u in data_uses})
    project.restricted_uses = sorted(u.value for u in RestrictedUse if restricted_uses[u.value])
    project.answer_retention_days = answer_retention_days
    after = DeclaredUse.of(project)
    assert after is not None
    if before == after:
        return project
    changed = before is not None and project.activated_at is not None
    if changed:
        project.declared_use_changed_at = clock.now()
    session.flush()
    audit.record(
        session, manager, "project.declared_use_changed" if before else "project.use_declared",
        object_type="project", object_id=project.id, organisation_id=project.organisation_id,
        before=before.as_dict() if before else None, after=after.as_dict(),
    )
    if changed:
        assert before is not None
        _tell_members(session, project, before, after)
    return project


def _tell_members(
    session: Session, project: Project, before: DeclaredUse, after: DeclaredUse
) -> None:
    members = session.scalars(
        select(User).join(ProjectMember, ProjectMember.trainer_id == User.id).where(
            ProjectMember.project_id == project.id,
            ProjectMember.state == MembershipState.ACTIVE,
        )
    ).all()
    until = (project.declared_use_changed_at or clock.now()) + LEAVE_WINDOW
    params = {"project": project.name, "before": describe(before), "after": describe(after),
              "leave_until": moment(until)}
    for trainer in members:
        # A project may have thousands of members: the outbox job sends the e-mails.
        tell(session, trainer.id, "project.declared_use_changed", params,
             data={"project_id": str(project.id), "before": before.as_dict(),
                   "after": after.as_dict(), "leave_without_penalty_until": until.isoformat()},
             deliver_now=False)


def describe(use: DeclaredUse) -> str:
    allowed = [name for name, yes in use.restricted_uses.items() if yes]
    return (
        f"client {use.client_kind.value}; used for "
        f"{', '.join(u.value for u in use.data_uses)}; "
        f"restricted uses allowed: {', '.join(allowed) or 'none'}; answers kept "
        f"{use.answer_retention_days} days"
    )


def left_in_window(project: Project, at: datetime) -> bool:
    """Whether a departure at ``at`` follows a change of declared use closely enough to
    be recorded as caused by it."""
    changed = project.declared_use_changed_at
    if changed is None:
        return False
    return clock.as_utc(changed) <= at < clock.as_utc(changed) + LEAVE_WINDOW


# --- the trainers' refusals --------------------------------------------------------------


def refused_uses(session: Session, trainer_id: uuid.UUID) -> list[str]:
    found = session.get(WorkPreferences, trainer_id)
    return list(found.refused_uses) if found is not None else []


def preferences_of(session: Session, trainer: User) -> WorkPreferences:
    """The trainer's preferences (an empty set, not stored, before they set any)."""
    found = session.get(WorkPreferences, trainer.id)
    return found if found is not None else WorkPreferences(trainer_id=trainer.id, refused_uses=[])


def set_refused_uses(session: Session, trainer: User, uses: Iterable[str]) -> WorkPreferences:
    """Replace the uses the trainer will not work on (audited). Applies from now to
    what they are offered; memberships they hold stay until they leave."""
    wanted = sorted(set(uses))
    found = session.get(WorkPreferences, trainer.id)
    before = list(found.refused_uses) if found is not None else None
    if found is None:
        found = WorkPreferences(trainer_id=trainer.id, refused_uses=wanted)
        session.add(found)
    else:
        found.refused_uses = wanted
    session.flush()
    if before != wanted:
        audit.record(session, trainer, "trainer.work_preferences_changed",
                     object_type="work_preferences", object_id=trainer.id,
                     organisation_id=None,
                     before=None if before is None else {"refused_uses": before},
                     after={"refused_uses": wanted})
    return found


def require_not_refused(session: Session, trainer: User, project: Project) -> None:
    """409 ``refused-use`` for work on a project with a use the trainer refuses (one
    they joined before refusing it, or whose use changed since)."""
    refused = refused_by(refused_uses(session, trainer.id), project)
    if refused:
        raise Conflict(
            _("%(name)s declares uses you will not work on: %(uses)s. You may leave it without "
              "penalty.", name=project.name, uses=', '.join(refused)),
            code="refused-use", refused_uses=refused,
        )
