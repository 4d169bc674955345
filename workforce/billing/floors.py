"""Wage floors: the least an organisation pays per hour, per currency, with a default
for the currency and, optionally, a floor per country where trainers live.

Which floor applies where:

- **A trainer's own pay** (the weekly top-up): the floor of their country (``User.country``)
  in the project's currency, else the currency's default. A trainer without a country
  is held to the default.
- **A rate or stipend any trainer may take** (project rates, assessment stipends): the
  highest floor of the currency, default and countries alike, so that nobody who
  takes the work is paid under their own floor at the estimated time. An
  organisation that wants a lower rate for a cheaper country runs a project in that
  country's currency.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce.accounts import audit
from workforce.accounts.models import User, WageFloor
from workforce.errors import NotFound
from workforce.i18n import _
from workforce.money import Money
from workforce.pagination import Page, PageRequest, paginate


@dataclass(frozen=True)
class Floor:
    """An hourly floor and whom it is for (``country`` None: the currency's default)."""

    hourly: Money
    country: str | None

    @property
    def label(self) -> str:
        where = f"for trainers in {self.country}" if self.country else "default"
        return f"{self.hourly} an hour ({where})"


def _floor(row: WageFloor) -> Floor:
    return Floor(Money(row.hourly_amount, row.currency), row.country)


def floors_of(session: Session, organisation_id: uuid.UUID, currency: str) -> list[WageFloor]:
    return list(session.scalars(
        select(WageFloor).where(
            WageFloor.organisation_id == organisation_id, WageFloor.currency == currency
        )
    ))


def floor_for_trainer(
    session: Session, organisation_id: uuid.UUID, currency: str, country: str | None
) -> Floor | None:
    """The floor a trainer living in ``country`` is held to: their country's, else the
    currency's default; None when the organisation set neither."""
    rows = floors_of(session, organisation_id, currency)
    by_country = {row.country: row for row in rows}
    row = by_country.get(country) if country else None
    row = row or by_country.get(None)
    return None if row is None else _floor(row)


def binding_floor(session: Session, organisation_id: uuid.UUID, currency: str) -> Floor | None:
    """The highest floor of the currency: what work open to every trainer must meet."""
    rows = floors_of(session, organisation_id, currency)
    if not rows:
        return None
    # The default first among equals: its label is the plainer one.
    top = max(rows, key=lambda r: (r.hourly_amount, r.country is None))
    return _floor(top)


def minimum_for(floor: Floor, seconds: int) -> int:
    """Minor units that ``seconds`` of work must earn at least: rounded up, so the
    floor is met to the minor unit (never half-even here: a floor is a minimum)."""
    return -(-floor.hourly.amount * seconds // 3600)


# --- setting them (admins and finance; audited) --------------------------------------


def list_floors(session: Session, staff: User, page: PageRequest) -> Page[WageFloor]:
    """The organisation's floors: by currency, the default first, then countries."""
    stmt = select(WageFloor).where(WageFloor.organisation_id == staff.organisation_id)
    order = (WageFloor.currency, WageFloor.country.nulls_first(), WageFloor.id)
    return paginate(session, stmt, page, order=order)


def _find(
    session: Session, organisation_id: uuid.UUID, currency: str, country: str | None
) -> WageFloor | None:
    stmt = select(WageFloor).where(
        WageFloor.organisation_id == organisation_id, WageFloor.currency == currency,
        WageFloor.country.is_(None) if country is None else WageFloor.country == country,
    )
    return session.scalars(stmt).one_or_none()


def set_floor(
    session: Session, staff: User, *, currency: str, hourly_amount: int,
    country: str | None = None,
) -> WageFloor:
    """Set the currency's default floor, or a country's (audited). ``currency`` and
    ``country`` come checked (ISO 4217, ISO 3166-1 alpha-2) from the caller.

    A new floor does not re-check rates already set: it applies to rates and stipends
    set from now on and to the weeks settled from now on."""
    assert staff.organisation_id is not None
    floor = _find(session, staff.organisation_id, currency, country)
    before = None if floor is None else {"hourly_amount": floor.hourly_amount}
    if floor is None:
        floor = WageFloor(organisation_id=staff.organisation_id, currency=currency,
                          country=country, hourly_amount=hourly_amount)
        session.add(floor)
    floor.hourly_amount = hourly_amount
    session.flush()
    audit.record(
        session, staff, "organisation.wage_floor_set", object_type="wage_floor",
        object_id=floor.id, organisation_id=staff.organisation_id, before=before,
        after={"currency": currency, "country": country, "hourly_amount": hourly_amount},
    )
    return floor


def remove_country_floor(session: Session, staff: User, *, currency: str, country: str) -> None:
    """Remove a country's floor: its trainers are held to the default again (audited).
    The default itself stays (rates were checked against it)."""
    assert staff.organisation_id is not None
    floor = _find(session, staff.organisation_id, currency, country)
    if floor is None:
        raise NotFound(_("No wage floor in %(currency)s for %(country)s.",
                         currency=currency, country=country))
    audit.record(
        session, staff, "organisation.wage_floor_removed", object_type="wage_floor",
        object_id=floor.id, organisation_id=staff.organisation_id,
        before={"currency": currency, "country": country,
                "hourly_amount": floor.hourly_amount},
        after=None,
    )
    session.delete(floor)
    session.flush()
