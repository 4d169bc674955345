"""Scoring rules as pure functions: no database, no clock, integers wherever points are.

Points are whole numbers; a percentage is computed once, with ``Decimal``, only for
display. Whether an attempt passes is decided on exact integers, never on the rounded
percentage, so 69.995% never passes a 70% mark.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from workforce.assessments.models import PartialCredit, QuestionKind

HUNDREDTHS = Decimal("0.01")


def single_choice(points: int, correct: Collection[str], chosen: str | None) -> int:
    return points if chosen is not None and chosen in set(correct) else 0


def multiple_choice(
    points: int, correct: Collection[str], chosen: Collection[str], mode: PartialCredit
) -> int:
    right, picked = set(correct), set(chosen)
    if not right:
        return 0
    if mode is PartialCredit.ALL_OR_NOTHING:
        return points if picked == right else 0
    # Each wrong pick cancels a right one, so ticking every box earns nothing.
    net = len(picked & right) - len(picked - right)
    return points * max(0, net) // len(right)


def normalise_text(text: str) -> str:
    """Full-width and compatibility forms folded (NFKC), case folded, runs of white
    space made one space, ends stripped: what a person would call "the same answer"."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def short_answer(points: int, key: Mapping[str, Any], text: str | None) -> int:
    if text is None:
        return 0
    accepted = [str(a) for a in key.get("accepted") or []]
    if key.get("numeric"):
        matched = _numeric_match(text, accepted, key.get("tolerance", "0"))
    else:
        given = normalise_text(text)
        matched = any(given == normalise_text(a) for a in accepted)
    return points if matched else 0


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(normalise_text(text))
    except (InvalidOperation, ValueError):
        return None
    # "NaN" and "Infinity" parse as Decimals but are not answers to a numeric question.
    return value if value.is_finite() else None


def _numeric_match(text: str, accepted: Sequence[str], tolerance: Any) -> bool:
    given = _number(text)
    allowed = _number(str(tolerance)) or Decimal(0)
    if given is None:
        return False
    for answer in accepted:
        expected = _number(answer)
        try:
            if expected is not None and abs(given - expected) <= abs(allowed):
                return True
        except ArithmeticError:  # exponents beyond the context (1e999999999): no match
            continue
    return False


def auto_points(
    kind: QuestionKind,
    points: int,
    answer_key: Mapping[str, Any],
    partial_credit: PartialCredit,
    response: Mapping[str, Any] | None,
) -> int:
    """Points for one machine-graded answer; ``None`` (unanswered) scores 0."""
    response = response or {}
    correct = [str(c) for c in answer_key.get("correct") or []]
    if kind is QuestionKind.SINGLE_CHOICE:
        return single_choice(points, correct, response.get("option_id"))
    if kind is QuestionKind.MULTIPLE_CHOICE:
        return multiple_choice(points, correct, response.get("option_ids") or [], partial_credit)
    if kind is QuestionKind.SHORT_ANSWER:
        return short_answer(points, answer_key, response.get("text"))
    raise ValueError(f"{kind} answers are graded by people")


def score_percent(total: int, max_points: int) -> Decimal:
    if max_points <= 0:
        return Decimal("0.00")
    return (Decimal(total * 100) / Decimal(max_points)).quantize(
        HUNDREDTHS, rounding=ROUND_HALF_EVEN
    )


def passed(total: int, max_points: int, pass_mark_percent: int) -> bool:
    """Exact: total / max >= mark / 100. An attempt worth no points passes nothing."""
    return max_points > 0 and total * 100 >= pass_mark_percent * max_points


def within_margin(a: int, b: int, rubric_max: int, margin_percent: int) -> bool:
    """Two rubric totals agree when they differ by at most ``margin_percent`` of the
    rubric's maximum (exact integers)."""
    return abs(a - b) * 100 <= margin_percent * rubric_max


def mean_in_trainers_favour(a: int, b: int) -> int:
    return (a + b + 1) // 2


def split_mean(first: Sequence[int], second: Sequence[int]) -> list[int]:
    """Per-question means of two graders that add up to ``mean_in_trainers_favour`` of
    their totals: each question gets the floor of its mean, and the half points left
    over go, in question order, to the first questions with an odd sum."""
    sums = [a + b for a, b in zip(first, second, strict=True)]
    halves = [s // 2 for s in sums]
    spare = mean_in_trainers_favour(sum(first), sum(second)) - sum(halves)
    for index, total in enumerate(sums):
        if spare and total % 2:
            halves[index] += 1
            spare -= 1
    return halves
