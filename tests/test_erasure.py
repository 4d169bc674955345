"""A trainer's erasure: requested with their password, cancellable during the grace
period, the account closed when it ends, personal data erased once nothing more is owed;
the ledger and the payouts stay whole and balanced."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import time_machine
from flask import Flask
from sqlalchemy import JSON, String, Text, cast, func, select
from sqlalchemy.orm import Session

from tests.client import ApiClient, assert_problem
from tests.factories import PASSWORD, StaffFactory, UserFactory, paid_out, token_for
from tests.payout_helpers import (
    NOW,
    balances,
    finance_user,
    schedule,
    sign_in_for_days,
    trainer_owed,
)
from tests.privacy_helpers import API, rich_trainer, run
from workforce.accounts.models import (
    ApiToken,
    AuditEvent,
    EmailVerification,
    PasswordReset,
    RecoveryCode,
    Role,
    TotpFactor,
    User,
)
from workforce.billing import ledger
from workforce.billing.models import PayoutAccount, PayoutItem, Posting
from workforce.db import Base
from workforce.privacy.models import ErasureRequest, ErasureState
from workforce.projects.models import (
    OPEN_MEMBERSHIP_STATES,
    Assignment,
    AssignmentState,
    ProjectMember,
    WorkPreferences,
)
from workforce.standing.models import AccountAction, ActionState

ERASURE = f"{API}/me/erasure"


def _login(client: ApiClient, email: str, password: str = PASSWORD):
    return client.post(f"{API}/auth/login", json={"email": email, "password": password})


def _mentions(session: Session, *values: str) -> list[str]:
    """Every table.column whose text holds any of ``values``, in the whole database."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text | JSON) and \
                    "JSON" not in type(column.type).__name__:
                continue
            text = cast(column, String)
            for value in values:
                hits = session.scalar(select(func.count()).select_from(table)
                                      .where(text.contains(value)))
                if hits:
                    found.append(f"{table.name}.{column.name} holds {value!r}")
    return found


def test_a_request_needs_the_password_and_can_be_cancelled_in_the_grace_period(
    client: ApiClient, session: Session
) -> None:
    trainer = UserFactory()
    body = assert_problem(client.post(ERASURE, as_user=trainer, json={"password": "wrong one!"}),
                          422)
    assert "password" in body["errors"]
    assert_problem(client.get(ERASURE, as_user=trainer), 404)

    asked = client.post(ERASURE, as_user=trainer, json={"password": PASSWORD})
    assert asked.status_code == 202, asked.get_data(as_text=True)
    shown = asked.get_json()
    assert shown["state"] == "scheduled"
    grace = datetime.fromisoformat(shown["effective_at"]) - datetime.fromisoformat(
        shown["requested_at"])
    assert grace == timedelta(days=7)
    assert_problem(client.post(ERASURE, as_user=trainer, json={"password": PASSWORD}), 409,
                   code="erasure-requested")

    cancelled = client.delete(ERASURE, as_user=trainer)
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    assert_problem(client.get(ERASURE, as_user=trainer), 404)
    assert_problem(client.delete(ERASURE, as_user=trainer), 404)
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == str(trainer.id))
        .order_by(AuditEvent.created_at, AuditEvent.id)).all()
    assert actions == ["account.erasure_requested", "account.erasure_cancelled"]
    assert _login(client, trainer.email).status_code == 200


def test_staff_cannot_ask_for_erasure_here(client: ApiClient) -> None:
    for role in (Role.ADMIN, Role.FINANCE, Role.REVIEWER):
        assert_problem(client.post(ERASURE, as_user=StaffFactory(role=role),
                                   json={"password": PASSWORD}), 403, code="role-forbidden")


def test_erasure_waits_for_money_owed_then_removes_personal_data_and_keeps_the_ledger(
    client: ApiClient, session: Session, app: Flask
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        mine = rich_trainer(client, session, "ZEPHYRINE")
        other = rich_trainer(client, session, "QUENTIN", project=mine.project,
                             reviewer=mine.reviewer)
        trainer, organisation = mine.trainer, mine.organisation
        client._tokens[trainer.id] = token_for(trainer, lifetime=timedelta(days=30))
        email, name = trainer.email, trainer.display_name
        asked = client.post(ERASURE, as_user=trainer, json={"password": PASSWORD})
        assert asked.status_code == 202
        assert run(app, "privacy.carry_out_erasures") == "nothing to do"  # in its grace

    # The grace period over: the account is closed; money is still owed, so it waits.
    with time_machine.travel(start + timedelta(days=7, minutes=1), tick=False):
        assert run(app, "privacy.carry_out_erasures") == "nothing to do"
        session.expire_all()
        request = session.scalars(select(ErasureRequest).where(
            ErasureRequest.user_id == trainer.id)).one()
        assert request.state is ErasureState.WAITING and request.closed_at is not None
        assert "USD payable" in request.waiting_reason
        assert_problem(_login(client, email), 401)
        assert_problem(client.get(f"{API}/me", as_user=trainer), 401)
        assert not session.scalars(select(ProjectMember).where(
            ProjectMember.trainer_id == trainer.id,
            ProjectMember.state.in_(OPEN_MEMBERSHIP_STATES))).all()
        assert not session.scalars(select(Assignment).where(
            Assignment.trainer_id == trainer.id,
            Assignment.state == AssignmentState.LEASED)).all()
        # The week of logged hours was handed in; its approval pays it.
        assert "timesheets awaiting approval" in request.waiting_reason
    with time_machine.travel(start + timedelta(days=15), tick=False):
        assert run(app, "projects.auto_approve_timesheets") == "timesheets approved: 1"
        owed = balances(session, organisation.id, trainer.id)["payable"]
        assert owed > 0
        paid_out(trainer, organisation.id, owed)
        items_before = session.execute(select(PayoutItem.id, PayoutItem.amount, PayoutItem.state)
                                       .where(PayoutItem.trainer_id == trainer.id)).all()
        postings_before = session.scalar(select(func.count()).select_from(Posting))
        assert run(app, "privacy.carry_out_erasures") == "accounts erased: 1"

    session.expire_all()
    request = session.get_one(ErasureRequest, request.id)
    assert request.state is ErasureState.COMPLETED and request.pseudonym
    erased = session.get_one(User, trainer.id)
    assert erased.email == f"{request.pseudonym}@erased.invalid"
    assert erased.display_name == request.pseudonym and not erased.is_active
    # Nothing of the person is left anywhere: address, name, their words, the browser
    # they signed in with, their second factor.
    assert _mentions(session, email, name, "My essay ZEPHYRINE", "Flag words ZEPHYRINE",
                     "Feeling ZEPHYRINE", "My response ZEPHYRINE", "My appeal ZEPHYRINE",
                     "Browser ZEPHYRINE", *mine.secrets) == []
    _sign_in_records_and_refusals_are_gone(session, trainer.id)
    # The account action stays the organisation's record, under the pseudonym.
    action = session.get_one(AccountAction, uuid.UUID(mine.ids["account_action"]))
    assert (action.trainer_id, action.state, action.response, action.appeal) == (
        trainer.id, ActionState.OVERTURNED, "", "")
    assert action.responded_at and action.appealed_at and action.appeal_note
    # The work delivered to the client is kept, under the pseudonymous account.
    assert _mentions(session, "Answer ZEPHYRINE")
    # The other trainer is untouched.
    assert _mentions(session, other.trainer.email, "My essay QUENTIN", "Feeling QUENTIN")
    assert len(_mentions(session, "My response QUENTIN", "My appeal QUENTIN",
                         "Browser QUENTIN", other.secrets[1])) == 4
    # The money: every ledger line and payout kept, the ledger balanced, nothing owed.
    assert ledger.check_balances(session) == []
    assert session.scalar(select(func.count()).select_from(Posting)) == postings_before
    assert session.execute(select(PayoutItem.id, PayoutItem.amount, PayoutItem.state).where(
        PayoutItem.trainer_id == trainer.id)).all() == items_before
    assert balances(session, organisation.id, trainer.id)["payable"] == 0
    account = session.scalars(select(PayoutAccount).where(
        PayoutAccount.trainer_id == trainer.id)).one()
    assert account.bank_details == {}
    # Never again: not with the old address, nor the pseudonym's.
    assert_problem(_login(client, email), 401)
    assert_problem(_login(client, erased.email), 401)
    erased_event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "account.erased", AuditEvent.object_id == str(trainer.id))).one()
    assert erased_event.after["pseudonym"] == request.pseudonym


def _sign_in_records_and_refusals_are_gone(session: Session, trainer_id: uuid.UUID) -> None:
    for model in (ApiToken, PasswordReset, EmailVerification, TotpFactor, RecoveryCode):
        assert not session.scalar(select(func.count()).select_from(model)
                                  .where(model.user_id == trainer_id)), model.__name__
    assert session.get(WorkPreferences, trainer_id) is None
    # The audit log is append-only (the database refuses changes): the record that the
    # pseudonymous account changed its refusals stays.
    assert session.scalars(select(AuditEvent).where(
        AuditEvent.action == "trainer.work_preferences_changed",
        AuditEvent.object_id == str(trainer_id))).all()


def test_an_account_with_nothing_owed_is_erased_when_the_grace_period_ends(
    client: ApiClient, session: Session, app: Flask
) -> None:
    start = datetime.now(UTC)
    trainer = UserFactory()
    with time_machine.travel(start, tick=False):
        client._tokens[trainer.id] = token_for(trainer, lifetime=timedelta(days=30))
        asked = client.post(f"{API}/me/data-exports", as_user=trainer)
        assert asked.status_code == 202
        assert client.post(ERASURE, as_user=trainer, json={"password": PASSWORD}
                           ).status_code == 202
    with time_machine.travel(start + timedelta(days=6), tick=False):
        assert_problem(client.delete(f"{API}/me/erasure", as_user=UserFactory()), 404)
        assert client.get(ERASURE, as_user=trainer).get_json()["state"] == "scheduled"
    with time_machine.travel(start + timedelta(days=7, seconds=1), tick=False):
        assert run(app, "privacy.carry_out_erasures") == "accounts erased: 1"
        assert run(app, "privacy.prepare_data_exports") == "nothing to do"  # given up
    session.expire_all()
    assert session.get_one(User, trainer.id).email.endswith("@erased.invalid")


def test_a_balance_below_the_payout_minimum_is_paid_so_that_the_erasure_proceeds(
    client: ApiClient, session: Session, app: Flask
) -> None:
    """Below the minimum a balance is never paid; a trainer whose erasure waits for it
    is paid whatever it is in the next run, and then erased."""
    fin = finance_user()
    found = schedule(session, fin.organisation_id, minimums={"USD": 1000})
    leaving = trainer_owed(fin.organisation_id, 400, method="manual")
    staying = trainer_owed(fin.organisation_id, 400, method="manual")
    sign_in_for_days(client, fin, leaving)
    with time_machine.travel(NOW, tick=False):
        assert client.post(ERASURE, as_user=leaving, json={"password": PASSWORD}
                           ).status_code == 202
    later = NOW + timedelta(days=8)
    with time_machine.travel(later, tick=False):
        assert run(app, "privacy.carry_out_erasures") == "nothing to do"
        session.expire_all()
        waiting = session.scalars(select(ErasureRequest).where(
            ErasureRequest.user_id == leaving.id)).one()
        assert waiting.state is ErasureState.WAITING
        assert waiting.waiting_reason == "Waiting until this is settled: 400 USD payable."

        built = client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=fin)
        assert built.status_code == 201, built.get_data(as_text=True)
        payout_run = built.get_json()
        items = client.get(f"{API}/payout-runs/{payout_run['id']}/items",
                           as_user=fin).get_json()["items"]
        assert [(i["trainer_id"], i["amount"]) for i in items] == [(str(leaving.id), 400)]
        left_out = client.get(f"{API}/payout-runs/{payout_run['id']}/exclusions",
                              as_user=fin).get_json()["items"]
        assert [(e["trainer_id"], e["reason"]) for e in left_out] == [
            (str(staying.id), "below_minimum")]
        approved = client.post(f"{API}/payout-runs/{payout_run['id']}/approve", as_user=fin)
        assert approved.status_code == 200, approved.get_data(as_text=True)
        paid = client.post(f"{API}/payout-items/{items[0]['id']}/manual-payment",
                           as_user=fin, json={"reference": "BANK-ERASURE-1"})
        assert paid.status_code == 200, paid.get_data(as_text=True)
        assert run(app, "privacy.carry_out_erasures") == "accounts erased: 1"

    session.expire_all()
    assert session.get_one(ErasureRequest, waiting.id).state is ErasureState.COMPLETED
    assert balances(session, fin.organisation_id, leaving.id)["payable"] == 0
    assert balances(session, fin.organisation_id, staying.id)["payable"] == 400
    assert ledger.check_balances(session) == []
