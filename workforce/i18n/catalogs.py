"""The gettext catalogs: loading them, extracting texts into them, checking them.

``workforce/translations/<babel id>/LC_MESSAGES/<domain>.po`` holds one domain of one
locale. Every ``.po`` of a locale is read when the locale is first used in a process and
compiled in memory (no ``.mo`` files: a fresh clone works as it is, and there is no
compiled copy to fall out of date); the domains of a locale are merged into one lookup.

A domain is the set of texts marked with its functions (``DOMAINS``): ``messages``
(problem titles and details, validation messages) is marked with ``_``/``gettext``/
``lazy_gettext``/``ngettext``. ``make i18n`` (``python -m workforce.i18n update``)
extracts every domain from the source (``babel.cfg``) and updates each locale's catalog:
new texts arrive untranslated, texts gone from the source are dropped.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import NullTranslations, Translations

from workforce.i18n.locales import DEFAULT_LOCALE, LOCALES, TRANSLATED

PACKAGE = Path(__file__).resolve().parent.parent
TRANSLATIONS = PACKAGE / "translations"
SOURCE_ROOT = PACKAGE.parent
MAPPING = SOURCE_ROOT / "babel.cfg"

# domain -> the functions (Babel keyword specs) whose texts belong to it.
DOMAINS: dict[str, dict[str, tuple[int, ...] | None]] = {
    "messages": {
        "_": None, "gettext": None, "lazy_gettext": None,
        "ngettext": (1, 2), "lazy_ngettext": (1, 2),
    },
    # What the service tells people, in the inbox and by e-mail: workforce/notifications/
    # texts.py, marked with T().
    "notices": {"T": None},
}


def po_path(tag: str, domain: str) -> Path:
    return TRANSLATIONS / LOCALES[tag] / "LC_MESSAGES" / f"{domain}.po"


def shipped_files() -> Iterator[tuple[str, str, Path]]:
    """(locale tag, domain, path) of every catalog in the repository."""
    for tag in TRANSLATED:
        for path in sorted((TRANSLATIONS / LOCALES[tag] / "LC_MESSAGES").glob("*.po")):
            yield tag, path.stem, path


def read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


@cache
def translations(tag: str) -> NullTranslations:
    """Every domain of a locale, compiled from its ``.po`` files, as one lookup."""
    merged: NullTranslations = NullTranslations()
    if tag not in LOCALES or tag == DEFAULT_LOCALE:
        return merged
    for owner, domain, path in shipped_files():
        if owner != tag:
            continue
        compiled = io.BytesIO()
        write_mo(compiled, read(path))
        compiled.seek(0)
        domain_translations = Translations(compiled, domain=domain)
        if isinstance(merged, Translations):
            merged.merge(domain_translations)
        else:
            merged = domain_translations
    return merged


def extract(domain: str) -> Catalog:
    """The texts of ``domain`` as they are in the source now (a template)."""
    with MAPPING.open() as file:
        method_map, options_map = parse_mapping_cfg(file)
    template = Catalog(domain=domain, project="workforce")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(SOURCE_ROOT), method_map, options_map, keywords=DOMAINS[domain],
        comment_tags=("TRANSLATORS:",), strip_comment_tags=True,
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments,
                     context=context)
    return template


def write(path: Path, catalog: Catalog) -> None:
    # Sorted, without line numbers: a change elsewhere in a file does not touch the
    # catalog, and two branches adding texts seldom touch the same lines.
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        write_po(file, catalog, width=100, sort_output=True, include_lineno=False,
                 ignore_obsolete=True)


def new_catalog(tag: str, domain: str) -> Catalog:
    catalog = Catalog(
        locale=LOCALES[tag], domain=domain, project="workforce", version="1",
        copyright_holder="workforce", msgid_bugs_address="workforce maintainers",
        last_translator="workforce maintainers", language_team=tag,
        header_comment=f"# {tag} texts of the workforce service ({domain}).\n"
        "# The glossary of terms used: README, Languages.",
    )
    catalog.fuzzy = False
    return catalog


def update() -> list[str]:
    """Extract every domain and bring every locale's catalog of it up to date."""
    done = []
    for domain in DOMAINS:
        template = extract(domain)
        for tag in TRANSLATED:
            path = po_path(tag, domain)
            catalog = read(path) if path.exists() else new_catalog(tag, domain)
            catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
            write(path, catalog)
            missing = sum(1 for message in catalog if message.id and not message.string)
            done.append(f"{path.relative_to(SOURCE_ROOT)}: {len(catalog)} texts, "
                        f"{missing} untranslated")
    return done


def main(argv: list[str]) -> int:
    if argv[1:] != ["update"]:
        print("usage: python -m workforce.i18n update", file=sys.stderr)
        return 2
    for line in update():
        print(line)
    return 0

