"""Money owed to trainers, payout schedules and runs, and Stripe through the stand-in,
for the payout tests.

Time matters here: a run pays what is available by its period end, so the tests record
earnings at ``EARNED_AT`` (before the period) and act at ``NOW`` (after it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client import ApiClient
from tests.factories import (
    OrganisationFactory,
    StaffFactory,
    UserFactory,
    earned,
    payout_account,
    token_for,
)
from tests.stripe_standin import StripeStandin
from workforce.accounts.models import Organisation, Role, User
from workforce.billing import ledger, payouts
from workforce.billing.gateways.stripe import gateway_from_settings
from workforce.billing.models import (
    AccountKind,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    PayoutItem,
    PayoutMethod,
    PayoutRun,
    PayoutSchedule,
    SourceType,
)

API = "/api/v1"
# A Monday morning; the weekly payout moment (Monday 02:00 UTC) is before it.
NOW = datetime(2025, 3, 17, 9, 0, tzinfo=UTC)
PERIOD_END = datetime(2025, 3, 17, 2, 0, tzinfo=UTC)
EARNED_AT = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
SET_UP_AT = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def finance_user(organisation: Organisation | None = None) -> User:
    return StaffFactory(role=Role.FINANCE, organisation=organisation or OrganisationFactory())


def sign_in_for_days(client: ApiClient, *users: User) -> None:
    """Tokens that outlive the days these tests travel through."""
    for user in users:
        client._tokens[user.id] = token_for(user, lifetime=timedelta(days=400))


def earn(trainer: User, organisation_id: uuid.UUID, amount: int, *, currency: str = "USD",
         at: datetime = EARNED_AT) -> Any:
    """An earning recorded at ``at`` (before the period end by default)."""
    with time_machine.travel(at, tick=False):
        return earned(trainer, organisation_id, amount, currency=currency)


def trainer_owed(organisation_id: uuid.UUID, amount: int, *, method: str = "stripe",
                 ready: bool = True, currency: str = "USD", **account: Any) -> User:
    """A trainer owed ``amount`` by the organisation, with a payout account."""
    trainer = UserFactory()
    if method:
        payout_account(trainer, method=method, ready=ready, **account)
    earn(trainer, organisation_id, amount, currency=currency)
    return trainer


def stripe_trainer(standin: StripeStandin, *, ready: bool = False) -> tuple[User, str]:
    """A trainer whose payout account is a connected account at the stand-in, ready (or
    not) both by our records and at Stripe; with the account's id."""
    trainer = UserFactory()
    account_id = standin.add_account(payouts_enabled=ready, email=trainer.email)
    payout_account(trainer, method=PayoutMethod.STRIPE, ready=ready,
                   stripe_account_id=account_id)
    return trainer, account_id


def stripe_trainer_owed(standin: StripeStandin, organisation_id: uuid.UUID, amount: int,
                        *, enabled_at_stripe: bool = True) -> User:
    """A trainer owed ``amount``, paid through a connected account at the stand-in (ready
    by our records, whatever Stripe says)."""
    trainer = UserFactory()
    account = standin.add_account(payouts_enabled=enabled_at_stripe)
    payout_account(trainer, method="stripe", stripe_account_id=account)
    earn(trainer, organisation_id, amount)
    return trainer


def schedule(session: Session, organisation_id: uuid.UUID, **fields: Any) -> PayoutSchedule:
    """A weekly schedule (Monday 02:00 UTC), set up a while ago."""
    values: dict[str, Any] = {
        "name": "Weekly", "weekday": 0, "hour": 2, "minute": 0, "timezone": "UTC",
        "minimums": {}, "auto_approve": False, "active": True,
        "created_at": SET_UP_AT, "updated_at": SET_UP_AT,
    }
    values.update(fields)
    found = PayoutSchedule(organisation_id=organisation_id, **values)
    session.add(found)
    session.commit()
    return found


def approved_run(session: Session, fin: User, found: PayoutSchedule | None = None,
                 period_end: datetime = PERIOD_END) -> PayoutRun:
    """A run built and approved through the services: by default, a new weekly
    schedule's for the period."""
    if found is None:
        found = schedule(session, fin.organisation_id)
    run, _ = payouts.ensure_run(session, fin, found, period_end)
    payouts.approve_run(session, fin, run.id)
    session.commit()
    return run


def approved_run_by_api(client: ApiClient, session: Session, fin: User) -> dict:
    """A new weekly schedule's run, built and approved by finance through the API; the
    run as the API returns it."""
    found = schedule(session, fin.organisation_id)
    run = client.post(f"{API}/payout-schedules/{found.id}/runs", as_user=fin).get_json()
    response = client.post(f"{API}/payout-runs/{run['id']}/approve", as_user=fin)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def item_of(session: Session, trainer: User) -> PayoutItem:
    session.expire_all()
    return session.scalars(select(PayoutItem).where(PayoutItem.trainer_id == trainer.id)).one()


def balances(session: Session, organisation_id: uuid.UUID, trainer_id: uuid.UUID,
             currency: str = "USD") -> dict[str, int]:
    """The trainer's payable, in transit and paid with the organisation, as people read
    them (credit-normal accounts negated)."""
    session.expire_all()
    rows = session.scalars(select(LedgerAccount).where(
        LedgerAccount.organisation_id == organisation_id,
        LedgerAccount.owner_type == OwnerType.TRAINER,
        LedgerAccount.owner_id == trainer_id, LedgerAccount.currency == currency,
    ))
    found = {account.kind.value: -account.balance for account in rows}
    return {kind.value: found.get(kind.value, 0) for kind in ledger.TRAINER_KINDS}


def entries(session: Session, source_type: SourceType,
            trainer_id: uuid.UUID | None = None) -> list[JournalEntry]:
    stmt = select(JournalEntry).where(JournalEntry.source_type == source_type)
    if trainer_id is not None:
        stmt = stmt.where(JournalEntry.trainer_id == trainer_id)
    return list(session.scalars(stmt))


def assert_ledger_sound(session: Session) -> None:
    session.expire_all()
    assert ledger.check_balances(session) == []


def expense_of(session: Session, organisation_id: uuid.UUID, currency: str = "USD") -> int:
    account = session.scalars(select(LedgerAccount).where(
        LedgerAccount.organisation_id == organisation_id,
        LedgerAccount.owner_type == OwnerType.ORGANISATION,
        LedgerAccount.kind == AccountKind.EXPENSE, LedgerAccount.currency == currency,
    )).one_or_none()
    return account.balance if account else 0


def configure(monkeypatch: pytest.MonkeyPatch, app: Flask, **changes: Any) -> None:
    """Change the app's settings for one test, and its gateway with them (as the app
    factory builds it)."""
    services = app.extensions["workforce"]
    monkeypatch.setattr(services, "settings", replace(services.settings, **changes))
    monkeypatch.setattr(services, "gateway", gateway_from_settings(services.settings))


@pytest.fixture
def stripe_app(app: Flask, stripe_standin: StripeStandin,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The test app with Stripe and its webhooks pointed at the stand-in. A fixture:
    import it (and ``stripe_standin``) into the test module."""
    configure(monkeypatch, app, stripe_webhook_secret=stripe_standin.webhook_secret,
              stripe_connect_webhook_secret=stripe_standin.connect_webhook_secret,
              stripe_api_key=stripe_standin.api_key, stripe_api_base=stripe_standin.url)
    yield app
