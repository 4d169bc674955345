"""Webhooks from Stripe, verified by signature.

Stripe Connect delivers to two kinds of endpoint, each signing with its own secret: the
platform's endpoint ("Your account": ``transfer.reversed``) and the Connect endpoint
(events of connected accounts, which carry ``account``: ``account.updated``,
``payout.paid``, ``payout.failed``). Each has its route here and its setting.
"""

from __future__ import annotations

from flask import request

from workforce.api.payout_accounts import current_gateway, gateway_problem, settings
from workforce.api.payout_accounts_schemas import WebhookReceiptSchema
from workforce.api.problems import problem
from workforce.api.security import Blueprint
from workforce.api.uow import db_session
from workforce.billing import webhooks
from workforce.billing.gateways import GatewayError
from workforce.i18n import _

blp = Blueprint(
    "webhooks", __name__, url_prefix="/api/v1",
    description="Webhooks from Stripe, verified by signature",
)


def _documented(view):
    view = blp.response(200, WebhookReceiptSchema)(view)
    view = blp.alt_response(400, response="BAD_REQUEST",
                            description="Bad, missing or stale signature.")(view)
    return blp.alt_response(503, response="SERVICE_UNAVAILABLE",
                            description="No webhook secret is configured for this "
                            "endpoint.")(view)


@blp.route("/webhooks/stripe", methods=["POST"])
@blp.public
@_documented
def stripe_webhook():
    """The platform's Stripe endpoint ("Your account"; enable `transfer.reversed`),
    verified with `WORKFORCE_STRIPE_WEBHOOK_SECRET`: accepted only with a valid
    `Stripe-Signature` over the raw body (5 minutes' tolerance). Each event id is handled
    once; a redelivery answers 200 and changes nothing; event types nobody handles are
    stored and answered 200."""
    return _receive(settings().stripe_webhook_secret, "WORKFORCE_STRIPE_WEBHOOK_SECRET")


@blp.route("/webhooks/stripe/connect", methods=["POST"])
@blp.public
@_documented
def stripe_connect_webhook():
    """The Connect endpoint (events on connected accounts; enable `account.updated`,
    `payout.paid`, `payout.failed`), verified with
    `WORKFORCE_STRIPE_CONNECT_WEBHOOK_SECRET`, otherwise as the platform's endpoint."""
    return _receive(settings().stripe_connect_webhook_secret,
                    "WORKFORCE_STRIPE_CONNECT_WEBHOOK_SECRET")


def _receive(secret: str, setting: str):
    try:
        received = webhooks.receive(
            db_session(), request.get_data(cache=True),
            request.headers.get("Stripe-Signature"), secret=secret, gateway=current_gateway(),
        )
    except webhooks.NotConfigured:
        return problem(503, _("Stripe webhooks to this endpoint are not configured on this "
                              "server (%(setting)s is not set).", setting=setting),
                       code="webhooks-not-configured")
    except webhooks.BadSignature as error:
        return problem(400, _("The Stripe signature does not verify: %(error)s", error=error),
                       code="bad-signature")
    except GatewayError as error:
        return gateway_problem(error)
    return {"received": True, "duplicate": received.duplicate}
