"""Restrictions set by quality rules (``quality_rules``): what they stop, what the trainer
sees and may do, and what a manager decides.

- A restriction keeps the trainer from claiming new tasks on its project while it is in
  force: not closed and before ``ends_at`` (None: until a manager decides). That is
  decided when it is read (``require_claim_allowed``, ``unmet``): nothing waits for a
  job to lift it. A lease the trainer already holds may still be submitted (and claiming
  again returns it), and nothing already submitted, approved or paid is touched.
- The trainer is told at once, with the rule and the figures that caught them, and sees
  their restrictions at ``/me/quality-restrictions``. They may ask for a review once,
  in writing (``appeal``), while the restriction is in force.
- A manager of the project's organisation confirms it, shortens it (a new, earlier end,
  still to come) or lifts it (it ends now), always with a written reason the trainer is
  told. Everything is audited (``object_type="quality_restriction"``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.audit import Actor
from workforce.accounts.models import User
from workforce.errors import Conflict, Forbidden, Invalid, NotFound
from workforce.i18n import _, lazy_gettext
from workforce.lifecycle import Lifecycle
from workforce.notifications.services import tell
from workforce.notifications.texts import moment
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access, services
from workforce.projects.eligibility import Unmet
from workforce.projects.models import Project
from workforce.results.models import QualityRestriction, RuleKind
from workforce.results.models import RestrictionState as S

QUALITY_RESTRICTED = "quality-restricted"
RESTRICTIONS = Lifecycle(lazy_gettext("A quality restriction"), {
    S.RESTRICTED: frozenset({S.APPEALED, S.CONFIRMED, S.SHORTENED, S.LIFTED}),
    S.APPEALED: frozenset({S.CONFIRMED, S.SHORTENED, S.LIFTED}),
    S.CONFIRMED: frozenset({S.APPEALED, S.SHORTENED, S.LIFTED}),
    S.SHORTENED: frozenset({S.APPEALED, S.SHORTENED, S.LIFTED}),
    S.LIFTED: frozenset(),
})


class Decision(StrEnum):
    CONFIRM = "confirm"
    SHORTEN = "shorten"
    LIFT = "lift"


TARGETS = {Decision.CONFIRM: S.CONFIRMED, Decision.SHORTEN: S.SHORTENED,
           Decision.LIFT: S.LIFTED}


# --- at the claim and in the marketplace ---------------------------------------------


def in_force_for(session: Session, trainer_id: uuid.UUID, project_ids: Iterable[uuid.UUID],
                 now: datetime) -> dict[uuid.UUID, QualityRestriction]:
    """Per project, the trainer's restriction in force that ends last (None last)."""
    found: dict[uuid.UUID, QualityRestriction] = {}
    rows = session.scalars(select(QualityRestriction).where(
        QualityRestriction.trainer_id == trainer_id,
        QualityRestriction.project_id.in_(list(project_ids)),
        QualityRestriction.in_force(now)))
    for restriction in rows:
        held = found.get(restriction.project_id)
        if held is None or _later(restriction, held):
            found[restriction.project_id] = restriction
    return found


def _later(one: QualityRestriction, other: QualityRestriction) -> bool:
    if other.ends_at is None:
        return False
    return one.ends_at is None or one.ends_at > other.ends_at


def require_claim_allowed(session: Session, trainer_id: uuid.UUID, project_id: uuid.UUID,
                          now: datetime) -> None:
    """403 ``quality-restricted`` while a restriction of the project is in force."""
    restriction = in_force_for(session, trainer_id, [project_id], now).get(project_id)
    if restriction is not None:
        raise Forbidden(_refusal(restriction), code=QUALITY_RESTRICTED,
                        restriction_id=str(restriction.id),
                        ends_at=_iso(restriction.ends_at))


def unmet(session: Session, trainer_id: uuid.UUID, project_ids: Iterable[uuid.UUID],
          now: datetime) -> dict[uuid.UUID, list[Unmet]]:
    """What the marketplace shows for each project the trainer is restricted on."""
    return {project_id: [Unmet(None, QUALITY_RESTRICTED, _refusal(restriction))]
            for project_id, restriction in in_force_for(session, trainer_id, project_ids,
                                                        now).items()}


def _refusal(restriction: QualityRestriction) -> str:
    """Why the trainer may not claim, in the reader's language."""
    told = {"figures": describe(restriction.figures),
            "link": f"/api/v1/me/quality-restrictions/{restriction.id}"}
    if restriction.ends_at is None:
        return _("You may not claim new tasks on this project until a manager decides: "
                 "%(figures)s. See %(link)s. Work you already submitted stays as it is: "
                 "nothing is rejected, reversed or taken back, and approved work is paid. "
                 "A task you hold may still be submitted.", **told)
    return _("You may not claim new tasks on this project until %(ends_at)s UTC: "
             "%(figures)s. See %(link)s. Work you already submitted stays as it is: "
             "nothing is rejected, reversed or taken back, and approved work is paid. A "
             "task you hold may still be submitted.",
             ends_at=clock.as_utc(restriction.ends_at).strftime("%Y-%m-%d %H:%M"),
             **told)


def describe(figures: Mapping[str, Any]) -> str:
    """The figures that caught the trainer in words (``quality_rules.Figures.as_data``,
    as a restriction keeps them)."""
    told = figure_params(figures)
    if told["fast"]:
        return _("%(hits)s of your last %(samples)s submissions were submitted in under "
                 "%(min_seconds)s seconds, more than the rule's %(max_fast)s", **told)
    if told["gold"]:
        return _("gold accuracy %(hits)s/%(compared)s = %(percent)s%% over your last "
                 "%(samples)s gold tasks, below the rule's %(min_percent)s%%", **told)
    return _("agreement with the aggregated answers %(hits)s/%(compared)s = %(percent)s%% "
             "over %(compared)s fields of your last %(samples)s approved tasks, below the "
             "rule's %(min_percent)s%%", **told)


def figure_params(figures: Mapping[str, Any]) -> dict[str, Any]:
    """The figures as the parameters of their sentence (here and in ``FIGURES`` of the
    notices): which rule caught the trainer and its numbers."""
    rule = figures["rule"]
    kind = RuleKind(rule["kind"])
    told = {"hits": figures["hits"], "compared": figures["compared"],
            "samples": figures["samples"], "fast": kind is RuleKind.FAST_SUBMISSIONS,
            "gold": kind is RuleKind.GOLD_ACCURACY,
            "agreement": kind not in (RuleKind.FAST_SUBMISSIONS, RuleKind.GOLD_ACCURACY)}
    if told["fast"]:
        return told | {"min_seconds": rule["min_seconds"], "max_fast": rule["max_fast"]}
    return told | {"percent": round(100 * figures["hits"] / figures["compared"]),
                   "min_percent": rule["min_percent"]}


def _iso(when: datetime | None) -> str | None:
    return None if when is None else clock.as_utc(when).isoformat()


# --- telling the trainer -------------------------------------------------------------


def announce(session: Session, actor: Actor, restriction: QualityRestriction) -> None:
    """Audit a new restriction and tell the trainer at once, with the figures."""
    _audit(session, actor, restriction, "created", None)
    _tell(session, restriction, "quality.restricted", {
        **figure_params(restriction.figures),
        "appeal_path": f"/api/v1/me/quality-restrictions/{restriction.id}/appeal",
    }, figures=restriction.figures)


def _tell(session: Session, restriction: QualityRestriction, kind: str,
          params: dict[str, Any], **data: object) -> None:
    project = session.get_one(Project, restriction.project_id)
    tell(session, restriction.trainer_id, kind, {
        "project": project.name, "ends_at": moment(restriction.ends_at), **params,
    }, data={
        "restriction_id": str(restriction.id), "rule_id": str(restriction.rule_id),
        "project_id": str(restriction.project_id), "state": restriction.state.value,
        "ends_at": _iso(restriction.ends_at), **data})


def _audit(session: Session, actor: Actor, restriction: QualityRestriction, verb: str,
           before: dict[str, object] | None) -> None:
    project = session.get_one(Project, restriction.project_id)
    audit.record(
        session, actor, f"quality_restriction.{verb}", object_type="quality_restriction",
        object_id=restriction.id, organisation_id=project.organisation_id, before=before,
        after={"state": restriction.state, "trainer_id": restriction.trainer_id,
               "rule_id": restriction.rule_id, "project_id": restriction.project_id,
               "ends_at": restriction.ends_at, "closed_at": restriction.closed_at,
               "figures": restriction.figures})


def _before(restriction: QualityRestriction) -> dict[str, object]:
    return {"state": restriction.state, "ends_at": restriction.ends_at}


# --- the trainer's side --------------------------------------------------------------


def list_mine(session: Session, trainer: User, page: PageRequest
              ) -> Page[QualityRestriction]:
    """Every restriction set on the trainer, newest first."""
    stmt = select(QualityRestriction).where(QualityRestriction.trainer_id == trainer.id)
    return paginate(session, stmt, page, created_at=QualityRestriction.created_at,
                    row_id=QualityRestriction.id)


def get_mine(session: Session, trainer: User, restriction_id: uuid.UUID
             ) -> QualityRestriction:
    return _own(session, trainer, restriction_id)


def _own(session: Session, trainer: User, restriction_id: uuid.UUID, *, lock: bool = False
         ) -> QualityRestriction:
    restriction = _get(session, restriction_id, lock=lock)
    if restriction is None or restriction.trainer_id != trainer.id:
        raise NotFound(_("No such quality restriction."))
    return restriction


def appeal(session: Session, trainer: User, restriction_id: uuid.UUID, *, text: str
           ) -> QualityRestriction:
    """Ask for a review, once, while the restriction is in force; the project's
    managers are told."""
    restriction = _own(session, trainer, restriction_id, lock=True)
    _require_in_force(restriction)
    if restriction.appealed_at is not None:
        raise Conflict(_("You asked for a review of this restriction already."),
                       code="already-appealed")
    before = _before(restriction)
    RESTRICTIONS.move(restriction, S.APPEALED)
    restriction.appeal, restriction.appealed_at = text, clock.now()
    session.flush()
    _audit(session, trainer, restriction, "appealed", before)
    _tell(session, restriction, "quality.appealed", {})
    project = session.get_one(Project, restriction.project_id)
    for manager_id in services.manager_ids(session, project.organisation_id):
        tell(session, manager_id, "quality.appeal_received", {
            "project": project.name,
            "decision_path": f"/api/v1/quality-restrictions/{restriction.id}/decision",
        }, data={"restriction_id": str(restriction.id), "project_id": str(project.id)})
    return restriction


def _require_in_force(restriction: QualityRestriction) -> None:
    if not restriction.in_force_now:
        raise Conflict(_("The restriction is no longer in force."),
                       code="restriction-not-in-force", current_state=restriction.state.value)


# --- the managers' side --------------------------------------------------------------


def list_for_project(session: Session, staff: User, project_id: uuid.UUID,
                     page: PageRequest, *, trainer_id: uuid.UUID | None = None,
                     in_force: bool | None = None) -> Page[QualityRestriction]:
    access.get_project(session, staff, project_id)
    stmt = select(QualityRestriction).where(QualityRestriction.project_id == project_id)
    if trainer_id is not None:
        stmt = stmt.where(QualityRestriction.trainer_id == trainer_id)
    if in_force is not None:
        condition = QualityRestriction.in_force(clock.now())
        stmt = stmt.where(condition if in_force else ~condition)
    return paginate(session, stmt, page, created_at=QualityRestriction.created_at,
                    row_id=QualityRestriction.id)


def get_for_staff(session: Session, staff: User, restriction_id: uuid.UUID
                  ) -> QualityRestriction:
    return _of_organisation(session, staff, restriction_id)


def decide(session: Session, manager: User, restriction_id: uuid.UUID, *,
           decision: Decision, reason: str, ends_at: datetime | None = None
           ) -> QualityRestriction:
    """Confirm, shorten (``ends_at``: a new end, still to come and before the current
    one) or lift a restriction in force, with a written reason; the trainer is told."""
    restriction = _of_organisation(session, manager, restriction_id, lock=True)
    _require_in_force(restriction)
    now = clock.now()
    before = _before(restriction)
    RESTRICTIONS.check(restriction.state, TARGETS[decision])
    if decision is Decision.SHORTEN:
        restriction.ends_at = _shorter_end(restriction, ends_at, now)
    elif ends_at is not None:
        raise Invalid(_("Only a shortened restriction takes a new end."), errors={
            "ends_at": [_("Not used when you %(decision)s.", decision=decision.value)]})
    if decision is Decision.LIFT:
        restriction.closed_at = now
    RESTRICTIONS.move(restriction, TARGETS[decision])
    restriction.decision_reason, restriction.decided_by_id = reason, manager.id
    restriction.decided_at = now
    session.flush()
    _audit(session, manager, restriction, "decided", before)
    said = {Decision.CONFIRM: "confirmed" if restriction.ends_at else "confirmed_open",
            Decision.SHORTEN: "shortened", Decision.LIFT: "lifted"}[decision]
    _tell(session, restriction, "quality.decided", {said: True, "reason": reason},
          decision=decision.value, reason=reason)
    return restriction


def _shorter_end(restriction: QualityRestriction, ends_at: datetime | None,
                 now: datetime) -> datetime:
    if ends_at is None:
        raise Invalid(_("A shortened restriction needs its new end."),
                      errors={"ends_at": [_("Required to shorten.")]})
    ends_at = clock.as_utc(ends_at)
    if ends_at <= now:
        raise Invalid(_("The new end must be still to come; lift the restriction to end "
                        "it now."), errors={"ends_at": [_("Must be in the future.")]})
    if restriction.ends_at is not None and ends_at >= clock.as_utc(restriction.ends_at):
        raise Invalid(_("The new end must come before the current one."), errors={
            "ends_at": [_("Must be before %(ends_at)s.",
                          ends_at=clock.as_utc(restriction.ends_at).isoformat())]})
    return ends_at


def _of_organisation(session: Session, staff: User, restriction_id: uuid.UUID, *,
                     lock: bool = False) -> QualityRestriction:
    restriction = _get(session, restriction_id, lock=lock)
    project = session.get(Project, restriction.project_id) if restriction else None
    if project is None or project.organisation_id != staff.organisation_id:
        raise NotFound(_("No such quality restriction."))
    assert restriction is not None
    return restriction


def _get(session: Session, restriction_id: uuid.UUID, *, lock: bool
         ) -> QualityRestriction | None:
    stmt = select(QualityRestriction).where(QualityRestriction.id == restriction_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).one_or_none()
