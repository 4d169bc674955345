"""The aggregated answer of each task, per template field, and each project's aggregation
settings and watermark (issue 16).

``task_aggregates`` holds one row per task and field (its primary key, the table's only
index, and no foreign key: a project's first run writes a row per task and maintains one
index, not three, and checks no key per row):
the label (or number, or preferred side) the project's method concluded from the task's
final answers, with its confidence.
The aggregation job (``results.aggregation``) writes it; every reader goes through
:func:`for_tasks`. ``project_aggregations`` holds a project's choices (method per field,
confidence target, maximum redundancy) and what the job last did, so that it recomputes
only projects with new final answers (``answers_seen_at``) or a manager's request
(``requested_at``).

Every change to a task's results (an approval, an aggregate written, an answer
withdrawn) takes a *stamp* (:func:`next_stamp`), kept in ``task_results`` (a narrow row
per task with a result, indexed in the results' order: a stamp rewrites that row, not
the task's wide one): the project's next ``changed_at``, strictly later than the one
before, taken under the lock of the project's aggregation row, which the transaction
holds until it ends. Stamps are therefore committed in the order they are given: once
a reader sees a stamp, every smaller stamp of the project is committed or gone, and a
transaction still open will commit a larger one. The job's watermark and the results'
``updated_since`` compare stamps, so a late commit is never passed over. The price:
within one project, the end of an approval (from its stamp to its commit) waits for
any other approval's, and an aggregation run's last step for both.

This module stays light (no crowd-kit, no pandas): the models are imported everywhere.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    Uuid,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from workforce import clock
from workforce.db import Base, json_type
from workforce.money import Money
from workforce.projects import access
from workforce.projects.models import Task

T = TypeVar("T")
U = TypeVar("U")
METHODS = ("majority_vote", "dawid_skene", "glad", "mace", "mean_ci", "median_ci",
           "bradley_terry", "noisy_bt")


class TaskAggregate(Base):
    """One task's aggregate for one field. ``value`` is the label (choices), the number
    with its interval ({"mean", "median", "ci_low", "ci_high", "n"}) or the pairwise
    verdict ({"preferred": "A"|"B"|"tie", "probability": p, "scores": {...}});
    ``confidence`` the label's posterior probability (null where the value carries its
    own interval)."""

    __tablename__ = "task_aggregates"
    __table_args__ = (
        CheckConstraint("answers_count >= 0", name="answers_count_not_negative"),
        CheckConstraint("confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
                        name="confidence_probability"),
    )

    # No foreign key (migration 0032): PostgreSQL checked one per row written, seconds
    # of a large project's first run. The job is the only writer, and writes only tasks
    # it read from ``tasks`` in the same transaction; tasks are never deleted.
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(32))
    value: Mapped[Any] = mapped_column(json_type())
    confidence: Mapped[float | None] = mapped_column(Float)
    answers_count: Mapped[int]
    template_version: Mapped[int]
    computed_at: Mapped[datetime]


class TaskResult(Base):
    """When a task's results last changed (an approval, an aggregate written, an answer
    withdrawn): a stamp of :func:`next_stamp`. A task has a row once it has a result;
    the results' pages and sync read the project's rows in ``(stamp, task_id)`` order
    (``results.exports``). A table of its own rather than a column of ``tasks``: an
    aggregation run stamps every task it wrote (all of them on a project's first run),
    and rewriting a narrow row costs far less than a new version of the task's."""

    __tablename__ = "task_results"
    __table_args__ = (
        # The results' pages and sync, in their order.
        Index("ix_task_results_project_stamp", "project_id", "stamp", "task_id"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"))
    stamp: Mapped[datetime]


class ProjectAggregation(Base):
    """A project's aggregation settings and the job's watermark for it.

    ``methods`` maps a template field's name to its method (unset fields use their
    kind's default); ``confidence_target`` and ``max_redundancy`` turn on dynamic overlap.
    ``changed_at`` is the project's last stamp (see the module), ``answers_changed_at``
    the last approval's; ``answers_seen_at`` the approval stamp the last computation
    included (the project needs a run while it is behind ``answers_changed_at``);
    ``requested_at`` a manager's request not yet served when it is after
    ``computed_at``. ``summary`` is what the last run found (counts per field, methods).
    """

    __tablename__ = "project_aggregations"
    __table_args__ = (
        CheckConstraint("confidence_target IS NULL OR "
                        "(confidence_target > 0 AND confidence_target <= 1)",
                        name="confidence_target_probability"),
        CheckConstraint("max_redundancy IS NULL OR max_redundancy >= 1",
                        name="max_redundancy_positive"),
        CheckConstraint("extra_slots >= 0", name="extra_slots_not_negative"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"),
                                                  primary_key=True)
    methods: Mapped[dict[str, str]] = mapped_column(json_type(), default=dict)
    confidence_target: Mapped[float | None] = mapped_column(Float)
    max_redundancy: Mapped[int | None]
    requested_at: Mapped[datetime | None]
    changed_at: Mapped[datetime | None]
    answers_changed_at: Mapped[datetime | None]
    answers_seen_at: Mapped[datetime | None]
    computed_at: Mapped[datetime | None]
    # The job's last attempt that failed (rolled back; its error logged): shown while
    # it is later than computed_at. The project is tried again on every run.
    failed_at: Mapped[datetime | None]
    # Slots dynamic overlap has added to the project's tasks, all runs together.
    extra_slots: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict[str, Any] | None] = mapped_column(json_type())


def settings_row(session: Session, project_id: uuid.UUID) -> ProjectAggregation:
    """The project's aggregation row, made (with the defaults) on first use."""
    row = session.get(ProjectAggregation, project_id)
    if row is None:
        try:
            with session.begin_nested():
                row = ProjectAggregation(project_id=project_id, methods={})
                session.add(row)
        except IntegrityError:  # another transaction made it first
            row = session.get(ProjectAggregation, project_id, populate_existing=True)
    assert row is not None
    return row


def next_stamp(session: Session, project_id: uuid.UUID,
               now: datetime) -> tuple[ProjectAggregation, datetime]:
    """The project's next results stamp (``now``, or just after the last one if that is
    not earlier), and its aggregation row, locked until the transaction ends."""
    row = settings_row(session, project_id)
    session.refresh(row, ["changed_at"], with_for_update=True)
    last = row.changed_at
    stamp = now if last is None or now > last else last + timedelta(microseconds=1)
    row.changed_at = stamp
    return row, stamp


def answer_approved(session: Session, project_id: uuid.UUID, task_id: uuid.UUID,
                    now: datetime) -> datetime:
    """Record, in the approving transaction, that the task's results changed: the task
    and the project's ``answers_changed_at`` (the job's watermark) take a stamp."""
    row, stamp = next_stamp(session, project_id, now)
    row.answers_changed_at = stamp
    _stamp(session, project_id, stamp, [task_id])
    return stamp


def answers_withdrawn(session: Session, project_id: uuid.UUID,
                      task_ids: Sequence[uuid.UUID], now: datetime) -> None:
    """Record, in the withdrawing transaction, that approved answers of these tasks were
    withdrawn (their recordings deleted at the trainer's request): the tasks' results
    changed (exports leave the answers out from then on) and, like an approval, the
    change moves the job's watermark, so the project's aggregates are computed again."""
    if task_ids:
        row, stamp = next_stamp(session, project_id, now)
        row.answers_changed_at = stamp
        _stamp(session, project_id, stamp, list(task_ids))


def aggregates_written(session: Session, project_id: uuid.UUID,
                       task_ids: Sequence[uuid.UUID | str], now: datetime,
                       meanwhile: Callable[[], T] | None = None) -> T | None:
    """Record, in the aggregation run's transaction, that these tasks' aggregates were
    (or are about to be) written: they take a stamp (one for all).

    ``meanwhile``: Python work that does not touch the session (the job formats the
    rows it writes next), run while PostgreSQL writes the stamps, on the machine's other
    CPU (a project's first run stamps every task: seconds at 333,333); its result is
    returned."""
    if task_ids:
        stamp = next_stamp(session, project_id, now)[1]
        return _stamp(session, project_id, stamp, task_ids, meanwhile)
    return meanwhile() if meanwhile is not None else None


def _stamp(session: Session, project_id: uuid.UUID, stamp: datetime,
           task_ids: Sequence[uuid.UUID | str],
           meanwhile: Callable[[], T] | None = None) -> T | None:
    """The tasks' results stamp set to ``stamp``: their row of ``task_results`` made, or
    rewritten; on PostgreSQL in one statement whatever the count, the ids sorted by the
    server (the index is then walked in order: at 333,333 tasks a quarter faster than
    in any order, bench/RESULTS.md item 28; and no sort in Python), beside
    ``meanwhile`` (see :func:`aggregates_written`)."""
    rows = {"project_id": project_id, "stamp": stamp}
    if session.get_bind().dialect.name != "postgresql":
        lite = sqlite.insert(TaskResult)
        lite = lite.on_conflict_do_update(index_elements=[TaskResult.task_id],
                                          set_={"stamp": lite.excluded.stamp})
        for start in range(0, len(task_ids), 1000):
            session.execute(lite, [{"task_id": uuid.UUID(str(i)), **rows}
                                   for i in task_ids[start:start + 1000]])
        return meanwhile() if meanwhile is not None else None
    # The ids as one text parameter, an array literal that PostgreSQL parses in C (a
    # project's first run stamps all its tasks at once; a bound array of hundreds of
    # thousands of strings costs the driver more).
    ids = cast(bindparam("ids", "{" + ",".join(map(str, task_ids)) + "}", type_=Text),
               ARRAY(Uuid()))
    stmt = postgresql.insert(TaskResult).from_select(
        ["task_id", "project_id", "stamp"],
        select(func.unnest(ids).label("task_id"), literal(project_id, Uuid()),
               literal(stamp, TaskResult.stamp.type)).order_by(literal_column("task_id")))
    # One statement, whether the tasks have a row or not. (Not ``= ANY`` of the text:
    # its cast to uuid[] is not folded into a constant, so PostgreSQL would search the
    # whole array for every row, minutes at 333,333 ids.)
    stmt = stmt.on_conflict_do_update(index_elements=[TaskResult.task_id],
                                      set_={"stamp": stmt.excluded.stamp})
    if meanwhile is None:
        session.execute(stmt)
        return None
    return _beside(session, stmt, meanwhile)


def _beside(session: Session, stmt: Any, meanwhile: Callable[[], T]) -> T:
    """Run ``stmt`` on PostgreSQL while ``meanwhile`` runs (see :func:`beside`)."""
    statement = compiled(session, stmt)

    def run(driver: Any) -> None:
        with driver.cursor() as cursor:
            cursor.execute(str(statement), statement.params)

    return beside(session, run, meanwhile)[1]


def compiled(session: Session, stmt: Any) -> Any:
    """``stmt`` compiled for the session's database, to run on its driver's connection
    (:func:`beside`, the aggregation's streamed reads). Bound values go to the driver
    as they are (no column type's processing): pass plain ones (an enum's value). IN
    lists are written out."""
    return stmt.compile(dialect=session.get_bind().dialect,
                        compile_kwargs={"render_postcompile": True})


def beside(session: Session, work: Callable[[Any], U],
           meanwhile: Callable[[], T]) -> tuple[U, T]:
    """``work(connection)`` on the session's psycopg connection in a thread (the driver
    waits for PostgreSQL without holding the GIL, so the server works on the machine's
    other CPU) while ``meanwhile`` runs in this one; both finished, their results, or
    the first error raised. ``meanwhile`` must not touch the session: nothing else may
    use its connection until both are done."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    done: list[U] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(work(driver))
        except BaseException as error:  # handed to the caller
            failed.append(error)

    worker = threading.Thread(target=run, name="aggregation's database work", daemon=True)
    worker.start()
    try:
        result = meanwhile()
    finally:
        worker.join()
    if failed:
        raise failed[0]
    return done[0], result


def of_project(project_id: uuid.UUID) -> Any:
    """The condition picking a project's aggregates, through its tasks (the table holds
    no project: one foreign key less to check per row written)."""
    return TaskAggregate.task_id.in_(select(Task.id).where(Task.project_id == project_id))


@dataclass(frozen=True)
class Aggregate:
    """What readers (results, exports) get for one task and field."""

    field: str
    kind: str
    method: str
    value: Any
    confidence: float | None
    answers_count: int
    computed_at: datetime


def for_tasks(session: Session,
              task_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[str, Aggregate]]:
    """The aggregates of the given tasks: {task id: {field: Aggregate}}; a task without
    any is absent."""
    ids = list(task_ids)
    found: dict[uuid.UUID, dict[str, Aggregate]] = {}
    if not ids:
        return found
    rows = session.scalars(select(TaskAggregate).where(TaskAggregate.task_id.in_(ids))
                           .order_by(TaskAggregate.task_id, TaskAggregate.field))
    for row in rows:
        found.setdefault(row.task_id, {})[row.field] = Aggregate(
            field=row.field, kind=row.kind, method=row.method, value=row.value,
            confidence=row.confidence, answers_count=row.answers_count,
            computed_at=row.computed_at)
    return found


def extra_slots_cost(session: Session, project_id: uuid.UUID) -> Money | None:
    """What the slots dynamic overlap added cost at the project's current task rate
    (None for a project without a rate)."""
    rate = access.rate_at(session, project_id, clock.now())
    if rate is None:
        return None
    row = session.get(ProjectAggregation, project_id)
    return Money(rate.amount * (row.extra_slots if row else 0), rate.currency)
