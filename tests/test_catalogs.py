"""The gettext catalogs: every text of every shipped catalog translated, with the same
placeholders, and the catalogs up to date with the source (issue 19).

When this fails after you added or changed a text: ``make i18n``, then translate the new
entries (``msgstr ""``) in every ``workforce/translations/*/LC_MESSAGES/*.po``.
"""

from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Catalog, Message

from workforce.i18n import TRANSLATED, catalogs

PLACEHOLDER = re.compile(r"%\((\w+)\)[sdrfi]|%[sdrfi]")
HAN = re.compile(r"[\u4e00-\u9fff]")
SHIPPED = list(catalogs.shipped_files())


def entries(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def ids(catalog: Catalog) -> set[str]:
    return {message.id if isinstance(message.id, str) else message.id[0]
            for message in entries(catalog)}


def forms(message: Message) -> tuple[list[str], list[str]]:
    """(the English forms, the translated forms) of an entry."""
    source = [message.id] if isinstance(message.id, str) else list(message.id)
    target = [message.string] if isinstance(message.string, str) else list(message.string)
    return source, target


def test_every_domain_has_a_catalog_for_every_translated_locale() -> None:
    found = {(tag, domain) for tag, domain, _path in SHIPPED}
    wanted = {(tag, domain) for tag in TRANSLATED for domain in catalogs.DOMAINS}
    assert found == wanted, "a .po file of a domain catalogs.DOMAINS does not name, or a " \
        "locale without one: run `make i18n`"


@pytest.mark.parametrize(("tag", "domain", "path"), SHIPPED,
                         ids=[f"{tag}-{domain}" for tag, domain, _ in SHIPPED])
def test_every_text_is_translated_with_the_same_placeholders(tag, domain, path) -> None:
    problems = []
    for message in entries(catalogs.read(path)):
        source, target = forms(message)
        if message.fuzzy or not all(target):
            problems.append(f"untranslated: {source[0]!r}")
            continue
        wanted = sorted(PLACEHOLDER.findall(source[0]))
        for text in target:
            if sorted(PLACEHOLDER.findall(text)) != wanted:
                problems.append(f"placeholders differ: {source[0]!r} -> {text!r}")
            if not HAN.search(text):
                problems.append(f"not Chinese: {source[0]!r} -> {text!r}")
    assert not problems, f"{path}:\n" + "\n".join(problems)


@pytest.mark.parametrize("domain", list(catalogs.DOMAINS))
def test_the_catalogs_are_up_to_date_with_the_source(domain: str) -> None:
    source = ids(catalogs.extract(domain))
    assert source, f"no text of {domain} found in the source"
    for tag in TRANSLATED:
        shipped = ids(catalogs.read(catalogs.po_path(tag, domain)))
        assert shipped == source, (
            f"{catalogs.po_path(tag, domain)} is out of date (run `make i18n`): "
            f"new in the source {sorted(source - shipped)}, "
            f"gone from it {sorted(shipped - source)}")


@pytest.mark.parametrize("tag", TRANSLATED)
def test_babels_own_checks_pass(tag: str) -> None:
    for _tag, _domain, path in (entry for entry in SHIPPED if entry[0] == tag):
        errors = [(message.id, [str(error) for error in found])
                  for message, found in catalogs.read(path).check()]
        assert errors == [], path
