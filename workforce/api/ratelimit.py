"""Rate limits (Flask-Limiter). Failed logins count per account and per client address."""

from __future__ import annotations

from flask import Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from workforce.accounts.validation import normalise_email
from workforce.settings import Settings

limiter = Limiter(key_func=get_remote_address, headers_enabled=True)


def _settings() -> Settings:
    return current_app.extensions["workforce"].settings


def login_limit_per_account() -> str:
    return _settings().login_limit_per_account


def login_limit_per_address() -> str:
    return _settings().login_limit_per_address


def login_account_key() -> str:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return "login-account:" + (normalise_email(email) if isinstance(email, str) else "-")


def login_address_key() -> str:
    return "login-address:" + (get_remote_address() or "-")


def failed(response: Response) -> bool:
    return response.status_code == 401
