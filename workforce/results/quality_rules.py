"""A project's quality-control rules (issue 16), fair by construction.

Three kinds of rule, each over a trainer's most recent work on the project:

- ``gold_accuracy``: fewer than ``min_percent`` of the last ``sample_size`` gold tasks
  scored right (a score of 1). As in the quality figures, a wrong answer to a task the
  trainer flagged is not counted (``reviews.with_flagged`` counts flagged work only when
  it does not lower the figure: here, a right one).
- ``fast_submissions``: more than ``max_fast`` of the last ``sample_size`` submissions
  had fewer than ``min_seconds`` active seconds.
- ``agreement``: of the choice fields of the last ``sample_size`` approved tasks that
  have an aggregate, fewer than ``min_percent`` equal to the aggregated label.

Rules worth knowing:

- A rule never fires on fewer samples than its ``sample_size``, and compares integers
  (``hits * 100 < min_percent * samples``): no rounding decides anyone's fate.
- Each rule is evaluated when its figures change, in the same transaction: gold and
  speed rules on a submission (``after_submission``: the gold answer is scored then),
  agreement rules when the aggregation job has written a project's aggregates
  (``after_aggregation``).
- Rules act only forward: a trainer caught is kept from claiming new tasks on that
  project (``restrictions``) for the rule's ``duration_hours``, or until a manager
  decides when it has none. Nothing already submitted, approved or paid is rejected,
  reversed or taken back, and a lease held may still be submitted.
- At most one open restriction per rule and trainer (a partial unique key, and an
  ``INSERT ... ON CONFLICT DO NOTHING``), so concurrent submissions never restrict twice.
  Only work submitted after the rule last caught the trainer counts the next time: a
  trainer whose restriction ran out starts afresh instead of being caught at once by
  the same old answers.
- Rules are created, changed and disabled by the project's managers, audited
  (``object_type="quality_rule"``). A change applies to evaluations from then on; a
  disabled rule catches no one, and restrictions it set run their course.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select, update
from sqlalchemy.orm import Session

from workforce import db
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.errors import Invalid, NotFound
from workforce.i18n import ENGLISH, _, force_locale
from workforce.projects import access, services
from workforce.projects.models import Assignment, AssignmentState, Project
from workforce.results import restrictions
from workforce.results.aggregates import TaskAggregate
from workforce.results.models import QualityRestriction, QualityRule, RestrictionState, RuleKind
from workforce.results.quality import CHOICE_KINDS, DONE, agrees
from workforce.wellbeing import filters as wellbeing_filters

SYSTEM = audit.SystemActor("quality rules")
# The settings each kind takes; the others must be left out.
SETTINGS = {
    RuleKind.GOLD_ACCURACY: ("min_percent",),
    RuleKind.AGREEMENT: ("min_percent",),
    RuleKind.FAST_SUBMISSIONS: ("max_fast", "min_seconds"),
}
CHANGEABLE = ("sample_size", "min_percent", "max_fast", "min_seconds", "duration_hours",
              "enabled")


# --- managing rules ------------------------------------------------------------------


def list_rules(session: Session, staff: User, project_id: uuid.UUID) -> list[QualityRule]:
    access.get_project(session, staff, project_id)
    return list(session.scalars(select(QualityRule).where(
        QualityRule.project_id == project_id).order_by(QualityRule.created_at,
                                                       QualityRule.id)))


def create_rule(session: Session, manager: User, project_id: uuid.UUID, *, kind: RuleKind,
                **settings: Any) -> QualityRule:
    """A new rule of the project (audited). 422 names a setting the kind needs and
    lacks, one it does not take, or a ``max_fast`` not below ``sample_size``."""
    project = services.writable_project(session, manager, project_id)
    rule = QualityRule(project_id=project.id, kind=kind, created_by_id=manager.id,
                       enabled=settings.pop("enabled", True),
                       **{name: settings.get(name) for name in CHANGEABLE[:-1]})
    _check(rule)
    session.add(rule)
    session.flush()  # for its id in the audit record
    _audit(session, manager, rule, "created", None)
    return rule


def update_rule(session: Session, manager: User, project_id: uuid.UUID, rule_id: uuid.UUID,
                **changes: Any) -> QualityRule:
    """Change a rule's settings or switch it off and on (audited). Its kind is fixed."""
    services.writable_project(session, manager, project_id)
    rule = _rule(session, project_id, rule_id)
    before = _state(rule)
    for name, value in changes.items():
        setattr(rule, name, value)
    _check(rule)
    session.flush()
    _audit(session, manager, rule, "updated", before)
    return rule


def _rule(session: Session, project_id: uuid.UUID, rule_id: uuid.UUID) -> QualityRule:
    rule = session.get(QualityRule, rule_id)
    if rule is None or rule.project_id != project_id:
        raise NotFound(_("No such quality rule."))
    return rule


def _check(rule: QualityRule) -> None:
    needed = SETTINGS[rule.kind]
    errors: dict[str, list[str]] = {}
    for name in ("min_percent", "max_fast", "min_seconds"):
        value = getattr(rule, name)
        if name in needed and value is None:
            errors[name] = [_("Required for this kind of rule (%(kind)s).", kind=rule.kind.value)]
        elif name not in needed and value is not None:
            errors[name] = [_("Not a setting of a %(kind)s rule.", kind=rule.kind.value)]
    if rule.max_fast is not None and rule.max_fast >= rule.sample_size:
        errors["max_fast"] = [_("Must be less than sample_size (%(sample_size)s).",
                                sample_size=rule.sample_size)]
    if errors:
        raise Invalid(_("The rule's settings do not fit its kind."), errors=errors)


def _state(rule: QualityRule) -> dict[str, Any]:
    return {"kind": rule.kind, **{name: getattr(rule, name) for name in CHANGEABLE}}


def _audit(session: Session, manager: User, rule: QualityRule, verb: str,
           before: dict[str, Any] | None) -> None:
    project = session.get_one(Project, rule.project_id)
    audit.record(session, manager, f"quality_rule.{verb}", object_type="quality_rule",
                 object_id=rule.id, organisation_id=project.organisation_id,
                 before=before, after={"project_id": rule.project_id, **_state(rule)})


# --- the figures ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What a rule measured of one trainer: ``samples`` looked at (at most the rule's
    ``sample_size``), ``hits`` among them (right gold answers, fast submissions, fields
    equal to the aggregate) out of ``compared`` (the samples, or for agreement the
    fields compared)."""

    rule: QualityRule
    samples: int
    hits: int
    compared: int

    @property
    def caught(self) -> bool:
        rule = self.rule
        if self.samples < rule.sample_size or not self.compared:
            return False
        if rule.kind is RuleKind.FAST_SUBMISSIONS:
            assert rule.max_fast is not None
            return self.hits > rule.max_fast
        assert rule.min_percent is not None
        return self.hits * 100 < rule.min_percent * self.compared

    def as_data(self) -> dict[str, Any]:
        """The figures as the restriction keeps them; the ``summary`` is kept in English
        (a record, and the trainer's notices), and told in the reader's language where a
        problem or the marketplace shows it (``restrictions.describe``)."""
        rule = self.rule
        data: dict[str, Any] = {
            "rule": {"id": str(rule.id), **{name: getattr(rule, name) for name in (
                "kind", "sample_size", "min_percent", "max_fast", "min_seconds",
                "duration_hours")}},
            "samples": self.samples, "hits": self.hits, "compared": self.compared}
        with force_locale(ENGLISH):
            data["summary"] = restrictions.describe(data)
        return data


def _fresh(rule: QualityRule, trainer_id: Any) -> ColumnElement[bool]:
    """Work submitted under the rule as it stands (since it was made, or last changed or
    switched on: a trainer is never judged by a rule on work done before it said so),
    and after it last caught the trainer, if it did."""
    last = (select(func.max(QualityRestriction.starts_at))
            .where(QualityRestriction.rule_id == rule.id,
                   QualityRestriction.trainer_id == trainer_id).scalar_subquery())
    return and_(Assignment.submitted_at >= rule.updated_at,
                func.coalesce(Assignment.submitted_at > last, literal(True)))


def _recent(rule: QualityRule, trainer_id: uuid.UUID, *where: Any) -> Any:
    return (select(Assignment.id).where(
        Assignment.project_id == rule.project_id, Assignment.trainer_id == trainer_id,
        Assignment.state.in_(DONE), Assignment.submitted_at.is_not(None),
        _fresh(rule, trainer_id), *where)
        .order_by(Assignment.submitted_at.desc(), Assignment.id.desc())
        .limit(rule.sample_size).subquery())


def gold_figures(session: Session, rule: QualityRule, trainer_id: uuid.UUID) -> Figures:
    """The last ``sample_size`` gold tasks scored; a wrong answer to flagged work is left
    out, as in the quality figures."""
    counted = ~(wellbeing_filters.flagged(Assignment.id) & (Assignment.gold_score < 1))
    recent = _recent(rule, trainer_id, Assignment.gold_score.is_not(None), counted)
    samples, right = session.execute(
        select(func.count(), func.sum(case((Assignment.gold_score == 1, 1), else_=0)))
        .select_from(Assignment).join(recent, recent.c.id == Assignment.id)).one()
    return Figures(rule, samples, int(right or 0), samples)


def speed_figures(session: Session, rule: QualityRule, trainer_id: uuid.UUID) -> Figures:
    recent = _recent(rule, trainer_id, Assignment.active_seconds.is_not(None))
    samples, fast = session.execute(
        select(func.count(),
               func.sum(case((Assignment.active_seconds < rule.min_seconds, 1), else_=0)))
        .select_from(Assignment).join(recent, recent.c.id == Assignment.id)).one()
    return Figures(rule, samples, int(fast or 0), samples)


def agreement_figures(session: Session, rule: QualityRule,
                      trainer_id: uuid.UUID) -> Figures:
    return _agreement_of(session, rule, [trainer_id]).get(trainer_id, Figures(rule, 0, 0, 0))


def _agreement_of(session: Session, rule: QualityRule,
                  trainer_ids: list[uuid.UUID] | None) -> dict[uuid.UUID, Figures]:
    """Per trainer (all who have approved work, with None): their last ``sample_size``
    approved tasks that have a choice aggregate, and the fields equal to it."""
    aggregated = (select(TaskAggregate.task_id)
                  .where(TaskAggregate.task_id == Assignment.task_id,
                         TaskAggregate.kind.in_(CHOICE_KINDS)).exists())
    rank = func.row_number().over(partition_by=Assignment.trainer_id, order_by=(
        Assignment.submitted_at.desc(), Assignment.id.desc())).label("rank")
    where = [Assignment.project_id == rule.project_id,
             Assignment.state == AssignmentState.APPROVED, aggregated,
             _fresh(rule, Assignment.trainer_id)]
    if trainer_ids is not None:
        where.append(Assignment.trainer_id.in_(trainer_ids))
    ranked = select(Assignment.id, Assignment.trainer_id, Assignment.task_id,
                    Assignment.answer, rank).where(*where).subquery()
    rows = session.execute(
        select(ranked.c.trainer_id, ranked.c.id, ranked.c.answer, TaskAggregate.field,
               TaskAggregate.kind, TaskAggregate.value)
        .join(TaskAggregate, TaskAggregate.task_id == ranked.c.task_id)
        .where(ranked.c.rank <= rule.sample_size, TaskAggregate.kind.in_(CHOICE_KINDS)))
    tasks: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    tally: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    for trainer_id, assignment_id, answer, name, kind, value in rows:
        tasks[trainer_id].add(assignment_id)
        same = agrees(answer, name, kind, value)
        if same is not None:
            tally[trainer_id][0] += same
            tally[trainer_id][1] += 1
    return {trainer_id: Figures(rule, len(found), *tally[trainer_id])
            for trainer_id, found in tasks.items()}


FIGURES: dict[RuleKind, Callable[[Session, QualityRule, uuid.UUID], Figures]] = {
    RuleKind.GOLD_ACCURACY: gold_figures,
    RuleKind.FAST_SUBMISSIONS: speed_figures,
    RuleKind.AGREEMENT: agreement_figures,
}


# --- evaluating ----------------------------------------------------------------------


def _enabled(session: Session, project_id: uuid.UUID, kinds: tuple[RuleKind, ...]
             ) -> list[QualityRule]:
    return list(session.scalars(select(QualityRule).where(
        QualityRule.project_id == project_id, QualityRule.enabled.is_(True),
        QualityRule.kind.in_(kinds)).order_by(QualityRule.created_at, QualityRule.id)))


def after_submission(session: Session, assignment: Assignment, now: datetime
                     ) -> list[QualityRestriction]:
    """Evaluate the project's speed rules, and its gold rules when this submission was
    scored against a gold answer, for the submitting trainer."""
    kinds = (RuleKind.FAST_SUBMISSIONS,) + (
        (RuleKind.GOLD_ACCURACY,) if assignment.gold_score is not None else ())
    found = []
    for rule in _enabled(session, assignment.project_id, kinds):
        if _open_in_force(session, rule, assignment.trainer_id, now):
            continue
        figures = FIGURES[rule.kind](session, rule, assignment.trainer_id)
        if figures.caught:
            found += _restrict(session, rule, assignment.trainer_id, figures, now)
    return found


def after_aggregation(session: Session, project_id: uuid.UUID, now: datetime
                      ) -> list[QualityRestriction]:
    """Evaluate the project's agreement rules for every trainer with approved work,
    once the aggregation job has written the project's aggregates."""
    found = []
    for rule in _enabled(session, project_id, (RuleKind.AGREEMENT,)):
        held = set(session.scalars(select(QualityRestriction.trainer_id).where(
            QualityRestriction.rule_id == rule.id, QualityRestriction.in_force(now))))
        for trainer_id, figures in sorted(_agreement_of(session, rule, None).items()):
            if trainer_id not in held and figures.caught:
                found += _restrict(session, rule, trainer_id, figures, now)
    return found


def _open_in_force(session: Session, rule: QualityRule, trainer_id: uuid.UUID,
                   now: datetime) -> bool:
    return session.scalar(select(select(QualityRestriction.id).where(
        QualityRestriction.rule_id == rule.id, QualityRestriction.trainer_id == trainer_id,
        QualityRestriction.in_force(now)).exists())) or False


def _restrict(session: Session, rule: QualityRule, trainer_id: uuid.UUID, figures: Figures,
              now: datetime) -> list[QualityRestriction]:
    """Restrict the trainer under ``rule`` unless an open restriction of it exists (a
    concurrent submission's, committed or not: the partial unique key decides). One that
    ran out is closed first. Returns the new restriction, if any."""
    session.execute(
        update(QualityRestriction)
        .where(QualityRestriction.rule_id == rule.id,
               QualityRestriction.trainer_id == trainer_id,
               QualityRestriction.closed_at.is_(None), QualityRestriction.ends_at <= now)
        .values(closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    insert = db.insert_for(session.get_bind().dialect.name)
    ends_at = (now + timedelta(hours=rule.duration_hours)
               if rule.duration_hours is not None else None)
    created = session.scalars(
        insert(QualityRestriction)
        .values(id=uuid.uuid4(), rule_id=rule.id, project_id=rule.project_id,
                trainer_id=trainer_id, state=RestrictionState.RESTRICTED,
                figures=figures.as_data(), starts_at=now, ends_at=ends_at,
                created_at=now, updated_at=now)
        .on_conflict_do_nothing(
            index_elements=[QualityRestriction.rule_id, QualityRestriction.trainer_id],
            index_where=QualityRestriction.closed_at.is_(None))
        .returning(QualityRestriction)).all()
    for restriction in created:
        restrictions.announce(session, SYSTEM, restriction)
    return list(created)
