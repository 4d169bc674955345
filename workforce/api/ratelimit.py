"""Rate limits (Flask-Limiter). Failed logins count per account and per client address;
every caller has an overall budget of requests (per token, or per address without one);
an API key has a budget of its own, of another size (``WORKFORCE_API_KEY_RATE_LIMIT``)."""

from __future__ import annotations

from flask import Response, current_app, request
from flask_limiter import ApplicationLimit, Limiter
from flask_limiter.util import get_remote_address

from workforce.accounts import tokens
from workforce.accounts.validation import normalise_email
from workforce.api.bodies import json_body
from workforce.api.security import bearer_secret
from workforce.integrations import keys
from workforce.settings import Settings


def _settings_limit() -> str:
    return _settings().api_rate_limit


def _key_limit() -> str:
    return _settings().api_key_rate_limit


def _sent_a_key() -> bool:
    raw = bearer_secret()
    return raw is not None and keys.is_key(raw)


def _sent_no_key() -> bool:
    return not _sent_a_key()


def caller_key() -> str:
    """Whose budget a request spends: its API key's or bearer token's (hashed: the key
    store never sees a secret) or, without one, its client address's."""
    raw = bearer_secret()
    if raw is not None:
        kind = "api-key:" if keys.is_key(raw) else "caller-token:"
        return kind + tokens.hash_secret(raw)
    return "caller-address:" + (get_remote_address() or "-")


limiter = Limiter(
    key_func=get_remote_address, headers_enabled=True,
    application_limits=[
        ApplicationLimit(_settings_limit, key_function=caller_key, scope="api",
                         exempt_when=_sent_a_key),
        ApplicationLimit(_key_limit, key_function=caller_key, scope="api-key",
                         exempt_when=_sent_no_key),
    ],
)


def _settings() -> Settings:
    return current_app.extensions["workforce"].settings


def login_limit_per_account() -> str:
    return _settings().login_limit_per_account


def login_limit_per_address() -> str:
    return _settings().login_limit_per_address


def login_account_key() -> str:
    body = json_body() if request.is_json else None
    email = body.get("email") if isinstance(body, dict) else None
    return "login-account:" + (normalise_email(email) if isinstance(email, str) else "-")


def login_address_key() -> str:
    return "login-address:" + (get_remote_address() or "-")


def failed(response: Response) -> bool:
    """A login that failed. ``mfa-required`` is not a failure: the password was right,
    and the client is only told to send the code with it."""
    if response.status_code != 401:
        return False
    body = response.get_json(silent=True)
    return not (isinstance(body, dict) and body.get("type") == MFA_REQUIRED)


MFA_REQUIRED = "urn:workforce:problem:mfa-required"
