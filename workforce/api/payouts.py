"""Payout schedules, runs, items, exports and reconciliation for finance."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from flask import Response

from workforce.accounts.models import FINANCE_STAFF
from workforce.api.payout_accounts import current_gateway
from workforce.api.payouts_schemas import (
    ExclusionListArgs,
    ExclusionSchema,
    ItemListArgs,
    ItemSchema,
    ManualFailureSchema,
    ManualPaymentSchema,
    ReconciliationSchema,
    ReportSchema,
    RunListArgs,
    RunSchema,
    ScheduleSchema,
    ScheduleUpdateSchema,
)
from workforce.api.schemas import PageArgs, WholePeriodArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import database, db_session
from workforce.billing import reconciliation
from workforce.billing.payouts import approval, bank_export, build, outcomes, queries, schedules
from workforce.db import Database
from workforce.integrations.scopes import Scope

blp = Blueprint(
    "payouts", __name__, url_prefix="/api/v1",
    description="Payout schedules, runs, items, exports and reconciliation for finance",
)


# --- schedules -------------------------------------------------------------------------


@blp.route("/payout-schedules", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@blp.arguments(ScheduleSchema)
@blp.response(201, ScheduleSchema)
def create_schedule(args: dict):
    """Pay weekly at a local time in a time zone, with a minimum per currency (minor
    units, whole numbers), approved by finance or automatically. Audited."""
    return schedules.create_schedule(db_session(), current_user(), **args)


@blp.route("/payout-schedules")
@blp.requires(*FINANCE_STAFF, scope=Scope.PAYOUTS_READ)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ScheduleSchema))
def list_schedules(args: dict):
    """The organisation's payout schedules, newest first."""
    return schedules.list_schedules(db_session(), current_user(), page_request(args))


@blp.route("/payout-schedules/<uuid:schedule_id>")
@blp.requires(*FINANCE_STAFF, scope=Scope.PAYOUTS_READ)
@blp.response(200, ScheduleSchema)
@blp.refuses(404)
def get_schedule(schedule_id: uuid.UUID):
    """One payout schedule of the organisation."""
    return schedules.get_schedule(db_session(), current_user(), schedule_id)


@blp.route("/payout-schedules/<uuid:schedule_id>", methods=["PATCH"])
@blp.requires(*FINANCE_STAFF)
@blp.arguments(ScheduleUpdateSchema(partial=True))
@blp.response(200, ScheduleSchema)
@blp.refuses(404)
def update_schedule(args: dict, schedule_id: uuid.UUID):
    """Change a schedule; runs already created keep their period. Audited."""
    return schedules.update_schedule(db_session(), current_user(), schedule_id, **args)


@blp.route("/payout-schedules/<uuid:schedule_id>/runs", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@blp.response(201, RunSchema)
@blp.alt_response(200, schema=RunSchema, description="The period's run existed already.")
@blp.refuses(404)
def run_now(schedule_id: uuid.UUID):
    """"Run now": the run of the schedule's current period (its latest payout moment up
    to now), built from the money available by then: 201 when created, 200 with the
    existing run when the scheduler (or a colleague) created it already. One run per
    period, whoever asks at the same moment."""
    session = db_session()
    run, created = build.run_now(session, current_user(), schedule_id)
    return queries.run_view(session, run), 201 if created else 200


# --- runs --------------------------------------------------------------------------------


@blp.route("/payout-runs")
@blp.requires(*FINANCE_STAFF, scope=Scope.PAYOUTS_READ)
@blp.arguments(RunListArgs, location="query")
@blp.response(200, page_of(RunSchema))
def list_runs(args: dict):
    """The organisation's payout runs, newest first (``?state=``, ``?schedule_id=``)."""
    page = page_request(args)
    return queries.list_runs(db_session(), current_user(), page, **args)


@blp.route("/payout-runs/<uuid:run_id>")
@blp.requires(*FINANCE_STAFF, scope=Scope.PAYOUTS_READ)
@blp.response(200, RunSchema)
@blp.refuses(404)
def get_run(run_id: uuid.UUID):
    """The preview: totals per currency, counts and amounts per state, who was left out
    (by reason). Items and exclusions are listed by the sub-resources."""
    return queries.preview(db_session(), current_user(), run_id)


@blp.route("/payout-runs/<uuid:run_id>/items")
@blp.requires(*FINANCE_STAFF, scope=Scope.PAYOUTS_READ)
@blp.arguments(ItemListArgs, location="query")
@blp.response(200, page_of(ItemSchema))
@blp.refuses(404)
def list_items(args: dict, run_id: uuid.UUID):
    """The run's items, one per trainer and currency (``?state=`` filters)."""
    page = page_request(args)
    return queries.list_items(db_session(), current_user(), run_id, page, **args)


@blp.route("/payout-runs/<uuid:run_id>/exclusions")
@blp.requires(*FINANCE_STAFF, scope=Scope.PAYOUTS_READ)
@blp.arguments(ExclusionListArgs, location="query")
@blp.response(200, page_of(ExclusionSchema))
@blp.refuses(404)
def list_exclusions(args: dict, run_id: uuid.UUID):
    """Trainers owed money but left out of the run, with the reason (below_minimum,
    no_payout_account, account_not_ready, on_hold, after_period: payable only after the
    period ended); their money stays payable."""
    page = page_request(args)
    return queries.list_exclusions(db_session(), current_user(), run_id, page, **args)


@blp.route("/payout-runs/<uuid:run_id>/approve", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@blp.response(200, RunSchema)
@blp.refuses(404, 409)
def approve_run(run_id: uuid.UUID):
    """Approve a run in preview: every item's amount moves from payable to in transit in
    this request, after checking it against the trainer's payable as it is now (an item
    no longer covered is cancelled with the reason). 409 `illegal-transition` when the
    run is not in preview (approving twice). Audited."""
    session = db_session()
    run = approval.approve_run(session, current_user(), run_id)
    return queries.run_view(session, run)


@blp.route("/payout-runs/<uuid:run_id>/cancel", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@blp.response(200, RunSchema)
@blp.refuses(404, 409)
def cancel_run(run_id: uuid.UUID):
    """Cancel a run in preview; nothing moved, the money stays payable. An approved run
    cannot be cancelled (409 `illegal-transition`). Audited; finance is notified."""
    session = db_session()
    run = approval.cancel_run(session, current_user(), run_id)
    return queries.run_view(session, run)


@blp.route("/payout-runs/<uuid:run_id>/process", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@blp.response(202, RunSchema)
@blp.refuses(404, 409)
def process_run(run_id: uuid.UUID):
    """Ask for an approved run to be sent. The scheduler's processing job (every minute)
    sends it, so a long run never holds a request; a run halted with an alert (e.g. an
    insufficient platform balance, after a top-up) is resumed. From a shell:
    `workforce payouts process RUN_ID` sends it at once with a progress bar."""
    session = db_session()
    run = approval.request_processing(session, current_user(), run_id)
    return queries.run_view(session, run)


@blp.route("/payout-runs/<uuid:run_id>/report")
@blp.requires(*FINANCE_STAFF, scope=Scope.PAYOUTS_READ)
@blp.response(200, ReportSchema)
@blp.refuses(404)
def run_report(run_id: uuid.UUID):
    """Counts and amounts per state and currency, failures with their reasons, and who
    was left out."""
    return queries.report(db_session(), current_user(), run_id)


@blp.route("/payout-runs/<uuid:run_id>/items.csv")
@blp.requires(*FINANCE_STAFF)
@blp.doc(responses={"200": {
    "description": "The bank file, streamed: one row per item with the trainer's full "
    "bank details, except details still in the hold that follows a change (left out, "
    "with the reason in the `note` column).",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}})
@blp.refuses(404)
def export_items(run_id: uuid.UUID):
    """The run's items as CSV: the manual method's bank file. The bank details are in
    full (finance pays from this file), so each download is audited."""
    bank_export.record_export(db_session(), current_user(), run_id)
    return Response(
        _bank_file(database(), run_id), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="payout-run-{run_id}.csv"'},
    )


def _bank_file(db: Database, run_id: uuid.UUID) -> Iterator[str]:
    # Streamed after the request's unit of work has ended: its own session.
    session = db.session()
    try:
        yield from bank_export.bank_file(session, run_id)
    finally:
        session.close()


# --- items ------------------------------------------------------------------------------


@blp.route("/payout-items/<uuid:item_id>")
@blp.requires(*FINANCE_STAFF, scope=Scope.PAYOUTS_READ)
@blp.response(200, ItemSchema)
@blp.refuses(404)
def get_item(item_id: uuid.UUID):
    """One payout item of the organisation, with its state and outcome."""
    return queries.get_item(db_session(), current_user(), item_id)


@blp.route("/payout-items/<uuid:item_id>/manual-payment", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@blp.arguments(ManualPaymentSchema)
@blp.response(200, ItemSchema)
@blp.refuses(404, 409)
def record_manual_payment(args: dict, item_id: uuid.UUID):
    """Record the bank reference of a manual-method item finance paid from the bank
    file: it is paid (in transit to paid) and the trainer is told. Once: again is 409
    `illegal-transition`; a Stripe item is 409 `not-manual`. While the trainer's payout
    details are in the hold that follows a change, 409 `account-on-hold` (the bank file
    leaves those details out); if they moved to Stripe since, 409 `account-changed`.
    Audited."""
    session = db_session()
    item = outcomes.record_manual_payment(session, current_user(), item_id, args["reference"])
    return queries.item_view(item)


@blp.route("/payout-items/<uuid:item_id>/manual-failure", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@blp.arguments(ManualFailureSchema)
@blp.response(200, ItemSchema)
@blp.refuses(404, 409)
def record_manual_failure(args: dict, item_id: uuid.UUID):
    """Record that a manual-method item could not be paid: it fails, its money is
    payable again and the trainer is told the reason. Only an approved item (409
    `illegal-transition`); a Stripe item is 409 `not-manual`. Audited; retry it later."""
    session = db_session()
    item = outcomes.record_manual_failure(session, current_user(), item_id, args["reason"])
    return queries.item_view(item)


@blp.route("/payout-items/<uuid:item_id>/retry", methods=["POST"])
@blp.requires(*FINANCE_STAFF)
@blp.response(200, ItemSchema)
@blp.refuses(404, 409)
def retry_item(item_id: uuid.UUID):
    """Send a failed item again with a new idempotency key: approved again (payable to
    in transit) if the trainer's payable still covers it (else 409 `not-covered`: a
    later run paid it). Only a failed item (409 `illegal-transition`), and not while
    the trainer's payout details are held after a change (409 `account-on-hold`) or
    their method changed (409 `account-changed`). Audited."""
    session = db_session()
    item = outcomes.retry_item(session, current_user(), item_id)
    return queries.item_view(item)


# --- reconciliation ----------------------------------------------------------------------


@blp.route("/payout-reconciliations")
@blp.requires(*FINANCE_STAFF, scope=Scope.PAYOUTS_READ)
@blp.arguments(WholePeriodArgs, location="query")
@blp.response(200, ReconciliationSchema)
@blp.refuses(422)
def reconcile(args: dict):
    """Compare, for the period, what the ledger says was paid or is in transit per item
    with the transfers at Stripe, and list every difference (missing transfer, amount
    mismatch, transfer not recorded, duplicate, reversal at Stripe not recorded...).
    422 `gateway-not-configured` without Stripe."""
    return reconciliation.reconcile_for(
        db_session(), current_user(), current_gateway(),
        period_from=args["since"], period_to=args["until"],
    )
