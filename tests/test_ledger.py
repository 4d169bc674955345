"""The ledger's invariants: one entry per source, balanced entries, reversals once,
append-only tables in the database, the balance check, the finance views, and a state
machine of earnings, bonuses, adjustments and reversals after which the ledger still
balances and no payable balance is below zero."""

from __future__ import annotations

import csv
import io
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.attempt_helpers import sign_in_for_days
from tests.client import ApiClient, assert_problem
from tests.factories import (
    OrganisationFactory,
    ProjectFactory,
    StaffFactory,
    UserFactory,
    earned,
    paid_out,
    staff,
)
from tests.races import Window
from workforce import clock
from workforce.accounts.models import AuditEvent, Organisation, Role, User
from workforce.billing import corrections, ledger
from workforce.billing.models import (
    AccountKind,
    EarningKind,
    JournalEntry,
    LedgerAccount,
    OwnerType,
    Posting,
    SourceType,
)
from workforce.billing.services import record_earning
from workforce.db import Database
from workforce.errors import Conflict, DomainError
from workforce.money import Money
from workforce.notifications.models import Notification

API = "/api/v1"
ENTRIES = f"{API}/ledger/entries"


@pytest.fixture
def finance(session: Session) -> User:
    return StaffFactory(role=Role.FINANCE)


@pytest.fixture
def organisation(finance: User) -> Organisation:
    return finance.organisation


@pytest.fixture
def trainer(session: Session) -> User:
    return UserFactory()


def entry_of(session: Session, event) -> JournalEntry:
    found = ledger.find_entry(session, SourceType(event.kind.value), event.source_id)
    assert found is not None
    return found


def entries_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(JournalEntry))


# --- posting -------------------------------------------------------------------------


def test_a_source_posts_once(session: Session, organisation: Organisation, trainer: User):
    source = uuid.uuid4()
    for _ in range(2):
        record_earning(
            session, kind=EarningKind.TASK_APPROVAL, trainer_id=trainer.id,
            organisation_id=organisation.id, money=Money(250, "USD"), source_type="test",
            source_id=source, description="Task approved",
        )
    expense = ledger.organisation_account(session, organisation.id, AccountKind.EXPENSE, "USD")
    payable = ledger.trainer_account(session, organisation.id, trainer.id,
                                     AccountKind.PAYABLE, "USD")
    legs = [ledger.Leg(expense, 250), ledger.Leg(payable, -250)]
    again = ledger.post(session, source_type=SourceType.TASK_APPROVAL, source_id=source,
                        reason="Again", organisation_id=organisation.id, legs=legs)
    assert again.reason == "Task approved"
    assert entries_count(session) == 1
    session.refresh(payable)
    assert payable.balance == -250


def counted_statements(database: Database):
    """The statements sent while the block runs (its list, filled as they go)."""
    statements: list[str] = []

    def seen(conn, cursor, statement, params, context, executemany) -> None:
        statements.append(" ".join(statement.split()))

    class Counting:
        def __enter__(self) -> list[str]:
            event.listen(database.engine, "before_cursor_execute", seen)
            return statements

        def __exit__(self, *exc: object) -> None:
            event.remove(database.engine, "before_cursor_execute", seen)

    return Counting()


def test_entries_posted_together_move_each_source_once_in_a_statement_a_table(
    session: Session, database: Database, organisation: Organisation
) -> None:
    trainers = [UserFactory() for _ in range(3)]
    expense = ledger.organisation_account(session, organisation.id, AccountKind.EXPENSE, "USD")
    payables = [ledger.trainer_account(session, organisation.id, t.id, AccountKind.PAYABLE,
                                       "USD") for t in trainers]
    sources = [uuid.uuid4() for _ in trainers]

    def entry(n: int, amount: int) -> ledger.Entry:
        return ledger.Entry(
            source_type=SourceType.BONUS, source_id=sources[n], reason=f"Bonus {n}",
            organisation_id=organisation.id, trainer_id=trainers[n].id,
            legs=[ledger.Leg(expense, amount), ledger.Leg(payables[n], -amount)])

    first = ledger.post_entry(session, **vars(entry(0, 100)))
    with counted_statements(database) as statements:
        ids = ledger.post_entries(session, [entry(0, 100), entry(1, 200), entry(2, 300)])

    assert ids[0] == first and len(set(ids)) == 3
    assert entries_count(session) == 3
    for account in (expense, *payables):
        session.refresh(account)
    assert [p.balance for p in payables] == [-100, -200, -300]
    assert expense.balance == 600
    writes = [" ".join(s.split()[:3]) for s in statements
              if s.startswith(("INSERT", "UPDATE"))]
    # A statement for the entries, one for their postings, one for the balances; and
    # the two new earnings added to their days (one row per account and day).
    assert writes == ["INSERT INTO journal_entries", "INSERT INTO postings",
                      "UPDATE ledger_accounts SET"] + ["INSERT INTO ledger_earning_days"] * 2
    # The same source with other legs is refused, as by ``post``.
    with pytest.raises(ledger.SourceReused):
        ledger.post_entries(session, [entry(1, 250)])
    assert ledger.check_balances(session) == []


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5_000)),
                                 min_size=1, max_size=6), min_size=1, max_size=4))
def test_entries_posted_in_batches_balance_and_post_each_source_once(
    session: Session, batches: list[list[tuple[int, int]]]
) -> None:
    """Batches of entries in which sources repeat (with the same legs): each source moves
    its money once, whatever batch it first came in, and the ledger balances."""
    organisation = OrganisationFactory()
    trainers = [UserFactory() for _ in range(4)]
    expense = ledger.organisation_account(session, organisation.id, AccountKind.EXPENSE, "USD")
    payables = [ledger.trainer_account(session, organisation.id, t.id, AccountKind.PAYABLE,
                                       "USD") for t in trainers]
    sources: dict[tuple[int, int], uuid.UUID] = {}
    for batch in batches:
        ledger.post_entries(session, [ledger.Entry(
            source_type=SourceType.BONUS,
            source_id=sources.setdefault((n, amount), uuid.uuid4()),
            reason="Bonus", organisation_id=organisation.id, trainer_id=trainers[n].id,
            legs=[ledger.Leg(expense, amount), ledger.Leg(payables[n], -amount)],
        ) for n, amount in batch])
    for account in (expense, *payables):
        session.refresh(account)
    owed = [sum(amount for (m, amount) in sources if m == n) for n in range(4)]
    assert [p.balance for p in payables] == [-o for o in owed]
    assert expense.balance == sum(owed)
    assert ledger.check_balances(session) == []


def test_a_trainers_accounts_are_read_in_one_query_and_made_when_missing(
    session: Session, database: Database, organisation: Organisation, trainer: User
) -> None:
    payable = ledger.trainer_account(session, organisation.id, trainer.id,
                                     AccountKind.PAYABLE, "USD")
    in_transit, again = ledger.trainer_accounts(
        session, organisation.id, trainer.id, (AccountKind.IN_TRANSIT, AccountKind.PAYABLE),
        "USD")
    assert again is payable
    assert (in_transit.kind, in_transit.owner_type, in_transit.owner_id, in_transit.currency,
            in_transit.balance) == (AccountKind.IN_TRANSIT, OwnerType.TRAINER, trainer.id,
                                    "USD", 0)
    session.flush()

    statements: list[str] = []

    def seen(conn, cursor, statement, params, context, executemany) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        found = ledger.trainer_accounts(
            session, organisation.id, trainer.id,
            (AccountKind.PAYABLE, AccountKind.IN_TRANSIT), "USD")
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert found == [payable, in_transit]
    assert len(statements) == 1
    assert session.scalar(select(func.count()).select_from(LedgerAccount).where(
        LedgerAccount.owner_id == trainer.id)) == 2


def test_a_trainers_accounts_made_at_once_by_two_transactions_are_one_row_each(
    live_database: Database, live_session: Session,
) -> None:
    organisation = OrganisationFactory()
    trainer = UserFactory()
    kinds = (AccountKind.IN_TRANSIT, AccountKind.PAID)
    barrier, window = threading.Barrier(2), Window()

    def make() -> list[uuid.UUID]:
        with live_database.unit_of_work() as session:
            window.join(session)
            barrier.wait()
            accounts = ledger.trainer_accounts(session, organisation.id, trainer.id, kinds,
                                               "USD")
            window.hold(session)  # until the other's insert waits on this one's unique key
            return [account.id for account in accounts]

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda _: make(), range(2))
    assert first == second
    rows = live_session.execute(select(LedgerAccount.id, LedgerAccount.kind).where(
        LedgerAccount.owner_id == trainer.id)).all()
    assert sorted(rows) == sorted(zip(first, kinds, strict=True))


def test_a_source_posted_at_once_by_two_transactions_moves_the_money_once(
    live_database: Database, live_session: Session,
) -> None:
    organisation = OrganisationFactory()
    trainer = UserFactory()
    with live_database.unit_of_work() as session:
        expense = ledger.organisation_account(session, organisation.id, AccountKind.EXPENSE,
                                              "USD").id
        payable = ledger.trainer_account(session, organisation.id, trainer.id,
                                         AccountKind.PAYABLE, "USD").id
    source = uuid.uuid4()
    barrier, window = threading.Barrier(2), Window()

    def post(reason: str) -> str:
        with live_database.unit_of_work() as session:
            window.join(session)
            legs = [ledger.Leg(session.get(LedgerAccount, expense), 300),
                    ledger.Leg(session.get(LedgerAccount, payable), -300)]
            barrier.wait()
            entry = ledger.post(session, source_type=SourceType.BONUS, source_id=source,
                                reason=reason, organisation_id=organisation.id,
                                trainer_id=trainer.id, legs=legs)
            window.hold(session)  # until the other's insert waits on this one's source key
            return entry.reason

    with ThreadPoolExecutor(max_workers=2) as pool:
        reasons = list(pool.map(post, ["first", "second"]))
    assert reasons[0] == reasons[1] and reasons[0] in ("first", "second")
    live_session.expire_all()
    assert live_session.scalar(select(func.count()).select_from(JournalEntry).where(
        JournalEntry.source_id == source)) == 1
    assert live_session.get(LedgerAccount, payable).balance == -300
    assert live_session.get(LedgerAccount, expense).balance == 300
    assert not [m for m in ledger.check_balances(live_session)
                if m.account_id in (expense, payable)]


@pytest.mark.parametrize("amounts", [[100, -99], [100], [0, 0], [100, -100, 1]])
def test_unbalanced_entries_are_refused(
    session: Session, organisation: Organisation, trainer: User, amounts: list[int]
) -> None:
    accounts = [
        ledger.organisation_account(session, organisation.id, AccountKind.EXPENSE, "USD"),
        ledger.trainer_account(session, organisation.id, trainer.id, AccountKind.PAYABLE, "USD"),
        ledger.trainer_account(session, organisation.id, trainer.id, AccountKind.PAID, "USD"),
    ]
    with pytest.raises(ledger.UnbalancedEntry):
        ledger.post(session, source_type=SourceType.BONUS, source_id=uuid.uuid4(),
                    reason="Bad", organisation_id=organisation.id,
                    legs=[ledger.Leg(a, n) for a, n in zip(accounts, amounts, strict=False)])
    assert entries_count(session) == 0


def test_postings_in_two_currencies_balance_per_currency(
    session: Session, organisation: Organisation, trainer: User
) -> None:
    usd = ledger.organisation_account(session, organisation.id, AccountKind.EXPENSE, "USD")
    eur = ledger.trainer_account(session, organisation.id, trainer.id, AccountKind.PAYABLE, "EUR")
    with pytest.raises(ledger.UnbalancedEntry):
        ledger.post(session, source_type=SourceType.BONUS, source_id=uuid.uuid4(),
                    reason="Bad", organisation_id=organisation.id,
                    legs=[ledger.Leg(usd, 100), ledger.Leg(eur, -100)])


# --- reversals -----------------------------------------------------------------------


def test_a_reversal_happens_once_and_is_audited_and_notified(
    client: ApiClient, session: Session, organisation: Organisation, finance: User,
    trainer: User,
) -> None:
    entry = entry_of(session, earned(trainer, organisation.id, 800))
    path = f"{ENTRIES}/{entry.id}/reversal"
    response = client.post(path, as_user=finance, json={"reason": "Approved by mistake"})
    assert response.status_code == 201, response.get_data(as_text=True)
    reversal = response.get_json()
    assert reversal["source_type"] == "reversal" and reversal["reverses_id"] == str(entry.id)
    assert sorted(p["amount"] for p in reversal["postings"]) == [-800, 800]
    assert ledger.check_balances(session) == []

    again = client.post(path, as_user=finance, json={"reason": "Again"})
    assert_problem(again, 409, code="already-reversed")
    reversal_path = f"{ENTRIES}/{reversal['id']}/reversal"
    assert_problem(client.post(reversal_path, as_user=finance, json={"reason": "Undo"}), 409,
                   code="reversal-of-reversal")
    assert entries_count(session) == 2

    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "ledger.entry_reversed")).one()
    assert event.actor_id == finance.id and event.object_id == str(entry.id)
    assert event.after["reason"] == "Approved by mistake"
    notice = session.scalars(select(Notification).where(
        Notification.user_id == trainer.id, Notification.kind == "earnings.reversal")).one()
    assert "Approved by mistake" in notice.body

    listed = client.get(ENTRIES, as_user=finance,
                        query_string={"source_type": "task_approval"}).get_json()["items"]
    assert [e["reversed_by_id"] for e in listed] == [reversal["id"]]


def test_the_ledger_refuses_a_second_reversal_itself(
    session: Session, organisation: Organisation, trainer: User
) -> None:
    entry = entry_of(session, earned(trainer, organisation.id, 100))
    ledger.reverse(session, entry.id, reason="Once")
    with pytest.raises(Conflict) as raised:
        ledger.reverse(session, entry.id, reason="Twice")
    assert raised.value.code == "already-reversed"


def test_reversals_that_cannot_be_made(
    client: ApiClient, session: Session, organisation: Organisation, finance: User,
    trainer: User,
) -> None:
    earning = entry_of(session, earned(trainer, organisation.id, 500))
    item = paid_out(trainer, organisation.id, 500)
    payout = ledger.find_entry(session, SourceType.PAYOUT_APPROVED, item.id)
    foreign = entry_of(session, earned(trainer, OrganisationFactory().id, 100))
    before = entries_count(session)

    # Money already paid out cannot be taken back by reversing what earned it.
    assert_problem(client.post(f"{ENTRIES}/{earning.id}/reversal", as_user=finance,
                               json={"reason": "Too late"}), 409, code="would-go-negative")
    # Payout movements follow their payout.
    assert_problem(client.post(f"{ENTRIES}/{payout.id}/reversal", as_user=finance,
                               json={"reason": "No"}), 409, code="not-reversible")
    # Another organisation's entry, or none, is not found.
    for entry_id in (foreign.id, uuid.uuid4()):
        assert_problem(client.post(f"{ENTRIES}/{entry_id}/reversal", as_user=finance,
                                   json={"reason": "No"}), 404, code="not-found")
    body = assert_problem(client.post(f"{ENTRIES}/{earning.id}/reversal", as_user=finance,
                                      json={}), 422)
    assert "reason" in body["errors"]
    assert entries_count(session) == before
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_a_negative_adjustment_is_reversed_back_into_payable(
    session: Session, organisation: Organisation, finance: User, trainer: User
) -> None:
    earned(trainer, organisation.id, 500)
    taken = corrections.create_adjustment(session, finance, trainer_id=trainer.id,
                                          amount=-500, currency="USD", reason="Overpaid")
    entry = ledger.find_entry(session, SourceType.ADJUSTMENT, taken.id)
    corrections.reverse_entry(session, finance, organisation.id, entry.id, reason="Not overpaid")
    payable = ledger.trainer_account(session, organisation.id, trainer.id,
                                     AccountKind.PAYABLE, "USD")
    assert payable.balance == -500


# --- append-only, in the database ------------------------------------------------------


@pytest.mark.parametrize("statement", [
    "UPDATE journal_entries SET reason = 'edited'",
    "DELETE FROM journal_entries",
    "UPDATE postings SET amount = amount * 2",
    "DELETE FROM postings",
])
def test_ledger_rows_cannot_be_changed_or_deleted(
    session: Session, organisation: Organisation, trainer: User, statement: str
) -> None:
    earned(trainer, organisation.id, 100)
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(statement))
    assert session.scalar(select(func.count()).select_from(Posting)) == 2
    assert session.scalar(select(JournalEntry.reason)) == "Task approved"


def test_the_check_finds_a_tampered_balance(
    client: ApiClient, session: Session, organisation: Organisation, finance: User,
    trainer: User,
) -> None:
    earned(trainer, organisation.id, 100)
    sound = client.get(f"{API}/ledger/check", as_user=finance).get_json()
    assert sound["sound"] is True and sound["mismatches"] == []

    payable = ledger.trainer_account(session, organisation.id, trainer.id,
                                     AccountKind.PAYABLE, "USD")
    # ledger_accounts is not append-only: a stored balance can be tampered with.
    session.execute(update(LedgerAccount).where(LedgerAccount.id == payable.id)
                    .values(balance=LedgerAccount.balance - 1))
    session.commit()
    assert ledger.check_balances(session) == [
        ledger.BalanceMismatch(payable.id, -101, -100)]
    body = client.get(f"{API}/ledger/check", as_user=finance).get_json()
    assert body["sound"] is False
    assert body["mismatches"] == [
        {"kind": "account", "id": str(payable.id), "stored": -101, "recomputed": -100}]
    # Another organisation's finance is not told about it.
    other = StaffFactory(role=Role.FINANCE)
    assert client.get(f"{API}/ledger/check", as_user=other).get_json()["mismatches"] == []


# --- finance views -------------------------------------------------------------------


def test_finance_lists_the_organisations_entries_with_filters(
    client: ApiClient, session: Session, organisation: Organisation, finance: User,
    trainer: User,
) -> None:
    other_trainer = UserFactory()
    base = datetime(2030, 8, 1, tzinfo=UTC)
    with time_machine.travel(base, tick=False) as traveller:
        sign_in_for_days(client, finance)
        earned(trainer, organisation.id, 100)
        traveller.shift(timedelta(days=1))
        earned(other_trainer, organisation.id, 200)
        traveller.shift(timedelta(days=1))
        corrections.create_adjustment(session, finance, trainer_id=trainer.id, amount=50,
                                      currency="USD", reason="Missed minutes")
        session.commit()
        earned(trainer, OrganisationFactory().id, 999)  # another organisation's

        def listed(**query: object) -> list[tuple[str, list[int]]]:
            response = client.get(ENTRIES, as_user=finance, query_string=query)
            assert response.status_code == 200, response.get_data(as_text=True)
            return [(e["source_type"], sorted(p["amount"] for p in e["postings"]))
                    for e in response.get_json()["items"]]

        assert listed() == [("adjustment", [-50, 50]), ("task_approval", [-200, 200]),
                            ("task_approval", [-100, 100])]
        assert listed(trainer_id=str(trainer.id)) == [
            ("adjustment", [-50, 50]), ("task_approval", [-100, 100])]
        assert listed(source_type="adjustment") == [("adjustment", [-50, 50])]
        assert listed(**{"from": (base + timedelta(days=1)).isoformat(),
                         "to": (base + timedelta(days=2)).isoformat()}) == [
            ("task_approval", [-200, 200])]
        assert listed(limit=1) == [("adjustment", [-50, 50])]
        first = client.get(ENTRIES, as_user=finance).get_json()["items"][0]
        kinds = {(p["owner_type"], p["account_kind"]) for p in first["postings"]}
        assert kinds == {("organisation", "expense"), ("trainer", "payable")}
        assert_problem(client.get(ENTRIES, as_user=finance,
                                  query_string={"source_type": "gift"}), 422)


def test_the_ledger_exports_a_period_as_csv(
    client: ApiClient, session: Session, organisation: Organisation, finance: User,
    trainer: User, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workforce.billing import ledger_reports

    monkeypatch.setattr(ledger_reports, "EXPORT_BATCH", 2)  # several batches
    base = datetime(2030, 9, 1, tzinfo=UTC)
    with time_machine.travel(base, tick=False) as traveller:
        sign_in_for_days(client, finance)
        for day in range(5):
            traveller.move_to(base + timedelta(days=day))
            earned(trainer, organisation.id, 100 + day, description=f"=Day {day}")
        earned(trainer, OrganisationFactory().id, 999)
        response = client.get(f"{ENTRIES}.csv", as_user=finance, query_string={
            "from": (base + timedelta(days=1)).isoformat(),
            "to": (base + timedelta(days=4)).isoformat()})
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert "ledger-entries.csv" in response.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert [(r["account_kind"], r["amount_minor"], r["amount"]) for r in rows] == [
            ("expense", "101", "1.01"), ("payable", "-101", "-1.01"),
            ("expense", "102", "1.02"), ("payable", "-102", "-1.02"),
            ("expense", "103", "1.03"), ("payable", "-103", "-1.03"),
        ]
        assert rows[0]["reason"] == "'=Day 1" and rows[1]["owner_id"] == str(trainer.id)
        everything = client.get(f"{ENTRIES}.csv", as_user=finance).get_data(as_text=True)
        assert len(everything.strip().splitlines()) == 1 + 10


def test_costs_per_project_and_for_the_organisation(
    client: ApiClient, session: Session, organisation: Organisation, finance: User,
    trainer: User,
) -> None:
    manager = StaffFactory(organisation=organisation)
    labelling = ProjectFactory(manager=manager, name="Labelling")
    rubrics = ProjectFactory(manager=manager, name="Rubrics", currency="EUR")
    staff(labelling, trainer)
    earned(trainer, organisation.id, 100, project=labelling)
    earned(trainer, organisation.id, 250, project=labelling)
    reversed_one = earned(trainer, organisation.id, 40, project=labelling)
    earned(trainer, organisation.id, 300, project=rubrics, currency="EUR")
    earned(trainer, organisation.id, 70)  # a stipend, say: no project
    corrections.create_adjustment(session, finance, trainer_id=trainer.id, amount=-20,
                                  currency="USD", reason="Overpaid")
    corrections.reverse_entry(session, finance, organisation.id,
                              entry_of(session, reversed_one).id, reason="Duplicate")
    session.commit()
    paid_out(trainer, organisation.id, 100)  # payouts are not costs
    earned(trainer, OrganisationFactory().id, 5000)

    body = client.get(f"{API}/reports/costs", as_user=finance).get_json()
    assert body["organisation"] == [{"amount": 300, "currency": "EUR"},
                                    {"amount": 400, "currency": "USD"}]
    assert [(p["project_name"], p["currency"], p["amount"]) for p in body["projects"]] == [
        ("Labelling", "USD", 350), ("Rubrics", "EUR", 300), (None, "USD", 50)]
    future = client.get(f"{API}/reports/costs", as_user=finance, query_string={
        "from": (clock.now() + timedelta(days=1)).isoformat()}).get_json()
    assert future["organisation"] == [] and future["projects"] == []


# --- the state machine ---------------------------------------------------------------

AMOUNTS = st.integers(min_value=1, max_value=5_000)
# What the ledger's own refusals may be.
LEDGER_REFUSALS = ("would-go-negative", "already-reversed")


def ledger_world(trainers: int = 2) -> dict:
    """What ``LedgerMachine`` works in: two organisations, "plain" and "held" (a two-day
    hold period), each with a manager, a finance user and a project staffed with the
    same ``trainers``."""
    plain, held = OrganisationFactory(), OrganisationFactory(payout_hold_days=2)
    world: dict = {"plain": plain, "held": held,
                   "trainers": [UserFactory() for _ in range(trainers)]}
    for name, organisation in (("plain", plain), ("held", held)):
        world[f"{name}_manager"] = StaffFactory(organisation=organisation)
        world[f"{name}_finance"] = StaffFactory(role=Role.FINANCE, organisation=organisation)
        project = ProjectFactory(manager=world[f"{name}_manager"])
        staff(project, *world["trainers"])
    return world


class LedgerMachine(RuleBasedStateMachine):
    """Earnings, bonuses, adjustments (both ways) and reversals in any order, in two
    organisations (one with a hold period) and two currencies; time moves on. Refused
    operations (409) must leave the ledger as it was.

    Other machines extend it (``tests/test_payout_machine.py``): the trainers are the
    world's, however many, and ``refusal_types`` says what a refused request raises."""

    entries = Bundle("entries")
    # Indexes into world["trainers"].
    trainers = Bundle("trainers")
    refusal_types: tuple[type[Exception], ...] = (DomainError,)

    def __init__(self, session: Session, world: dict) -> None:
        super().__init__()
        self.session = session
        self.world = world
        self.savepoint = session.begin_nested()
        self.traveller = time_machine.travel(datetime(2031, 1, 1, tzinfo=UTC), tick=False)
        self.coordinates = self.traveller.start()
        self.keys = 0

    def teardown(self) -> None:
        self.traveller.stop()
        self.savepoint.rollback()
        self.session.expire_all()

    def _attempt(self, action, refusals: tuple[str, ...] = LEDGER_REFUSALS) -> object | None:
        """Run ``action`` as a request would: everything or, on a refusal (one of the
        codes in ``refusals``), nothing."""
        before = self._snapshot()
        try:
            with self.session.begin_nested():
                return action()
        except self.refusal_types as refused:
            assert getattr(refused, "code", None) in refusals, refused
            assert self._snapshot() == before
            return None

    def _snapshot(self) -> tuple:
        return (
            self.session.scalar(select(func.count()).select_from(JournalEntry)),
            tuple(self.session.execute(
                select(LedgerAccount.id, LedgerAccount.balance).order_by(LedgerAccount.id))),
        )

    @initialize(target=trainers)
    def meet_the_trainers(self):
        return multiple(*range(len(self.world["trainers"])))

    @rule(target=entries, org=st.sampled_from(["plain", "held"]),
          who=trainers, amount=AMOUNTS, currency=st.sampled_from(["USD", "JPY"]))
    def earn(self, org: str, who: int, amount: int, currency: str) -> uuid.UUID:
        event = record_earning(
            self.session, kind=EarningKind.TASK_APPROVAL,
            trainer_id=self.world["trainers"][who].id,
            organisation_id=self.world[org].id, money=Money(amount, currency),
            source_type="machine", source_id=uuid.uuid4(), description="Work",
        )
        return entry_of(self.session, event).id

    @rule(target=entries, org=st.sampled_from(["plain", "held"]), who=trainers,
          amount=AMOUNTS, replay=st.booleans())
    def bonus(self, org: str, who: int, amount: int, replay: bool) -> uuid.UUID:
        if not replay or self.keys == 0:
            self.keys += 1
        bonus, _ = corrections.create_bonus(
            self.session, self.world[f"{org}_manager"],
            trainer_id=self.world["trainers"][who].id, amount=amount, currency="USD",
            reason="Well done", idempotency_key=f"key-{who}-{amount}-{self.keys}",
        )
        entry = ledger.find_entry(self.session, SourceType.BONUS, bonus.id)
        assert entry is not None
        return entry.id

    @rule(target=entries, org=st.sampled_from(["plain", "held"]), who=trainers,
          amount=st.integers(min_value=-6_000, max_value=3_000).filter(bool),
          currency=st.sampled_from(["USD", "JPY"]))
    def adjust(self, org: str, who: int, amount: int, currency: str) -> uuid.UUID | None:
        adjustment = self._attempt(lambda: corrections.create_adjustment(
            self.session, self.world[f"{org}_finance"],
            trainer_id=self.world["trainers"][who].id, amount=amount, currency=currency,
            reason="Correction",
        ))
        if adjustment is None:
            return None
        entry = ledger.find_entry(self.session, SourceType.ADJUSTMENT, adjustment.id)
        assert entry is not None
        return entry.id

    @rule(entry_id=entries)
    def reverse(self, entry_id: uuid.UUID | None) -> None:
        if entry_id is None:
            return
        entry = self.session.get(JournalEntry, entry_id)
        finance = self.world["plain_finance" if entry.organisation_id == self.world["plain"].id
                             else "held_finance"]
        self._attempt(lambda: corrections.reverse_entry(
            self.session, finance, entry.organisation_id, entry_id, reason="Mistake"))

    @rule(days=st.integers(min_value=1, max_value=3))
    def time_passes(self, days: int) -> None:
        self.coordinates.shift(timedelta(days=days))

    @invariant()
    def postings_sum_to_zero_per_currency(self) -> None:
        totals = self.session.execute(
            select(Posting.currency, func.sum(Posting.amount)).group_by(Posting.currency)
        ).all()
        assert all(total == 0 for _, total in totals), totals

    @invariant()
    def balances_equal_their_postings(self) -> None:
        assert ledger.check_balances(self.session) == []

    @invariant()
    def no_payable_balance_is_negative(self) -> None:
        payables = self.session.execute(select(LedgerAccount.id, LedgerAccount.balance).where(
            LedgerAccount.owner_type == OwnerType.TRAINER,
            LedgerAccount.kind == AccountKind.PAYABLE,
        )).all()
        # One query for every account's hold (this runs after every step).
        held = ledger.held_credits(self.session, [row.id for row in payables], clock.now())
        for account_id, balance in payables:
            assert -balance >= 0
            # What is on hold is covered by the balance: nothing available is negative.
            assert -balance - held.get(account_id, ledger.NO_HOLD).amount >= 0


@pytest.mark.slow
def test_the_ledger_holds_under_any_sequence(session: Session) -> None:
    world = ledger_world()
    run_state_machine_as_test(
        lambda: LedgerMachine(session, world),
        settings=settings(max_examples=20, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow]),
    )
