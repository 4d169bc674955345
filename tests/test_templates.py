"""Task templates through the API: publishing and reading versions, the template check
(422 by JSON pointer), the answer's JSON Schema, submissions checked against the version
in force at the claim (every kind at its limits, conditional fields, a change
mid-project, projects without a template), tasks imported with responses, and the
review queue's answer by field."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import ProjectFactory, TaskFactory, UserFactory, staff
from tests.task_helpers import (
    API,
    answered,
    claimed,
    import_file,
    jsonl,
    submit,
    submitted,
)
from workforce import clock
from workforce.accounts.models import AuditEvent, User
from workforce.notifications.models import Notification
from workforce.projects.models import Project, ProjectState

PROMPT = "Mei lives in Hong Kong and works in Shenzhen."
OPTIONS = [{"value": "yue-HK", "label": "Hong Kong"}, {"value": "yue-CN", "label": "Guangzhou"},
           {"value": "other", "label": "Other"}]


def put_template(client: ApiClient, manager: User, project: Project | uuid.UUID,
                 fields: list[Any], **body: Any) -> Any:
    project_id = getattr(project, "id", project)
    return client.request("PUT", f"{API}/projects/{project_id}/template", as_user=manager,
                          json={"fields": fields, **body})


def manager_of(session: Session, project: Project) -> User:
    return session.get_one(User, project.created_by_id)


def field(name: str, kind: str, settings: dict[str, Any] | None = None, **extra: Any
          ) -> dict[str, Any]:
    return {"name": name, "label": name.replace("_", " ").title(), "kind": kind,
            **({"settings": settings} if settings is not None else {}), **extra}


@pytest.fixture
def trainer(session: Session) -> User:
    return UserFactory()


def staffed_with_manager(session: Session, trainer: User) -> tuple[Project, User]:
    project = ProjectFactory()
    staff(project, trainer)
    return project, manager_of(session, project)


def templated(client: ApiClient, session: Session, trainer: User, fields: list[Any],
              *, tasks: int = 1, payload: dict[str, Any] | None = None) -> Project:
    project, _ = staffed_with_manager(session, trainer)
    for _ in range(tasks):
        TaskFactory(project=project, payload=payload or {"prompt": PROMPT})
    answered(put_template(client, manager_of(session, project), project, fields), 201)
    return project


def errors_of(response: Any) -> dict[str, list[str]]:
    return assert_problem(response, 422, code="answer-invalid")["errors"]


# --- publishing and reading -------------------------------------------------------------


EVERY_KIND = [
    field("accent", "single_choice", {"options": OPTIONS, "none_of_these": True},
          help="Listen twice."),
    field("cues", "multi_choice", {"options": OPTIONS, "min_selected": 1, "max_selected": 2}),
    field("naturalness", "rating", {"min": 1, "max": 5, "step": 1, "min_label": "Robotic",
                                    "max_label": "Human", "gold_tolerance": 1}),
    field("age", "number", {"min": 0, "max": 120, "integer": True}),
    field("notes", "text", {"min_length": 2, "max_length": 40, "language": "yue-HK"},
          required=False),
    field("verdict", "pairwise", {"allow_tie": True, "strength": {"min": 1, "max": 3},
                                  "reason_required": True, "reason_min_length": 10}),
    field("criteria", "rubric", {"min_criteria": 1, "max_criteria": 3, "scoring": "points",
                                 "min_citations": 1, "citation_hosts": ["wikipedia.org"]}),
    field("entities", "span", {"labels": ["PER", "LOC"]}),
]
GOOD = {
    "accent": "none_of_these", "cues": ["yue-HK", "other"], "naturalness": 5, "age": 30,
    "verdict": {"choice": "B", "strength": 3, "reason": "B answers the question."},
    "criteria": [{"title": "Names the city", "description": "Says Hong Kong.", "points": 2,
                  "justification": "The clip says so.",
                  "citations": [{"url": "https://en.wikipedia.org/wiki/Hong_Kong",
                                 "title": "Hong Kong"}]}],
    "entities": [{"start": 0, "end": 3, "label": "PER"}, {"start": 13, "end": 22,
                                                          "label": "LOC"}],
}


def test_a_template_is_published_read_and_versioned(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project, manager = staffed_with_manager(session, trainer)
    none = answered(client.get(f"{API}/projects/{project.id}/template", as_user=trainer))
    assert none["version"] is None and none["fields"] is None
    assert "any JSON" in none["accepts"].replace("Any JSON", "any JSON")
    assert_problem(client.get(f"{API}/projects/{project.id}/template/schema",
                              as_user=manager), 404)

    first = answered(put_template(client, manager, project, EVERY_KIND,
                                  change_note="First cut."), 201)
    assert first["number"] == 1 and [f["name"] for f in first["fields"]] == [
        f["name"] for f in EVERY_KIND]
    # Defaults are filled in: what is stored is what is checked and shown.
    assert first["fields"][4]["required"] is False and first["fields"][0]["required"] is True
    assert first["fields"][7]["settings"] == {"labels": ["PER", "LOC"],
                                              "allow_overlap": False}
    assert first["fields"][2]["settings"]["gold_tolerance"] == 1
    second = answered(put_template(client, manager, project, EVERY_KIND[:2]), 201)
    assert second["number"] == 2

    current = answered(client.get(f"{API}/projects/{project.id}/template", as_user=trainer))
    assert current["version"] == 2 and len(current["fields"]) == 2
    versions = answered(client.get(f"{API}/projects/{project.id}/template/versions",
                                   as_user=trainer, query_string={"limit": 1}))
    assert [v["number"] for v in versions["items"]] == [2] and versions["next_cursor"]
    rest = answered(client.get(f"{API}/projects/{project.id}/template/versions",
                               as_user=manager,
                               query_string={"cursor": versions["next_cursor"]}))
    assert [v["number"] for v in rest["items"]] == [1]
    one = answered(client.get(f"{API}/projects/{project.id}/template/versions/1",
                              as_user=trainer))
    assert one["change_note"] == "First cut." and len(one["fields"]) == 8
    assert_problem(client.get(f"{API}/projects/{project.id}/template/versions/3",
                              as_user=manager), 404)

    schema = answered(client.get(f"{API}/projects/{project.id}/template/schema",
                                 as_user=trainer, query_string={"version": 1}))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert not list(Draft202012Validator(schema).iter_errors(GOOD))
    latest = answered(client.get(f"{API}/projects/{project.id}/template/schema",
                                 as_user=manager))
    assert set(latest["properties"]) == {"accent", "cues"}

    events = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "project.template_changed")).all()
    assert [(e.before["version"], e.after["version"]) for e in events] == [(None, 1), (1, 2)]
    told = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "project.template_changed"
    )).all()
    assert len(told) == 2 and "version 2" in told[-1].body


def test_a_draft_projects_members_are_not_told_and_outsiders_see_nothing(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = ProjectFactory(state=ProjectState.DRAFT, activated_at=None)
    answered(put_template(client, manager_of(session, project), project, EVERY_KIND[:1]), 201)
    assert not session.scalars(select(Notification).where(
        Notification.kind == "project.template_changed")).all()
    # A draft is nobody's business but its organisation's.
    assert_problem(client.get(f"{API}/projects/{project.id}/template", as_user=trainer), 404)
    other = ProjectFactory()
    assert_problem(put_template(client, manager_of(session, other), project,
                                EVERY_KIND[:1]), 404)


def test_a_template_with_problems_names_each_by_its_pointer(
    client: ApiClient, session: Session
) -> None:
    project = ProjectFactory()
    manager = manager_of(session, project)
    fields = [
        field("reason", "text", show_if={"field": "verdict", "in": ["B"]}),  # a later field
        field("verdict", "pairwise", {"allow_tie": False}),
        field("accent", "single_choice", {"options": [
            {"value": "yue-HK", "label": "Hong Kong"}, {"value": "", "label": "Blank"},
            {"value": "yue-HK", "label": "Again"}, {"value": "none_of_these", "label": "x"}]}),
        field("cues", "multi_choice", {"options": OPTIONS, "min_selected": 3,
                                       "max_selected": 2}),
        field("mos", "rating", {"min": 1, "max": 5, "step": 0.3, "gold_tolerance": -1}),
        field("age", "number", {"min": 10, "max": 1}),
        field("accent", "colour"),
        field("Bad Name", "text", {"language": "yue_HK", "colour": "red"}, extra=1),
        field("why", "text", show_if={"field": "verdict", "in": ["tie"]}),
        field("span", "span", {"labels": []}),
        field("criteria", "rubric", {"min_criteria": 30, "max_criteria": 20,
                                     "scoring": "stars", "citation_hosts": ["not a host"]}),
        "not an object",
    ]
    problem = assert_problem(put_template(client, manager, project, fields), 422,
                             code="template-invalid")
    assert set(problem["errors"]) == {
        "/fields/0/show_if/field",
        "/fields/2/settings/options/1/value",
        "/fields/2/settings/options/2/value",
        "/fields/2/settings/options/3/value",
        "/fields/3/settings/min_selected",
        "/fields/4/settings/step",
        "/fields/4/settings/gold_tolerance",
        "/fields/5/settings/min",
        "/fields/6/name",
        "/fields/6/kind",
        "/fields/7/name",
        "/fields/7/extra",
        "/fields/7/settings/language",
        "/fields/7/settings/colour",
        "/fields/8/show_if/in/0",
        "/fields/9/settings/labels",
        "/fields/10/settings/min_criteria",
        "/fields/10/settings/scoring",
        "/fields/10/settings/citation_hosts/0",
        "/fields/11",
    }
    assert "max_selected" in " ".join(problem["errors"]["/fields/3/settings/min_selected"])
    assert "yue-HK" in problem["errors"]["/fields/7/settings/language"][0]
    assert answered(client.get(f"{API}/projects/{project.id}/template",
                               as_user=manager))["version"] is None
    assert_problem(put_template(client, manager, project, []), 422, code="template-invalid")


# --- answers, kind by kind ---------------------------------------------------------------

# (field, answers accepted, (answer refused, pointers named)...) for each kind at its limits.
KIND_CASES = {
    "single_choice": (
        field("accent", "single_choice", {"options": OPTIONS}),
        ["yue-HK", "other"],
        [("none_of_these", ["/accent"]), ("yue-hk", ["/accent"]), (1, ["/accent"])],
    ),
    "single_choice_none": (
        field("accent", "single_choice", {"options": OPTIONS, "none_of_these": True}),
        ["none_of_these"],
        [("", ["/accent"])],
    ),
    "multi_choice": (
        field("cues", "multi_choice", {"options": OPTIONS, "min_selected": 1,
                                       "max_selected": 2}),
        [["yue-HK"], ["yue-HK", "other"]],
        [([], ["/cues"]), (["yue-HK", "yue-CN", "other"], ["/cues"]),
         (["yue-HK", "yue-HK"], ["/cues"]), (["nope"], ["/cues/0"]), ("yue-HK", ["/cues"])],
    ),
    "rating": (
        field("mos", "rating", {"min": 1, "max": 3, "step": 0.5}),
        [1, 1.5, 3, 3.0],
        [(0.5, ["/mos"]), (3.5, ["/mos"]), (1.25, ["/mos"]), ("2", ["/mos"]),
         (True, ["/mos"])],
    ),
    "number": (
        field("age", "number", {"min": 0, "max": 120, "integer": True}),
        [0, 120],
        [(-1, ["/age"]), (121, ["/age"]), (12.5, ["/age"]), ("12", ["/age"])],
    ),
    "text": (
        field("notes", "text", {"min_length": 2, "max_length": 5}),
        ["ab", "abcde"],
        [("a", ["/notes"]), ("abcdef", ["/notes"]), (5, ["/notes"])],
    ),
    "pairwise": (
        field("verdict", "pairwise", {"strength": {"min": 1, "max": 3},
                                      "reason_required": True, "reason_min_length": 5}),
        [{"choice": "A", "strength": 1, "reason": "Clear"},
         {"choice": "B", "strength": 3, "reason": "Kinder"}],
        [({"choice": "tie", "reason": "Equal"}, ["/verdict/choice"]),
         ({"choice": "A", "reason": "Clear"}, ["/verdict/strength"]),
         ({"choice": "A", "strength": 4, "reason": "Clear"}, ["/verdict/strength"]),
         ({"choice": "A", "strength": 1}, ["/verdict/reason"]),
         ({"choice": "A", "strength": 1, "reason": "Ok"}, ["/verdict/reason"]),
         ({"choice": "A", "strength": 1, "reason": "Clear", "x": 1}, ["/verdict/x"])],
    ),
    "pairwise_tie": (
        field("verdict", "pairwise", {"allow_tie": True}),
        [{"choice": "tie"}, {"choice": "B", "reason": "Shorter."}],
        [({"choice": "B", "strength": 2}, ["/verdict/strength"]),
         ({}, ["/verdict/choice"])],
    ),
    "pairwise_tie_with_a_scale": (  # a tie has no "how much better"
        field("verdict", "pairwise", {"allow_tie": True, "strength": {"min": 1, "max": 3}}),
        [{"choice": "tie"}, {"choice": "A", "strength": 2}],
        [({"choice": "tie", "strength": 2}, ["/verdict/strength"]),
         ({"choice": "A"}, ["/verdict/strength"])],
    ),
    "rubric": (
        field("criteria", "rubric", {"min_criteria": 1, "max_criteria": 2, "min_citations": 1,
                                     "citation_hosts": ["wikipedia.org"]}),
        [[{"title": "T", "description": "D", "weight": 0.5, "justification": "J",
           "citations": [{"url": "https://en.wikipedia.org/wiki/Cantonese"}]}]],
        [([], ["/criteria"]),
         ([{"title": "T", "description": "D", "weight": 0, "justification": "J",
            "citations": [{"url": "http://10.0.0.1/"}, {"url": "https://example.com/x"}]},
           {"title": "T"}],
          ["/criteria/0/weight", "/criteria/0/citations/0/url",
           "/criteria/0/citations/1/url", "/criteria/1/citations", "/criteria/1/description",
           "/criteria/1/justification", "/criteria/1/weight"]),
         ([{"title": "T", "description": "D", "weight": 1, "justification": "J",
            "citations": []}] * 3, ["/criteria", "/criteria/0/citations",
                                    "/criteria/1/citations", "/criteria/2/citations"])],
    ),
    "span": (
        field("entities", "span", {"labels": ["PER", "LOC"]}),
        [[], [{"start": 0, "end": 3, "label": "PER"},
              {"start": len(PROMPT) - 9, "end": len(PROMPT), "label": "LOC"}]],
        [([{"start": 0, "end": len(PROMPT) + 1, "label": "PER"}], ["/entities/0/end"]),
         ([{"start": 4, "end": 4, "label": "PER"}], ["/entities/0/end"]),
         ([{"start": 0, "end": 5, "label": "PER"}, {"start": 3, "end": 8, "label": "LOC"}],
          ["/entities/1"]),
         ([{"start": -1, "end": 2, "label": "ORG"}],
          ["/entities/0/start", "/entities/0/label"])],
    ),
    "span_overlapping": (
        field("entities", "span", {"labels": ["PER"], "allow_overlap": True}),
        [[{"start": 0, "end": 5, "label": "PER"}, {"start": 3, "end": 8, "label": "PER"}]],
        [],
    ),
}


@pytest.mark.parametrize("case", list(KIND_CASES))
def test_each_kind_is_accepted_and_refused_at_its_limits(
    client: ApiClient, session: Session, trainer: User, case: str
) -> None:
    template_field, good, bad = KIND_CASES[case]
    name = template_field["name"]
    project = templated(client, session, trainer, [template_field], tasks=len(good))
    for value in good:
        lease = claimed(client, trainer, project)
        assert lease["template"]["number"] == 1
        assert lease["template"]["fields"][0]["name"] == name
        for refused, pointers in bad:
            errors = errors_of(submit(client, trainer, lease["id"], answer={name: refused}))
            assert sorted(errors) == sorted(set(pointers)), (refused, errors)
        done = submitted(client, trainer, lease["id"], answer={name: value})
        assert done["state"] == "submitted" and done["answer"] == {name: value}


def test_required_fields_unknown_fields_and_non_objects(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = templated(client, session, trainer, EVERY_KIND)
    lease = claimed(client, trainer, project)
    problem = assert_problem(submit(client, trainer, lease["id"], answer={"colour": "red"}),
                             422, code="answer-invalid")
    assert set(problem["errors"]) == {"/colour", "/accent", "/cues", "/naturalness", "/age",
                                      "/verdict", "/criteria", "/entities"}
    assert problem["errors"]["/accent"] == ["Required."]
    assert problem["template_version"] == 1
    assert set(errors_of(submit(client, trainer, lease["id"], answer="Hong Kong"))) == {""}
    # Nothing was kept of the refusals.
    mine = answered(client.get(f"{API}/me/assignments/{lease['id']}", as_user=trainer))
    assert mine["state"] == "leased" and mine["answer"] is None
    done = submitted(client, trainer, lease["id"], answer=GOOD)
    assert done["answer"] == GOOD


def test_a_field_is_asked_only_when_its_condition_holds(
    client: ApiClient, session: Session, trainer: User
) -> None:
    fields = [
        field("verdict", "pairwise", {"allow_tie": True}),
        field("why_b", "text", {"min_length": 3}, show_if={"field": "verdict", "in": ["B"]}),
        field("cues", "multi_choice", {"options": OPTIONS}),
        field("other_cue", "text", required=False, show_if={"field": "cues", "in": ["other"]}),
        field("accent", "single_choice", {"options": OPTIONS}),
        field("accent_note", "text", show_if={"field": "accent", "in": ["other"]}),
    ]
    project = templated(client, session, trainer, fields, tasks=2)
    lease = claimed(client, trainer, project)
    base = {"cues": [], "accent": "yue-HK"}
    hidden = errors_of(submit(client, trainer, lease["id"], answer={
        **base, "verdict": {"choice": "A"}, "why_b": "Because", "other_cue": "x",
        "accent_note": "x"}))
    assert set(hidden) == {"/why_b", "/other_cue", "/accent_note"}
    assert "verdict is B" in hidden["/why_b"][0]
    missing = errors_of(submit(client, trainer, lease["id"], answer={
        "verdict": {"choice": "B"}, "cues": ["other"], "accent": "other"}))
    assert missing == {"/why_b": ["Required."], "/accent_note": ["Required."]}
    submitted(client, trainer, lease["id"], answer={
        "verdict": {"choice": "B"}, "why_b": "Kinder", "cues": ["other"],
        "accent": "other", "accent_note": "Macau?"})
    # The optional conditional field may be left out when shown.
    second = claimed(client, trainer, project)
    submitted(client, trainer, second["id"], answer={
        "verdict": {"choice": "tie"}, "cues": ["yue-HK", "other"], "accent": "yue-CN"})


def test_a_lease_keeps_the_version_of_its_claim(
    client: ApiClient, session: Session, trainer: User
) -> None:
    first = [field("accent", "single_choice", {"options": OPTIONS})]
    project = templated(client, session, trainer, first, tasks=3)
    manager = manager_of(session, project)
    before = claimed(client, trainer, project)
    assert before["template"]["number"] == 1
    with time_machine.travel(clock.now() + timedelta(seconds=5), tick=False):
        answered(put_template(client, manager, project,
                              [field("mos", "rating", {"min": 1, "max": 5})]), 201)
    with time_machine.travel(clock.now() + timedelta(seconds=10), tick=False):
        # Checked and shown with version 1, under which it was claimed.
        shown = answered(client.get(f"{API}/me/assignments/{before['id']}", as_user=trainer))
        assert shown["template"]["number"] == 1
        assert errors_of(submit(client, trainer, before["id"], answer={"mos": 3})) == {
            "/mos": ["Not a field of this template."], "/accent": ["Required."]}
        submitted(client, trainer, before["id"], answer={"accent": "yue-HK"})
        after = claimed(client, trainer, project)
        assert after["template"]["number"] == 2
        assert set(errors_of(submit(client, trainer, after["id"],
                                    answer={"accent": "yue-HK"}))) == {"/accent", "/mos"}
        done = submitted(client, trainer, after["id"], answer={"mos": 4})
        assert done["template"]["number"] == 2
        listed = answered(client.get(f"{API}/me/assignments", as_user=trainer))
        assert sorted(a["template"]["number"] for a in listed["items"]) == [1, 2]


def test_a_project_without_a_template_takes_any_json(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project = ProjectFactory()
    staff(project, trainer)
    TaskFactory(project=project)
    lease = claimed(client, trainer, project)
    assert lease["template"] is None
    done = submitted(client, trainer, lease["id"], answer=["any", {"json": 1}])
    assert done["answer"] == ["any", {"json": 1}]
    queue = answered(client.get(f"{API}/projects/{project.id}/reviews",
                                as_user=manager_of(session, project)))
    assert queue["items"][0]["fields"] is None and queue["items"][0]["template_version"] is None


# --- tasks with responses, and the review queue -----------------------------------------


def test_tasks_carry_the_responses_a_pairwise_field_compares(
    client: ApiClient, session: Session, trainer: User
) -> None:
    project, manager = staffed_with_manager(session, trainer)
    responses = [{"id": "gpt", "text": "Hong Kong."}, {"id": "other", "text": "Macau."}]
    answered(import_file(client, manager, project, jsonl([
        {"external_id": "json-1",
         "payload": {"prompt": "Where is the Peak?", "responses": responses}},
    ])), 201)
    csv = ("external_id,prompt,responses\n"
           f"csv-1,Which is kinder?,\"{json.dumps(responses).replace(chr(34), chr(34) * 2)}\"\n"
           ).encode()
    answered(import_file(client, manager, project, csv, content_type="text/csv"), 201)
    bad = import_file(client, manager, project, jsonl([
        {"external_id": "b1", "payload": {"prompt": "P", "responses": [{"id": "a",
                                                                         "text": "x"}]}},
        {"external_id": "b2", "payload": {"prompt": "P", "responses": [
            {"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}},
        {"external_id": "b3", "payload": {"prompt": "P", "responses": [
            {"id": "a", "text": "x"}, {"id": "b", "text": "y", "score": 1}]}},
    ]))
    problem = assert_problem(bad, 422, code="import-invalid")
    assert [e["line"] for e in problem["row_errors"]] == [1, 2, 3]
    assert all("responses" in e["messages"][0] for e in problem["row_errors"])
    bad_csv = b"external_id,prompt,responses\nc,P,[not json\n"
    assert_problem(import_file(client, manager, project, bad_csv, content_type="text/csv"),
                   422, code="import-invalid")

    answered(put_template(client, manager, project, [field("verdict", "pairwise")]), 201)
    # Under a pairwise template a task without its two responses cannot be answered.
    missing = assert_problem(import_file(client, manager, project, jsonl([
        {"external_id": "no-responses", "payload": {"prompt": "Which is kinder?"}},
    ])), 422, code="import-invalid")
    assert missing["row_errors"][0]["messages"][0].startswith("payload.responses: Required")
    seen = set()
    for _ in range(2):
        lease = claimed(client, trainer, project)
        assert lease["payload"]["responses"] == responses
        seen.add(lease["external_id"])
        submitted(client, trainer, lease["id"], answer={"verdict": {"choice": "A"}})
    assert seen == {"json-1", "csv-1"}


def test_reviewers_read_the_answer_by_field(
    client: ApiClient, session: Session, trainer: User
) -> None:
    fields = [field("accent", "single_choice", {"options": OPTIONS, "none_of_these": True}),
              field("cues", "multi_choice", {"options": OPTIONS}),
              field("mos", "rating", {"min": 1, "max": 5}),
              field("notes", "text", required=False)]
    project = templated(client, session, trainer, fields, tasks=2)
    for answer in ({"accent": "yue-CN", "cues": ["yue-HK", "other"], "mos": 4},
                   {"accent": "none_of_these", "cues": [], "mos": 1, "notes": "Noisy"}):
        lease = claimed(client, trainer, project)
        submitted(client, trainer, lease["id"], answer=answer)
    queue = answered(client.get(f"{API}/projects/{project.id}/reviews",
                                as_user=manager_of(session, project)))
    first, second = (item["fields"] for item in queue["items"])
    assert queue["items"][0]["template_version"] == 1
    assert first == [
        {"name": "accent", "label": "Accent", "kind": "single_choice", "value": "yue-CN",
         "chosen": ["Guangzhou"]},
        {"name": "cues", "label": "Cues", "kind": "multi_choice",
         "value": ["yue-HK", "other"], "chosen": ["Hong Kong", "Other"]},
        {"name": "mos", "label": "Mos", "kind": "rating", "value": 4, "chosen": None},
        {"name": "notes", "label": "Notes", "kind": "text", "value": None, "chosen": None},
    ]
    assert second[0]["chosen"] == ["None of these"] and second[3]["value"] == "Noisy"


def test_a_field_with_null_help_has_none(client: ApiClient, session: Session) -> None:
    """``"help": null`` is no help, as leaving it out is (it was refused as "must be a
    text", which read as if the text were too long); a number is still refused."""
    project = ProjectFactory()
    manager = manager_of(session, project)
    published = answered(put_template(client, manager, project,
                                      [field("note", "text", help=None)]), 201)
    assert published["fields"][0]["help"] == ""
    problem = assert_problem(put_template(client, manager, project,
                                          [field("note", "text", help=5)]), 422)
    assert set(problem["errors"]) == {"/fields/0/help"}
