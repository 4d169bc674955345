"""Scoring a trainer's answer against a task's gold answer, field by field.

Pure functions over a template's field definitions (the list of field dicts a template
version stores), the trainer's answer and the gold answer, both objects keyed by field
name. Each field the gold answer has is scored from 0 to 1 by a rule that fits its kind:

- ``single_choice``: the same option (1) or not (0).
- ``multi_choice``: the same set of options (1) or not (0); no partial credit.
- ``rating`` and ``number``: 1 when ``|answer - gold| <= gold_tolerance`` (in the field's
  settings, default 0), else 0. Compared as decimals: 0.4 is within 0.1 of 0.3.
- ``pairwise``: the preferred side. A gold ``tie`` accepts any choice (A, B or tie);
  otherwise the choice must be the gold one. Strength and reason are not scored.
- ``span``: overlap of character ranges, label by label, as a soft F1. Recall is the mean
  over gold spans of the best intersection over union (IoU) with a trainer span of the
  same label; precision is the same the other way round (trainer spans against gold
  spans), so extra spans cost as missing ones do. The score is their harmonic mean: 1 for
  identical spans, 0 when nothing overlaps, and 1 when neither marked anything.
- ``text`` and ``rubric``: no automatic score (``None``); a person reviews the work.

A field the gold answer leaves out is not scored. A field the gold answer has but the
answer leaves out (an optional field left empty, one hidden by a different choice)
scores 0: the trainer did not give what was expected. The overall score is the mean of
the fields that have a score (``None`` when none has), and the work needs review when
any gold field has no automatic score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

PLACES = Decimal("0.0001")
ONE = Decimal(1)
ZERO = Decimal(0)
# Kinds a person judges: their gold answer is a reference for the reviewer.
REVIEWED_KINDS = frozenset({"text", "rubric", "recording", "file"})


@dataclass(frozen=True)
class GoldScore:
    """Per-field scores (``None``: a person judges it), their mean, and whether the work
    must be reviewed."""

    fields: dict[str, Decimal | None]
    score: Decimal | None
    needs_review: bool

    @property
    def correct(self) -> bool | None:
        """Every scored field right (``None`` when nothing was scored)."""
        return None if self.score is None else self.score == ONE

    def stored_fields(self) -> dict[str, str | None]:
        """The per-field scores as JSON can hold them exactly (``"0.5000"``)."""
        return {name: None if value is None else str(value)
                for name, value in self.fields.items()}


def score_answer(fields: Sequence[Mapping[str, Any]], answer: Any, gold: Any) -> GoldScore:
    """Score ``answer`` against ``gold`` with the rules of each field's kind."""
    answer = answer if isinstance(answer, Mapping) else {}
    gold = gold if isinstance(gold, Mapping) else {}
    scores: dict[str, Decimal | None] = {}
    for field in fields:
        name = field["name"]
        if name not in gold:
            continue
        scores[name] = score_field(field, answer.get(name), gold[name],
                                   answered=name in answer)
    known = [value for value in scores.values() if value is not None]
    overall = _places(sum(known, ZERO) / len(known)) if known else None
    return GoldScore(scores, overall, any(value is None for value in scores.values()))


def score_field(field: Mapping[str, Any], value: Any, gold: Any, *,
                answered: bool = True) -> Decimal | None:
    """One field's score from 0 to 1 (four places), or ``None`` for kinds a person
    judges."""
    kind = field["kind"]
    if kind in REVIEWED_KINDS:
        return None
    if not answered:
        return ZERO
    rule = _RULES[kind]
    return _places(rule(field, value, gold))


def _exact(field: Mapping[str, Any], value: Any, gold: Any) -> bool:
    return type(value) is type(gold) and value == gold


def _same_set(field: Mapping[str, Any], value: Any, gold: Any) -> bool:
    if not isinstance(value, list) or not isinstance(gold, list):
        return False
    return _hashable_set(value) == _hashable_set(gold)


def _hashable_set(values: Iterable[Any]) -> set[str]:
    return {repr(value) for value in values}


def _within_tolerance(field: Mapping[str, Any], value: Any, gold: Any) -> bool:
    given, expected = _decimal(value), _decimal(gold)
    if given is None or expected is None:
        return False
    tolerance = _decimal(_tolerance(field)) or ZERO
    return abs(given - expected) <= abs(tolerance)


def _tolerance(field: Mapping[str, Any]) -> Any:
    return (field.get("settings") or {}).get("gold_tolerance", 0)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    found = Decimal(str(value))
    return found if found.is_finite() else None


def _preferred_side(field: Mapping[str, Any], value: Any, gold: Any) -> bool:
    choice = value.get("choice") if isinstance(value, Mapping) else None
    expected = gold.get("choice") if isinstance(gold, Mapping) else None
    if choice not in ("A", "B", "tie"):
        return False
    return expected == "tie" or choice == expected


def _span_f1(field: Mapping[str, Any], value: Any, gold: Any) -> Fraction:
    given, expected = _spans(value), _spans(gold)
    if not given and not expected:
        return Fraction(1)
    recall = _mean_best_iou(expected, given)
    precision = _mean_best_iou(given, expected)
    if recall + precision == 0:
        return Fraction(0)
    return 2 * precision * recall / (precision + recall)


Span = tuple[int, int, str]


def _spans(value: Any) -> list[Span]:
    if not isinstance(value, list):
        return []
    found = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        start, end, label = item.get("start"), item.get("end"), item.get("label")
        if _is_int(start) and _is_int(end) and start < end and isinstance(label, str):
            found.append((start, end, label))
    return found


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _mean_best_iou(spans: list[Span], others: list[Span]) -> Fraction:
    """The mean over ``spans`` of each one's best IoU with a span of ``others`` of the
    same label (0 for a span with no counterpart; 0 when ``spans`` is empty)."""
    if not spans:
        return Fraction(0)
    best = [max((iou(span, other) for other in others if other[2] == span[2]),
                default=Fraction(0))
            for span in spans]
    return sum(best, Fraction(0)) / len(best)


def iou(a: Span, b: Span) -> Fraction:
    """Intersection over union of two character ranges ``[start, end)``."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return Fraction(inter, union) if union > 0 else Fraction(0)


def _places(value: Decimal | Fraction | int) -> Decimal:
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(value).quantize(PLACES)


_RULES: dict[str, Callable[[Mapping[str, Any], Any, Any], bool | Fraction]] = {
    "single_choice": _exact,
    "multi_choice": _same_set,
    "rating": _within_tolerance,
    "number": _within_tolerance,
    "pairwise": _preferred_side,
    "span": _span_f1,
}
