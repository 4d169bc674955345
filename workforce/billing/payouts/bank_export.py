"""The manual method's bank file: a run's items with the trainers' full bank details, as
CSV, and the audit record of its download."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workforce import clock
from workforce.accounts import audit
from workforce.accounts.models import User
from workforce.billing.models import ItemState, PayoutAccount, PayoutItem, PayoutMethod, PayoutRun
from workforce.billing.payouts.outcomes import payout_blocked
from workforce.billing.payouts.queries import get_run
from workforce.money import Money


@dataclass(frozen=True)
class BankRow:
    item_id: uuid.UUID
    trainer_id: uuid.UUID
    trainer_name: str
    amount: int
    currency: str
    method: PayoutMethod
    state: ItemState
    bank_details: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None
    # Why this item must not be paid to the details now (then none are given).
    blocked: str | None = None


EXPORT_BATCH = 1000


def export_rows(session: Session, run_id: uuid.UUID) -> Iterator[BankRow]:
    """The run's items with the trainers' full bank details, in batches (keyset over the
    item id): the manual method's bank file. The caller checks access and audits."""
    last: uuid.UUID | None = None
    now = clock.now()
    while True:
        stmt = (
            select(PayoutItem, User.display_name, PayoutAccount)
            .join(User, User.id == PayoutItem.trainer_id)
            .join(PayoutAccount, PayoutAccount.id == PayoutItem.payout_account_id)
            .where(PayoutItem.run_id == run_id)
            .order_by(PayoutItem.id)
            .limit(EXPORT_BATCH)
        )
        if last is not None:
            stmt = stmt.where(PayoutItem.id > last)
        rows = session.execute(stmt).all()
        for item, name, account in rows:
            blocked = payout_blocked(account, item.method, now)
            yield BankRow(
                item.id, item.trainer_id, name, item.amount, item.currency, item.method,
                item.state, {} if blocked else dict(account.bank_details or {}),
                item.manual_reference, blocked[1] if blocked else None,
            )
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1][0].id


def record_export(session: Session, staff: User, run_id: uuid.UUID) -> PayoutRun:
    """Check access to the run and audit that its bank file (with full bank details) was
    downloaded."""
    run = get_run(session, staff, run_id)
    audit.record(
        session, staff, "payout_run.exported", object_type="payout_run", object_id=run.id,
        organisation_id=run.organisation_id, after={"format": "csv"},
    )
    return run


BANK_FILE_COLUMNS = (
    # No e-mail address: the bank needs none, and the file travels (OWASP API3).
    "payout_item_id", "trainer_id", "trainer_name", "method", "state", "currency",
    "amount_minor", "amount", "holder_name", "bank_name", "country", "iban",
    "account_number", "bank_code", "reference", "note",
)
_BANK_KEYS = ("holder_name", "bank_name", "country", "iban", "account_number", "bank_code")


def bank_file(session: Session, run_id: uuid.UUID) -> Iterator[str]:
    """The run's items as CSV lines, header first: the manual method's bank file. The
    bank details are in full, because finance pays from this file; the download is
    audited (``record_export``). Details still in the hold that follows a change (or of
    a trainer who changed method) are left out, the ``note`` saying why: the file is
    read when finance pays, maybe days after approval. A cell a spreadsheet would run
    as a formula gets a leading apostrophe."""
    yield _csv_line(BANK_FILE_COLUMNS)
    for row in export_rows(session, run_id):
        details = [str(row.bank_details.get(key) or "") for key in _BANK_KEYS]
        yield _csv_line((
            str(row.item_id), str(row.trainer_id), row.trainer_name, row.method.value,
            row.state.value, row.currency, str(row.amount),
            f"{Money(row.amount, row.currency).to_decimal()}", *details, row.reference or "",
            row.blocked or "",
        ))


def _csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(c) for c in cells])
    return buffer.getvalue()


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
