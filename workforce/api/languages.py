"""The language of a request: Flask-Babel, told how to choose it and where catalogs are.

The signed-in caller's saved ``locale``, else the best shipped match for
``Accept-Language`` (``i18n.supported_tag`` says how Chinese tags are matched), else
English. Flask-Babel chooses it once per request, when the first text is rendered
(after the caller is known); ``workforce.i18n`` renders every text in it, and every
answer names it in ``Content-Language``.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_babel import Babel, Domain, get_locale

from workforce import i18n
from workforce.i18n import catalogs


class _Catalogs(Domain):
    """Flask-Babel's own gettext (templates) reads our catalogs in our locale too."""

    def get_translations(self):  # type: ignore[no-untyped-def]
        return catalogs.translations(i18n.current_locale())


def request_locale() -> str:
    """Flask-Babel's locale selector (a Babel id)."""
    user = g.get("user")
    saved = getattr(user, "locale", None)
    if saved in i18n.LOCALES:
        tag = saved
    else:
        accepted = [value for value, _quality in request.accept_languages]
        tag = i18n.negotiate(accepted) or i18n.DEFAULT_LOCALE
    return i18n.babel_id(tag)


def _spoken() -> str:
    chosen = str(get_locale())
    return next((tag for tag, babel in i18n.LOCALES.items() if babel == chosen),
                i18n.DEFAULT_LOCALE)


def init_app(app: Flask) -> None:
    babel = Babel(app, locale_selector=request_locale)
    babel.domain_instance = _Catalogs()

    @app.before_request
    def speak() -> None:
        g.locale_token = i18n.use_locale_source(_spoken)

    @app.after_request
    def content_language(response: Response) -> Response:
        response.headers.setdefault("Content-Language", i18n.current_locale())
        return response

    @app.teardown_request
    def stop_speaking(_exc: BaseException | None) -> None:
        token = g.pop("locale_token", None)
        if token is not None:
            i18n.reset_locale_source(token)
