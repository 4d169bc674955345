"""Checks for the values people type about themselves: countries, time zones, languages.

Pure functions over plain values, used by the API schemas and the CLI alike.
Each returns the canonical form or raises ``ValueError`` with a readable message.
"""

from __future__ import annotations

import zoneinfo

import langcodes
import pycountry


def normalise_email(email: str) -> str:
    return email.strip().lower()


def country_code(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.")
    return code


def timezone_name(value: str) -> str:
    name = value.strip()
    if name not in _available_timezones():
        raise ValueError(f"{value!r} is not an IANA time zone such as 'Asia/Hong_Kong'.")
    return name


def language_tag(value: str) -> str:
    """A well-formed, valid BCP 47 tag in its standard form (``yue-hk`` -> ``yue-HK``)."""
    tag = value.strip()
    if not tag or not langcodes.tag_is_valid(tag):
        raise ValueError(f"{value!r} is not a valid BCP 47 language tag such as 'yue-HK'.")
    return langcodes.standardize_tag(tag)


_zones: frozenset[str] | None = None


def _available_timezones() -> frozenset[str]:
    global _zones
    if _zones is None:
        _zones = frozenset(zoneinfo.available_timezones())
    return _zones
