"""Payout accounts: Stripe Connect onboarding or manual bank details."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app

from workforce.accounts.models import FINANCE_STAFF, Role
from workforce.api.payout_accounts_schemas import (
    ManualDetailsSchema,
    PayoutAccountListArgs,
    PayoutAccountSchema,
    StripeOnboardingSchema,
)
from workforce.api.problems import problem
from workforce.api.schemas import page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.billing import payout_accounts
from workforce.billing.gateways import GatewayError, PayoutGateway
from workforce.billing.models import PayoutAccount
from workforce.i18n import _
from workforce.settings import Settings

blp = Blueprint(
    "payout_accounts", __name__, url_prefix="/api/v1",
    description="Payout accounts: Stripe Connect onboarding or manual bank details",
)

# Where Stripe sends the trainer back from onboarding: pages of the web front end, which
# asks this API for a fresh link (refresh) or shows the account's readiness (return).
STRIPE_REFRESH_PATH = "/payout-account/stripe/refresh"
STRIPE_RETURN_PATH = "/payout-account/stripe/return"


def settings() -> Settings:
    return current_app.extensions["workforce"].settings


def current_gateway() -> PayoutGateway | None:
    """The app's payout gateway (None without a Stripe key)."""
    return current_app.extensions["workforce"].gateway


def gateway_problem(error: GatewayError) -> Any:
    """Stripe failed or refused: 503 when trying again later may work, else 502."""
    if error.retryable:
        return problem(503, _("Stripe is not answering; try again in a minute."),
                       code="stripe-unavailable", headers={"Retry-After": "30"})
    return problem(502, _("Stripe refused the request: %(message)s", message=error.message),
                   code="stripe-error")


@blp.route("/me/payout-account")
@blp.requires(Role.TRAINER)
@blp.response(200, PayoutAccountSchema)
@blp.refuses(404)
def get_my_payout_account():
    """The caller's payout account: method, readiness, masked details and any hold."""
    return payout_accounts.get_own_payout_account(db_session(), current_user())


@blp.route("/me/payout-account/stripe", methods=["POST"])
@blp.requires(Role.TRAINER)
@blp.response(200, StripeOnboardingSchema)
@blp.alt_response(409, response="CONFLICT", description="Stripe is not configured.")
@blp.refuses(502, 503)
def connect_stripe():
    """Pay the caller through Stripe: creates their Stripe Express account (once) and
    returns a fresh onboarding link. Switching from manual details holds payouts."""
    base = settings().public_base_url.rstrip("/")
    try:
        onboarding = payout_accounts.connect_stripe(
            db_session(), current_user(), current_gateway(),
            refresh_url=base + STRIPE_REFRESH_PATH, return_url=base + STRIPE_RETURN_PATH,
            hold=settings().payout_details_hold,
        )
    except GatewayError as error:
        return gateway_problem(error)
    return {"account": onboarding.account, "onboarding_url": onboarding.onboarding_url}


@blp.route("/me/payout-account/manual", methods=["PUT"])
@blp.requires(Role.TRAINER)
@blp.arguments(ManualDetailsSchema)
@blp.response(200, PayoutAccountSchema)
def set_manual_details(args: dict):
    """Pay the caller by bank transfer from finance (the manual method). The details are
    shown masked from then on; changing them holds payouts for a while."""
    return payout_accounts.set_manual_details(
        db_session(), current_user(), args, hold=settings().payout_details_hold
    )


def _refresh_responses(view: Any) -> Any:
    view = blp.response(200, PayoutAccountSchema)(view)
    view = blp.alt_response(409, response="CONFLICT", description="Stripe is not "
                            "configured, or the account is manual.")(view)
    return blp.refuses(404, 502, 503)(view)


@blp.route("/me/payout-account/refresh", methods=["POST"])
@blp.requires(Role.TRAINER)
@_refresh_responses
def refresh_my_payout_account():
    """Re-read your Stripe account's readiness from Stripe now (after onboarding, when
    the account still shows not ready): `payouts_enabled` and what Stripe still needs.
    409 `not-stripe` for bank details, `stripe-not-configured` without Stripe."""
    session, trainer = db_session(), current_user()
    account = payout_accounts.get_own_payout_account(session, trainer)
    return _refreshed(account)


@blp.route("/payout-accounts/<uuid:payout_account_id>/refresh", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@_refresh_responses
def refresh_payout_account(payout_account_id: uuid.UUID):
    """Re-read a trainer's Stripe account's readiness from Stripe now (a trainer who
    worked for your organisation; others are 404). A change is audited as yours and
    the trainer is told, as when Stripe's `account.updated` arrives."""
    account = payout_accounts.get_for_organisation(db_session(), current_user(),
                                                   payout_account_id)
    return _refreshed(account)


def _refreshed(account: PayoutAccount) -> Any:
    try:
        return payout_accounts.refresh_from_stripe(db_session(), current_user(), account,
                                                   current_gateway())
    except GatewayError as error:
        return gateway_problem(error)


@blp.route("/payout-accounts")
@blp.requires(*FINANCE_STAFF)
@blp.arguments(PayoutAccountListArgs, location="query")
@blp.response(200, page_of(PayoutAccountSchema))
def list_payout_accounts(args: dict):
    """Payout accounts (readiness, holds, masked details) of the trainers who worked for
    the caller's organisation, newest first."""
    trainer_id = args.pop("trainer_id", None)
    return payout_accounts.list_for_organisation(
        db_session(), current_user(), page_request(args), trainer_id=trainer_id
    )
