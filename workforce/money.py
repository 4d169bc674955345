"""Money: an integer count of a currency's minor units and its ISO 4217 code.

No floats anywhere near money. ``Decimal`` appears only inside rate arithmetic
(an hourly rate times a duration), rounded once, half-even, into minor units.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache

import pycountry
from babel.numbers import get_currency_precision


@cache
def minor_units(currency: str) -> int:
    """Digits after the decimal point for the currency (USD 2, JPY 0, BHD 3)."""
    return get_currency_precision(check_currency(currency))


def check_currency(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code such as 'USD'.")
    return code


@dataclass(frozen=True, order=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount is an integer number of minor units")
        object.__setattr__(self, "currency", check_currency(self.currency))

    @classmethod
    def from_decimal(cls, value: Decimal, currency: str) -> Money:
        """Round a major-unit Decimal (e.g. an hourly rate times hours) once, half-even."""
        scale = Decimal(10) ** minor_units(currency)
        minor = (value * scale).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return cls(int(minor), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-minor_units(self.currency))

    def __str__(self) -> str:
        return f"{self.to_decimal():.{minor_units(self.currency)}f} {self.currency}"


def rate_for(hourly: Money, seconds: int) -> Money:
    """What ``seconds`` of work earn at an ``hourly`` rate, rounded once."""
    hours = Decimal(seconds) / Decimal(3600)
    return Money.from_decimal(hourly.to_decimal() * hours, hourly.currency)
