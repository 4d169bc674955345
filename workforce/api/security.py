"""Authentication and the per-endpoint authorization policy, in one place.

Every view declares who may call it with ``@blp.public``, ``@blp.authenticated``
or ``@blp.requires(Role..., scope=...)``, placed directly under ``@blp.route`` so that
it runs before the body is parsed. A test walks the URL map and fails on any endpoint
without a policy. Organisation scoping is the services' job: they filter by the
caller's organisation and answer ``NotFound`` for anything outside it.

The bearer secret is a person's login token or an organisation's API key (told apart
by the key's prefix, ``wfk_``). A key passes a route only by the route's scope, which
it must hold; a route without one refuses every key. Past that check the key's own
account (admin role, integrations/keys.py) is the caller the services see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from http import HTTPStatus
from typing import Any

import flask_smorest
from flask import g, request

from workforce.accounts import mfa, tokens
from workforce.accounts.models import ApiToken, Role, User
from workforce.api.bodies import JsonBodyParser
from workforce.api.uow import db_session
from workforce.errors import Forbidden, Unauthenticated
from workforce.i18n import gettext
from workforce.integrations import keys
from workforce.integrations.key_models import ApiKey
from workforce.integrations.scopes import Scope

POLICY_ATTR = "_workforce_policy"
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An opaque token from POST /api/v1/auth/login.",
}
API_KEY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An organisation's API key (`wfk_...`, from POST /api/v1/api-keys), "
    "sent as 'Authorization: Bearer <key>'. It may call an operation only with the scope "
    "the operation names in `x-scopes`.",
}


@dataclass(frozen=True)
class Policy:
    """``roles is None`` means public; otherwise the roles allowed to call, and the
    scope an API key needs (``None``: no key may call). ``before_second_factor``: open
    to a finance or admin user who has not enrolled an authenticator yet (enrolment
    itself, the caller's account and sessions, logout)."""

    roles: frozenset[Role] | None
    scope: Scope | None = None
    before_second_factor: bool = False

    @property
    def is_public(self) -> bool:
        return self.roles is None


PUBLIC = Policy(None)
ANY_USER = Policy(frozenset(Role))
SIGNING_IN = Policy(frozenset(Role), before_second_factor=True)


def policy_of(view: Callable[..., Any]) -> Policy | None:
    return getattr(view, POLICY_ATTR, None)


def mark(view: Callable[..., Any], policy: Policy) -> Callable[..., Any]:
    # A bound method (flask-smorest's own views) reads attributes from its function.
    setattr(getattr(view, "__func__", view), POLICY_ATTR, policy)
    return view


def current_user() -> User:
    user = g.get("user")
    if user is None:  # a view marked public asked for a user: a programming error
        raise RuntimeError("current_user() called on an unauthenticated request")
    return user


def current_token() -> ApiToken:
    return g.token


def current_api_key() -> ApiKey | None:
    """The API key the request came with, if it came with one."""
    return g.get("api_key")


def bearer_secret() -> str | None:
    """The token the request sends as ``Authorization: Bearer <token>``, if any."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    raw = raw.strip()
    return raw if scheme.lower() == "bearer" and raw else None


def authenticate() -> User:
    """The caller, from the bearer token; once per request (the input guard may have
    asked first)."""
    if g.get("user") is not None:
        return g.user
    raw = bearer_secret()
    if raw is None:
        raise Unauthenticated(
            gettext("Send an access token as 'Authorization: Bearer <token>'."),
            code="missing-token",
        )
    if keys.is_key(raw):
        key = keys.authenticate(db_session(), raw)
        user, g.api_key = key.account, key
    else:
        user, g.token = tokens.authenticate(db_session(), raw)
    g.user = user
    # A plain value for the request log, which runs after the unit of work has ended
    # (a rolled-back, closed session leaves ``user`` expired and detached).
    g.user_id = user.id
    # Likewise the language they chose, for the texts of this answer (api.languages).
    g.user_locale = user.locale
    return user


def authorize(policy: Policy) -> None:
    if policy.is_public:
        return
    user = authenticate()
    assert policy.roles is not None
    key = current_api_key()
    if key is not None:
        _check_scope(policy, key)
    elif user.role not in policy.roles:
        raise Forbidden(
            gettext("This operation is not available to the %(role)s role.", role=user.role.value),
            code="role-forbidden",
        )
    # A key has no second factor to enrol: it never signs in (``integrations.keys``).
    if key is None and not policy.before_second_factor and not g.get("second_factor_checked"):
        mfa.enforce(db_session(), user)
        g.second_factor_checked = True


def _check_scope(policy: Policy, key: ApiKey) -> None:
    if policy.scope is None:
        raise Forbidden(gettext("API keys cannot call this operation; it is for people only."),
                        code="scope-forbidden", required_scope=None)
    if policy.scope.value not in key.scopes:
        raise Forbidden(gettext("This operation needs an API key with the scope '%(scope)s'.",
                                scope=policy.scope.value), code="scope-forbidden",
                        required_scope=policy.scope.value)


def who_may(policy: Policy) -> str:
    """The sentence each operation's description ends with."""
    assert policy.roles is not None
    roles = ", ".join(sorted(role.value for role in policy.roles))
    keys_part = (f"API keys with the scope `{policy.scope.value}`." if policy.scope
                 else "Not for API keys.")
    return f"Who may call: the roles {roles}. {keys_part}"


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint with the authorization decorators, whose schemas read
    the JSON body the input guard parsed."""

    ARGUMENTS_PARSER = JsonBodyParser()

    def public(self, view: Callable[..., Any]) -> Callable[..., Any]:
        return mark(view, PUBLIC)

    def authenticated(self, view: Callable[..., Any]) -> Callable[..., Any]:
        return self._guard(view, ANY_USER)

    def signing_in(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """Any user, a finance or admin user who has not enrolled a second factor
        included (``mfa.enforce`` refuses them everything else)."""
        return self._guard(view, SIGNING_IN)

    def refuses(self, *statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document the problem answers a view may give besides its success (404, 409,
        ...): each the shared problem response of its status."""
        def document(view: Callable[..., Any]) -> Callable[..., Any]:
            for status in statuses:
                view = self.alt_response(status, response=HTTPStatus(status).name)(view)
            return view
        return document

    def requires(
        self, *roles: Role, scope: Scope | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """The roles that may call; ``scope``, the API key scope that may call too.
        A key acts with an admin's reach in the services, so a route open to keys must
        be open to admins."""
        if not roles:
            raise ValueError("requires() needs at least one role; use authenticated")
        if scope is not None and Role.ADMIN not in roles:
            raise ValueError("a route open to API keys must be open to admins")
        return lambda view: self._guard(view, Policy(frozenset(roles), scope))

    def _guard(self, view: Callable[..., Any], policy: Policy) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            authorize(policy)
            return view(*args, **kwargs)

        guarded.__doc__ = f"{(view.__doc__ or '').rstrip()}\n\n{who_may(policy)}"
        mark(guarded, policy)
        security: list[dict[str, list[str]]] = [{"bearerAuth": []}]
        if policy.scope is not None:
            security.append({"apiKey": []})
        guarded = self.doc(
            security=security, **{"x-roles": sorted(role.value for role in policy.roles or ()),
                                   "x-scopes": [policy.scope.value] if policy.scope else []},
        )(guarded)
        # 403 on every guarded route: a role it is not for, an API key without its scope,
        # or (mfa.enforce) a second factor not enrolled.
        guarded = self.refuses(401, 403)(guarded)
        return mark(guarded, policy)


