"""The whole money flow as a state machine: ``LedgerMachine``'s earnings, bonuses,
adjustments and reversals, plus payout accounts (ready, not ready, details changed and
held), payout runs (built, approved, auto-approved, cancelled in preview), processing
through the local Stripe stand-in while it fails in every way it can, failed items
retried by finance, manual payments, transfers reversed at Stripe with their webhooks
delivered late, twice or out of order, forged webhooks, and time passing.

After every step: postings sum to zero, every balance equals its postings, no payable
is negative (nor its available part), nobody has been paid (or sent by Stripe) more
than they earned, Stripe made at most one transfer per payout item and the ledger
knows each one, and the ledger reverses a payout exactly when Stripe reversed it and
told us. A refused request leaves the ledger as it was.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from tests.factories import payout_account
from tests.payout_helpers import schedule
from tests.stripe_standin import StripeStandin, stripe_standin
from tests.test_ledger import AMOUNTS, LedgerMachine, ledger_world
from workforce import clock
from workforce.billing import payout_accounts, payouts, processing, webhooks
from workforce.billing.gateways import GatewayError
from workforce.billing.ledger import EARNED_SOURCES
from workforce.billing.models import (
    AccountKind,
    EarningKind,
    ItemState,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    PayoutItem,
    PayoutMethod,
    PayoutRun,
    PayoutSchedule,
    Posting,
    RunState,
    SourceType,
)
from workforce.billing.services import record_earning
from workforce.db import Database
from workforce.errors import DomainError, IllegalTransition
from workforce.money import Money
from workforce.settings import Settings

__all__ = ["stripe_standin"]  # the fixture, imported for pytest

TRANSFERS = "POST /v1/transfers"
LOOKUPS = "GET /v1/transfers"  # by transfer group, before anything is sent again
RETRIEVALS = "GET /v1/transfers/*"  # a webhook's transfer, re-read
# Payout moments (weekday, hour, approved automatically): the plain organisation has two
# schedules, whose runs compete for the same money.
SCHEDULES = {"plain mondays": (0, 2, False), "plain thursdays": (3, 14, True),
             "held wednesdays": (2, 12, True)}
PICK = st.integers(min_value=0, max_value=63)
# Refusals while a trainer's payout details are held (a change since approval).
HELD = ("account-on-hold", "account-changed")
OWED_SINCE = timedelta(days=7)
# The gateway's client gives up after CLIENT_TIMEOUT; a planned timeout holds the
# answer longer (the stand-in lets go of it at its next reset).
CLIENT_TIMEOUT = 0.25
SLOW = 2.0
# The codes of GatewayError that the planned failures below surface as.
GATEWAY_TROUBLE = ("api_error", "lock_timeout", "rate_limit", "connection_error",
                   "machine_refusal")



def answer_lost_then_down(standin: StripeStandin, route: str, times: int) -> None:
    """Made at Stripe, the answer lost, then Stripe down for longer than the processor
    keeps trying: the item waits in transit with its transfer made."""
    standin.drop_next_response(route)
    standin.fail_next(route, status=500, times=processing.MAX_ATTEMPTS)


# Ways the next requests to a route fail; ``times`` counts the failures that repeat.
Trouble = Callable[[StripeStandin, str, int], None]
TROUBLES: dict[str, Trouble] = {
    "server error": lambda s, route, n: s.fail_next(route, status=500, times=n),
    "lock timeout": lambda s, route, n: s.fail_next(route, status=409, times=n),
    "rate limited": lambda s, route, n: s.fail_next(route, status=429, retry_after=1,
                                                    times=n),
    "refused for good": lambda s, route, n: s.fail_next(route, status=400, times=n,
                                                        code="machine_refusal"),
    "timeout": lambda s, route, n: s.timeout_next(route, seconds=SLOW),
    "timeout after doing it": lambda s, route, n: s.timeout_next(route, seconds=SLOW,
                                                                 process=True),
    "answer lost": lambda s, route, n: s.drop_next_response(route),
    "answer lost, then down": answer_lost_then_down,
    "balance insufficient": lambda s, route, n: s.fail_balance_insufficient(TRANSFERS),
}
# The entry a reversal reverses; built once, as building it costs a millisecond a step.
REVERSED_ENTRY = aliased(JournalEntry)
BANKS = {
    "bank": {"holder_name": "Trainer", "bank_name": "Test Bank", "country": "DE",
             "iban": "DE89370400440532013000"},
    "other bank": {"holder_name": "Trainer", "bank_name": "Other Bank", "country": "US",
                   "account_number": "000123456789", "bank_code": "110000000"},
}


def pick(options: list, index: int) -> Any:
    """One of ``options``; the index comes from hypothesis, so it shrinks and replays."""
    return options[index % len(options)]


class PayoutMachine(LedgerMachine):
    """``LedgerMachine`` with payouts. Trainers 0 and 1 have ready Stripe accounts,
    trainer 2 one whose onboarding is not finished, trainer 3 manual bank details.

    The processor works in its own sessions on the test's connection (so they see what
    this machine flushed, and the example's savepoint undoes their work too)."""

    refusal_types = (DomainError, GatewayError)

    def __init__(self, session: Session, world: dict) -> None:
        super().__init__(session, world)
        self.standin: StripeStandin = world["standin"]
        self.standin.reset()
        self._open_stripe_accounts()
        self.runs: list[uuid.UUID] = []
        # Webhook events Stripe still has to deliver (it retries until we answer 2xx).
        self.events: list[dict[str, Any]] = []
        # Transfers reversed in full whose transfer.reversed delivery we accepted.
        self.acknowledged: set[str] = set()
        self.sent_events = 0
        self.scheduled_at: datetime | None = None

    def _open_stripe_accounts(self) -> None:
        """Every example starts with an empty Stripe: the world's Stripe payout accounts
        get fresh connected accounts there (in the trainers' order, so that examples
        replay), as ready as our records say."""
        for trainer in self.world["trainers"]:
            account = payout_accounts.find_payout_account(self.session, trainer.id)
            if account.method is PayoutMethod.STRIPE:
                account.stripe_account_id = self.standin.add_account(
                    payouts_enabled=account.payouts_enabled)
        self.session.flush()

    @initialize(owed=st.lists(st.tuples(st.sampled_from(["plain", "held"]),
                                        st.integers(min_value=0, max_value=3), AMOUNTS,
                                        st.sampled_from(["USD", "JPY"])), min_size=1, max_size=6))
    def money_owed_from_before(self, owed: list[tuple[str, int, int, str]]) -> None:
        """Earned a week before the example starts: past any hold, ready to be paid."""
        self.coordinates.shift(-OWED_SINCE)
        for org, who, amount, currency in owed:
            record_earning(
                self.session, kind=EarningKind.TASK_APPROVAL,
                trainer_id=self.world["trainers"][who].id,
                organisation_id=self.world[org].id, money=Money(amount, currency),
                source_type="machine", source_id=uuid.uuid4(), description="Earlier work",
            )
        self.coordinates.shift(OWED_SINCE)

    # --- reading ----------------------------------------------------------------------

    def _run(self, index: int, *states: RunState) -> PayoutRun | None:
        """One of the runs in ``states`` (any, when none), or None."""
        runs = [self.session.get(PayoutRun, run_id, populate_existing=True)
                for run_id in self.runs]
        runs = [run for run in runs if not states or run.state in states]
        return pick(runs, index) if runs else None

    def _finance(self, organisation_id: uuid.UUID) -> Any:
        name = "plain" if organisation_id == self.world["plain"].id else "held"
        return self.world[f"{name}_finance"]

    def _items(self, *states: ItemState) -> list[PayoutItem]:
        """Items in ``states`` (all, when none), in an order that replays (their ids are
        random): by run, trainer and currency."""
        runs = {run_id: n for n, run_id in enumerate(self.runs)}
        trainers = {trainer.id: n for n, trainer in enumerate(self.world["trainers"])}
        found = self.session.scalars(
            select(PayoutItem).execution_options(populate_existing=True))
        return sorted((item for item in found if not states or item.state in states),
                      key=lambda i: (runs[i.run_id], trainers[i.trainer_id], i.currency))

    def _with_items(self, transfers: list[dict[str, Any]]) -> list[tuple[dict, PayoutItem]]:
        """Each transfer with the payout item it names, read afresh (one query: this
        runs after every step)."""
        if not transfers:
            return []
        named = [uuid.UUID(t["metadata"]["payout_item_id"]) for t in transfers]
        items = {item.id: item for item in self.session.scalars(
            select(PayoutItem).where(PayoutItem.id.in_(named))
            .execution_options(populate_existing=True))}
        return [(transfer, items[item_id]) for transfer, item_id in zip(transfers, named,
                                                                         strict=True)]

    # --- payout runs ------------------------------------------------------------------

    def _adopt_runs(self) -> None:
        """Remember runs made since the last look, in an order that replays."""
        for run in self.session.scalars(
            select(PayoutRun).join(PayoutRun.schedule)
            .order_by(PayoutRun.created_at, PayoutSchedule.name)
        ):
            if run.id not in self.runs:
                self.runs.append(run.id)

    @rule(name=st.sampled_from(sorted(SCHEDULES)))
    def finance_runs_payouts_now(self, name: str) -> None:
        """Finance presses "run now": the run of the schedule's current period, once."""
        found = self.world["schedules"][name]
        self._attempt(lambda: payouts.run_now(
            self.session, self._finance(found.organisation_id), found.id), refusals=())
        self._adopt_runs()

    @precondition(lambda self: self.scheduled_at != clock.now())
    @rule()
    def the_scheduler_creates_due_runs(self) -> None:
        """Each active schedule's latest period gets its run (hypothesis switches rules
        off at random per example: runs have a second way to come about). The scheduler
        runs again once time has moved."""
        self.scheduled_at = clock.now()
        self._attempt(lambda: payouts.create_due_runs(self.session, now=self.scheduled_at),
                      refusals=())
        self._adopt_runs()

    @precondition(lambda self: self.runs)
    @rule(index=PICK, any_run=st.booleans())
    def finance_approves(self, index: int, any_run: bool) -> None:
        """A run in preview (or, with ``any_run``, one that may not be: refused)."""
        run = self._run(index) if any_run else self._run(index, RunState.PREVIEW)
        if run is not None:
            self._attempt(lambda: payouts.approve_run(
                self.session, self._finance(run.organisation_id), run.id),
                refusals=("illegal-transition",))

    @precondition(lambda self: self.runs)
    @rule(index=PICK, any_run=st.booleans())
    def finance_cancels(self, index: int, any_run: bool) -> None:
        """A run in preview: nothing moved yet (any other run: refused)."""
        run = self._run(index) if any_run else self._run(index, RunState.PREVIEW)
        if run is not None:
            self._attempt(lambda: payouts.cancel_run(
                self.session, self._finance(run.organisation_id), run.id),
                refusals=("illegal-transition",))

    @precondition(lambda self: self.runs)
    @rule(index=PICK, resume=st.booleans(), any_run=st.booleans())
    def process(self, index: int, resume: bool, any_run: bool) -> None:
        """The processor sends an approved run's items (or, with ``any_run``, a run's
        that may not be approved: refused); with ``resume``, finance first asks for a
        halted run again (after the balance was too low)."""
        run = (self._run(index) if any_run
               else self._run(index, RunState.APPROVED, RunState.PROCESSING))
        if run is None:
            return
        if resume:
            self._attempt(lambda: payouts.request_processing(
                self.session, self._finance(run.organisation_id), run.id),
                refusals=("illegal-transition",))
        self._process(run.id)

    def _process(self, run_id: uuid.UUID) -> None:
        self.session.flush()  # the processor's sessions read what this one wrote
        before = self._snapshot()
        try:
            processing.process_run(self.world["database"], run_id, self.world["gateway"],
                                   rate=1000, sleep=lambda seconds: None)
        except IllegalTransition:  # a run in preview, or cancelled, is not sent
            assert self._snapshot() == before
        self.session.expire_all()  # the processor committed in sessions of its own

    @rule()
    def the_scheduler_processes_approved_runs(self) -> None:
        """The scheduler's pass: every approved run that is not halted."""
        self.session.flush()  # the processor's sessions read what this one wrote
        processing.process_approved_runs(self.world["database"], self.world["gateway"],
                                         rate=1000, sleep=lambda seconds: None)
        self.session.expire_all()

    @precondition(lambda self: self.runs)
    @rule(index=PICK, only_failed=st.booleans())
    def finance_retries(self, index: int, only_failed: bool) -> None:
        """A failed item goes round again, if the payable still covers it and the
        trainer's payout details are not held (picking any item, one that has not
        failed: refused)."""
        items = self._items(ItemState.FAILED) if only_failed else self._items()
        if items:
            item = pick(items, index)
            self._attempt(lambda: payouts.retry_item(
                self.session, self._finance(item.organisation_id), item.id),
                refusals=("illegal-transition", "not-covered", *HELD))

    @precondition(lambda self: self.runs)
    @rule(index=PICK, paid=st.booleans(), only_waiting=st.booleans())
    def finance_pays_by_hand(self, index: int, paid: bool, only_waiting: bool) -> None:
        """Finance records the bank reference of a manual item, or that the bank refused
        it (picking any item, one that is not manual or not waiting: refused; paying a
        trainer whose details changed since approval waits out the hold)."""
        items = self._items()
        if only_waiting:
            items = [i for i in items
                     if i.state is ItemState.APPROVED and i.method is PayoutMethod.MANUAL]
        if not items:
            return
        item = pick(items, index)
        finance = self._finance(item.organisation_id)
        refusals = ("illegal-transition", "not-manual", *HELD)
        if paid:
            self._attempt(lambda: payouts.record_manual_payment(
                self.session, finance, item.id, f"BANK-{item.id.hex[:8]}"), refusals)
        else:
            self._attempt(lambda: payouts.record_manual_failure(
                self.session, finance, item.id, "The bank returned the payment."), refusals)

    # --- the trainers' payout accounts ------------------------------------------------

    @rule(who=LedgerMachine.trainers, to=st.sampled_from(["bank", "other bank", "stripe"]))
    def trainer_changes_payout_details(self, who: int, to: str) -> None:
        """A change of where the money goes holds the trainer's payouts for a while;
        connecting Stripe anew leaves an account whose onboarding is not finished."""
        trainer, hold = self.world["trainers"][who], self.world["hold"]
        if to == "stripe":
            # Stripe creates the account: a slow or failing Stripe refuses the change.
            self._attempt(lambda: payout_accounts.connect_stripe(
                self.session, trainer, self.world["gateway"], hold=hold,
                refresh_url="https://app.example/payouts", return_url="https://app.example/"),
                refusals=GATEWAY_TROUBLE)
        else:
            self._attempt(lambda: payout_accounts.set_manual_details(
                self.session, trainer, BANKS[to], hold=hold), refusals=())

    @precondition(lambda self: self.standin.accounts)
    @rule(index=PICK)
    def stripe_changes_readiness(self, index: int) -> None:
        """Stripe enables or disables payouts of a connected account (onboarding done,
        requirements due) and tells us with ``account.updated``."""
        account_id = pick(list(self.standin.accounts), index)
        enabled = self.standin.account(account_id)["payouts_enabled"]
        changed = self.standin.set_account(account_id, payouts_enabled=not enabled)
        self.events.append(self._event("account.updated", changed, account=account_id))

    # --- Stripe -------------------------------------------------------------------------

    @rule(trouble=st.sampled_from(sorted(TROUBLES)),
          route=st.sampled_from([TRANSFERS, LOOKUPS, RETRIEVALS]),
          times=st.integers(min_value=1, max_value=processing.MAX_ATTEMPTS + 1))
    def stripe_has_trouble(self, trouble: str, route: str, times: int) -> None:
        """The next requests to ``route`` fail; the plan lasts until they are made."""
        TROUBLES[trouble](self.standin, route, times)

    @precondition(lambda self: self.standin.transfers)
    @rule(index=PICK, partly=st.booleans(), told_at_once=st.booleans())
    def stripe_reverses_a_transfer(self, index: int, partly: bool, told_at_once: bool) -> None:
        """In full or in part; Stripe sends ``transfer.reversed`` at once, or later."""
        transfer = pick(self.standin.transfers, index)
        left = transfer["amount"] - transfer["amount_reversed"]
        if not left:
            return
        self.standin.reverse_transfer(transfer["id"], left // 2 if partly and left > 1
                                      else None)
        event = self._event("transfer.reversed", self.standin.transfer(transfer["id"]))
        if not (told_at_once and self._deliver(event)):
            self.events.append(event)

    @precondition(lambda self: self.events)
    @rule(index=PICK, again=st.booleans())
    def stripe_delivers_an_event(self, index: int, again: bool) -> None:
        """Any waiting event, not the oldest first; with ``again`` it is delivered once
        more later (same event id)."""
        event = pick(self.events, index)
        if self._deliver(event) and not again:
            self.events.remove(event)

    @precondition(lambda self: self.standin.transfers)
    @rule(index=PICK)
    def a_forged_reversal_arrives(self, index: int) -> None:
        """Signed, but claiming a reversal Stripe did not make (a replayed or made-up
        payload): money moves only on the transfer as Stripe reports it."""
        transfer = pick(self.standin.transfers, index)
        claimed = {**transfer, "reversed": True, "amount_reversed": transfer["amount"]}
        self._deliver(self._event("transfer.reversed", claimed))

    def _event(self, type_: str, data: dict[str, Any], account: str | None = None) -> dict:
        self.sent_events += 1
        return {"id": f"evt_machine_{self.sent_events}", "type": type_, "object": data,
                "account": account}

    def _deliver(self, event: dict[str, Any]) -> bool:
        """One delivery, signed now (Stripe signs each attempt); whether we accepted it."""
        body, headers = self.standin.signed_event(
            event["type"], event["object"], event["account"], event_id=event["id"])
        received = self._attempt(lambda: webhooks.receive(
            self.session, body, headers["Stripe-Signature"],
            secret=self.standin.webhook_secret, gateway=self.world["gateway"]),
            refusals=GATEWAY_TROUBLE)
        if received is None:
            return False
        if event["type"] == "transfer.reversed":
            transfer = self.standin.transfer(event["object"]["id"])
            if transfer["reversed"]:
                self.acknowledged.add(transfer["id"])
        return True

    @rule(hours=st.integers(min_value=1, max_value=30))
    def hours_pass(self, hours: int) -> None:
        """Finer than ``time_passes``: around the 23 hours a saved key is trusted and
        Stripe's 24 hours of memory."""
        self.coordinates.shift(timedelta(hours=hours))

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def nobody_is_paid_more_than_they_earned(self) -> None:
        """Per organisation, trainer and currency: paid plus in transit in the ledger, and
        what Stripe sent and kept sent, are at most what was earned."""
        earned = self._earned()
        for key, amount in self._paid_and_in_transit().items():
            assert amount <= earned.get(key, 0), (key, amount, earned.get(key, 0))
        for key, amount in self._sent_by_stripe().items():
            assert amount <= earned.get(key, 0), (key, amount, earned.get(key, 0))

    @invariant()
    def stripe_made_one_transfer_per_item_and_the_ledger_knows_it(self) -> None:
        """Every round of every item (retries, new keys, lookups after a crash or a day)
        ends in at most one transfer, in the item's group and of its amount; the item
        recorded it, or still waits to hear of it."""
        transfers = self.standin.transfers
        per_item = Counter(t["metadata"]["payout_item_id"] for t in transfers)
        assert all(count == 1 for count in per_item.values()), per_item
        for transfer, item in self._with_items(transfers):
            assert transfer["transfer_group"] == payouts.transfer_group(item.id)
            assert (transfer["amount"], transfer["currency"].upper()) == (
                item.amount, item.currency)
            recorded = item.transfer_id == transfer["id"]
            # Made, its answer not heard yet: the processor finds it by key or group.
            waiting = item.state is ItemState.APPROVED and item.transfer_id is None
            assert recorded or waiting, (item.state, item.transfer_id, transfer["id"])

    @invariant()
    def the_ledger_reverses_what_stripe_reversed_and_told_us(self) -> None:
        """Forged events reverse nothing; a reversal Stripe told us of (and that we
        accepted: it is not sent again) is in the ledger."""
        for item in self.session.scalars(
            select(PayoutItem).where(PayoutItem.state == ItemState.REVERSED)
            .execution_options(populate_existing=True)
        ):
            assert self.standin.transfer(item.transfer_id)["reversed"], item.transfer_id
        told = [self.standin.transfer(transfer_id) for transfer_id in sorted(self.acknowledged)]
        for transfer, item in self._with_items(told):
            assert item.state is ItemState.REVERSED, (transfer["id"], item.state)

    def _earned(self) -> dict[tuple, int]:
        """Earnings, bonuses and adjustments into each trainer payable, net of their
        reversals, from the postings by the source type of their entries."""
        earning = or_(
            JournalEntry.source_type.in_(EARNED_SOURCES),
            and_(JournalEntry.source_type == SourceType.REVERSAL,
                 REVERSED_ENTRY.source_type.in_(EARNED_SOURCES)),
        )
        rows = self.session.execute(
            select(LedgerAccount.organisation_id, LedgerAccount.owner_id,
                   LedgerAccount.currency, func.sum(Posting.amount))
            .join(Posting, Posting.account_id == LedgerAccount.id)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .outerjoin(REVERSED_ENTRY, REVERSED_ENTRY.id == JournalEntry.reverses_id)
            .where(LedgerAccount.owner_type == OwnerType.TRAINER,
                   LedgerAccount.kind == AccountKind.PAYABLE, earning)
            .group_by(LedgerAccount.organisation_id, LedgerAccount.owner_id,
                      LedgerAccount.currency)
        )
        return {(org, trainer, currency): -int(total) for org, trainer, currency, total in rows}

    def _paid_and_in_transit(self) -> dict[tuple, int]:
        rows = self.session.execute(
            select(LedgerAccount.organisation_id, LedgerAccount.owner_id,
                   LedgerAccount.currency, func.sum(LedgerAccount.balance))
            .where(LedgerAccount.owner_type == OwnerType.TRAINER,
                   LedgerAccount.kind.in_([AccountKind.PAID, AccountKind.IN_TRANSIT]))
            .group_by(LedgerAccount.organisation_id, LedgerAccount.owner_id,
                      LedgerAccount.currency)
        )
        return {(org, trainer, currency): -int(total) for org, trainer, currency, total in rows}

    def _sent_by_stripe(self) -> dict[tuple, int]:
        """What left at Stripe and stayed there, per organisation, trainer and currency."""
        sent: dict[tuple, int] = defaultdict(int)
        for transfer, item in self._with_items(self.standin.transfers):
            key = (item.organisation_id, item.trainer_id, item.currency)
            sent[key] += transfer["amount"] - transfer["amount_reversed"]
        return sent


def payout_world(session: Session, database: Database, standin: StripeStandin,
                 settings: Settings) -> dict:
    """``ledger_world`` with four trainers and their payout accounts, the ``SCHEDULES``
    (the held organisation's pays at least 10 USD), and the gateway pointed at the
    stand-in."""
    world = ledger_world(trainers=4)
    *ready, not_ready, manual = world["trainers"]
    for trainer in ready:
        payout_account(trainer, method="stripe")
    payout_account(not_ready, method="stripe", ready=False)
    payout_account(manual)
    world["schedules"] = {
        name: schedule(session, world[name.split()[0]].id, name=name, weekday=weekday,
                       hour=hour, auto_approve=auto,
                       minimums={"USD": 1000} if name.startswith("held") else {})
        for name, (weekday, hour, auto) in SCHEDULES.items()
    }
    world.update(database=database, standin=standin, hold=settings.payout_details_hold,
                 gateway=standin.gateway(timeout=CLIENT_TIMEOUT))
    return world


@pytest.mark.slow
def test_money_holds_through_any_sequence_of_payouts(
    session: Session, database: Database, settings: Settings, stripe_standin: StripeStandin
) -> None:
    world = payout_world(session, database, stripe_standin, settings)
    run_state_machine_as_test(
        lambda: PayoutMachine(session, world),
        settings=hypothesis_settings(
            max_examples=15, stateful_step_count=40, deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
