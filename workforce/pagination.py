"""Keyset (cursor) pagination over ``(created_at, id)``, newest first.

A cursor is opaque to clients: base64url of the last row's sort key. Keyset
pages stay fast at any depth and do not skip or repeat rows when new ones arrive.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from workforce import clock
from workforce.errors import Invalid

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None = None


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    payload = json.dumps({"t": created_at.isoformat(), "id": str(row_id)}).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or not all(
            isinstance(data.get(key), str) for key in ("t", "id")
        ):
            raise ValueError("not a cursor")
        # OverflowError: a time that exists with its offset but not in UTC (year 1 or 9999).
        return clock.as_utc(datetime.fromisoformat(data["t"])), uuid.UUID(data["id"])
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error,
            json.JSONDecodeError) as exc:
        raise Invalid(
            "The cursor is not one this API handed out.", errors={"cursor": ["Invalid cursor."]}
        ) from exc


def paginate(
    session: Session,
    stmt: Select[Any],
    page: PageRequest,
    *,
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
) -> Page[Any]:
    """One page of ``stmt`` (a select of one entity), newest first."""
    if page.cursor:
        after_t, after_id = decode_cursor(page.cursor)
        stmt = stmt.where(
            or_(created_at < after_t, and_(created_at == after_t, row_id < after_id))
        )
    rows = list(
        session.scalars(stmt.order_by(created_at.desc(), row_id.desc()).limit(page.limit + 1))
    )
    if len(rows) <= page.limit:
        return Page(rows, None)
    last = rows[page.limit - 1]
    return Page(
        rows[: page.limit],
        encode_cursor(getattr(last, created_at.key), getattr(last, row_id.key)),
    )
