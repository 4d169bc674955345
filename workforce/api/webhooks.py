"""Webhooks from Stripe, verified by signature."""

from __future__ import annotations

from flask import request

from workforce.api.payout_accounts import current_gateway, gateway_problem, settings
from workforce.api.payout_accounts_schemas import WebhookReceiptSchema
from workforce.api.problems import problem
from workforce.api.security import Blueprint
from workforce.api.uow import db_session
from workforce.billing import webhooks
from workforce.billing.gateways import GatewayError

blp = Blueprint(
    "webhooks", __name__, url_prefix="/api/v1",
    description="Webhooks from Stripe, verified by signature",
)


@blp.route("/webhooks/stripe", methods=["POST"])
@blp.public
@blp.response(200, WebhookReceiptSchema)
@blp.alt_response(400, response="BAD_REQUEST", description="Bad, missing or stale signature.")
@blp.alt_response(503, response="SERVICE_UNAVAILABLE",
                  description="No webhook secret is configured.")
def stripe_webhook():
    """An event from Stripe, accepted only with a valid ``Stripe-Signature`` over the raw
    body (5 minutes' tolerance). Each event id is handled once; a redelivery answers 200
    and changes nothing; event types nobody handles are stored and answered 200."""
    try:
        received = webhooks.receive(
            db_session(), request.get_data(cache=True),
            request.headers.get("Stripe-Signature"),
            secret=settings().stripe_webhook_secret, gateway=current_gateway(),
        )
    except webhooks.NotConfigured:
        return problem(503, "Stripe webhooks are not configured on this server.",
                       code="webhooks-not-configured")
    except webhooks.BadSignature as error:
        return problem(400, f"The Stripe signature does not verify: {error}",
                       code="bad-signature")
    except GatewayError as error:
        return gateway_problem(error)
    return {"received": True, "duplicate": received.duplicate}
