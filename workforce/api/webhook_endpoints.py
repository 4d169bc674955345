"""Webhooks out: an organisation's endpoints (its admins), their delivery attempts, the
events written for them, and re-sending an event by hand."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import current_app

from workforce import clock
from workforce.accounts.models import Role
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.api.webhook_endpoints_schemas import (
    WebhookAttemptSchema,
    WebhookDeliverySchema,
    WebhookEndpointSchema,
    WebhookEndpointUpdateSchema,
    WebhookEventListArgs,
    WebhookEventSchema,
    WebhookEventTypeSchema,
    WebhookIssuedEndpointSchema,
    WebhookResendSchema,
    WebhookRotateSchema,
)
from workforce.integrations import endpoints
from workforce.integrations.catalogue import DESCRIPTIONS
from workforce.integrations.models import WebhookEndpoint

blp = Blueprint(
    "webhook-endpoints", __name__, url_prefix="/api/v1",
    description="Webhooks out: endpoints that receive the organisation's events, signed "
    "as Standard Webhooks (the events' schemas are under `x-webhooks`)",
)


def _allow_loopback() -> bool:
    return current_app.extensions["workforce"].settings.webhook_allow_loopback


def _shown(endpoint: WebhookEndpoint) -> dict:
    """The endpoint as answered: never its secrets."""
    return {
        **{name: getattr(endpoint, name) for name in (
            "id", "url", "description", "event_types", "enabled", "disabled_reason",
            "failing_since", "created_at", "updated_at")},
        "previous_secret_expires_at": endpoints.previous_secret_expiry(endpoint, clock.now()),
    }


def _issued(issued: endpoints.IssuedEndpoint) -> dict:
    return {"endpoint": _shown(issued.endpoint), "secret": issued.secret}


@blp.route("/webhook-event-types")
@blp.requires(Role.ADMIN)
@blp.response(200, page_of(WebhookEventTypeSchema))
def list_event_types():
    """The event catalogue: every type an endpoint may ask for (one page)."""
    return {"items": [{"type": t.value, "description": text}
                      for t, text in DESCRIPTIONS.items()], "next_cursor": None}


@blp.route("/webhook-endpoints")
@blp.requires(Role.ADMIN)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(WebhookEndpointSchema))
def list_endpoints(args: dict):
    """The organisation's endpoints, newest first."""
    page = endpoints.list_endpoints(db_session(), current_user(), page_request(args))
    return {"items": [_shown(e) for e in page.items], "next_cursor": page.next_cursor}


@blp.route("/webhook-endpoints", methods=["POST"])
@blp.requires(Role.ADMIN)
@blp.arguments(WebhookEndpointSchema)
@blp.response(201, WebhookIssuedEndpointSchema)
@blp.refuses(409)
def create_endpoint(args: dict):
    """Register an endpoint (audited). Its signing secret is in this answer only."""
    return _issued(endpoints.create_endpoint(
        db_session(), current_user(), allow_loopback=_allow_loopback(), **args))


@blp.route("/webhook-endpoints/<uuid:endpoint_id>")
@blp.requires(Role.ADMIN)
@blp.response(200, WebhookEndpointSchema)
@blp.refuses(404)
def get_endpoint(endpoint_id: uuid.UUID):
    """One endpoint (without its secret)."""
    return _shown(endpoints.get_endpoint(db_session(), current_user(), endpoint_id))


@blp.route("/webhook-endpoints/<uuid:endpoint_id>", methods=["PATCH"])
@blp.requires(Role.ADMIN)
@blp.arguments(WebhookEndpointUpdateSchema)
@blp.response(200, WebhookEndpointSchema)
@blp.refuses(404)
def update_endpoint(args: dict, endpoint_id: uuid.UUID):
    """Change the URL, event types, description, or disable or enable it (audited)."""
    return _shown(endpoints.update_endpoint(
        db_session(), current_user(), endpoint_id, allow_loopback=_allow_loopback(), **args))


@blp.route("/webhook-endpoints/<uuid:endpoint_id>", methods=["DELETE"])
@blp.requires(Role.ADMIN)
@blp.response(204)
@blp.refuses(404)
def delete_endpoint(endpoint_id: uuid.UUID):
    """Delete the endpoint, its deliveries and attempts (audited)."""
    endpoints.delete_endpoint(db_session(), current_user(), endpoint_id)


@blp.route("/webhook-endpoints/<uuid:endpoint_id>/secret/rotate", methods=["POST"])
@blp.requires(Role.ADMIN)
@blp.arguments(WebhookRotateSchema)
@blp.response(200, WebhookIssuedEndpointSchema)
@blp.refuses(404)
def rotate_secret(args: dict, endpoint_id: uuid.UUID):
    """A new signing secret, in this answer only; the old one keeps signing beside it for
    `overlap_seconds` (audited)."""
    return _issued(endpoints.rotate_secret(
        db_session(), current_user(), endpoint_id,
        overlap=timedelta(seconds=args["overlap_seconds"])))


@blp.route("/webhook-endpoints/<uuid:endpoint_id>/attempts")
@blp.requires(Role.ADMIN)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(WebhookAttemptSchema))
@blp.refuses(404)
def list_attempts(args: dict, endpoint_id: uuid.UUID):
    """Every delivery attempt to the endpoint, newest first: time, outcome, response
    status, duration and error."""
    return endpoints.list_attempts(db_session(), current_user(), endpoint_id,
                                   page_request(args))


@blp.route("/webhook-endpoints/<uuid:endpoint_id>/resend", methods=["POST"])
@blp.requires(Role.ADMIN)
@blp.arguments(WebhookResendSchema)
@blp.response(202, WebhookDeliverySchema)
@blp.refuses(404, 409)
def resend_event(args: dict, endpoint_id: uuid.UUID):
    """Send an event to the endpoint again, with its own id (the scheduler sends it
    within a minute, then retries as usual; audited). 409 when the endpoint is
    disabled."""
    return endpoints.resend(db_session(), current_user(), endpoint_id, args["event_id"])


@blp.route("/webhook-events")
@blp.requires(Role.ADMIN)
@blp.arguments(WebhookEventListArgs, location="query")
@blp.response(200, page_of(WebhookEventSchema))
def list_events(args: dict):
    """The organisation's events, newest first, optionally of one `type`."""
    page = page_request(args)
    return endpoints.list_events(db_session(), current_user(), page, type_=args.get("type"))
