"""A template's answer as a JSON Schema (draft 2020-12): what ``GET
/projects/{id}/template/schema`` publishes, so a client can render and pre-validate an
answer, and what ``results.answers`` validates submissions with.

The answer is an object {field name: value}. A field with ``show_if`` must be absent
while its condition is not met, and present (when required) while it is: an ``if`` /
``then`` / ``else`` per such field. A few rules no schema can say are checked beside it
(``results.answers``): span offsets within the task's text and not overlapping, and
citation URLs on public (and allowed) hosts.
"""

from __future__ import annotations

from typing import Any

from workforce.results.fields import PAIRWISE_SIDES, TIE, choice_values, rating_values

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TEXT_MAX = 100_000
SPANS_MAX = 1000
CITATIONS_MAX = 50
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def answer_schema(fields: list[dict[str, Any]], *, title: str | None = None) -> dict[str, Any]:
    """The JSON Schema of an answer to a template with these (checked) fields."""
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "type": "object",
        "properties": {f["name"]: _described(f) for f in fields},
        "required": [f["name"] for f in fields if f["required"] and not f["show_if"]],
        "additionalProperties": False,
    }
    if title:
        schema["title"] = title
    by_name = {f["name"]: f for f in fields}
    conditions = [_condition(f, by_name[f["show_if"]["field"]]) for f in fields
                  if f["show_if"]]
    if conditions:
        schema["allOf"] = conditions
    return schema


def _described(field: dict[str, Any]) -> dict[str, Any]:
    described = {"title": field["label"], **value_schema(field)}
    if field["help"]:
        described["description"] = field["help"]
    return described


def _condition(field: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """Shown (present, and required if so) exactly when the source field is present and
    has one of the condition's values; absent otherwise."""
    values = field["show_if"]["in"]
    if source["kind"] == "single_choice":
        matches: dict[str, Any] = {"enum": values}
    elif source["kind"] == "multi_choice":
        matches = {"contains": {"enum": values}}
    else:
        matches = {"required": ["choice"], "properties": {"choice": {"enum": values}}}
    name = field["name"]
    condition: dict[str, Any] = {
        "if": {"required": [source["name"]], "properties": {source["name"]: matches}},
        # ``{"not": {}}`` rather than ``false``: jsonschema names the member for it.
        "else": {"properties": {name: {"not": {}}}},
    }
    if field["required"]:
        condition["then"] = {"required": [name]}
    return condition


def value_schema(field: dict[str, Any]) -> dict[str, Any]:
    """The schema of one field's value."""
    settings = field["settings"]
    return _KINDS[field["kind"]](settings, field)


def _single_choice(settings: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    return {"enum": choice_values(field)}


def _multi_choice(settings: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "array", "items": {"enum": choice_values(field)}, "uniqueItems": True,
              "minItems": settings["min_selected"]}
    if settings["max_selected"] is not None:
        schema["maxItems"] = settings["max_selected"]
    return schema


def _rating(settings: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    return {"type": "number", "enum": rating_values(settings)}


def _number(settings: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer" if settings["integer"] else "number"}
    if settings["min"] is not None:
        schema["minimum"] = settings["min"]
    if settings["max"] is not None:
        schema["maximum"] = settings["max"]
    return schema


def _text(settings: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    return {"type": "string", "minLength": settings["min_length"],
            "maxLength": settings["max_length"]}


def _pairwise(settings: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    sides = [*PAIRWISE_SIDES, *([TIE] if settings["allow_tie"] else [])]
    properties: dict[str, Any] = {
        "choice": {"enum": sides, "description": "A: the task's first response, B: its "
                   "second" + (", tie: neither is better" if settings["allow_tie"] else "")},
        "reason": {"type": "string", "minLength": settings["reason_min_length"],
                   "maxLength": TEXT_MAX},
    }
    schema: dict[str, Any] = {
        "type": "object", "properties": properties,
        "required": ["choice", *(["reason"] if settings["reason_required"] else [])],
        "additionalProperties": False,
    }
    strength = settings["strength"]
    if strength is not None:
        properties["strength"] = {"type": "integer", "minimum": strength["min"],
                                  "maximum": strength["max"]}
        # How much better: required unless the answer is a tie, which has none.
        schema["if"] = {"required": ["choice"], "properties": {"choice": {"const": TIE}}}
        schema["then"] = {"properties": {"strength": {"not": {}}}}
        schema["else"] = {"required": ["strength"]}
    return schema


def _rubric(settings: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    score = settings["scoring"]
    citation = {
        "type": "object",
        "properties": {"url": {"type": "string", "minLength": 1},
                       "title": {"type": "string", "maxLength": 1000}},
        "required": ["url"], "additionalProperties": False,
    }
    criterion = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 1000},
            "description": {"type": "string", "minLength": 1, "maxLength": TEXT_MAX},
            score: ({"type": "number", "exclusiveMinimum": 0} if score == "weight"
                    else {"type": "integer"}),
            "justification": {"type": "string", "minLength": 1, "maxLength": TEXT_MAX},
            "citations": {"type": "array", "items": citation,
                          "minItems": settings["min_citations"], "maxItems": CITATIONS_MAX},
        },
        "required": ["title", "description", score, "justification",
                     *(["citations"] if settings["min_citations"] else [])],
        "additionalProperties": False,
    }
    return {"type": "array", "items": criterion, "minItems": settings["min_criteria"],
            "maxItems": settings["max_criteria"]}


def _span(settings: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    span = {
        "type": "object",
        "properties": {"start": {"type": "integer", "minimum": 0},
                       "end": {"type": "integer", "minimum": 1},
                       "label": {"enum": settings["labels"]}},
        "required": ["start", "end", "label"], "additionalProperties": False,
        "description": "Characters start (included) to end (excluded) of the task's "
        "prompt, counted in Unicode code points.",
    }
    return {"type": "array", "items": span, "maxItems": SPANS_MAX}


def _upload(settings: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    return {"type": "string", "pattern": UUID_PATTERN,
            "description": "The id of an upload made for this field "
            "(POST /api/v1/me/assignments/{id}/uploads): "
            + ", ".join(settings["types"]) + f", at most {settings['max_bytes']} bytes."}


_KINDS = {
    "single_choice": _single_choice, "multi_choice": _multi_choice, "rating": _rating,
    "number": _number, "text": _text, "pairwise": _pairwise, "rubric": _rubric,
    "span": _span, "recording": _upload, "file": _upload,
}
