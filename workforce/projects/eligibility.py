"""Whether a trainer may join a project (its required qualifications and locales), see
it, and work on it (``visible``, ``staffed_project``, ``not_staffed``).

A trainer meets a requirement when they hold the qualification GRANTED, not expired
(``expires_at`` later than now), with a score at least the requirement's minimum (a
manual grant without a score meets any minimum: a manager vouched for the trainer),
and list a language that matches each locale named: the requirement's, and the
qualification's own (a requirement that names no locale does not waive it; a manual
grant does not either).

Locales match by these rules (BCP 47 tags in their standard form, so ``zh-yue`` is
``yue``):

- the language subtags are equal;
- a territory the requirement names must be named by the trainer too: "yue-HK" is
  met by "yue-HK" and "yue-Hant-HK", not by "yue" or "yue-CN" (which variety someone
  speaks is theirs to say, not ours to guess);
- a script the requirement names must be the trainer's script, written or the likely
  one for their tag: "zh-Hant" is met by "zh-TW" and "zh-Hant-HK", not by "zh-CN";
- variants the requirement names must all be among the trainer's.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import langcodes
from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from workforce import clock
from workforce.accounts.models import User
from workforce.assessments.models import (
    Qualification,
    QualificationStatus,
    TrainerQualification,
)
from workforce.errors import Forbidden, NotFound
from workforce.i18n import gettext
from workforce.projects import access, declared_use
from workforce.projects.models import (
    OPEN_MEMBERSHIP_STATES,
    MembershipState,
    Project,
    ProjectMember,
    ProjectRequirement,
    ProjectState,
)
from workforce.wellbeing import consent


@dataclass(frozen=True)
class Unmet:
    """One requirement a trainer does not meet, and why (``code`` is stable).

    Qualification requirements name their qualification; what the trainer must do
    about content consent (``staffing``) names none, and ``consent`` lists the
    categories."""

    qualification_id: uuid.UUID | None
    # missing | revoked | failed | expired | score-below | locale (qualifications);
    # age-attestation | consent (a content warning); refused-use (a use the trainer
    # will not work on: ``declared_use``); email-unverified (the trainer); budget-spent
    # (the project's budget is used up: ``budgets``)
    code: str
    message: str
    categories: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, str | None]:
        return {
            "qualification_id": (None if self.qualification_id is None
                                 else str(self.qualification_id)),
            "code": self.code,
            "message": self.message,
        }


@lru_cache(maxsize=4096)
def _parse(tag: str) -> langcodes.Language | None:
    try:
        return langcodes.Language.get(langcodes.standardize_tag(tag))
    except (ValueError, LookupError):
        return None


@lru_cache(maxsize=4096)
def _likely_script(tag: str) -> str | None:
    language = _parse(tag)
    return None if language is None else (language.script or language.maximize().script)


def locale_matches(required: str, spoken: str) -> bool:
    """Whether a trainer who lists ``spoken`` meets a requirement for ``required``."""
    want, have = _parse(required), _parse(spoken)
    if want is None or have is None or want.language != have.language:
        return False
    if want.territory and want.territory != have.territory:
        return False
    if want.script and want.script != _likely_script(spoken):
        return False
    return set(want.variants or ()) <= set(have.variants or ())


def speaks(languages: Iterable[str], required: str) -> bool:
    return any(locale_matches(required, spoken) for spoken in languages)


def unmet(
    requirements: Sequence[ProjectRequirement],
    records: Mapping[uuid.UUID, TrainerQualification],
    languages: Sequence[str],
    now: datetime,
) -> list[Unmet]:
    """The requirements a trainer misses, given their qualification records (by
    qualification id) and languages. Pure: no database."""
    reasons = []
    for requirement in requirements:
        record = records.get(requirement.qualification_id)
        reason = _unmet_one(requirement, record, now)
        if reason is None:
            assert record is not None  # a met qualification has its record
            reason = _unmet_locale(requirement, record.qualification, languages)
        if reason is not None:
            reasons.append(reason)
    return reasons


def _unmet_locale(
    requirement: ProjectRequirement, qualification: Qualification, languages: Sequence[str]
) -> Unmet | None:
    for locale, whose in ((requirement.locale, "the project"),
                          (qualification.locale, f"the qualification {qualification.name}")):
        if locale and not speaks(languages, locale):
            return Unmet(
                requirement.qualification_id, "locale",
                gettext("Requires the language %(locale)s (%(whose)s names it) among your "
                        "languages.", locale=locale, whose=whose),
            )
    return None


def _unmet_one(
    requirement: ProjectRequirement, record: TrainerQualification | None, now: datetime
) -> Unmet | None:
    qid = requirement.qualification_id
    if record is None:
        return Unmet(qid, "missing", gettext("You do not hold the required qualification."))
    if record.status is QualificationStatus.REVOKED:
        return Unmet(qid, "revoked", gettext("Your qualification was revoked."))
    if record.status is not QualificationStatus.GRANTED:
        return Unmet(qid, "failed", gettext("You have not passed the required qualification."))
    if record.expires_at is not None and clock.as_utc(record.expires_at) <= now:
        return Unmet(qid, "expired", gettext("Your qualification has expired."))
    score = record.score_percent
    if score is not None and score < Decimal(requirement.min_score_percent):
        return Unmet(
            qid, "score-below",
            gettext("Requires a score of at least %(min_score_percent)s%%; yours is %(score)s%%.",
                    min_score_percent=requirement.min_score_percent, score=score),
        )
    return None


def records_of(
    session: Session,
    trainer_ids: Iterable[uuid.UUID] | Select[Any],
    qualification_ids: Iterable[uuid.UUID],
) -> defaultdict[uuid.UUID, dict[uuid.UUID, TrainerQualification]]:
    """Qualification records by trainer, then by qualification; ``trainer_ids`` may be
    a select of ids (a pool too large to list)."""
    grouped: defaultdict[uuid.UUID, dict[uuid.UUID, TrainerQualification]] = defaultdict(dict)
    qualification_ids = list(qualification_ids)
    if not isinstance(trainer_ids, Select):
        trainer_ids = list(trainer_ids)
        if not trainer_ids:
            return grouped
    if not qualification_ids:
        return grouped
    for record in session.scalars(
        select(TrainerQualification).where(
            TrainerQualification.trainer_id.in_(trainer_ids),
            TrainerQualification.qualification_id.in_(qualification_ids),
        )
    ):
        grouped[record.trainer_id][record.qualification_id] = record
    return grouped


def unmet_requirements(
    session: Session, trainer: User, project: Project, *, now: datetime | None = None
) -> list[Unmet]:
    """What keeps the trainer off the project; empty when they are eligible."""
    requirements = list(project.requirements)
    records = records_of(session, [trainer.id], [r.qualification_id for r in requirements])
    found = unmet(requirements, records[trainer.id], trainer.languages or [], now or clock.now())
    return found + refused_use(declared_use.refused_uses(session, trainer.id), project)


def refused_use(refused: Sequence[str], project: Project) -> list[Unmet]:
    """``refused-use`` when the project declares a use the trainer will not work on."""
    uses = declared_use.refused_by(refused, project)
    if not uses:
        return []
    return [Unmet(
        None, "refused-use",
        gettext("The project declares uses refused in the trainer's work preferences (%(uses)s; "
                "/api/v1/me/work-preferences).", uses=", ".join(uses)),
        tuple(uses),
    )]


def holds_every_qualification(
    trainer_id: ColumnElement[uuid.UUID] | uuid.UUID,
    project_id: ColumnElement[uuid.UUID] | uuid.UUID,
    now: datetime,
) -> ColumnElement[bool]:
    """SQL: the trainer meets every requirement of the project except locales (which
    need ``locale_matches``). A pre-filter for lists; ``unmet`` has the last word."""
    meets = (
        select(TrainerQualification.id)
        .where(
            TrainerQualification.trainer_id == trainer_id,
            TrainerQualification.qualification_id == ProjectRequirement.qualification_id,
            TrainerQualification.status == QualificationStatus.GRANTED,
            or_(TrainerQualification.expires_at.is_(None), TrainerQualification.expires_at > now),
            or_(
                TrainerQualification.score_percent.is_(None),
                TrainerQualification.score_percent >= ProjectRequirement.min_score_percent,
            ),
        )
        .correlate_except(TrainerQualification)
    )
    missing = select(ProjectRequirement.id).where(
        and_(ProjectRequirement.project_id == project_id, ~exists(meets))
    )
    return ~exists(missing)


def visible(
    session: Session, trainer: User, project_id: uuid.UUID
) -> tuple[Project, list[Unmet]]:
    """The project, if the trainer may see it (the marketplace's rule: active and
    eligible, or below), with the requirements they miss; else ``NotFound``."""
    project = session.get(Project, project_id)
    if project is None or project.state is ProjectState.DRAFT:
        raise NotFound(gettext("No such project."))
    now = clock.now()
    unmet = unmet_requirements(session, trainer, project, now=now)
    # Someone who is (or once was) on the project, or has an application or invitation
    # open, keeps seeing it whatever its state or their eligibility now.
    involved = session.scalar(
        select(exists().where(
            ProjectMember.project_id == project.id, ProjectMember.trainer_id == trainer.id,
            or_(ProjectMember.joined_at.is_not(None),
                ProjectMember.state.in_(OPEN_MEMBERSHIP_STATES)),
        ))
    )
    if not involved and (project.state_at(now) is not ProjectState.ACTIVE or unmet):
        raise NotFound(gettext("No such project."))
    return project, unmet


def staffed_project(session: Session, trainer: User, project_id: uuid.UUID) -> Project:
    """A project the trainer is an active member of.

    A project the trainer may not even see (a draft, one they are not eligible for and
    were never on) is ``NotFound``, so its existence does not leak; one they can see in
    the marketplace but are not staffed on is ``Forbidden`` with the code ``not-staffed``.
    """
    project = session.get(Project, project_id)
    if project is None or project.state is ProjectState.DRAFT:
        raise NotFound(gettext("No such project."))
    if access.find_active_membership(session, trainer.id, project_id) is None:
        raise not_staffed(session, trainer, project_id)
    return project


def not_staffed(session: Session, trainer: User, project_id: uuid.UUID) -> Forbidden:
    """What a trainer who is not an active member is told: ``NotFound`` for a project
    they may not see (raised here), else ``Forbidden`` ``not-staffed``, saying so when
    their consent withdrawal is what ended it."""
    project, _ = visible(session, trainer, project_id)
    latest = access.latest_memberships(session, trainer.id, [project.id]).get(project.id)
    withdrawn = _withdrawn_while_member(session, latest, project)
    if latest is None or not withdrawn:
        return Forbidden(gettext("You are not staffed on this project."), code="not-staffed")
    assert latest.ended_at is not None
    return Forbidden(
        gettext("You are not staffed on this project: you left it on %(ended_at)s when you "
                "withdrew your consent to %(categories)s content. To work on it again, opt in at "
                "/api/v1/me/content-consent and apply.",
                ended_at=format(latest.ended_at, '%Y-%m-%d'), categories=', '.join(withdrawn)),
        code="not-staffed", reason="consent-withdrawn", withdrawn_categories=withdrawn,
        left_at=latest.ended_at.isoformat(),
    )


def _withdrawn_while_member(
    session: Session, member: ProjectMember | None, project: Project
) -> list[str]:
    """The project's categories the trainer withdrew consent to while a member: such a
    withdrawal ends the membership at once (``wellbeing.withdrawal``), so it is why they
    left."""
    if (member is None or member.state is not MembershipState.LEFT
            or member.joined_at is None or member.ended_at is None):
        return []
    return consent.withdrawn_during(
        session, member.trainer_id, project.content_categories or [], member.joined_at,
        member.ended_at,
    )
