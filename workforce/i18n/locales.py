"""The shipped locales: BCP 47 tags in the API, Babel's ids for the catalogs' directories."""

from __future__ import annotations

ENGLISH = "en"
HONG_KONG = "zh-Hant-HK"
MAINLAND = "zh-Hans-CN"
LOCALES: dict[str, str] = {ENGLISH: "en", HONG_KONG: "zh_Hant_HK", MAINLAND: "zh_Hans_CN"}
# English is the source language: its texts are the msgids, it has no catalog.
DEFAULT_LOCALE = ENGLISH
TRANSLATED = tuple(tag for tag in LOCALES if tag != DEFAULT_LOCALE)
