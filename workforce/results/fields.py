"""Checking a task template as a manager writes it: a list of fields, each with a name,
a label, help text, one of ten kinds and that kind's settings (docs/templates.md).

``check_fields`` answers the fields with every default filled in, or raises ``Invalid``
naming every problem at once, each keyed by its JSON pointer into the request body
(``/fields/2/settings/options/1/value``). The checked fields are what a version stores,
what the answer's JSON Schema is built from (``results.schema``) and what trainers see.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from workforce.accounts import validation
from workforce.errors import Invalid
from workforce.i18n import _
from workforce.uploads.content import AUDIO_TYPES, FILE_TYPES

KINDS = ("single_choice", "multi_choice", "rating", "number", "text", "pairwise", "rubric",
         "span", "recording", "file")
# Kinds answered with an upload (``workforce.uploads``): the answer names the upload.
UPLOAD_KINDS = ("recording", "file")
CHOICE_KINDS = ("single_choice", "multi_choice", "pairwise")
FIELD_KEYS = ("name", "label", "help", "kind", "required", "show_if", "settings")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
# The value a single choice answers with when "none of these" is offered.
NONE_OF_THESE = "none_of_these"
PAIRWISE_SIDES = ("A", "B")
TIE = "tie"
MAX_FIELDS = 100
MAX_OPTIONS = 200
MAX_LABELS = 100
MAX_RATING_VALUES = 1001
LABEL_MAX = 200
HELP_MAX = 5000
TEXT_LIMIT = 100_000
RUBRIC_LIMIT = 200
CITATIONS_LIMIT = 20
SCORING = ("weight", "points")
# Uploads: the largest file a field may take, and the longest recording.
MAX_UPLOAD_BYTES = 200_000_000
MAX_RECORDING_SECONDS = 3 * 3600


def escape(token: object) -> str:
    """One reference token of a JSON pointer (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: object) -> str:
    return "".join("/" + escape(token) for token in tokens)


class Problems:
    """Messages by JSON pointer, in the order found."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, at: str, message: str) -> None:
        self.errors.setdefault(at, []).append(message)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Settings:
    """Reads one field's settings, noting each problem at its pointer."""

    def __init__(self, raw: Any, at: str, problems: Problems, known: tuple[str, ...]) -> None:
        self.at, self.problems = at, problems
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            problems.add(at, _("Must be an object."))
            raw = {}
        for key in raw:
            if key not in known:
                problems.add(f"{at}/{escape(key)}", "Unknown setting; this kind has "
                             + (", ".join(known) or "none") + ".")
        self.raw = raw

    def bad(self, key: str, message: str) -> None:
        self.problems.add(f"{self.at}/{escape(key)}", message)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.bad(key, _("Must be true or false."))
            return default
        return value

    def whole(self, key: str, default: int | None, low: int, high: int, *,
              nullable: bool = False) -> int | None:
        value = self.raw.get(key, default)
        if value is None and nullable:
            return None
        if not _is_whole(value) or not low <= value <= high:
            self.bad(key, _("Must be a whole number from %(low)s to %(high)s.", low=low, high=high))
            return default
        return value

    def number(self, key: str, default: float | None, *, nullable: bool = False,
               low: float | None = None) -> Any:
        value = self.raw.get(key, default)
        if value is None and nullable:
            return None
        if not _is_number(value) or (low is not None and value < low):
            self.bad(key, "Must be a number" + (f" of at least {low}" if low is not None
                                                else "") + ".")
            return default
        return value

    def text(self, key: str, default: str | None, *, nullable: bool = True,
             limit: int = LABEL_MAX) -> str | None:
        value = self.raw.get(key, default)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or len(value) > limit:
            self.bad(key, _("Must be a text of at most %(limit)s characters.", limit=limit))
            return default
        return value


# --- the kinds ------------------------------------------------------------------------


def _options(s: _Settings, problems: Problems) -> list[dict[str, str]]:
    raw = s.raw.get("options")
    at = f"{s.at}/options"
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_OPTIONS:
        problems.add(at, _("Give 2 to %(max_options)s options, each {value, label}.",
                           max_options=MAX_OPTIONS))
        return []
    options, seen = [], set()
    for index, option in enumerate(raw):
        here = f"{at}/{index}"
        if not isinstance(option, dict):
            problems.add(here, _("Must be an object {value, label}."))
            continue
        for key in option:
            if key not in ("value", "label"):
                problems.add(f"{here}/{escape(key)}", _("Unknown key; an option has value and "
                                                        "label."))
        value, label = option.get("value"), option.get("label")
        if not isinstance(value, str) or not value.strip() or len(value) > LABEL_MAX:
            problems.add(f"{here}/value", _("Required: a text of 1 to %(label_max)s characters.",
                                            label_max=LABEL_MAX))
        elif value == NONE_OF_THESE:
            problems.add(f"{here}/value", _("%(none_of_these)r is reserved for the none_of_these "
                                            "setting.", none_of_these=NONE_OF_THESE))
        elif value in seen:
            problems.add(f"{here}/value", _("%(value)r is already the value of another option.",
                                            value=value))
        else:
            seen.add(value)
        if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX:
            problems.add(f"{here}/label", _("Required: a text of 1 to %(label_max)s characters.",
                                            label_max=LABEL_MAX))
        options.append({"value": value, "label": label})
    return options


def _single_choice(s: _Settings, problems: Problems) -> dict[str, Any]:
    return {"options": _options(s, problems), "none_of_these": s.flag("none_of_these", False)}


def _multi_choice(s: _Settings, problems: Problems) -> dict[str, Any]:
    options = _options(s, problems)
    low = s.whole("min_selected", 0, 0, MAX_OPTIONS)
    high = s.whole("max_selected", None, 1, MAX_OPTIONS, nullable=True)
    if options and (high if high is not None else low or 0) > len(options):
        s.bad("max_selected" if high is not None else "min_selected",
              _("Must not be above the number of options (%(count)s).", count=len(options)))
    if low is not None and high is not None and low > high:
        s.bad("min_selected", _("Must not be above max_selected (%(high)s).", high=high))
    return {"options": options, "min_selected": low, "max_selected": high}


def rating_values(settings: dict[str, Any]) -> list[int | float]:
    """Every value a rating allows: min, min + step, ..., max (computed in Decimal, so
    0.1 steps land on 0.3 and not on 0.30000000000000004)."""
    low, high, step = (Decimal(str(settings[k])) for k in ("min", "max", "step"))
    count = int((high - low) / step) + 1
    values = (low + k * step for k in range(count))
    return [int(v) if v == v.to_integral_value() else float(v) for v in values]


def _rating(s: _Settings, problems: Problems) -> dict[str, Any]:
    low, high = s.number("min", None), s.number("max", None)
    step = s.number("step", 1)
    settings = {"min": low, "max": high, "step": step,
                "min_label": s.text("min_label", None), "max_label": s.text("max_label", None),
                "gold_tolerance": s.number("gold_tolerance", 0, low=0)}
    if low is None or high is None or step is None:
        return settings
    if step <= 0:
        s.bad("step", _("Must be above 0."))
    elif high <= low:
        s.bad("max", _("Must be above min (%(low)s).", low=low))
    else:
        try:
            count = (Decimal(str(high)) - Decimal(str(low))) / Decimal(str(step))
        except InvalidOperation:
            count = Decimal("0.5")
        if count != count.to_integral_value():
            s.bad("step", _("Must divide max - min (%(high)s - %(low)s) into whole steps.",
                            high=high, low=low))
        elif count + 1 > MAX_RATING_VALUES:
            s.bad("step", _("A scale has at most %(max_rating_values)s values; this one has "
                            "%(value)s.", max_rating_values=MAX_RATING_VALUES, value=count + 1))
    return settings


def _number(s: _Settings, problems: Problems) -> dict[str, Any]:
    low, high = s.number("min", None, nullable=True), s.number("max", None, nullable=True)
    if low is not None and high is not None and low > high:
        s.bad("min", _("Must not be above max (%(high)s).", high=high))
    return {"min": low, "max": high, "integer": s.flag("integer", False),
            "gold_tolerance": s.number("gold_tolerance", 0, low=0)}


def _text(s: _Settings, problems: Problems) -> dict[str, Any]:
    low = s.whole("min_length", 0, 0, TEXT_LIMIT)
    high = s.whole("max_length", 10_000, 1, TEXT_LIMIT)
    if low is not None and high is not None and low > high:
        s.bad("min_length", _("Must not be above max_length (%(high)s).", high=high))
    language = s.raw.get("language")
    if language is not None:
        try:
            if not isinstance(language, str):
                raise ValueError(_("Must be a BCP 47 language tag such as 'yue-HK'."))
            language = validation.language_tag(language)
        except ValueError as exc:
            s.bad("language", str(exc))
            language = None
    return {"min_length": low, "max_length": high, "language": language}


def _pairwise(s: _Settings, problems: Problems) -> dict[str, Any]:
    strength = s.raw.get("strength")
    if strength is not None:
        scale = _Settings(strength, f"{s.at}/strength", problems,
                          ("min", "max", "min_label", "max_label"))
        low, high = scale.whole("min", 1, 0, 100), scale.whole("max", None, 1, 100)
        if low is not None and high is not None and low >= high:
            scale.bad("max", _("Must be above min (%(low)s).", low=low))
        strength = {"min": low, "max": high, "min_label": scale.text("min_label", None),
                    "max_label": scale.text("max_label", None)}
    return {"allow_tie": s.flag("allow_tie", False), "strength": strength,
            "reason_required": s.flag("reason_required", False),
            "reason_min_length": s.whole("reason_min_length", 0, 0, TEXT_LIMIT)}


def _rubric(s: _Settings, problems: Problems) -> dict[str, Any]:
    low = s.whole("min_criteria", 1, 0, RUBRIC_LIMIT)
    high = s.whole("max_criteria", RUBRIC_LIMIT, 1, RUBRIC_LIMIT)
    if low is not None and high is not None and low > high:
        s.bad("min_criteria", _("Must not be above max_criteria (%(high)s).", high=high))
    scoring = s.raw.get("scoring", "weight")
    if scoring not in SCORING:
        s.bad("scoring", _("Must be weight or points."))
    hosts = s.raw.get("citation_hosts", [])
    if not isinstance(hosts, list):
        s.bad("citation_hosts", _("Must be a list of host names (empty: any public host)."))
        hosts = []
    clean = []
    for index, host in enumerate(hosts):
        name = host.strip().rstrip(".").lower() if isinstance(host, str) else None
        if name is None or not HOST.match(name):
            problems.add(f"{s.at}/citation_hosts/{index}", _("Must be a host name such as "
                                                             "en.wikipedia.org."))
        elif name in clean:
            problems.add(f"{s.at}/citation_hosts/{index}", _("Listed twice."))
        else:
            clean.append(name)
    return {"min_criteria": low, "max_criteria": high, "scoring": scoring,
            "min_citations": s.whole("min_citations", 0, 0, CITATIONS_LIMIT),
            "citation_hosts": clean}


def _span(s: _Settings, problems: Problems) -> dict[str, Any]:
    labels = s.raw.get("labels")
    if not isinstance(labels, list) or not 1 <= len(labels) <= MAX_LABELS:
        s.bad("labels", _("Give 1 to %(max_labels)s labels.", max_labels=MAX_LABELS))
        labels = []
    seen: list[str] = []
    for index, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip() or len(label) > 64:
            problems.add(f"{s.at}/labels/{index}", _("Must be a text of 1 to 64 characters."))
        elif label in seen:
            problems.add(f"{s.at}/labels/{index}", _("Listed twice."))
        else:
            seen.append(label)
    return {"labels": seen, "allow_overlap": s.flag("allow_overlap", False)}


def _types(s: _Settings, allowed: dict[str, str]) -> list[str]:
    types = s.raw.get("types", list(allowed))
    if (not isinstance(types, list) or not types
            or any(t not in allowed for t in types) or len(set(types)) != len(types)):
        s.bad("types", _("Give one or more of %(types)s, each once.",
                         types=", ".join(allowed)))
        return list(allowed)
    return types


def _file(s: _Settings, problems: Problems) -> dict[str, Any]:
    return {"types": _types(s, FILE_TYPES),
            "max_bytes": s.whole("max_bytes", 10_000_000, 1, MAX_UPLOAD_BYTES)}


def _recording(s: _Settings, problems: Problems) -> dict[str, Any]:
    low = s.number("min_seconds", 0, low=0)
    high = s.number("max_seconds", 600, low=0)
    if high is not None and not 0 < high <= MAX_RECORDING_SECONDS:
        s.bad("max_seconds", _("Must be above 0, at most %(max_recording_seconds)s.",
                               max_recording_seconds=MAX_RECORDING_SECONDS))
    elif low is not None and high is not None and low > high:
        s.bad("min_seconds", _("Must not be above max_seconds (%(high)s).", high=high))
    return {"types": _types(s, AUDIO_TYPES),
            "max_bytes": s.whole("max_bytes", 50_000_000, 1, MAX_UPLOAD_BYTES),
            "min_seconds": low, "max_seconds": high,
            "min_sample_rate": s.whole("min_sample_rate", None, 1000, 384_000,
                                       nullable=True)}


Kind = Callable[[_Settings, Problems], dict[str, Any]]
SETTINGS: dict[str, tuple[tuple[str, ...], Kind]] = {
    "single_choice": (("options", "none_of_these"), _single_choice),
    "multi_choice": (("options", "min_selected", "max_selected"), _multi_choice),
    "rating": (("min", "max", "step", "min_label", "max_label", "gold_tolerance"), _rating),
    "number": (("min", "max", "integer", "gold_tolerance"), _number),
    "text": (("min_length", "max_length", "language"), _text),
    "pairwise": (("allow_tie", "strength", "reason_required", "reason_min_length"),
                 _pairwise),
    "rubric": (("min_criteria", "max_criteria", "scoring", "min_citations",
                "citation_hosts"), _rubric),
    "span": (("labels", "allow_overlap"), _span),
    "recording": (("types", "max_bytes", "min_seconds", "max_seconds", "min_sample_rate"),
                  _recording),
    "file": (("types", "max_bytes"), _file),
}


# --- fields and conditions ------------------------------------------------------------


def choice_values(field: dict[str, Any]) -> list[str]:
    """The values a choice or pairwise field may take, which a condition may name."""
    settings = field["settings"]
    if field["kind"] == "pairwise":
        return [*PAIRWISE_SIDES, *([TIE] if settings["allow_tie"] else [])]
    values = [o["value"] for o in settings["options"]]
    if field["kind"] == "single_choice" and settings["none_of_these"]:
        values.append(NONE_OF_THESE)
    return values


def _show_if(raw: Any, at: str, earlier: dict[str, dict[str, Any]],
             problems: Problems) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add(at, _('Must be an object {"field": ..., "in": [...]}.'))
        return None
    for key in raw:
        if key not in ("field", "in"):
            problems.add(f"{at}/{escape(key)}", _("Unknown key; a condition has field and in."))
    name, values = raw.get("field"), raw.get("in")
    source = earlier.get(name) if isinstance(name, str) else None
    if source is None or source["kind"] not in CHOICE_KINDS:
        problems.add(f"{at}/field", _("Must name an earlier single_choice, multi_choice or "
                                      "pairwise field."))
    if not isinstance(values, list) or not values:
        problems.add(f"{at}/in", _("Give at least one value."))
        return None
    if source is not None and source["kind"] in CHOICE_KINDS:
        allowed = choice_values(source)
        for index, value in enumerate(values):
            if value not in allowed:
                problems.add(f"{at}/in/{index}", f"Not a value of {name!r}: use one of "
                             + ", ".join(map(str, allowed)) + ".")
    return {"field": name, "in": values}


def _field(raw: Any, index: int, earlier: dict[str, dict[str, Any]],
           problems: Problems) -> dict[str, Any] | None:
    at = f"/fields/{index}"
    if not isinstance(raw, dict):
        problems.add(at, _("Must be an object."))
        return None
    for key in raw:
        if key not in FIELD_KEYS:
            problems.add(f"{at}/{escape(key)}", "Unknown key; a field has "
                         + ", ".join(FIELD_KEYS) + ".")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        problems.add(f"{at}/name", _("Required: lower-case letters, digits and _, starting with a "
                                     "letter, at most 64."))
    elif name in earlier:
        problems.add(f"{at}/name", _("%(name)r is already the name of another field.", name=name))
    label, help_text = raw.get("label"), raw.get("help")
    if help_text is None:  # left out or null: no help
        help_text = ""
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX:
        problems.add(f"{at}/label", _("Required: a text of 1 to %(label_max)s characters.",
                                      label_max=LABEL_MAX))
    if not isinstance(help_text, str) or len(help_text) > HELP_MAX:
        problems.add(f"{at}/help", _("Must be a text of at most %(help_max)s characters.",
                                     help_max=HELP_MAX))
    required = raw.get("required", True)
    if not isinstance(required, bool):
        problems.add(f"{at}/required", _("Must be true or false."))
    kind = raw.get("kind")
    if kind not in SETTINGS:
        problems.add(f"{at}/kind", "Unknown kind; use one of " + ", ".join(KINDS) + ".")
        return None
    known, read = SETTINGS[kind]
    settings = read(_Settings(raw.get("settings"), f"{at}/settings", problems, known), problems)
    return {"name": name, "label": label, "help": help_text, "kind": kind,
            "required": required,
            "show_if": _show_if(raw.get("show_if"), f"{at}/show_if", earlier, problems),
            "settings": settings}


def check_fields(raw: Any) -> list[dict[str, Any]]:
    """The template's fields with every default filled in; ``Invalid`` (code
    ``template-invalid``) with every problem keyed by its JSON pointer otherwise."""
    problems = Problems()
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_FIELDS:
        problems.add("/fields", _("Give 1 to %(max_fields)s fields.", max_fields=MAX_FIELDS))
        raw = raw if isinstance(raw, list) else []
    checked: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(raw[:MAX_FIELDS]):
        field = _field(item, index, checked, problems)
        if field is not None and isinstance(field["name"], str):
            checked.setdefault(field["name"], field)
    if problems.errors:
        raise Invalid(_("The template has problems; nothing was saved."),
                      code="template-invalid",
                      errors=problems.errors)
    return list(checked.values())
