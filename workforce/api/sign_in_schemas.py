"""Request and response bodies of e-mail verification, the second factor and sessions."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from workforce.api.schemas import UtcDateTime
from workforce.i18n import lazy_gettext


class VerificationConfirmSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class MfaStatusSchema(Schema):
    required = fields.Boolean(metadata={
        "description": "The caller's role (finance, admin) must sign in with a second factor."})
    enrolled = fields.Boolean()
    enrolled_at = UtcDateTime(allow_none=True)
    recovery_codes_left = fields.Integer()


class EnrolmentSchema(Schema):
    secret = fields.String(metadata={
        "description": "The TOTP secret (base32), shown once: type it into the "
        "authenticator app, or use otpauth_uri."})
    otpauth_uri = fields.String(metadata={
        "description": "The otpauth:// URI, for a QR code.",
        "example": "otpauth://totp/workforce:ana%40example.org?secret=...&issuer=workforce"})


class CodeSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(
        r"^\s*\d{6}\s*$",
        error=lazy_gettext("Must be the 6-digit code from the authenticator app.")))


class RecoveryCodesSchema(Schema):
    recovery_codes = fields.List(fields.String(), metadata={
        "description": "Ten one-time codes, shown once; each stands in for a TOTP code at "
        "one login. Any earlier set stops working."})


class LoginSessionSchema(Schema):
    id = fields.UUID()
    label = fields.String()
    created_at = UtcDateTime()
    last_used_at = UtcDateTime(allow_none=True, metadata={
        "description": "To the minute (not every request writes it)."})
    expires_at = UtcDateTime()
    user_agent = fields.String(allow_none=True)
    client_address = fields.String(allow_none=True)
    current = fields.Boolean(metadata={"description": "The token this request was made with."})
