"""The scoring rules, as pure functions: examples, then properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workforce.assessments import scoring
from workforce.assessments.models import PartialCredit, QuestionKind

ALL = PartialCredit.ALL_OR_NOTHING
PROPORTIONAL = PartialCredit.PROPORTIONAL

# --- examples ------------------------------------------------------------------------


def test_single_choice() -> None:
    assert scoring.single_choice(3, ["hk"], "hk") == 3
    assert scoring.single_choice(3, ["hk"], "gz") == 0
    assert scoring.single_choice(3, ["hk"], None) == 0


@pytest.mark.parametrize(
    ("chosen", "all_or_nothing", "proportional"),
    [
        ({"a", "c"}, 4, 4),
        ({"a"}, 0, 2),
        ({"a", "b"}, 0, 0),  # one right, one wrong: they cancel
        ({"a", "b", "c"}, 0, 2),
        ({"a", "b", "c", "d"}, 0, 0),  # ticking every box earns nothing
        (set(), 0, 0),
        ({"b", "d"}, 0, 0),  # never negative
    ],
)
def test_multiple_choice(chosen: set[str], all_or_nothing: int, proportional: int) -> None:
    assert scoring.multiple_choice(4, ["a", "c"], chosen, ALL) == all_or_nothing
    assert scoring.multiple_choice(4, ["a", "c"], chosen, PROPORTIONAL) == proportional


def test_proportional_credit_rounds_down_in_whole_points() -> None:
    # 1 of 3 correct options: 5 * 1 // 3 = 1
    assert scoring.multiple_choice(5, ["a", "b", "c"], {"a"}, PROPORTIONAL) == 1


@pytest.mark.parametrize(
    "given",
    [
        "Hong Kong", "  hong   KONG ", "HONG\tKONG\n", "hong\u3000kong",
        "\uff28\uff4f\uff4e\uff47 \uff2b\uff4f\uff4e\uff47",  # full-width letters
    ],
)
def test_short_answer_text_is_normalised(given: str) -> None:
    key = {"accepted": ["hong kong", "HK"]}
    assert scoring.short_answer(2, key, given) == 2


def test_short_answer_text_must_match_an_accepted_answer() -> None:
    key = {"accepted": ["hong kong"]}
    assert scoring.short_answer(2, key, "hongkong") == 0
    assert scoring.short_answer(2, key, "") == 0
    assert scoring.short_answer(2, key, None) == 0
    # German sharp s folds to "ss": casefold, not lower
    assert scoring.short_answer(1, {"accepted": ["STRASSE"]}, "straße") == 1


@pytest.mark.parametrize(
    ("given", "points"),
    [("3.14", 1), ("3.6", 1), ("2.64", 1), ("3.65", 0), ("\uff12.\uff16\uff14", 1), (" 3 ", 1),
     ("pi", 0), ("NaN", 0), ("Infinity", 0), ("1e999999999", 0), ("", 0)],
)
def test_numeric_short_answer_within_tolerance(given: str, points: int) -> None:
    key = {"accepted": ["3.14"], "numeric": True, "tolerance": "0.5"}
    assert scoring.short_answer(1, key, given) == points


def test_numeric_short_answer_without_tolerance_is_exact() -> None:
    key = {"accepted": ["42"], "numeric": True}
    assert scoring.short_answer(1, key, "42.0") == 1
    assert scoring.short_answer(1, key, "42.01") == 0


def test_auto_points_dispatches_by_kind() -> None:
    key = {"correct": ["a"]}
    assert scoring.auto_points(QuestionKind.SINGLE_CHOICE, 2, key, ALL, {"option_id": "a"}) == 2
    assert scoring.auto_points(QuestionKind.MULTIPLE_CHOICE, 2, key, ALL,
                               {"option_ids": ["a"]}) == 2
    assert scoring.auto_points(QuestionKind.SHORT_ANSWER, 2, {"accepted": ["x"]}, ALL,
                               {"text": "X"}) == 2
    assert scoring.auto_points(QuestionKind.SINGLE_CHOICE, 2, key, ALL, None) == 0
    with pytest.raises(ValueError, match="graded by people"):
        scoring.auto_points(QuestionKind.FREE_TEXT, 2, {}, ALL, {"text": "x"})


@pytest.mark.parametrize(
    ("total", "maximum", "percent"),
    [(7, 10, "70.00"), (2, 3, "66.67"), (1, 3, "33.33"), (1, 8, "12.50"), (0, 0, "0.00"),
     (1, 200, "0.50"), (1, 400, "0.25"), (1, 1600, "0.06"), (1, 80000, "0.00")],
)
def test_score_percent_rounds_half_even(total: int, maximum: int, percent: str) -> None:
    assert scoring.score_percent(total, maximum) == Decimal(percent)


def test_passing_is_decided_on_exact_integers() -> None:
    # 139/200 = 69.5%: the rounded percentage would say 70 in some schemes; it is not 70.
    assert not scoring.passed(139, 200, 70)
    assert scoring.passed(140, 200, 70)
    # 2/3 = 66.666...%: reaches 66, not 67
    assert scoring.passed(2, 3, 66) and not scoring.passed(2, 3, 67)
    assert not scoring.passed(0, 0, 1)  # nothing to score, nothing passed


def test_margin() -> None:
    # rubric of 20 points, margin 10%: 2 points apart agree, 3 do not
    assert scoring.within_margin(10, 12, 20, 10)
    assert not scoring.within_margin(10, 13, 20, 10)
    assert scoring.mean_in_trainers_favour(10, 13) == 12


# --- properties ----------------------------------------------------------------------

option_ids = st.sets(st.sampled_from("abcdefgh"), max_size=8)


@given(
    points=st.integers(0, 1000), correct=option_ids.filter(bool), chosen=option_ids,
    mode=st.sampled_from(list(PartialCredit)),
)
def test_multiple_choice_stays_between_zero_and_the_points(
    points: int, correct: set[str], chosen: set[str], mode: PartialCredit
) -> None:
    score = scoring.multiple_choice(points, correct, chosen, mode)
    assert 0 <= score <= points
    if chosen == correct:
        assert score == points
    if mode is ALL and chosen != correct:
        assert score == 0


@given(points=st.integers(1, 100), correct=option_ids.filter(bool), chosen=option_ids,
       extra=st.sampled_from("abcdefgh"))
def test_proportional_credit_never_rewards_a_wrong_pick(
    points: int, correct: set[str], chosen: set[str], extra: str
) -> None:
    if extra in correct:
        return
    before = scoring.multiple_choice(points, correct, chosen - {extra}, PROPORTIONAL)
    after = scoring.multiple_choice(points, correct, chosen | {extra}, PROPORTIONAL)
    assert after <= before


@st.composite
def attempts(draw: st.DrawFn) -> tuple[int, int, int]:
    maximum = draw(st.integers(0, 10_000))
    total = draw(st.integers(0, maximum))
    mark = draw(st.integers(1, 100))
    return total, maximum, mark


@given(attempts())
def test_score_never_exceeds_the_maximum_and_passing_means_reaching_the_mark(
    case: tuple[int, int, int],
) -> None:
    total, maximum, mark = case
    percent = scoring.score_percent(total, maximum)
    assert Decimal(0) <= percent <= Decimal(100)
    assert percent.as_tuple().exponent == -2
    exact = Decimal(total) * 100 / maximum if maximum else Decimal(0)
    assert abs(percent - exact) <= Decimal("0.005")
    assert scoring.passed(total, maximum, mark) == (maximum > 0 and exact >= mark)


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=10))
def test_split_mean_adds_up_to_the_rounded_mean(pairs: list[tuple[int, int]]) -> None:
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    means = scoring.split_mean(first, second)
    assert sum(means) == scoring.mean_in_trainers_favour(sum(first), sum(second))
    for (a, b), mean in zip(pairs, means, strict=True):
        assert (a + b) // 2 <= mean <= (a + b + 1) // 2


@given(st.integers(0, 100), st.integers(0, 100))
def test_the_mean_favours_the_trainer_by_at_most_half_a_point(a: int, b: int) -> None:
    mean = scoring.mean_in_trainers_favour(a, b)
    assert Decimal(a + b) / 2 <= mean <= Decimal(a + b) / 2 + Decimal("0.5")
    assert min(a, b) <= mean <= max(a, b)


@given(st.text(max_size=40))
def test_normalising_text_is_idempotent(text: str) -> None:
    once = scoring.normalise_text(text)
    assert scoring.normalise_text(once) == once
    assert once == once.strip() and "  " not in once
