"""Request and response bodies of the accounts endpoints."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_dump, validate, validates_schema

from workforce.accounts.models import STAFF_ROLES, Role
from workforce.api.schemas import (
    Country,
    Email,
    PageArgs,
    Text,
    TimeZone,
    UtcDateTime,
    languages_field,
    locale_field,
    password_field,
)


def staff_role(**kwargs: Any) -> fields.Enum:
    """A staff role (documented as those alone: ``api.schemas.enum_choices``)."""
    return fields.Enum(Role, by_value=True, validate=validate.OneOf(
        sorted(STAFF_ROLES, key=str), error="Must be a staff role."), **kwargs)


class SignUpSchema(Schema):
    email = Email(required=True, validate=validate.Length(max=320))
    password = password_field()
    display_name = Text(required=True, validate=validate.Length(min=1, max=100))
    country = Country(required=True, metadata={"example": "HK"})
    timezone = TimeZone(required=True, metadata={"example": "Asia/Hong_Kong"})
    languages = languages_field(required=True)
    locale = locale_field(metadata={"description": "The language the service speaks to "
                          "the trainer in; without it, the request's Accept-Language."})


class LoginSchema(Schema):
    email = Text(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))
    otp = fields.String(load_only=True, validate=validate.Length(max=16), metadata={
        "description": "For an account with a second factor: the 6-digit code from the "
        "authenticator app. Without it (or a recovery_code) such a login is 401 "
        "mfa-required."})
    recovery_code = fields.String(load_only=True, validate=validate.Length(max=64), metadata={
        "description": "Instead of otp: one of the account's unused recovery codes (each "
        "works once)."})


class UserSchema(Schema):
    id = fields.UUID(dump_only=True)
    email = fields.String(dump_only=True)
    display_name = fields.String()
    role = fields.Enum(Role, by_value=True, dump_only=True)
    organisation_id = fields.UUID(allow_none=True, dump_only=True)
    country = fields.String(allow_none=True)
    timezone = fields.String()
    languages = fields.List(fields.String())
    locale = locale_field(allow_none=True)
    is_active = fields.Boolean(dump_only=True)
    email_verified_at = UtcDateTime(allow_none=True, dump_only=True, metadata={
        "description": "When the address was verified; a trainer without it may not apply "
        "to projects or claim work."})
    created_at = UtcDateTime(dump_only=True)


class TokenSchema(Schema):
    token = fields.String(metadata={"description": "Shown once; send as 'Authorization: Bearer'."})
    token_id = fields.UUID()
    expires_at = UtcDateTime()
    user = fields.Nested(UserSchema)
    mfa_enrolment_required = fields.Boolean(metadata={
        "description": "True for a finance or admin user with no second factor yet: the "
        "token opens only enrolment (POST /api/v1/me/mfa/totp), the caller's account, "
        "sessions and logout until it is confirmed."})


class ProfileUpdateSchema(Schema):
    display_name = Text(validate=validate.Length(min=1, max=100))
    country = Country(allow_none=True)
    timezone = TimeZone()
    languages = languages_field()
    locale = locale_field(allow_none=True)


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
    locale = locale_field(metadata={"description": "The language the service speaks to "
                          "the new user in; without it, the request's Accept-Language."})


class InvitationCreateSchema(Schema):
    email = Email(required=True, validate=validate.Length(max=320))
    role = staff_role(required=True)


class InvitationSchema(Schema):
    id = fields.UUID()
    email = fields.String()
    role = staff_role()
    invited_by_id = fields.UUID()
    created_at = UtcDateTime()
    expires_at = UtcDateTime()
    accepted_at = UtcDateTime(allow_none=True)
    revoked_at = UtcDateTime(allow_none=True)
    status = fields.String(metadata={"enum": ["pending", "accepted", "revoked", "expired"]})


class AcceptanceSchema(Schema):
    method = fields.String(metadata={"example": "POST"})
    url = fields.String(metadata={"example": "http://127.0.0.1:8000/api/v1/auth/invitations/accept"})
    token = fields.String(metadata={"description": "The invitation token the e-mail carries."})


class IssuedInvitationSchema(InvitationSchema):
    """An invitation just created or sent again."""

    acceptance = fields.Nested(AcceptanceSchema, metadata={
        "description": "Only when the service runs with WORKFORCE_ENV=development (where "
        "e-mail may go nowhere): how to accept the invitation. Never in production."})

    @pre_dump
    def _flatten(self, answer: dict[str, Any], **kwargs: object) -> dict[str, Any]:
        invitation = answer["invitation"]
        data = {name: getattr(invitation, name) for name in InvitationSchema._declared_fields}
        if answer["acceptance"] is not None:
            data["acceptance"] = answer["acceptance"]
        return data


class StaffUpdateSchema(Schema):
    role = staff_role()
    is_active = fields.Boolean()


class UserListArgs(PageArgs):
    role = fields.Enum(Role, by_value=True)
    is_active = fields.Boolean()


class PayPolicySchema(Schema):
    requires_paid_assessments = fields.Boolean(metadata={
        "description": "Every assessment must carry a stipend before it is published."})
    payout_hold_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=60),
                                      metadata={
        "description": "Days earned money waits before a payout may include it (applies to "
        "money earned after the change)."})
    notice_period_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=90),
                                        metadata={
        "description": "Notice owed before a project is suspended; shorter notice pays a "
        "kill fee (applies to suspensions announced after the change)."})

    @validates_schema
    def _something_to_change(self, data: dict, **kwargs: object) -> None:
        if not data:
            raise ValidationError("Give at least one field to change.", "_schema")


class OrganisationSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    slug = fields.String(dump_only=True)
    created_at = UtcDateTime(dump_only=True)


class AuditEventSchema(Schema):
    id = fields.UUID()
    created_at = UtcDateTime()
    actor_id = fields.UUID(allow_none=True)
    actor_label = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    request_id = fields.String(allow_none=True)


class AuditListArgs(PageArgs):
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    actor_id = fields.UUID()
    since = UtcDateTime()
    until = UtcDateTime()
