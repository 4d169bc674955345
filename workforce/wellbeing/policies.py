"""Reading and changing an organisation's wellbeing policy (see ``models.WellbeingPolicy``
for what each field means and its default)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import STAFF_ROLES, User
from workforce.errors import Invalid
from workforce.i18n import _
from workforce.money import check_currency
from workforce.wellbeing.models import WellbeingPolicy

FIELDS = (
    "graphic_daily_minutes", "weekly_exposure_minutes", "break_after_minutes",
    "break_minutes", "graphic_cutoff_hour", "rotation_after_minutes",
    "checkin_after_minutes", "support_text", "support_links", "support_line",
    "wellbeing_contact_id", "counselling_after_minutes", "counselling_amount",
    "counselling_currency", "min_group_size",
)
_COUNSELLING = ("counselling_after_minutes", "counselling_amount", "counselling_currency")


def policy_for(session: Session, organisation_id: uuid.UUID) -> WellbeingPolicy:
    """The organisation's policy, or (not added to the session) one with the defaults."""
    found = session.get(WellbeingPolicy, organisation_id)
    if found is not None:
        return found
    # Callable defaults too (``support_links``: a new list), or the answer says null
    # where the document promises an array.
    defaults = {
        column.name: column.default.arg(None) if column.default.is_callable
        else column.default.arg
        for column in WellbeingPolicy.__table__.columns
        if column.default is not None
    }
    return WellbeingPolicy(organisation_id=organisation_id, **defaults)


def view(policy: WellbeingPolicy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in FIELDS} | {
        "organisation_id": policy.organisation_id, "updated_at": policy.updated_at,
    }


def update_policy(session: Session, admin: User, changes: dict[str, Any]) -> WellbeingPolicy:
    """Change some fields (audited). Limits apply from the next claim or session start."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValueError(f"not wellbeing-policy fields: {sorted(unknown)}")
    policy = policy_for(session, admin.organisation_id)
    before = view(policy)
    after = before | changes
    _check(session, admin, after)
    if changes.get("counselling_currency"):
        changes["counselling_currency"] = check_currency(changes["counselling_currency"])
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.updated_at = clock.now()
    policy.updated_by_id = admin.id
    if policy not in session:
        session.add(policy)
    session.flush()
    audit.record(
        session, admin, "organisation.wellbeing_policy_changed", object_type="organisation",
        object_id=admin.organisation_id, organisation_id=admin.organisation_id,
        before=_auditable(before), after=_auditable(view(policy)),
    )
    return policy


def _check(session: Session, admin: User, after: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    given = [name for name in _COUNSELLING if after.get(name) is not None]
    if given and len(given) < len(_COUNSELLING):
        for name in set(_COUNSELLING) - set(given):
            errors[name] = [_("Set all three counselling fields, or none.")]
    if after.get("counselling_currency"):
        try:
            check_currency(after["counselling_currency"])
        except ValueError as exc:
            errors["counselling_currency"] = [str(exc)]
    contact_id = after.get("wellbeing_contact_id")
    if contact_id is not None:
        contact = session.get(User, contact_id)
        if (contact is None or contact.organisation_id != admin.organisation_id
                or contact.role not in STAFF_ROLES or not contact.is_active):
            errors["wellbeing_contact_id"] = [_("Not an active staff member of your organisation.")]
    if errors:
        raise Invalid(_("The wellbeing policy is not valid."), errors=errors)


def _auditable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in values.items()
            if k in FIELDS}
