"""The API's shared vocabulary: problem bodies, pages, periods, money, times, and fields
for people's details."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from workforce import calendar, clock, i18n, urls
from workforce.accounts import passwords, validation
from workforce.errors import Invalid
from workforce.i18n import _
from workforce.money import check_currency
from workforce.pagination import PageRequest


class ProblemSchema(Schema):
    """An RFC 9457 problem; ``errors`` maps each failing field to its messages.

    Problems carry extension members of their own (RFC 9457, section 3.2): the
    ``current_state`` of an illegal transition, the figures of a refused amount, ... so the
    document allows more members than these."""

    class Meta:
        unknown = INCLUDE  # apispec then documents additionalProperties: true

    type = fields.String(required=True,
                         metadata={"example": "urn:workforce:problem:validation-error"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    request_id = fields.String(required=True, allow_none=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


def decimal_strings(converter: Any, field: fields.Field, ret: dict[str, Any],
                    **kwargs: Any) -> dict[str, Any]:
    """apispec documents every ``Decimal`` field as a number; one dumped ``as_string``
    (exact figures such as "0.5000") is a string on the wire."""
    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal"}
    return {}


def enum_choices(converter: Any, field: fields.Field, ret: dict[str, Any],
                 **kwargs: Any) -> dict[str, Any]:
    """apispec documents an ``Enum`` field with every member of its enum, even where a
    ``OneOf`` validator admits fewer (staff roles: not ``trainer``); document those."""
    if not isinstance(field, fields.Enum):
        return {}
    admitted = [set(v.choices) for v in field.validators if isinstance(v, validate.OneOf)]
    if not admitted:
        return {}
    members = [m for m in field.enum if all(m in choices for choices in admitted)]
    return {"enum": [field._serialize(m, None, None) for m in members]
            + ([None] if field.allow_none else [])}


class Text(fields.String):
    """Text people type: surrounding white space dropped (before any length check), and
    no NUL characters, which PostgreSQL can neither store nor compare."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if "\x00" in text:
            raise ValidationError(_("Must not contain NUL characters."))
        return text


class _Checked(fields.String):
    """A string field normalised and checked by a plain function (``accounts.validation``,
    ``calendar.zone_name``)."""

    check = staticmethod(lambda value: value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return type(self).check(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class Country(_Checked):
    check = staticmethod(validation.country_code)


class TimeZone(_Checked):
    check = staticmethod(lambda value: calendar.zone_name(value.strip()))


class LanguageTag(_Checked):
    check = staticmethod(validation.language_tag)


def _currency(value: str) -> str:
    # money.py is below i18n (which formats money): its own message is English.
    try:
        return check_currency(value)
    except ValueError:
        raise ValueError(_("%(value)r is not an ISO 4217 currency code such as 'USD'.",
                           value=value)) from None


class Currency(_Checked):
    check = staticmethod(_currency)


MINOR_UNITS = {"description": "Minor units of the currency (cents for USD)."}


class MoneySchema(Schema):
    """Money: integer minor units and the ISO 4217 code (a schema with more to say about
    an amount extends this one)."""

    amount = fields.Integer(metadata=MINOR_UNITS)
    currency = fields.String(metadata={"example": "USD"})


class UtcDateTime(fields.AwareDateTime):
    """Every time in a body, a query or an answer: with its zone, read as UTC; one that UTC
    cannot hold (an offset at the edge of year 1 or 9999) is refused here (422 "Out of
    range.") rather than failing later as a 500. ``tests/test_openapi.py`` fails on any
    other date-time field."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=None, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            parsed = super()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            if isinstance(value, str) and " " in value.strip():
                # A query string's unencoded + arrives as a space ("...T10:00:00 08:00").
                raise ValidationError(_("Not a valid date and time: in a URL, write the "
                                        "offset's + as %2B.")) from None
            raise
        try:
            return clock.as_utc(parsed)
        except OverflowError as exc:
            raise ValidationError(_("Out of range.")) from exc


class PublicUrl(fields.String):
    """A URL on the public internet: private, loopback and link-local hosts are refused
    (``workforce.urls``), so no stored URL can aim a fetcher at our own network."""

    def __init__(self, *, schemes: frozenset[str] = frozenset({"http", "https"}),
                 **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).setdefault("format", "uri")
        super().__init__(**kwargs)
        self.schemes = frozenset(schemes)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = urls.url_problem(text, schemes=self.schemes)
        if problem is not None:
            raise ValidationError(_("The URL %(problem)s.", problem=problem))
        return text


class Email(_Checked):
    """A new address (sign-up, invitation): normalised, and refused when it could pass
    for another one (``accounts.validation.email_address``)."""

    check = staticmethod(validation.email_address)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).setdefault("format", "email")
        super().__init__(**kwargs)


def password_field(*, new: bool = True, **kwargs: Any) -> fields.String:
    """A password in a body. A new one is checked against the rules here too, so that
    its errors come back together with every other field's."""
    if not new:
        return fields.String(
            required=True, load_only=True, validate=validate.Length(min=1, max=1024), **kwargs
        )
    return fields.String(required=True, load_only=True, validate=_password_rules, **kwargs)


def _password_rules(value: str) -> None:
    try:
        passwords.check_password_rules(value)
    except Invalid as exc:
        raise ValidationError(exc.errors["password"]) from exc


class Languages(fields.List):
    """BCP 47 tags in their standard form, each once: ``["en", "EN"]`` -> ``["en"]``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        return list(dict.fromkeys(super()._deserialize(value, attr, data, **kwargs)))


def locale_field(**kwargs: Any) -> fields.String:
    """A shipped locale, the language the service speaks to the person in."""
    metadata = {
        "description": "The language of the service's texts to this person (problem "
        "details, notifications, e-mails): one of the shipped locales, as BCP 47. Without "
        "it: the request's Accept-Language, and English for what reaches them otherwise.",
        "example": "zh-Hant-HK", **kwargs.pop("metadata", {})}
    return fields.String(validate=validate.OneOf(list(i18n.LOCALES)), metadata=metadata,
                         **kwargs)


def languages_field(**kwargs: Any) -> fields.List:
    return Languages(
        LanguageTag(), validate=validate.Length(max=20),
        metadata={"example": ["yue-HK", "en-US"]}, **kwargs,
    )


class PageArgs(Schema):
    limit = fields.Integer(
        validate=validate.Range(min=1), metadata={"description": "Page size (capped)."}
    )
    cursor = fields.String(
        validate=validate.Length(max=512),
        metadata={"description": "The next_cursor of the previous page."},
    )


class PeriodArgs(Schema):
    """A period in a query: ``from`` (inclusive) and ``to`` (exclusive)."""

    since = UtcDateTime(data_key="from", metadata={
        "description": "At or after this time (ISO 8601 with an offset)."})
    until = UtcDateTime(data_key="to", metadata={"description": "Before this time."})


class WholePeriodArgs(PeriodArgs):
    """A period with both ends."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.required = True


def page_request(args: dict[str, Any]) -> PageRequest:
    settings = current_app.extensions["workforce"].settings
    limit = args.pop("limit", None) or settings.page_size_default
    return PageRequest(limit=min(limit, settings.page_size_max), cursor=args.pop("cursor", None))


_page_schemas: dict[type[Schema], type[Schema]] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The schema of one page of ``item_schema`` objects."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = Schema.from_dict(
            {
                "items": fields.List(fields.Nested(item_schema), required=True),
                "next_cursor": fields.String(allow_none=True, required=True),
            },
            name=name,
        )
    return _page_schemas[item_schema]
