"""Money: integer minor units, ISO 4217 codes, one half-even rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workforce.money import Money, minor_units, rate_for


def test_minor_units_follow_iso_4217() -> None:
    assert (minor_units("USD"), minor_units("JPY"), minor_units("BHD")) == (2, 0, 3)


@pytest.mark.parametrize("bad", ["usdd", "XYZ", "", "12"])
def test_unknown_currencies_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(100, bad)


def test_amounts_are_integers() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "USD")
    assert Money(150, "usd") == Money(150, "USD")


def test_rounding_is_half_even_and_once() -> None:
    assert Money.from_decimal(Decimal("0.125"), "USD") == Money(12, "USD")
    assert Money.from_decimal(Decimal("0.135"), "USD") == Money(14, "USD")
    assert Money.from_decimal(Decimal("2.5"), "JPY") == Money(2, "JPY")
    # 20 minutes at 15.00 an hour.
    assert rate_for(Money(1500, "USD"), 1200) == Money(500, "USD")
    assert str(Money(500, "USD")) == "5.00 USD"
    assert str(Money(1234, "BHD")) == "1.234 BHD"


@given(
    hourly=st.integers(min_value=0, max_value=10_000_000),
    seconds=st.integers(min_value=0, max_value=7 * 24 * 3600),
    currency=st.sampled_from(["USD", "JPY", "BHD", "HKD"]),
)
def test_rate_for_is_within_half_a_minor_unit(hourly: int, seconds: int, currency: str) -> None:
    earned = rate_for(Money(hourly, currency), seconds)
    exact = Decimal(hourly) * Decimal(seconds) / Decimal(3600)
    assert abs(Decimal(earned.amount) - exact) <= Decimal("0.5")
    assert earned.currency == currency
    assert earned.amount >= 0
