"""Gold scoring per field kind (``workforce.results.gold``): the rules and their
invariants. The same rules through the API (import, claim, submit, quality) are in
``test_gold_api.py``."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workforce.results import gold

ACCENT = {"name": "accent", "label": "Accent", "kind": "single_choice",
          "settings": {"options": [{"value": v, "label": v}
                                   for v in ("yue-HK", "yue-CN", "other")]}}
TAGS = {"name": "tags", "label": "Tags", "kind": "multi_choice",
        "settings": {"options": [{"value": v, "label": v} for v in "abcd"]}}
MOS = {"name": "mos", "label": "Naturalness", "kind": "rating",
       "settings": {"min": 1, "max": 5, "step": 0.5, "gold_tolerance": 0.5}}
COUNT = {"name": "count", "label": "Count", "kind": "number", "settings": {}}
VERDICT = {"name": "verdict", "label": "Better", "kind": "pairwise",
           "settings": {"allow_tie": True}}
ENTITIES = {"name": "entities", "label": "Entities", "kind": "span",
            "settings": {"labels": ["PER", "LOC"]}}
NOTES = {"name": "notes", "label": "Notes", "kind": "text", "settings": {}}
CRITERIA = {"name": "criteria", "label": "Criteria", "kind": "rubric", "settings": {}}
FIELDS = [ACCENT, TAGS, MOS, COUNT, VERDICT, ENTITIES, NOTES, CRITERIA]
D = Decimal


def span(start: int, end: int, label: str = "PER") -> dict[str, Any]:
    return {"start": start, "end": end, "label": label}


def one(field: dict[str, Any], answer: Any, expected: Any) -> Decimal | None:
    return gold.score_field(field, answer, expected)


def test_choices_score_exactly() -> None:
    assert one(ACCENT, "yue-HK", "yue-HK") == 1
    assert one(ACCENT, "yue-CN", "yue-HK") == 0
    assert one(ACCENT, "YUE-HK", "yue-HK") == 0
    assert one(TAGS, ["b", "a"], ["a", "b"]) == 1
    assert one(TAGS, ["a"], ["a", "b"]) == 0  # no partial credit
    assert one(TAGS, ["a", "b", "c"], ["a", "b"]) == 0
    assert one(TAGS, [], []) == 1


def test_ratings_and_numbers_score_within_their_tolerance() -> None:
    assert one(MOS, 4.5, 4) == 1 and one(MOS, 3.5, 4) == 1
    assert one(MOS, 5, 4) == 0
    assert one(COUNT, 3, 3.0) == 1 and one(COUNT, 4, 3) == 0  # default tolerance 0
    # Decimal arithmetic: 0.1 + 0.2 is within 0 of 0.3.
    assert one({**COUNT, "settings": {"gold_tolerance": 0.1}}, 0.4, 0.3) == 1
    assert one(COUNT, True, 1) == 0  # a boolean is not a number


def test_pairwise_scores_the_preferred_side_and_a_gold_tie_accepts_any() -> None:
    assert one(VERDICT, {"choice": "A", "reason": "x"}, {"choice": "A", "reason": "y"}) == 1
    assert one(VERDICT, {"choice": "B"}, {"choice": "A"}) == 0
    assert one(VERDICT, {"choice": "tie"}, {"choice": "A"}) == 0
    for side in ("A", "B", "tie"):
        assert one(VERDICT, {"choice": side, "strength": 3}, {"choice": "tie"}) == 1
    assert one(VERDICT, {"choice": "C"}, {"choice": "tie"}) == 0


def test_spans_score_by_overlap_and_extra_spans_cost() -> None:
    assert one(ENTITIES, [span(0, 10)], [span(0, 10)]) == 1
    assert one(ENTITIES, [span(0, 5)], [span(0, 10)]) == D("0.5000")  # IoU 1/2 both ways
    assert one(ENTITIES, [span(0, 10, "LOC")], [span(0, 10)]) == 0  # labels must agree
    assert one(ENTITIES, [], [span(0, 10)]) == 0
    assert one(ENTITIES, [], []) == 1
    assert one(ENTITIES, [span(0, 4)], []) == 0
    # One right span and one made up: recall 1, precision 1/2, F1 2/3.
    assert one(ENTITIES, [span(0, 10), span(20, 30, "LOC")], [span(0, 10)]) == D("0.6667")


def test_text_and_rubric_are_left_to_a_person() -> None:
    assert one(NOTES, "same", "same") is None
    assert one(CRITERIA, [], []) is None


def test_the_overall_score_is_the_mean_of_the_scored_fields() -> None:
    answer = {"accent": "yue-HK", "mos": 2, "verdict": {"choice": "B"}, "notes": "ok",
              "tags": ["a"]}
    expected = {"accent": "yue-HK", "mos": 4, "verdict": {"choice": "tie"}, "notes": "ok"}
    scored = gold.score_answer(FIELDS, answer, expected)
    # tags are not in the gold answer: not scored at all.
    assert scored.fields == {"accent": 1, "mos": 0, "verdict": 1, "notes": None}
    assert scored.score == D("0.6667") and scored.needs_review
    assert scored.correct is False
    assert scored.stored_fields() == {"accent": "1.0000", "mos": "0.0000",
                                      "verdict": "1.0000", "notes": None}


def test_a_gold_field_left_out_of_the_answer_scores_zero() -> None:
    scored = gold.score_answer(FIELDS, {"accent": "yue-HK"},
                               {"accent": "yue-HK", "count": 3})
    assert scored.fields == {"accent": 1, "count": 0}
    assert (scored.score, scored.needs_review, scored.correct) == (D("0.5000"), False, False)


def test_gold_with_only_fields_a_person_judges_has_no_score() -> None:
    scored = gold.score_answer(FIELDS, {"notes": "x"}, {"notes": "x", "criteria": []})
    assert (scored.score, scored.correct, scored.needs_review) == (None, None, True)
    assert gold.score_answer(FIELDS, {"notes": "x"}, {}).needs_review is False


# --- invariants ------------------------------------------------------------------------

LABELS = st.sampled_from(["PER", "LOC"])


@st.composite
def spans(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.integers(0, 200))
    return span(start, start + draw(st.integers(1, 50)), draw(LABELS))


def as_tuple(item: dict[str, Any]) -> gold.Span:
    return item["start"], item["end"], item["label"]


@given(spans(), spans())
def test_iou_is_between_0_and_1_symmetric_and_1_only_for_the_same_range(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    value = gold.iou(as_tuple(a), as_tuple(b))
    assert 0 <= value <= 1
    assert value == gold.iou(as_tuple(b), as_tuple(a))
    assert (value == 1) == ((a["start"], a["end"]) == (b["start"], b["end"]))
    assert gold.iou(as_tuple(a), as_tuple(a)) == Fraction(1)


@given(st.lists(spans(), max_size=6), st.lists(spans(), max_size=6))
def test_span_scores_stay_between_0_and_1_and_identical_spans_score_1(
    given_spans: list[dict[str, Any]], gold_spans: list[dict[str, Any]]
) -> None:
    value = one(ENTITIES, given_spans, gold_spans)
    assert value is not None and 0 <= value <= 1
    assert one(ENTITIES, gold_spans, gold_spans) == 1
    assert one(ENTITIES, list(reversed(gold_spans)), gold_spans) == 1


@given(st.lists(spans(), min_size=1, max_size=5), spans())
def test_a_span_beyond_an_exact_match_costs(
    gold_spans: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    score = one(ENTITIES, [*gold_spans, extra], gold_spans)
    if all(as_tuple(extra)[:2] != as_tuple(s)[:2] for s in gold_spans):
        assert score is not None and score < 1
    else:
        assert score is not None and 0 < score <= 1


NUMBERS = st.decimals(min_value=-1000, max_value=1000, places=2)


@given(NUMBERS, NUMBERS, st.decimals(min_value=0, max_value=50, places=2))
def test_tolerance_is_symmetric(a: Decimal, b: Decimal, tolerance: Decimal) -> None:
    field = {**COUNT, "settings": {"gold_tolerance": float(tolerance)}}
    forth, back = one(field, float(a), float(b)), one(field, float(b), float(a))
    assert forth == back
    assert forth == (1 if abs(a - b) <= tolerance else 0)


@given(st.sampled_from(["A", "B", "tie"]), st.sampled_from(["A", "B"]))
def test_a_tie_in_gold_accepts_any_side(choice: str, other: str) -> None:
    assert one(VERDICT, {"choice": choice}, {"choice": "tie"}) == 1
    assert one(VERDICT, {"choice": choice}, {"choice": other}) == int(choice == other)


ANSWERS = st.fixed_dictionaries({}, optional={
    "accent": st.sampled_from(["yue-HK", "yue-CN", "other"]),
    "tags": st.lists(st.sampled_from("abcd"), unique=True),
    "mos": st.sampled_from([1, 1.5, 2, 3, 4, 5]),
    "count": st.integers(-3, 3),
    "verdict": st.fixed_dictionaries({"choice": st.sampled_from(["A", "B", "tie"])}),
    "entities": st.lists(spans(), max_size=3),
    "notes": st.text(max_size=5),
})


@given(ANSWERS, ANSWERS)
def test_scores_are_within_0_and_1_and_an_answer_equal_to_gold_scores_1(
    answer: dict[str, Any], expected: dict[str, Any]
) -> None:
    scored = gold.score_answer(FIELDS, answer, expected)
    assert set(scored.fields) == set(expected)
    assert all(v is None or 0 <= v <= 1 for v in scored.fields.values())
    assert scored.score is None or 0 <= scored.score <= 1
    assert scored.needs_review == ("notes" in expected)
    same = gold.score_answer(FIELDS, expected, expected)
    assert same.score in (None, 1)


@pytest.mark.parametrize("answer", [None, "text", [1, 2], 3])
def test_an_answer_that_is_not_an_object_scores_0_on_every_scored_field(answer: Any) -> None:
    scored = gold.score_answer(FIELDS, answer, {"accent": "yue-HK", "notes": "x"})
    assert scored.fields == {"accent": 0, "notes": None}
