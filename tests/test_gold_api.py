"""Gold answers with a task template, through the API: checked against the template when
imported (JSON lines and CSV), scored per field on submission with the version in force
at the claim, text and rubric gold sent to review, and the trainer's quality score as the
mean of the gold scores. The rules themselves are in ``test_gold.py``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.client import ApiClient, assert_problem
from tests.task_helpers import (
    API,
    answered,
    claimed,
    import_file,
    jsonl,
    row,
    staffed_project,
    submitted,
)
from workforce.accounts.models import User
from workforce.projects.models import Project

CSV = "text/csv"
PROMPT = "Chan Tai Man met Wong Siu Ming in Sham Shui Po."
RESPONSES = [{"id": "a", "text": "Victoria Harbour."}, {"id": "b", "text": "Kowloon."}]
OPTIONS = [{"value": v, "label": v.title()} for v in ("yue-HK", "yue-CN", "other")]
CITED = [{"title": f"Criterion {n}", "description": "Checks a claim.", "points": 2,
          "justification": "The question asks for it.",
          "citations": [{"url": f"https://en.wikipedia.org/wiki/Page_{n}", "title": "W"}]}
         for n in range(3)]
FIELDS: dict[str, dict[str, Any]] = {
    "single_choice": {"settings": {"options": OPTIONS}},
    "multi_choice": {"settings": {"options": OPTIONS}},
    "rating": {"settings": {"min": 1, "max": 5, "step": 1, "gold_tolerance": 1}},
    "number": {"settings": {"integer": True}},
    "pairwise": {"settings": {"allow_tie": True}},
    "span": {"settings": {"labels": ["PER", "LOC"]}},
    "text": {"settings": {}},
    "rubric": {"settings": {"min_criteria": 1, "scoring": "points", "min_citations": 1}},
}
# kind: (gold, the trainer's answer, its score or None when a person judges it)
RULES: list[tuple[str, Any, Any, str | None]] = [
    ("single_choice", "yue-HK", "yue-HK", "1.0000"),
    ("single_choice", "yue-HK", "yue-CN", "0.0000"),
    ("multi_choice", ["yue-HK", "other"], ["other", "yue-HK"], "1.0000"),
    ("multi_choice", ["yue-HK", "other"], ["yue-HK"], "0.0000"),
    ("rating", 4, 5, "1.0000"),
    ("rating", 4, 2, "0.0000"),
    ("number", 12, 12, "1.0000"),
    ("number", 12, 13, "0.0000"),
    ("pairwise", {"choice": "tie"}, {"choice": "B"}, "1.0000"),
    ("pairwise", {"choice": "A"}, {"choice": "B"}, "0.0000"),
    ("span", [{"start": 0, "end": 12, "label": "PER"}],
     [{"start": 0, "end": 12, "label": "PER"}], "1.0000"),
    ("span", [{"start": 0, "end": 12, "label": "PER"}],
     [{"start": 0, "end": 6, "label": "PER"}], "0.5000"),
    ("text", "Sham Shui Po", "Sham Shui Po", None),
    ("rubric", CITED, CITED, None),
]


@pytest.fixture
def project(manager: User, trainer: User) -> Project:
    # Nothing sampled: only gold that a person must judge goes to review.
    return staffed_project(trainer, manager=manager, review_sample_percent=0)


def field(kind: str, name: str = "value", **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": name.title(), "kind": kind, **FIELDS[kind], **extra}


def publish(client: ApiClient, manager: User, project: Project, *fields: dict) -> dict:
    response = client.request("PUT", f"{API}/projects/{project.id}/template", as_user=manager,
                              json={"fields": list(fields), "change_note": "Gold test."})
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()


def gold_row(external_id: str, gold: Any, **extra: Any) -> dict[str, Any]:
    made = row(external_id, PROMPT, gold_answer=gold, **extra)
    made["payload"]["responses"] = RESPONSES
    return made


def quality(client: ApiClient, trainer: User) -> dict[str, Any]:
    [mine] = client.get(f"{API}/me/quality", as_user=trainer).get_json()["organisations"]
    return mine


def review_item(client: ApiClient, manager: User, project: Project, lease: dict) -> dict:
    queue = client.get(f"{API}/projects/{project.id}/reviews", as_user=manager).get_json()
    [item] = [i for i in queue["items"] if i["assignment_id"] == lease["id"]]
    return item


@pytest.mark.parametrize(("kind", "gold", "answer", "score"), RULES,
                         ids=[f"{r[0]}-{r[3]}" for r in RULES])
def test_each_gold_rule_from_import_to_quality(
    client: ApiClient, manager: User, trainer: User, project: Project,
    kind: str, gold: Any, answer: Any, score: str | None,
) -> None:
    publish(client, manager, project, field(kind))
    answered(import_file(client, manager, project,
                         jsonl([gold_row("g-1", {"value": gold})])), 201)

    lease = claimed(client, trainer, project)
    done = submitted(client, trainer, lease["id"], answer={"value": answer})
    # The trainer learns nothing of the gold answer or its score.
    assert not {"gold_answer", "gold_score", "gold_scores", "gold_correct"} & set(done)

    if score is None:
        # No automatic score: a person judges it, so it waits in the review queue.
        assert done["state"] == "submitted"
        item = review_item(client, manager, project, lease)
        assert (item["gold_score"], item["gold_scores"], item["gold_correct"]) == (
            None, {"value": None}, None)
        assert quality(client, trainer)["quality_score"] is None
        return
    assert done["state"] == "approved"  # not sampled
    mine = quality(client, trainer)
    assert (mine["gold_scored"], mine["quality_score"]) == (1, score)
    assert mine["gold_correct"] == (1 if score == "1.0000" else 0)


def test_the_quality_score_is_the_mean_of_per_field_scores(
    client: ApiClient, manager: User, trainer: User, project: Project
) -> None:
    project_fields = (field("single_choice", "accent"), field("rating", "mos"),
                      field("text", "notes", required=False))
    publish(client, manager, project, *project_fields)
    answered(import_file(client, manager, project, jsonl([
        gold_row("g-1", {"accent": "yue-HK", "mos": 4}, priority=2),
        gold_row("g-2", {"accent": "yue-CN", "mos": 2, "notes": "Guangzhou tones."},
                 priority=1),
    ])), 201)

    first = claimed(client, trainer, project)
    assert submitted(client, trainer, first["id"],
                     answer={"accent": "yue-HK", "mos": 5})["state"] == "approved"
    second = claimed(client, trainer, project)
    # The accent is wrong, the rating within tolerance: 0.5; the notes go to review.
    assert submitted(client, trainer, second["id"], answer={
        "accent": "other", "mos": 3, "notes": "Sounds like Macau."})["state"] == "submitted"

    item = review_item(client, manager, project, second)
    assert item["gold_scores"] == {"accent": "0.0000", "mos": "1.0000", "notes": None}
    assert (item["gold_score"], item["gold_correct"]) == ("0.5000", False)
    mine = quality(client, trainer)
    assert (mine["gold_scored"], mine["gold_correct"], mine["quality_score"]) == (
        2, 1, "0.7500")


def test_a_lease_is_scored_with_the_template_version_of_its_claim(
    client: ApiClient, manager: User, trainer: User, project: Project
) -> None:
    strict = field("rating", "mos", settings={"min": 1, "max": 5, "step": 1})
    publish(client, manager, project, strict)
    answered(import_file(client, manager, project, jsonl([gold_row("g-1", {"mos": 4})])),
             201)
    lease = claimed(client, trainer, project)
    # A kinder tolerance after the claim does not change how this lease is scored.
    publish(client, manager, project, field("rating", "mos"))

    submitted(client, trainer, lease["id"], answer={"mos": 5})
    assert quality(client, trainer)["quality_score"] == "0.0000"


def test_gold_answers_that_do_not_fit_the_template_are_refused_by_row(
    client: ApiClient, manager: User, project: Project
) -> None:
    publish(client, manager, project, field("single_choice", "accent"),
            field("rating", "mos"), field("span", "names", required=False))
    response = import_file(client, manager, project, jsonl([
        gold_row("ok", {"accent": "yue-HK", "mos": 3}),
        gold_row("bad-option", {"accent": "yue-MO", "mos": 3}),
        gold_row("bad-many", {"mos": 9, "extra": 1,
                              "names": [{"start": 40, "end": 99, "label": "PER"}]}),
        gold_row("not-an-object", "yue-HK"),
    ]))

    problem = assert_problem(response, 422, code="import-invalid")
    errors = {e["external_id"]: e["messages"] for e in problem["row_errors"]}
    assert set(errors) == {"bad-option", "bad-many", "not-an-object"}
    assert [m.split(":")[0] for m in errors["bad-option"]] == ["gold_answer/accent"]
    assert {m.split(":")[0] for m in errors["bad-many"]} == {
        "gold_answer/accent", "gold_answer/mos", "gold_answer/extra",
        "gold_answer/names/0/end"}
    assert errors["not-an-object"][0].startswith("gold_answer:")
    tasks = client.get(f"{API}/projects/{project.id}/tasks", as_user=manager).get_json()
    assert tasks["items"] == []


def test_csv_gold_answers_are_checked_against_the_template_too(
    client: ApiClient, manager: User, project: Project
) -> None:
    publish(client, manager, project, field("single_choice", "accent"))
    body = (b'external_id,prompt,gold_answer\n'
            b'a-1,Which accent?,"{""accent"": ""yue-HK""}"\n'
            b'a-2,Which accent?,"{""accent"": ""yue-MO""}"\n'
            b'a-3,Which accent?,\n')
    problem = assert_problem(import_file(client, manager, project, body, content_type=CSV),
                             422, code="import-invalid")
    [error] = problem["row_errors"]
    assert error["line"] == 3 and error["messages"][0].startswith("gold_answer/accent:")

    fixed = body.replace(b"yue-MO", b"yue-CN")
    report = answered(import_file(client, manager, project, fixed, content_type=CSV), 201)
    assert report["created"] == 3


def test_gold_without_a_template_is_compared_whole_as_before(
    client: ApiClient, manager: User, trainer: User, project: Project
) -> None:
    answered(import_file(client, manager, project, jsonl([
        row("g-1", gold_answer={"accent": "Hong Kong"})])), 201)
    lease = claimed(client, trainer, project)
    submitted(client, trainer, lease["id"], answer={"accent": " hong kong"})
    mine = quality(client, trainer)
    assert (mine["gold_scored"], mine["gold_correct"], mine["quality_score"]) == (
        1, 1, "1.0000")
    assert Decimal(mine["quality_score"]) == 1
