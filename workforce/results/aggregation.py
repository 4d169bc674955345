"""Aggregating a project's final answers into one result per task and field, choosing
the method per field, dynamic overlap, and the watermark that tells the job which
projects changed (issue 16).

Rules worth knowing:

- A task's answers are final when the task needs no more (no open slot, no lease,
  submission or revision pending); only final tasks get an aggregate. The models are fit
  on every approved answer of the project (the workers' reliability is learnt from all
  their work), and each approved answer counts with the template version it was
  claimed under: an answer whose version has no field of that name and kind is left out.
- Methods per field (``project_aggregations.methods``) are checked against the kinds of
  the current template: choices take majority_vote, dawid_skene (default), glad or
  mace; ratings and numbers mean_ci (default) or median_ci; pairwise bradley_terry
  (default) or noisy_bt; text, rubric and span are not aggregated.
- An aggregate's ``computed_at`` is when its value or confidence last changed; a run
  that finds the same result leaves the row alone (incremental exports stay small).
- Dynamic overlap: with a confidence target and a maximum redundancy set, a final task
  whose confidence on any aggregated field is below the target gets one more slot
  (redundancy and open slots + 1), once per round, until the maximum. Ratings and
  numbers have no confidence (their interval is in the value) and never ask for one.
- Aggregation never runs inside a web request: the API records a request, the
  scheduler's job (``results.jobs``) does the work.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import islice
from typing import Any, NamedTuple

from sqlalchemy import (
    String,
    cast,
    delete,
    exists,
    func,
    insert,
    null,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from workforce import clock, db
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.errors import Invalid
from workforce.i18n import gettext
from workforce.money import Money
from workforce.projects import access, services
from workforce.projects.models import Assignment, AssignmentState, Project, Task
from workforce.results import methods
from workforce.results.aggregates import (
    ProjectAggregation,
    TaskAggregate,
    aggregates_written,
    beside,
    compiled,
    extra_slots_cost,
    of_project,
    settings_row,
)
from workforce.results.models import TemplateVersion

PENDING = (AssignmentState.LEASED, AssignmentState.SUBMITTED,
           AssignmentState.REVISION_REQUESTED)
SYSTEM = audit.SystemActor("aggregation job")


# --- settings ------------------------------------------------------------------------


def _current_fields(session: Session, project_id: uuid.UUID) -> list[dict[str, Any]]:
    version = session.scalars(select(TemplateVersion)
                              .where(TemplateVersion.project_id == project_id)
                              .order_by(TemplateVersion.number.desc()).limit(1)).first()
    return list(version.fields) if version is not None else []


def effective_methods(fields: Iterable[dict[str, Any]],
                      chosen: dict[str, str]) -> dict[str, tuple[str, str]]:
    """{field name: (kind, method)} for every aggregated field of a template: the
    chosen method where one is set and fits the kind, else the kind's default."""
    found = {}
    for spec in fields:
        allowed = methods.BY_KIND.get(spec["kind"])
        if allowed:
            method = chosen.get(spec["name"])
            found[spec["name"]] = (spec["kind"], method if method in allowed else allowed[0])
    return found


def update_settings(session: Session, manager: User, project_id: uuid.UUID, *,
                    methods_by_field: dict[str, str], confidence_target: float | None,
                    max_redundancy: int | None) -> ProjectAggregation:
    """Set the method per field and the dynamic-overlap settings (audited); a change
    asks for the project to be recomputed with them (``pending``: the job's next run).
    A method naming a field the current template lacks, or not fitting its kind, is
    refused (422, each problem at ``/methods/<field>``)."""
    project = services.writable_project(session, manager, project_id)
    kinds = {f["name"]: f["kind"] for f in _current_fields(session, project.id)}
    errors: dict[str, list[str]] = {}
    for name, method in methods_by_field.items():
        allowed = methods.BY_KIND.get(kinds.get(name, ""), ())
        if name not in kinds:
            errors[f"/methods/{name}"] = [
                gettext("The current template has no field of this name.")]
        elif method not in allowed:
            errors[f"/methods/{name}"] = [
                f"A {kinds[name]} field " + (f"takes one of {', '.join(allowed)}."
                                            if allowed else "is not aggregated.")]
    if (confidence_target is None) != (max_redundancy is None):
        errors["/confidence_target" if confidence_target is None else "/max_redundancy"] \
            = [gettext("Give confidence_target and max_redundancy together (or neither).")]
    if errors:
        raise Invalid(gettext("The aggregation settings have problems; nothing was saved."),
                      errors=errors)
    row = settings_row(session, project.id)
    before = _settings_of(row)
    row.methods = dict(methods_by_field)
    row.confidence_target, row.max_redundancy = confidence_target, max_redundancy
    if _settings_of(row) != before:  # the aggregates (and extra slots) follow the settings
        row.requested_at = clock.now()
    session.flush()
    audit.record(session, manager, "project.aggregation_settings_changed",
                 object_type="project", object_id=project.id,
                 organisation_id=project.organisation_id, before=before,
                 after=_settings_of(row))
    return row


def _settings_of(row: ProjectAggregation) -> dict[str, Any]:
    return {"methods": dict(row.methods or {}), "confidence_target": row.confidence_target,
            "max_redundancy": row.max_redundancy}


# --- reading the state ---------------------------------------------------------------


@dataclass(frozen=True)
class AggregationState:
    """What ``GET /projects/{id}/aggregation`` shows."""

    project_id: uuid.UUID
    fields: list[dict[str, str]]
    confidence_target: float | None
    max_redundancy: int | None
    requested_at: datetime | None
    computed_at: datetime | None
    failed_at: datetime | None  # the last attempt, if it failed after computed_at
    pending: bool
    tasks_aggregated: int
    aggregates: int
    below_target: int
    extra_slots: int
    extra_slots_cost: Money | None
    summary: dict[str, Any] | None


def get_state(session: Session, staff: User, project_id: uuid.UUID) -> AggregationState:
    project = access.get_project(session, staff, project_id)
    row = session.get(ProjectAggregation, project.id) or ProjectAggregation(
        project_id=project.id, methods={})
    chosen = effective_methods(_current_fields(session, project.id), row.methods or {})
    counts = session.execute(
        select(func.count(func.distinct(TaskAggregate.task_id)), func.count(),
               func.count().filter(TaskAggregate.confidence < row.confidence_target)
               if row.confidence_target is not None else func.sum(0))
        .where(of_project(project.id))).one()
    return AggregationState(
        project_id=project.id,
        fields=[{"field": name, "kind": kind, "method": method}
                for name, (kind, method) in chosen.items()],
        confidence_target=row.confidence_target, max_redundancy=row.max_redundancy,
        requested_at=row.requested_at, computed_at=row.computed_at,
        failed_at=_failed_since(row), pending=_pending(row),
        tasks_aggregated=int(counts[0]), aggregates=int(counts[1]),
        below_target=int(counts[2] or 0), extra_slots=row.extra_slots or 0,
        extra_slots_cost=extra_slots_cost(session, project.id),
        summary={k: v for k, v in (row.summary or {}).items() if k != "skills"} or None)


def _failed_since(row: ProjectAggregation) -> datetime | None:
    """The last attempt's failure, unless a run has computed the project since."""
    if row.failed_at is None or (row.computed_at and row.computed_at > row.failed_at):
        return None
    return row.failed_at


def run_failed(session: Session, project_id: uuid.UUID, now: datetime) -> None:
    """Record, in a unit of work of its own after the failed run's rollback, that the
    job's attempt at the project failed (``GET /projects/{id}/aggregation`` shows it)."""
    settings_row(session, project_id).failed_at = now
    session.flush()


def _pending(row: ProjectAggregation) -> bool:
    return row.requested_at is not None and (row.computed_at is None
                                             or row.requested_at > row.computed_at)


def request(session: Session, manager: User, project_id: uuid.UUID) -> AggregationState:
    """Ask for the project's aggregates to be recomputed; the job does it on its next
    run (or ``workforce jobs run results.aggregate``)."""
    project = access.get_project(session, manager, project_id)
    settings_row(session, project.id).requested_at = clock.now()
    session.flush()
    return get_state(session, manager, project.id)


# --- which projects changed -----------------------------------------------------------


def changed_projects(session: Session) -> list[uuid.UUID]:
    """Projects with an approval after their last computation's (stamps, see
    ``aggregates``), or a request not yet served (those first). Projects without a
    template have nothing to aggregate."""
    row = ProjectAggregation
    templated = select(TemplateVersion.project_id)
    behind = select(row.project_id).where(
        row.project_id.in_(templated), row.answers_changed_at.is_not(None),
        or_(row.answers_seen_at.is_(None), row.answers_changed_at > row.answers_seen_at))
    requested = select(row.project_id).where(
        row.requested_at.is_not(None),
        or_(row.computed_at.is_(None), row.requested_at > row.computed_at))
    return list(dict.fromkeys([*session.scalars(requested), *session.scalars(behind)]))


def lock_for_run(session: Session, project_id: uuid.UUID) -> ProjectAggregation | None:
    """The project's row for one run, or None when another process is running it.

    PostgreSQL: a transaction-scoped advisory lock on the project, not a row lock, so a
    manager's request or settings change (which update the row) never waits for a run
    of a large project; the run updates only its own columns, at its end. SQLite
    serialises writers anyway."""
    row = settings_row(session, project_id)
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(project_id.bytes[:8], "big", signed=True)
        if not session.scalar(select(func.pg_try_advisory_xact_lock(key))):
            return None
    return row


# --- computing -------------------------------------------------------------------------


@dataclass
class RunResult:
    tasks: int = 0
    written: int = 0
    removed: int = 0  # aggregates no longer found (see ``_gone``)
    slots_added: int = 0
    by_field: dict[str, dict[str, Any]] = field(default_factory=dict)
    # {field: {trainer id: skill}}: kept for the trainers' quality figures, never shown
    # in the aggregation's summary (which names no trainer).
    skills: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class _Answers:
    """The project's approved answers as parallel columns: task, worker, template
    version, and per aggregated field its value (None where the answer has none, or its
    version no field of that name and kind). Only those values are kept, not the
    answers: memory grows with the answers aggregated, not with what else they hold."""

    # Ids as text, as the database writes them: hashing text is done in C, hashing a
    # UUID object in Python, and a large project's run hashes ids millions of times.
    tasks: list[str] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    values: dict[str, list[Any]] = field(default_factory=dict)
    # A rating's or number's bounds in the current template: its interval stays inside.
    scales: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)


def _answers(session: Session, project_id: uuid.UUID, versions: list[TemplateVersion],
             chosen: dict[str, tuple[str, str]]) -> _Answers:
    found = _Answers(values={name: [] for name in chosen}, scales={
        f["name"]: ((f.get("settings") or {}).get("min"), (f.get("settings") or {}).get("max"))
        for f in versions[-1].fields if f["kind"] in ("rating", "number")})
    starts = [v.created_at for v in versions]
    # Which fields each version asks under the kind aggregated now.
    wanted = {v.number: {f["name"] for f in v.fields
                         if chosen.get(f["name"], ("",))[0] == f["kind"]} for v in versions}
    columns = Assignment.__table__.c
    # Each field's value picked out by the database: a single choice as text (no JSON to
    # decode for the commonest kind), the others as JSON.
    picked = [columns.answer[name].as_string() if kind == "single_choice"
              else columns.answer[name] for name, (kind, _) in chosen.items()]
    names = list(chosen)
    # Work claimed before the first version has no template; with one version, every
    # other answer is under it and the claim time need not be read.
    several = len(versions) > 1
    batches = _batches(session, select(_id(columns.task_id), _id(columns.trainer_id),
                                       columns.claimed_at if several else null(), *picked)
                       .where(columns.project_id == project_id,
                              columns.state == AssignmentState.APPROVED.value,
                              columns.answer_withdrawn_at.is_(None),
                              columns.claimed_at >= starts[0]))
    for batch in batches:
        if several:
            _add_rows(found, batch, names, wanted, versions, starts)
        elif batch:
            # One version: the batch's columns as they come, no loop in Python per row.
            task_ids, trainer_ids, _, *values = zip(*batch, strict=True)
            found.tasks.extend(task_ids)
            found.workers.extend(trainer_ids)
            found.versions.extend([versions[0].number] * len(batch))
            asked = wanted[versions[0].number]
            for name, column in zip(names, values, strict=True):
                found.values[name].extend(column if name in asked else [None] * len(batch))
    return found


def _add_rows(found: _Answers, batch: list[tuple[Any, ...]], names: list[str],
              wanted: dict[int, set[str]], versions: list[TemplateVersion],
              starts: list[datetime]) -> None:
    """Answers of a project with several template versions: each counts with its own."""
    for task_id, trainer_id, claimed_at, *values in batch:
        number = versions[bisect.bisect_right(starts, claimed_at) - 1].number
        found.tasks.append(task_id)
        found.workers.append(trainer_id)
        found.versions.append(number)
        asked = wanted[number]
        for name, value in zip(names, values, strict=True):
            found.values[name].append(value if name in asked else None)


def _batches(session: Session, stmt: Any) -> Iterator[list[tuple[Any, ...]]]:
    """The statement's rows as lists of plain tuples, streamed. On PostgreSQL straight
    from psycopg (SQLAlchemy's row objects cost a few microseconds each, seconds at a
    million answers), in libpq's chunked-rows mode rather than a server-side cursor:
    the server sends rows while Python takes in the ones before, where a cursor's
    ``FETCH`` makes each side wait for the other (1,000,000 answers read in 1.0 to
    1.5 s against 2.0 to 2.1 s, bench/RESULTS.md). The caller reads every batch before
    using the session again. Ids selected through ``_id`` come as text."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        result = connection.execute(stmt.execution_options(stream_results=True,
                                                           max_row_buffer=50_000))
        for batch in result.partitions(50_000):
            yield [tuple(row) for row in batch]
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    yield from _driver_batches(driver, compiled(session, stmt))


def _driver_batches(driver: Any, compiled: Any) -> Iterator[list[tuple[Any, ...]]]:
    """``_batches`` on psycopg's connection itself (PostgreSQL)."""
    from psycopg.types.string import TextLoader  # PostgreSQL's driver, only here

    with driver.cursor() as cursor:
        cursor.adapters.register_loader("uuid", TextLoader)
        rows = cursor.stream(str(compiled), compiled.params, size=50_000)
        while batch := list(islice(rows, 50_000)):  # no loop in Python per row
            yield batch


def _text(column: Any) -> Any:
    return cast(column, String)


def _id(column: Any) -> Any:
    """An id column as text, for ``_batches``: SQLite stores it so (32 hex digits), and
    on PostgreSQL the cursor reads uuids as their text. No cast: casting two million ids
    to text cost the server about a second at a million answers (bench/RESULTS.md, 28)."""
    return type_coerce(column, String)


def _final_tasks(project_id: uuid.UUID) -> Any:
    """The project's tasks that need no more answers (their ids as text)."""
    pending = exists().where(Assignment.task_id == Task.id,
                             Assignment.state.in_([state.value for state in PENDING]))
    return select(_id(Task.id)).where(Task.project_id == project_id, Task.open_slots == 0,
                                      ~pending)


def _stored(project_id: uuid.UUID) -> Any:
    """The project's aggregates as they are, for ``_changes``."""
    columns = TaskAggregate.__table__.c
    return select(_id(columns.task_id), columns.field, columns.kind, columns.method,
                  columns.value, columns.confidence).where(of_project(project_id))


_Stored = dict[tuple[str, str], tuple[Any, ...]]


def _final_and_stored(session: Session, project_id: uuid.UUID,
                      meanwhile: Callable[[], None]) -> tuple[set[str], _Stored]:
    """The final tasks and the stored aggregates, read while ``meanwhile`` (the models'
    fits: Python, one CPU) runs: on PostgreSQL in a thread, the server on the other CPU
    (``aggregates.beside``); elsewhere one after the other."""
    final_stmt, stored_stmt = _final_tasks(project_id), _stored(project_id)
    if session.get_bind().dialect.name != "postgresql":
        found = _collect(_batches(session, final_stmt), _batches(session, stored_stmt))
        meanwhile()
        return found
    statements = compiled(session, final_stmt), compiled(session, stored_stmt)

    def read(driver: Any) -> tuple[set[str], _Stored]:
        return _collect(*(_driver_batches(driver, statement) for statement in statements))

    return beside(session, read, meanwhile)[0]


def _collect(final: Iterator[list[tuple[Any, ...]]], stored: Iterator[list[tuple[Any, ...]]]
             ) -> tuple[set[str], _Stored]:
    """The final tasks' ids and the stored aggregates by (task, field), from their rows
    (read one after the other: the batches share a connection)."""
    tasks = {task for batch in final for (task,) in batch}
    return tasks, {(t, f): (k, m, v, c) for batch in stored for t, f, k, m, v, c in batch}


def _field_column(data: _Answers, name: str) -> list[int]:
    """Indexes of the answers that hold a value for the field."""
    return [i for i, value in enumerate(data.values[name]) if value is not None]


def _label(kind: str, value: Any) -> str:
    # A multi choice is aggregated as one label: the sorted set of options chosen.
    return ",".join(sorted(value)) if kind == "multi_choice" else str(value)


def _among(column: list[Any], picked: list[int]) -> list[Any]:
    """The column's values at ``picked`` (the whole column when every answer is)."""
    return column if len(picked) == len(column) else [column[i] for i in picked]


def _outcome(session: Session, project_id: uuid.UUID, data: _Answers, picked: list[int],
             name: str, kind: str, method: str) -> methods.Outcome:
    tasks = _among(data.tasks, picked)
    values = _among(data.values[name], picked)
    if method in methods.CATEGORICAL:
        labels = values if kind == "single_choice" else [_label(kind, v) for v in values]
        return methods.categorical(method, tasks, _among(data.workers, picked), labels)
    if method in methods.NUMERIC:
        return methods.numeric(method, tasks, values, data.scales.get(name, (None, None)))
    sides = _responses(session, project_id, set(tasks))
    keep = [k for k, t in enumerate(tasks) if t in sides]
    return methods.pairwise(method, [tasks[k] for k in keep],
                            [data.workers[picked[k]] for k in keep],
                            [sides[tasks[k]] for k in keep],
                            [values[k].get("choice") for k in keep])


def _responses(session: Session, project_id: uuid.UUID,
               task_ids: set[str]) -> dict[str, tuple[str, str]]:
    """Each task's compared items: the ids of payload.responses[0] and [1] (A and B),
    or, for a task without them, its own two sides ("<task id>:A", "<task id>:B"):
    responses without ids are the task's own, never another task's."""
    found = {}
    for task_id, payload in session.execute(select(_text(Task.id), Task.payload)
                                            .where(Task.project_id == project_id)):
        if task_id in task_ids:
            found[task_id] = _sides(task_id, payload)
    return found


def _sides(task_id: str, payload: Any) -> tuple[str, str]:
    responses = payload.get("responses") if isinstance(payload, dict) else None
    if isinstance(responses, list) and len(responses) >= 2 and all(
            isinstance(r, dict) and "id" in r for r in responses[:2]):
        return str(responses[0]["id"]), str(responses[1]["id"])
    return f"{task_id}:A", f"{task_id}:B"


def aggregate_project(session: Session, row: ProjectAggregation,
                      now: datetime) -> RunResult:
    """Recompute the aggregates of the project's final tasks, write what changed, add
    slots under dynamic overlap, and move the watermark: to the last approval's stamp
    as read before the answers, so an approval committed later (whose stamp is later:
    see ``aggregates``) leaves the project behind for the next run."""
    project_id = row.project_id
    seen = row.answers_changed_at
    versions = list(session.scalars(select(TemplateVersion)
                                    .where(TemplateVersion.project_id == project_id)
                                    .order_by(TemplateVersion.number)))
    result = RunResult()
    chosen = effective_methods(versions[-1].fields if versions else [], row.methods or {})
    # The reads, stamps and COPY on the driver's own connection raise its errors as the
    # session's statements do (a deadlock there is run again, ``db.retrying``).
    with db.driver_errors(session):
        if chosen:
            with _without_cycle_collection():
                result = _compute(session, row, versions, chosen, now)
        else:  # no field is aggregated any more: the aggregates of those that were go
            result.removed = _remove_all(session, project_id)
    row.answers_seen_at, row.computed_at = seen, now
    row.summary = {"tasks": result.tasks, "written": result.written,
                   "removed": result.removed,
                   "slots_added": result.slots_added, "fields": result.by_field,
                   "skills": result.skills}
    session.flush()
    return result


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while a project is computed: the run holds
    millions of small objects (the answers' columns, the aggregates to write), which
    every collection of the oldest generation walks again while crowd-kit and pandas
    allocate. Reference counting still frees everything else; the collector's state is
    put back after, whatever happens. At 1,000,000 answers: 27.0 -> 22.8 to 24.3 s, peak
    memory unchanged (bench/RESULTS.md, round 4)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compute(session: Session, row: ProjectAggregation, versions: list[TemplateVersion],
             chosen: dict[str, tuple[str, str]], now: datetime) -> RunResult:
    methods.import_in_background()  # while the answers are read (the scheduler has it)
    data = _answers(session, row.project_id, versions, chosen)
    outcomes: dict[str, tuple[list[int], methods.Outcome]] = {}
    # The fits while PostgreSQL reads the final tasks and the stored aggregates; the
    # pairwise fields' after (they read the tasks' payloads).
    alone = [name for name, (_, method) in chosen.items() if method not in methods.PAIRWISE]
    final, stored = _final_and_stored(session, row.project_id, partial(
        _fit, session, row.project_id, data, chosen, alone, outcomes))
    _fit(session, row.project_id, data, chosen, [n for n in chosen if n not in alone],
         outcomes)
    result = RunResult()
    # The tasks' results change: they take a stamp, and from here to the commit the
    # project's approvals wait (the lock comes before any task is written: ``reviews``
    # takes it in the same order). While PostgreSQL stamps them, on the other CPU,
    # Python makes what it writes next.
    copy = session.get_bind().dialect.name == "postgresql"
    changed: list[dict[str, Any]] = []
    gone: list[tuple[str, str]] = []
    if stored:
        fresh = _found(data, chosen, outcomes, final, result)
        new, changed = _changes(stored, fresh, now)
        gone = _gone(stored, fresh, final, chosen)
        tasks = list({task for task, _, _ in new}.union(c["task_id"] for c in changed)
                     .union(task for task, _ in gone))
        lines = aggregates_written(session, row.project_id, tasks, clock.now(),
                                   meanwhile=partial(_copy_lines, new, now) if copy else None)
    else:
        # The project's first run: every aggregate is new, so the tasks stamped are known
        # from the outcomes, and the stamp starts before the aggregates are made.
        tasks = list({task for _, outcome in outcomes.values() for task in outcome.tasks
                      if task in final})
        fresh, new, lines = aggregates_written(
            session, row.project_id, tasks, clock.now(),
            meanwhile=partial(_first_run, data, chosen, outcomes, final, result, now, copy))
    del data, stored, final
    result.written, result.removed = len(new) + len(changed), len(gone)
    result.tasks = len(fresh) if len(chosen) == 1 else len({task for task, _ in fresh})
    _insert(session, new, lines, now)
    if changed:
        session.execute(update(TaskAggregate), [{**c, "task_id": uuid.UUID(c["task_id"])}
                                                for c in changed])
    _delete(session, gone)
    result.slots_added = _add_slots(session, row, fresh)
    return result


def _fit(session: Session, project_id: uuid.UUID, data: _Answers,
         chosen: dict[str, tuple[str, str]], names: list[str],
         outcomes: dict[str, tuple[list[int], methods.Outcome]]) -> None:
    """Each named field's model fit on its answers, into ``outcomes``."""
    for name in names:
        kind, method = chosen[name]
        picked = _field_column(data, name)
        outcomes[name] = (picked, _outcome(session, project_id, data, picked, name, kind,
                                           method))


def _found(data: _Answers, chosen: dict[str, tuple[str, str]],
           outcomes: dict[str, tuple[list[int], methods.Outcome]], final: set[str],
           result: RunResult) -> dict[tuple[str, str], _Fresh]:
    """The aggregates of the final tasks from the fields' outcomes (taken out of
    ``outcomes``); each field's counts and skills into ``result``."""
    fresh: dict[tuple[str, str], _Fresh] = {}
    for name, (kind, method) in chosen.items():
        picked, outcome = outcomes.pop(name)
        answered = Counter(_among(data.tasks, picked))  # counted in C
        version_of = _latest_versions(data, picked)
        version = version_of[None]
        # One generator, not a loop of statements (it runs once per task), and no list
        # of them beside ``fresh``.
        before = len(fresh)
        fresh.update(((task, name), _Fresh(kind, method, value, confidence, answered[task],
                                           version_of.get(task, version)))
                     for task, (value, confidence) in outcome.tasks.items() if task in final)
        result.by_field[name] = {"kind": kind, "method": method, "tasks": len(fresh) - before,
                                 "answers": len(picked),
                                 **({"scores": outcome.scores} if outcome.scores else {})}
        if outcome.skills:
            # Ids in their canonical text, whatever the backend's (SQLite: bare hex).
            result.skills[name] = {str(uuid.UUID(str(w))): s
                                   for w, s in outcome.skills.items()}
    return fresh


def _first_run(data: _Answers, chosen: dict[str, tuple[str, str]],
               outcomes: dict[str, tuple[list[int], methods.Outcome]], final: set[str],
               result: RunResult, now: datetime, copy: bool,
               ) -> tuple[dict[tuple[str, str], _Fresh], list[tuple[str, str, _Fresh]],
                          list[str] | None]:
    """A first run's aggregates, all new, and the COPY's lines (PostgreSQL)."""
    fresh = _found(data, chosen, outcomes, final, result)
    new = [(task, name, found) for (task, name), found in fresh.items()]
    return fresh, new, _copy_lines(new, now) if copy else None


def _latest_versions(data: _Answers, picked: list[int]) -> dict[str | None, int]:
    """Each task's latest template version among the answers picked; with one version
    in play only ``None``: that version, for every task."""
    numbers = {data.versions[i] for i in picked}
    if len(numbers) <= 1:
        return {None: min(numbers, default=0)}
    latest: dict[str | None, int] = {None: 0}
    for i in picked:
        task, number = data.tasks[i], data.versions[i]
        if number > latest.get(task, 0):
            latest[task] = number
    return latest


class _Fresh(NamedTuple):
    """One aggregate as this run found it."""

    kind: str
    method: str
    value: Any
    confidence: float | None
    answers_count: int
    template_version: int


def _changes(stored: _Stored, fresh: dict[tuple[str, str], _Fresh], now: datetime
             ) -> tuple[list[tuple[str, str, _Fresh]], list[dict[str, Any]]]:
    """The aggregates to insert (task, field, found) and those to update (their new
    columns, the task id as text); one the run found the same as ``stored`` is left
    alone."""
    new: list[tuple[str, str, _Fresh]] = []
    changed: list[dict[str, Any]] = []
    for (task, name), found in fresh.items():
        old = stored.get((task, name))
        if old is None:
            new.append((task, name, found))
        elif old[1:] != (found.method, found.value, found.confidence):
            changed.append({"task_id": task, "field": name, **found._asdict(),
                            "computed_at": now})
    return new, changed


def _gone(stored: _Stored, fresh: dict[tuple[str, str], _Fresh], final: set[str],
          chosen: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """Stored aggregates the run did not find again, to delete: a final task's (its
    answers withdrawn, or none of them fitting the field any more), and any of a field
    the project no longer aggregates as that kind (taken out of the template, or its
    kind changed). A task not final now (a slot added, an answer under review) keeps
    its last aggregate until it is."""
    return [(task, name) for (task, name), (kind, *_) in stored.items()
            if (task, name) not in fresh
            and (task in final or chosen.get(name, ("",))[0] != kind)]


def _remove_all(session: Session, project_id: uuid.UUID) -> int:
    """Every stored aggregate of the project deleted, its tasks stamped first (the
    stamp's lock before any write, as in ``_compute``); how many."""
    tasks = list(session.scalars(select(TaskAggregate.task_id).distinct()
                                 .where(of_project(project_id))))
    aggregates_written(session, project_id, tasks, clock.now())
    return session.execute(delete(TaskAggregate).where(of_project(project_id))).rowcount


def _delete(session: Session, gone: list[tuple[str, str]]) -> None:
    by_field: dict[str, list[uuid.UUID]] = {}
    for task, name in gone:
        by_field.setdefault(name, []).append(uuid.UUID(task))
    for name, tasks in by_field.items():
        for start in range(0, len(tasks), 1000):
            session.execute(delete(TaskAggregate).where(
                TaskAggregate.field == name,
                TaskAggregate.task_id.in_(tasks[start:start + 1000])))


def _copy_lines(rows: list[tuple[str, str, _Fresh]], now: datetime) -> list[str]:
    """The new aggregates in COPY's text format, 10,000 lines to a string. Columns in
    ``_COPY_COLUMNS``' order: the task and the confidence, then what most rows share
    (the field, kind, method, label, answers count, template version and time), whose
    text is made once per distinct label, not once per row. Kinds and methods are plain
    words; JSON escapes every control character, so only its backslashes need doubling."""
    tail = f"\t{now.isoformat()}\n"
    shared: dict[tuple[Any, ...], str] = {}

    def rest(name: str, found: _Fresh) -> str:
        kind, method, value, _, count, version = found
        key = (name, kind, method, value, count, version) if type(value) is str else None
        text = shared.get(key) if key is not None else None
        if text is None:
            label = json.dumps(value).replace("\\", "\\\\")
            text = f"\t{name}\t{kind}\t{method}\t{label}\t{count}\t{version}{tail}"
            if key is not None:
                shared[key] = text
        return text

    null = "\\N"
    return ["".join([f"{task}\t{null if found.confidence is None else repr(found.confidence)}"
                     f"{rest(name, found)}" for task, name, found in rows[start:start + 10_000]])
            for start in range(0, len(rows), 10_000)]


_COPY_COLUMNS = ("task_id, confidence, field, kind, method, value, answers_count, "
                 "template_version, computed_at")


def _insert(session: Session, rows: list[tuple[str, str, _Fresh]], lines: list[str] | None,
            now: datetime) -> None:
    """New aggregates: PostgreSQL's COPY of ``lines`` (``_copy_lines``: a project's first
    run writes one row per task and field, hundreds of thousands at once), an
    executemany elsewhere."""
    if lines is None:
        for start in range(0, len(rows), 5000):
            session.execute(insert(TaskAggregate), [
                {"task_id": uuid.UUID(task), "field": name, **found._asdict(),
                 "computed_at": now}
                for task, name, found in rows[start:start + 5000]])
        return
    if not lines:
        return
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(
            f"COPY task_aggregates ({_COPY_COLUMNS}) FROM STDIN") as copy:
        for chunk in lines:
            copy.write(chunk)


def _add_slots(session: Session, row: ProjectAggregation,
               fresh: dict[tuple[str, str], _Fresh]) -> int:
    target, ceiling = row.confidence_target, row.max_redundancy
    if target is None or ceiling is None:
        return 0
    unsure = sorted({task for (task, _), found in fresh.items()
                     if found.confidence is not None and found.confidence < target})
    added = 0
    for start in range(0, len(unsure), 1000):
        # Only a task still final and under the ceiling: a slot added by an earlier run
        # (and not yet answered) leaves open_slots above zero, so a task gets one at a time.
        added += session.execute(
            update(Task).where(Task.id.in_([uuid.UUID(t) for t in unsure[start:start + 1000]]),
                               Task.open_slots == 0, Task.redundancy < ceiling)
            .values(redundancy=Task.redundancy + 1, open_slots=Task.open_slots + 1)
            .execution_options(synchronize_session=False)).rowcount
    if added:
        row.extra_slots = (row.extra_slots or 0) + added
        project = session.get(Project, row.project_id)
        audit.record(session, SYSTEM, "project.slots_added", object_type="project",
                     object_id=row.project_id,
                     organisation_id=project.organisation_id if project else None,
                     after={"slots_added": added, "confidence_target": target,
                            "max_redundancy": ceiling})
    return added

