"""Payouts under real concurrency and real crashes, on PostgreSQL (the live database):
two schedulers and a finance user creating the same period's run at once, two processor
processes sending the same run, approving twice at once, and a processor SIGKILLed at
each named crash point and run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from tests import factories
from tests.factories import (
    OrganisationFactory,
    StaffFactory,
    UserFactory,
    payout_account,
    token_for,
)
from tests.payout_helpers import API, earn
from tests.races import bearer, race
from tests.stripe_standin import StripeStandin, shared_standin, stripe_standin
from workforce import clock
from workforce.accounts.models import Role, User
from workforce.billing import ledger, payouts
from workforce.billing.models import (
    AccountKind,
    ItemState,
    JournalEntry,
    LedgerAccount,
    PayoutAccount,
    PayoutItem,
    PayoutRun,
    PayoutSchedule,
    RunState,
    SourceType,
)
from workforce.db import Database

__all__ = ["stripe_standin"]  # the fixture, imported for pytest

TRANSFERS = "POST /v1/transfers"
ROOT = Path(__file__).resolve().parent.parent


def setup_org(live_session: Session, standin: StripeStandin, trainers: int,
              **schedule_fields: object) -> tuple[User, PayoutSchedule, list[User]]:
    """An organisation with a finance user, a weekly schedule set up long ago, and
    trainers owed money (earned before any recent payout moment) with Stripe accounts."""
    organisation = OrganisationFactory()
    fin = StaffFactory(role=Role.FINANCE, organisation=organisation)
    now = clock.now()
    schedule = PayoutSchedule(
        organisation_id=organisation.id, name="Weekly", weekday=now.weekday(), hour=0,
        minute=0, timezone="UTC", minimums={}, auto_approve=False, active=True,
        created_at=now - timedelta(days=60), updated_at=now - timedelta(days=60),
        **schedule_fields,
    )
    live_session.add(schedule)
    live_session.commit()
    people = []
    for n in range(trainers):
        trainer = UserFactory()
        account = standin.add_account(payouts_enabled=True)
        payout_account(trainer, method="stripe", stripe_account_id=account)
        earn(trainer, organisation.id, 1000 + n, at=now - timedelta(days=8))
        people.append(trainer)
    return fin, schedule, people


def token(live_session: Session, user: User) -> str:
    return token_for(user)


def approved_run(live_database: Database, fin: User, schedule: PayoutSchedule) -> uuid.UUID:
    with live_database.unit_of_work() as session:
        run, _ = payouts.ensure_run(session, session.get(User, fin.id),
                                    session.get(PayoutSchedule, schedule.id),
                                    payouts.latest_due(schedule, clock.now()))
        payouts.approve_run(session, session.get(User, fin.id), run.id)
        return run.id


def paid_entries(live_session: Session, item_ids: list[uuid.UUID]) -> Counter:
    live_session.expire_all()
    return Counter(live_session.scalars(select(JournalEntry.source_id).where(
        JournalEntry.source_type == SourceType.PAYOUT_PAID,
        JournalEntry.source_id.in_(item_ids))))


def items_of(live_session: Session, run_id: uuid.UUID) -> list[PayoutItem]:
    live_session.expire_all()
    return list(live_session.scalars(
        select(PayoutItem).where(PayoutItem.run_id == run_id).order_by(PayoutItem.id)))


def assert_ledger_sound(live_session: Session) -> None:
    live_session.expire_all()
    assert ledger.check_balances(live_session) == []


# --- one run per period ------------------------------------------------------------------


def test_two_schedulers_and_run_now_create_one_run(
    live_app: Flask, live_database: Database, live_session: Session,
    stripe_standin: StripeStandin,
) -> None:
    """Must hold 1 (the run): two scheduler processes and finance pressing "run now" at
    the same moment end with one run for the period, built once."""
    fin, schedule, trainers = setup_org(live_session, stripe_standin, 5)
    raw = token(live_session, fin)

    def scheduler(_client: FlaskClient) -> int:
        with live_database.unit_of_work() as session:
            return payouts.create_due_runs(session, now=clock.now())

    def run_now(client: FlaskClient):
        return client.post(f"{API}/payout-schedules/{schedule.id}/runs", headers=bearer(raw))

    created_a, created_b, response = race(live_app, [scheduler, scheduler, run_now])
    assert response.status_code in (200, 201), response.get_json()
    assert created_a + created_b + (response.status_code == 201) == 1
    runs = live_session.scalars(select(PayoutRun).where(
        PayoutRun.schedule_id == schedule.id)).all()
    assert len(runs) == 1 and response.get_json()["id"] == str(runs[0].id)
    assert len(items_of(live_session, runs[0].id)) == len(trainers)


SCHEDULER_PROCESS = """
import sys
from workforce.billing import jobs
from workforce.db import Database
database = Database(sys.argv[1])
database.engine.connect().close()  # connected and imported before the start signal
print("ready", flush=True)
sys.stdin.readline()
print(jobs.create_due_runs(database), flush=True)
"""


def test_two_scheduler_processes_and_run_now_create_one_run(
    live_app: Flask, live_database: Database, live_session: Session,
    stripe_standin: StripeStandin,
) -> None:
    """The same with real processes: two schedulers' ``create_due_runs`` jobs, each in
    its own interpreter, released together with finance pressing "run now"."""
    fin, schedule, trainers = setup_org(live_session, stripe_standin, 6)
    raw = token(live_session, fin)
    url = live_database.engine.url.render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKFORCE_")}
    schedulers = [
        subprocess.Popen(  # noqa: S603 (our own interpreter and code)
            [sys.executable, "-c", SCHEDULER_PROCESS, url], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for proc in schedulers:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", (
            proc.communicate(timeout=60))

    def start(proc: subprocess.Popen) -> object:
        def go(_client: FlaskClient) -> None:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        return go

    def run_now(client: FlaskClient):
        return client.post(f"{API}/payout-schedules/{schedule.id}/runs", headers=bearer(raw))

    *_, response = race(live_app, [start(proc) for proc in schedulers] + [run_now])
    results = [proc.communicate(timeout=120) for proc in schedulers]
    assert [proc.returncode for proc in schedulers] == [0, 0], results
    runs = live_session.scalars(select(PayoutRun).where(
        PayoutRun.schedule_id == schedule.id)).all()
    assert response.status_code in (200, 201), response.get_json()
    assert len(runs) == 1 and response.get_json()["id"] == str(runs[0].id)
    items = items_of(live_session, runs[0].id)
    assert sorted(i.trainer_id for i in items) == sorted(t.id for t in trainers)
    assert sorted(i.amount for i in items) == [1000 + n for n in range(len(trainers))]
    assert_ledger_sound(live_session)


def test_approving_twice_at_once_moves_the_money_once(
    live_app: Flask, live_database: Database, live_session: Session,
    stripe_standin: StripeStandin,
) -> None:
    fin, schedule, trainers = setup_org(live_session, stripe_standin, 4)
    colleague = StaffFactory(role=Role.FINANCE, organisation=fin.organisation)
    with live_database.unit_of_work() as session:
        run, _ = payouts.ensure_run(session, session.get(User, fin.id),
                                    session.get(PayoutSchedule, schedule.id),
                                    payouts.latest_due(schedule, clock.now()))
        run_id = run.id
    tokens = [token(live_session, fin), token(live_session, colleague)]
    responses = race(live_app, [
        lambda client, raw=raw: client.post(f"{API}/payout-runs/{run_id}/approve",
                                            headers=bearer(raw))
        for raw in tokens
    ])
    assert sorted(r.status_code for r in responses) == [200, 409]
    refused = next(r for r in responses if r.status_code == 409).get_json()
    assert refused["type"].endswith("illegal-transition")
    assert refused["current_state"] == "approved"
    live_session.expire_all()
    approved = live_session.scalar(select(func.count()).select_from(JournalEntry).where(
        JournalEntry.source_type == SourceType.PAYOUT_APPROVED,
        JournalEntry.source_id.in_([i.id for i in items_of(live_session, run_id)])))
    assert approved == len(trainers)
    assert_ledger_sound(live_session)


def outcome(live_session: Session, standin: StripeStandin, fin: User, people: list[User],
            run_id: uuid.UUID) -> dict[str, Counter]:
    """What a payout run left behind in one world, with its ids replaced by the trainer's
    place in ``people`` so that two worlds built alike compare equal: every ledger entry
    of the organisation (source type, trainer, and each posting's account and amount),
    the run's items, and the transfers at the stand-in for them (with how many)."""
    live_session.expire_all()
    who = {person.id: n for n, person in enumerate(people)}
    entries: Counter = Counter()
    for entry in live_session.scalars(select(JournalEntry).where(
            JournalEntry.organisation_id == fin.organisation_id)):
        legs = tuple(sorted(
            (posting.account.owner_type.value, posting.account.kind.value,
             who.get(posting.account.owner_id, "org"), posting.amount, posting.currency)
            for posting in entry.postings))
        entries[(entry.source_type.value, who.get(entry.trainer_id), legs)] += 1
    items = items_of(live_session, run_id)
    by_group = {payouts.transfer_group(item.id): who[item.trainer_id] for item in items}
    accounts = {item.trainer_id: item.payout_account_id for item in items}
    transfers: Counter = Counter(
        (by_group[t["transfer_group"]], t["amount"], t["currency"],
         t["destination"] == live_session.get(
             PayoutAccount, accounts[people[by_group[t["transfer_group"]]].id]
         ).stripe_account_id)
        for t in standin.transfers if t["transfer_group"] in by_group)
    states = Counter((who[i.trainer_id], i.state.value, i.amount, i.transfer_id is not None)
                     for i in items)
    return {"entries": entries, "transfers": transfers, "items": states}


@pytest.fixture(scope="module")
def uninterrupted(live_database: Database) -> dict[str, Counter]:
    """The outcome of a processor that is never interrupted, on a world built like the
    crash tests' own (two trainers owed 1000 and 1001), computed once for all points."""
    standin = shared_standin()
    standin.reset()
    session = live_database.session()
    factories.bind(session)
    try:
        fin, schedule, people = setup_org(session, standin, 2)
        run_id = approved_run(live_database, fin, schedule)
        code, output = finish(processor(live_database, standin, run_id))
        assert code == 0, output
        return outcome(session, standin, fin, people, run_id)
    finally:
        factories.bind(None)
        session.close()
        standin.reset()


# --- processors as separate processes ------------------------------------------------------


def processor(live_database: Database, standin: StripeStandin, run_id: uuid.UUID, *,
              crash_at: str | None = None, senders: int | None = None) -> subprocess.Popen:
    """``workforce payouts process RUN_ID`` in its own process, against the live
    database and the stand-in (with the default number of senders side by side, or
    ``senders``)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WORKFORCE_")},
        "WORKFORCE_ENV": "test",
        "WORKFORCE_DATABASE_URL": live_database.engine.url.render_as_string(
            hide_password=False),
        "WORKFORCE_STRIPE_API_KEY": standin.api_key or "sk_test_x",
        "WORKFORCE_STRIPE_API_BASE": standin.url,
        "WORKFORCE_PAYOUT_REQUESTS_PER_SECOND": "100",
        "WORKFORCE_LOG_LEVEL": "WARNING",
    }
    if senders is not None:
        env["WORKFORCE_PAYOUT_CONCURRENCY"] = str(senders)
    command = (["tests.killed_processor", crash_at] if crash_at
               else ["workforce.cli", "payouts", "process"])
    return subprocess.Popen(  # noqa: S603 (our own interpreter and modules)
        [sys.executable, "-m", *command, str(run_id)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def test_two_processor_processes_make_one_transfer_per_item(
    live_database: Database, live_session: Session, stripe_standin: StripeStandin,
) -> None:
    """Must hold 1 (the transfers): two processes send the same run at the same time."""
    fin, schedule, trainers = setup_org(live_session, stripe_standin, 12)
    run_id = approved_run(live_database, fin, schedule)

    first, second = (processor(live_database, stripe_standin, run_id) for _ in range(2))
    for proc in (first, second):
        code, output = finish(proc)
        assert code == 0, output

    items = items_of(live_session, run_id)
    assert [i.state for i in items] == [ItemState.PAID] * len(trainers)
    groups = Counter(t["transfer_group"] for t in stripe_standin.transfers)
    assert groups == Counter({f"payout-item-{i.id}": 1 for i in items})
    # Each item was sent by one processor only (the row lock is held through the call).
    keys = Counter(r.idempotency_key for r in stripe_standin.requests_to(TRANSFERS))
    assert set(keys.values()) == {1}
    assert paid_entries(live_session, [i.id for i in items]) == Counter(
        {i.id: 1 for i in items})
    assert live_session.get(PayoutRun, run_id).state is RunState.COMPLETED
    assert_ledger_sound(live_session)


@pytest.mark.parametrize("point,sends_of_first", [
    ("after_key_saved", 1),  # must hold 3: killed before the call
    ("after_gateway", 2),  # must hold 2: killed after Stripe made the transfer
    ("before_commit", 2),  # the same, with the ledger written but not committed
    ("after_commit", 1),  # recorded; the rerun has nothing left for that item
])
def test_a_processor_killed_at_each_point_finishes_once_on_rerun(
    live_database: Database, live_session: Session, stripe_standin: StripeStandin,
    point: str, sends_of_first: int, uninterrupted: dict[str, Counter],
) -> None:
    """Killed at the point, then run again: the same outcome as a run that was never
    interrupted, on a twin world (same trainers, amounts and schedule): the same ledger
    entries and postings by source and amount, and the same transfers at the stand-in."""
    fin, schedule, people = setup_org(live_session, stripe_standin, 2)
    run_id = approved_run(live_database, fin, schedule)
    first_item = items_of(live_session, run_id)[0]

    # One sender, so that the crash comes at a known item (senders side by side are
    # covered by the tests below and the two-process test above).
    code, output = finish(processor(live_database, stripe_standin, run_id, crash_at=point,
                                    senders=1))
    assert code == -signal.SIGKILL, output
    crashed = items_of(live_session, run_id)[0]
    assert crashed.idempotency_key == f"payout-item-{first_item.id}"  # saved before sending
    expected_state = ItemState.PAID if point == "after_commit" else ItemState.APPROVED
    assert crashed.state is expected_state
    assert len(stripe_standin.transfers) == (0 if point == "after_key_saved" else 1)

    code, output = finish(processor(live_database, stripe_standin, run_id))
    assert code == 0, output
    items = items_of(live_session, run_id)
    assert [i.state for i in items] == [ItemState.PAID, ItemState.PAID]
    sent = [r.idempotency_key for r in stripe_standin.requests_to(TRANSFERS)]
    assert sent.count(crashed.idempotency_key) == sends_of_first
    assert len(stripe_standin.transfers) == 2
    assert Counter(t["transfer_group"] for t in stripe_standin.transfers) == Counter(
        {f"payout-item-{i.id}": 1 for i in items})
    assert items[0].transfer_id == next(
        t["id"] for t in stripe_standin.transfers
        if t["transfer_group"] == f"payout-item-{first_item.id}")
    assert paid_entries(live_session, [i.id for i in items]) == Counter(
        {i.id: 1 for i in items})
    assert_ledger_sound(live_session)
    assert outcome(live_session, stripe_standin, fin, people, run_id) == uninterrupted


# --- senders side by side in one processor -------------------------------------------------


def test_senders_side_by_side_make_one_transfer_per_item(
    live_database: Database, live_session: Session, stripe_standin: StripeStandin,
) -> None:
    """Several senders in one processor (``payout_concurrency``) share a run's items: each
    item is still locked, keyed, sent and recorded once, and the run completes."""
    from workforce.billing import processing

    fin, schedule, trainers = setup_org(live_session, stripe_standin, 24)
    run_id = approved_run(live_database, fin, schedule)
    stripe_standin.latency = 0.02  # requests overlap, as with Stripe's ~50 ms
    checkouts: list[object] = []

    def checkout(*args: object) -> None:
        checkouts.append(args)

    event.listen(live_database.engine, "checkout", checkout)
    try:
        result = processing.process_run(live_database, run_id, stripe_standin.gateway(),
                                        rate=1000, concurrency=6)
    finally:
        event.remove(live_database.engine, "checkout", checkout)

    assert (result.paid, result.failed, result.deferred) == (len(trainers), 0, 0)
    # No sender picked an item another had keyed and not yet locked again to send.
    assert result.skipped == 0
    assert result.completed
    # Each sender (a batch of ``BATCH`` requests in flight) keeps one connection for its
    # run (not two checkouts, each with a ping, per item); one more to start the run and
    # one to finish it.
    assert len(checkouts) <= -(-6 // processing.BATCH) + 2
    items = items_of(live_session, run_id)
    assert [i.state for i in items] == [ItemState.PAID] * len(trainers)
    assert Counter(t["transfer_group"] for t in stripe_standin.transfers) == Counter(
        {f"payout-item-{i.id}": 1 for i in items})
    keys = Counter(r.idempotency_key for r in stripe_standin.requests_to(TRANSFERS))
    assert set(keys.values()) == {1}
    assert paid_entries(live_session, [i.id for i in items]) == Counter(
        {i.id: 1 for i in items})
    assert_ledger_sound(live_session)


def test_a_batch_sent_side_by_side_records_what_each_item_got(
    live_database: Database, live_session: Session, stripe_standin: StripeStandin,
) -> None:
    """A sender's batch goes out side by side and each item's outcome is recorded on its
    own terms: paid, failed for good (money back to payable, the trainer told why), or
    left approved for the next pass after a retryable error; each once."""
    from workforce.billing import processing
    from workforce.notifications.models import Notification

    fin, schedule, trainers = setup_org(live_session, stripe_standin, 8)
    refused = trainers[3]
    stripe_standin.set_account(live_session.scalars(
        select(PayoutAccount.stripe_account_id).where(PayoutAccount.trainer_id == refused.id)
    ).one(), payouts_enabled=False)  # Stripe refuses its transfer for good
    run_id = approved_run(live_database, fin, schedule)
    stripe_standin.latency = 0.02
    stripe_standin.fail_next(TRANSFERS, status=503)  # one request, whichever comes first

    first = processing.process_run(live_database, run_id, stripe_standin.gateway(),
                                   rate=1000, concurrency=8, max_attempts=1)
    assert first.deferred == 1 and first.paid + first.failed == 7
    waiting = [i for i in items_of(live_session, run_id) if i.state is ItemState.APPROVED]
    assert len(waiting) == 1 and waiting[0].failure_message.startswith("Will retry")

    second = processing.process_run(live_database, run_id, stripe_standin.gateway(),
                                    rate=1000, concurrency=8)
    assert second.completed
    items = {i.trainer_id: i for i in items_of(live_session, run_id)}
    assert items[refused.id].state is ItemState.FAILED
    assert [items[t.id].state for t in trainers if t is not refused] == [ItemState.PAID] * 7
    assert Counter(t["transfer_group"] for t in stripe_standin.transfers) == Counter(
        {f"payout-item-{items[t.id].id}": 1 for t in trainers if t is not refused})
    assert paid_entries(live_session, [i.id for i in items.values()]) == Counter(
        {items[t.id].id: 1 for t in trainers if t is not refused})
    told = Counter((n.user_id, n.kind) for n in live_session.scalars(select(Notification)
                   .where(Notification.user_id.in_([t.id for t in trainers]))))
    assert told == Counter({(t.id, "payout.paid" if t is not refused else "payout.failed"): 1
                            for t in trainers})
    owed = live_session.scalars(select(LedgerAccount.balance).where(
        LedgerAccount.owner_id == refused.id,
        LedgerAccount.kind == AccountKind.PAYABLE)).one()
    assert owed == -items[refused.id].amount
    assert_ledger_sound(live_session)


def test_senders_side_by_side_halt_once_on_an_insufficient_balance(
    live_database: Database, live_session: Session, stripe_standin: StripeStandin,
) -> None:
    """When the platform balance runs out, every sender stops; the run is halted with one
    alert, nothing is written for the refused items, and a resume pays the rest once."""
    from workforce.accounts.models import AuditEvent
    from workforce.billing import processing

    fin, schedule, trainers = setup_org(live_session, stripe_standin, 16)
    run_id = approved_run(live_database, fin, schedule)
    stripe_standin.latency = 0.02
    stripe_standin.set_balance("usd", 5500)  # about five of the items

    halted = processing.process_run(live_database, run_id, stripe_standin.gateway(),
                                    rate=1000, concurrency=6)

    assert halted.halted_reason and not halted.completed
    items = items_of(live_session, run_id)
    paid = [i for i in items if i.state is ItemState.PAID]
    assert 1 <= len(paid) < len(trainers)
    assert {i.state for i in items} == {ItemState.PAID, ItemState.APPROVED}
    assert sum(t["amount"] for t in stripe_standin.transfers) <= 5500
    live_session.expire_all()
    alerts = live_session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "payout_run.halted", AuditEvent.object_id == str(run_id)))
    assert alerts == 1

    stripe_standin.set_balance("usd", None)
    resumed = processing.process_run(live_database, run_id, stripe_standin.gateway(),
                                     rate=1000, concurrency=6, resume=True)
    assert resumed.completed
    items = items_of(live_session, run_id)
    assert [i.state for i in items] == [ItemState.PAID] * len(trainers)
    assert Counter(t["transfer_group"] for t in stripe_standin.transfers) == Counter(
        {f"payout-item-{i.id}": 1 for i in items})
    assert_ledger_sound(live_session)


def test_a_retry_note_leaves_an_item_another_processor_holds_alone(
    live_database: Database, live_session: Session, stripe_standin: StripeStandin,
) -> None:
    """A sender that gave up on an item for this pass notes why on it, but only while
    it is still approved and nobody holds it: another processor that took it meanwhile
    and pays it keeps its item as it leaves it (no "Will retry" on a paid item), and the
    note does not wait for that processor's gateway call."""
    from workforce.billing import processing
    from workforce.billing.gateways import GatewayError

    fin, schedule, _ = setup_org(live_session, stripe_standin, 1)
    run_id = approved_run(live_database, fin, schedule)
    [item] = items_of(live_session, run_id)
    retry_later = GatewayError("Stripe is busy.", code="rate_limit", retryable=True,
                               status=429)
    with live_database.unit_of_work() as other:
        # Another processor holds the item, and pays it before it lets go.
        held = other.scalars(select(PayoutItem).where(PayoutItem.id == item.id)
                             .with_for_update()).one()
        noting = live_database.session()
        # Were the note to wait for the lock, it would wait on this very thread: fail
        # fast instead of hanging.
        noting.execute(text("SET lock_timeout = '2s'"))
        try:
            processing._note_retryable(noting, item.id, retry_later)
        finally:
            noting.close()
        payouts.record_paid(other, held, reference="bank-ref-1")
    live_session.expire_all()
    paid = live_session.get(PayoutItem, item.id)
    assert paid.state is ItemState.PAID
    assert paid.failure_message is None and paid.failure_code is None
    # Nobody holds it and it waits: the note is written.
    fin2, schedule2, _ = setup_org(live_session, stripe_standin, 1)
    [waiting] = items_of(live_session, approved_run(live_database, fin2, schedule2))
    noting = live_database.session()
    try:
        processing._note_retryable(noting, waiting.id, retry_later)
    finally:
        noting.close()
    live_session.expire_all()
    assert live_session.get(PayoutItem, waiting.id).failure_message == \
        "Will retry: Stripe is busy."
