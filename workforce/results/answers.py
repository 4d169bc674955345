"""Checking an answer against its template: the template's JSON Schema (validated with
``jsonschema``, every error at once) and the few rules a schema cannot say: span offsets
within the task's prompt and, unless the field allows it, not overlapping; citation URLs
public (``workforce.urls``) and on the field's allowed hosts.

Each problem is a (JSON pointer into the answer, message) pair. The pointer names the
offending value: a missing required member is named by its own pointer (``/reason``),
an unknown member by its own (``/extra``), a hidden field given anyway by its own.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, ValidationError

from workforce import urls
from workforce.i18n import _
from workforce.results.fields import NONE_OF_THESE, pointer
from workforce.results.schema import answer_schema

Problem = tuple[str, str]


def check_answer(
    fields: list[dict[str, Any]], answer: Any, task_payload: dict[str, Any] | None
) -> list[Problem]:
    """Every problem of ``answer`` for a template with these fields, sorted by pointer;
    empty when it fits."""
    found: dict[Problem, None] = {}
    for error in _validator(json.dumps(fields, sort_keys=True)).iter_errors(answer):
        found.update(dict.fromkeys(_explained(error, fields)))
    if isinstance(answer, dict):
        for field in fields:
            if field["name"] in answer:
                found.update(dict.fromkeys(_beyond_schema(field, answer[field["name"]],
                                                          task_payload or {})))
    return sorted(found, key=lambda p: (p[0], p[1]))


@functools.lru_cache(maxsize=64)
def _validator(fields_json: str) -> Draft202012Validator:
    # Built once per template version a process checks answers for (keyed by content).
    return Draft202012Validator(answer_schema(json.loads(fields_json)))


def _explained(error: ValidationError, fields: list[dict[str, Any]]) -> Iterator[Problem]:
    path = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        for name in error.validator_value:
            if name not in instance and error.message.startswith(repr(name)):
                yield pointer(*path, name), _("Required.")
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        for name in instance:
            if name not in known:
                yield pointer(*path, name), _("Not a field of this template.") if not path \
                    else _("Unknown member.")
        return
    if error.validator == "not" and error.validator_value == {}:  # hidden by a condition
        yield pointer(*path), _hidden_message(path, fields)
        return
    yield pointer(*path), message_of(error)


def message_of(error: ValidationError) -> str:
    """Our own sentence for what a JSON Schema keyword refused, with its parameters, in
    the current locale (jsonschema's own messages are English)."""
    keyword, value = error.validator, error.validator_value
    plain = {"minimum": value, "maximum": value, "count": value}
    if keyword == "type":
        types = value if isinstance(value, list) else [value]
        return _("Must be of JSON type %(types)s.", types=", ".join(types))
    if keyword == "enum":
        return _("Must be one of: %(choices)s.", choices=", ".join(map(json.dumps, value)))
    if keyword == "const":
        return _("Must be %(value)s.", value=json.dumps(value))
    if keyword == "minLength":
        return _("Must be at least %(min_length)s characters long.", min_length=value)
    if keyword == "maxLength":
        return _("Must be at most %(max_length)s characters long.", max_length=value)
    texts = {
        "minimum": _("Must be at least %(minimum)s.", **plain),
        "maximum": _("Must be at most %(maximum)s.", **plain),
        "exclusiveMinimum": _("Must be more than %(minimum)s.", **plain),
        "exclusiveMaximum": _("Must be less than %(maximum)s.", **plain),
        "minItems": _("Must have at least %(count)s items.", **plain),
        "maxItems": _("Must have at most %(count)s items.", **plain),
        "uniqueItems": _("Must not list the same item twice."),
        "contains": _("Must contain at least one fitting item."),
    }
    return texts.get(keyword) or _("Does not fit the template (%(keyword)s).",
                                    keyword=keyword)


def _hidden_message(path: list[Any], fields: list[dict[str, Any]]) -> str:
    field = next((f for f in fields if [f["name"]] == path and f["show_if"]), None)
    if field is None:
        return _("Not allowed here.")
    condition = field["show_if"]
    return _("Leave this out: it is asked only when %(field)s is %(values)s.",
             field=condition["field"], values=_(" or ").join(map(str, condition["in"])))


# --- what a schema cannot say ---------------------------------------------------------


def _beyond_schema(field: dict[str, Any], value: Any, payload: dict[str, Any]
                   ) -> Iterator[Problem]:
    if field["kind"] == "span" and isinstance(value, list):
        yield from _span_problems(field, value, payload)
    elif field["kind"] == "rubric" and isinstance(value, list):
        yield from _citation_problems(field, value)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _span_problems(field: dict[str, Any], spans: list[Any], payload: dict[str, Any]
                   ) -> Iterator[Problem]:
    prompt = payload.get("prompt")
    length = len(prompt) if isinstance(prompt, str) else 0
    name = field["name"]
    good = []
    for index, span in enumerate(spans):
        if not isinstance(span, dict):
            continue
        start, end = span.get("start"), span.get("end")
        if not (_is_whole(start) and _is_whole(end)) or start < 0:
            continue
        if end <= start:
            yield pointer(name, index, "end"), _("Must be after start (%(start)s).", start=start)
        elif end > length:
            yield (pointer(name, index, "end"),
                   _("Beyond the end of the task's text (%(length)s characters).",
                     length=length))
        else:
            good.append((start, end, index))
    if field["settings"]["allow_overlap"]:
        return
    reach: tuple[int, int] | None = None  # the furthest end so far, and its span
    for start, end, index in sorted(good):
        if reach is not None and start < reach[0]:
            yield (pointer(name, index),
                   _("Overlaps the span at %(other)s; spans may not overlap.",
                     other=pointer(name, reach[1])))
        if reach is None or end > reach[0]:
            reach = (end, index)


def _citation_problems(field: dict[str, Any], criteria: list[Any]) -> Iterator[Problem]:
    hosts = field["settings"]["citation_hosts"]
    for index, criterion in enumerate(criteria):
        citations = criterion.get("citations") if isinstance(criterion, dict) else None
        if not isinstance(citations, list):
            continue
        for number, citation in enumerate(citations):
            url = citation.get("url") if isinstance(citation, dict) else None
            if not isinstance(url, str):
                continue
            at = pointer(field["name"], index, "citations", number, "url")
            if (problem := urls.url_problem(url)) is not None:
                yield at, _("The URL %(problem)s.", problem=problem)
            elif hosts and not _on_hosts(url, hosts):
                yield at, _("Cite a page on %(hosts)s.", hosts=", ".join(hosts))


def _on_hosts(url: str, hosts: list[str]) -> bool:
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return any(host == allowed or host.endswith("." + allowed) for allowed in hosts)


# --- reading an answer by field -------------------------------------------------------


def rendered(fields: list[dict[str, Any]], answer: Any) -> list[dict[str, Any]]:
    """The answer field by field, as a reviewer reads it: name, label, kind, value (None
    when not given) and, for choices, the chosen options' labels."""
    values = answer if isinstance(answer, dict) else {}
    shown = []
    for field in fields:
        value = values.get(field["name"])
        item = {"name": field["name"], "label": field["label"], "kind": field["kind"],
                "value": value, "chosen": None}
        if field["kind"] in ("single_choice", "multi_choice") and value is not None:
            labels = {o["value"]: o["label"] for o in field["settings"]["options"]}
            labels.setdefault(NONE_OF_THESE, "None of these")
            chosen = value if isinstance(value, list) else [value]
            item["chosen"] = [labels.get(v, str(v)) for v in chosen if isinstance(v, str)]
        shown.append(item)
    return shown
