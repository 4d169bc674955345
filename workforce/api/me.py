"""The caller's own account and inbox."""

from __future__ import annotations

import uuid

from workforce.accounts import services
from workforce.api.accounts_schemas import ProfileUpdateSchema, UserSchema
from workforce.api.notifications_schemas import (
    MarkedSchema,
    NotificationListArgs,
    NotificationSchema,
    UnreadCountSchema,
)
from workforce.api.schemas import page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.notifications import services as notifications

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The caller's account")


@blp.route("")
@blp.signing_in
@blp.response(200, UserSchema)
def get_me():
    """The caller's account."""
    return current_user()


@blp.route("", methods=["PATCH"])
@blp.authenticated
@blp.arguments(ProfileUpdateSchema)
@blp.response(200, UserSchema)
def update_me(args: dict):
    """Change the caller's display name, country, time zone or languages."""
    return services.update_profile(db_session(), current_user(), **args)


@blp.route("/notifications")
@blp.authenticated
@blp.arguments(NotificationListArgs, location="query")
@blp.response(200, page_of(NotificationSchema))
def list_notifications(args: dict):
    """The caller's inbox, newest first."""
    unread = bool(args.pop("unread", False))
    return notifications.list_notifications(
        db_session(), current_user(), page_request(args), unread_only=unread
    )


@blp.route("/notifications/unread-count")
@blp.authenticated
@blp.response(200, UnreadCountSchema)
def unread_count():
    """How many notifications the caller has not read."""
    return {"unread": notifications.unread_count(db_session(), current_user())}


@blp.route("/notifications/<uuid:notification_id>/read", methods=["POST"])
@blp.authenticated
@blp.response(200, NotificationSchema)
@blp.refuses(404)
def mark_read(notification_id: uuid.UUID):
    """Mark one notification read."""
    return notifications.mark_read(db_session(), current_user(), notification_id)


@blp.route("/notifications/read-all", methods=["POST"])
@blp.authenticated
@blp.response(200, MarkedSchema)
def mark_all_read():
    """Mark every notification read."""
    return {"marked": notifications.mark_all_read(db_session(), current_user())}
