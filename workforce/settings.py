"""Configuration, read from ``WORKFORCE_*`` environment variables in one place.

Every setting is listed in the README's configuration table; keep the two in step.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from workforce.urls import url_problem

PREFIX = "WORKFORCE_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SettingsError(ValueError):
    """A setting is missing or malformed; the service refuses to start."""


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected a boolean (true/false), got {raw!r}")


def _seconds(raw: str) -> timedelta:
    return timedelta(seconds=int(raw))


@dataclass(frozen=True, kw_only=True)
class Settings:
    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///var/workforce.db"  # relative to the working directory
    secret_key: str = ""
    token_lifetime: timedelta = timedelta(hours=12)
    invitation_lifetime: timedelta = timedelta(days=7)
    password_reset_lifetime: timedelta = timedelta(hours=1)
    email_verification_lifetime: timedelta = timedelta(days=2)
    # How often one account may ask for another verification e-mail.
    email_verification_resend_limit: str = "3 per hour"
    login_limit_per_account: str = "5 per 15 minutes"
    login_limit_per_address: str = "20 per 15 minutes"
    rate_limit_storage_uri: str = "memory://"
    # Every caller's overall budget (per token, or per client address without one).
    api_rate_limit: str = "600 per minute"
    # Each API key's budget, instead of the one above (integrations/keys.py).
    api_key_rate_limit: str = "300 per minute"
    max_body_bytes: int = 1_048_576
    # Task imports stream their body (JSON lines or CSV) and may be much larger.
    max_import_bytes: int = 512 * 1_048_576
    page_size_default: int = 50
    page_size_max: int = 200
    log_format: str = ""  # "json" or "text"; empty means json outside development
    log_level: str = "INFO"
    public_base_url: str = "http://127.0.0.1:8000"
    proxy_hops: int = 0
    email_sender: str = "console"
    smtp_url: str = ""
    email_from: str = "workforce <no-reply@workforce.localhost>"
    scheduler_enabled: bool = True
    stripe_api_key: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    # Stripe signs each webhook endpoint's deliveries with that endpoint's own secret:
    # the platform's ("Your account": transfer.reversed) and Connect's (events of the
    # connected accounts: account.updated, payout.*), each received at its own route.
    stripe_webhook_secret: str = ""
    stripe_connect_webhook_secret: str = ""
    # Requests per second the payout processor sends to the gateway (Stripe's live
    # limit is 100), and how long a change of payout details holds a trainer's payouts.
    payout_requests_per_second: float = 25.0
    # Requests in flight at once in one payout processor (PostgreSQL): with Stripe
    # answering in ~50 ms (often more), one at a time makes at most ~20 requests a
    # second. They go out in batches of four (``processing.BATCH``), one per sender,
    # and each sender holds a database connection: at most 48, so 12 connections (the
    # pool has 15). 32 kept the rate at 100 a second on a loaded machine
    # (bench/RESULTS.md, round 6).
    payout_concurrency: int = 32
    payout_details_hold: timedelta = timedelta(hours=72)
    # Trainers' own data: where the archives of their data are kept (a local folder,
    # relative to the working directory; ``privacy.storage``) and for how long, and how
    # long an erasure request can be cancelled before it is carried out.
    data_export_dir: str = "var/exports"
    data_export_lifetime: timedelta = timedelta(days=1)
    # How many exports one trainer may ask for (each reads all their records and writes
    # an archive): requests accepted, in the limits syntax.
    data_export_limit: str = "3 per day"
    erasure_grace_period: timedelta = timedelta(days=7)
    # Webhooks out: seconds to connect and to wait for each read of an answer; and, for
    # development and tests only, endpoints on this machine (http://127.0.0.1:...).
    webhook_timeout: float = 10.0
    webhook_allow_loopback: bool = False
    # How long webhook events are kept (with their deliveries and attempts) before the
    # scheduler deletes them; an event with a delivery still pending is kept.
    webhook_event_retention: timedelta = timedelta(days=30)
    # The key of trainers' pseudonyms in project results (``results.exports``); empty:
    # derived from the secret key. Changing either changes every pseudonym.
    results_pseudonym_secret: str = ""
    # Files trainers upload as answers (recordings, images, PDFs; ``storage``): the
    # backend (``local``: a folder, relative to the working directory; ``s3``: a bucket,
    # a key prefix, a region and, for S3-compatible servers, an endpoint), and how long
    # an upload slot and a download link work.
    file_store: str = "local"
    file_store_dir: str = "var/files"
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_region: str = ""
    s3_endpoint_url: str = ""
    upload_slot_lifetime: timedelta = timedelta(minutes=15)
    download_link_lifetime: timedelta = timedelta(minutes=5)
    migrations_dir: str = field(default_factory=lambda: _default_migrations_dir())

    @property
    def is_development(self) -> bool:
        return self.env is Environment.DEVELOPMENT

    @property
    def json_logs(self) -> bool:
        if self.log_format:
            return self.log_format == "json"
        return not self.is_development

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *,
        defaults: Mapping[str, object] | None = None,
    ) -> Settings:
        """The settings the environment gives; ``defaults`` stand in for variables that
        are not set (``workforce serve --port`` sets the public base URL's)."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = dict(defaults or {})
        errors: list[str] = []
        for f in fields(cls):
            raw = environ.get(PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = _PARSERS.get(f.name, str)(raw)
            except ValueError as exc:
                errors.append(f"{PREFIX}{f.name.upper()}: {exc}")
        if errors:
            raise SettingsError("; ".join(errors))
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        problems = []
        if self.env is Environment.PRODUCTION and len(self.secret_key) < 32:
            problems.append(
                f"{PREFIX}SECRET_KEY must be set to at least 32 characters outside "
                "development and tests"
            )
        if self.email_sender not in {"console", "log", "memory", "smtp"}:
            problems.append(f"{PREFIX}EMAIL_SENDER must be console, log, memory or smtp")
        if self.email_sender == "smtp" and not self.smtp_url:
            problems.append(f"{PREFIX}SMTP_URL is required with the smtp e-mail sender")
        if self.env is Environment.PRODUCTION and self.email_sender in {"console", "memory"}:
            problems.append(
                f"{PREFIX}EMAIL_SENDER={self.email_sender} would print or drop e-mail holding "
                "one-time links; use smtp (or log) in production"
            )
        if self.log_format not in {"", "json", "text"}:
            problems.append(f"{PREFIX}LOG_FORMAT must be 'json' or 'text'")
        if not 1 <= self.page_size_default <= self.page_size_max:
            problems.append(f"{PREFIX}PAGE_SIZE_DEFAULT must be between 1 and PAGE_SIZE_MAX")
        if self.max_body_bytes < 1024:
            problems.append(f"{PREFIX}MAX_BODY_BYTES must be at least 1024")
        if self.max_import_bytes < 1024:
            problems.append(f"{PREFIX}MAX_IMPORT_BYTES must be at least 1024")
        if not 0 < self.payout_requests_per_second <= 100:
            problems.append(f"{PREFIX}PAYOUT_REQUESTS_PER_SECOND must be above 0, at most 100")
        if not 1 <= self.payout_concurrency <= 48:
            problems.append(f"{PREFIX}PAYOUT_CONCURRENCY must be between 1 and 48")
        if self.payout_details_hold < timedelta(0):
            problems.append(f"{PREFIX}PAYOUT_DETAILS_HOLD must not be negative")
        if self.data_export_lifetime <= timedelta(0):
            problems.append(f"{PREFIX}DATA_EXPORT_LIFETIME must be positive")
        if self.erasure_grace_period < timedelta(0):
            problems.append(f"{PREFIX}ERASURE_GRACE_PERIOD must not be negative")
        problems.extend(self._file_store_problems())
        if not 0 < self.webhook_timeout <= 60:
            problems.append(f"{PREFIX}WEBHOOK_TIMEOUT must be above 0, at most 60 seconds")
        if self.webhook_event_retention <= timedelta(0):
            problems.append(f"{PREFIX}WEBHOOK_EVENT_RETENTION must be positive")
        if self.env is Environment.PRODUCTION and self.webhook_allow_loopback:
            problems.append(f"{PREFIX}WEBHOOK_ALLOW_LOOPBACK is for development and tests; "
                            "in production webhook endpoints are public https URLs")
        if self.token_lifetime <= timedelta(0):
            problems.append(f"{PREFIX}TOKEN_LIFETIME must be positive")
        if self.email_verification_lifetime <= timedelta(0):
            problems.append(f"{PREFIX}EMAIL_VERIFICATION_LIFETIME must be positive")
        from limits import parse_many

        for name in ("api_rate_limit", "api_key_rate_limit", "login_limit_per_account",
                     "login_limit_per_address", "email_verification_resend_limit",
                     "data_export_limit"):
            try:
                parse_many(getattr(self, name))
            except ValueError:
                problems.append(f"{PREFIX}{name.upper()} must be a rate limit such as "
                                "'600 per minute'")
        if (problem := _storage_problem(self.rate_limit_storage_uri)) is not None:
            problems.append(f"{PREFIX}RATE_LIMIT_STORAGE_URI: {problem}")
        if self.env is Environment.PRODUCTION:
            problems.extend(self._production_urls())
        if problems:
            raise SettingsError("; ".join(problems))

    def _file_store_problems(self) -> list[str]:
        problems = []
        if self.file_store not in {"local", "s3"}:
            problems.append(f"{PREFIX}FILE_STORE must be local or s3")
        if self.file_store == "s3" and not self.s3_bucket:
            problems.append(f"{PREFIX}S3_BUCKET is required with the s3 file store")
        for name in ("upload_slot_lifetime", "download_link_lifetime"):
            if not timedelta(0) < getattr(self, name) <= timedelta(days=7):
                # Seven days: the longest a presigned S3 URL can work.
                problems.append(f"{PREFIX}{name.upper()} must be above 0, at most 604800")
        return problems

    def _production_urls(self) -> list[str]:
        """In production the addresses we hand out (Stripe's onboarding return and refresh
        links, e-mail links) and the one we call (Stripe) are public https URLs: never
        loopback, private or link-local (OWASP API7)."""
        problems = []
        for name in ("public_base_url", "stripe_api_base"):
            problem = url_problem(getattr(self, name), schemes=frozenset({"https"}))
            if problem is not None:
                problems.append(f"{PREFIX}{name.upper()}: in production the URL {problem}")
        return problems

    @property
    def effective_secret_key(self) -> str:
        # Development and tests run without configuration; production never reaches here
        # without a real key because validate() refuses it.
        return self.secret_key or f"insecure-{self.env}-key"

    @property
    def pseudonym_secret(self) -> str:
        """The key of trainers' pseudonyms in results: the setting, or one derived from
        the secret key (never the secret key itself)."""
        if self.results_pseudonym_secret:
            return self.results_pseudonym_secret
        return hmac.new(self.effective_secret_key.encode(), b"results-pseudonyms",
                        hashlib.sha256).hexdigest()


def _storage_problem(uri: str) -> str | None:
    """Why the rate-limit store at ``uri`` cannot be used, found at start-up rather than
    by the first request: an unknown scheme, or a client library that is not installed.
    Building a store connects to nothing; the in-process one (which starts a thread) is
    left to the limiter."""
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    if uri.startswith("memory://"):
        return None
    try:
        storage_from_string(uri)
    except (ConfigurationError, ValueError) as exc:  # ValueError: a malformed address
        return str(exc)
    return None


def _default_migrations_dir() -> str:
    # A source checkout (editable install) has them beside the package; a deployment
    # that installed the wheel runs from the checkout's directory or sets the variable.
    beside = PROJECT_ROOT / "migrations"
    return str(beside if beside.is_dir() else Path.cwd() / "migrations")


_PARSERS = {
    "env": Environment,
    "token_lifetime": _seconds,
    "invitation_lifetime": _seconds,
    "password_reset_lifetime": _seconds,
    "email_verification_lifetime": _seconds,
    "max_body_bytes": int,
    "max_import_bytes": int,
    "proxy_hops": int,
    "page_size_default": int,
    "page_size_max": int,
    "scheduler_enabled": _bool,
    "payout_requests_per_second": float,
    "payout_concurrency": int,
    "payout_details_hold": _seconds,
    "data_export_lifetime": _seconds,
    "erasure_grace_period": _seconds,
    "webhook_timeout": float,
    "webhook_allow_loopback": _bool,
    "webhook_event_retention": _seconds,
    "upload_slot_lifetime": _seconds,
    "download_link_lifetime": _seconds,
}
