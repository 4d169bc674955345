"""A local stand-in for Stripe (Connect: accounts, account links, transfers, reversals,
balance, events), for the tests and for developers.

It answers with the object shapes of ``tests/fixtures/stripe/connect-fixtures.json`` (a copy
of the house's ``../shared/stripe/connect-fixtures.json``, kept in the repository so a
clean clone runs anywhere; Stripe's
own published fixtures), keeps state in memory, honours ``Idempotency-Key`` like Stripe,
refuses every parameter the installed ``stripe`` library's typed params do not define,
checks the ``Authorization: Bearer sk_test_...`` header, and can be told to fail.

In tests, use the ``stripe_standin`` fixture (import it into the test module, or list this
module in ``pytest_plugins``)::

    from tests.stripe_standin import stripe_standin

    __all__ = ["stripe_standin"]  # the fixture, imported for pytest

    def test_pays(stripe_standin):
        gateway = stripe_standin.gateway()              # a StripeGateway pointed at it
        account = stripe_standin.add_account(payouts_enabled=True)
        stripe_standin.fail_next("POST /v1/transfers", status=500)
        stripe_standin.drop_next_response("POST /v1/transfers")
        ...
        assert len(stripe_standin.transfers) == 1

The server is started once per test process (on first use, on a free port); the fixture
calls ``reset()`` before each test, so every test starts with no accounts, transfers,
keys or planned failures. Point the app at it by replacing its settings and gateway:
``configure(monkeypatch, app, stripe_api_key=standin.api_key,
stripe_api_base=standin.url, stripe_webhook_secret=standin.webhook_secret)``
(``tests/payout_helpers.py``).

Idempotency as at Stripe: a POST with an ``Idempotency-Key`` seen before answers the
stored response again (same parameters) or 400 ``idempotency_error`` (other parameters);
keys last 24 hours of the stand-in's clock. A request refused while validating its
parameters leaves its key unused; one whose endpoint ran (including a real
``balance_insufficient`` from ``set_balance``) stores its answer, errors too. Planned
failures from ``fail_next`` happen before the endpoint runs and store nothing, unless
``remember=True``.

Developers run it standalone and point the app at it::

    python -m tests.stripe_standin --port 12111
    WORKFORCE_STRIPE_API_KEY=sk_test_x WORKFORCE_STRIPE_API_BASE=http://127.0.0.1:12111 make run

Opening an onboarding link it issued completes the onboarding (the account becomes
ready) and redirects to the link's ``return_url``; with ``--connect-webhook-url`` (and
``--connect-webhook-secret``) it then delivers a signed ``account.updated`` to the app's
Connect endpoint, as Stripe does: events of connected accounts go to the platform's
Connect endpoints, signed with their own secret, never to its account endpoints.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import contextlib
import copy
import fnmatch
import hashlib
import hmac
import json
import os
import secrets
import string
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe
from stripe import params as stripe_params
from stripe._request_options import RequestOptions

FIXTURES_PATH = Path(
    os.environ.get(
        "WORKFORCE_STRIPE_FIXTURES",
        Path(__file__).resolve().parent / "fixtures" / "stripe" / "connect-fixtures.json",
    )
)
API_KEY = "sk_test_standin"
WEBHOOK_SECRET = "whsec_standin"
CONNECT_WEBHOOK_SECRET = "whsec_standin_connect"
IDEMPOTENCY_KEY_LIFETIME = 24 * 3600  # seconds, as at Stripe

# What a request may carry, per route: the library's typed params minus its request
# options (api_key, idempotency_key, ... travel as headers, never as parameters).
_OPTIONS = frozenset(RequestOptions.__annotations__)


def _param_names(params_type: Any) -> frozenset[str]:
    keys = params_type.__required_keys__ | params_type.__optional_keys__
    return frozenset(keys) - _OPTIONS


def _required_names(params_type: Any) -> frozenset[str]:
    return frozenset(params_type.__required_keys__) - _OPTIONS


_ROUTES: list[tuple[str, str, Any, str]] = [
    # method, path pattern ({id} is one segment), typed params, handler name
    ("POST", "/v1/accounts", stripe_params.AccountCreateParams, "create_account"),
    ("GET", "/v1/accounts/{id}", stripe_params.AccountRetrieveParams, "get_account"),
    ("POST", "/v1/account_links", stripe_params.AccountLinkCreateParams, "create_account_link"),
    ("POST", "/v1/transfers", stripe_params.TransferCreateParams, "create_transfer"),
    ("GET", "/v1/transfers", stripe_params.TransferListParams, "list_transfers"),
    ("GET", "/v1/transfers/{id}", stripe_params.TransferRetrieveParams, "get_transfer"),
    (
        "POST", "/v1/transfers/{id}/reversals",
        stripe_params.TransferCreateReversalParams, "create_reversal",
    ),
    ("GET", "/v1/balance", stripe_params.BalanceRetrieveParams, "get_balance"),
    ("GET", "/v1/events/{id}", stripe_params.EventRetrieveParams, "get_event"),
]


def _load_fixtures() -> dict[str, Any]:
    return json.loads(FIXTURES_PATH.read_text())["resources"]


def _random_id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


class StandinError(Exception):
    """An error answer in Stripe's shape: ``{"error": {"type", "message", "code", "param"}}``."""

    def __init__(
        self, status: int, message: str, *, type: str = "invalid_request_error",
        code: str | None = None, param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.body: dict[str, Any] = {"type": type, "message": message}
        if code is not None:
            self.body["code"] = code
        if param is not None:
            self.body["param"] = param


@dataclass
class RecordedRequest:
    """One request the stand-in received (after the authorisation check)."""

    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    stripe_account: str | None
    at: float
    stripe_version: str | None = None

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class _PlannedFailure:
    route: str | None  # "POST /v1/transfers" (fnmatch pattern) or None for any request
    times: int
    status: int | None = None  # answer with this error status
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # sleep this long first (a timeout when longer than the client's)
    process: bool = False  # carry the request out before failing (its result is real)
    drop: bool = False  # close the socket without an answer
    remember: bool = False  # store the error under the idempotency key, as Stripe would

    def matches(self, route: str) -> bool:
        return self.route is None or fnmatch.fnmatchcase(route, self.route)


@dataclass
class _StoredResponse:
    fingerprint: str
    status: int
    body: dict[str, Any]
    created: float


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding to nested values: ``metadata[item_id]=1`` becomes
    ``{"metadata": {"item_id": "1"}}``; ``expand[0]=a`` becomes ``{"expand": ["a"]}``."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        parts = _key_parts(raw_key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StandinError(400, f"Invalid parameter: {raw_key}", param=parts[0])
        last = parts[-1]
        if last == "":  # expand[]=a
            last = str(len(node))
        node[last] = value
    return _lists(root)


def _key_parts(raw_key: str) -> list[str]:
    head, _, rest = raw_key.partition("[")
    parts = [head]
    if rest:
        parts.extend(rest.rstrip("]").split("]["))
    return parts


def _lists(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _lists(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


class StripeStandin:
    """State and behaviour of the stand-in; ``serve()`` puts it behind HTTP.

    All public methods are safe to call from the test while the server threads run.
    """

    def __init__(self, *, api_key: str | None = API_KEY,
                 webhook_secret: str = WEBHOOK_SECRET,
                 connect_webhook_secret: str = CONNECT_WEBHOOK_SECRET) -> None:
        # api_key None accepts any sk_test_ key (the standalone server's mode).
        self.api_key = api_key
        # The platform's account endpoint's secret, and its Connect endpoint's.
        self.webhook_secret = webhook_secret
        self.connect_webhook_secret = connect_webhook_secret
        self.connect_webhook_url: str | None = None
        self.verbose = False  # log each request (the standalone server does)
        self.url = ""
        self._fixtures = _load_fixtures()
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self.reset()

    # --- lifecycle --------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: accounts, transfers, keys, planned failures, the clock."""
        with self._lock:
            self.accounts: dict[str, dict[str, Any]] = {}
            self._transfers: dict[str, dict[str, Any]] = {}
            self.reversals: dict[str, dict[str, Any]] = {}
            self.account_links: list[dict[str, Any]] = []
            self.events: dict[str, dict[str, Any]] = {}
            self.requests: list[RecordedRequest] = []
            # Available balance per lower-case currency; a currency not listed is unlimited.
            self.balances: dict[str, int] = {}
            self._keys: dict[tuple[str, str], _StoredResponse] = {}
            self._in_flight: set[tuple[str, str]] = set()
            self._failures: list[_PlannedFailure] = []
            self._clock_offset = 0.0
            self._frozen_at: float | None = None
            self._sequence = 0
            self._link_returns: dict[str, tuple[str, str]] = {}
            # Every answer waits this long (seconds), as a remote API does; 0: none.
            self.latency = 0.0
            # Requests per second answered before 429 ``rate_limit`` (None: no limit),
            # as Stripe's live limit of 100; counted over the last second.
            self.rate_limit: int | None = None
            self._recent: collections.deque[float] = collections.deque()
            self.rate_limited = 0
        # Wake up any request sleeping for a planned timeout so it does not outlive the test.
        self._wake.set()
        self._wake = threading.Event()

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> StripeStandin:
        """Start answering HTTP on a background thread; ``self.url`` is its base address."""
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="stripe-standin", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._wake.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def gateway(self, *, timeout: float = 5.0, max_network_retries: int = 0,
                api_key: str | None = None) -> Any:
        """A ``StripeGateway`` pointed at this stand-in."""
        from workforce.billing.gateways.stripe import StripeGateway

        return StripeGateway(
            api_key or self.api_key or API_KEY, self.url, timeout=timeout,
            max_network_retries=max_network_retries,
        )

    # --- the clock and idempotency keys ------------------------------------------------

    def now(self) -> int:
        """The stand-in's clock (``time.time()``, so ``time_machine`` moves it too, plus
        any ``advance()``), in whole seconds like Stripe's ``created``."""
        with self._lock:
            base = self._frozen_at if self._frozen_at is not None else time.time()
            return int(base + self._clock_offset)

    def set_clock(self, when: datetime | float | None) -> None:
        """Freeze the clock at ``when`` (None: follow ``time.time()`` again)."""
        with self._lock:
            self._clock_offset = 0.0
            if isinstance(when, datetime):
                when = when.timestamp()
            self._frozen_at = when

    def advance(self, seconds: float) -> None:
        """Move the stand-in's clock forward (e.g. past the 24 h key lifetime)."""
        with self._lock:
            self._clock_offset += seconds

    def expire_idempotency_keys(self) -> None:
        """Forget every stored idempotency key, as 24 hours later at Stripe."""
        with self._lock:
            self._keys.clear()

    # --- planned failures ---------------------------------------------------------------

    def fail_next(
        self, route: str | None = None, *, status: int = 500, times: int = 1,
        code: str | None = None, message: str | None = None,
        type: str | None = None, retry_after: int | None = None,
        remember: bool = False, process: bool = False,
    ) -> None:
        """Answer the next ``times`` requests matching ``route`` (``"POST /v1/transfers"``,
        fnmatch patterns such as ``"GET /v1/transfers/*"``, None for any) with ``status``.

        The request is not carried out (unless ``process``), and, unless ``remember``,
        its idempotency key stays unused, as when Stripe fails before the endpoint runs;
        with ``remember`` a retry with the same key gets this error again, as at Stripe.
        """
        if type is None:
            type = "api_error" if status >= 500 else "invalid_request_error"
        if code is None and status == 429:
            code = "rate_limit"
        if code is None and status == 409:
            code = "lock_timeout"
        error: dict[str, Any] = {
            "type": type,
            "message": message or f"stand-in: planned failure with status {status}",
        }
        if code is not None:
            error["code"] = code
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._plan(_PlannedFailure(route, times, status=status, error=error, headers=headers,
                                   remember=remember, process=process))

    def fail_balance_insufficient(self, route: str | None = "POST /v1/transfers", *,
                                  times: int = 1, status: int = 402) -> None:
        """The next transfer(s) fail with ``error.code = "balance_insufficient"``."""
        self.fail_next(
            route, status=status, times=times, code="balance_insufficient",
            message="You have insufficient available funds in your Stripe account.",
        )

    def timeout_next(self, route: str | None = None, *, seconds: float = 3.0,
                     times: int = 1, process: bool = False) -> None:
        """Hold the next matching request(s) ``seconds`` (longer than the client's timeout)
        before answering. With ``process`` the request is carried out first, so the
        client times out although the transfer was made."""
        self._plan(_PlannedFailure(route, times, delay=seconds, process=process))

    def drop_next_response(self, route: str | None = "POST /v1/transfers", *,
                           times: int = 1) -> None:
        """Carry out the next matching request(s) (the transfer is made and its key
        stored), then close the connection without answering."""
        self._plan(_PlannedFailure(route, times, process=True, drop=True))

    def _plan(self, failure: _PlannedFailure) -> None:
        with self._lock:
            self._failures.append(failure)

    def _take_failure(self, route: str) -> _PlannedFailure | None:
        with self._lock:
            for failure in self._failures:
                if failure.matches(route):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    # --- state the tests set up or look at ------------------------------------------

    @property
    def transfers(self) -> list[dict[str, Any]]:
        """Transfers made so far, oldest first (copies)."""
        with self._lock:
            return [_public(copy.deepcopy(t)) for t in self._transfers.values()]

    def transfer(self, transfer_id: str) -> dict[str, Any]:
        with self._lock:
            return _public(copy.deepcopy(self._transfers[transfer_id]))

    def requests_to(self, route: str) -> list[RecordedRequest]:
        """Requests received for ``route`` (fnmatch pattern, e.g. ``"POST /v1/transfers"``)."""
        with self._lock:
            return [r for r in self.requests if fnmatch.fnmatchcase(r.route, route)]

    def set_balance(self, currency: str, amount: int | None) -> None:
        """Set the platform's available balance in ``currency`` (None: unlimited, the
        default). A transfer above it fails with ``balance_insufficient``."""
        with self._lock:
            if amount is None:
                self.balances.pop(currency.lower(), None)
            else:
                self.balances[currency.lower()] = amount

    def add_account(self, *, payouts_enabled: bool = False, email: str = "trainer@example.com",
                    country: str = "US", requirements: dict[str, Any] | None = None) -> str:
        """Create a connected account directly (no HTTP); returns its id."""
        with self._lock:
            account = self._new_account({"email": email, "country": country, "type": "express"})
            self.accounts[account["id"]] = account
        self.set_account(account["id"], payouts_enabled=payouts_enabled,
                         requirements=requirements)
        return account["id"]

    def set_account(self, account_id: str, *, payouts_enabled: bool | None = None,
                    requirements: dict[str, Any] | None = None,
                    details_submitted: bool | None = None) -> dict[str, Any]:
        """Change a connected account (as onboarding would); returns a copy.

        ``payouts_enabled=True`` also clears outstanding requirements (unless given) and
        activates the ``transfers`` capability; False marks them due again.
        """
        with self._lock:
            account = self.accounts[account_id]
            if payouts_enabled is not None:
                account["payouts_enabled"] = payouts_enabled
                account["charges_enabled"] = payouts_enabled
                account["details_submitted"] = payouts_enabled
                for capability in account["capabilities"]:
                    account["capabilities"][capability] = (
                        "active" if payouts_enabled else "inactive"
                    )
                if requirements is None:
                    fixture = self._fixtures["account"]["requirements"]
                    account["requirements"] = (
                        {**fixture, "currently_due": [], "eventually_due": [], "past_due": [],
                         "disabled_reason": None}
                        if payouts_enabled else copy.deepcopy(fixture)
                    )
            if requirements is not None:
                account["requirements"] = {**account["requirements"], **requirements}
            if details_submitted is not None:
                account["details_submitted"] = details_submitted
            return copy.deepcopy(account)

    def account(self, account_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.accounts[account_id])

    def reverse_transfer(self, transfer_id: str, amount: int | None = None) -> dict[str, Any]:
        """Reverse a transfer as if from the dashboard (no HTTP); returns the reversal."""
        with self._lock:
            return copy.deepcopy(self._reverse(transfer_id, {} if amount is None
                                               else {"amount": str(amount)}))

    # --- webhooks -----------------------------------------------------------------------

    def event(self, type: str, data_object: dict[str, Any], *, account: str | None = None,
              previous_attributes: dict[str, Any] | None = None,
              event_id: str | None = None) -> dict[str, Any]:
        """An Event in Stripe's shape (kept, so ``GET /v1/events/{id}`` finds it)."""
        event = copy.deepcopy(self._fixtures["event"])
        event.update(
            id=event_id or _random_id("evt_"), type=type, created=self.now(),
            api_version=stripe.api_version, pending_webhooks=1,
            data={"object": copy.deepcopy(data_object)},
        )
        if previous_attributes is not None:
            event["data"]["previous_attributes"] = previous_attributes
        if account is not None:
            event["account"] = account  # events from connected accounts name them
        with self._lock:
            self.events[event["id"]] = event
        return copy.deepcopy(event)

    def signed_event(
        self, type: str, data_object: dict[str, Any], account: str | None = None, *,
        secret: str | None = None, timestamp: int | None = None,
        previous_attributes: dict[str, Any] | None = None, event_id: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook delivery: the JSON body and headers with a valid ``Stripe-Signature``
        (``t=...,v1=...``, HMAC-SHA256 over ``"{t}.{body}"`` with ``secret``: the account
        endpoint's ``webhook_secret`` unless given; Stripe signs what it sends to a Connect
        endpoint with ``connect_webhook_secret``)."""
        event = self.event(type, data_object, account=account,
                           previous_attributes=previous_attributes, event_id=event_id)
        body = json.dumps(event).encode()
        return body, self.signature_headers(body, secret=secret, timestamp=timestamp)

    def signature_headers(self, body: bytes, *, secret: str | None = None,
                          timestamp: int | None = None) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Stripe-Signature": sign(body, secret or self.webhook_secret,
                                     timestamp=timestamp),
        }

    # --- request handling (called by the HTTP handler) -----------------------------------

    def handle(self, method: str, target: str, headers: Any, body: bytes,
               ) -> tuple[int, dict[str, Any], dict[str, str], bool, float]:
        """Returns (status, body, extra headers, drop the connection, delay first)."""
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        route = f"{method} {path}"
        try:
            self._authorise(headers)
            handler, params_type, ident = self._route(method, path)
            pairs = parse_qsl(split.query if method == "GET" else body.decode(),
                              keep_blank_values=True)
            params = decode_form(pairs)
            self._check_params(params, params_type)
        except StandinError as exc:
            return exc.status, {"error": exc.body}, exc.headers, False, self.latency
        if self._over_rate_limit():
            return 429, {"error": {
                "type": "invalid_request_error", "code": "rate_limit",
                "message": "Too many requests hit the API too quickly.",
            }}, {}, False, self.latency
        key = headers.get("Idempotency-Key")
        stripe_account = headers.get("Stripe-Account")
        with self._lock:
            self.requests.append(RecordedRequest(
                method, path, params, key, stripe_account, time.time(),
                headers.get("Stripe-Version"),
            ))
        failure = self._take_failure(route)
        if failure is not None and not failure.process:
            if failure.status is None:
                # A timeout before anything was done: the client gives up, nothing happens.
                return 0, {}, {}, True, failure.delay
            err = {"error": failure.error}
            if failure.remember and key and method == "POST":
                self._store_key(stripe_account, key, method, path, pairs, failure.status, err)
            return failure.status, err, failure.headers, failure.drop, failure.delay
        status, answer, extra = self._execute_idempotently(
            handler, ident, params, pairs, method, path, key, stripe_account
        )
        if failure is None:
            return status, answer, extra, False, self.latency
        # Carried out, and then the client hears an error, nothing, or an answer too late.
        if failure.status is not None:
            status, answer, extra = failure.status, {"error": failure.error}, failure.headers
        return status, answer, extra, failure.drop, failure.delay

    def _over_rate_limit(self) -> bool:
        if self.rate_limit is None:
            return False
        now = time.monotonic()
        with self._lock:
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit:
                self.rate_limited += 1
                return True
            self._recent.append(now)
            return False

    def _execute_idempotently(
        self, handler: str, ident: str | None, params: dict[str, Any],
        pairs: list[tuple[str, str]], method: str, path: str, key: str | None,
        stripe_account: str | None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method != "POST" or not key:
            return self._execute(handler, ident, params)
        scope = (stripe_account or "", key)
        fingerprint = _fingerprint(method, path, pairs)
        with self._lock:
            self._drop_expired_keys()
            stored = self._keys.get(scope)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    return 400, {"error": {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the "
                                   "same parameters they were first used with. Try using a "
                                   f"key other than '{key}' if you meant to execute a "
                                   "different request.",
                    }}, {}
                return stored.status, copy.deepcopy(stored.body), {
                    "Idempotent-Replayed": "true", "Original-Request": "req_standin",
                }
            if scope in self._in_flight:
                return 409, {"error": {
                    "type": "invalid_request_error", "code": "idempotency_key_in_use",
                    "message": "There is currently another in-progress request using this "
                               "Idempotent Key (that probably means you submitted twice, and "
                               "the other request is still going through).",
                }}, {}
            self._in_flight.add(scope)
        try:
            status, answer, extra = self._execute(handler, ident, params)
            if status != 400 or answer["error"].get("code") == "balance_insufficient":
                # Stripe keeps the result of every request whose endpoint ran, errors too;
                # a request refused by validation leaves the key unused.
                self._store_key(stripe_account, key, method, path, pairs, status, answer)
            return status, answer, extra
        finally:
            with self._lock:
                self._in_flight.discard(scope)

    def _store_key(self, stripe_account: str | None, key: str, method: str, path: str,
                   pairs: list[tuple[str, str]], status: int, body: dict[str, Any]) -> None:
        with self._lock:
            self._keys[(stripe_account or "", key)] = _StoredResponse(
                _fingerprint(method, path, pairs), status, copy.deepcopy(body), self.now()
            )

    def _drop_expired_keys(self) -> None:
        now = self.now()
        for scope, stored in list(self._keys.items()):
            if now - stored.created >= IDEMPOTENCY_KEY_LIFETIME:
                del self._keys[scope]

    def _execute(self, handler: str, ident: str | None, params: dict[str, Any],
                 ) -> tuple[int, dict[str, Any], dict[str, str]]:
        try:
            with self._lock:
                method = getattr(self, f"_do_{handler}")
                answer = method(ident, params) if ident is not None else method(params)
                return 200, copy.deepcopy(answer), {}
        except StandinError as exc:
            return exc.status, {"error": exc.body}, exc.headers

    def _authorise(self, headers: Any) -> None:
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            raise StandinError(401, "You did not provide an API key. You need to provide "
                                    "your API key in the Authorization header, using Bearer "
                                    "auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
        key = auth.removeprefix("Bearer ").strip()
        valid = key == self.api_key if self.api_key else key.startswith("sk_test_")
        if not valid:
            raise StandinError(401, f"Invalid API Key provided: {key[:8]}****")

    def _route(self, method: str, path: str) -> tuple[str, Any, str | None]:
        segments = path.strip("/").split("/")
        for route_method, pattern, params_type, handler in _ROUTES:
            pattern_segments = pattern.strip("/").split("/")
            if route_method != method or len(pattern_segments) != len(segments):
                continue
            ident = None
            for want, got in zip(pattern_segments, segments, strict=True):
                if want == "{id}":
                    ident = got
                elif want != got:
                    break
            else:
                return handler, params_type, ident
        raise StandinError(404, f"Unrecognized request URL ({method}: {path}).")

    @staticmethod
    def _check_params(params: dict[str, Any], params_type: Any) -> None:
        known = _param_names(params_type)
        for name in params:
            if name not in known:
                raise StandinError(400, f"Received unknown parameter: {name}", param=name)
        for name in sorted(_required_names(params_type)):
            if name not in params:
                raise StandinError(400, f"Missing required param: {name}.", param=name,
                                   code="parameter_missing")

    # --- the endpoints (under self._lock) ------------------------------------------------

    def _new_account(self, params: dict[str, Any]) -> dict[str, Any]:
        account = copy.deepcopy(self._fixtures["account"])
        account_id = _random_id("acct_", 16)
        requested = params.get("capabilities") or {"transfers": {"requested": "true"}}
        account.update(
            id=account_id, created=self.now(), email=params.get("email"),
            country=params.get("country", "US"), type=params.get("type", "express"),
            metadata=params.get("metadata") or {},
            business_type=params.get("business_type"),
            capabilities={name: "inactive" for name in requested},
            payouts_enabled=False, charges_enabled=False, details_submitted=False,
            default_currency=params.get("default_currency", account["default_currency"]),
        )
        if "controller" in params:
            account["controller"] = {**account["controller"], **params["controller"]}
        account["external_accounts"] = {
            **account["external_accounts"], "data": [],
            "url": f"/v1/accounts/{account_id}/external_accounts",
        }
        return account

    def _do_create_account(self, params: dict[str, Any]) -> dict[str, Any]:
        account = self._new_account(params)
        self.accounts[account["id"]] = account
        return account

    def _do_get_account(self, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._get_account(account_id, param="id")

    def _get_account(self, account_id: str, *, param: str) -> dict[str, Any]:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise StandinError(404, f"No such account: '{account_id}'", param=param,
                               code="resource_missing") from None

    def _do_create_account_link(self, params: dict[str, Any]) -> dict[str, Any]:
        account_id = params["account"]
        self._get_account(account_id, param="account")
        for name in ("refresh_url", "return_url"):
            if name in params and not str(params[name]).startswith(("http://", "https://")):
                raise StandinError(400, f"Not a valid URL: {name}", param=name,
                                   code="url_invalid")
        if params["type"] not in {"account_onboarding", "account_update"}:
            raise StandinError(400, "Invalid type", param="type")
        token = _random_id("", 12)
        self._link_returns[token] = (account_id, params.get("return_url", ""))
        link = copy.deepcopy(self._fixtures["account_link"])
        link.update(created=self.now(), expires_at=self.now() + 300,
                    url=f"{self.url}/setup/s/{account_id}/{token}")
        self.account_links.append({**link, "account": account_id,
                                   "refresh_url": params.get("refresh_url"),
                                   "return_url": params.get("return_url")})
        return link

    def _do_create_transfer(self, params: dict[str, Any]) -> dict[str, Any]:
        amount = _positive_int(params.get("amount"), "amount")
        currency = str(params["currency"])
        if len(currency) != 3 or not currency.isalpha() or currency != currency.lower():
            raise StandinError(400, f"Invalid currency: {currency}", param="currency")
        destination = self.accounts.get(params["destination"])
        if destination is None:
            raise StandinError(400, f"No such destination: '{params['destination']}'",
                               param="destination", code="resource_missing")
        if destination["capabilities"].get("transfers") != "active":
            raise StandinError(
                400, "Your destination account needs to have at least one of the following "
                     "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer", param="destination",
            )
        available = self.balances.get(currency)
        if available is not None:
            if available < amount:
                raise StandinError(
                    400, "You have insufficient available funds in your Stripe account.",
                    code="balance_insufficient",
                )
            self.balances[currency] = available - amount
        self._sequence += 1
        transfer = copy.deepcopy(self._fixtures["transfer"])
        transfer_id = _random_id("tr_")
        transfer.update(
            id=transfer_id, amount=amount, currency=currency, created=self.now(),
            destination=destination["id"], amount_reversed=0, reversed=False,
            description=params.get("description"),
            metadata=params.get("metadata") or {},
            transfer_group=params.get("transfer_group"),
            balance_transaction=_random_id("txn_"),
            destination_payment=_random_id("py_", 14),
            source_type=params.get("source_type", transfer["source_type"]),
            reversals={"data": [], "has_more": False, "object": "list",
                       "url": f"/v1/transfers/{transfer_id}/reversals"},
        )
        transfer["_sequence"] = self._sequence
        self._transfers[transfer_id] = transfer
        return _public(transfer)

    def _do_get_transfer(self, transfer_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return _public(self._get_transfer(transfer_id))

    def _get_transfer(self, transfer_id: str) -> dict[str, Any]:
        try:
            return self._transfers[transfer_id]
        except KeyError:
            raise StandinError(404, f"No such transfer: '{transfer_id}'", param="id",
                               code="resource_missing") from None

    def _do_list_transfers(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = _positive_int(params.get("limit", "10"), "limit")
        if limit > 100:
            raise StandinError(400, "limit must be at most 100", param="limit")
        newest_first = sorted(self._transfers.values(),
                              key=lambda t: (t["created"], t["_sequence"]), reverse=True)
        selected = [t for t in newest_first if _matches_list_filters(t, params)]
        if "starting_after" in params:
            cursor = self._get_transfer(params["starting_after"])
            selected = [t for t in selected
                        if (t["created"], t["_sequence"]) < (cursor["created"],
                                                             cursor["_sequence"])]
        elif "ending_before" in params:
            cursor = self._get_transfer(params["ending_before"])
            before = [t for t in selected
                      if (t["created"], t["_sequence"]) > (cursor["created"],
                                                           cursor["_sequence"])]
            selected = before[-limit:]
            return {"object": "list", "url": "/v1/transfers", "has_more": len(before) > limit,
                    "data": [_public(t) for t in selected]}
        return {"object": "list", "url": "/v1/transfers", "has_more": len(selected) > limit,
                "data": [_public(t) for t in selected[:limit]]}

    def _do_create_reversal(self, transfer_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._reverse(transfer_id, params)

    def _reverse(self, transfer_id: str, params: dict[str, Any]) -> dict[str, Any]:
        transfer = self._get_transfer(transfer_id)
        remaining = transfer["amount"] - transfer["amount_reversed"]
        amount = (_positive_int(params["amount"], "amount") if "amount" in params
                  else remaining)
        if amount > remaining or remaining == 0:
            raise StandinError(
                400, f"Transfer {transfer_id} has {remaining} left to reverse, "
                     f"{amount} requested.", param="amount",
            )
        reversal = copy.deepcopy(self._fixtures["transfer_reversal"])
        reversal.update(
            id=_random_id("trr_"), amount=amount, currency=transfer["currency"],
            created=self.now(), transfer=transfer_id, metadata=params.get("metadata") or {},
            balance_transaction=_random_id("txn_"),
        )
        self.reversals[reversal["id"]] = reversal
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
        transfer["reversals"]["data"].insert(0, reversal)
        currency = transfer["currency"]
        if currency in self.balances:
            self.balances[currency] += amount
        return reversal

    def _do_get_balance(self, params: dict[str, Any]) -> dict[str, Any]:
        balance = copy.deepcopy(self._fixtures["balance"])
        if self.balances:
            balance["available"] = [
                {"amount": amount, "currency": currency, "source_types": {"card": amount}}
                for currency, amount in sorted(self.balances.items())
            ]
        return balance

    def _do_get_event(self, event_id: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.events[event_id]
        except KeyError:
            raise StandinError(404, f"No such event: '{event_id}'", param="id",
                               code="resource_missing") from None

    # --- onboarding links, for developers clicking through -----------------------------

    def complete_onboarding(self, token: str) -> str | None:
        """The account behind an onboarding link becomes ready; returns the return URL."""
        with self._lock:
            found = self._link_returns.get(token)
        if found is None:
            return None
        account_id, return_url = found
        account = self.set_account(account_id, payouts_enabled=True)
        if self.connect_webhook_url:
            body, headers = self.signed_event("account.updated", account, account=account_id,
                                              secret=self.connect_webhook_secret)
            request = urllib.request.Request(  # noqa: S310 (the developer's own URL)
                self.connect_webhook_url, data=body, headers=headers, method="POST"
            )
            try:
                urllib.request.urlopen(request, timeout=5).close()  # noqa: S310
            except OSError as exc:  # the developer sees it in the stand-in's output
                print(f"stand-in: webhook to {self.connect_webhook_url} failed: {exc}")
        return return_url


def _public(transfer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in transfer.items() if not k.startswith("_")}


def _positive_int(raw: Any, param: str) -> int:
    try:
        value = int(str(raw))
    except ValueError:
        raise StandinError(400, f"Invalid integer: {raw}", param=param) from None
    if value <= 0:
        raise StandinError(400, f"This value must be greater than or equal to 1: {param}",
                           param=param)
    return value


def _matches_list_filters(transfer: dict[str, Any], params: dict[str, Any]) -> bool:
    if "transfer_group" in params and transfer["transfer_group"] != params["transfer_group"]:
        return False
    if "destination" in params and transfer["destination"] != params["destination"]:
        return False
    created = params.get("created")
    if created is None:
        return True
    at = transfer["created"]
    if not isinstance(created, dict):
        return at == int(created)
    checks = {"gt": at.__gt__, "gte": at.__ge__, "lt": at.__lt__, "lte": at.__le__}
    for op, value in created.items():
        if op not in checks:
            raise StandinError(400, f"Received unknown parameter: created[{op}]",
                               param="created")
        if not checks[op](int(value)):
            return False
    return True


def _fingerprint(method: str, path: str, pairs: list[tuple[str, str]]) -> str:
    canonical = json.dumps([method, path, sorted(pairs)])
    return hashlib.sha256(canonical.encode()).hexdigest()


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header value for ``body``, as Stripe computes it."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


class _Handler(BaseHTTPRequestHandler):
    standin: StripeStandin
    server_version = "stripe-standin/1"

    def do_GET(self) -> None:
        if self.path.startswith("/setup/s/"):
            self._onboarding()
            return
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, answer, extra, drop, delay = self.standin.handle(
            method, self.path, self.headers, body
        )
        if delay:
            self.standin._wake.wait(delay)
        if drop:
            self.close_connection = True
            return
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", _random_id("req_", 14))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up (a planned timeout)
            self.wfile.write(payload)

    def _onboarding(self) -> None:
        token = self.path.rstrip("/").rsplit("/", 1)[-1]
        return_url = self.standin.complete_onboarding(token)
        if return_url is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self.send_response(HTTPStatus.FOUND)
        self.send_header("Location", return_url)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        if self.standin.verbose:
            super().log_message(format, *args)


# --- pytest fixtures ------------------------------------------------------------------


_shared: StripeStandin | None = None
_shared_lock = threading.Lock()


def shared_standin() -> StripeStandin:
    """The stand-in server of this test process, started on first use (and stopped with
    the process), so importing the ``stripe_standin`` fixture alone is enough."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = StripeStandin().serve()
            atexit.register(_shared.close)
        return _shared


@pytest.fixture
def stripe_standin() -> Iterator[StripeStandin]:
    """A local Stripe, empty at the start of each test.

    - ``stripe_standin.url`` / ``.api_key`` / ``.webhook_secret`` /
      ``.connect_webhook_secret``: point settings at it (``stripe_api_base``,
      ``stripe_api_key``, ``stripe_webhook_secret``, ``stripe_connect_webhook_secret``).
    - ``stripe_standin.gateway(timeout=..)``: a ``StripeGateway`` pointed at it.
    - Set up: ``add_account(payouts_enabled=True)``, ``set_account(id, payouts_enabled=..,
      requirements=..)``, ``set_balance("eur", 1000)`` (unlimited by default),
      ``reverse_transfer(id)``.
    - Speed: ``latency = 0.05`` answers every request after 50 ms; ``rate_limit = 100``
      answers 429 ``rate_limit`` beyond 100 requests in any second (``rate_limited``
      counts them), as Stripe's live limit; both are cleared by ``reset()``.
    - Failures (route = ``"METHOD /path"``, fnmatch patterns, None = any):
      ``fail_next(route, status=500|409|429, retry_after=.., times=..)``,
      ``fail_balance_insufficient()``, ``timeout_next(route, seconds=.., process=..)``,
      ``drop_next_response(route)`` (the transfer is made, the answer never comes).
    - Idempotency keys last 24 h of the stand-in's clock, which follows ``time.time()``
      (so ``time_machine`` moves it) plus ``advance(seconds)``; or
      ``expire_idempotency_keys()``.
    - Look: ``transfers`` (made so far), ``reversals``, ``accounts``, ``account_links``,
      ``requests`` / ``requests_to("POST /v1/transfers")`` (with ``idempotency_key``).
    - Webhooks: ``signed_event(type, data_object, account=None, secret=None,
      timestamp=None) -> (body, headers)`` (``secret=connect_webhook_secret`` for the
      Connect endpoint); ``account(id)`` / ``transfer(id)`` give the
      current objects for ``data_object``.
    """
    standin = shared_standin()
    standin.reset()
    yield standin
    standin.reset()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for Stripe Connect.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--connect-webhook-url", default="",
                        help="deliver account.updated here when onboarding completes, e.g. "
                             "http://127.0.0.1:8000/api/v1/webhooks/stripe/connect")
    parser.add_argument("--connect-webhook-secret", default=CONNECT_WEBHOOK_SECRET)
    parser.add_argument("--latency", type=float, default=0.0,
                        help="answer every request after this many seconds (e.g. 0.05)")
    parser.add_argument("--rate-limit", type=int, default=None,
                        help="answer 429 beyond this many requests a second (Stripe: 100)")
    args = parser.parse_args(argv)
    standin = StripeStandin(api_key=None,
                            connect_webhook_secret=args.connect_webhook_secret)
    standin.connect_webhook_url = args.connect_webhook_url or None
    standin.latency = args.latency
    standin.rate_limit = args.rate_limit
    standin.verbose = True
    standin.serve(args.host, args.port)
    print(f"Stripe stand-in on {standin.url} (any sk_test_ key; webhook secrets "
          f"{standin.webhook_secret}, Connect {standin.connect_webhook_secret}). "
          "Ctrl-C stops it.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        standin.close()


if __name__ == "__main__":
    main()
