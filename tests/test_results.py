"""Results out (issue 16): the results pages, the JSON-lines, CSV and preference
downloads, trainers' pseudonyms, incremental sync by ``updated_since``."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import ProjectFactory, StaffFactory, TaskFactory, UserFactory
from workforce import clock
from workforce.accounts.models import Role, User
from workforce.projects.models import Assignment, AssignmentState, Project, Task
from workforce.results import aggregates, exports
from workforce.results.aggregates import TaskAggregate
from workforce.results.fields import check_fields
from workforce.results.models import TemplateVersion

API = "/api/v1"
OPTIONS = [{"value": "yue-HK", "label": "Hong Kong"}, {"value": "yue-CN", "label": "Guangzhou"}]
CHOICE = {"name": "accent", "label": "Accent", "kind": "single_choice",
          "settings": {"options": OPTIONS}}
NOTE = {"name": "note", "label": "Note", "kind": "text", "required": False}
VERDICT = {"name": "verdict", "label": "Better?", "kind": "pairwise",
           "settings": {"allow_tie": True, "strength": {"min": 1, "max": 3}}}


def _start() -> datetime:
    return clock.now().replace(microsecond=0) - timedelta(days=2)


def manager_of(session: Session, project: Project) -> User:
    return session.get_one(User, project.created_by_id)


def templated(session: Session, fields: list[dict[str, Any]], *, at: datetime | None = None,
              project: Project | None = None) -> Project:
    project = project or ProjectFactory()
    number = 1 + len(list(session.query(TemplateVersion).filter_by(project_id=project.id)))
    session.add(TemplateVersion(
        project_id=project.id, number=number, fields=check_fields(fields),
        created_by_id=project.created_by_id, created_at=at or _start() - timedelta(days=1)))
    session.commit()
    return project


def approved(session: Session, task: Task, trainer: User, answer: Any, at: datetime
             ) -> Assignment:
    """An approved answer of ``trainer`` to ``task`` (claimed an hour before ``at``)."""
    assignment = Assignment(
        task_id=task.id, project_id=task.project_id, trainer_id=trainer.id,
        state=AssignmentState.APPROVED, claimed_at=at - timedelta(hours=1),
        revealed_at=at - timedelta(hours=1), lease_expires_at=at, submitted_at=at,
        answer=answer, active_seconds=60, reviewed_at=at)
    session.add(assignment)
    aggregates.answer_approved(session, task.project_id, task.id, at)  # as reviews do
    session.commit()
    return assignment


def aggregated(session: Session, task: Task, field: str, value: Any, confidence: float,
               at: datetime) -> None:
    session.add(TaskAggregate(
        task_id=task.id, field=field, kind="single_choice",
        method="dawid_skene", value=value, confidence=confidence, answers_count=2,
        template_version=1, computed_at=at))
    aggregates.aggregates_written(session, task.project_id, [task.id], at)  # as the job does
    session.commit()


def labelled_project(session: Session, tasks: int = 3) -> tuple[Project, list[User],
                                                                list[Task]]:
    """Tasks each answered by two trainers, an hour apart per task."""
    project = templated(session, [CHOICE, NOTE])
    trainers = [UserFactory(), UserFactory()]
    made = []
    for n in range(tasks):
        task = TaskFactory(project=project, external_id=f"clip-{n}", open_slots=0,
                           redundancy=2)
        for t, trainer in enumerate(trainers):
            approved(session, task, trainer, {"accent": OPTIONS[t]["value"]},
                     _start() + timedelta(hours=n, minutes=t))
        made.append(task)
    return project, trainers, made


def results(client: ApiClient, manager: User, project: Project, **query: Any) -> list[dict]:
    return client.every_item(f"{API}/projects/{project.id}/results", as_user=manager,
                             limit=2, **query)


def download(client: ApiClient, manager: User, project: Project, name: str,
             **query: Any) -> str:
    response = client.get(f"{API}/projects/{project.id}/{name}", as_user=manager,
                          query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "attachment" in response.headers["Content-Disposition"]
    return response.get_data(as_text=True)


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


# --- pages -------------------------------------------------------------------------------


def test_results_list_answers_by_pseudonym_with_aggregates(client: ApiClient,
                                                           session: Session) -> None:
    project, trainers, tasks = labelled_project(session)
    aggregated(session, tasks[0], "accent", "yue-HK", 0.93, _start() + timedelta(hours=5))
    items = results(client, manager_of(session, project), project)

    # Oldest change first: the aggregate made clip-0 the latest.
    assert [i["external_id"] for i in items] == ["clip-1", "clip-2", "clip-0"]
    latest = items[-1]
    assert latest["aggregates"]["accent"]["value"] == "yue-HK"
    assert latest["aggregates"]["accent"]["confidence"] == pytest.approx(0.93)
    assert latest["aggregates"]["note"] is None  # a text field: the answers are the result
    assert items[0]["aggregates"] == {"accent": None, "note": None}  # not computed yet
    answers = items[0]["answers"]
    assert [a["answer"] for a in answers] == [{"accent": "yue-HK"}, {"accent": "yue-CN"}]
    assert {a["template_version"] for a in answers} == {1}
    body = json.dumps(items)
    for trainer in trainers:
        assert str(trainer.id) not in body and trainer.email not in body
    assert len({a["trainer"] for a in answers}) == 2


def test_tasks_without_an_approved_answer_are_not_listed(client: ApiClient,
                                                         session: Session) -> None:
    project, _, _ = labelled_project(session, tasks=1)
    task = TaskFactory(project=project)
    session.add(Assignment(
        task_id=task.id, project_id=project.id, trainer_id=UserFactory().id,
        state=AssignmentState.SUBMITTED, claimed_at=_start(), revealed_at=_start(),
        lease_expires_at=_start() + timedelta(hours=1), submitted_at=_start(),
        answer={"accent": "yue-HK"}, active_seconds=60))
    session.commit()
    assert [i["external_id"] for i in results(client, manager_of(session, project),
                                              project)] == ["clip-0"]


def test_pseudonyms_are_stable_in_a_project_and_differ_across(client: ApiClient,
                                                              session: Session) -> None:
    first, trainers, _ = labelled_project(session)
    manager = manager_of(session, first)
    second = templated(session, [CHOICE], project=ProjectFactory(manager=manager))
    approved(session, TaskFactory(project=second), trainers[0], {"accent": "yue-HK"},
             _start())

    names = {a["trainer"] for i in results(client, manager, first) for a in i["answers"]}
    assert len(names) == 2  # one per trainer, the same on every task
    again = {a["trainer"] for i in results(client, manager, first) for a in i["answers"]}
    assert again == names
    [elsewhere] = results(client, manager, second)[0]["answers"]
    assert elsewhere["trainer"] not in names
    assert elsewhere["trainer"] == exports.pseudonym(
        client.client.application.extensions["workforce"].settings.pseudonym_secret,
        second.id, trainers[0].id)


def test_updated_since_gives_an_incremental_sync(client: ApiClient, session: Session) -> None:
    project, _, tasks = labelled_project(session)
    manager = manager_of(session, project)
    first = results(client, manager, project)
    mark = first[-1]["updated_at"]

    # Nothing changed: only the last task again (the bound is inclusive).
    assert [i["task_id"] for i in results(client, manager, project, updated_since=mark)] \
        == [first[-1]["task_id"]]
    # An aggregate computed and a late answer approved: both tasks come, in that order.
    later = datetime.fromisoformat(mark) + timedelta(hours=1)
    aggregated(session, tasks[1], "accent", "yue-CN", 0.6, later)
    approved(session, tasks[0], UserFactory(), {"accent": "yue-HK"}, later + timedelta(1))
    synced = results(client, manager, project, updated_since=later.isoformat())
    assert [i["external_id"] for i in synced] == ["clip-1", "clip-0"]
    assert len(synced[1]["answers"]) == 3


def test_outsiders_get_404_and_a_bad_time_422(client: ApiClient, session: Session) -> None:
    project, _, _ = labelled_project(session, tasks=1)
    stranger = StaffFactory(role=Role.VENDOR_MANAGER)
    for name in ("results", "results.jsonl", "results.csv", "results/preferences.jsonl"):
        assert_problem(client.get(f"{API}/projects/{project.id}/{name}", as_user=stranger),
                       404)
    response = client.get(f"{API}/projects/{project.id}/results",
                          as_user=manager_of(session, project),
                          query_string={"updated_since": "yesterday"})
    assert "updated_since" in assert_problem(response, 422)["errors"]
    # An offset's + left unencoded in the URL arrives as a space: the answer says so.
    unencoded = client.get(f"{API}/projects/{project.id}/results?updated_since="
                           "2026-12-08T10:00:00+08:00", as_user=manager_of(session, project))
    assert "%2B" in assert_problem(unencoded, 422)["errors"]["updated_since"][0]


# --- downloads ---------------------------------------------------------------------------


def test_the_jsonl_download_equals_the_pages(client: ApiClient, session: Session) -> None:
    project, _, tasks = labelled_project(session, tasks=5)
    aggregated(session, tasks[2], "accent", "yue-HK", 0.75, _start() + timedelta(hours=9))
    manager = manager_of(session, project)
    assert lines(download(client, manager, project, "results.jsonl")) \
        == results(client, manager, project)
    since = (_start() + timedelta(hours=3)).isoformat()
    assert lines(download(client, manager, project, "results.jsonl", updated_since=since)) \
        == results(client, manager, project, updated_since=since)


def test_the_csv_download_has_a_row_per_task(client: ApiClient, session: Session) -> None:
    project, _, tasks = labelled_project(session, tasks=2)
    aggregated(session, tasks[0], "accent", "yue-HK", 0.875, _start() + timedelta(hours=9))
    tasks[1].external_id = "=HYPERLINK(1)"
    session.commit()
    manager = manager_of(session, project)
    rows = list(csv.DictReader(io.StringIO(download(client, manager, project, "results.csv"))))
    items = results(client, manager, project)

    assert list(rows[0]) == ["task_id", "external_id", "updated_at", "accent",
                             "accent.confidence", "note", "note.confidence", "answers"]
    assert [r["task_id"] for r in rows] == [i["task_id"] for i in items]
    assert rows[0]["external_id"] == "'=HYPERLINK(1)"  # never a formula
    assert (rows[1]["accent"], rows[1]["accent.confidence"]) == ("yue-HK", "0.875")
    assert rows[0]["accent"] == rows[0]["note.confidence"] == ""
    assert json.loads(rows[1]["answers"]) == items[1]["answers"]


def test_an_empty_project_downloads_a_header_only(client: ApiClient, session: Session) -> None:
    project = templated(session, [CHOICE])
    manager = manager_of(session, project)
    assert download(client, manager, project, "results.jsonl") == ""
    assert download(client, manager, project, "results.csv").splitlines() == [
        "task_id,external_id,updated_at,accent,accent.confidence,answers"]


def test_preferences_give_one_line_per_judgment_without_ties(client: ApiClient,
                                                            session: Session) -> None:
    project = templated(session, [VERDICT])
    responses = [{"id": "model-a", "text": "On Hong Kong Island."},
                 {"id": "model-b", "text": "In Kowloon."}]
    task = TaskFactory(project=project, payload={"prompt": "Where is the Peak?",
                                                 "responses": responses})
    judgments = [{"choice": "A", "strength": 3, "reason": "Right."},
                 {"choice": "B", "strength": 1}, {"choice": "tie"}]
    for n, judgment in enumerate(judgments):
        approved(session, task, UserFactory(), {"verdict": judgment},
                 _start() + timedelta(minutes=n))
    no_pair = TaskFactory(project=project, payload={"prompt": "Alone"})
    approved(session, no_pair, UserFactory(), {"verdict": {"choice": "A", "strength": 2}},
             _start())

    found = lines(download(client, manager_of(session, project), project,
                           "results/preferences.jsonl"))
    assert [(p["chosen"], p["rejected"], p["strength"], p["reason"]) for p in found] == [
        ("On Hong Kong Island.", "In Kowloon.", 3, "Right."),
        ("In Kowloon.", "On Hong Kong Island.", 1, None),
    ]
    assert {p["prompt"] for p in found} == {"Where is the Peak?"}
    assert (found[0]["chosen_id"], found[0]["rejected_id"]) == ("model-a", "model-b")
    assert set(found[0]) == {"task_id", "external_id", "field", "trainer", "prompt", "chosen",
                             "rejected", "chosen_id", "rejected_id", "strength", "reason"}


# --- the stream ----------------------------------------------------------------------------


def _reading(session: Session) -> Any:
    @contextmanager
    def reading() -> Any:
        yield session
    return reading


def _bulk(session: Session, project: Project, count: int) -> None:
    trainer = UserFactory()
    for n in range(count):
        task = Task(project_id=project.id, external_id=f"bulk-{n}", payload={"prompt": "x"},
                    redundancy=1, open_slots=0)
        session.add(task)
        session.flush()
        session.add(Assignment(
            task_id=task.id, project_id=project.id, trainer_id=trainer.id,
            state=AssignmentState.APPROVED, claimed_at=_start(), revealed_at=_start(),
            lease_expires_at=_start(), submitted_at=_start(), answer={"accent": "yue-HK"},
            reviewed_at=_start() + timedelta(seconds=n)))
        aggregates.answer_approved(session, project.id, task.id, _start() + timedelta(seconds=n))
    session.commit()


def _peak(session: Session, project: Project, batch: int) -> tuple[int, int]:
    """Rows streamed and the peak of memory allocated while streaming them."""
    session.expunge_all()
    tracemalloc.start()
    try:
        rows = 0
        for reader, tasks in exports.result_rows(_reading(session), project.id, secret="s",
                                                 batch=batch):
            assert len(tasks) <= batch
            rows += reader.lines(tasks).count("\n")
            # Tasks and answers are read as columns; only the template versions (and a
            # batch's aggregates, weakly held) are objects: nothing piles up.
            assert len(session.identity_map) <= 1 + batch
        return rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _lower_peak(session: Session, project: Project) -> tuple[int, int]:
    return min((_peak(session, project, batch=50) for _ in range(2)),
               key=lambda found: found[1])


@pytest.mark.slow
def test_the_stream_holds_one_batch_whatever_the_size(session: Session) -> None:
    small, large = templated(session, [CHOICE]), templated(session, [CHOICE])
    _bulk(session, small, 200)
    _bulk(session, large, 2000)
    # Each stream twice, its lower peak kept: a process's first stream pays one-off
    # allocations (imports, compiled statements), which would flatter the ratio. Four
    # batches against forty: the drivers' and SQLAlchemy's buffers settle within a few
    # batches (1.6 to 1.7 times here on both databases; 60 against 600 rows measured
    # 1.8 to 2.2 on PostgreSQL, too close to the bound).
    rows_small, peak_small = _lower_peak(session, small)
    rows_large, peak_large = _lower_peak(session, large)
    assert (rows_small, rows_large) == (200, 2000)
    # Ten times the rows, not ten times the memory: one batch at a time.
    assert peak_large < 2 * peak_small, (peak_small, peak_large)


def test_the_stream_is_read_by_one_statement_and_a_lookup_per_batch(session: Session) -> None:
    from sqlalchemy import event

    project = templated(session, [CHOICE])
    _bulk(session, project, 7)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        chunks = list(exports.jsonl_lines(_reading(session), project.id, secret="s", batch=3))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert sum(chunk.count("\n") for chunk in chunks) == 7
    tasks_reads = [s for s in statements if "FROM task_results JOIN tasks" in s]
    assert len(tasks_reads) == 1  # the tasks: one statement, read a batch at a time
    answer_reads = [s for s in statements
                    if "FROM task_assignments" in s]
    assert len(answer_reads) == 3  # their answers: one read per batch of 3


def test_pseudonym_is_an_hmac_of_project_and_trainer() -> None:
    project, trainer = uuid.uuid4(), uuid.uuid4()
    name = exports.pseudonym("secret", project, trainer)
    assert name == exports.pseudonym("secret", project, trainer)
    assert name != exports.pseudonym("other", project, trainer)
    assert name != exports.pseudonym("secret", uuid.uuid4(), trainer)
    assert name.startswith("tr_") and len(name) == 19 and str(trainer) not in name


# --- the command line ----------------------------------------------------------------------


def test_the_cli_writes_what_the_downloads_serve(client: ApiClient, session: Session,
                                                tmp_path: Any) -> None:
    from workforce.results.cli import results as results_cli

    project, _, _ = labelled_project(session, tasks=4)
    manager = manager_of(session, project)
    runner = client.client.application.test_cli_runner()
    for fmt, name in (("jsonl", "results.jsonl"), ("csv", "results.csv")):
        target = tmp_path / f"out.{fmt}"
        outcome = runner.invoke(results_cli, ["export", str(project.id), "--format", fmt,
                                              "-o", str(target)])
        assert outcome.exit_code == 0, outcome.output
        assert "4 tasks written" in outcome.output
        assert target.read_bytes().decode() == download(client, manager, project, name)

    since = (_start() + timedelta(hours=2)).isoformat()
    outcome = runner.invoke(results_cli, ["export", str(project.id), "--since", since])
    assert outcome.exit_code == 0, outcome.output
    synced = [json.loads(line) for line in outcome.stdout.splitlines() if line.startswith("{")]
    assert [s["external_id"] for s in synced] == ["clip-2", "clip-3"]

    missing = runner.invoke(results_cli, ["export", str(uuid.uuid4())])
    assert missing.exit_code == 1 and "no project" in missing.output
    # A project without a pairwise field has no preference pairs: said, not an empty file.
    target = tmp_path / "preferences.jsonl"
    refused = runner.invoke(results_cli, ["export", str(project.id), "--format",
                                          "preferences", "-o", str(target)])
    assert refused.exit_code == 1 and "never had a pairwise field" in refused.output
    assert not target.exists()
    assert_problem(client.get(f"{API}/projects/{project.id}/results/preferences.jsonl",
                              as_user=manager), 409, code="no-pairwise-field")
    bad = runner.invoke(results_cli, ["export", str(project.id), "--since", "2026-01-01"])
    assert bad.exit_code == 2 and "offset" in bad.output
