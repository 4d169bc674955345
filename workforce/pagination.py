"""Keyset (cursor) pagination over any sort key.

The order is a sequence of the terms one would give ``order_by`` (``Model.col`` for
ascending, ``Model.col.desc()``), ending with a unique column so that ties end. A
nullable column says where its NULLs go (``.nulls_first()``/``.nulls_last()``); one that
does not is refused. Without an order, newest first over ``(created_at, id)``.

A cursor is opaque to clients: base64url of the JSON list of the last row's sort values,
read back as the types of the sort columns, so a cursor that was tampered with is
``Invalid`` and never reaches the database as a wrong type. Keyset pages stay fast at
any depth and do not skip or repeat rows when new ones arrive.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, false, or_, true
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from workforce import clock
from workforce.errors import Invalid
from workforce.i18n import gettext

T = TypeVar("T")

# Rows read per query when a Python filter (``keep``) may leave some out.
FILTERED_BATCH = 100
_INT_RANGE = range(-(2**63), 2**63)  # what every backend stores
_MODIFIERS = (operators.asc_op, operators.desc_op, operators.nulls_first_op,
              operators.nulls_last_op)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None = None


@dataclass(frozen=True)
class _Key:
    """One sort column: its expression, direction, type and where its NULLs go."""

    expr: Any
    descending: bool = False
    kind: type = object
    nulls_last: bool | None = None  # None: the column holds no NULLs


def _key(term: Any) -> _Key:
    descending, nulls_last = False, None
    while isinstance(term, UnaryExpression) and term.modifier in _MODIFIERS:
        if term.modifier in (operators.nulls_first_op, operators.nulls_last_op):
            nulls_last = term.modifier is operators.nulls_last_op
        descending = descending or term.modifier is operators.desc_op
        term = term.element
    expr = term.__clause_element__() if hasattr(term, "__clause_element__") else term
    if nulls_last is None and getattr(expr, "nullable", True):
        raise ValueError(f"say where the NULLs of {expr} go: .nulls_first() or .nulls_last()")
    sql_type = getattr(expr.type, "impl_instance", expr.type)  # a TypeDecorator's own type
    return _Key(expr, descending, sql_type.python_type, nulls_last)


def _keys(order: Sequence[Any]) -> list[_Key]:
    keys = [_key(term) for term in order]
    last = keys[-1].expr
    if not (getattr(last, "primary_key", False) or getattr(last, "unique", False)):
        raise ValueError(f"the order must end with a unique column, not {last}")
    return keys


# --- cursors ------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    return value.isoformat() if isinstance(value, date) else str(value)


def encode_cursor(*values: Any) -> str:
    """The cursor after a row whose sort values are ``values``."""
    payload = json.dumps([_plain(value) for value in values]).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _typed(key: _Key, value: Any) -> Any:
    if value is None:
        if key.nulls_last is None:
            raise ValueError("a NULL where the column has none")
        return None
    if key.kind in (int, bool):
        if type(value) is not key.kind or (key.kind is int and value not in _INT_RANGE):
            raise ValueError("not a whole number in range")
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a string")  # PostgreSQL refuses NUL in text
    value.encode()  # UnicodeEncodeError, a ValueError, for a lone surrogate
    if key.kind is datetime:
        return clock.as_utc(datetime.fromisoformat(value))
    if key.kind is Decimal:
        number = Decimal(value)
        if not number.is_finite() or abs(number.adjusted()) > 1000:
            raise ValueError("not a finite decimal")
        return number
    return date.fromisoformat(value) if key.kind is date else key.kind(value)


def decode_cursor(cursor: str, kinds: Sequence[type | _Key]) -> tuple[Any, ...]:
    """The sort values in ``cursor``, as ``kinds`` (types or sort keys); ``Invalid`` if it
    is not one this API handed out for that order."""
    keys = [kind if isinstance(kind, _Key) else _Key(None, kind=kind) for kind in kinds]
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError("not a cursor")
        return tuple(_typed(key, value) for key, value in zip(keys, values, strict=True))
    # OverflowError: a time that exists with its offset but not in UTC (year 1 or 9999).
    except (ValueError, TypeError, OverflowError, InvalidOperation, binascii.Error) as exc:
        raise Invalid(
            gettext("The cursor is not one this API handed out."),
            errors={"cursor": [gettext("Invalid cursor.")]},
        ) from exc


# --- pages ---------------------------------------------------------------------------


def _after(keys: Sequence[_Key], values: Sequence[Any]) -> Any:
    """SQL: the row comes after ``values`` in the order of ``keys``. Written as
    ``k1 reached AND (k1 beyond OR ...)`` rather than ``k1 beyond OR (k1 = v1 AND ...)``:
    the top-level AND lets PostgreSQL start an index scan at the cursor, so a page deep
    in a long list costs what the first one does."""
    clause = None
    for key, value in reversed(list(zip(keys, values, strict=True))):
        beyond, reached = _beyond(key, value)
        clause = beyond if clause is None else and_(reached, or_(beyond, clause))
    return clause


def _beyond(key: _Key, value: Any) -> tuple[Any, Any]:
    """SQL: the column comes after ``value``; it comes after or at it."""
    expr = key.expr
    if value is None:  # NULLs last: nothing follows them; NULLs first: every value does
        return (false(), expr.is_(None)) if key.nulls_last else (expr.is_not(None), true())
    if key.descending:
        beyond, reached = expr < value, expr <= value
    else:
        beyond, reached = expr > value, expr >= value
    if key.nulls_last:
        return or_(beyond, expr.is_(None)), or_(reached, expr.is_(None))
    return beyond, reached


def _cut(found: list[tuple[T, tuple[Any, ...]]], limit: int) -> Page[T]:
    """The page of the first ``limit`` of ``found`` (item, sort values) pairs."""
    items = [item for item, _ in found[:limit]]
    return Page(items, encode_cursor(*found[limit - 1][1]) if len(found) > limit else None)


def paginate(
    session: Session,
    stmt: Select[Any],
    page: PageRequest,
    *,
    order: Sequence[Any] = (),
    created_at: InstrumentedAttribute[datetime] | None = None,
    row_id: InstrumentedAttribute[uuid.UUID] | None = None,
    keep: Callable[[list[Any]], list[Any]] | None = None,
) -> Page[Any]:
    """One page of ``stmt`` in ``order`` (or newest first by ``created_at``, ``row_id``).

    A select of one entity or column gives its values, a select of several gives tuples.
    ``keep``, given a batch of those, returns the ones to list: for rules that SQL cannot
    say; batches are read until a page is full.
    """
    order = order or (created_at.desc(), row_id.desc())  # type: ignore[union-attr]
    keys = _keys(order)
    single = len(stmt.column_descriptions) == 1
    stmt = stmt.add_columns(*(key.expr for key in keys)).order_by(*order)
    after = decode_cursor(page.cursor, keys) if page.cursor else None
    size = page.limit + 1 if keep is None else max(page.limit + 1, FILTERED_BATCH)
    found: list[tuple[Any, tuple[Any, ...]]] = []
    while len(found) <= page.limit:
        query = stmt if after is None else stmt.where(_after(keys, after))
        rows = [(row[0] if single else tuple(row[: -len(keys)]), tuple(row[-len(keys):]))
                for row in session.execute(query.limit(size))]
        if keep is None:
            found += rows
        else:
            kept = {id(item) for item in keep([item for item, _ in rows])}
            found += [(item, values) for item, values in rows if id(item) in kept]
        if len(rows) < size:
            break
        after = rows[-1][1]
    return _cut(found, page.limit)


def paginate_sorted(
    items: Sequence[T], page: PageRequest, *, key: Callable[[T], tuple[Any, ...]],
    kinds: Sequence[type],
) -> Page[T]:
    """One page of ``items`` ranked in Python, sorted ascending by ``key`` (a tuple of
    ``kinds`` ending with a unique value); the cursor works as ``paginate``'s does."""
    keyed = [(item, key(item)) for item in items]
    if page.cursor:
        after = decode_cursor(page.cursor, kinds)
        keyed = [(item, values) for item, values in keyed if values > after]
    return _cut(keyed, page.limit)
