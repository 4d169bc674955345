from __future__ import annotations

from marshmallow import Schema, fields

from workforce.api.schemas import PageArgs, UtcDateTime


class NotificationSchema(Schema):
    id = fields.UUID()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    data = fields.Dict()
    created_at = UtcDateTime()
    read_at = UtcDateTime(allow_none=True)


class NotificationListArgs(PageArgs):
    unread = fields.Boolean(metadata={"description": "Only unread notifications."})


class UnreadCountSchema(Schema):
    unread = fields.Integer()


class MarkedSchema(Schema):
    marked = fields.Integer()
