"""The caller's own account and inbox."""

from __future__ import annotations

import uuid

from workforce.accounts import services
from workforce.api.accounts_schemas import ProfileUpdateSchema, UserSchema
from workforce.api.notifications_schemas import (
    MarkedSchema,
    NotificationListArgs,
    NotificationPreferencesSchema,
    NotificationPreferencesUpdateSchema,
    NotificationSchema,
    UnreadCountSchema,
)
from workforce.api.schemas import page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.i18n import current_locale
from workforce.notifications import services as notifications
from workforce.notifications.models import Notification
from workforce.pagination import Page

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
    page = notifications.list_notifications(
        db_session(), current_user(), page_request(args), unread_only=unread
    )
    return Page([_read(n) for n in page.items], page.next_cursor)


def _read(notification: Notification) -> notifications.NotificationView:
    """In the request's language: the caller's saved one, else Accept-Language."""
    return notifications.view_of(notification, current_user(), current_locale())


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
    return _read(notifications.mark_read(db_session(), current_user(), notification_id))


@blp.route("/notifications/read-all", methods=["POST"])
@blp.authenticated
@blp.response(200, MarkedSchema)
def mark_all_read():
    """Mark every notification read."""
    return {"marked": notifications.mark_all_read(db_session(), current_user())}


@blp.route("/notification-preferences")
@blp.authenticated
@blp.response(200, NotificationPreferencesSchema)
def get_notification_preferences():
    """Which kinds of notice are e-mailed to the caller as well as put in the inbox."""
    return {"email": notifications.email_preferences(db_session(), current_user())}


@blp.route("/notification-preferences", methods=["PATCH"])
@blp.authenticated
@blp.arguments(NotificationPreferencesUpdateSchema)
@blp.response(200, NotificationPreferencesSchema)
@blp.refuses(422)
def update_notification_preferences(args: dict):
    """Turn e-mails of some kinds of notice off or on. Those about money, access and
    security stay on: turning one off is a 422 naming it, and nothing changes."""
    return {"email": notifications.set_email_preferences(
        db_session(), current_user(), args["email"])}
