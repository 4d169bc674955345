"""Checks for the values people type about themselves: e-mail addresses, countries,
languages (time zones: ``calendar.zone_name``).

Pure functions over plain values, used by the API schemas and the CLI alike.
Each returns the canonical form or raises ``ValueError`` with a readable message.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import langcodes
import pycountry
from confusable_homoglyphs import categories, confusables
from email_validator import EmailNotValidError, ValidatedEmail, validate_email

from workforce.i18n import gettext


def normalise_email(email: str) -> str:
    """The form addresses are stored and compared in: NFKC (fullwidth letters and
    ligatures become the plain letters they stand for), lower case, and the domain in
    one spelling (IDNA: ``xn--bcher-kva.de`` is ``bücher.de``). Anything that is not an
    address is only NFKC'd and lower-cased (it matches no account)."""
    address = unicodedata.normalize("NFKC", email).strip().lower()
    try:
        return _checked(address).normalized
    except EmailNotValidError:
        return address


def email_address(value: str) -> str:
    """A new account's address, normalised (``normalise_email``); refused when it is no
    address, or when it could pass for another one (UTS #39 confusables, with the
    ``confusable_homoglyphs`` data): letters of two scripts in one part ("mary" with a
    Cyrillic "a"), a Latin part with a letter that looks like an ASCII one (U+0251 LATIN
    SMALL LETTER ALPHA), or a part written wholly in letters that look like ASCII ("pay"
    in Cyrillic)."""
    try:
        address = _checked(unicodedata.normalize("NFKC", value).strip().lower()).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    local, _, domain = address.rpartition("@")
    for part in (local, *domain.split(".")):
        if (problem := _lookalike(part)) is not None:
            raise ValueError(gettext(
                "%(problem)s. Addresses that could pass for another one are refused: type it "
                "as your mail provider spells it.", problem=problem))
    return address


def _checked(address: str) -> ValidatedEmail:
    return validate_email(address, check_deliverability=False)


def _lookalike(part: str) -> str | None:
    """Why ``part`` (a local part or a domain label) could pass for another, if it could."""
    scripts = sorted(categories.unique_aliases(part) - {"COMMON"})
    if len(scripts) > 1:
        counts = Counter(categories.alias(char) for char in part)
        main = max(scripts, key=lambda script: counts[script])
        odd = next(char for char in part if categories.alias(char) not in (main, "COMMON"))
        return (f"{part!r} mixes {' and '.join(s.title() for s in scripts)} letters: "
                f"{odd!r} is {unicodedata.name(odd, f'U+{ord(odd):04X}')}")
    ascii_like = _ascii_lookalikes(part)
    if scripts == ["LATIN"]:
        single = {char: like for char, like in ascii_like.items() if len(like) == 1}
        if single:
            char, like = next(iter(single.items()))
            return f"{part!r} has {char!r}, which looks like {like!r}"
    elif scripts and all(char.isascii() or char in ascii_like for char in part):
        reads = "".join(ascii_like.get(char, char) for char in part)
        return f"{part!r} is written in {scripts[0].title()} letters that read as {reads!r}"
    return None


def _ascii_lookalikes(part: str) -> dict[str, str]:
    """Each non-ASCII character of ``part`` that looks like ASCII text, with that text."""
    found = confusables.is_confusable(part, greedy=True) or []
    return {
        entry["character"]: like
        for entry in found if not entry["character"].isascii()
        for like in [next((h["c"] for h in entry["homoglyphs"] if h["c"].isascii()), None)]
        if like
    }


def country_code(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(gettext("%(value)r is not an ISO 3166-1 alpha-2 country code.",
                                 value=value))
    return code


def language_tag(value: str) -> str:
    """A well-formed, valid BCP 47 tag in its standard form (``yue-hk`` -> ``yue-HK``).

    BCP 47 separates subtags with hyphens; ``langcodes`` also reads the underscores of
    POSIX locales (``yue_HK``), which are refused here with the tag they meant."""
    tag = value.strip()
    if "_" in tag:
        meant = tag.replace("_", "-")
        if langcodes.tag_is_valid(meant):
            raise ValueError(gettext(
                "%(value)r is not a BCP 47 language tag; its parts are joined by hyphens, not "
                "underscores: write %(meant)r.", value=value,
                meant=langcodes.standardize_tag(meant)))
        raise ValueError(gettext(
            "%(value)r is not a BCP 47 language tag; its parts are joined by hyphens, not "
            "underscores.", value=value))
    if not tag or not langcodes.tag_is_valid(tag):
        raise ValueError(gettext(
            "%(value)r is not a valid BCP 47 language tag such as 'yue-HK'.", value=value))
    return langcodes.standardize_tag(tag)
