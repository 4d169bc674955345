"""The Stripe Connect gateway, through the official library's ``StripeClient``.

Each gateway has its own client (never the global ``stripe.api_key``), its base address
from settings (``WORKFORCE_STRIPE_API_BASE``, so tests and developers can point it at the
stand-in in ``tests/stripe_standin.py``), and its own timeout. Stripe's errors become
``GatewayError``: retryable for 409, 429, 5xx, timeouts and dropped connections (the same
request with the same idempotency key may succeed later), ``InsufficientBalance`` for
``balance_insufficient``, and final for any other refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import requests
import requests.adapters
import requests.utils
import stripe

from workforce.billing.gateways import (
    ConnectedAccount,
    GatewayError,
    InsufficientBalance,
    PayoutGateway,
    Transfer,
)

if TYPE_CHECKING:
    from workforce.settings import Settings

T = TypeVar("T")

# Stripe answers 409 when a request with the same idempotency key is still running or a
# lock timed out: trying again with the same key is what Stripe asks for.
_RETRYABLE_STATUSES = frozenset({409, 429})
_PAGE_SIZE = 100
# Connections kept to Stripe per process: enough for the senders side by side
# (``payout_concurrency``); more are opened when needed, and closed after their request.
_POOL_SIZE = 32
# The Stripe API version every request names, whatever version of the library pip
# resolves: the one stripe 16.1 speaks (pyproject.toml allows 16.x only). Move both
# together, after reading Stripe's changelog between the two versions.
STRIPE_API_VERSION = "2026-10-28.endive"


class StripeGateway:
    """``PayoutGateway`` over Stripe Connect (Express accounts, transfers)."""

    def __init__(self, api_key: str, api_base: str = "https://api.stripe.com", *,
                 timeout: float = 30.0, max_network_retries: int = 0) -> None:
        # Retries are the payout processor's decision (rate limit, backoff, resume), so
        # the library makes none of its own unless asked.
        self.client = stripe.StripeClient(
            api_key,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=max_network_retries,
            http_client=http_client(api_base, timeout),
        )

    def create_account(self, *, email: str, country: str | None,
                       idempotency_key: str) -> ConnectedAccount:
        params: dict[str, Any] = {
            "type": "express",
            "email": email,
            "capabilities": {"transfers": {"requested": True}},
        }
        if country:
            params["country"] = country.upper()
        account = _call(lambda: self.client.v1.accounts.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key},
        ))
        return _account(account)

    def retrieve_account(self, account_id: str) -> ConnectedAccount:
        return _account(_call(lambda: self.client.v1.accounts.retrieve(account_id)))

    def create_account_link(self, account_id: str, *, refresh_url: str,
                            return_url: str) -> str:
        link = _call(lambda: self.client.v1.account_links.create(params={
            "account": account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }))
        return str(link.url)

    def create_transfer(
        self, *, amount: int, currency: str, destination: str, transfer_group: str,
        metadata: dict[str, str], idempotency_key: str,
    ) -> Transfer:
        transfer = _call(lambda: self.client.v1.transfers.create(
            params={
                "amount": amount,
                "currency": currency.lower(),
                "destination": destination,
                "transfer_group": transfer_group,
                "metadata": metadata,
            },
            options={"idempotency_key": idempotency_key},
        ))
        return _transfer(transfer)

    def find_transfer(self, *, transfer_group: str) -> Transfer | None:
        """The newest transfer in ``transfer_group`` (one per payout item), if any."""
        page = _call(lambda: self.client.v1.transfers.list(
            params={"transfer_group": transfer_group, "limit": 10}
        ))
        return _transfer(page.data[0]) if page.data else None

    def retrieve_transfer(self, transfer_id: str) -> Transfer:
        return _transfer(_call(lambda: self.client.v1.transfers.retrieve(transfer_id)))

    def list_transfers(self, *, created_from: datetime,
                       created_to: datetime) -> Iterator[Transfer]:
        """Transfers created in [created_from, created_to), newest first, page by page.

        Stripe's ``created`` has whole seconds: both bounds are truncated, so adjacent
        periods never share a transfer."""
        created = {"gte": int(created_from.timestamp()), "lt": int(created_to.timestamp())}
        starting_after: str | None = None
        while True:
            params: dict[str, Any] = {"created": created, "limit": _PAGE_SIZE}
            if starting_after is not None:
                params["starting_after"] = starting_after
            page = _call(lambda p=params: self.client.v1.transfers.list(params=p))
            for item in page.data:
                yield _transfer(item)
            if not page.has_more or not page.data:
                return
            starting_after = page.data[-1].id

    def reverse_transfer(self, transfer_id: str, *, amount: int | None = None,
                         idempotency_key: str) -> int:
        """Reverse (part of) a transfer; returns the amount reversed."""
        params: dict[str, Any] = {} if amount is None else {"amount": amount}
        reversal = _call(lambda: self.client.v1.transfers.reversals.create(
            transfer_id, params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key},
        ))
        return int(reversal.amount)


def http_client(api_base: str, timeout: float) -> stripe.RequestsClient:
    """The library's HTTP client over one ``requests`` session, configured once.

    ``requests`` looks in the environment on every request of a session that trusts it
    (proxy variables, twice, and ``~/.netrc``): 0.3 to 0.6 ms of CPU a transfer, a fifth
    of the Stripe call's (bench/RESULTS.md, item 27). Here the proxy for ``api_base`` is
    read from the environment once, when the gateway is made (``HTTPS_PROXY``,
    ``NO_PROXY``, as before), and the session does not look again. The CA bundle was
    never the environment's: the library names its own on every request. The session
    is shared by the payout senders of a process (its connection pool is thread-safe),
    with room for as many connections as there are senders."""
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=_POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    found = requests.utils.get_environ_proxies(api_base)
    proxy = {scheme: found[scheme] for scheme in ("http", "https") if scheme in found}
    return stripe.RequestsClient(timeout=timeout, session=session,
                                 proxy=proxy or None)  # type: ignore[arg-type]


def gateway_from_settings(settings: Settings) -> PayoutGateway | None:
    """The configured gateway, or None without a Stripe key (the manual method)."""
    if not settings.stripe_api_key:
        return None
    return StripeGateway(settings.stripe_api_key, settings.stripe_api_base)


def _call(request: Callable[[], T]) -> T:
    try:
        return request()
    except stripe.StripeError as exc:
        raise _gateway_error(exc) from exc


def _gateway_error(exc: stripe.StripeError) -> GatewayError:
    status = exc.http_status
    error = exc.error
    code = (getattr(error, "code", None) or exc.code
            or getattr(error, "type", None) or type(exc).__name__)
    message = exc.user_message or str(exc) or type(exc).__name__
    if code == "balance_insufficient":
        return InsufficientBalance(message, code=code, retryable=False, status=status)
    if isinstance(exc, stripe.APIConnectionError) or status is None:
        return GatewayError(message, code="connection_error", retryable=True, status=None)
    retryable = status in _RETRYABLE_STATUSES or status >= 500
    return GatewayError(message, code=str(code), retryable=retryable, status=status)


def _account(account: Any) -> ConnectedAccount:
    data = account.to_dict()
    return ConnectedAccount(
        id=data["id"],
        payouts_enabled=bool(data.get("payouts_enabled")),
        requirements=data.get("requirements") or {},
    )


def _transfer(transfer: Any) -> Transfer:
    data = transfer.to_dict()
    created = data.get("created")
    return Transfer(
        id=data["id"],
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        destination=_id(data.get("destination")),
        transfer_group=data.get("transfer_group"),
        amount_reversed=int(data.get("amount_reversed") or 0),
        created=datetime.fromtimestamp(created, UTC) if created is not None else None,
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
    )


def _id(value: Any) -> str:
    # ``destination`` is an id, or the account itself when expanded.
    return value["id"] if isinstance(value, dict) else str(value)
