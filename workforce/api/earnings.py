"""Earnings, statements, bonuses, adjustments and the ledger.

Statements answer JSON, or CSV with ``?format=csv`` (one mechanism, visible in the
document and usable as a plain download link). The ledger export is CSV only, streamed.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from flask import Response

from workforce.accounts.models import FINANCE_STAFF, MANAGERS, Role
from workforce.api.earnings_schemas import (
    AdjustmentCreateSchema,
    AdjustmentSchema,
    BonusCreateSchema,
    BonusSchema,
    CheckSchema,
    CostReportSchema,
    EarningsSummarySchema,
    EntryListArgs,
    EntrySchema,
    LineItemArgs,
    LineItemSchema,
    ReversalSchema,
    StatementArgs,
    StatementSchema,
    TrainerFilterArgs,
)
from workforce.api.schemas import PeriodArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import database, db_session
from workforce.billing import corrections, earnings, ledger_reports
from workforce.billing.earnings import Statement

blp = Blueprint(
    "earnings", __name__, url_prefix="/api/v1",
    description="Earnings, statements, bonuses, adjustments and the ledger",
)

CSV_BODY = {"text/csv": {"schema": {"type": "string"}}}
CSV = {"schema": {"type": "string"}, "content_type": "text/csv"}


def csv_response(rows: Iterable[list[str]], filename: str) -> Response:
    """Rows as a CSV download, produced as the client reads it."""

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return Response(
        lines(), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def statement_response(statement: Statement, args: dict, filename: str):
    if args["format"] == "csv":
        return csv_response(earnings.statement_rows(statement), filename)
    return statement


# --- trainers ------------------------------------------------------------------------


@blp.route("/me/earnings/summary")
@blp.requires(Role.TRAINER)
@blp.response(200, EarningsSummarySchema)
def earnings_summary():
    """Per currency, summed over the organisations paying you: pending review (an
    estimate), on hold (with the earliest release date), payable, in transit, paid to
    date, and year to date; and per organisation its next payout run and minimum.
    Amounts in minor units."""
    return earnings.summary(db_session(), current_user())


@blp.route("/me/earnings/items")
@blp.requires(Role.TRAINER)
@blp.arguments(LineItemArgs, location="query")
@blp.response(200, page_of(LineItemSchema))
def list_line_items(args: dict):
    """Every movement of your payable balance, newest first: earnings with their reason,
    source and project, bonuses, adjustments, reversals, and payouts. Filter by
    `project_id`, `currency`, and the posting time (`from` included, `to` not)."""
    page = page_request(args)
    return earnings.list_items(
        db_session(), current_user(), page, project_id=args.get("project_id"),
        since=args.get("since"), until=args.get("until"), currency=args.get("currency"),
    )


@blp.route("/me/statements/monthly/<int:year>/<int:month>")
@blp.requires(Role.TRAINER)
@blp.arguments(StatementArgs, location="query")
@blp.response(200, StatementSchema)
@blp.alt_response(200, description="The statement; with `?format=csv`, as CSV.", **CSV)
@blp.refuses(404)
def monthly_statement(args: dict, year: int, month: int):
    """A calendar month in your time zone: payable at its start, each movement, the
    totals and payable at its end. `?format=csv` for a spreadsheet."""
    statement = earnings.monthly_statement(db_session(), current_user(), year, month)
    return statement_response(statement, args, f"statement-{year:04d}-{month:02d}.csv")


@blp.route("/me/statements/payouts/<uuid:payout_item_id>")
@blp.requires(Role.TRAINER)
@blp.arguments(StatementArgs, location="query")
@blp.response(200, StatementSchema)
@blp.alt_response(200, description="The statement; with `?format=csv`, as CSV.", **CSV)
@blp.refuses(404)
def payout_statement(args: dict, payout_item_id: uuid.UUID):
    """One of your payouts: the movements of payable (with that organisation, in that
    currency) since your previous payout up to this one's creation, the balances
    around them, the payout and its steps (approved, paid, failed...).
    `?format=csv` for a spreadsheet."""
    statement = earnings.payout_statement(db_session(), current_user(), payout_item_id)
    return statement_response(statement, args, f"payout-{payout_item_id}.csv")


# --- bonuses and adjustments ---------------------------------------------------------


@blp.route("/bonuses", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(BonusCreateSchema)
@blp.response(201, BonusSchema)
@blp.alt_response(200, schema=BonusSchema,
                  description="The bonus first granted with this idempotency key; "
                  "nothing more is paid.")
@blp.refuses(409, 422)
def create_bonus(args: dict):
    """Grant a bonus to a trainer who has worked for your organisation (a project
    membership or money from it), paid into their payable after your hold period,
    audited and notified. The same `idempotency_key` again returns the first bonus
    (200); with other values, 409 `idempotency-key-reused`."""
    bonus, new = corrections.create_bonus(db_session(), current_user(), **args)
    return bonus, 201 if new else 200


@blp.route("/bonuses")
@blp.requires(*(MANAGERS | FINANCE_STAFF))
@blp.arguments(TrainerFilterArgs, location="query")
@blp.response(200, page_of(BonusSchema))
def list_bonuses(args: dict):
    """Your organisation's bonuses, newest first (filter by `trainer_id`)."""
    page = page_request(args)
    return corrections.list_bonuses(db_session(), current_user(), page,
                                    trainer_id=args.get("trainer_id"))


@blp.route("/adjustments", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@blp.arguments(AdjustmentCreateSchema)
@blp.response(201, AdjustmentSchema)
@blp.refuses(409, 422)
def create_adjustment(args: dict):
    """Correct a trainer's payable with your organisation, with a reason they see.
    A negative amount larger than what is available (payable less what is on hold) is
    refused: 409 `would-go-negative`."""
    return corrections.create_adjustment(db_session(), current_user(), **args)


@blp.route("/adjustments")
@blp.requires(*FINANCE_STAFF)
@blp.arguments(TrainerFilterArgs, location="query")
@blp.response(200, page_of(AdjustmentSchema))
def list_adjustments(args: dict):
    """Your organisation's adjustments, newest first (filter by `trainer_id`)."""
    page = page_request(args)
    return corrections.list_adjustments(db_session(), current_user(), page,
                                        trainer_id=args.get("trainer_id"))


# --- the ledger for finance ----------------------------------------------------------


@blp.route("/ledger/entries")
@blp.requires(*FINANCE_STAFF)
@blp.arguments(EntryListArgs, location="query")
@blp.response(200, page_of(EntrySchema))
def list_entries(args: dict):
    """Your organisation's journal entries with their postings, newest first; filter by
    posting time (`from` included, `to` not), `source_type` and `trainer_id`."""
    page = page_request(args)
    return ledger_reports.list_entries(
        db_session(), current_user(), page, since=args.get("since"),
        until=args.get("until"), source_type=args.get("source_type"),
        trainer_id=args.get("trainer_id"),
    )


@blp.route("/ledger/entries.csv")
@blp.requires(*FINANCE_STAFF)
@blp.arguments(PeriodArgs, location="query")
@blp.response(200, content_type="text/csv")
@blp.doc(responses={"200": {"description": "One row per posting.", "content": CSV_BODY}})
def export_entries(args: dict):
    """Your organisation's ledger for a period (`from` included, `to` not; both
    optional) as CSV, one row per posting, oldest entry first, streamed."""
    source = database()

    @contextmanager
    def reading() -> Iterator:
        session = source.session()
        try:
            yield session
        finally:
            session.close()

    rows = ledger_reports.export_rows(
        reading, current_user().organisation_id, since=args.get("since"),
        until=args.get("until"),
    )
    return csv_response(rows, "ledger-entries.csv")


@blp.route("/ledger/check")
@blp.requires(*FINANCE_STAFF)
@blp.response(200, CheckSchema)
def check_ledger():
    """Recompute every balance from its postings; the differences that concern your
    organisation (none when the ledger is sound)."""
    return ledger_reports.check(db_session(), current_user())


@blp.route("/ledger/entries/<uuid:entry_id>/reversal", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@blp.arguments(ReversalSchema)
@blp.response(201, EntrySchema)
@blp.refuses(404, 409)
def reverse_entry(args: dict, entry_id: uuid.UUID):
    """Reverse an earning, bonus or adjustment once, with a reason (audited; the
    trainer is told). 409: `already-reversed`, `reversal-of-reversal`, `not-reversible`
    (payout movements follow their payout), `would-go-negative`."""
    session, user = db_session(), current_user()
    reversal = corrections.reverse_entry(
        session, user, user.organisation_id, entry_id, reason=args["reason"]
    )
    return ledger_reports.EntryView(reversal, None)


@blp.route("/reports/costs")
@blp.requires(*FINANCE_STAFF)
@blp.arguments(PeriodArgs, location="query")
@blp.response(200, CostReportSchema)
def cost_report(args: dict):
    """What your organisation spent on work in a period (posting time, `from`
    included, `to` not), per currency: in total and per project. Net of reversals and
    negative adjustments."""
    return ledger_reports.cost_report(
        db_session(), current_user(), since=args.get("since"), until=args.get("until")
    )
