"""Bulk import of tasks from JSON lines or CSV, streamed.

A file of any size is read line by line and inserted in batches: memory holds one
batch, never the file. The project's unique key (project, external id) decides what is
a duplicate: an id the project has already, or that came earlier in the file (earlier
batches are in the table by then), creates nothing and is reported as a duplicate,
also when a concurrent import of the same ids got there first.

A file with invalid rows imports nothing (the caller's unit of work rolls back on the
``Invalid`` raised here) unless the caller asks to skip them. Either way the answer
carries the counts and the first ``ERRORS_SHOWN`` row errors with their line numbers.

Rows keep the file's order among tasks of equal priority: each gets a creation time
one microsecond after the previous row's.

A row may carry its own content warning (``sensitivity`` and ``content_categories``),
overriding the project's for that task, checked as a project's is: categories are
required unless the sensitivity is ``none``, and must be empty when it is. A task is
never less sensitive than its project (a lower level is refused): the override is for
the single disturbing item in an ordinary project, or a graver one in a sensitive
project, never to take a warning away from what trainers joined under.

On a project with a task template a gold answer is a whole answer to the current
version, checked as a submission is (``results.answers.check_answer``); a gold answer
that does not fit makes its row invalid, each problem named by its JSON pointer.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import IO, Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from workforce import clock, urls
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.errors import Conflict, Invalid
from workforce.i18n import gettext
from workforce.pagination import Page, PageRequest, paginate
from workforce.projects import access, events
from workforce.projects.models import (
    ContentCategory,
    ProjectState,
    Sensitivity,
    Task,
    TaskImport,
)
from workforce.projects.reviews import is_finite_json
from workforce.results import templates
from workforce.results.answers import check_answer

BATCH_SIZE = 1000
ERRORS_SHOWN = 100
MAX_LINE_CHARS = 1_048_576
EXTERNAL_ID_MAX = 200
TEXT_MAX = 20_000
URL_MAX = 2048
URLS_MAX = 50
REDUNDANCY_MAX = 100
PRIORITY_LIMIT = 1_000_000

FIELDS = ("external_id", "payload", "redundancy", "priority", "gold_answer", "sensitivity",
          "content_categories")
PAYLOAD_FIELDS = ("prompt", "media_urls", "instructions", "responses")
CSV_COLUMNS = (
    "external_id", "prompt", "media_urls", "instructions", "redundancy", "priority",
    "gold_answer", "sensitivity", "content_categories", "responses",
)
RESPONSES_MAX = 10
LEVEL = {Sensitivity.NONE: 0, Sensitivity.SENSITIVE: 1, Sensitivity.GRAPHIC: 2}
_URL_SEPARATORS = re.compile(r"[\s|]+")


class ImportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


@dataclass(frozen=True)
class RowError:
    line: int
    external_id: str | None
    messages: list[str]


@dataclass(frozen=True)
class Duplicate:
    line: int
    external_id: str


@dataclass
class ImportReport:
    """What an import did (or, refused, would have done), row by row where it matters."""

    format: ImportFormat
    skip_invalid: bool
    import_id: uuid.UUID | None = None
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    invalid: int = 0
    row_errors: list[RowError] = field(default_factory=list)
    duplicate_rows: list[Duplicate] = field(default_factory=list)

    @property
    def errors_not_shown(self) -> int:
        return self.invalid - len(self.row_errors)

    @property
    def duplicates_not_shown(self) -> int:
        return self.duplicates - len(self.duplicate_rows)

    def add_error(self, line: int, external_id: str | None, messages: list[str]) -> None:
        self.invalid += 1
        if len(self.row_errors) < ERRORS_SHOWN:
            self.row_errors.append(RowError(line, external_id, messages))

    def add_duplicate(self, line: int, external_id: str) -> None:
        self.duplicates += 1
        if len(self.duplicate_rows) < ERRORS_SHOWN:
            self.duplicate_rows.append(Duplicate(line, external_id))

    def as_problem(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "created": 0, "duplicates": self.duplicates,
            "invalid": self.invalid,
            "row_errors": [
                {"line": e.line, "external_id": e.external_id, "messages": e.messages}
                for e in self.row_errors
            ],
            "errors_not_shown": self.errors_not_shown,
        }


@dataclass(frozen=True)
class CleanRow:
    external_id: str
    payload: dict[str, Any]
    redundancy: int
    priority: int
    gold_answer: Any
    # The task's own content warning (``None``: the project's applies).
    sensitivity: Sensitivity | None = None
    content_categories: list[str] | None = None


class _FileError(Exception):
    """The file cannot be read on: nothing of it is imported."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# --- checking one row ----------------------------------------------------------------


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_url(url: Any) -> str | None:
    """Media URLs reach trainers' browsers: public http(s) addresses only."""
    if isinstance(url, str) and len(url) > URL_MAX:
        return f"must be at most {URL_MAX} characters"
    return urls.url_problem(url)


def check_row(
    values: dict[str, Any], names: dict[str, str], *,
    project_sensitivity: Sensitivity = Sensitivity.NONE,
    template_fields: list[dict[str, Any]] | None = None,
) -> tuple[CleanRow | None, list[str]]:
    """Validate one row given as ``external_id, prompt, media_urls, instructions,
    redundancy, priority, gold_answer, sensitivity, content_categories, responses``
    (absent: not in ``values``); ``names`` says how the file calls each field, for the
    messages. With ``template_fields`` (the project's current template) a gold answer
    must fit it: each problem is named ``gold_answer`` and its JSON pointer
    (``gold_answer/criteria/3/citations/0/url``); and a template with a pairwise field
    needs the row's ``responses``."""
    messages: list[str] = []

    def bad(key: str, message: str) -> None:
        messages.append(f"{names.get(key, key)}: {message}")

    external_id = values.get("external_id")
    if not isinstance(external_id, str) or not external_id.strip():
        bad("external_id", "Required: a text of 1 to 200 characters.")
        external_id = None
    else:
        external_id = external_id.strip()
        if len(external_id) > EXTERNAL_ID_MAX:
            bad("external_id", f"At most {EXTERNAL_ID_MAX} characters.")
    prompt = values.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        bad("prompt", "Required: a non-empty text.")
    elif len(prompt) > TEXT_MAX:
        bad("prompt", f"At most {TEXT_MAX} characters.")
    instructions = values.get("instructions")
    if instructions is None:
        instructions = ""
    elif not isinstance(instructions, str):
        bad("instructions", "Must be a text.")
    elif len(instructions) > TEXT_MAX:
        bad("instructions", f"At most {TEXT_MAX} characters.")
    media_urls = values.get("media_urls")
    if media_urls is None:
        media_urls = []
    elif not isinstance(media_urls, list):
        bad("media_urls", "Must be a list of URLs.")
    elif len(media_urls) > URLS_MAX:
        bad("media_urls", f"At most {URLS_MAX} URLs.")
    else:
        for index, url in enumerate(media_urls):
            if (problem := _check_url(url)) is not None:
                bad("media_urls", f"URL {index + 1} {problem}.")
    redundancy = values.get("redundancy")
    if redundancy is None:
        redundancy = 1
    elif not _is_int(redundancy) or not 1 <= redundancy <= REDUNDANCY_MAX:
        bad("redundancy", f"Must be a whole number from 1 to {REDUNDANCY_MAX}.")
    priority = values.get("priority")
    if priority is None:
        priority = 0
    elif not _is_int(priority) or not -PRIORITY_LIMIT <= priority <= PRIORITY_LIMIT:
        bad("priority", f"Must be a whole number from {-PRIORITY_LIMIT} to {PRIORITY_LIMIT}.")
    gold = values.get("gold_answer")
    if not is_finite_json(gold):
        bad("gold_answer", "NaN and infinities are not JSON.")
    sensitivity, categories = _check_warning(values, bad, project_sensitivity)
    responses = values.get("responses")
    if responses is not None:
        for message in _response_problems(responses):
            bad("responses", message)
    elif _compares(template_fields):
        bad("responses", "Required: the project's template compares two responses "
                         "(a pairwise field), so each task needs them (A: the first, "
                         "B: the second).")
    for key in ("external_id", "prompt", "instructions", "media_urls", "gold_answer",
                "responses"):
        if _has_nul(values.get(key)):
            bad(key, "Must not contain NUL characters.")
    payload = {"prompt": prompt, "media_urls": media_urls, "instructions": instructions}
    if responses is not None:
        payload["responses"] = responses
    if template_fields is not None and gold is not None and is_finite_json(gold):
        # A gold answer is a whole answer to the template, checked as a submission is.
        for at, message in check_answer(template_fields, gold, payload):
            messages.append(f"{names.get('gold_answer', 'gold_answer')}{at}: {message}")
    if messages or external_id is None:
        return None, messages
    return CleanRow(external_id, payload, redundancy, priority, gold, sensitivity,
                    categories), []


def _compares(template_fields: list[dict[str, Any]] | None) -> bool:
    """Whether a template asks to compare the task's responses (a pairwise field)."""
    return any(field["kind"] == "pairwise" for field in template_fields or ())


def _response_problems(responses: Any) -> list[str]:
    """The responses a pairwise field compares (A: the first, B: the second): a list of
    ``{"id", "text"}`` with distinct ids."""
    if not isinstance(responses, list) or not 2 <= len(responses) <= RESPONSES_MAX:
        return [f"Must be a list of 2 to {RESPONSES_MAX} responses, each {{id, text}}."]
    problems, ids = [], set()
    for index, response in enumerate(responses, start=1):
        if not isinstance(response, dict) or set(response) != {"id", "text"}:
            problems.append(gettext("Response %(index)s must be an object with id and text only.",
                                    index=index))
            continue
        response_id, text = response["id"], response["text"]
        if not isinstance(response_id, str) or not response_id.strip() or len(
                response_id) > EXTERNAL_ID_MAX:
            problems.append(gettext("Response %(index)s: id must be a text of 1 to "
                                    "%(external_id_max)s characters.",
                                    index=index, external_id_max=EXTERNAL_ID_MAX))
        elif response_id in ids:
            problems.append(gettext("Response %(index)s: id %(response_id)r is used twice.",
                                    index=index, response_id=response_id))
        ids.add(response_id)
        if not isinstance(text, str) or not text.strip() or len(text) > TEXT_MAX:
            problems.append(gettext("Response %(index)s: text must be a non-empty text of at most "
                                    "%(text_max)s characters.", index=index, text_max=TEXT_MAX))
    return problems


def _check_warning(
    values: dict[str, Any], bad: Any, project_sensitivity: Sensitivity
) -> tuple[Sensitivity | None, list[str] | None]:
    """The row's own content warning, checked like a project's; (None, None) without."""
    raw, categories = values.get("sensitivity"), values.get("content_categories")
    if raw is None:
        if categories is not None:
            bad("content_categories", "Give a sensitivity with the categories.")
        return None, None
    try:
        sensitivity = Sensitivity(raw)
    except ValueError:
        bad("sensitivity", "Must be one of none, sensitive, graphic.")
        return None, None
    if LEVEL[sensitivity] < LEVEL[project_sensitivity]:
        bad("sensitivity", f"Must not be lower than the project's ({project_sensitivity.value}).")
    categories = [] if categories is None else categories
    known = {c.value for c in ContentCategory}
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        bad("content_categories", "Must be a list of categories.")
        return None, None
    unknown = [c for c in categories if c not in known]
    if unknown:
        bad("content_categories", f"Unknown {', '.join(unknown)}; use "
            + ", ".join(c.value for c in ContentCategory) + ".")
    if len(set(categories)) < len(categories):
        bad("content_categories", "A category is listed twice.")
    if sensitivity is Sensitivity.NONE and categories:
        bad("content_categories", "Must be empty when the sensitivity is none.")
    if sensitivity is not Sensitivity.NONE and not categories:
        bad("content_categories", f"Name at least one category for {sensitivity.value} content.")
    return sensitivity, categories


def _external_id_of(values: dict[str, Any]) -> str | None:
    found = values.get("external_id")
    return found.strip()[:EXTERNAL_ID_MAX] if isinstance(found, str) and found.strip() else None


# --- reading the formats -------------------------------------------------------------

# (line, values, names, messages): the fields check_row reads, what the file calls them,
# and problems found before (the line is not JSON, an unknown key...).
Parsed = tuple[int, dict[str, Any], dict[str, str], list[str]]


def _lines(text: IO[str]) -> Iterator[tuple[int, str | None]]:
    """Numbered lines; ``None`` for one longer than ``MAX_LINE_CHARS`` (skipped)."""
    number = 0
    while True:
        line = text.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            while (rest := text.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                pass
            yield number, None
            continue
        yield number, line


def _jsonl_rows(body: IO[bytes]) -> Iterator[Parsed]:
    text = io.TextIOWrapper(body, encoding="utf-8-sig", newline=None)
    names = {"prompt": "payload.prompt", "media_urls": "payload.media_urls",
             "instructions": "payload.instructions", "responses": "payload.responses"}
    for number, line in _lines(text):
        if line is None:
            yield number, {}, names, [f"The line is longer than {MAX_LINE_CHARS} characters."]
            continue
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            yield number, {}, names, [f"Not valid JSON: {getattr(exc, 'msg', exc)}."]
            continue
        if not isinstance(data, dict):
            yield number, {}, names, ["Each line must be a JSON object."]
            continue
        messages = [f"{key}: Unknown field." for key in data if key not in FIELDS]
        values = {k: data[k] for k in ("external_id", "redundancy", "priority", "gold_answer",
                                       "sensitivity", "content_categories")
                  if k in data}
        payload = data.get("payload")
        if isinstance(payload, dict):
            messages += [f"payload.{key}: Unknown field." for key in payload
                         if key not in PAYLOAD_FIELDS]
            values.update({k: payload[k] for k in PAYLOAD_FIELDS if k in payload})
        elif payload is not None:
            messages.append(gettext("payload: Must be an object."))
        yield number, values, names, messages


def _csv_int(raw: str) -> Any:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return raw  # check_row names it


def _csv_rows(body: IO[bytes]) -> Iterator[Parsed]:
    text = io.TextIOWrapper(body, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _FileError(1, f"The CSV header cannot be read: {exc}.") from exc
    if header is None:
        return
    columns = [name.strip() for name in header]
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    missing = [name for name in ("external_id", "prompt") if name not in columns]
    if unknown or repeated or missing:
        parts = []
        if unknown:
            parts.append("unknown columns " + ", ".join(unknown))
        if repeated:
            parts.append("repeated columns " + ", ".join(repeated))
        if missing:
            parts.append("missing columns " + ", ".join(missing))
        raise _FileError(1, "The CSV header has " + "; ".join(parts) + ". Columns: "
                         + ", ".join(CSV_COLUMNS) + ".")
    last_line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _FileError(last_line + 1, f"The CSV cannot be read on: {exc}.") from exc
        number, last_line = last_line + 1, reader.line_num
        if not cells or all(not cell.strip() for cell in cells):
            continue
        messages = []
        if len(cells) > len(columns):
            messages.append(gettext("The row has %(cells)s fields; the header has %(columns)s.",
                                    cells=len(cells), columns=len(columns)))
        raw = dict(zip(columns, cells, strict=False))
        values: dict[str, Any] = {}
        for name in ("external_id", "prompt", "instructions"):
            if raw.get(name):
                values[name] = raw[name]
        if raw.get("media_urls", "").strip():
            values["media_urls"] = [u for u in _URL_SEPARATORS.split(raw["media_urls"]) if u]
        if raw.get("sensitivity", "").strip():
            values["sensitivity"] = raw["sensitivity"].strip()
        if raw.get("content_categories", "").strip():
            values["content_categories"] = [
                c for c in _URL_SEPARATORS.split(raw["content_categories"]) if c
            ]
        for name in ("redundancy", "priority"):
            if (number_value := _csv_int(raw.get(name, ""))) is not None:
                values[name] = number_value
        for name, example in (
            ("responses", '[{"id": "a", "text": "..."}, {"id": "b", "text": "..."}]'),
            ("gold_answer", '"yes" in quotes, 3 or {"label": "a"}'),
        ):
            if (text := raw.get(name, "").strip()):
                try:
                    values[name] = json.loads(text)
                except ValueError:
                    messages.append(gettext("%(name)s: Must be JSON text, e.g. %(example)s.",
                                            name=name, example=example))
        yield number, values, {}, messages


# --- the import ----------------------------------------------------------------------


def import_tasks(
    session: Session,
    staff: User,
    project_id: uuid.UUID,
    body: IO[bytes],
    *,
    fmt: ImportFormat,
    skip_invalid: bool = False,
) -> ImportReport:
    """Import tasks from a JSON-lines or CSV byte stream into the project.

    Refused on closed projects (409). A file with invalid rows raises ``Invalid``
    (code ``import-invalid``) carrying the counts and row errors, unless
    ``skip_invalid``: then the valid rows are imported and the errors reported.
    """
    project = access.get_project(session, staff, project_id)
    if project.state is ProjectState.CLOSED:
        raise Conflict(gettext("The project is closed and takes no new tasks."),
                       code="project-closed",
                       current_state=project.state.value)
    started = clock.now()
    record = TaskImport(project_id=project.id, created_by_id=staff.id, created_at=started,
                        format=fmt.value)
    session.add(record)
    session.flush()  # the tasks refer to it
    report = ImportReport(format=fmt, skip_invalid=skip_invalid, import_id=record.id)
    template = templates.current_version(session, project.id)
    rows = _jsonl_rows(body) if fmt is ImportFormat.JSONL else _csv_rows(body)
    batch: list[tuple[int, CleanRow]] = []
    try:
        for number, values, names, messages in rows:
            report.rows += 1
            row, problems = (
                check_row(values, names, project_sensitivity=project.sensitivity,
                          template_fields=template.fields if template else None)
                if values or not messages else (None, [])
            )
            if messages or row is None:
                report.add_error(number, _external_id_of(values), messages + problems)
                continue
            batch.append((number, row))
            if len(batch) >= BATCH_SIZE:
                _insert_batch(session, project.id, record.id, batch, report, started)
                batch = []
        _insert_batch(session, project.id, record.id, batch, report, started)
    except UnicodeDecodeError as exc:
        raise Invalid(gettext("The file is not UTF-8 text; nothing was imported."),
                      code="import-unreadable", line=report.rows + 1,
                      errors={"body": [str(exc)]}) from exc
    except _FileError as exc:
        raise Invalid(gettext("Line %(line)s: %(message)s Nothing was imported.",
                              line=exc.line, message=exc.message),
                      code="import-unreadable", line=exc.line,
                      errors={"body": [exc.message]}) from exc
    if report.rows == 0:
        raise Invalid(gettext("The file holds no tasks."), code="import-empty",
                      errors={"body": [gettext("No rows.")]})
    if report.invalid and not skip_invalid:
        raise Invalid(
            gettext("%(invalid)s of %(rows)s rows are invalid; nothing was imported. Fix them, or "
                    "import again with skip_invalid=true to import the valid rows.",
                    invalid=report.invalid, rows=report.rows),
            code="import-invalid", **report.as_problem(),
        )
    record.rows, record.created = report.rows, report.created
    record.duplicates, record.invalid = report.duplicates, report.invalid
    events.import_finished(session, project, record)
    audit.record(
        session, staff, "tasks.imported", object_type="task_import", object_id=record.id,
        organisation_id=project.organisation_id, before=None,
        after={"project_id": str(project.id), "format": fmt.value, "rows": report.rows,
               "created": report.created, "duplicates": report.duplicates,
               "invalid": report.invalid},
    )
    session.flush()
    return report


def _insert_batch(
    session: Session,
    project_id: uuid.UUID,
    import_id: uuid.UUID,
    batch: list[tuple[int, CleanRow]],
    report: ImportReport,
    started: datetime,
) -> None:
    if not batch:
        return
    fresh: dict[str, tuple[int, CleanRow]] = {}
    repeated: list[tuple[int, str]] = []
    for number, row in batch:
        if row.external_id in fresh:
            repeated.append((number, row.external_id))
        else:
            fresh[row.external_id] = (number, row)
    if session.get_bind().dialect.name == "postgresql":
        inserted = _insert_postgresql(session, project_id, import_id, fresh, started)
    else:
        inserted = _insert_sqlite(session, project_id, import_id, fresh, started)
    report.created += len(inserted)
    repeated += [(number, ext) for ext, (number, _) in fresh.items() if ext not in inserted]
    for number, external_id in sorted(repeated):
        report.add_duplicate(number, external_id)


def _created_at(started: datetime, line: int) -> datetime:
    # Later rows are younger: equal priorities are claimed in the file's order.
    return started + timedelta(microseconds=line)


# One statement per batch, its rows sent as one array per column: the unique key
# (project, external id) finds the duplicates (in the project, earlier in the file, or
# from an import running at the same moment) with an index probe per row, and
# RETURNING says which rows went in. (A SELECT of the batch's ids would be planned
# once, generically, and scan every task the import has added so far.)
_POSTGRESQL_INSERT = text("""
INSERT INTO tasks (id, project_id, external_id, payload, redundancy, priority, gold_answer,
                   open_slots, import_id, created_at, updated_at, sensitivity,
                   content_categories)
SELECT r.id, :project_id, r.external_id, CAST(r.payload AS jsonb), r.redundancy,
       r.priority, CAST(r.gold_answer AS jsonb), r.redundancy, :import_id, r.created_at,
       r.created_at, r.sensitivity, CAST(r.content_categories AS jsonb)
FROM unnest(CAST(:ids AS uuid[]), CAST(:external_ids AS varchar[]),
            CAST(:payloads AS text[]), CAST(:redundancies AS integer[]),
            CAST(:priorities AS integer[]), CAST(:golds AS text[]),
            CAST(:times AS timestamptz[]), CAST(:sensitivities AS varchar[]),
            CAST(:categories AS text[]))
     AS r(id, external_id, payload, redundancy, priority, gold_answer, created_at,
          sensitivity, content_categories)
ON CONFLICT (project_id, external_id) DO NOTHING
RETURNING external_id
""")


def _insert_postgresql(
    session: Session,
    project_id: uuid.UUID,
    import_id: uuid.UUID,
    fresh: dict[str, tuple[int, CleanRow]],
    started: datetime,
) -> set[str]:
    rows = list(fresh.values())
    return set(session.scalars(_POSTGRESQL_INSERT, {
        "project_id": project_id, "import_id": import_id,
        "ids": [uuid.uuid4() for _ in rows],
        "external_ids": [row.external_id for _, row in rows],
        "payloads": [json.dumps(row.payload) for _, row in rows],
        "redundancies": [row.redundancy for _, row in rows],
        "priorities": [row.priority for _, row in rows],
        # JSON null, as the ORM stores a task without a gold answer.
        "golds": [json.dumps(row.gold_answer) for _, row in rows],
        "times": [_created_at(started, number) for number, _ in rows],
        "sensitivities": [row.sensitivity.value if row.sensitivity else None for _, row in rows],
        # SQL NULL for a task without its own warning.
        "categories": [None if row.content_categories is None
                       else json.dumps(row.content_categories) for _, row in rows],
    }))


def _insert_sqlite(
    session: Session,
    project_id: uuid.UUID,
    import_id: uuid.UUID,
    fresh: dict[str, tuple[int, CleanRow]],
    started: datetime,
) -> set[str]:
    # SQLite lets one writer in at a time, so no other import adds ids between this
    # look-up and the insert.
    existing = set(session.scalars(
        select(Task.external_id)
        .where(Task.project_id == project_id, Task.external_id.in_(list(fresh)))
    ))
    values = [
        {
            "id": uuid.uuid4(), "project_id": project_id, "external_id": row.external_id,
            "payload": row.payload, "redundancy": row.redundancy, "priority": row.priority,
            "gold_answer": row.gold_answer, "open_slots": row.redundancy,
            "import_id": import_id, "created_at": _created_at(started, number),
            "updated_at": _created_at(started, number),
            "sensitivity": row.sensitivity, "content_categories": row.content_categories,
        }
        for number, row in fresh.values() if row.external_id not in existing
    ]
    if values:
        session.execute(insert(Task.__table__), values)
    return {value["external_id"] for value in values}


# --- reading -------------------------------------------------------------------------


def list_imports(
    session: Session, staff: User, project_id: uuid.UUID, page: PageRequest
) -> Page[TaskImport]:
    """The project's imports, newest first."""
    access.get_project(session, staff, project_id)
    stmt = select(TaskImport).where(TaskImport.project_id == project_id)
    return paginate(session, stmt, page, created_at=TaskImport.created_at, row_id=TaskImport.id)
