"""Bodies of the payout-account endpoints. Bank details go in whole and come out masked."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_dump, validate

from workforce.api.schemas import Country, PageArgs, Text, UtcDateTime
from workforce.billing import payout_accounts
from workforce.billing.models import PayoutAccount, PayoutMethod


class ManualDetailsSchema(Schema):
    """Bank details for the manual method: an IBAN, or an account number with a bank code
    (routing number, sort code)."""

    holder_name = Text(required=True, validate=validate.Length(min=1, max=200))
    bank_name = Text(required=True, validate=validate.Length(min=1, max=200))
    country = Country(required=True, metadata={"example": "DE"})
    iban = Text(validate=validate.Length(max=50), metadata={"example": "DE89370400440532013000"})
    account_number = Text(validate=validate.Length(max=50))
    bank_code = Text(validate=validate.Length(max=30))


class MaskedBankSchema(Schema):
    holder_name = fields.String()
    bank_name = fields.String()
    country = fields.String()
    iban = fields.String(metadata={"description": "Masked: country and last four characters.",
                                   "example": "DE••••••••••••••••3000"})
    account_number = fields.String(metadata={"description": "Masked: last four characters."})
    bank_code = fields.String()


class StripeRequirementsSchema(Schema):
    """What Stripe still needs before it pays out (from its ``requirements``)."""

    currently_due = fields.List(fields.String())
    past_due = fields.List(fields.String())
    eventually_due = fields.List(fields.String())
    disabled_reason = fields.String(allow_none=True)
    current_deadline = fields.Integer(allow_none=True)


class PayoutAccountSchema(Schema):
    id = fields.UUID()
    trainer_id = fields.UUID()
    method = fields.Enum(PayoutMethod, by_value=True)
    ready = fields.Boolean(metadata={"description": "Money can be sent to this account "
                                     "(Stripe: payouts_enabled; manual: details exist)."})
    payouts_enabled = fields.Boolean()
    requirements = fields.Nested(StripeRequirementsSchema)
    stripe_account_id = fields.String(allow_none=True)
    bank = fields.Nested(MaskedBankSchema, allow_none=True)
    on_hold = fields.Boolean(metadata={"description": "Payouts are held after a change of "
                                       "details until hold_until."})
    hold_until = UtcDateTime(allow_none=True)
    details_changed_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    @pre_dump
    def view(self, account: PayoutAccount, **_: Any) -> dict[str, Any]:
        manual = account.method is PayoutMethod.MANUAL
        return {
            "id": account.id,
            "trainer_id": account.trainer_id,
            "method": account.method,
            "ready": payout_accounts.is_ready(account),
            "payouts_enabled": account.payouts_enabled,
            "requirements": {} if manual else account.requirements,
            "stripe_account_id": None if manual else account.stripe_account_id,
            "bank": payout_accounts.masked_bank_details(account.bank_details) if manual
            else None,
            "on_hold": payout_accounts.on_hold(account),
            "hold_until": account.hold_until,
            "details_changed_at": account.details_changed_at,
            "created_at": account.created_at,
            "updated_at": account.updated_at,
        }


class StripeOnboardingSchema(Schema):
    account = fields.Nested(PayoutAccountSchema)
    onboarding_url = fields.String(metadata={
        "description": "Stripe's onboarding page for this account; it expires within "
                       "minutes, so ask for a new one each time."
    })


class WebhookReceiptSchema(Schema):
    received = fields.Boolean()
    duplicate = fields.Boolean(metadata={"description": "This event id was delivered "
                                         "before; nothing changed."})


class PayoutAccountListArgs(PageArgs):
    trainer_id = fields.UUID(metadata={"description": "Only this trainer's account."})
