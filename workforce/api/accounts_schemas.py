"""Request and response bodies of the accounts endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.accounts.models import STAFF_ROLES, Role
from workforce.api.schemas import (
    Country,
    Email,
    Text,
    TimeZone,
    languages_field,
    password_field,
)


class SignUpSchema(Schema):
    email = Email(required=True, validate=validate.Length(max=320))
    password = password_field()
    display_name = Text(required=True, validate=validate.Length(min=1, max=100))
    country = Country(required=True, metadata={"example": "HK"})
    timezone = TimeZone(required=True, metadata={"example": "Asia/Hong_Kong"})
    languages = languages_field(required=True)


class LoginSchema(Schema):
    email = Text(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class UserSchema(Schema):
    id = fields.UUID(dump_only=True)
    email = fields.String(dump_only=True)
    display_name = fields.String()
    role = fields.Enum(Role, by_value=True, dump_only=True)
    organisation_id = fields.UUID(allow_none=True, dump_only=True)
    country = fields.String(allow_none=True)
    timezone = fields.String()
    languages = fields.List(fields.String())
    is_active = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class TokenSchema(Schema):
    token = fields.String(metadata={"description": "Shown once; send as 'Authorization: Bearer'."})
    token_id = fields.UUID()
    expires_at = fields.DateTime()
    user = fields.Nested(UserSchema)


class ProfileUpdateSchema(Schema):
    display_name = Text(validate=validate.Length(min=1, max=100))
    country = Country(allow_none=True)
    timezone = TimeZone()
    languages = languages_field()


class PasswordChangeSchema(Schema):
    current_password = password_field(new=False)
    new_password = password_field()


class PasswordResetRequestSchema(Schema):
    email = Email(required=True, validate=validate.Length(max=320))


class PasswordResetConfirmSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    new_password = password_field()


class InvitationAcceptSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = password_field()
    display_name = Text(required=True, validate=validate.Length(min=1, max=100))
    country = Country(allow_none=True)
    timezone = TimeZone(load_default="UTC")
    languages = languages_field(load_default=list)


class InvitationCreateSchema(Schema):
    email = Email(required=True, validate=validate.Length(max=320))
    role = fields.Enum(
        Role, by_value=True, required=True,
        validate=validate.OneOf(sorted(STAFF_ROLES, key=str), error="Must be a staff role."),
    )


class InvitationSchema(Schema):
    id = fields.UUID()
    email = fields.String()
    role = fields.Enum(Role, by_value=True)
    invited_by_id = fields.UUID()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    accepted_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    status = fields.String(metadata={"enum": ["pending", "accepted", "revoked", "expired"]})


class StaffUpdateSchema(Schema):
    role = fields.Enum(
        Role, by_value=True,
        validate=validate.OneOf(sorted(STAFF_ROLES, key=str), error="Must be a staff role."),
    )
    is_active = fields.Boolean()


class UserListArgs(Schema):
    role = fields.Enum(Role, by_value=True)
    is_active = fields.Boolean()


class OrganisationSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    slug = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
