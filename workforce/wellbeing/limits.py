"""Exposure limits and consent applied to work: which tasks a claim may hand out, whether
a session may start, when a running session must stop, and rotation.

- A claim hands out only tasks the trainer may take now: their effective level is not
  blocked by a limit of the project's organisation, and the trainer consented to their
  effective categories. Others are skipped in the claim query itself (so they never
  block the queue); when nothing else is left, the claim is refused with the reason of
  the first task skipped (409 ``exposure-limit-reached`` or ``consent-required``).
- A reveal (sensitive and graphic work is claimed unseen, ``projects.tasks.reveal``)
  passes the same gate again when it starts the exposure; the lease then ends no later
  than the moment a limit would be reached if the trainer held it to the end from the
  reveal (exposure is counted up to the lease's end), and an extension never goes past
  that moment either.
- One state decides both whether work may start and when it stops: ``stop_moment``
  looks first at the moment the work starts, as the gate does, so work is stopped at
  once only when the gate would have refused it (and then it is refused instead).
- A session on a sensitive project is stopped at the moment a limit is reached, found
  by walking forward from its start: between local midnights every limit counts the
  session's time second for second, so the moment is ``t + time_left(t)``; at local
  midnight the daily figures start afresh and the walk goes on from there.
- Rotation: once a trainer's continuous exposure reaches the policy's
  ``rotation_after_minutes``, non-sensitive work is offered first where they are
  staffed on any.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql import type_coerce

from workforce import clock
from workforce.accounts.models import Organisation, User
from workforce.db import inline
from workforce.i18n import gettext
from workforce.projects.models import (
    MembershipState,
    Project,
    ProjectMember,
    ProjectState,
    Sensitivity,
    Task,
)
from workforce.wellbeing import consent, policies
from workforce.wellbeing.exposure import (
    Exposure,
    ExposureLimitReached,
    LimitHit,
    blocking_limit,
    effective_categories,
    effective_sensitivity,
    exposure_of,
    time_left,
)
from workforce.wellbeing.models import WellbeingPolicy

LEVELS = (Sensitivity.NONE, Sensitivity.SENSITIVE, Sensitivity.GRAPHIC)
# A session's stop moment is looked for at most this many local days ahead.
MAX_STEPS = 16


# --- what a trainer may start now, under one organisation's policy -------------------


@dataclass(frozen=True)
class Gate:
    """The trainer's standing against one organisation's limits at ``exposure.now``,
    and the categories they consented to."""

    trainer: User
    policy: WellbeingPolicy
    exposure: Exposure
    granted: frozenset[str]
    blocked: dict[Sensitivity, LimitHit] = field(default_factory=dict)

    def allows_level(self, level: Sensitivity) -> bool:
        return level not in self.blocked

    def lacking(self, level: Sensitivity, categories: list[str]) -> list[str]:
        if level is Sensitivity.NONE:
            return []
        return consent.missing(set(self.granted), categories)

    def allows(self, level: Sensitivity, categories: list[str]) -> bool:
        return self.allows_level(level) and not self.lacking(level, categories)

    def time_left(self, level: Sensitivity) -> timedelta | None:
        return time_left(self.policy, self.exposure, self.trainer, level)

    @property
    def continuous_seconds(self) -> int:
        return self.exposure.continuous_seconds(timedelta(minutes=self.policy.break_minutes))

    @property
    def rotation_due(self) -> bool:
        return self.continuous_seconds >= self.policy.rotation_after_minutes * 60


def gate_for(session: Session, trainer: User, organisation_id: uuid.UUID,
             *, now: datetime | None = None) -> Gate:
    policy = policies.policy_for(session, organisation_id)
    state = exposure_of(session, trainer, policy, now=now or clock.now())
    blocked = {
        level: hit for level in LEVELS
        if (hit := blocking_limit(policy, state, trainer, level)) is not None
    }
    return Gate(trainer, policy, state, frozenset(consent.consented(session, trainer.id)),
                blocked)


# --- claims --------------------------------------------------------------------------


def _mentions(session: Session, category: str) -> ColumnElement[bool]:
    """The task's own categories include ``category``."""
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(Task.content_categories, JSONB).contains([category])
    items = func.json_each(Task.content_categories).table_valued("value")
    return exists(select(literal(1)).select_from(items).where(items.c.value == category))


def claimable(session: Session, gate: Gate, project: Project) -> ColumnElement[bool]:
    """A condition on ``Task`` for the project's tasks the trainer may take now."""
    # Tasks without an override carry the project's warning.
    plain = (Task.sensitivity.is_(None) if gate.allows(project.sensitivity,
                                                       project.content_categories or [])
             else false())
    levels = [level for level in LEVELS if gate.allows_level(level)]
    lacking = consent.missing(set(gate.granted), [c.value for c in consent.ORDER])
    own = and_(
        Task.sensitivity.is_not(None),
        Task.sensitivity.in_(levels) if levels else false(),
        # An override at level none has no categories, so this never excludes it.
        *(~_mentions(session, category) for category in lacking),
    )
    if not gate.blocked and not lacking:
        return true()
    return or_(plain, own)


# Levels a task may raise itself to above a plain project's.
_RAISED = (Sensitivity.SENSITIVE, Sensitivity.GRAPHIC)


def sensitive_tasks_open(project_id: uuid.UUID) -> ColumnElement[bool]:
    """Whether any open task of the project is sensitive on its own (a partial index
    holds only those, revision 0010). On a plain project without one, every task a
    claim could hand out is plain work, which no limit or consent holds back."""
    return exists().where(
        Task.project_id == project_id, Task.open_slots > inline(0),
        Task.sensitivity.in_(inline(_RAISED, Task.sensitivity.type)),
    )


def plain_work() -> ColumnElement[bool]:
    """A condition on ``Task``: plain work on a plain project, which every trainer may
    take whatever their exposure and consent (a claim on a plain project uses it
    instead of ``claimable`` when no task there was sensitive as the claim began)."""
    return or_(Task.sensitivity.is_(None),
               Task.sensitivity.not_in(inline(_RAISED, Task.sensitivity.type)))


def refusal(session: Session, gate: Gate, task: Task, project: Project) -> Exception:
    """Why the trainer may not take ``task`` now (a limit first, then consent)."""
    level = effective_sensitivity(task, project)
    if level in gate.blocked:
        return ExposureLimitReached(gate.blocked[level])
    lacking = gate.lacking(level, effective_categories(task, project))
    return consent.consent_required(gettext("The next task on this project"), lacking,
                            consent.attestation_of(session, gate.trainer.id) is not None)


@dataclass(frozen=True)
class RotationHint:
    """Rotation is due: non-sensitive projects where the trainer is staffed."""

    continuous_seconds: int
    rotation_after_minutes: int
    projects: list[Project]


def plain_projects(session: Session, trainer_id: uuid.UUID) -> list[Project]:
    """Active non-sensitive projects the trainer is an active member of, by name."""
    return list(session.scalars(
        select(Project)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(
            ProjectMember.trainer_id == trainer_id,
            ProjectMember.state == MembershipState.ACTIVE,
            Project.in_state_at([ProjectState.ACTIVE], clock.now()),
            Project.sensitivity == Sensitivity.NONE,
        )
        .order_by(Project.name, Project.id)
    ))


def rotation_hint(session: Session, gate: Gate, project: Project) -> RotationHint | None:
    """On a sensitive project, when rotation is due: where ordinary work waits."""
    if project.sensitivity is Sensitivity.NONE or not gate.rotation_due:
        return None
    return RotationHint(gate.continuous_seconds, gate.policy.rotation_after_minutes,
                        plain_projects(session, gate.trainer.id))


def require_consent(session: Session, trainer: User, task: Task, project: Project) -> None:
    """409 ``consent-required`` unless the trainer consents to the task's effective
    categories now (a reveal: its warning may have been raised since the claim)."""
    level = effective_sensitivity(task, project)
    lacking = ([] if level is Sensitivity.NONE else
               consent.missing(consent.consented(session, trainer.id),
                               effective_categories(task, project)))
    if lacking:
        raise consent.consent_required(gettext("This task"), lacking,
                                       consent.attestation_of(session, trainer.id) is not None)


# --- sessions ------------------------------------------------------------------------


def check_session_start(session: Session, trainer: User, project: Project,
                        *, now: datetime) -> None:
    """A session on a sensitive project needs consent to its categories and no limit
    reached for its level (409 ``consent-required`` / ``exposure-limit-reached``)."""
    if project.sensitivity is Sensitivity.NONE:
        return
    gate = gate_for(session, trainer, project.organisation_id, now=now)
    if project.sensitivity in gate.blocked:
        raise ExposureLimitReached(gate.blocked[project.sensitivity])
    lacking = gate.lacking(project.sensitivity, project.content_categories or [])
    if lacking:
        raise consent.consent_required(gettext("The project %(name)s", name=project.name), lacking,
                               consent.attestation_of(session, trainer.id) is not None)


@dataclass(frozen=True)
class LimitStop:
    """The moment an exposure limit stops a session, which limit, and when it resets."""

    limit: str
    at: datetime
    resets_at: datetime
    detail: str

    def refusal(self) -> ExposureLimitReached:
        """409 ``exposure-limit-reached`` for work this stop leaves no time for."""
        return ExposureLimitReached(LimitHit(self.limit, self.resets_at, self.detail))


def stop_moment(session: Session, trainer: User, organisation_id: uuid.UUID,
                level: Sensitivity, started_at: datetime, until: datetime) -> LimitStop | None:
    """The first moment in ``[started_at, until]`` at which work of ``level`` that
    started at ``started_at`` (a session, or a lease already in the session) and went on
    reaches one of the organisation's exposure limits; ``None`` if it does not."""
    if level is Sensitivity.NONE or until <= started_at:
        return None
    policy = policies.policy_for(session, organisation_id)
    # First the state at the start, as the claim or session gate saw it (the work has
    # no length yet): the work stops at once only if that gate would refuse it.
    moment = started_at
    for _ in range(MAX_STEPS):
        if moment > until:
            return None
        state = exposure_of(session, trainer, policy, now=moment)
        hit = blocking_limit(policy, state, trainer, level)
        if hit is not None:
            return LimitStop(hit.limit, min(moment, until), hit.resets_at, hit.detail)
        left = time_left(policy, state, trainer, level)
        assert left is not None and left > timedelta(0)
        # Until local midnight every limit counts this work second for second.
        moment = min(moment + left, state.day[1])
    return None


def session_stop(session: Session, trainer: User, project: Project, started_at: datetime,
                 until: datetime) -> LimitStop | None:
    """``stop_moment`` for a session on the project (sensitive projects only)."""
    return stop_moment(session, trainer, project.organisation_id, project.sensitivity,
                       started_at, until)


# --- what the trainer sees -----------------------------------------------------------


@dataclass(frozen=True)
class LevelStanding:
    """Work of one level under one organisation's limits: how long it may go on if
    started now, and the limit that stops it now, if any."""

    level: Sensitivity
    time_left_seconds: int
    blocked: LimitHit | None


@dataclass(frozen=True)
class OrganisationStanding:
    organisation: Organisation
    policy: WellbeingPolicy
    continuous_seconds: int
    break_due_until: datetime | None
    rotation_due: bool
    levels: list[LevelStanding]


@dataclass(frozen=True)
class Standing:
    """A trainer's own exposure figures (``GET /me/exposure``)."""

    exposure: Exposure
    continuous_seconds: int
    break_due_until: datetime | None
    organisations: list[OrganisationStanding]

    @property
    def day(self) -> dict[str, datetime]:
        return {"start": self.exposure.day[0], "end": self.exposure.day[1]}

    @property
    def week(self) -> dict[str, datetime]:
        return {"start": self.exposure.week[0], "end": self.exposure.week[1]}


def _break_until(gate: Gate) -> datetime | None:
    pause = timedelta(minutes=gate.policy.break_minutes)
    if gate.continuous_seconds < gate.policy.break_after_minutes * 60:
        return None
    assert gate.exposure.run_ended_at is not None
    return gate.exposure.run_ended_at + pause


def standing(session: Session, trainer: User, *, now: datetime | None = None) -> Standing:
    """Today's and this week's exposure (the trainer's own day and week), the current
    run, and per organisation the trainer is staffed with: its limits, the time left
    per level and what blocks work now. Totals are the same whoever's limits apply;
    the run and the break follow each organisation's break length (at the top level,
    the longest of them, so a break shown as taken is one every organisation counts)."""
    now = now or clock.now()
    organisation_ids = set(session.scalars(
        select(Project.organisation_id)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(ProjectMember.trainer_id == trainer.id,
               ProjectMember.state == MembershipState.ACTIVE)
    ))
    organisations = sorted(
        session.scalars(select(Organisation).where(Organisation.id.in_(organisation_ids))),
        key=lambda o: (o.name, str(o.id)),
    )
    gates = [gate_for(session, trainer, o.id, now=now) for o in organisations]
    own = [
        OrganisationStanding(
            organisation=o, policy=g.policy, continuous_seconds=g.continuous_seconds,
            break_due_until=_break_until(g), rotation_due=g.rotation_due,
            levels=[
                LevelStanding(level, int(g.time_left(level).total_seconds()),
                              g.blocked.get(level))
                for level in (Sensitivity.SENSITIVE, Sensitivity.GRAPHIC)
            ],
        )
        for o, g in zip(organisations, gates, strict=True)
    ]
    widest = max(gates, key=lambda g: g.policy.break_minutes, default=None)
    if widest is None:
        # Staffed nowhere: the run follows the default break (no organisation has the
        # nil id, so its policy is the defaults).
        defaults = policies.policy_for(session, uuid.UUID(int=0))
        widest = Gate(trainer, defaults, exposure_of(session, trainer, defaults, now=now),
                      frozenset())
    dues = [s.break_due_until for s in own if s.break_due_until is not None]
    return Standing(
        exposure=widest.exposure, continuous_seconds=widest.continuous_seconds,
        break_due_until=max(dues) if dues else None, organisations=own,
    )
