"""Languages: the locale of a request or of a person, gettext, and locale-aware formats.

What every other module imports. The shipped locales are BCP 47 tags in the API
(``en``, ``zh-Hant-HK``, ``zh-Hans-CN``); their catalogs are ``workforce/translations/
<babel id>/LC_MESSAGES/<domain>.po`` (``catalogs.py``). English is the source language:
its texts are the msgids. No Flask here (domain code imports this): the web layer says
which locale a request speaks (``use_locale_source``); outside one, and outside
``force_locale``, every text is English.

``_``/``gettext`` translate at once (in a request: its locale; in ``force_locale``: that
one); ``lazy_gettext`` when the text is used (class attributes, module constants).
Placeholders are named: ``_("No task %(id)s.", id=task.id)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import langcodes
from babel import Locale
from babel import dates as babel_dates
from babel.numbers import format_currency, format_decimal
from babel.support import LazyProxy

from workforce.i18n.catalogs import translations
from workforce.i18n.locales import (
    DEFAULT_LOCALE,
    ENGLISH,
    HONG_KONG,
    LOCALES,
    MAINLAND,
    TRANSLATED,
)
from workforce.money import minor_units

__all__ = [
    "DEFAULT_LOCALE", "ENGLISH", "HONG_KONG", "LOCALES", "MAINLAND", "TRANSLATED", "_",
    "babel_id", "current_locale", "force_locale", "format_date", "format_datetime",
    "format_money", "format_number", "gettext", "lazy_gettext", "lazy_ngettext",
    "locale_of", "negotiate", "ngettext", "shipped", "supported_tag", "use_locale_source",
]

# The locale texts are rendered in: one forced (``force_locale``), else the one the web
# layer says the request speaks (a function, asked only when a text is rendered), else
# English.
_forced: ContextVar[str | None] = ContextVar("workforce_forced_locale", default=None)
_source: ContextVar[Callable[[], str] | None] = ContextVar("workforce_locale_source",
                                                          default=None)


def current_locale() -> str:
    """The BCP 47 tag of the locale texts are now rendered in."""
    forced = _forced.get()
    if forced is not None:
        return forced
    source = _source.get()
    return source() if source is not None else DEFAULT_LOCALE


@contextmanager
def force_locale(tag: str) -> Iterator[None]:
    """``with force_locale(locale_of(user)):`` texts for someone who is not asking."""
    if tag not in LOCALES:
        raise ValueError(f"{tag!r} is not a shipped locale")
    token = _forced.set(tag)
    try:
        yield
    finally:
        _forced.reset(token)


def use_locale_source(source: Callable[[], str] | None) -> Token:
    """The web layer: ``source()`` gives the request's locale (reset with the token)."""
    return _source.set(source)


def reset_locale_source(token: Token) -> None:
    _source.reset(token)


def gettext(string: str, **variables: object) -> str:
    """``string`` in the current locale, its ``%(name)s`` placeholders filled."""
    text = translations(current_locale()).gettext(string)
    return text % variables if variables else text


_ = gettext


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """The form for ``n`` (which fills ``%(num)d``, as Flask-Babel's does)."""
    text = translations(current_locale()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def lazy_gettext(string: str, **variables: object) -> LazyProxy:
    """Translated when used as text (a class attribute, a module constant)."""
    return LazyProxy(gettext, string, enable_cache=False, **variables)


def lazy_ngettext(singular: str, plural: str, n: int, **variables: object) -> LazyProxy:
    return LazyProxy(ngettext, singular, plural, n, enable_cache=False, **variables)


def babel_id(tag: str) -> str:
    return LOCALES[tag]


def shipped(tag: str) -> str | None:
    """The shipped tag ``tag`` names exactly (case aside: ``zh-hant-hk``), else None."""
    try:
        standard = langcodes.standardize_tag(tag)
    except ValueError:
        return None
    return standard if standard in LOCALES else None


def supported_tag(tag: str) -> str | None:
    """The shipped locale that serves a reader of ``tag``, or None.

    Chinese is decided by script, which ``langcodes`` infers when the tag leaves it out:
    Traditional (zh-HK, zh-TW, zh-MO, zh-Hant, and Cantonese: yue, zh-yue) reads the
    Hong Kong catalog, the only Traditional one; Simplified (zh, zh-CN, zh-SG, zh-Hans,
    cmn) reads the mainland one. Any English reads English. Anything else: None, so the
    next language the caller accepts is tried.
    """
    try:
        language = langcodes.Language.get(tag).maximize()
    except (ValueError, LookupError):
        return None
    if language.language in {"zh", "yue", "cmn"}:
        return HONG_KONG if language.script == "Hant" else MAINLAND
    return ENGLISH if language.language == "en" else None


def negotiate(accepted: Iterable[str]) -> str | None:
    """The first shipped locale serving one of ``accepted`` (best first), or None."""
    for tag in accepted:
        match = supported_tag(tag)
        if match is not None:
            return match
    return None


def locale_of(user: object | None) -> str:
    """The locale for messages to ``user`` while they are not the one asking (a job, an
    e-mail, somebody else's request): their saved preference, else English."""
    saved = getattr(user, "locale", None)
    return saved if saved in LOCALES else DEFAULT_LOCALE


def _locale(tag: str | None) -> Locale:
    return Locale.parse(babel_id(tag or current_locale()))


def format_money(amount_minor: int, currency: str, *, locale: str | None = None) -> str:
    """``format_money(123456, "HKD")`` -> ``HK$1,234.56``: exact (from integer minor
    units, never a float), with the currency's own minor units, in the locale's style."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError("format_money takes an integer number of minor units")
    amount = Decimal(amount_minor).scaleb(-minor_units(currency))
    return format_currency(amount, currency.upper(), locale=_locale(locale))


def format_number(value: int | Decimal, *, locale: str | None = None) -> str:
    return format_decimal(value, locale=_locale(locale))


def format_date(value: date | datetime, timezone: str = "UTC", *, format: str = "medium",
                locale: str | None = None) -> str:
    """A day in the locale's words; a datetime is first moved into ``timezone``."""
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(timezone)).date()
    return babel_dates.format_date(value, format=format, locale=_locale(locale))


def format_datetime(value: datetime, timezone: str = "UTC", *, format: str = "medium",
                    locale: str | None = None) -> str:
    """An aware datetime shown at its local time in ``timezone`` (an IANA name)."""
    if value.tzinfo is None:
        raise ValueError("format_datetime takes an aware datetime")
    return babel_dates.format_datetime(value, format=format, tzinfo=ZoneInfo(timezone),
                                       locale=_locale(locale))
