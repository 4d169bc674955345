"""The language of a request: Flask-Babel, told how to choose it and where catalogs are.

The signed-in caller's saved ``locale``, else the best shipped match for
``Accept-Language`` (``i18n.supported_tag`` says how Chinese tags are matched), else
English. Flask-Babel chooses it once per request, when the first text is rendered
(after the caller is known); ``workforce.i18n`` renders every text in it, and every
answer names it in ``Content-Language``.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec, BasePlugin
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
    saved = g.get("user_locale")  # read when the caller was known (api.security)
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


ACCEPT_LANGUAGE = {
    "description": "The language for the answer's texts (problem titles and details, "
    "field messages) when the caller has no saved `locale`: " + ", ".join(i18n.LOCALES)
    + ". Chinese is matched by script: zh-HK, zh-TW, zh-MO, zh-Hant and yue read "
    "zh-Hant-HK; zh, zh-CN, zh-SG and zh-Hans read zh-Hans-CN. Otherwise English.",
    "schema": {"type": "string", "example": "zh-HK, en;q=0.5"},
}
CONTENT_LANGUAGE = {
    "description": "The locale the answer's texts are in (BCP 47).",
    "schema": {"type": "string", "enum": list(i18n.LOCALES)},
}
_HEADER_REF = "ContentLanguage"  # the component (apispec makes the reference)


class LanguagePlugin(BasePlugin):
    """Every operation of the document takes ``Accept-Language`` and answers with
    ``Content-Language``."""

    def init_spec(self, spec: APISpec) -> None:
        spec.components.header("ContentLanguage", CONTENT_LANGUAGE)

    def operation_helper(self, path: str | None = None, operations: dict | None = None,
                         **kwargs: Any) -> None:
        for operation in (operations or {}).values():
            operation.setdefault("parameters", []).append(
                {"name": "Accept-Language", "in": "header", **ACCEPT_LANGUAGE})
            for response in operation.get("responses", {}).values():
                with_content_language(response)


def with_content_language(response: Any) -> None:
    """A response (not a reference to one) says it carries ``Content-Language``."""
    if isinstance(response, dict) and "$ref" not in response:
        response.setdefault("headers", {})["Content-Language"] = _HEADER_REF
