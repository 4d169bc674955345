"""Fair pay: wage floors (per currency and per country), the pay-transparency view, and
what trainers received to bring their pay up to the floor or towards counselling."""

from __future__ import annotations

import uuid

from workforce.accounts import validation
from workforce.accounts.models import FINANCE_STAFF, MANAGERS, Role
from workforce.api.fair_pay_schemas import (
    CounsellingAllowanceSchema,
    TopUpSchema,
    TransparencySchema,
    WageFloorSchema,
)
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.billing import counselling, fair_pay, floors
from workforce.errors import Invalid
from workforce.i18n import _
from workforce.money import check_currency

blp = Blueprint(
    "fair_pay", __name__, url_prefix="/api/v1",
    description="Fair pay: wage floors, pay transparency, top-ups and "
    "counselling allowances",
)


def _floor_path(currency: str, country: str) -> tuple[str, str]:
    """Both path values checked, every failure reported at once (422)."""
    errors: dict[str, list[str]] = {}
    values = {}
    for name, check, value in (("currency", check_currency, currency),
                               ("country", validation.country_code, country)):
        try:
            values[name] = check(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise Invalid(_("The currency or country is not valid."), errors=errors)
    return values["currency"], values["country"]


@blp.route("/organisation/wage-floors")
@blp.requires(*(MANAGERS | FINANCE_STAFF))
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(WageFloorSchema))
def list_wage_floors(args: dict):
    """The organisation's hourly wage floors: per currency, the default (no `country`)
    first, then any floors per country."""
    return floors.list_floors(db_session(), current_user(), page_request(args))


@blp.route("/organisation/wage-floors/<string:currency>", methods=["PUT"])
@blp.requires(*FINANCE_STAFF)
@blp.arguments(WageFloorSchema)
@blp.response(200, WageFloorSchema)
def set_wage_floor(args: dict, currency: str):
    """Set the least the organisation pays per hour in a currency (minor units; audited):
    the default for trainers in countries without a floor of their own. A float, a
    string or an unknown currency is 422 and writes nothing."""
    try:
        code = check_currency(currency)
    except ValueError as exc:
        raise Invalid(str(exc), errors={"currency": [str(exc)]}) from exc
    return floors.set_floor(db_session(), current_user(), currency=code,
                            hourly_amount=args["hourly_amount"])


@blp.route("/organisation/wage-floors/<string:currency>/countries/<string:country>",
           methods=["PUT"])
@blp.requires(*FINANCE_STAFF)
@blp.arguments(WageFloorSchema)
@blp.response(200, WageFloorSchema)
def set_country_wage_floor(args: dict, currency: str, country: str):
    """Set the floor per hour for trainers living in a country (ISO 3166-1 alpha-2), in
    a currency (audited). Trainers elsewhere are held to the currency's default. Rates
    and stipends any trainer may take must meet the currency's highest floor. A float,
    a string, an unknown currency or country is 422 and writes nothing."""
    code, where = _floor_path(currency, country)
    return floors.set_floor(db_session(), current_user(), currency=code, country=where,
                            hourly_amount=args["hourly_amount"])


@blp.route("/organisation/wage-floors/<string:currency>/countries/<string:country>",
           methods=["DELETE"])
@blp.requires(*FINANCE_STAFF)
@blp.response(204)
@blp.refuses(404)
def remove_country_wage_floor(currency: str, country: str):
    """Remove a country's floor: its trainers are held to the default again (audited)."""
    code, where = _floor_path(currency, country)
    floors.remove_country_floor(db_session(), current_user(), currency=code, country=where)


@blp.route("/projects/<uuid:project_id>/pay-transparency")
@blp.requires(*Role)
@blp.response(200, TransparencySchema)
@blp.refuses(404)
def get_pay_transparency(project_id: uuid.UUID):
    """How the project pays: pay model, rate, estimated and measured median hourly rate
    (suppressed under the minimum group size), review policy, payout hold and notice
    periods, and the wage floor that applies. For the organisation's staff (who also
    see an under-priced mark) and for trainers who are eligible for it or have been on
    it; anyone else gets 404."""
    return fair_pay.transparency(db_session(), current_user(), project_id)


@blp.route("/me/top-ups")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(TopUpSchema))
def list_my_top_ups(args: dict):
    """Top-ups to the wage floor, newest first: the week, its active hours, the pay and
    measured hourly rate, and the floor it was held to."""
    return fair_pay.list_my_top_ups(db_session(), current_user(), page_request(args))


@blp.route("/me/counselling-allowances")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(CounsellingAllowanceSchema))
def list_my_counselling_allowances(args: dict):
    """Counselling allowances received, newest first: one per organisation and month
    in which exposure on its work passed its mark."""
    return counselling.list_my_allowances(db_session(), current_user(), page_request(args))
