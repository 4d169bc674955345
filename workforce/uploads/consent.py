"""What a project that records voice declares, and each trainer's consent to it.

- A manager declares the project's recording policy: what is recorded, for what use,
  and how many days recordings are kept (audited). Everyone who may see the project
  reads it (trainers before they apply, and before they consent).
- A trainer consents per project, and may withdraw at any time; consenting again
  resumes. Without a consent in force, upload slots for recording fields are refused
  (409 ``recording-consent-required``): withdrawing stops new recordings. Recordings
  already made are kept for the declared days unless the trainer asks for them to be
  deleted (``uploads.retention``).
- The retention a recording gets is fixed when it is uploaded, from the policy the
  trainer consented to; a later change applies to later recordings.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.errors import Conflict, NotFound
from workforce.i18n import _
from workforce.projects import services
from workforce.projects.models import Project
from workforce.results import templates
from workforce.uploads.models import RecordingConsent, RecordingPolicy


def set_policy(session: Session, manager: User, project_id: uuid.UUID, *,
               what_is_recorded: str, purpose: str, retention_days: int
               ) -> RecordingPolicy:
    project = services.writable_project(session, manager, project_id)
    policy = session.get(RecordingPolicy, project.id)
    before = _as_dict(policy) if policy is not None else None
    if policy is None:
        policy = RecordingPolicy(project_id=project.id)
        session.add(policy)
    policy.what_is_recorded, policy.purpose = what_is_recorded, purpose
    policy.retention_days = retention_days
    policy.updated_at, policy.updated_by_id = clock.now(), manager.id
    session.flush()
    audit.record(session, manager, "project.recording_policy_changed",
                 object_type="project", object_id=project.id,
                 organisation_id=project.organisation_id, before=before,
                 after=_as_dict(policy))
    return policy


def _as_dict(policy: RecordingPolicy) -> dict[str, object]:
    return {"what_is_recorded": policy.what_is_recorded, "purpose": policy.purpose,
            "retention_days": policy.retention_days}


def policy_of(session: Session, project_id: uuid.UUID) -> RecordingPolicy | None:
    return session.get(RecordingPolicy, project_id)


def get_policy(session: Session, user: User, project_id: uuid.UUID) -> RecordingPolicy:
    """The project's policy, for its staff and the trainers who may see it."""
    project = templates.readable_project(session, user, project_id)
    policy = policy_of(session, project.id)
    if policy is None:
        raise NotFound(_("This project records no voice: it has no recording policy."))
    return policy


def _consent_row(session: Session, trainer: User, project_id: uuid.UUID
                 ) -> RecordingConsent | None:
    return session.scalars(select(RecordingConsent).where(
        RecordingConsent.project_id == project_id,
        RecordingConsent.trainer_id == trainer.id).with_for_update()).one_or_none()


def give_consent(session: Session, trainer: User, project_id: uuid.UUID
                 ) -> RecordingConsent:
    """Consent to the project's recordings as its policy describes them (again, after a
    withdrawal)."""
    policy = get_policy(session, trainer, project_id)
    consent = _consent_row(session, trainer, policy.project_id)
    if consent is None:
        consent = RecordingConsent(project_id=policy.project_id, trainer_id=trainer.id)
        session.add(consent)
    consent.consented_at, consent.withdrawn_at = clock.now(), None
    session.flush()
    _audit(session, trainer, consent, "recording_consent.given",
           {"policy": _as_dict(policy)})
    return consent


def withdraw_consent(session: Session, trainer: User, project_id: uuid.UUID
                     ) -> RecordingConsent:
    """Stop new recordings for the project (409 ``consent-not-given`` when none is in
    force)."""
    consent = get_consent(session, trainer, project_id)
    if consent.withdrawn_at is not None:
        raise Conflict(_("You have already withdrawn your consent to this project's "
                         "recordings."), code="consent-not-given")
    consent.withdrawn_at = clock.now()
    session.flush()
    _audit(session, trainer, consent, "recording_consent.withdrawn", None)
    return consent


def get_consent(session: Session, trainer: User, project_id: uuid.UUID
                ) -> RecordingConsent:
    templates.readable_project(session, trainer, project_id)
    consent = _consent_row(session, trainer, project_id)
    if consent is None:
        raise NotFound(_("You have not consented to this project's recordings."))
    return consent


def _audit(session: Session, trainer: User, consent: RecordingConsent, action: str,
           after: dict[str, object] | None) -> None:
    project = session.get_one(Project, consent.project_id)
    audit.record(session, trainer, action, object_type="project", object_id=project.id,
                 organisation_id=project.organisation_id, after=after)


def _consent_needed(project_id: uuid.UUID, *, withdrawn: bool) -> str:
    if withdrawn:
        return _("Recording needs your consent to this project's recording policy (GET "
                 "/api/v1/projects/%(project_id)s/recording-policy): give it at PUT "
                 "/api/v1/projects/%(project_id)s/recording-consent. You withdrew it.",
                 project_id=project_id)
    return _("Recording needs your consent to this project's recording policy (GET "
             "/api/v1/projects/%(project_id)s/recording-policy): give it at PUT "
             "/api/v1/projects/%(project_id)s/recording-consent.", project_id=project_id)


def require_consent(session: Session, trainer: User, project_id: uuid.UUID
                    ) -> RecordingPolicy:
    """The policy a new recording is made under; 409 ``recording-consent-required``
    without a consent in force."""
    policy = policy_of(session, project_id)
    consent = session.scalars(select(RecordingConsent).where(
        RecordingConsent.project_id == project_id,
        RecordingConsent.trainer_id == trainer.id)).one_or_none()
    if policy is None or consent is None or consent.withdrawn_at is not None:
        withdrawn = consent is not None and consent.withdrawn_at is not None
        raise Conflict(_consent_needed(project_id, withdrawn=withdrawn),
                       code="recording-consent-required")
    return policy
