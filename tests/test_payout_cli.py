"""``workforce payouts``: run-now, preview, approve, process and report from a shell,
in-process against the test database and the Stripe stand-in."""

from __future__ import annotations

from dataclasses import replace

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import StaffFactory, UserFactory, payout_account
from tests.payout_helpers import NOW, assert_ledger_sound, balances, earn, finance_user, schedule
from tests.stripe_standin import StripeStandin, stripe_standin
from workforce.accounts.models import AuditEvent, Role, User
from workforce.app import create_app
from workforce.billing import processing
from workforce.billing.cli import payouts
from workforce.billing.models import ItemState, PayoutItem, PayoutRun, RunState
from workforce.db import Database
from workforce.notifications.senders import MemorySender
from workforce.settings import Settings

__all__ = ["stripe_standin"]  # the fixture, imported for pytest


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def stripe_app(settings: Settings, database: Database, stripe_standin: StripeStandin) -> Flask:
    return create_app(
        replace(settings, stripe_api_key=stripe_standin.api_key,
                stripe_api_base=stripe_standin.url, payout_requests_per_second=100),
        database=database, email_sender=MemorySender(), configure_logging=False,
    )


@pytest.fixture
def run(session: Session):
    def invoke(app: Flask, *args: str):
        result = app.test_cli_runner().invoke(payouts, list(args))
        session.expire_all()
        return result

    return invoke


def approved_by_cli(run, app: Flask, session: Session,
                    standin: StripeStandin) -> tuple[User, str]:
    """A finance user and the run of their auto-approving schedule, made with run-now,
    paying one trainer 8.00 USD through the stand-in."""
    fin = finance_user()
    trainer = UserFactory()
    payout_account(trainer, method="stripe",
                   stripe_account_id=standin.add_account(payouts_enabled=True))
    earn(trainer, fin.organisation_id, 800)
    found = schedule(session, fin.organisation_id, auto_approve=True)
    assert run(app, "run-now", str(found.id)).exit_code == 0
    return fin, str(session.scalars(select(PayoutRun)).one().id)


def test_build_preview_approve_process_and_report(
    run, app: Flask, stripe_app: Flask, session: Session, stripe_standin: StripeStandin
) -> None:
    fin = finance_user()
    org = fin.organisation_id
    found = schedule(session, org, minimums={"USD": 500})
    paid = UserFactory(display_name="Mei Chan")
    payout_account(paid, method="stripe",
                   stripe_account_id=stripe_standin.add_account(payouts_enabled=True))
    earn(paid, org, 2500)
    refused = UserFactory(display_name="Ka Ho")
    payout_account(refused, method="stripe",
                   stripe_account_id=stripe_standin.add_account(payouts_enabled=False))
    earn(refused, org, 700)
    earn(UserFactory(), org, 900)  # no payout account

    built = run(app, "run-now", str(found.id), "--by", fin.email)
    assert built.exit_code == 0, built.output
    assert "created" in built.output and "USD: 2 payouts, 32.00 USD" in built.output
    assert "no_payout_account" in built.output
    the_run = session.scalars(select(PayoutRun)).one()
    run_id = str(the_run.id)
    assert "exists already" in run(app, "run-now", str(found.id)).output

    shown = run(app, "preview", run_id)
    assert shown.exit_code == 0 and "preview" in shown.output

    outsider = StaffFactory(role=Role.VENDOR_MANAGER, organisation=fin.organisation)
    refused_by = run(app, "approve", run_id, "--by", outsider.email)
    assert refused_by.exit_code != 0 and "not an active finance user" in refused_by.output
    approved = run(app, "approve", run_id, "--by", fin.email)
    assert approved.exit_code == 0, approved.output
    assert session.get(PayoutRun, the_run.id).approved_by_id == fin.id
    twice = run(app, "approve", run_id)
    assert twice.exit_code != 0 and "cannot go from approved" in twice.output

    no_stripe = run(app, "process", run_id)
    assert no_stripe.exit_code != 0 and "not configured" in no_stripe.output
    processed = run(stripe_app, "process", run_id)
    assert processed.exit_code == 0, processed.output
    assert "paid 1, failed 1" in processed.output
    assert len(stripe_standin.transfers) == 1
    assert balances(session, org, paid.id)["paid"] == 2500
    assert balances(session, org, refused.id)["payable"] == 700

    report = run(app, "report", run_id)
    assert report.exit_code == 0
    assert "Ka Ho" in report.output and "insufficient_capabilities" in report.output
    assert session.get(PayoutRun, the_run.id).state is RunState.COMPLETED
    states = {i.trainer_id: i.state for i in session.scalars(select(PayoutItem))}
    assert states == {paid.id: ItemState.PAID, refused.id: ItemState.FAILED}
    actions = {e.action for e in session.scalars(select(AuditEvent))}
    assert {"payout_run.created", "payout_run.approved"} <= actions
    assert_ledger_sound(session)


def test_a_halted_run_is_resumed_only_when_asked(
    run, stripe_app: Flask, session: Session, stripe_standin: StripeStandin
) -> None:
    _, run_id = approved_by_cli(run, stripe_app, session, stripe_standin)
    stripe_standin.set_balance("usd", 100)

    halted = run(stripe_app, "process", run_id)
    assert halted.exit_code == 1 and "halted" in halted.output
    assert f"workforce payouts process {run_id} --resume" in halted.output
    assert f"POST /api/v1/payout-runs/{run_id}/process" in halted.output
    stripe_standin.set_balance("usd", None)
    still = run(stripe_app, "process", run_id)
    assert still.exit_code != 0 and "halted" in still.output
    assert stripe_standin.transfers == []
    resumed = run(stripe_app, "process", run_id, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert len(stripe_standin.transfers) == 1


def test_unknown_ids_are_reported_plainly(run, app: Flask) -> None:
    result = run(app, "preview", "00000000-0000-0000-0000-000000000000")
    assert result.exit_code != 0 and "no payout run" in result.output
    assert "Traceback" not in result.output


def test_payouts_left_for_later_exit_non_zero_and_say_what_to_run(
    run, stripe_app: Flask, session: Session, stripe_standin: StripeStandin
) -> None:
    _, run_id = approved_by_cli(run, stripe_app, session, stripe_standin)
    stripe_standin.fail_next("POST /v1/transfers", status=500, times=processing.MAX_ATTEMPTS)

    deferred = run(stripe_app, "process", run_id)
    assert deferred.exit_code == 75, deferred.output
    assert "left for later 1" in deferred.output
    assert "1 payouts are left to send" in deferred.output
    assert f"workforce payouts process {run_id}` again" in deferred.output

    done = run(stripe_app, "process", run_id)
    assert done.exit_code == 0, done.output
    assert len(stripe_standin.transfers) == 1


def test_reconcile_from_a_shell(
    run, app: Flask, stripe_app: Flask, session: Session, stripe_standin: StripeStandin
) -> None:
    from workforce.notifications.models import Notification

    fin, run_id = approved_by_cli(run, stripe_app, session, stripe_standin)
    assert run(stripe_app, "process", run_id).exit_code == 0
    window = ("--from", "2025-03-17T08:00:00Z", "--to", "2025-03-17T11:00:00+01:00")

    clean = run(stripe_app, "reconcile", *window)
    assert clean.exit_code == 0, clean.output
    assert "1 payouts and 1 transfers checked" in clean.output and "balanced" in clean.output

    [transfer] = stripe_standin.transfers
    stripe_standin.reverse_transfer(transfer["id"])  # no webhook yet
    found_one = run(stripe_app, "reconcile", *window, "--notify")
    assert found_one.exit_code == 1, found_one.output
    assert "reversed_not_recorded" in found_one.output and "1 differences" in found_one.output
    assert session.scalars(select(Notification).where(
        Notification.user_id == fin.id, Notification.kind == "payout.reconciliation")).one()

    backwards = run(stripe_app, "reconcile", "--from", "2025-03-17T10:00:00Z",
                    "--to", "2025-03-17T09:00:00Z")
    assert backwards.exit_code == 1 and "Must be after 'from'" in backwards.output
    naive = run(stripe_app, "reconcile", "--from", "2025-03-17T10:00:00", "--to",
                "2025-03-17T11:00:00Z")
    assert naive.exit_code == 2 and "offset" in naive.output
    assert "--from" in naive.output
    no_stripe = run(app, "reconcile", *window)
    assert no_stripe.exit_code == 1 and "not configured" in no_stripe.output
