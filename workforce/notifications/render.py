"""A notice put into words: its title and body (plain text and HTML) in a locale.

Rendering reads the ``notices`` gettext catalog with Babel directly, not through the
request: notices are put into words in jobs, the CLI and webhooks as well as in
requests, for a reader who is often not the one making the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, get_timezone_name
from babel.lists import format_list
from babel.support import NullTranslations
from markupsafe import Markup

from workforce.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    babel_id,
    current_locale,
    format_date,
    format_datetime,
    format_money,
)
from workforce.i18n.catalogs import translations
from workforce.notifications.texts import NOTICES, Part


@dataclass(frozen=True)
class Text:
    title: str
    paragraphs: tuple[str, ...]
    locale: str

    @property
    def body(self) -> str:
        """The body on one line, as the inbox shows it."""
        return _join(list(self.paragraphs), self.locale)

    def plain(self) -> str:
        """The body as an e-mail's plain-text part: a paragraph a sentence."""
        return "\n\n".join(self.paragraphs)

    def html(self) -> str:
        """The body as an HTML document: each paragraph escaped, in its own ``<p>``."""
        paragraphs = Markup("").join(Markup("<p>%s</p>\n") % p for p in self.paragraphs)
        return str(Markup(
            "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
            "<title>%s</title></head>\n<body>\n%s</body></html>\n"
        ) % (self.locale, self.title, paragraphs))


def render(kind: str, params: dict[str, Any], locale: str | None, zone: str = "UTC") -> Text:
    """The notice of ``kind`` in ``locale`` (else English), its moments in ``zone``."""
    notice = NOTICES[kind]
    locale = locale if locale in LOCALES else DEFAULT_LOCALE
    catalog = translations(locale)
    values = {name: _format(value, locale, zone) for name, value in params.items()}
    title = _join(_said(notice.title, params, catalog, values), locale)
    return Text(title, tuple(_said(notice.body, params, catalog, values)), locale)


def say(text: str, **values: Any) -> str:
    """A text of the notices domain in the locale texts are now rendered in (a
    request's, or a forced one)."""
    return translations(current_locale()).gettext(text) % values


def _said(parts: tuple[Part, ...], params: dict[str, Any], catalog: NullTranslations,
          values: dict[str, Any]) -> list[str]:
    return [catalog.gettext(part.text) % values for part in parts if part.applies(params)]


def _join(sentences: list[str], locale: str) -> str:
    # Chinese runs sentences together; English puts a space between them.
    return ("" if locale.startswith("zh") else " ").join(sentences)


# Zones with no region, which CLDR names "Unknown Region (UTC) Time": named by offset.
_REGIONLESS = frozenset({"UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Universal", "Zulu",
                         "Greenwich", "Factory"})


def _moment(value: datetime, zone: str, locale: str) -> str:
    """The reader's local time, naming its time zone (a notice is read later, perhaps
    elsewhere): "15 Mar 2025, 17:30:00 (Hong Kong Standard Time)", "... (UTC)"."""
    shown, name = format_datetime(value, zone, locale=locale), _zone_name(value, zone, locale)
    return f"{shown}（{name}）" if locale.startswith("zh") else f"{shown} ({name})"


def _zone_name(value: datetime, zone: str, locale: str) -> str:
    if zone in _REGIONLESS or zone.startswith("Etc/"):
        offset = value.astimezone(ZoneInfo(zone)).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        if not minutes:
            return "UTC"
        sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
        return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    # The name for that moment (standard or summer time), not the generic one: CLDR's
    # Hong Kong Chinese calls a country's generic time its summer time (夏令時間).
    return get_timezone_name(value.astimezone(ZoneInfo(zone)), locale=babel_id(locale))


def _format(value: Any, locale: str, zone: str) -> Any:
    if isinstance(value, list):  # amounts in several currencies: "€7.00 and $50.00"
        return format_list([str(_format(v, locale, zone)) for v in value],
                           locale=babel_id(locale))
    if isinstance(value, dict) and len(value) == 1:
        [(tag, raw)] = value.items()
        if tag == "$money":
            return format_money(raw[0], raw[1], locale=locale)
        if tag == "$moment":
            return _moment(datetime.fromisoformat(raw), zone, locale)
        if tag == "$day":
            when = datetime.fromisoformat(raw) if "T" in raw else date.fromisoformat(raw)
            return format_date(when, zone, locale=locale)
        if tag == "$month":
            return format_skeleton("yMMMM", date.fromisoformat(raw), locale=babel_id(locale))
    return "" if value is None else value

