"""How money leaves: the payout gateway interface, chosen by configuration.

``StripeGateway`` (``gateways/stripe.py``) talks to Stripe Connect through the official
library's ``StripeClient``; without a Stripe key there is no gateway and payouts use
the manual method (finance pays from an export and records the bank reference).
Services depend on this interface only; tests point the Stripe gateway at a local
stand-in server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Transfer:
    id: str
    amount: int
    currency: str  # upper case, ISO 4217
    destination: str
    transfer_group: str | None
    amount_reversed: int = 0
    created: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def reversed(self) -> bool:
        return self.amount_reversed >= self.amount


@dataclass(frozen=True)
class ConnectedAccount:
    id: str
    payouts_enabled: bool
    # Stripe's ``requirements``: currently_due, past_due, disabled_reason...
    requirements: dict[str, Any] = field(default_factory=dict)


class GatewayError(Exception):
    """The gateway refused or failed. ``retryable``: the same request may succeed later
    (429, 5xx, a timeout or a dropped connection); otherwise it fails the item."""

    def __init__(
        self, message: str, *, code: str = "gateway_error", retryable: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.status = status


class InsufficientBalance(GatewayError):
    """The platform's balance cannot cover the transfer: stop the run and alert finance,
    rather than fail every remaining item."""


class PayoutGateway(Protocol):
    def create_account(
        self, *, email: str, country: str | None, idempotency_key: str
    ) -> ConnectedAccount: ...

    def retrieve_account(self, account_id: str) -> ConnectedAccount: ...

    def create_account_link(
        self, account_id: str, *, refresh_url: str, return_url: str
    ) -> str: ...

    def create_transfer(
        self, *, amount: int, currency: str, destination: str, transfer_group: str,
        metadata: dict[str, str], idempotency_key: str,
    ) -> Transfer: ...

    def find_transfer(self, *, transfer_group: str) -> Transfer | None: ...

    def retrieve_transfer(self, transfer_id: str) -> Transfer: ...

    def list_transfers(self, *, created_from: datetime, created_to: datetime) -> Iterator[Transfer]:
        ...
