"""Stripe webhooks: verified, stored once per event id, then dispatched by type.

``receive()`` checks the ``Stripe-Signature`` over the raw body (5 minutes' tolerance)
with the secret of the endpoint it came to (Stripe signs the platform's endpoint and the
Connect endpoint with a secret each), stores the event in ``StripeEvent`` (its unique
``event_id`` decides which of two concurrent deliveries handles it; a redelivery changes
nothing) and calls the handler registered for its type, in the same transaction: a
handler that fails rolls the event back, Stripe delivers it again later, and it is
handled then.

Handlers are ``(session, event, account, gateway) -> None``, where ``event`` is the
event as a plain dict, ``account`` the connected account it came from (None for the
platform's own events) and ``gateway`` the configured gateway (None without Stripe), for
a handler that needs Stripe's current view of an object: money must never move on the
payload alone. ``register_handlers()``, called once by the app factory, fills the table,
so that every process built by it handles the same events (nothing is registered as a
side effect of importing a module).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workforce import clock
from workforce.billing import payout_accounts
from workforce.billing.gateways import ConnectedAccount, PayoutGateway
from workforce.billing.models import StripeEvent
from workforce.billing.payouts import stripe_events

TOLERANCE_SECONDS = 300

Handler = Callable[[Session, dict[str, Any], str | None, PayoutGateway | None], None]
HANDLERS: dict[str, Handler] = {}


class BadSignature(Exception):
    """The delivery is not from Stripe (bad, missing or stale signature, or a body that
    was changed after signing)."""


class NotConfigured(Exception):
    """No webhook secret is configured, so no delivery can be verified."""


@dataclass(frozen=True)
class Received:
    event: StripeEvent
    duplicate: bool
    handled: bool


def register_handlers() -> None:
    """Handle every event type the billing package acts on (the app factory calls this)."""
    HANDLERS.update({
        "account.updated": handle_account_updated,
        "transfer.reversed": stripe_events.on_transfer_reversed,
        "payout.paid": stripe_events.on_payout_paid,
        "payout.failed": stripe_events.on_payout_failed,
    })


def verify(payload: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """The event in ``payload`` if ``signature`` proves it came from Stripe just now."""
    if not secret:
        raise NotConfigured("No webhook secret is configured for this endpoint.")
    if not signature:
        raise BadSignature("The Stripe-Signature header is missing.")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature, secret, TOLERANCE_SECONDS)
        event = json.loads(text)
    except UnicodeDecodeError as exc:
        raise BadSignature("The body is not UTF-8.") from exc
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(str(exc.user_message or exc)) from exc
    except ValueError as exc:
        raise BadSignature("The signed body is not JSON.") from exc
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise BadSignature("The signed body is not a Stripe event.")
    return event


def receive(
    session: Session, payload: bytes, signature: str | None, *, secret: str,
    gateway: PayoutGateway | None = None,
) -> Received:
    """Verify, store once and handle one delivery. Raises ``BadSignature`` or
    ``NotConfigured`` before writing anything."""
    event = verify(payload, signature, secret)
    account = event.get("account")
    stored = StripeEvent(
        event_id=str(event["id"])[:255], type=str(event["type"])[:100],
        account=str(account)[:255] if account else None, payload=event,
        received_at=clock.now(),
    )
    try:
        # A savepoint, so that losing the race for the event id leaves the request usable.
        with session.begin_nested():
            session.add(stored)
    except IntegrityError:
        existing = session.scalar(select(StripeEvent).where(StripeEvent.event_id == event["id"]))
        assert existing is not None
        return Received(existing, duplicate=True, handled=False)
    handler = HANDLERS.get(stored.type)
    if handler is None:
        return Received(stored, duplicate=False, handled=False)
    handler(session, event, stored.account, gateway)
    stored.processed_at = clock.now()
    session.flush()
    return Received(stored, duplicate=False, handled=True)


# --- the handlers of payout accounts ----------------------------------------------------


def handle_account_updated(session: Session, event: dict[str, Any], account: str | None,
                           gateway: PayoutGateway | None) -> None:
    """Readiness of a connected account, re-read from Stripe when a gateway is there
    (the payload may be old: events arrive out of order)."""
    obj = event.get("data", {}).get("object", {})
    account_id = obj.get("id") or account
    if not account_id:
        return
    if payout_accounts.find_by_stripe_account(session, account_id) is None:
        return  # not one of ours (another platform's test account, a deleted trainer)
    if gateway is not None:
        connected = gateway.retrieve_account(account_id)
    else:
        connected = ConnectedAccount(
            id=account_id, payouts_enabled=bool(obj.get("payouts_enabled")),
            requirements=obj.get("requirements") or {},
        )
    payout_accounts.update_from_stripe(session, connected)
