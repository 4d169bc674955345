"""marshmallow's own field messages, translated.

marshmallow writes its messages in English with the values filled in ("Longer than
maximum length 100."). Each is read back here by the pattern of its template and written
again from a translated text with the same values; a message that is not one of them
(ours, raised through gettext already) is left as it is. ``tests/test_field_messages.py``
fails when marshmallow has a message this table does not read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from babel.support import LazyProxy

from workforce.i18n import lazy_gettext

_VALUE = r"(?P<%s>.+?)"

# marshmallow's template (as its fields and validators spell it) -> ours.
TEMPLATES: Mapping[str, LazyProxy] = {
    "Missing data for required field.": lazy_gettext("Missing data for required field."),
    "Field may not be null.": lazy_gettext("Field may not be null."),
    "Invalid value.": lazy_gettext("Invalid value."),
    "Invalid input.": lazy_gettext("Invalid input."),
    "Invalid type.": lazy_gettext("Invalid type."),
    "Invalid input type.": lazy_gettext("Invalid input type."),
    "Unknown field.": lazy_gettext("Unknown field."),
    "Not a valid string.": lazy_gettext("Not a valid string."),
    "Not a valid utf-8 string.": lazy_gettext("Not a valid utf-8 string."),
    "Not a valid integer.": lazy_gettext("Not a valid integer."),
    "Not a valid number.": lazy_gettext("Not a valid number."),
    "Number too large.": lazy_gettext("Number too large."),
    "Special numeric values (nan or infinity) are not permitted.": lazy_gettext(
        "Special numeric values (nan or infinity) are not permitted."),
    "Not a valid boolean.": lazy_gettext("Not a valid boolean."),
    "Not a valid UUID.": lazy_gettext("Not a valid UUID."),
    "Not a valid URL.": lazy_gettext("Not a valid URL."),
    "Not a valid email address.": lazy_gettext("Not a valid email address."),
    "Not a valid list.": lazy_gettext("Not a valid list."),
    "Not a valid tuple.": lazy_gettext("Not a valid tuple."),
    "Not a valid mapping type.": lazy_gettext("Not a valid mapping type."),
    "Not a valid date.": lazy_gettext("Not a valid date."),
    "Not a valid period of time.": lazy_gettext("Not a valid period of time."),
    "Not a valid IP address.": lazy_gettext("Not a valid IP address."),
    "Not a valid IPv4 address.": lazy_gettext("Not a valid IPv4 address."),
    "Not a valid IPv6 address.": lazy_gettext("Not a valid IPv6 address."),
    "Not a valid IP interface.": lazy_gettext("Not a valid IP interface."),
    "Not a valid IPv4 interface.": lazy_gettext("Not a valid IPv4 interface."),
    "Not a valid IPv6 interface.": lazy_gettext("Not a valid IPv6 interface."),
    "Not a valid {obj_type}.": lazy_gettext("Not a valid %(obj_type)s."),
    "Not a valid {awareness} {obj_type}.": lazy_gettext("Not a valid %(awareness)s %(obj_type)s."),
    "String does not match expected pattern.": lazy_gettext(
        "String does not match expected pattern."),
    "Shorter than minimum length {min}.": lazy_gettext("Shorter than minimum length %(min)s."),
    "Longer than maximum length {max}.": lazy_gettext("Longer than maximum length %(max)s."),
    "Length must be between {min} and {max}.": lazy_gettext(
        "Length must be between %(min)s and %(max)s."),
    "Length must be {equal}.": lazy_gettext("Length must be %(equal)s."),
    "Must be one of: {choices}.": lazy_gettext("Must be one of: %(choices)s."),
    "Must be equal to {other}.": lazy_gettext("Must be equal to %(other)s."),
    "One or more of the choices you made was not in: {choices}.": lazy_gettext(
        "One or more of the choices you made was not in: %(choices)s."),
    "One or more of the choices you made was in: {values}.": lazy_gettext(
        "One or more of the choices you made was in: %(values)s."),
    # Range, with its comparison words filled in first (OPERATORS).
    "Must be {min_op} {{min}} and {max_op} {{max}}.": lazy_gettext(
        "Must be %(min_op)s %(min)s and %(max_op)s %(max)s."),
    "Must be {min_op} {{min}}.": lazy_gettext("Must be %(min_op)s %(min)s."),
    "Must be {max_op} {{max}}.": lazy_gettext("Must be %(max_op)s %(max)s."),
}
OPERATORS: Mapping[str, LazyProxy] = {
    "greater than or equal to": lazy_gettext("greater than or equal to"),
    "greater than": lazy_gettext("greater than"),
    "less than or equal to": lazy_gettext("less than or equal to"),
    "less than": lazy_gettext("less than"),
}
# Formatting errors, met only when an answer is written (a bug of ours, never shown).
DUMP_ONLY = frozenset({
    '"{input}" cannot be formatted as a date.', '"{input}" cannot be formatted as a {obj_type}.',
    "{input!r} cannot be formatted as a timedelta.",
})


def _pattern(template: str) -> re.Pattern[str]:
    template = template.replace("{{", "{").replace("}}", "}")
    operators = "|".join(re.escape(op) for op in OPERATORS)
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if index % 2 == 0
        else f"(?P<{part}>{operators})" if part.endswith("_op") else _VALUE % part
        for index, part in enumerate(parts)
    )
    return re.compile(regex, re.S)


_READERS = [(_pattern(template), text) for template, text in TEMPLATES.items()]


def translate(message: str) -> str:
    """``message`` in the current locale, if it is one of marshmallow's."""
    for pattern, text in _READERS:
        found = pattern.fullmatch(message)
        if found is not None:
            values = {name: str(OPERATORS[value]) if name.endswith("_op") else value
                      for name, value in found.groupdict().items()}
            return str(text) % values
    return message
