from __future__ import annotations

from marshmallow import Schema, fields

from workforce.api.schemas import PageArgs, UtcDateTime
from workforce.notifications.texts import Topic


class NotificationSchema(Schema):
    id = fields.UUID()
    kind = fields.String()
    title = fields.String(metadata={"description": "In the reader's language (the request's "
                                                   "locale, see Content-Language)."})
    body = fields.String(metadata={"description": "In the reader's language, like the title."})
    data = fields.Dict()
    created_at = UtcDateTime()
    read_at = UtcDateTime(allow_none=True)


class NotificationListArgs(PageArgs):
    unread = fields.Boolean(metadata={"description": "Only unread notifications."})


class UnreadCountSchema(Schema):
    unread = fields.Integer()


class MarkedSchema(Schema):
    marked = fields.Integer()


class EmailPreferenceSchema(Schema):
    kind = fields.String(metadata={"description": "The notice's kind, as in notifications."})
    topic = fields.Enum(Topic, by_value=True, metadata={
        "description": "What it is about; e-mails about money, access or security stay on."})
    email = fields.Boolean(metadata={"description": "Whether it is e-mailed as well."})
    required = fields.Boolean(metadata={"description": "True: it cannot be turned off."})


class NotificationPreferencesSchema(Schema):
    email = fields.List(fields.Nested(EmailPreferenceSchema))


class NotificationPreferencesUpdateSchema(Schema):
    email = fields.Dict(
        keys=fields.String(), values=fields.Boolean(), required=True,
        metadata={"description": "Kind of notice to whether it is e-mailed; kinds left out "
                                 "stay as they are. Turning off one about money or access "
                                 "is a 422 naming it."},
    )
