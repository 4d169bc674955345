"""Results out (issue 16): a project's tasks with their approved answers and their
aggregates, as pages (the API) and as a stream (the downloads and the CLI).

Rules worth knowing:

- A task is listed once it has a result: an approved answer or a computed aggregate.
  An answer withdrawn by its trainer (their recordings deleted, ``uploads.retention``)
  is left out from then on, and its task takes a stamp so a sync sees the change.
  Its ``updated_at`` is the stamp of its last change (an approval, an aggregate written,
  a withdrawal), stored beside the task (``task_results``, indexed with the project and
  the task id);
  tasks come in ``(updated_at, task id)`` order, so an incremental sync that asks for
  ``updated_since`` = the last ``updated_at`` it read gets every task that changed since
  (that last one again: ``>=``, so equal times are never lost). A task that changes
  during a sync moves to the end and comes again, never missed; rows are keyed by task
  id. Stamps are committed in their order (``results.aggregates``), so a change
  committed after a reader passed its time cannot exist: it would carry a later stamp.
- Trainers appear as a pseudonym: HMAC-SHA256 with a server secret over the project's
  and the trainer's ids, cut to 80 bits, base32. The same trainer has the same pseudonym
  in every export of a project and another one in each other project; neither their
  id nor their e-mail can be read back from it.
- The task's payload is not repeated (the client sent it; the task id and external id
  name it); the preference export, which needs the prompt and both responses, reads it.
- The stream reads with one statement (a server-side cursor on PostgreSQL, ``yield_per``)
  in a read-only session of its own, so memory stays at one batch of tasks whatever the
  project's size, and the request's unit of work is over before the first byte.
"""

from __future__ import annotations

import base64
import bisect
import csv
import hashlib
import hmac
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from json.encoder import encode_basestring as _string  # the C encoder of a str
from typing import Any

from sqlalchemy import (
    ARRAY,
    Select,
    String,
    Text,
    Uuid,
    any_,
    bindparam,
    cast,
    exists,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts.models import User
from workforce.billing.earnings import safe_cell
from workforce.errors import Conflict, NotFound
from workforce.i18n import gettext
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access
from workforce.projects.models import Assignment, AssignmentState, Project, Task
from workforce.results.aggregates import Aggregate, TaskResult, for_tasks, of_project
from workforce.results.fields import PAIRWISE_SIDES
from workforce.results.models import TemplateVersion

# Tasks read per round trip of the stream (their answers and aggregates come with them):
# each batch costs two statements, so not too few; memory holds one batch.
BATCH = 2000
FORMATS = ("jsonl", "csv", "preferences")

OpenSession = Callable[[], AbstractContextManager[Session]]


def pseudonym(secret: str, project_id: uuid.UUID, trainer_id: uuid.UUID) -> str:
    """The trainer's name in the project's results: stable within the project,
    unrelated across projects, and not reversible without the secret."""
    digest = hmac.new(secret.encode(), f"{project_id}:{trainer_id}".encode(),
                      hashlib.sha256).digest()
    return "tr_" + base64.b32encode(digest[:10]).decode().lower()


# --- what is read ----------------------------------------------------------------------


def _tasks(project_id: uuid.UUID, since: datetime | None, *, payload: bool = False
           ) -> tuple[Select[Any], tuple[Any, ...]]:
    """The tasks with a result (id, external id, updated at[, payload]) and their order
    (that of the index ``ix_task_results_project_stamp``)."""
    columns = [TaskResult.task_id, Task.external_id, TaskResult.stamp,
               *([Task.payload] * payload)]
    stmt = (select(*columns).join(Task, Task.id == TaskResult.task_id)
            .where(TaskResult.project_id == project_id,
                   *([TaskResult.stamp >= since] if since is not None else [])))
    return stmt, (TaskResult.stamp, TaskResult.task_id)


class _Versions:
    """The project's template versions, to tell which one an answer was given to (the
    one in force at the claim: ``templates.version_for``) without a query per batch."""

    def __init__(self, session: Session, project_id: uuid.UUID) -> None:
        self.all = list(session.scalars(select(TemplateVersion).where(
            TemplateVersion.project_id == project_id).order_by(TemplateVersion.number)))
        self._starts = [clock.as_utc(v.created_at) for v in self.all]
        self._pairwise = {v.number: [f["name"] for f in v.fields if f["kind"] == "pairwise"]
                          for v in self.all}

    def at(self, claimed_at: datetime) -> TemplateVersion | None:
        index = bisect.bisect_right(self._starts, claimed_at)
        return self.all[index - 1] if index else None

    def field_names(self) -> list[str]:
        """Every field any version has had, in order of first appearance."""
        names: dict[str, None] = {}
        for version in self.all:
            names.update((f["name"], None) for f in version.fields)
        return list(names)

    def has_pairwise(self) -> bool:
        return any(self._pairwise.values())

    def pairwise_fields(self, number: int | None) -> list[str]:
        return self._pairwise.get(number, []) if number is not None else []

    def current_fields(self) -> list[str]:
        return [f["name"] for f in self.all[-1].fields] if self.all else []


class _Reader:
    """Turns tasks (as ``_tasks`` selects them) into result rows, one batch at a time."""

    def __init__(self, session: Session, project_id: uuid.UUID, secret: str) -> None:
        self.session, self.project_id, self.secret = session, project_id, secret
        self.versions = _Versions(session, project_id)
        self._names: dict[str, str] = {}
        # Whether to ask for aggregates at all; the stream reads one snapshot, so a
        # project without any at its start has none in any batch.
        self.aggregated = True
        # The aggregates of a task that has none yet: the same text for every such task.
        self._none_yet = dumps(_aggregates(self.versions.current_fields(), {}))

    def trainer(self, trainer_id: str) -> str:
        """The pseudonym of a trainer id as the database spells it."""
        name = self._names.get(trainer_id)
        if name is None:
            name = pseudonym(self.secret, self.project_id, uuid.UUID(trainer_id))
            self._names[trainer_id] = name
        return name

    def rows(self, tasks: Sequence[Any]) -> list[dict[str, Any]]:
        """The API's items for ``tasks`` (as ``_tasks`` selects them)."""
        return [{**head, "answers": [{**given, "answer": _loads(given["answer"])}
                                     for given in answers]}
                for head, answers in self._read(tasks)]

    def lines(self, tasks: Sequence[Any]) -> str:
        """The same items as JSON lines; each answer's JSON is copied as the database
        holds it rather than decoded and encoded again (the export's hot loop)."""
        out = []
        for head, answers in self._read(tasks):
            given = ",".join(_ANSWER % (a["trainer"], _number(a["template_version"]),
                                        a["approved_at"].isoformat(), a["answer"] or "null")
                             for a in answers)
            aggregates = head["aggregates"]
            out.append(_HEAD % (head["task_id"], _string(head["external_id"]),
                                head["updated_at"].isoformat(),
                                dumps(aggregates) if any(aggregates.values())
                                else self._none_yet, given))
        return "".join(out)

    def _read(self, tasks: Sequence[Any]
              ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        ids = [task[0] for task in tasks]
        answers = self._answers(ids)
        aggregates = for_tasks(self.session, ids) if self.aggregated else {}
        fields = self.versions.current_fields()
        return [({"task_id": task[0], "external_id": task[1],
                  "updated_at": task[2],
                  "aggregates": _aggregates(fields, aggregates.get(task[0], {}))},
                 answers.get(task[0], [])) for task in tasks]

    def _answers(self, task_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
        """Each task's approved answers, oldest approval first, the answer as JSON text.
        The ids come as text (no UUID object per row, the export's hot loop), in the
        database's own spelling, which ``spelled`` gives for the keys."""
        found: dict[str, list[dict[str, Any]]] = {}
        if not task_ids:
            return {}
        # Through the Core: columns, no ORM loading per row (the export's hot loop).
        rows = self.session.connection().execute(
            select(cast(Assignment.task_id, String), cast(Assignment.trainer_id, String),
                   cast(Assignment.answer, Text), Assignment.claimed_at,
                   Assignment.reviewed_at)
            .where(_among(self.session, Assignment.task_id, task_ids),
                   Assignment.state == AssignmentState.APPROVED,
                   Assignment.answer_withdrawn_at.is_(None))
            .order_by(Assignment.task_id, Assignment.reviewed_at, Assignment.id))
        for task_id, trainer_id, answer, claimed_at, approved_at in rows:
            version = self.versions.at(claimed_at)
            found.setdefault(task_id, []).append({
                "trainer": self.trainer(trainer_id),
                "template_version": version.number if version else None,
                "approved_at": approved_at, "answer": answer,
            })
        spelled = _spelling(self.session)
        keyed = ((task_id, spelled(task_id)) for task_id in task_ids)
        return {task_id: found[key] for task_id, key in keyed if key in found}


# A line of the JSON-lines export, written by hand around the parts json encodes: the
# pseudonym (base32), the times (ISO 8601) and the ids need no escaping.
_HEAD = '{"task_id":"%s","external_id":%s,"updated_at":"%s","aggregates":%s,"answers":[%s]}\n'
_ANSWER = '{"trainer":"%s","template_version":%s,"approved_at":"%s","answer":%s}'


def _number(value: int | None) -> str:
    return "null" if value is None else str(value)


def _among(session: Session, column: Any, values: list[uuid.UUID]) -> Any:
    """``column IN values``; on PostgreSQL as one array parameter (``= ANY``), which
    costs the driver nothing to parse whatever the batch's size."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("among", values, type_=ARRAY(Uuid())))
    return column.in_(values)


def _spelling(session: Session) -> Callable[[uuid.UUID], str]:
    """How the database spells a UUID cast to text: PostgreSQL with hyphens, SQLite's
    32 hex digits without."""
    if session.get_bind().dialect.name == "postgresql":
        return str
    return lambda value: value.hex


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _aggregates(fields: list[str], found: dict[str, Aggregate]) -> dict[str, Any]:
    """Every field of the current template (null until aggregated; text and rubric
    fields stay null), and any other field that has an aggregate."""
    shown: dict[str, Any] = dict.fromkeys(fields)
    for name, aggregate in found.items():
        shown[name] = {
            "kind": aggregate.kind, "method": aggregate.method, "value": aggregate.value,
            "confidence": aggregate.confidence, "answers_count": aggregate.answers_count,
            "computed_at": clock.as_utc(aggregate.computed_at),
        }
    return shown


# --- the API's pages ---------------------------------------------------------------------


def results_page(
    session: Session, staff: User, project_id: uuid.UUID, page: PageRequest, *,
    secret: str, since: datetime | None = None,
) -> Page[dict[str, Any]]:
    """One page of the project's results, oldest change first (see the module's rules)."""
    project = access.get_project(session, staff, project_id)
    stmt, order = _tasks(project.id, since)
    tasks = paginate(session, stmt, page, order=order)
    return Page(_Reader(session, project.id, secret).rows(tasks.items), tasks.next_cursor)


def export_project(session: Session, staff: User | None, project_id: uuid.UUID) -> Project:
    """The project whose results ``staff`` may download (``NotFound`` otherwise); any
    project for the command line (``staff`` None: whoever runs it reaches the database)."""
    if staff is not None:
        return access.get_project(session, staff, project_id)
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(gettext("No such project."))
    return project


def require_preferences(session: Session, project_id: uuid.UUID) -> None:
    """A project whose template never had a pairwise field has no preference pairs:
    409 ``no-pairwise-field``, rather than an empty download that looks like no work."""
    if not _Versions(session, project_id).has_pairwise():
        raise Conflict(gettext("This project's task template has never had a pairwise "
                               "field, so its results hold no preference pairs."),
                       code="no-pairwise-field")


# --- the stream -------------------------------------------------------------------------


def result_rows(
    open_session: OpenSession, project_id: uuid.UUID, *, secret: str,
    since: datetime | None = None, payload: bool = False, batch: int = BATCH,
    progress: Callable[[int], object] | None = None,
) -> Iterator[tuple[_Reader, list[Any]]]:
    """The project's tasks with a result a batch at a time, with the reader that turns
    them into rows (``rows``, ``lines``), in the order of ``results_page``'s pages, read
    with one statement in a read-only session of its own that ends when the stream does
    (or is dropped). ``progress`` is told how many tasks each batch held, once the
    caller has taken it."""
    with open_session() as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql" and not connection.in_nested_transaction():
            # One snapshot for the tasks and every batch's answers and aggregates (a
            # session that joins a caller's transaction, as in the tests, has theirs).
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            # Times come back in UTC itself (psycopg's ``timezone.utc``), which the
            # columns' UTC conversion then leaves alone: a server in another zone, or in
            # "Etc/UTC", would cost a conversion per time read.
            session.execute(text("SET LOCAL TIME ZONE 'UTC'"))
        reader = _Reader(session, project_id, secret)
        reader.aggregated = session.scalar(select(exists().where(of_project(project_id)))) \
            or False
        stmt, order = _tasks(project_id, since, payload=payload)
        # Through the Core (no ORM loading per row); yield_per on the statement alone.
        result = connection.execute(stmt.order_by(*order).execution_options(yield_per=batch))
        for tasks in result.partitions():
            yield reader, list(tasks)
            if progress is not None:
                progress(len(tasks))


def count_rows(session: Session, project_id: uuid.UUID, since: datetime | None = None
               ) -> int:
    """How many tasks the stream will give (the CLI's progress bar)."""
    stmt, _ = _tasks(project_id, since)
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def _json(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json, ensure_ascii=False, separators=(",", ":"))


def jsonl_lines(open_session: OpenSession, project_id: uuid.UUID, **kwargs: Any
                ) -> Iterator[str]:
    """One JSON object a line per task: the API's items. The first chunk is empty and
    comes before the stream's session opens: a server that reads one chunk to start the
    answer (as Werkzeug's does) and then drops it holds no session."""
    yield ""
    for reader, tasks in result_rows(open_session, project_id, **kwargs):
        yield reader.lines(tasks)


def csv_lines(open_session: OpenSession, project_id: uuid.UUID, *, fields: list[str],
              **kwargs: Any) -> Iterator[str]:
    """One CSV row per task: its ids and time, per template field (``fields``: of any
    version, ``csv_fields``) the aggregate's value (JSON unless a plain label or number)
    and confidence, and the approved answers as a JSON array. Cells that a spreadsheet
    would run as a formula are quoted with a leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["task_id", "external_id", "updated_at",
                     *(c for n in fields for c in (n, f"{n}.confidence")), "answers"])
    yield _drain(buffer)  # before the stream's session opens (see ``jsonl_lines``)
    for reader, tasks in result_rows(open_session, project_id, **kwargs):
        for row in reader.rows(tasks):
            writer.writerow(_csv_row(fields, row))
        yield _drain(buffer)


def csv_fields(session: Session, project_id: uuid.UUID) -> list[str]:
    """The CSV's field columns: every field any template version has had."""
    return _Versions(session, project_id).field_names()


def _drain(buffer: io.StringIO) -> str:
    written = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return written


def _csv_row(names: list[str], row: dict[str, Any]) -> list[str]:
    cells = [str(row["task_id"]), safe_cell(row["external_id"]), row["updated_at"].isoformat()]
    for name in names:
        aggregate = row["aggregates"].get(name)
        if aggregate is None:
            cells += ["", ""]
            continue
        value = aggregate["value"]
        plain = isinstance(value, str | int | float) and not isinstance(value, bool)
        cells += [safe_cell(str(value) if plain else dumps(value)),
                  "" if aggregate["confidence"] is None else repr(aggregate["confidence"])]
    return [*cells, safe_cell(dumps(row["answers"]))]


# --- preference pairs ----------------------------------------------------------------------


def preference_lines(open_session: OpenSession, project_id: uuid.UUID, **kwargs: Any
                     ) -> Iterator[str]:
    """One JSON line per approved judgment of a pairwise field: the prompt, the chosen
    and the rejected response's text (and ids), the strength (null without a scale) and
    the reason (null when none was given): the shape reward-model training reads. Ties
    are left out (they prefer nothing); so are tasks whose payload lacks two responses."""
    yield ""  # see ``jsonl_lines``
    for reader, tasks in result_rows(open_session, project_id, payload=True, **kwargs):
        lines = []
        for row, task in zip(reader.rows(tasks), tasks, strict=True):
            lines += [dumps(pair) + "\n" for pair in _pairs(reader, row, task[3])]
        yield "".join(lines)


def _pairs(reader: _Reader, row: dict[str, Any], payload: Any) -> Iterable[dict[str, Any]]:
    responses = payload.get("responses") if isinstance(payload, dict) else None
    if not isinstance(responses, list) or len(responses) < 2:
        return
    for given in row["answers"]:
        answer = given["answer"]
        if not isinstance(answer, dict):
            continue
        for name in reader.versions.pairwise_fields(given["template_version"]):
            judged = answer.get(name)
            choice = judged.get("choice") if isinstance(judged, dict) else None
            if choice not in PAIRWISE_SIDES:
                continue  # left out, or a tie
            chosen = responses[PAIRWISE_SIDES.index(choice)]
            rejected = responses[1 - PAIRWISE_SIDES.index(choice)]
            yield {
                "task_id": row["task_id"], "external_id": row["external_id"], "field": name,
                "trainer": given["trainer"], "prompt": payload.get("prompt"),
                "chosen": _text(chosen), "rejected": _text(rejected),
                "chosen_id": _id(chosen), "rejected_id": _id(rejected),
                "strength": judged.get("strength"), "reason": judged.get("reason"),
            }


def _text(response: Any) -> Any:
    return response.get("text") if isinstance(response, dict) else response


def _id(response: Any) -> Any:
    return response.get("id") if isinstance(response, dict) else None


LINES = {"jsonl": jsonl_lines, "csv": csv_lines, "preferences": preference_lines}
