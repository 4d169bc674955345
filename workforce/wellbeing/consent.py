"""Consent to sensitive content: the trainer's age attestation and their opt-in per
content category, and the checks that work and staffing make against them.

- A trainer attests once that they are 18 or over (kept with its time); without it no
  category can be consented to (409 ``age-attestation-required``, nothing written).
- Consent is per category (``ContentCategory``). Rows are history: a withdrawal stamps
  ``withdrawn_at`` and a later opt-in adds a new row.
- Joining (applying to, or accepting an invitation to) a sensitive or graphic project
  needs consent to each of its categories; so does claiming a task, for the task's
  effective categories (its own, else its project's), and starting a session on a
  sensitive project. Refusals are 409 ``consent-required`` naming what is missing.

Withdrawal and what it ends is in ``withdrawal`` (it needs staffing, which imports
this module).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.errors import Conflict
from workforce.i18n import _
from workforce.projects.models import ContentCategory, Project, Sensitivity
from workforce.wellbeing.models import AgeAttestation, ContentConsent

ORDER = list(ContentCategory)


@dataclass(frozen=True)
class ConsentView:
    """What a trainer has agreed to: the age attestation and the live opt-ins."""

    trainer_id: uuid.UUID
    age_attested_at: datetime | None
    consents: list[ContentConsent]

    @property
    def categories(self) -> list[str]:
        return [c.category.value for c in self.consents]


def attestation_of(session: Session, trainer_id: uuid.UUID) -> AgeAttestation | None:
    return session.get(AgeAttestation, trainer_id)


def live_consents(session: Session, trainer_id: uuid.UUID) -> list[ContentConsent]:
    found = session.scalars(
        select(ContentConsent).where(
            ContentConsent.trainer_id == trainer_id, ContentConsent.withdrawn_at.is_(None)
        )
    ).all()
    return sorted(found, key=lambda c: ORDER.index(c.category))


def consented(session: Session, trainer_id: uuid.UUID) -> set[str]:
    """The categories the trainer has opted in to now (none without an attestation)."""
    if attestation_of(session, trainer_id) is None:
        return set()
    return {c.category.value for c in live_consents(session, trainer_id)}


def view(session: Session, trainer: User) -> ConsentView:
    attestation = attestation_of(session, trainer.id)
    return ConsentView(
        trainer_id=trainer.id,
        age_attested_at=attestation.attested_at if attestation else None,
        consents=live_consents(session, trainer.id),
    )


# --- the checks ----------------------------------------------------------------------


def missing(granted: set[str], needed: Iterable[str]) -> list[str]:
    """The needed categories not granted, in the categories' own order."""
    wanted = set(needed) - granted
    return [c.value for c in ORDER if c.value in wanted]


class ConsentRequired(Conflict):
    """409 ``consent-required``: work or a project needs categories not consented to
    (the claim gate in ``limits`` decides which tasks)."""

    code = "consent-required"

    def __init__(self, detail: str, missing_categories: list[str], age_attested: bool) -> None:
        super().__init__(detail, missing_categories=missing_categories,
                         age_attested=age_attested)


def consent_required(what: str, lacking: list[str], attested: bool) -> ConsentRequired:
    return ConsentRequired(consent_message(what, lacking, attested), lacking, attested)


def consent_message(what: str, lacking: list[str], attested: bool) -> str:
    """``what`` (translated) is the sentence's subject: "The project X", "This task"."""
    names = {"what": what, "categories": ", ".join(lacking)}
    if attested:
        return _("%(what)s contains %(categories)s content, which you have not agreed to see. "
                 "Opt in at /api/v1/me/content-consent first.", **names)
    return _("%(what)s contains %(categories)s content, which you have not agreed to see. "
             "Attest that you are 18 or over and opt in at /api/v1/me/content-consent first.",
             **names)


def lacking_for_project(granted: set[str], project: Project) -> list[str]:
    """The project's categories the trainer has not consented to (``granted``, from
    ``consented``); none on a project without a content warning."""
    if project.sensitivity is Sensitivity.NONE:
        return []
    return missing(granted, project.content_categories or [])


def require_for_project(session: Session, trainer_id: uuid.UUID, project: Project) -> None:
    """Joining a sensitive or graphic project needs consent to each of its categories."""
    if project.sensitivity is Sensitivity.NONE:
        return
    lacking = lacking_for_project(consented(session, trainer_id), project)
    if lacking:
        raise consent_required(_("The project %(name)s", name=project.name), lacking,
                       attestation_of(session, trainer_id) is not None)


def withdrawn_during(
    session: Session, trainer_id: uuid.UUID, categories: Iterable[str], start: datetime,
    end: datetime,
) -> list[str]:
    """Which of ``categories`` the trainer withdrew consent to between ``start`` and
    ``end`` (both included), in the categories' own order."""
    wanted = [ContentCategory(c) for c in categories]
    if not wanted:
        return []
    found = set(session.scalars(
        select(ContentConsent.category).where(
            ContentConsent.trainer_id == trainer_id, ContentConsent.category.in_(wanted),
            ContentConsent.withdrawn_at >= start, ContentConsent.withdrawn_at <= end,
        )
    ))
    return [c.value for c in ORDER if c in found]


# --- giving consent ------------------------------------------------------------------


def attest_age(session: Session, trainer: User, *, now: datetime | None = None) -> bool:
    """Record the attestation once (audited); ``False`` when it was already made."""
    if attestation_of(session, trainer.id) is not None:
        return False
    now = now or clock.now()
    session.add(AgeAttestation(trainer_id=trainer.id, attested_at=now))
    session.flush()
    audit.record(session, trainer, "wellbeing.age_attested", object_type="user",
                 object_id=trainer.id, organisation_id=None,
                 after={"attested_at": now.isoformat()})
    return True


def give(session: Session, trainer: User, categories: Iterable[ContentCategory]) -> list[str]:
    """Opt in to each category not yet consented to (audited); returns those added.

    Refused with 409 ``age-attestation-required`` when the trainer has not attested
    being 18 or over."""
    wanted = [ContentCategory(c) for c in dict.fromkeys(categories)]
    if not wanted:
        return []
    if attestation_of(session, trainer.id) is None:
        raise Conflict(
            _("Attest that you are 18 or over (confirm_age_18_or_over) before opting in to "
              "sensitive content."),
            code="age-attestation-required",
            categories=[c.value for c in wanted],
        )
    have = {c.category for c in live_consents(session, trainer.id)}
    added = [c for c in ORDER if c in wanted and c not in have]
    if not added:
        return []
    now = clock.now()
    try:
        with session.begin_nested():
            for category in added:
                session.add(ContentConsent(trainer_id=trainer.id, category=category,
                                           given_at=now))
            session.flush()
    except IntegrityError:
        # The same opt-in sent twice at once: the other request recorded it.
        return []
    audit.record(session, trainer, "wellbeing.consent_given", object_type="user",
                 object_id=trainer.id, organisation_id=None,
                 after={"categories": [c.value for c in added]})
    return [c.value for c in added]
