"""The application factory. It reads like a table of contents and does no I/O."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from workforce import api, context, logs
from workforce.billing import webhooks
from workforce.billing.gateways import PayoutGateway
from workforce.billing.gateways.stripe import gateway_from_settings
from workforce.db import Database
from workforce.integrations.transport import Transport
from workforce.notifications.outbox import Outbox
from workforce.notifications.senders import EmailSender, make_sender
from workforce.notifications.services import OUTBOX_KEY
from workforce.privacy.storage import ExportStore, store_from_settings
from workforce.settings import Settings
from workforce.uploads.links import FileAccess

log = logging.getLogger("workforce.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class Services:
    """What the application holds for its lifetime: ``app.extensions["workforce"]``."""

    settings: Settings
    database: Database
    outbox: Outbox
    # Stripe (None without a key: the manual method), for the API, the jobs and the CLI.
    gateway: PayoutGateway | None = None
    # Where trainers' data-export archives are kept (``privacy.storage``).
    export_store: ExportStore | None = None
    # Webhooks out: how deliveries reach endpoints (timeouts, address checks).
    webhooks: Transport | None = None
    # Uploaded answers: the file store (``storage``) and the service's one-time links.
    files: FileAccess | None = None
    api: Any = None


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    email_sender: EmailSender | None = None,
    configure_logging: bool = True,
) -> Flask:
    settings = settings or Settings.from_env()
    if configure_logging:
        logs.configure(json_lines=settings.json_logs, level=settings.log_level)

    app = Flask("workforce", static_folder=None)
    app.config.update(
        SECRET_KEY=settings.effective_secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        DEBUG=False,
        PROPAGATE_EXCEPTIONS=False,
        TESTING=settings.env == "test",
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=True,
        **api.openapi_config(),
    )
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )

    database = database or Database(settings.database_url)
    sender = email_sender or make_sender(
        settings.email_sender, smtp_url=settings.smtp_url, sender=settings.email_from
    )
    outbox = Outbox(database, sender)
    # Sessions carry the outbox so that queue_email() can deliver after commit.
    database.session_factory.configure(info={OUTBOX_KEY: outbox})
    app.extensions["workforce"] = Services(
        settings, database, outbox, gateway_from_settings(settings),
        export_store=store_from_settings(settings),
        webhooks=Transport(timeout=settings.webhook_timeout,
                           allow_loopback=settings.webhook_allow_loopback),
        files=FileAccess.from_settings(settings))
    webhooks.register_handlers()

    app.session_interface = _NoSessions()
    _request_logging(app)
    api.init_app(app)
    return app


class _NoSessions(SessionInterface):
    """The API knows callers by their bearer token alone: no cookie session is read or
    written, so there is nothing for a cross-site request to ride on, and no cookie to
    verify on every request. Writing to ``flask.session`` is an error."""

    def open_session(self, app: Flask, request: Any) -> Any:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        return None


def _request_logging(app: Flask) -> None:
    production = app.extensions["workforce"].settings.env == "production"

    @app.before_request
    def start_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        # fullmatch: with match(), "$" would let a trailing newline through into a header.
        g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_token = context.request_id.set(g.request_id)
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", _content_security_policy(
            response))
        # Flask-Limiter puts its Retry-After on every answer; it means "come back later"
        # only where the answer is a refusal to serve now.
        if response.status_code not in _RETRY_STATUSES:
            response.headers.pop("Retry-After", None)
        if production:
            # Served behind a TLS proxy in production (README, Deploying).
            response.headers.setdefault("Strict-Transport-Security", _HSTS)
        user_id = g.get("user_id")
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.get("request_started", 0)) * 1000, 2),
                "user_id": str(user_id) if user_id is not None else None,
                "remote_addr": request.remote_addr,
            },
        )
        return response

    @app.teardown_request
    def end_request(_exc: BaseException | None) -> None:
        token = g.pop("request_token", None)
        if token is not None:
            context.request_id.reset(token)


_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_HSTS = "max-age=31536000; includeSubDomains"
DOCS_PAGE = "/api/v1/docs"
_RETRY_STATUSES = frozenset({429, 503})
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _content_security_policy(response: Response) -> str:
    """The API serves data, never pages to run: nothing may load or frame it. The one
    page, Swagger UI, runs its own scripts and styles from this service (its assets) and
    the inline script that starts it (allowed by its hash), shows its icons (data: URLs)
    and fetches the document; it renders every operation under this policy in Chromium."""
    if request.path != DOCS_PAGE or response.mimetype != "text/html":
        return _API_CSP
    inline = _INLINE_SCRIPT.findall(response.get_data(as_text=True))
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        for code in inline
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
