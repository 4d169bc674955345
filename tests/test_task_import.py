"""Bulk task import through the API: JSON lines and CSV, duplicates, validation
(all-or-nothing or skipping), content types, body size, and 100,000 rows streamed."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import ProjectFactory, StaffFactory, UserFactory
from tests.task_helpers import API, JSONL, import_file, jsonl, row
from workforce.accounts.models import AuditEvent, Role, User
from workforce.projects.models import Project, ProjectState, Task, TaskImport
from workforce.settings import Settings, SettingsError


@pytest.fixture
def manager(session: Session) -> User:
    return StaffFactory()


@pytest.fixture
def project(manager: User) -> Project:
    return ProjectFactory(manager=manager)


def tasks_of(session: Session, project: Project) -> dict[str, Task]:
    return {
        t.external_id: t
        for t in session.scalars(select(Task).where(Task.project_id == project.id))
    }


def count(session: Session, model: Any, project: Project) -> int:
    return session.scalar(
        select(func.count()).select_from(model).where(model.project_id == project.id)
    )


# --- the happy paths -----------------------------------------------------------------


def test_a_jsonl_file_creates_its_tasks_and_a_record(
    client: ApiClient, session: Session, manager: User, project: Project
) -> None:
    body = jsonl([
        row("clip-1", "Which accent?", media_urls=["https://cdn.example.org/1.mp3"],
            instructions="Listen twice.", redundancy=3, priority=5, gold_answer="Hong Kong"),
        row("clip-2", "Which district?"),
        "",  # blank lines are not rows
    ])

    response = import_file(client, manager, project, body)

    assert response.status_code == 201, response.get_data(as_text=True)
    report = response.get_json()
    assert report | {"import_id": None} == {
        "import_id": None, "format": "jsonl", "skip_invalid": False, "rows": 2,
        "created": 2, "duplicates": 0, "invalid": 0, "row_errors": [], "errors_not_shown": 0,
        "duplicate_rows": [], "duplicates_not_shown": 0,
    }
    made = tasks_of(session, project)
    first = made["clip-1"]
    assert first.payload == {"prompt": "Which accent?", "instructions": "Listen twice.",
                             "media_urls": ["https://cdn.example.org/1.mp3"]}
    assert (first.redundancy, first.open_slots, first.priority) == (3, 3, 5)
    assert first.gold_answer == "Hong Kong"
    assert str(first.import_id) == report["import_id"]
    second = made["clip-2"]
    assert second.payload == {"prompt": "Which district?", "instructions": "", "media_urls": []}
    assert (second.redundancy, second.priority, second.gold_answer) == (1, 0, None)

    record = session.get(TaskImport, first.import_id)
    assert (record.rows, record.created, record.duplicates, record.invalid) == (2, 2, 0, 0)
    assert record.created_by_id == manager.id and record.format == "jsonl"
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "tasks.imported",
                                                     AuditEvent.object_id == str(record.id)))
    assert audit.one().after["created"] == 2

    imports = client.get(f"{API}/projects/{project.id}/imports", as_user=manager).get_json()
    assert [(i["id"], i["created"]) for i in imports["items"]] == [(report["import_id"], 2)]


def test_staff_see_the_tasks_with_slots_answers_and_gold(
    client: ApiClient, session: Session, manager: User, project: Project
) -> None:
    body = jsonl([row(f"t-{n}", gold_answer={"label": n}, redundancy=2) for n in range(3)])
    assert import_file(client, manager, project, body).status_code == 201
    reviewer = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)

    page = client.get(f"{API}/projects/{project.id}/tasks?limit=2", as_user=reviewer).get_json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    item = page["items"][0]
    assert item["open_slots"] == 2 and item["redundancy"] == 2
    assert item["gold_answer"] == {"label": int(item["external_id"][-1])}
    assert item["answers"]["leased"] == 0 and item["answers"]["approved"] == 0
    one = client.get(f"{API}/projects/{project.id}/tasks?external_id=t-1", as_user=reviewer)
    assert [t["external_id"] for t in one.get_json()["items"]] == ["t-1"]
    # Finance reads reports, not tasks; another organisation sees nothing.
    finance = StaffFactory(role=Role.FINANCE, organisation=manager.organisation)
    assert_problem(client.get(f"{API}/projects/{project.id}/tasks", as_user=finance), 403)
    stranger = StaffFactory(role=Role.REVIEWER)
    assert_problem(client.get(f"{API}/projects/{project.id}/tasks", as_user=stranger), 404)


def test_a_csv_file_imports_with_its_columns(
    client: ApiClient, session: Session, manager: User, project: Project
) -> None:
    body = (
        b"external_id,prompt,media_urls,instructions,redundancy,priority,gold_answer\r\n"
        b'a-1,"Which accent, please?",https://x.example/1.mp3 https://x.example/2.mp3,,2,7,'
        b'"""Hong Kong"""\r\n'
        b'a-2,"Two\nlines",https://x.example/3.mp3|https://x.example/4.mp3,Careful,,,\r\n'
        b"\r\n"
        b'a-3,Third,,,,,"{""label"": 3}"\r\n'
    )

    response = import_file(client, manager, project, body, content_type="text/csv")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["created"] == 3
    made = tasks_of(session, project)
    assert made["a-1"].payload == {
        "prompt": "Which accent, please?", "instructions": "",
        "media_urls": ["https://x.example/1.mp3", "https://x.example/2.mp3"],
    }
    assert (made["a-1"].redundancy, made["a-1"].priority) == (2, 7)
    assert made["a-1"].gold_answer == "Hong Kong"
    assert made["a-2"].payload["prompt"] == "Two\nlines"
    assert made["a-2"].payload["media_urls"] == ["https://x.example/3.mp3",
                                                 "https://x.example/4.mp3"]
    assert made["a-2"].gold_answer is None
    assert made["a-3"].gold_answer == {"label": 3}


def test_csv_errors_name_the_line_and_column(
    client: ApiClient, session: Session, manager: User, project: Project
) -> None:
    body = (
        b"external_id,prompt,redundancy,gold_answer\n"
        b"ok-1,Fine,1,\n"
        b'"b-1","Multi\nline",zero,\n'
        b"b-2,,1,not json\n"
        b"b-3,Extra,1,,surplus\n"
    )

    response = import_file(client, manager, project, body, content_type="text/csv")

    body_json = assert_problem(response, 422, code="import-invalid")
    errors = {e["line"]: e for e in body_json["row_errors"]}
    assert sorted(errors) == [3, 5, 6]
    assert errors[3]["external_id"] == "b-1"
    assert errors[3]["messages"] == ["redundancy: Must be a whole number from 1 to 100."]
    assert any(m.startswith("prompt:") for m in errors[5]["messages"])
    assert any(m.startswith("gold_answer:") for m in errors[5]["messages"])
    assert errors[6]["messages"] == ["The row has 5 fields; the header has 4."]
    assert count(session, Task, project) == 0


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("external_id,prompt,colour", "unknown columns colour"),
        ("external_id,external_id,prompt", "repeated columns external_id"),
        ("prompt,priority", "missing columns external_id"),
    ],
)
def test_a_csv_header_that_does_not_fit_refuses_the_file(
    client: ApiClient, session: Session, manager: User, project: Project, header: str,
    named: str,
) -> None:
    body = f"{header}\nx,y,z\n".encode()
    response = import_file(client, manager, project, body, content_type="text/csv",
                           skip_invalid=True)
    problem = assert_problem(response, 422, code="import-unreadable")
    assert named in problem["detail"] and problem["line"] == 1
    assert count(session, Task, project) == 0


# --- duplicates ----------------------------------------------------------------------


def test_duplicates_create_and_change_nothing_and_are_reported(
    client: ApiClient, session: Session, manager: User, project: Project
) -> None:
    first = import_file(client, manager, project, jsonl([row("x-1", "Original"), row("x-2")]))
    assert first.get_json()["created"] == 2

    again = import_file(client, manager, project, jsonl([
        row("x-1", "Changed", priority=9), row("x-3"), row("x-3", "Repeated in the file"),
        row("x-2"),
    ]))

    assert again.status_code == 201
    report = again.get_json()
    assert (report["rows"], report["created"], report["duplicates"]) == (4, 1, 3)
    assert report["duplicate_rows"] == [
        {"line": 1, "external_id": "x-1"}, {"line": 3, "external_id": "x-3"},
        {"line": 4, "external_id": "x-2"},
    ]
    made = tasks_of(session, project)
    assert made["x-1"].payload["prompt"] == "Original" and made["x-1"].priority == 0
    assert made["x-3"].payload["prompt"] == "Which accent is this?"
    # Another project may use the same external ids.
    other = ProjectFactory(manager=manager)
    assert import_file(client, manager, other, jsonl([row("x-1")])).get_json()["created"] == 1


# --- validation ----------------------------------------------------------------------

BAD_ROWS = [
    ({"payload": {"prompt": "No id"}}, "external_id: Required"),
    (row("x" * 201), "external_id: At most 200 characters."),
    (row("   "), "external_id: Required"),
    (row("p", ""), "payload.prompt: Required"),
    ({"external_id": "p"}, "payload.prompt: Required"),
    ({"external_id": "p", "payload": "text"}, "payload: Must be an object."),
    (row("p", 42), "payload.prompt: Required"),
    (row("p", "x" * 20_001), "payload.prompt: At most 20000 characters."),
    (row("m", media_urls=["ftp://x.example/a.mp3"]), "payload.media_urls: URL 1 must be an"),
    (row("m", media_urls=["javascript:alert(1)"]), "payload.media_urls: URL 1 must be an"),
    (row("m", media_urls=["https://x.example/" + "a" * 2048]), "at most 2048 characters"),
    (row("m", media_urls="https://x.example/a.mp3"), "payload.media_urls: Must be a list"),
    (row("i", instructions=["no"]), "payload.instructions: Must be a text."),
    (row("r", redundancy=0), "redundancy: Must be a whole number from 1 to 100."),
    (row("r", redundancy=101), "redundancy: Must be a whole number from 1 to 100."),
    (row("r", redundancy="3"), "redundancy: Must be a whole number"),
    (row("r", redundancy=True), "redundancy: Must be a whole number"),
    (row("r", priority=1.5), "priority: Must be a whole number"),
    (row("r", priority=10**12), "priority: Must be a whole number"),
    (row("u", colour="red"), "colour: Unknown field."),
    ({"external_id": "u", "payload": {"prompt": "x", "hint": "y"}}, "payload.hint: Unknown"),
    (row("n", "nul \x00 here"), "payload.prompt: Must not contain NUL characters."),
    ('{"external_id": "g", "payload": {"prompt": "x"}, "gold_answer": NaN}', "gold_answer: NaN"),
    ("{not json", "Not valid JSON"),
    ("[1, 2]", "Each line must be a JSON object."),
]


@pytest.mark.parametrize(("bad", "message"), BAD_ROWS)
def test_an_invalid_row_imports_nothing_and_says_why(
    client: ApiClient, session: Session, manager: User, project: Project, bad: Any,
    message: str,
) -> None:
    response = import_file(client, manager, project, jsonl([row("good-1"), bad, row("good-2")]))

    problem = assert_problem(response, 422, code="import-invalid")
    assert (problem["rows"], problem["invalid"], problem["created"]) == (3, 1, 0)
    [error] = problem["row_errors"]
    assert error["line"] == 2
    assert any(m.startswith(message) or message in m for m in error["messages"]), error
    assert count(session, Task, project) == 0
    assert count(session, TaskImport, project) == 0


def test_skip_invalid_imports_the_valid_rows_and_reports_the_rest(
    client: ApiClient, session: Session, manager: User, project: Project
) -> None:
    rows = [row(f"ok-{n}") for n in range(3)] + [row(f"bad-{n}", "") for n in range(120)]

    response = import_file(client, manager, project, jsonl(rows), skip_invalid=True)

    assert response.status_code == 201
    report = response.get_json()
    assert (report["rows"], report["created"], report["invalid"]) == (123, 3, 120)
    # Named as in the 422 that refuses such a file without skip_invalid.
    assert "errors" not in report
    assert len(report["row_errors"]) == 100 and report["errors_not_shown"] == 20
    assert report["row_errors"][0] == {
        "line": 4, "external_id": "bad-0",
        "messages": ["payload.prompt: Required: a non-empty text."]}
    assert sorted(tasks_of(session, project)) == ["ok-0", "ok-1", "ok-2"]
    record = session.get(TaskImport, uuid.UUID(report["import_id"]))
    assert (record.rows, record.created, record.invalid) == (123, 3, 120)


def test_a_file_that_is_not_utf8_or_empty_is_refused(
    client: ApiClient, session: Session, manager: User, project: Project
) -> None:
    latin1 = jsonl([row("ok")]) + '{"external_id": "é"}\n'.encode("latin-1")
    assert_problem(import_file(client, manager, project, latin1), 422, code="import-unreadable")
    assert_problem(import_file(client, manager, project, b"\n\n"), 422, code="import-empty")
    assert_problem(import_file(client, manager, project, b"external_id,prompt\n",
                               content_type="text/csv"), 422, code="import-empty")
    assert count(session, Task, project) == 0


def test_a_byte_order_mark_and_crlf_are_fine(
    client: ApiClient, session: Session, manager: User, project: Project
) -> None:
    body = b"\xef\xbb\xbf" + jsonl([row("bom-1"), row("bom-2")]).replace(b"\n", b"\r\n")
    response = import_file(client, manager, project, body, content_type="application/jsonl")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert sorted(tasks_of(session, project)) == ["bom-1", "bom-2"]


# --- who, where, what kind of body ---------------------------------------------------


def test_content_types_roles_and_projects(
    client: ApiClient, session: Session, manager: User, project: Project
) -> None:
    body = jsonl([row("c-1")])
    for content_type in ("text/plain", "application/json", "application/x-ndjson; charset=latin-1"):
        response = import_file(client, manager, project, body, content_type=content_type)
        assert_problem(response, 415, code="unsupported-media-type")
    reviewer = StaffFactory(role=Role.REVIEWER, organisation=manager.organisation)
    assert_problem(import_file(client, reviewer, project, body), 403, code="role-forbidden")
    assert_problem(import_file(client, UserFactory(), project, body), 403, code="role-forbidden")
    assert_problem(import_file(client, StaffFactory(), project, body), 404)
    response = client.post(f"{API}/projects/{project.id}/tasks/import", data=body,
                           content_type="text/csv")
    assert_problem(response, 401)
    assert count(session, Task, project) == 0


@pytest.mark.parametrize("state", [ProjectState.DRAFT, ProjectState.PAUSED,
                                   ProjectState.SUSPENDED])
def test_work_may_be_queued_on_any_project_not_closed(
    client: ApiClient, session: Session, manager: User, state: ProjectState
) -> None:
    project = ProjectFactory(manager=manager, state=state)
    assert import_file(client, manager, project, jsonl([row("q-1")])).status_code == 201


def test_a_closed_project_takes_no_tasks(
    client: ApiClient, session: Session, manager: User
) -> None:
    project = ProjectFactory(manager=manager, state=ProjectState.CLOSED)
    response = import_file(client, manager, project, jsonl([row("q-1")]))
    assert_problem(response, 409, code="project-closed")


def test_the_import_size_setting_is_read_and_checked() -> None:
    assert Settings.from_env({}).max_import_bytes == 512 * 1024 * 1024
    settings = Settings.from_env({"WORKFORCE_MAX_IMPORT_BYTES": "2048"})
    assert settings.max_import_bytes == 2048
    for bad in ("12", "lots"):
        with pytest.raises(SettingsError, match="WORKFORCE_MAX_IMPORT_BYTES"):
            Settings.from_env({"WORKFORCE_MAX_IMPORT_BYTES": bad})


def test_imports_may_be_larger_than_other_bodies_up_to_their_own_limit(
    app: Flask, client: ApiClient, session: Session, manager: User, project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = app.extensions["workforce"]
    body = jsonl([row(f"big-{n}", "x" * 1000) for n in range(1500)])  # about 1.6 MB
    assert len(body) > services.settings.max_body_bytes
    assert import_file(client, manager, project, body).get_json()["created"] == 1500

    monkeypatch.setattr(services, "settings",
                        replace(services.settings, max_import_bytes=len(body) - 1))
    other = ProjectFactory(manager=manager)
    response = import_file(client, manager, other, body)
    assert_problem(response, 413)
    assert count(session, Task, other) == 0
    # Other routes keep the ordinary limit.
    response = client.post(f"{API}/projects/{project.id}/claims", as_user=UserFactory(),
                           data=b"{" + b" " * 1_100_000 + b"}",
                           content_type="application/json")
    assert_problem(response, 413)


# --- 100,000 rows --------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """A file read through, counting the bytes handed out so far."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self.raw = raw
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.read_so_far += len(data)
        return len(data)


@pytest.mark.slow
def test_a_hundred_thousand_rows_import_in_one_streamed_request(
    client: ApiClient, session: Session, manager: User, project: Project, tmp_path: Any,
    database: Any, figures: Callable[[str], dict],
) -> None:
    rows = 100_000
    path = tmp_path / "tasks.jsonl"
    with path.open("w") as out:
        for n in range(rows):
            out.write(json.dumps({
                "external_id": f"clip-{n:06d}",
                "payload": {"prompt": f"Which accent does speaker {n} have?",
                            "media_urls": [f"https://cdn.example.org/clips/{n}.mp3"]},
                "redundancy": 1 + n % 3, "priority": n % 5,
            }) + "\n")
    size = path.stat().st_size
    seen_at_first_insert: list[int] = []

    with path.open("rb") as raw:
        reader = CountingReader(raw)

        def first_insert(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if not seen_at_first_insert and statement.lstrip().startswith("INSERT INTO tasks"):
                seen_at_first_insert.append(reader.read_so_far)

        event.listen(database.engine, "before_cursor_execute", first_insert)
        try:
            started = time.perf_counter()
            response = client.post(
                f"{API}/projects/{project.id}/tasks/import", as_user=manager,
                input_stream=reader, content_length=size, content_type=JSONL,
            )
            elapsed = time.perf_counter() - started
        finally:
            event.remove(database.engine, "before_cursor_execute", first_insert)

    assert response.status_code == 201, response.get_data(as_text=True)[:2000]
    report = response.get_json()
    assert (report["rows"], report["created"], report["duplicates"]) == (rows, rows, 0)
    assert count(session, Task, project) == rows
    # Streamed: the first batch went in when a small part of the file had been read.
    assert seen_at_first_insert and seen_at_first_insert[0] < size // 20
    figures("task import")[f"100,000 rows ({size / 1e6:.1f} MB) on "
                           f"{database.engine.dialect.name}"] = f"{elapsed:.1f} s"
    assert elapsed < 120
    highest = session.scalars(
        select(Task).where(Task.project_id == project.id)
        .order_by(Task.priority.desc(), Task.created_at).limit(2)
    ).all()
    assert [t.external_id for t in highest] == ["clip-000004", "clip-000009"]
