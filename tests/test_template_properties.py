"""Property: submit accepts exactly the answers the published JSON Schema accepts, and
refuses the others naming the same JSON pointers.

Templates are generated (one to four fields of the kinds whose every rule the schema
says, with conditions on earlier choice and pairwise fields), and so are candidate
answers, valid and not. Each answer is validated with ``jsonschema`` against the schema
``GET /projects/{id}/template/schema`` publishes, and submitted. Two rules a schema
cannot say are kept out of the comparison: ``span`` fields are not generated (their
offsets are checked against the task's prompt), and rubric citation URLs are drawn only
from public addresses on hosts any template allows (the public-URL check passes them).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session

from tests.client import ApiClient
from tests.factories import ProjectFactory, TaskFactory, UserFactory, staff
from tests.task_helpers import API, answered, claimed, submit
from workforce.accounts.models import User

pytestmark = pytest.mark.slow

PUBLIC_URLS = ["https://en.wikipedia.org/wiki/Cantonese", "https://www.britannica.com/x",
               "http://example.org/page?q=1"]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                      blacklist_characters="\x00"), max_size=6)


# --- templates ------------------------------------------------------------------------


def _options(draw: Any) -> list[dict[str, str]]:
    count = draw(st.integers(2, 3))
    return [{"value": f"o{n}", "label": f"Option {n}"} for n in range(count)]


@st.composite
def settings_for(draw: Any, kind: str) -> dict[str, Any]:
    if kind == "single_choice":
        return {"options": _options(draw), "none_of_these": draw(st.booleans())}
    if kind == "multi_choice":
        options = _options(draw)
        low = draw(st.integers(0, 1))
        high = draw(st.one_of(st.none(), st.integers(max(low, 1), len(options))))
        return {"options": options, "min_selected": low, "max_selected": high}
    if kind == "rating":
        low, step = draw(st.sampled_from([0, 1])), draw(st.sampled_from([1, 0.5]))
        return {"min": low, "max": low + step * draw(st.integers(1, 4)), "step": step}
    if kind == "number":
        return {"min": draw(st.sampled_from([None, -2])), "max": draw(st.sampled_from(
            [None, 10])), "integer": draw(st.booleans())}
    if kind == "text":
        return {"min_length": draw(st.integers(0, 2)), "max_length": draw(st.integers(3, 6))}
    if kind == "pairwise":
        return {"allow_tie": draw(st.booleans()),
                "strength": draw(st.sampled_from([None, {"min": 1, "max": 3}])),
                "reason_required": draw(st.booleans()),
                "reason_min_length": draw(st.integers(0, 3))}
    return {"min_criteria": draw(st.integers(0, 1)), "max_criteria": draw(st.integers(2, 3)),
            "scoring": draw(st.sampled_from(["weight", "points"])),
            "min_citations": draw(st.integers(0, 1))}


KINDS = ["single_choice", "multi_choice", "rating", "number", "text", "pairwise", "rubric"]


def _values(field: dict[str, Any]) -> list[Any]:
    settings = field["settings"]
    if field["kind"] == "pairwise":
        return ["A", "B", *(["tie"] if settings["allow_tie"] else [])]
    values = [o["value"] for o in settings["options"]]
    if settings.get("none_of_these"):
        values.append("none_of_these")
    return values


@st.composite
def templates(draw: Any) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for number in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(KINDS))
        field = {"name": f"f{number}", "label": f"Field {number}", "kind": kind,
                 "required": draw(st.booleans()), "settings": draw(settings_for(kind))}
        sources = [f for f in fields if f["kind"] in ("single_choice", "multi_choice",
                                                       "pairwise")]
        if sources and draw(st.booleans()):
            source = draw(st.sampled_from(sources))
            values = _values(source)
            field["show_if"] = {"field": source["name"], "in": draw(
                st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))}
        fields.append(field)
    return fields


# --- answers --------------------------------------------------------------------------

JUNK = st.sampled_from([None, "zzz", 1, True, [], {}])


def value_of(field: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind, settings = field["kind"], field["settings"]
    if kind == "single_choice":
        return st.one_of(st.sampled_from([*_values(field), "none_of_these"]), JUNK)
    if kind == "multi_choice":
        return st.one_of(st.lists(st.sampled_from([*_values(field), "x"]), max_size=4), JUNK)
    if kind == "rating":
        step = settings["step"]
        near = [settings["min"] + step * n for n in range(-1, 7)]
        return st.one_of(st.sampled_from([*near, settings["min"] + step / 2, "1"]), JUNK)
    if kind == "number":
        return st.one_of(st.integers(-4, 12), st.floats(-4, 12, allow_nan=False), JUNK)
    if kind == "text":
        return st.one_of(TEXT, JUNK)
    if kind == "pairwise":
        return st.one_of(st.fixed_dictionaries(
            {"choice": st.sampled_from(["A", "B", "tie", "C"])},
            optional={"strength": st.integers(0, 4), "reason": TEXT, "extra": st.just(1)}),
            JUNK)
    citation = st.fixed_dictionaries({"url": st.one_of(st.sampled_from(PUBLIC_URLS),
                                                       st.just(7))},
                                     optional={"title": TEXT})
    criterion = st.fixed_dictionaries(
        {"title": TEXT, "description": TEXT, "justification": TEXT},
        optional={"weight": st.one_of(st.integers(-1, 3), st.floats(-1, 3)),
                  "points": st.integers(-2, 5), "citations": st.lists(citation, max_size=2),
                  "extra": st.just(0)})
    return st.one_of(st.lists(criterion, max_size=3), JUNK)


@st.composite
def answers(draw: Any, fields: list[dict[str, Any]]) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["text", [1], 3]))
    answer = {f["name"]: draw(value_of(f)) for f in fields if draw(st.integers(0, 4))}
    if draw(st.integers(0, 7)) == 0:
        answer["extra"] = 1
    return answer


@st.composite
def cases(draw: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    fields = draw(templates())
    return fields, draw(st.lists(answers(fields), min_size=1, max_size=4))


# --- what the schema says, read independently -------------------------------------------


def _pointer(path: list[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def schema_pointers(schema: dict[str, Any], answer: Any) -> set[str]:
    """The pointers of the values the schema refuses: a missing member by its own
    pointer, an unknown member by its own, anything else where jsonschema points."""
    found = set()
    for error in Draft202012Validator(schema).iter_errors(answer):
        path = list(error.absolute_path)
        if error.validator == "required":
            found |= {_pointer([*path, n]) for n in error.validator_value
                      if n not in error.instance}
        elif error.validator == "additionalProperties":
            found |= {_pointer([*path, n]) for n in error.instance
                      if n not in error.schema.get("properties", {})}
        else:
            found.add(_pointer(path))
    return found


@pytest.fixture
def trainer(session: Session) -> User:
    return UserFactory()


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_submit_agrees_with_the_published_schema(
    client: ApiClient, session: Session, trainer: User,
    case: tuple[list[dict[str, Any]], list[Any]],
) -> None:
    fields, candidates = case
    project = ProjectFactory()
    staff(project, trainer)
    TaskFactory(project=project)
    manager = session.get_one(User, project.created_by_id)
    answered(client.request("PUT", f"{API}/projects/{project.id}/template", as_user=manager,
                            json={"fields": fields}), 201)
    schema = answered(client.get(f"{API}/projects/{project.id}/template/schema",
                                 as_user=trainer))
    lease = claimed(client, trainer, project)
    for answer in candidates:
        expected = schema_pointers(schema, answer)
        response = submit(client, trainer, lease["id"], answer=answer)
        if not expected:
            assert response.status_code == 200, (answer, response.get_json())
            return
        assert response.status_code == 422, (answer, expected)
        assert set(response.get_json()["errors"]) == expected, answer
